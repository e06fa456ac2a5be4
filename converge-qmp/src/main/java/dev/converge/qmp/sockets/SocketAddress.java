package dev.converge.qmp.sockets;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;
import java.io.IOException;
import java.net.ProtocolFamily;

/**
 * QEMU's {@code SocketAddress} (qapi/sockets.json): where a socket listens or connects. Every
 * address converge takes from a user goes through this type: QMP listeners ({@code --qmp}), the
 * NBD server ({@code nbd-server-start}'s addr) and client ({@code nbd} driver's server), and
 * migration URIs and channels. One parser, one printer, one set of error texts:
 * {@link SocketAddressText} for the strings, {@link SocketAddressQmp} for the QMP dictionaries.
 *
 * <p>converge implements the {@code inet} and {@code unix} variants; {@code vsock} and
 * {@code fd} are refused by name.
 */
public sealed interface SocketAddress permits InetSocketAddress, UnixSocketAddress {

    /**
     * The JDK address to bind or connect to; an inet host is resolved here, honouring
     * {@code ipv4}/{@code ipv6}.
     *
     * @throws IOException "address resolution failed for HOST:PORT: REASON" (QEMU's text)
     */
    java.net.SocketAddress resolve() throws IOException;

    /** The protocol family to open a channel for {@link #resolve()}'s result with. */
    static ProtocolFamily familyOf(java.net.SocketAddress resolved) {
        if (resolved instanceof java.net.UnixDomainSocketAddress) {
            return java.net.StandardProtocolFamily.UNIX;
        }
        return ((java.net.InetSocketAddress) resolved).getAddress() instanceof java.net.Inet6Address
                ? java.net.StandardProtocolFamily.INET6 : java.net.StandardProtocolFamily.INET;
    }

    /**
     * Refuses what converge cannot listen with: QEMU's "keep-alive option is not supported for
     * passive sockets", port ranges ({@code to}) and abstract UNIX sockets.
     *
     * @throws QmpException naming the member
     */
    void checkListenable();

    /** The URI form, which {@link SocketAddressText#parse} reads back: {@code tcp:[::1]:4444}, {@code unix:/p}. */
    String uri();

    /** QEMU's flat SocketAddress dictionary, e.g. {@code {"type": "inet", "host": "::1", "port": "4444"}}. */
    ObjectNode toQmp();

    /** Parses {@code unix:PATH}, {@code tcp:HOST:PORT[,OPTIONS]} or {@code HOST:PORT[,OPTIONS]} as QEMU's socket_parse. */
    static SocketAddress parse(String text) {
        return SocketAddressText.parse(text);
    }

    /** Reads QEMU's flat SocketAddress dictionary; {@code at} names it in errors (e.g. "server"). */
    static SocketAddress fromQmp(JsonNode flat, String at) {
        return SocketAddressQmp.fromFlat(flat, at);
    }

    /** Reads QEMU's SocketAddressLegacy {@code {type, data: {...}}}; {@code at} names it in errors (e.g. "addr"). */
    static SocketAddress fromQmpLegacy(JsonNode legacy, String at) {
        return SocketAddressQmp.fromLegacy(legacy, at);
    }

    /** The address of a bound or connected JDK socket (a listener's local address, a peer). */
    static SocketAddress of(java.net.SocketAddress address) {
        return switch (address) {
            case java.net.UnixDomainSocketAddress u -> new UnixSocketAddress(u.getPath());
            case java.net.InetSocketAddress i -> InetSocketAddress.of(i.getHostString(), i.getPort());
            default -> throw new IllegalArgumentException("not an inet or unix address: " + address);
        };
    }
}
