/**
 * Multifd: RAM pages over extra connections next to the main stream (QEMU's capability
 * {@code multifd}), both sides, and their compression.
 *
 * <h2>Channels</h2>
 * The source ({@link dev.converge.migration.multifd.MultifdSender}) declares N channels in the
 * main stream's MULTIFD_SETUP (count, compression, a random session id), then opens N more
 * connections through the job's one connect method ({@link dev.converge.migration.multifd.ChannelOpener});
 * each starts with a hello naming the session, its id and N. The destination
 * ({@link dev.converge.migration.multifd.MultifdReceiver}) accepts them through the incoming
 * side's one accept path ({@link dev.converge.migration.multifd.ChannelAcceptor}) and then stops
 * listening; a destination whose own capability is off refuses a stream with MULTIFD_SETUP, and
 * one whose capability is on refuses a stream without it (QEMU's texts). One platform thread per
 * channel on each side. With TLS a channel ends in order (close_notify, then the source reads
 * until the destination, which closes a channel once it read its clean end, closed too), so that
 * no reset drops its last records.
 *
 * <h2>Ordering: sync points</h2>
 * Within a pass every page is sent at most once, so the channels may deliver in any order. At the
 * end of pass n the source puts SYNC n on every channel and waits until each has written it, then
 * sends END_OF_PASS n on the main stream. A destination channel that reads SYNC n applies nothing
 * more until the main stream's END_OF_PASS n came and every channel reached SYNC n; only then does
 * the destination answer PASS_ACK n. A page's newest copy therefore wins. The switchover ends with
 * one more pass and sync point after the vCPUs stopped, and the channels are closed before the
 * device state goes, so the destination holds every page when it loads it.
 *
 * <h2>Zero pages and compression</h2>
 * With {@code zero-page-detection=multifd} (QEMU's default) the channel threads find zero pages
 * and send them as offsets without data in the PAGES record; with {@code legacy} the migration
 * thread does and sends ZERO_PAGE on the main stream; with {@code none} every page carries its
 * data. {@link dev.converge.migration.multifd.PageCodec} compresses each PAGES record's data on its
 * own (a zlib stream from the JDK, or a zstd frame through zstd-jni).
 *
 * <h2>Failures</h2>
 * Channels are set up and torn down as one: a channel that cannot be opened closes those opened;
 * the first channel error (a write that fails, a hello or record that breaks the format, corrupt
 * compressed data) is kept, closes every channel and fails the migration with that error; the
 * source then resumes. Closing either side ends every thread and socket.
 *
 * <p>Must not: know the job engine or QMP; encode bytes itself ({@code wire} does).
 */
package dev.converge.migration.multifd;
