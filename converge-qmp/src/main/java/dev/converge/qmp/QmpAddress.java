package dev.converge.qmp;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a QMP server listens or a client connects, parsed in one place from the strings users
 * type: {@code unix:PATH} or {@code tcp:HOST:PORT} (an IPv6 host in brackets:
 * {@code tcp:[::1]:4444}). Port 0 asks a listener for any free port.
 */
public sealed interface QmpAddress permits QmpAddress.Unix, QmpAddress.Tcp {
    /** The socket address to bind or connect to. */
    SocketAddress socketAddress();

    /** A UNIX domain socket at {@code path}. */
    record Unix(Path path) implements QmpAddress {
        public Unix {
            Objects.requireNonNull(path);
        }

        @Override
        public SocketAddress socketAddress() {
            return UnixDomainSocketAddress.of(path);
        }

        @Override
        public String toString() {
            return "unix:" + path;
        }
    }

    /** A TCP endpoint. */
    record Tcp(String host, int port) implements QmpAddress {
        public Tcp {
            Objects.requireNonNull(host);
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port: " + port + " (expected: 0 to 65535)");
            }
        }

        @Override
        public SocketAddress socketAddress() {
            return new InetSocketAddress(host, port);
        }

        @Override
        public String toString() {
            return "tcp:" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /**
     * Parses {@code unix:PATH} or {@code tcp:HOST:PORT}.
     *
     * @throws IllegalArgumentException naming what is wrong with {@code text}
     */
    static QmpAddress parse(String text) {
        Objects.requireNonNull(text, "address");
        if (text.startsWith("unix:")) {
            String path = text.substring("unix:".length());
            if (path.isEmpty()) {
                throw new IllegalArgumentException("address '" + text + "': empty socket path");
            }
            return new Unix(Path.of(path));
        }
        if (text.startsWith("tcp:")) {
            String rest = text.substring("tcp:".length());
            int colon = rest.lastIndexOf(':');
            if (colon <= 0 || colon == rest.length() - 1) {
                throw new IllegalArgumentException("address '" + text + "': expected tcp:HOST:PORT");
            }
            String host = rest.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            } else if (host.contains(":")) {
                throw new IllegalArgumentException("address '" + text + "': put an IPv6 host in brackets");
            }
            int port;
            try {
                port = Integer.parseInt(rest.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("address '" + text + "': port '" + rest.substring(colon + 1)
                        + "' is not a number", e);
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("address '" + text + "': port " + port + " (expected: 0 to 65535)");
            }
            return new Tcp(host, port);
        }
        throw new IllegalArgumentException("address '" + text + "': expected unix:PATH or tcp:HOST:PORT");
    }
}
