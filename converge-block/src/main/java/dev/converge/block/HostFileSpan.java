package dev.converge.block;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * Bytes of a node that are, unchanged, the bytes [position, position + length) of a host file
 * the node has open, handed to a {@link Use} while the request that asked for them is admitted
 * on every node between the asker and the file ({@link BlockNode#hostFileSpan}). Two users:
 * <ul>
 * <li>a kernel-side copy: {@link BlockNode#writeFromHostFile} on another node copies the span with
 *     {@code copy_file_range(2)} when that node is a host file too (a mirror's or backup's copy);</li>
 * <li>a zero-copy send: {@link #lease} holds the file open past the request for a reader that sends
 *     it with {@code sendfile(2)} at its own pace ({@link HostFileRange}, the NBD server).</li>
 * </ul>
 * The descriptor is the file driver's own: valid only during the {@link Use} call, never kept.
 */
public abstract class HostFileSpan {
    private final long position;
    private final long length;

    /** What a caller does with a span while its request is admitted; null means "nothing came of it". */
    @FunctionalInterface
    public interface Use<T> {
        T apply(HostFileSpan span) throws BlockIOException;
    }

    protected HostFileSpan(long position, long length) {
        this.position = position;
        this.length = length;
    }

    /** The open descriptor of the host file; valid only during the {@link Use} call that got this span. */
    public abstract int fd();

    /** Where the span starts in the host file. */
    public final long position() {
        return position;
    }

    /** Bytes in the span. */
    public final long length() {
        return length;
    }

    /**
     * Reads the span's bytes from {@code from} on into {@code dst} (all of it); past the file's end
     * they read as zeroes, as the file driver's reads do. For a writer that cannot copy in the kernel.
     */
    public abstract void read(long from, MemorySegment dst) throws BlockIOException;

    /** A range of the file that stays open after the request ended (see {@link HostFileRange}); empty when it cannot. */
    public abstract Optional<HostFileRange> lease();

    @Override
    public String toString() {
        return "host file span [" + position + ", +" + length + ") on fd " + fd();
    }
}
