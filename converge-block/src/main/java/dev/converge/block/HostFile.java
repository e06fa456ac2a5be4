package dev.converge.block;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * A read-only {@link FileChannel} on the file a {@code file} node has open, shared by the
 * {@link HostFileRange}s handed out for it and counted: the node holds one reference, each range
 * one, and the channel closes when the last is given back. So a range whose transfer is still
 * running when its node closes (a slow NBD client, a blockdev-del after a mirror's pivot) finishes
 * on a valid channel, and the node's close never waits for a client.
 * <p>
 * The channel is opened through {@code /proc/self/fd/N} of the node's descriptor on first use: the
 * same inode even when the path was renamed or replaced since the node opened it (a path would be
 * another file then), and a descriptor of its own, so the node's reopen or close does not touch it.
 * Where that cannot be opened (no /proc) there are no ranges and readers read as usual.
 * <p>
 * Thread-safe: every field is guarded by {@code this}.
 */
public final class HostFile {
    private final String name;
    /** Opened on first use; null before, and after the last reference closed it. Guarded by this. */
    private FileChannel channel;
    /** References: 1 for the node until {@link #close}, plus one per open range. Guarded by this. */
    private int references = 1;
    /** Set when opening failed once: no more attempts. Guarded by this. */
    private boolean unavailable;

    /** @param name the file's name, for messages */
    public HostFile(String name) {
        this.name = name;
    }

    /**
     * A range of the file for one transfer, or empty when the node closed or the file cannot be
     * opened here. The caller closes the range.
     *
     * @param fd the node's open descriptor of the file now; called by an admitted request, so the
     *           node cannot reopen or close it meanwhile (the channel is opened from it on first use)
     */
    public synchronized Optional<HostFileRange> lease(int fd, long position, long length) {
        if (references == 0 || unavailable) {
            return Optional.empty();
        }
        if (channel == null) {
            try {
                channel = FileChannel.open(Path.of("/proc/self/fd", Integer.toString(fd)), StandardOpenOption.READ);
            } catch (IOException | UnsupportedOperationException | SecurityException e) {
                unavailable = true;
                return Optional.empty();
            }
        }
        references++;
        return Optional.of(new HostFileRange(this, channel, position, length));
    }

    /** The node's reference ends (the node closes); open ranges keep the channel until they close. */
    public void close() {
        release();
    }

    void release() {
        FileChannel toClose = null;
        synchronized (this) {
            if (references == 0) {
                return;
            }
            if (--references == 0) {
                toClose = channel;
                channel = null;
            }
        }
        if (toClose != null) {
            try {
                toClose.close();
            } catch (IOException ignored) {
                // a read-only descriptor: nothing was left to write
            }
        }
    }

    /** Whether the channel is open now (for tests). */
    synchronized boolean channelOpen() {
        return channel != null && channel.isOpen();
    }

    @Override
    public String toString() {
        return name;
    }
}
