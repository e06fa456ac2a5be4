package dev.converge.qmp.sockets;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * QEMU's {@code InetSocketAddress} (QEMU 10.0 members; {@code mptcp}, which QEMU has only where
 * the host supports it, is not offered). The port is a number from 0 to 65535 (QEMU also takes
 * service names such as "http"; converge does not). An empty host means every local address
 * when listening.
 *
 * @param host host name or address; an IPv6 literal without brackets
 * @param port port; 0 asks a listener for any free port
 * @param numeric {@code numeric}, when given: parsed and printed (converge resolves names either way)
 * @param to {@code to} (a port range's end), when given: refused where converge listens
 * @param ipv4 {@code ipv4}, when given
 * @param ipv6 {@code ipv6}, when given
 * @param keepAlive {@code keep-alive}, when given: refused where converge listens, as QEMU does
 */
public record InetSocketAddress(String host, int port, Optional<Boolean> numeric, OptionalInt to,
                                Optional<Boolean> ipv4, Optional<Boolean> ipv6, Optional<Boolean> keepAlive)
        implements SocketAddress {
    public InetSocketAddress {
        Objects.requireNonNull(host);
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " out of range");
        }
        Objects.requireNonNull(numeric);
        Objects.requireNonNull(to);
        Objects.requireNonNull(ipv4);
        Objects.requireNonNull(ipv6);
        Objects.requireNonNull(keepAlive);
    }

    /** HOST:PORT without options. */
    public static InetSocketAddress of(String host, int port) {
        return new InetSocketAddress(host, port, Optional.empty(), OptionalInt.empty(), Optional.empty(),
                Optional.empty(), Optional.empty());
    }

    /** The same address with another port (what a listener on port 0 got). */
    public InetSocketAddress withPort(int newPort) {
        return new InetSocketAddress(host, newPort, numeric, to, ipv4, ipv6, keepAlive);
    }

    /** Which address families {@code ipv4}/{@code ipv6} allow. */
    public enum Family { ANY, IPV4, IPV6 }

    /**
     * The family {@code ipv4}/{@code ipv6} select, with QEMU's rules: both on is any family
     * (IPv6 for an empty host, whose IPv6 wildcard takes both), one on or the other off selects it.
     *
     * @throws QmpException "Cannot disable IPv4 and IPv6 at same time"
     */
    public Family family() {
        boolean v4Off = ipv4.equals(Optional.of(false));
        boolean v6Off = ipv6.equals(Optional.of(false));
        boolean v4On = ipv4.equals(Optional.of(true));
        boolean v6On = ipv6.equals(Optional.of(true));
        if (v4Off && v6Off) {
            throw QmpException.generic("Cannot disable IPv4 and IPv6 at same time");
        }
        if (v4On && v6On) {
            return host.isEmpty() ? Family.IPV6 : Family.ANY;
        }
        if (v6On || v4Off) {
            return Family.IPV6;
        }
        if (v4On || v6Off) {
            return Family.IPV4;
        }
        return Family.ANY;
    }

    @Override
    public java.net.InetSocketAddress resolve() throws IOException {
        Family family = family();
        if (host.isEmpty()) {
            return switch (family) {
                case ANY -> new java.net.InetSocketAddress(port);
                case IPV4 -> new java.net.InetSocketAddress(InetAddress.getByName("0.0.0.0"), port);
                case IPV6 -> new java.net.InetSocketAddress(InetAddress.getByName("::"), port);
            };
        }
        InetAddress[] all;
        try {
            all = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            throw new IOException(resolutionFailed("Name or service not known"), e);
        }
        for (InetAddress a : all) {
            if (family == Family.ANY || (family == Family.IPV4 ? a instanceof Inet4Address : a instanceof Inet6Address)) {
                return new java.net.InetSocketAddress(a, port);
            }
        }
        throw new IOException(resolutionFailed("Address family for hostname not supported"));
    }

    private String resolutionFailed(String reason) {
        return "address resolution failed for " + host + ":" + port + ": " + reason;
    }

    @Override
    public void checkListenable() {
        if (keepAlive.orElse(false)) {
            throw QmpException.generic("keep-alive option is not supported for passive sockets");
        }
        if (to.isPresent()) {
            throw QmpException.generic("Parameter 'to' is not supported by converge (port ranges)");
        }
    }

    /** HOST:PORT with an IPv6 literal in brackets, as {@link SocketAddressText} reads it. */
    public String hostPort() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String uri() {
        StringBuilder b = new StringBuilder("tcp:").append(hostPort());
        to.ifPresent(t -> b.append(",to=").append(t));
        ipv4.ifPresent(v -> b.append(",ipv4=").append(v ? "on" : "off"));
        ipv6.ifPresent(v -> b.append(",ipv6=").append(v ? "on" : "off"));
        keepAlive.ifPresent(v -> b.append(",keep-alive=").append(v ? "on" : "off"));
        return b.toString();
    }

    @Override
    public ObjectNode toQmp() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("type", "inet");
        o.put("host", host);
        o.put("port", String.valueOf(port));
        numeric.ifPresent(v -> o.put("numeric", v));
        to.ifPresent(v -> o.put("to", v));
        ipv4.ifPresent(v -> o.put("ipv4", v));
        ipv6.ifPresent(v -> o.put("ipv6", v));
        keepAlive.ifPresent(v -> o.put("keep-alive", v));
        return o;
    }

    @Override
    public String toString() {
        return uri();
    }
}
