package dev.converge.nbd.server;

import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.NbdIoException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.Optional;

/**
 * What an NBD export serves: a byte-addressed image. The server checks every range against
 * {@link #size()} and every length against its limits before calling in, so implementations see
 * only {@code 0 <= offset}, {@code offset + length <= size()} and lengths of at most 32 MiB
 * (requests to zero or trim may be larger).
 *
 * <p>Methods are called concurrently from several connections and several in-flight requests of
 * one connection; implementations must be thread-safe. A write that returned is visible to every
 * later read on every connection, and {@link #flush()} makes every write that returned before it
 * durable: that is what the server promises clients with CAN_MULTI_CONN.
 */
public interface NbdExportBackend {

    /** Size in bytes; fixed while exported. */
    long size();

    /** Whether the medium itself is read-only (the export is then read-only whatever it was registered as). */
    default boolean readOnly() {
        return false;
    }

    /** Smallest block size the backend can do I/O in: 1, or 512 for devices that need alignment. */
    default int minBlockSize() {
        return 1;
    }

    /** Fills {@code dst} (position to limit) with the bytes at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws NbdIoException;

    /**
     * The bytes [offset, offset + length) as a region of a host file that a plain socket can send
     * without copying them through memory (sendfile), or empty (the default): the server reads them
     * with {@link #read} then. Same range rules as {@link #read}. The server closes the region when
     * the reply is out, and may read part or all of it with {@link FileRegion#read} instead.
     */
    default Optional<FileRegion> fileRegion(long offset, long length) throws NbdIoException {
        return Optional.empty();
    }

    /**
     * Bytes of the image that are a range of a host file, held readable until {@link #close}
     * (see {@link #fileRegion}). One request uses it, on one thread.
     */
    interface FileRegion extends AutoCloseable {
        /** Bytes in the region. */
        long length();

        /**
         * Sends up to {@code count} bytes from {@code from} on into {@code target} with one
         * {@code FileChannel.transferTo}; returns how many went: fewer when a non-blocking socket is
         * full, 0 when the file ends early.
         */
        long transferTo(long from, long count, WritableByteChannel target) throws IOException;

        /** Reads the bytes from {@code from} on into {@code dst} (position to limit); zeroes past the file's end. */
        void read(long from, ByteBuffer dst) throws IOException;

        @Override
        void close();
    }

    /**
     * Writes {@code src} (position to limit) at {@code offset}; durable before returning when {@code fua}.
     * {@code src} is the server's (a pooled buffer, reused once this returns): do not keep it.
     */
    void write(long offset, ByteBuffer src, boolean fua) throws NbdIoException;

    /**
     * Makes the range read as zeroes.
     *
     * @param mayTrim  the range may become a hole (the client did not ask for NO_HOLE)
     * @param fastZero the client asked for FAST_ZERO; the server only passes true when
     *                 {@link #canFastZero()} holds, an implementation that finds it cannot be fast after
     *                 all fails with {@link dev.converge.nbd.wire.IoErrorKind#NOT_SUPPORTED}
     */
    void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) throws NbdIoException;

    /** Discards a range; afterwards it reads as anything (advisory, may do nothing). */
    void trim(long offset, long length) throws NbdIoException;

    /** Makes every write that returned before this call durable. */
    void flush() throws NbdIoException;

    /**
     * Allocation of the range (base:allocation): extents starting at {@code offset}, contiguous, each
     * built with {@link Extent#data}, {@link Extent#zero} or {@link Extent#hole}. They may cover less
     * than {@code length} (at least one byte) and must not go past the end of the image.
     */
    List<Extent> blockStatus(long offset, long length) throws NbdIoException;

    /** Whether a zero write can be done without writing data (so FAST_ZERO requests succeed). */
    default boolean canFastZero() {
        return false;
    }

    /** A dirty bitmap of this backend by name, for qemu:dirty-bitmap:NAME contexts. */
    default Optional<DirtyBitmapView> dirtyBitmap(String name) {
        return Optional.empty();
    }

    /** The dirty extents of a bitmap (qemu:dirty-bitmap:NAME). */
    @FunctionalInterface
    interface DirtyBitmapView {
        /**
         * Extents from {@code offset}, contiguous, built with {@link Extent#dirty} or {@link Extent#clean};
         * same rules as {@link NbdExportBackend#blockStatus}.
         */
        List<Extent> extents(long offset, long length) throws NbdIoException;
    }
}
