package dev.converge.daemon.service;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code --pidfile PATH}, as QEMU writes it: the file is created (mode 0644 after the umask),
 * locked with a POSIX record lock for as long as the daemon runs, so a second daemon with the
 * same file refuses to start, then truncated and given the pid and a newline. Closing removes the
 * file, then releases the lock. Not thread-safe: the daemon's start and shutdown own it.
 */
public final class PidFile implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private PidFile(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * @throws IOException with QEMU's wording when the file cannot be opened or another process holds it
     */
    public static PidFile write(Path path, long pid) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new IOException("Cannot open pid file: " + reason(e), e);
        }
        try {
            FileLock lock = ch.tryLock();
            if (lock == null) {
                throw new IOException("Cannot lock pid file: Resource temporarily unavailable (another daemon runs "
                        + "with " + path + ")");
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((pid + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            ch.force(false);
            return new PidFile(path, ch, lock);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public void close() {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // The file stays; the lock still goes with the channel below.
        }
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            // closing a local file: nothing left to do
        }
    }

    private static String reason(IOException e) {
        return e instanceof java.nio.file.NoSuchFileException ? "No such file or directory"
                : e instanceof java.nio.file.AccessDeniedException ? "Permission denied" : String.valueOf(e.getMessage());
    }
}
