package dev.converge.qmp.sockets;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.ObjectType;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The QMP forms of a {@link SocketAddress}: QEMU's QAPI types (qapi/sockets.json, names and
 * members as QEMU 10.0 has them, so that query-qmp-schema shows what QEMU shows) and the readers
 * of their dictionaries. Errors name the member by its path from the command's arguments
 * ({@code at}), e.g. "Parameter 'server.type': 'vsock' sockets are not supported by converge".
 */
public final class SocketAddressQmp {
    private SocketAddressQmp() {
    }

    public static final ObjectType INET_SOCKET_ADDRESS = ObjectType.struct("InetSocketAddress",
            "Captures a socket address or address range in the Internet namespace.",
            required("host", BuiltinType.STR, "host part of the address"),
            required("port", BuiltinType.STR, "port part of the address (a number; 0 picks a free port)"),
            optional("numeric", BuiltinType.BOOL, "true if the host/port are guaranteed to be numeric (accepted)"),
            optional("to", BuiltinType.UINT16, "a port range end (refused: not supported)"),
            optional("ipv4", BuiltinType.BOOL, "whether to accept IPv4 addresses (accepted)"),
            optional("ipv6", BuiltinType.BOOL, "whether to accept IPv6 addresses (accepted)"),
            optional("keep-alive", BuiltinType.BOOL, "enable keep-alive on connections (accepted)"));
    public static final ObjectType UNIX_SOCKET_ADDRESS = ObjectType.struct("UnixSocketAddress",
            "Captures a socket address in the local (\"Unix socket\") namespace.",
            required("path", BuiltinType.STR, "filesystem path to use"),
            optional("abstract", BuiltinType.BOOL, "abstract socket namespace (refused: not supported)"),
            optional("tight", BuiltinType.BOOL, "abstract socket address length (accepted)"));
    public static final ObjectType VSOCK_SOCKET_ADDRESS = ObjectType.struct("VsockSocketAddress",
            "Captures a socket address in the vsock namespace (refused: not supported).",
            required("cid", BuiltinType.STR, "unique host identifier"),
            required("port", BuiltinType.STR, "port"));
    public static final ObjectType STRING = ObjectType.struct("String", "A fat type wrapping 'str'.",
            required("str", BuiltinType.STR, "the string"));
    public static final EnumType SOCKET_ADDRESS_TYPE = new EnumType("SocketAddressType",
            List.of("inet", "unix", "vsock", "fd"), "Available SocketAddress types.");

    private static ObjectType wrapper(String name, ObjectType inner) {
        return ObjectType.struct(name, null, required("data", inner, "the address"));
    }

    /** QEMU's SocketAddressLegacy: {type, data: {...}} (nbd-server-start's addr). */
    public static final ObjectType SOCKET_ADDRESS_LEGACY = ObjectType.union("SocketAddressLegacy",
            "Captures the address of a socket, which could also be a named file descriptor.",
            List.of(required("type", SOCKET_ADDRESS_TYPE, "transport type")), "type",
            Map.of("inet", wrapper("InetSocketAddressWrapper", INET_SOCKET_ADDRESS),
                    "unix", wrapper("UnixSocketAddressWrapper", UNIX_SOCKET_ADDRESS),
                    "vsock", wrapper("VsockSocketAddressWrapper", VSOCK_SOCKET_ADDRESS),
                    "fd", wrapper("StringWrapper", STRING)));

    /** QEMU's flat SocketAddress: {type, host, port} / {type, path} (the nbd driver's server). */
    public static final ObjectType SOCKET_ADDRESS = ObjectType.union("SocketAddress",
            "Captures the address of a socket, which could also be a named file descriptor.",
            List.of(required("type", SOCKET_ADDRESS_TYPE, "transport type")), "type",
            Map.of("inet", INET_SOCKET_ADDRESS, "unix", UNIX_SOCKET_ADDRESS, "vsock", VSOCK_SOCKET_ADDRESS,
                    "fd", STRING));

    /** {@code {"type": T, "data": {members}}}. */
    static SocketAddress fromLegacy(JsonNode legacy, String at) {
        String type = text(legacy, "type", at);
        JsonNode data = legacy.get("data");
        if (data == null || !data.isObject()) {
            throw missing(at, "data");
        }
        return members(type, data, path(at, "type"), path(at, "data"));
    }

    /** {@code {"type": T, members...}}. */
    static SocketAddress fromFlat(JsonNode flat, String at) {
        return members(text(flat, "type", at), flat, path(at, "type"), at);
    }

    private static SocketAddress members(String type, JsonNode m, String typeAt, String at) {
        return switch (type) {
            case "inet" -> {
                String host = text(m, "host", at);
                String port = text(m, "port", at);
                yield new InetSocketAddress(host, SocketAddressText.port(host, port), bool(m, "numeric"),
                        m.hasNonNull("to") ? OptionalInt.of(m.get("to").asInt()) : OptionalInt.empty(),
                        bool(m, "ipv4"), bool(m, "ipv6"), bool(m, "keep-alive"));
            }
            case "unix" -> new UnixSocketAddress(Path.of(text(m, "path", at)), bool(m, "abstract"), bool(m, "tight"));
            default -> throw SocketAddressText.unsupportedType(type, typeAt);
        };
    }

    private static String text(JsonNode o, String member, String at) {
        JsonNode v = o.get(member);
        if (v == null || v.isNull()) {
            throw missing(at, member);
        }
        return v.asText();
    }

    private static Optional<Boolean> bool(JsonNode o, String member) {
        JsonNode v = o.get(member);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(v.asBoolean());
    }

    private static QmpException missing(String at, String member) {
        return QmpException.generic("Parameter '%s' is missing", path(at, member));
    }

    private static String path(String at, String member) {
        return at == null || at.isEmpty() ? member : at + "." + member;
    }
}
