package dev.converge.qmp.net;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;
import java.util.Set;

/**
 * A listening socket bound the way a daemon should bind one, shared by the QMP and NBD servers:
 *
 * <ul>
 * <li><b>Backlog</b> as large as the system allows ({@code net.core.somaxconn}, 4096 when it cannot
 *     be read): with the JDK's default of 50, a burst of connects overflows the queue and, with SYN
 *     cookies, clients believe they are connected to a socket nobody will ever accept.</li>
 * <li><b>UNIX socket mode set before anyone can connect.</b> The socket is bound inside a fresh
 *     private directory (mode 0700, next to the target so both are on one file system), given its
 *     mode there, and only then linked or renamed to its path. Nobody can reach it before it has its
 *     final mode. The alternative, setting the umask around bind(2), is process-wide: another thread
 *     creating a file at that moment would get the wrong mode, so it is not used.</li>
 * <li><b>Stale socket files</b> (a daemon killed with -9 leaves its socket file behind) are replaced:
 *     a socket file nobody answers on is overwritten by an atomic rename. A socket somebody answers
 *     on is never taken over, and a file that is not a socket is never touched. A server that starts
 *     listening on the path between our probe and our rename would lose its path; that window is a
 *     few system calls long and needs two daemons configured for the same path.</li>
 * </ul>
 * On {@link #close()} the socket file is removed, but only while it is still ours (same inode): a
 * successor that replaced it keeps its own.
 */
public final class ListeningSocket implements AutoCloseable {
    /** Default mode of UNIX socket files: only the daemon's user may connect. */
    public static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final int FALLBACK_BACKLOG = 4096;
    /** Names the directories {@link #bindDirectory} creates, unique within this process. */
    private static final java.util.concurrent.atomic.AtomicLong BIND_DIRECTORIES = new java.util.concurrent.atomic.AtomicLong();

    private final ServerSocketChannel channel;
    private final SocketAddress address;
    /** The socket file's inode key, or null for TCP. */
    private final Object fileKey;

    private ListeningSocket(ServerSocketChannel channel, SocketAddress address, Object fileKey) {
        this.channel = channel;
        this.address = address;
        this.fileKey = fileKey;
    }

    /** Binds a TCP address (port 0 picks one) with SO_REUSEADDR and the largest backlog. */
    public static ListeningSocket tcp(InetSocketAddress address) throws IOException {
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(address, backlog());
            return new ListeningSocket(ch, ch.getLocalAddress(), null);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Binds a UNIX socket at {@code path} with file mode {@code mode}, replacing a stale socket file.
     *
     * @throws IOException naming the reason: a server answers on the path, the file is not a socket,
     *                     or the bind itself failed
     */
    public static ListeningSocket unix(Path path, Set<PosixFilePermission> mode) throws IOException {
        Objects.requireNonNull(mode, "mode");
        Path target = path.toAbsolutePath();
        boolean stale = checkReplaceable(target);
        Path dir;
        try {
            dir = bindDirectory(target.getParent());
        } catch (NoSuchFileException e) {
            throw new IOException("No such file or directory", e); // as bind(2) would say
        } catch (java.nio.file.AccessDeniedException e) {
            throw new IOException("Permission denied", e);
        }
        Path tmp = dir.resolve("s");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp), backlog());
            Files.setPosixFilePermissions(tmp, mode);
            Object key = Files.readAttributes(tmp, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            if (stale) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE); // rename(2) replaces the stale file
            } else {
                // link(2) never replaces: a file that appeared since the check makes this fail, not vanish
                Files.createLink(target, tmp);
            }
            return new ListeningSocket(ch, UnixDomainSocketAddress.of(path), key);
        } catch (FileAlreadyExistsException e) {
            ch.close();
            throw new IOException("the file " + target + " appeared while binding", e);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        } finally {
            Files.deleteIfExists(tmp);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * A fresh directory, owner only, next to the socket to bind in. Named from the pid and a
     * counter rather than by Files.createTempDirectory, whose SecureRandom (security providers,
     * seeding) costs a daemon's start tens of milliseconds; createDirectory refuses an existing
     * name, so a name taken by anyone else is skipped, never used.
     */
    private static Path bindDirectory(Path parent) throws IOException {
        java.nio.file.attribute.FileAttribute<Set<PosixFilePermission>> ownerOnly =
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
        String prefix = ".bind-" + ProcessHandle.current().pid() + "-";
        for (int attempt = 1;; attempt++) {
            try {
                return Files.createDirectory(parent.resolve(prefix + BIND_DIRECTORIES.incrementAndGet()), ownerOnly);
            } catch (FileAlreadyExistsException taken) {
                if (attempt == 1000) {
                    throw taken;
                }
            }
        }
    }

    /**
     * Whether an existing socket file at {@code path} is stale (false: no file at all); throws when
     * the file is not a socket or a server answers on it.
     */
    static boolean checkReplaceable(Path path) throws IOException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return false;
        }
        if (!isSocket(path, attrs)) {
            throw new IOException("the file " + path + " exists and is not a socket");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw new IOException("Address already in use: a server is answering on " + path);
        } catch (ConnectException e) {
            return true; // nobody listens: left behind by a process that died
        }
    }

    private static boolean isSocket(Path path, BasicFileAttributes attrs) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & 0170000) == 0140000; // S_IFSOCK
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return attrs.isOther();
        }
    }

    /** The listen backlog: net.core.somaxconn (the kernel's cap), else 4096. */
    public static int backlog() {
        // not Files.readString: it trusts the size procfs reports and returned "4" of "4096"
        try (var in = Files.newInputStream(Path.of("/proc/sys/net/core/somaxconn"))) {
            int n = Integer.parseInt(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim());
            return n > 0 ? n : FALLBACK_BACKLOG;
        } catch (IOException | NumberFormatException e) {
            return FALLBACK_BACKLOG;
        }
    }

    public ServerSocketChannel channel() {
        return channel;
    }

    /** The bound address: the TCP port chosen, or the UNIX path asked for (not the private one bound first). */
    public SocketAddress address() {
        return address;
    }

    /** Closes the channel and removes the socket file while it is still ours. Idempotent. */
    @Override
    public void close() throws IOException {
        channel.close();
        if (fileKey != null && address instanceof UnixDomainSocketAddress unix) {
            Path p = unix.getPath();
            try {
                Object now = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
                if (fileKey.equals(now)) {
                    Files.deleteIfExists(p);
                }
            } catch (NoSuchFileException e) {
                // already gone
            }
        }
    }
}
