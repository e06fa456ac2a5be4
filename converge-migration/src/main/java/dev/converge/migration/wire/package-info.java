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
