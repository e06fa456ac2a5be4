package dev.converge.qmp.sockets;

import dev.converge.qmp.QmpException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The string forms of a {@link SocketAddress}, read as QEMU's socket_parse and inet_parse read
 * them (util/qemu-sockets.c), with QEMU's error texts:
 * <ul>
 * <li>{@code unix:PATH}; an empty path is "invalid Unix socket address";
 * <li>{@code tcp:HOST:PORT} or plain {@code HOST:PORT}: the host runs to the first colon, an IPv6
 * literal goes in brackets ({@code [::1]:4444}), an empty host ({@code :4444}) is every address;
 * <li>options after the port, as QEMU: {@code ,to=PORT}, {@code ,ipv4[=on|off]},
 * {@code ,ipv6[=on|off]}, {@code ,keep-alive[=on|off]};
 * <li>{@code vsock:} and {@code fd:} are QEMU's other kinds, refused by name.
 * </ul>
 * An IPv6 host without brackets is refused with a hint rather than misread as host and port.
 * A pure function: no resolution here (see {@link SocketAddress#resolve()}).
 */
public final class SocketAddressText {
    private SocketAddressText() {
    }

    /**
     * Parses {@code text}.
     *
     * @throws QmpException (GenericError) with QEMU's text where QEMU has one
     */
    public static SocketAddress parse(String text) {
        if (text.startsWith("unix:")) {
            String path = text.substring("unix:".length());
            if (path.isEmpty()) {
                throw QmpException.generic("invalid Unix socket address");
            }
            return new UnixSocketAddress(Path.of(path));
        }
        for (String other : new String[] {"vsock", "fd"}) {
            if (text.startsWith(other + ":")) {
                throw unsupportedType(other, null);
            }
        }
        return inet(text.startsWith("tcp:") ? text.substring("tcp:".length()) : text);
    }

    /** "'vsock' sockets are not supported by converge (use inet or unix)", under {@code at} when given. */
    static QmpException unsupportedType(String type, String at) {
        String what = "'" + type + "' sockets are not supported by converge (use inet or unix)";
        return QmpException.generic(at == null ? what : "Parameter '" + at + "': " + what);
    }

    /** QEMU's inet_parse: HOST:PORT then options. */
    static InetSocketAddress inet(String str) {
        String host;
        String rest;
        if (str.startsWith("[")) {
            int close = str.indexOf("]:");
            if (close < 2 || close + 2 >= str.length() || str.charAt(close + 2) == ',') {
                throw QmpException.generic("error parsing IPv6 address '%s'", str);
            }
            host = str.substring(1, close);
            rest = str.substring(close + 2);
        } else if (str.startsWith(":")) {
            if (str.length() == 1 || str.charAt(1) == ',') {
                throw QmpException.generic("error parsing port in address '%s'", str);
            }
            host = "";
            rest = str.substring(1);
        } else {
            int colon = str.indexOf(':');
            if (colon <= 0 || colon + 1 >= str.length() || str.charAt(colon + 1) == ','
                    || str.substring(0, colon).contains(",")) {
                throw QmpException.generic("error parsing address '%s'", str);
            }
            host = str.substring(0, colon);
            rest = str.substring(colon + 1);
        }
        int comma = rest.indexOf(',');
        String port = comma < 0 ? rest : rest.substring(0, comma);
        String options = comma < 0 ? "" : rest.substring(comma);
        if (port.contains(":")) {
            String hostPort = str.substring(0, str.length() - options.length());
            int last = hostPort.lastIndexOf(':');
            throw QmpException.generic("error parsing address '%s': put an IPv6 host in brackets, as [%s]:%s", str,
                    hostPort.substring(0, last), hostPort.substring(last + 1));
        }
        return new InetSocketAddress(host, port(host, port), Optional.empty(), to(options), flag("ipv4", options),
                flag("ipv6", options), flag("keep-alive", options));
    }

    /**
     * A port given as text (QMP has it as a string). QEMU resolves the text as a service; converge
     * takes numbers only, and its refusal reads as QEMU's resolver's.
     */
    static int port(String host, String port) {
        if (port.isEmpty() || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw QmpException.generic("address resolution failed for %s:%s: Servname not supported for ai_socktype",
                    host, port);
        }
        if (port.length() > 5 || Integer.parseInt(port) > 65535) {
            throw QmpException.generic("port %s out of range", port);
        }
        return Integer.parseInt(port);
    }

    private static OptionalInt to(String options) {
        int at = options.indexOf(",to=");
        if (at < 0) {
            return OptionalInt.empty();
        }
        String value = options.substring(at + ",to=".length());
        int end = value.indexOf(',');
        value = end < 0 ? value : value.substring(0, end);
        if (value.isEmpty() || value.length() > 5 || !value.chars().allMatch(c -> c >= '0' && c <= '9')
                || Integer.parseInt(value) > 65535) {
            throw QmpException.generic("error parsing to= argument");
        }
        return OptionalInt.of(Integer.parseInt(value));
    }

    /** QEMU's inet_parse_flag: {@code ,NAME}, {@code ,NAME=on} or {@code ,NAME=off}. */
    private static Optional<Boolean> flag(String name, String options) {
        int at = options.indexOf("," + name);
        if (at < 0) {
            return Optional.empty();
        }
        String value = options.substring(at + name.length() + 1);
        int end = value.indexOf(',');
        if (end >= 0 && end + 1 < value.length() && value.charAt(end + 1) == ',') {
            throw QmpException.generic("error parsing '%s' flag '%s'", name, value);
        }
        String v = end < 0 ? value : value.substring(0, end);
        return switch (v) {
            case "", "=on" -> Optional.of(true);
            case "=off" -> Optional.of(false);
            default -> throw QmpException.generic("error parsing '%s' flag '%s'", name, value);
        };
    }
}
