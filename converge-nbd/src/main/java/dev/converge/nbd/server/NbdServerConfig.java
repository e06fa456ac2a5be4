package dev.converge.nbd.server;

import dev.converge.nbd.transport.NbdTlsConfig;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.qmp.net.ListeningSocket;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * How an {@link NbdServer} listens and what one client may cost it.
 *
 * @param address          inet host:port (port 0 picks one) or a UNIX socket path
 * @param maxConnections   connections at once, handshaking ones included (QEMU's max-connections); at the
 *                         limit the server stops accepting and further clients wait in the listen backlog
 * @param maxInFlight      requests of one connection processed at once (QEMU: 16)
 * @param tls              TLS credentials, or null for plain connections only
 * @param handshakeTimeout a client that has not finished its handshake by then is disconnected
 *                         ({@link Duration#ZERO}: no limit); QEMU's handshake-max-seconds
 * @param connectionMemory bytes of request buffers one connection may hold at once (at least two
 *                         requests of the largest size)
 * @param memoryWait       how long a request waits for the process-wide budget before it is answered ENOMEM
 * @param unixSocketMode   the mode of a UNIX socket file, set before anyone can connect
 */
public record NbdServerConfig(SocketAddress address, int maxConnections, int maxInFlight, NbdTlsConfig tls,
                              Duration handshakeTimeout, long connectionMemory, Duration memoryWait,
                              Set<PosixFilePermission> unixSocketMode) {
    /** Default for {@link #maxConnections}: QEMU's nbd-server-start default (since 9.1, CVE-2024-7409). */
    public static final int DEFAULT_MAX_CONNECTIONS = 100;
    /** Default for {@link #maxInFlight}, QEMU's MAX_NBD_REQUESTS. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 16;
    /** Default for {@link #handshakeTimeout}: QEMU 10.0's handshake-max-seconds default. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    /** Default for {@link #connectionMemory}: two requests of the largest size. */
    public static final long DEFAULT_CONNECTION_MEMORY = 2L * NbdProtocol.MAX_BUFFER_SIZE;
    /** Default for {@link #memoryWait}. */
    public static final Duration DEFAULT_MEMORY_WAIT = Duration.ofSeconds(2);

    public NbdServerConfig {
        if (!(address instanceof InetSocketAddress) && !(address instanceof UnixDomainSocketAddress)) {
            throw new IllegalArgumentException("address: " + address + " (expected: inet or UNIX socket address)");
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections: " + maxConnections + " (expected: >= 1)");
        }
        if (maxInFlight < 1 || maxInFlight > 1024) {
            throw new IllegalArgumentException("maxInFlight: " + maxInFlight + " (expected: 1..1024)");
        }
        if (handshakeTimeout.isNegative()) {
            throw new IllegalArgumentException("handshakeTimeout: " + handshakeTimeout + " (expected: >= 0)");
        }
        if (connectionMemory < DEFAULT_CONNECTION_MEMORY) {
            throw new IllegalArgumentException("connectionMemory: " + connectionMemory + " (expected: >= "
                    + DEFAULT_CONNECTION_MEMORY + ")");
        }
        if (memoryWait.isNegative()) {
            throw new IllegalArgumentException("memoryWait: " + memoryWait + " (expected: >= 0)");
        }
        unixSocketMode = Set.copyOf(Objects.requireNonNull(unixSocketMode, "unixSocketMode"));
    }

    /** The defaults for everything but the address, connection count, depth and TLS. */
    public NbdServerConfig(SocketAddress address, int maxConnections, int maxInFlight, NbdTlsConfig tls) {
        this(address, maxConnections, maxInFlight, tls, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_CONNECTION_MEMORY,
                DEFAULT_MEMORY_WAIT, ListeningSocket.OWNER_ONLY);
    }

    public static NbdServerConfig tcp(String host, int port) {
        return new NbdServerConfig(new InetSocketAddress(host, port), DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT,
                null);
    }

    public static NbdServerConfig unix(Path path) {
        return new NbdServerConfig(UnixDomainSocketAddress.of(path), DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT,
                null);
    }

    public NbdServerConfig withTls(NbdTlsConfig newTls) {
        return new NbdServerConfig(address, maxConnections, maxInFlight, newTls, handshakeTimeout, connectionMemory,
                memoryWait, unixSocketMode);
    }

    public NbdServerConfig withMaxConnections(int n) {
        return new NbdServerConfig(address, n, maxInFlight, tls, handshakeTimeout, connectionMemory, memoryWait,
                unixSocketMode);
    }

    public NbdServerConfig withMaxInFlight(int n) {
        return new NbdServerConfig(address, maxConnections, n, tls, handshakeTimeout, connectionMemory, memoryWait,
                unixSocketMode);
    }

    public NbdServerConfig withHandshakeTimeout(Duration d) {
        return new NbdServerConfig(address, maxConnections, maxInFlight, tls, d, connectionMemory, memoryWait,
                unixSocketMode);
    }

    public NbdServerConfig withConnectionMemory(long bytes, Duration wait) {
        return new NbdServerConfig(address, maxConnections, maxInFlight, tls, handshakeTimeout, bytes, wait,
                unixSocketMode);
    }

    public NbdServerConfig withUnixSocketMode(Set<PosixFilePermission> mode) {
        return new NbdServerConfig(address, maxConnections, maxInFlight, tls, handshakeTimeout, connectionMemory,
                memoryWait, mode);
    }
}
