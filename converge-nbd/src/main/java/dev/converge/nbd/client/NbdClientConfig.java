package dev.converge.nbd.client;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.time.Duration;
import java.util.Objects;
import javax.net.ssl.SSLContext;

/**
 * Where and how an {@link NbdClient} connects (the options of QEMU's nbd block driver).
 *
 * @param address        the server: inet host:port or a UNIX socket path
 * @param export         the export name ("" for the default export)
 * @param tls            TLS context (from a tls-creds-x509 directory, endpoint client), or null for plain
 * @param tlsHostname    the name the server certificate must carry; null: the inet host, and no check for
 *                       UNIX sockets
 * @param reconnectDelay how long requests wait for a reconnect after the connection broke before they
 *                       fail (QEMU's reconnect-delay); zero: they fail at once (reconnecting still goes on)
 * @param maxInFlight    requests sent and not yet answered at once (QEMU: 16)
 * @param connectTimeout bound on one connection's connect and handshake (TLS included): a server
 *                       that accepts and never speaks fails the connect instead of holding it forever
 */
public record NbdClientConfig(SocketAddress address, String export, SSLContext tls, String tlsHostname,
                              Duration reconnectDelay, int maxInFlight, Duration connectTimeout) {
    /** QEMU's MAX_NBD_REQUESTS. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 16;
    /** Connect and handshake bound; QEMU's NBD server gives a client's handshake as long (10 s). */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);

    public NbdClientConfig {
        if (!(address instanceof InetSocketAddress) && !(address instanceof UnixDomainSocketAddress)) {
            throw new IllegalArgumentException("address: " + address + " (expected: inet or UNIX socket address)");
        }
        Objects.requireNonNull(export, "export");
        Objects.requireNonNull(reconnectDelay, "reconnectDelay");
        if (reconnectDelay.isNegative()) {
            throw new IllegalArgumentException("reconnectDelay: " + reconnectDelay + " (expected: >= 0)");
        }
        if (maxInFlight < 1 || maxInFlight > 1024) {
            throw new IllegalArgumentException("maxInFlight: " + maxInFlight + " (expected: 1..1024)");
        }
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("connectTimeout: " + connectTimeout + " (expected: > 0)");
        }
    }

    /** Plain, no reconnect wait, 16 in flight. */
    public static NbdClientConfig of(SocketAddress address, String export) {
        return new NbdClientConfig(address, export, null, null, Duration.ZERO, DEFAULT_MAX_IN_FLIGHT,
                DEFAULT_CONNECT_TIMEOUT);
    }

    public NbdClientConfig withTls(SSLContext context, String hostname) {
        return new NbdClientConfig(address, export, context, hostname, reconnectDelay, maxInFlight, connectTimeout);
    }

    public NbdClientConfig withReconnectDelay(Duration delay) {
        return new NbdClientConfig(address, export, tls, tlsHostname, delay, maxInFlight, connectTimeout);
    }

    public NbdClientConfig withMaxInFlight(int n) {
        return new NbdClientConfig(address, export, tls, tlsHostname, reconnectDelay, n, connectTimeout);
    }

    public NbdClientConfig withConnectTimeout(Duration timeout) {
        return new NbdClientConfig(address, export, tls, tlsHostname, reconnectDelay, maxInFlight, timeout);
    }

    /** The host name to check the server certificate against, or null for none. */
    String verifiedHostname() {
        if (tlsHostname != null) {
            return tlsHostname;
        }
        return address instanceof InetSocketAddress inet ? inet.getHostString() : null;
    }
}
