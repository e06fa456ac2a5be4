package dev.converge.migration.job;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.QmpException;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a migration stream goes: {@code tcp:HOST:PORT} or {@code unix:PATH}, given as QEMU's
 * {@code uri} or as its {@code channels} list (QEMU 9 shape). Parsed once at the QMP boundary;
 * errors are QMP errors with QEMU's texts where QEMU has one.
 *
 * @param address the socket address to connect to or listen on
 */
public record MigrationUri(SocketAddress address) {
    public MigrationUri {
        Objects.requireNonNull(address);
    }

    /** The protocol family to open a channel for this address with. */
    public ProtocolFamily family() {
        return address instanceof UnixDomainSocketAddress ? StandardProtocolFamily.UNIX
                : ((InetSocketAddress) address).getAddress() instanceof java.net.Inet6Address
                        ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
    }

    /** The URI form, e.g. "tcp:127.0.0.1:4444". */
    public static String describe(SocketAddress a) {
        if (a instanceof UnixDomainSocketAddress u) {
            return "unix:" + u.getPath();
        }
        InetSocketAddress i = (InetSocketAddress) a;
        String host = i.getHostString();
        return "tcp:" + (host.contains(":") ? "[" + host + "]" : host) + ":" + i.getPort();
    }

    @Override
    public String toString() {
        return describe(address);
    }

    /**
     * Parses {@code uri}.
     *
     * @throws QmpException "unknown migration protocol: URI" for other schemes, or naming the bad part
     */
    public static MigrationUri parse(String uri) {
        if (uri.startsWith("unix:")) {
            String path = uri.substring("unix:".length());
            if (path.isEmpty()) {
                throw QmpException.generic("Invalid migration URI '%s': empty socket path", uri);
            }
            return new MigrationUri(UnixDomainSocketAddress.of(Path.of(path)));
        }
        if (uri.startsWith("tcp:")) {
            String rest = uri.substring("tcp:".length());
            int colon = rest.lastIndexOf(':');
            if (colon <= 0) {
                throw QmpException.generic("Invalid migration URI '%s': expected tcp:HOST:PORT", uri);
            }
            String host = rest.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            return new MigrationUri(inet(host, rest.substring(colon + 1), uri));
        }
        throw QmpException.generic("unknown migration protocol: %s", uri);
    }

    /**
     * The address of a QEMU 9 {@code channels} list: exactly one channel of type main, whose addr
     * is {@code {transport: socket, type: inet, host, port}} or {@code {transport: socket, type: unix, path}}.
     */
    public static MigrationUri fromChannels(JsonNode channels) {
        if (channels.size() != 1) {
            throw QmpException.generic("Channel list must have only one entry, for type 'main'");
        }
        JsonNode c = channels.get(0);
        if (!"main".equals(c.path("channel-type").asText())) {
            throw QmpException.generic("Channel list has no main entry");
        }
        JsonNode addr = c.get("addr");
        String transport = addr.path("transport").asText();
        if (!"socket".equals(transport)) {
            throw QmpException.generic("Migration transport '%s' is not supported (expected: socket)", transport);
        }
        String type = addr.path("type").asText();
        return switch (type) {
            case "inet" -> {
                String host = require(addr, "host");
                String port = require(addr, "port");
                yield new MigrationUri(inet(host, port, "tcp:" + host + ":" + port));
            }
            case "unix" -> new MigrationUri(UnixDomainSocketAddress.of(Path.of(require(addr, "path"))));
            default -> throw QmpException.generic("Socket address type '%s' is not supported (expected: inet or unix)", type);
        };
    }

    private static String require(JsonNode addr, String member) {
        JsonNode v = addr.get(member);
        if (v == null || v.isNull()) {
            throw QmpException.generic("Parameter 'addr.%s' is missing", member);
        }
        return v.asText();
    }

    private static InetSocketAddress inet(String host, String port, String uri) {
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw QmpException.generic("Invalid migration URI '%s': port '%s' is not a number", uri, port);
        }
        if (p < 0 || p > 65535) {
            throw QmpException.generic("Invalid migration URI '%s': port %d (expected: 0 to 65535)", uri, p);
        }
        return new InetSocketAddress(host, p);
    }
}
