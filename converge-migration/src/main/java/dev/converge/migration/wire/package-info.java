/**
 * The converge migration stream: our own format (not QEMU's), its records, encoder and
 * incremental decoders.
 *
 * <h2>Exchange</h2>
 * One connection (TCP or UNIX socket) per migration. The stream flows source → destination;
 * the return path flows back on the same connection.
 * <pre>
 *  source (PrecopySender)                          destination (IncomingMigration)
 *    │ header: magic "CVMS", version, flags            │
 *    │────────────────────────────────────────────────▶│ check magic, version in [previous, current]
 *    │ RAM_BLOCKS [(name, size)...]                     │
 *    │────────────────────────────────────────────────▶│ layout must equal the destination's
 *    │ pass 1: ZERO_PAGE / PAGE_BATCH ... END_OF_PASS   │
 *    │────────────────────────────────────────────────▶│ pages applied into destination RAM
 *    │                           PASS_ACK(1) [version 4] │
 *    │◀────────────────────────────────────────────────│ (the source times the destination's lag)
 *    │ pass n: dirty pages ... END_OF_PASS   (repeat)   │
 *    │────────────────────────────────────────────────▶│
 *    │  ── switchover: source vCPUs stopped ──          │
 *    │ last dirty pages, DEVICE_STATE, COMPLETE         │
 *    │────────────────────────────────────────────────▶│ device state loaded
 *    │                     ACK_COMPLETE | ERROR(message) │
 *    │◀────────────────────────────────────────────────│ holds all state, does not run it
 *    │  ── job WAITING → PENDING (pre-switchover) ──    │
 *    │ START (commit)  |  ABORT (abort)   [version 3]   │
 *    │────────────────────────────────────────────────▶│
 *    │                  RESUMED (after START) [version 4] │
 *    │◀────────────────────────────────────────────────│ left inmigrate: the downtime ends
 *  postmigrate (commit) / resumes (abort/error)    paused or running / discards, stays inmigrate
 * </pre>
 * A version 3 destination that sees the connection end after its ack, instead of START, discards
 * what it received: only an explicit START makes it run the machine, so the guest never runs on
 * both sides.
 * An ERROR may come back at any time; the destination closes the connection after it.
 *
 * <h2>Framing</h2>
 * Every multi-byte field is little-endian ({@link dev.converge.migration.wire.WireFormat#ORDER}).
 * The stream starts with an 8-byte header (magic u32, version u16, flags u16: 0 before version 5); then
 * records, each an 8-byte record header (type u16, reserved u16 = 0, payload length u32) and its
 * payload. Type 0 is reserved and invalid. The return path uses the same record framing with
 * its own types ({@link dev.converge.migration.wire.ReturnType}). Decoders check each length
 * against a named maximum of {@link dev.converge.migration.wire.WireFormat} as soon as the
 * record header is there, and every block index and page offset against the declared layout,
 * before anything is allocated or consumed.
 *
 * <h2>Multifd channels</h2>
 * With multifd the source declares N extra connections in MULTIFD_SETUP, right after RAM_BLOCKS
 * (channels u16, compression u8, reserved u8, reserved u32, session u64). Each channel starts with a
 * 24-byte hello (magic "CVMF", version u16, flags u16 as the main header's, channel u16, channels
 * u16, reserved u32, session u64), then records in the main stream's framing (and, in a verified
 * stream, with its CRC32C trailers) from their own type space ({@link dev.converge.migration.wire.MultifdRecord}):
 * <pre>
 *  PAGES (1)  block u32, normal u16, zero u16, compression u8, reserved u8, reserved u16,
 *             data length u32, (normal + zero) × offset u64 (normal first), data
 *             (normal × 4 KiB, or one zlib stream / zstd frame of them); at most 128 pages
 *  SYNC (2)   pass u64, strictly increasing: the pass's sync point (see dev.converge.migration.multifd)
 * </pre>
 * An END_OF_PASS on the main stream follows the SYNC of that pass on every channel. A channel
 * ends with its connection, right after the last SYNC. An older destination refuses
 * MULTIFD_SETUP as an unknown record type, so a stream without multifd is unchanged and the
 * version stays.
 *
 * <h2>Postcopy preempt channel</h2>
 * With postcopy-preempt the source declares one extra connection with POSTCOPY_PREEMPT (no
 * payload) right after RAM_BLOCKS and opens it at once. It starts as a stream of its own (header
 * with the main one's flags, RAM_BLOCKS with the same layout, POSTCOPY_PREEMPT) and then carries,
 * in postcopy only, PAGE_BATCH and ZERO_PAGE records of the pages the destination requested. A
 * postcopy recovery opens a new one the same way, right after the recovery's main connection. An
 * older destination refuses POSTCOPY_PREEMPT as an unknown record type; the version stays.
 *
 * <h2>Versioning</h2>
 * The version in the header is the only negotiation: a destination accepts the current
 * version and the previous one ({@code VERSION_PREVIOUS..VERSION_CURRENT}) and refuses the rest
 * with an error naming both. A change that an older decoder would misread (a field's meaning,
 * size or order, a new mandatory record) bumps the version; purely additive behaviour that
 * older peers never see does not. Version 5 turned the header's reserved u16 into flags: with
 * {@code FLAG_VERIFIED} (the source's capability x-converge-verify) every record after the header
 * ends with a CRC32C (Castagnoli) of its record header and payload, counted in the record's length,
 * and COMPLETE carries the digest of the source's table of page CRC32Cs (every page as it was
 * last sent; eight CRC32Cs over consecutive eighths of the table), which the destination compares with the same over the pages it received before it
 * acknowledges (a mismatch is an ERROR, and the source resumes). Each side records a page's CRC
 * where it encodes or decodes it ({@code PageCrcTable}), so that the comparison costs O(pages)
 * integers in the downtime, never a read of the RAM.
 * The flag is the negotiation: the destination follows what the source declares. Version 4 added PASS_ACK and RESUMED on the return path and
 * lets the source skip pages never written (the destination starts zeroed). Version 2 added {@code PAGE_BATCH}; version 3 added the
 * START / ABORT decision after COMPLETE (a version 2 stream ends at COMPLETE and its machine
 * runs after the ack, as before). Reserved fields must be zero, so they can gain meaning in a
 * later version.
 *
 * <p>Must not: do I/O or keep connection state: encoders and decoders are pure functions, tested with byte vectors.
 */
package dev.converge.migration.wire;
