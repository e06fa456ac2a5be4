package dev.converge.block.driver;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.HostFile;
import dev.converge.block.HostFileRange;
import dev.converge.block.HostFileSpan;
import dev.converge.block.NodeOptions;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code file} protocol driver (QEMU's file-posix): a host file through pread/pwrite.
 * <ul>
 * <li>Allocation status from lseek SEEK_DATA/SEEK_HOLE; holes read as zeroes.</li>
 * <li>Write-zeroes: PUNCH_HOLE|KEEP_SIZE when unmapping is allowed, else ZERO_RANGE, else
 *     (EOPNOTSUPP) zero buffers are written unless NO_FALLBACK asks for ENOTSUP.</li>
 * <li>Discard: PUNCH_HOLE|KEEP_SIZE; a filesystem that cannot is not an error (discard is advisory).</li>
 * <li>cache.direct=on opens with O_DIRECT. Requests whose buffer, offset or length are not
 *     aligned to {@value #DIRECT_ALIGN} bytes go through an aligned bounce buffer; unaligned
 *     writes read-modify-write whole blocks and are serialised against other writes by
 *     {@link #rmwLock} so no write in a shared block is lost.</li>
 * <li>FUA is done with fdatasync after the write.</li>
 * <li>A write from another node's host file span ({@link BlockNode#writeFromHostFile}: a job's
 *     copy between two files) is a copy_file_range(2) in the kernel, no bytes through this
 *     process; where the kernel refuses, it is read and written.</li>
 * </ul>
 * The size is taken once at open, as QEMU caches it; the file must not be resized behind us.
 * A format driver on top (qcow2) may extend it by writing past the end through its edge.
 */
public final class FileNode extends BlockNode {
    private static final Logger LOG = LoggerFactory.getLogger(FileNode.class);
    /** Alignment used for O_DIRECT: the largest logical block size in common use. */
    static final int DIRECT_ALIGN = 4096;
    private static final long ZERO_CHUNK = 1 << 20;

    private final String filename;
    /**
     * The open file; replaced only by {@link #doReopenReadOnly} on the main loop while the node
     * is drained (no request uses it then), volatile for the request threads.
     */
    private volatile int fd;
    /**
     * The size, taken at open as QEMU caches it. It only changes by our own writes past the end
     * through an edge that may grow the file (a format driver appending clusters), or by
     * {@link #truncate}; guarded by {@code this} for updates, volatile for readers.
     */
    private volatile long size;
    /** Set once when the node is closed; checked by every request. */
    private volatile boolean closed;
    /** O_DIRECT only: aligned writes hold it shared, read-modify-write holds it exclusive. */
    private final ReadWriteLock rmwLock = new ReentrantReadWriteLock();
    /** A zeroed, aligned buffer for the write-zeroes fallback; never written. */
    private final MemorySegment zeroes = Arena.global().allocate(ZERO_CHUNK, DIRECT_ALIGN);
    /** The file for zero-copy reads ({@link HostFileSpan#lease}); closed with the node, and by the last range. */
    private final HostFile hostFile;
    /**
     * Set once copy_file_range into this file was refused ({@link #refusesKernelCopy}): copies are
     * read and written from then on. Volatile: read by every copier asking {@link #writesFromHostFiles}.
     */
    private volatile boolean kernelCopyRefused;

    private FileNode(String nodeName, NodeOptions options, String filename, int fd, long size) {
        super(nodeName, "file", options);
        this.filename = filename;
        this.fd = fd;
        this.size = size;
        this.hostFile = new HostFile(filename);
    }

    /**
     * Opens {@code filename}.
     *
     * @throws OpenException with QEMU's "Could not open 'F': strerror" text
     */
    public static FileNode open(String nodeName, NodeOptions options, String filename) throws OpenException {
        int fd;
        try {
            fd = Posix.open(filename, openFlags(options.readOnly(), options.cacheDirect()));
        } catch (Posix.PosixError e) {
            throw new OpenException("Could not open '" + filename + "': " + Posix.strerror(e.errno));
        }
        try {
            long size = Posix.lseek(fd, 0, Posix.SEEK_END);
            return new FileNode(nodeName, options, filename, fd, size);
        } catch (Posix.PosixError e) {
            Posix.close(fd);
            throw new OpenException("Could not open '" + filename + "': " + Posix.strerror(e.errno));
        }
    }

    /**
     * Creates (or empties) the host file and gives it {@code size} bytes, as QEMU's file-posix
     * create: {@code off} leaves it sparse, {@code falloc} reserves the blocks, {@code full}
     * writes zeroes. blockdev-create's {@code file} driver.
     *
     * @throws OpenException with QEMU's texts ("Could not create file: ...", "Unsupported
     *                       preallocation mode: metadata", ...)
     */
    public static void create(String filename, long size, PreallocMode prealloc) throws OpenException {
        if (prealloc == PreallocMode.METADATA) {
            throw new OpenException("Unsupported preallocation mode: " + prealloc.wireName());
        }
        int fd;
        try {
            fd = Posix.open(filename, Posix.O_RDWR | Posix.O_CREAT, 0644);
        } catch (Posix.PosixError e) {
            throw new OpenException("Could not create file: " + Posix.strerror(e.errno));
        }
        try {
            Posix.ftruncate(fd, 0);
            switch (prealloc) {
                case OFF -> Posix.ftruncate(fd, size);
                case FALLOC -> {
                    if (size > 0) {
                        Posix.fallocate(fd, 0, 0, size);
                    }
                }
                case FULL -> {
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment zeroes = a.allocate(ZERO_CHUNK, DIRECT_ALIGN);
                        for (long done = 0; done < size;) {
                            long n = Math.min(ZERO_CHUNK, size - done);
                            Posix.pwriteFully(fd, zeroes.asSlice(0, n), done);
                            done += n;
                        }
                    }
                    Posix.fdatasync(fd);
                }
                default -> throw new IllegalStateException(prealloc.toString());
            }
        } catch (Posix.PosixError e) {
            throw new OpenException((prealloc == PreallocMode.OFF ? "Could not resize file: "
                    : "Could not preallocate data for the new file: ") + Posix.strerror(e.errno));
        } finally {
            Posix.close(fd);
        }
    }

    private static int openFlags(boolean readOnly, boolean direct) {
        return (readOnly ? Posix.O_RDONLY : Posix.O_RDWR) | (direct ? Posix.O_DIRECT : 0);
    }

    /** Opens the file anew in the other mode and closes the old descriptor (QEMU's raw_reopen_prepare). */
    @Override
    protected void doReopenReadOnly(boolean readOnly) throws BlockIOException {
        checkOpen();
        int newFd;
        try {
            newFd = Posix.open(filename, openFlags(readOnly, options().cacheDirect()));
        } catch (Posix.PosixError e) {
            throw new BlockIOException(Errno.of(e.errno) == null ? Errno.EIO : Errno.of(e.errno),
                    "Could not reopen file: " + Posix.strerror(e.errno));
        }
        int old = fd;
        fd = newFd;
        Posix.close(old);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    protected boolean growsOnWrite() {
        return true;
    }

    /** Records that the file now reaches at least {@code end}. */
    private synchronized void grewTo(long end) {
        if (end > size) {
            size = end;
        }
    }

    @Override
    protected void doResize(long newSize) throws BlockIOException {
        truncate(newSize);
    }

    /** Sets the file's length (block_resize, blockdev-create); the caller keeps requests out. */
    public synchronized void truncate(long length) throws BlockIOException {
        checkOpen();
        try {
            Posix.ftruncate(fd, length);
            size = length;
        } catch (Posix.PosixError e) {
            throw e.toBlock("truncate of node '" + nodeName() + "' (" + filename + ") to " + length);
        }
    }

    @Override
    public String filename() {
        return filename;
    }

    @Override
    public OptionalLong actualSize() {
        try {
            Object blocks = Files.getAttribute(Path.of(filename), "unix:blocks"); // not on every JDK/FS
            return OptionalLong.of(((Number) blocks).longValue() * 512);
        } catch (Exception e) {
            return OptionalLong.empty();
        }
    }

    private void checkOpen() throws BlockIOException {
        if (closed) {
            throw new BlockIOException(Errno.EIO, "node '" + nodeName() + "' is closed");
        }
    }

    private String ctx(String op, long offset, long len) {
        return op + " of " + len + " bytes at " + offset + " on node '" + nodeName() + "' (" + filename + ")";
    }

    private boolean needsBounce(long offset, MemorySegment buf) {
        if (!buf.isNative()) {
            return true;
        }
        if (!options().cacheDirect()) {
            return false;
        }
        long mask = DIRECT_ALIGN - 1;
        return ((offset | buf.byteSize() | buf.address()) & mask) != 0;
    }

    /** Buffered I/O goes through the host page cache; cache.direct (O_DIRECT) bypasses it. */
    @Override
    public boolean writesIntoHostPageCache() {
        return !options().cacheDirect();
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) throws BlockIOException {
        checkOpen();
        long len = dst.byteSize();
        try {
            if (!needsBounce(offset, dst)) {
                preadPastEofAsZeroes(fd, dst, offset);
                return;
            }
            long start = alignDown(offset);
            long end = alignUp(offset + len);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(end - start, DIRECT_ALIGN);
                preadPastEofAsZeroes(fd, bounce, start);
                MemorySegment.copy(bounce, offset - start, dst, 0, len);
            }
        } catch (Posix.PosixError e) {
            throw e.toBlock(ctx("read", offset, len));
        }
    }

    /** Fills {@code dst} from {@code fd} at {@code offset}; bytes past the end of the file (it shrank under us) read as zeroes. */
    private static void preadPastEofAsZeroes(int fd, MemorySegment dst, long offset) throws Posix.PosixError {
        long n = Posix.preadFully(fd, dst, offset);
        if (n < dst.byteSize()) {
            dst.asSlice(n).fill((byte) 0);
        }
    }

    /**
     * The file's own bytes: reads are preads of the same offsets. Not with cache.direct, whose
     * reads bypass the host page cache that sendfile or copy_file_range would read (and fill) instead.
     */
    @Override
    protected <T> Optional<T> doHostFileSpan(long offset, long bytes, HostFileSpan.Use<T> use)
            throws BlockIOException {
        checkOpen();
        if (options().cacheDirect()) {
            return Optional.empty();
        }
        return Optional.ofNullable(use.apply(new Span(fd, offset, bytes)));
    }

    /** A span of this node's file on the descriptor of the admitted request that made it. */
    private final class Span extends HostFileSpan {
        private final int spanFd;

        Span(int spanFd, long position, long length) {
            super(position, length);
            this.spanFd = spanFd;
        }

        @Override
        public int fd() {
            return spanFd;
        }

        @Override
        public void read(long from, MemorySegment dst) throws BlockIOException {
            try {
                preadPastEofAsZeroes(spanFd, dst, position() + from);
            } catch (Posix.PosixError e) {
                throw e.toBlock(ctx("read", position() + from, dst.byteSize()));
            }
        }

        @Override
        public Optional<HostFileRange> lease() {
            return hostFile.lease(spanFd, position(), length());
        }
    }

    /** Buffered: spans are the file's own bytes (see {@link #doHostFileSpan}). */
    @Override
    public boolean readsAsHostFile() {
        return !options().cacheDirect();
    }

    /** Buffered, and the filesystem did not refuse copy_file_range yet. */
    @Override
    public boolean writesFromHostFiles() {
        return !options().cacheDirect() && !kernelCopyRefused;
    }

    /**
     * copy_file_range(2) from the span's file: the kernel moves the bytes from page cache to page
     * cache (or shares the blocks, on a filesystem that can), with no copy through this process.
     * Where it refuses (another filesystem: EXDEV; a kernel or filesystem without it: ENOSYS,
     * EOPNOTSUPP, EINVAL, EBADF) the rest is read and written, and this node answers
     * {@link #writesFromHostFiles} false from then on, so copiers go back to their own buffers.
     * A source that ends early (its file shrank) reads as zeroes past its end, as a read does.
     */
    @Override
    protected void doWriteFromHostFile(long offset, HostFileSpan src, boolean fua) throws BlockIOException {
        checkOpen();
        long len = src.length();
        long done = 0;
        if (writesFromHostFiles()) {
            try {
                while (done < len) {
                    long n = Posix.copyFileRange(src.fd(), src.position() + done, fd, offset + done, len - done);
                    if (n == 0) {
                        break; // the source's file ends here: the rest reads as zeroes (below)
                    }
                    done += n;
                }
            } catch (Posix.PosixError e) {
                if (!refusesKernelCopy(e.errno)) {
                    throw e.toBlock(ctx("copy", offset + done, len - done));
                }
                kernelCopyRefused = true;
                LOG.info("node '{}' ({}): copy_file_range refused ({}), copies are read and written from now on",
                        nodeName(), filename, Posix.strerror(e.errno));
            }
        }
        if (done < len) {
            writeSpanThroughMemory(offset, src, done, false);
        }
        try {
            if (offset + len > size) {
                grewTo(offset + len);
            }
            if (fua) {
                Posix.fdatasync(fd);
            }
        } catch (Posix.PosixError e) {
            throw e.toBlock(ctx("copy", offset, len));
        }
    }

    /** The errnos with which copy_file_range says "not between these files", not "the copy failed". */
    static boolean refusesKernelCopy(int errno) {
        return errno == Posix.EXDEV || errno == Posix.ENOSYS || errno == Posix.EOPNOTSUPP
                || errno == Errno.EINVAL.code() || errno == Posix.EBADF;
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        checkOpen();
        long len = src.byteSize();
        try {
            if (!needsBounce(offset, src)) {
                writeShared(src, offset);
            } else if (!options().cacheDirect()) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment copy = a.allocate(len);
                    copy.copyFrom(src);
                    Posix.pwriteFully(fd, copy, offset);
                }
            } else {
                readModifyWrite(offset, src);
            }
            if (offset + len > size) {
                grewTo(offset + len);
            }
            if (fua) {
                Posix.fdatasync(fd);
            }
        } catch (Posix.PosixError e) {
            throw e.toBlock(ctx("write", offset, len));
        }
    }

    private void writeShared(MemorySegment src, long offset) throws Posix.PosixError {
        if (!options().cacheDirect()) {
            Posix.pwriteFully(fd, src, offset);
            return;
        }
        rmwLock.readLock().lock();
        try {
            Posix.pwriteFully(fd, src, offset);
        } finally {
            rmwLock.readLock().unlock();
        }
    }

    /** O_DIRECT write of an unaligned request: whole aligned blocks, read, patched and written back. */
    private void readModifyWrite(long offset, MemorySegment src) throws Posix.PosixError {
        long len = src.byteSize();
        if (((offset | len) & (DIRECT_ALIGN - 1)) == 0) {
            // only the buffer is misaligned: copy it, no read needed
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(len, DIRECT_ALIGN);
                bounce.copyFrom(src);
                writeShared(bounce, offset);
            }
            return;
        }
        long start = alignDown(offset);
        long end = alignUp(offset + len);
        rmwLock.writeLock().lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bounce = a.allocate(end - start, DIRECT_ALIGN);
            long n = Posix.preadFully(fd, bounce, start);
            if (n < bounce.byteSize()) {
                bounce.asSlice(n).fill((byte) 0);
            }
            MemorySegment.copy(src, 0, bounce, offset - start, len);
            Posix.pwriteFully(fd, bounce, start);
            long keep = Math.max(size, offset + len);
            if (end > keep) {
                Posix.ftruncate(fd, keep); // the aligned tail went past EOF: keep the size
            }
        } finally {
            rmwLock.writeLock().unlock();
        }
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException {
        checkOpen();
        try {
            long oldSize = size;
            if (offset + bytes > oldSize) {
                // past the end (a growing writer): extend first; the new bytes read as zeroes
                Posix.ftruncate(fd, offset + bytes);
                grewTo(offset + bytes);
                if (offset >= oldSize) {
                    return;
                }
                bytes = oldSize - offset;
            }
            if (mayUnmap && tryFallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, offset, bytes)) {
                return;
            }
            if (tryFallocate(Posix.FALLOC_FL_ZERO_RANGE | Posix.FALLOC_FL_KEEP_SIZE, offset, bytes)) {
                return;
            }
            if (noFallback) {
                throw new BlockIOException(Errno.ENOTSUP, ctx("write-zeroes", offset, bytes)
                        + ": the filesystem cannot zero without writing, and NO_FALLBACK was given");
            }
            for (long done = 0; done < bytes;) {
                long n = Math.min(ZERO_CHUNK, bytes - done);
                doWrite(offset + done, zeroes.asSlice(0, n), false);
                done += n;
            }
        } catch (Posix.PosixError e) {
            throw e.toBlock(ctx("write-zeroes", offset, bytes));
        }
    }

    /** fallocate, false when the filesystem does not support {@code mode} (or O_DIRECT alignment refuses it). */
    private boolean tryFallocate(int mode, long offset, long bytes) throws Posix.PosixError {
        try {
            Posix.fallocate(fd, mode, offset, bytes);
            return true;
        } catch (Posix.PosixError e) {
            if (e.errno == Posix.EOPNOTSUPP || e.errno == Errno.EINVAL.code()) {
                return false;
            }
            throw e;
        }
    }

    @Override
    protected void doDiscard(long offset, long bytes) throws BlockIOException {
        checkOpen();
        try {
            tryFallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, offset, bytes);
        } catch (Posix.PosixError e) {
            throw e.toBlock(ctx("discard", offset, bytes));
        }
    }

    @Override
    protected void doFlush() throws BlockIOException {
        checkOpen();
        try {
            Posix.fdatasync(fd);
        } catch (Posix.PosixError e) {
            throw e.toBlock("flush of node '" + nodeName() + "' (" + filename + ")");
        }
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        checkOpen();
        long end = offset + bytes;
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        try {
            while (pos < end) {
                long data;
                try {
                    data = Posix.lseek(fd, pos, Posix.SEEK_DATA);
                } catch (Posix.PosixError e) {
                    if (e.errno == Posix.ENXIO) {
                        data = end; // no data after pos: a hole to EOF
                    } else if (e.errno == Errno.EINVAL.code() || e.errno == Posix.EOPNOTSUPP) {
                        out.add(new Extent(pos, end - pos, Extent.DATA | Extent.ALLOCATED)); // no SEEK_DATA here
                        return out;
                    } else {
                        throw e;
                    }
                }
                if (data > pos) {
                    long holeEnd = Math.min(data, end);
                    out.add(new Extent(pos, holeEnd - pos, Extent.ZERO | Extent.ALLOCATED));
                    pos = holeEnd;
                    continue;
                }
                long hole = Posix.lseek(fd, pos, Posix.SEEK_HOLE);
                long dataEnd = Math.min(Math.max(hole, pos + 1), end);
                out.add(new Extent(pos, dataEnd - pos, Extent.DATA | Extent.ALLOCATED));
                pos = dataEnd;
            }
            return out;
        } catch (Posix.PosixError e) {
            throw e.toBlock(ctx("block-status", offset, bytes));
        }
    }

    @Override
    protected void close() {
        if (!closed) {
            closed = true;
            Posix.close(fd);
            hostFile.close();
        }
    }

    private static long alignDown(long v) {
        return v & -DIRECT_ALIGN;
    }

    private static long alignUp(long v) {
        return (v + DIRECT_ALIGN - 1) & -DIRECT_ALIGN;
    }
}
