package dev.converge.nbd.server;

import dev.converge.nbd.transport.NbdTlsConfig;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/**
 * How an {@link NbdServer} listens.
 *
 * @param address        inet host:port (port 0 picks one) or a UNIX socket path
 * @param maxConnections connections served at once; more are closed right after accept
 * @param maxInFlight    requests of one connection processed at once (QEMU: 16)
 * @param tls            TLS credentials, or null for plain connections only
 */
public record NbdServerConfig(SocketAddress address, int maxConnections, int maxInFlight, NbdTlsConfig tls) {
    /** Default for {@link #maxConnections}: qemu-nbd's -e default is 1; a daemon serves more. */
    public static final int DEFAULT_MAX_CONNECTIONS = 100;
    /** Default for {@link #maxInFlight}, QEMU's MAX_NBD_REQUESTS. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 16;

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
        return new NbdServerConfig(address, maxConnections, maxInFlight, newTls);
    }

    public NbdServerConfig withMaxConnections(int n) {
        return new NbdServerConfig(address, n, maxInFlight, tls);
    }

    public NbdServerConfig withMaxInFlight(int n) {
        return new NbdServerConfig(address, maxConnections, n, tls);
    }
}
