package dev.converge.qmp;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The life of a UNIX listening socket's file, for every listener of the daemon (QMP,
 * migrate-incoming): a stale file left by a process that died is replaced before bind (as QEMU
 * unlinks before it binds, but only when nobody answers on it, so a running server is never
 * taken over), and the file is removed once the listener is closed.
 */
public final class UnixSocketFiles {
    private static final Logger LOG = LoggerFactory.getLogger(UnixSocketFiles.class);

    private UnixSocketFiles() {
    }

    /**
     * Removes {@code path} when it is a socket nobody answers on.
     *
     * @param what names the listener in errors and logs ("QMP", "migration")
     * @throws IOException when the file is not a socket, or a server answers on it
     */
    public static void removeStale(Path path, String what) throws IOException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if (!attrs.isOther()) {
            throw new IOException("cannot listen on unix:" + path + ": the file exists and is not a socket");
        }
        SocketChannel probe;
        try {
            probe = SocketChannel.open(UnixDomainSocketAddress.of(path));
        } catch (ConnectException e) {
            LOG.info("removing stale {} socket {}", what, path);
            Files.deleteIfExists(path);
            return;
        }
        probe.close();
        throw new IOException("cannot listen on unix:" + path + ": a server is answering on it");
    }

    /** Deletes a closed listener's socket file; null is nothing to do. Failures are logged, not thrown. */
    public static void delete(Path path, String what) {
        if (path == null) {
            return;
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("deleting {} socket {} failed", what, path, e);
        }
    }
}
