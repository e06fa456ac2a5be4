package dev.converge.daemon.cmdline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.wire.QmpJson;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.StartupCall;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.UnixSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * qemu-storage-daemon's options, translated: {@code --blockdev}, {@code --nbd-server} and
 * {@code --export} (JSON or key=value) become the QMP commands QSD runs
 * for them, in command-line order; {@code --chardev socket,...} with {@code --monitor chardev=ID}
 * becomes a QMP address. ({@code --object} is the daemon's own: objects are made before
 * anything else, since QMP's TLS listeners need them.) Collect with {@link #add}, then read {@link #calls} and
 * {@link #monitors}. Every error is an IllegalArgumentException naming the option.
 */
public final class QsdOptions {
    /** The chardev properties a QMP socket needs; QSD accepts more, converge refuses them rather than ignore them. */
    private static final Set<String> CHARDEV_KEYS = Set.of("backend", "id", "path", "host", "port", "server", "wait",
            "telnet", "nodelay");

    private final List<StartupCall> calls = new ArrayList<>();
    private final Map<String, SocketAddress> chardevs = new LinkedHashMap<>();
    private final List<String> monitorChardevs = new ArrayList<>();

    /** The options this class understands, as picocli spells them. */
    public static final Set<String> NAMES = Set.of("--blockdev", "--nbd-server", "--export", "--chardev", "--monitor");

    /** Takes one occurrence of one of {@link #NAMES}. */
    public void add(String option, String value) {
        String where = option + " " + value;
        try {
            switch (option) {
                case "--blockdev" -> calls.add(call(where, "blockdev-add", value, "driver"));
                case "--export" -> calls.add(call(where, "block-export-add", value, "type"));
                case "--nbd-server" -> calls.add(nbdServer(where, value));
                case "--chardev" -> chardev(value);
                case "--monitor" -> monitor(value);
                default -> throw new IllegalArgumentException("not a qemu-storage-daemon option");
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }

    public List<StartupCall> calls() {
        return List.copyOf(calls);
    }

    /** The QMP addresses of the --monitor options, each through its --chardev. */
    public List<SocketAddress> monitors() {
        List<SocketAddress> out = new ArrayList<>();
        for (String id : monitorChardevs) {
            SocketAddress a = chardevs.get(id);
            if (a == null) {
                throw new IllegalArgumentException("--monitor chardev=" + id + ": chardev '" + id + "' not found");
            }
            out.add(a);
        }
        return out;
    }

    private static StartupCall call(String where, String command, String value, String impliedKey) {
        if (value.stripLeading().startsWith("{")) {
            return new StartupCall(where, command, jsonObject(value), false);
        }
        return new StartupCall(where, command, Keyval.parse(value, impliedKey), true);
    }

    private static ObjectNode jsonObject(String value) {
        JsonNode n;
        try {
            n = QmpJson.parse(value);
        } catch (QmpJson.ParseException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.detail());
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("expected a JSON object");
        }
        return (ObjectNode) n;
    }

    /**
     * QSD's NbdServerOptions take a flat SocketAddress ({@code addr.type=unix,addr.path=P});
     * nbd-server-start takes the legacy form with {@code data}: the members move under it.
     */
    private static StartupCall nbdServer(String where, String value) {
        boolean keyval = !value.stripLeading().startsWith("{");
        ObjectNode args = keyval ? Keyval.parse(value, null) : jsonObject(value);
        JsonNode addr = args.get("addr");
        if (addr == null || !addr.isObject() || !addr.path("type").isTextual()) {
            throw new IllegalArgumentException("needs addr.type=inet|unix and its address");
        }
        if (!addr.has("data")) {
            ObjectNode legacy = QmpJson.object();
            ObjectNode flat = ((ObjectNode) addr).deepCopy();
            legacy.set("type", flat.remove("type"));
            legacy.set("data", flat);
            args.set("addr", legacy);
        }
        return new StartupCall(where, "nbd-server-start", args, keyval);
    }

    private void chardev(String value) {
        ObjectNode o = Keyval.parse(value, "backend");
        for (var it = o.fieldNames(); it.hasNext();) {
            String k = it.next();
            if (!CHARDEV_KEYS.contains(k)) {
                throw new IllegalArgumentException("'" + k + "' is not supported (converge serves QMP on socket "
                        + "chardevs: path=PATH or host=HOST,port=PORT, server=on)");
            }
        }
        if (!o.path("backend").asText().equals("socket")) {
            throw new IllegalArgumentException("only the socket backend is supported");
        }
        String id = o.path("id").asText("");
        if (id.isEmpty()) {
            throw new IllegalArgumentException("needs id=NAME");
        }
        if (!bool(o.path("server").asText("off"))) {
            throw new IllegalArgumentException("needs server=on (converge does not connect out)");
        }
        SocketAddress address;
        if (o.has("path")) {
            address = new UnixSocketAddress(Path.of(o.get("path").asText()));
        } else if (o.has("host") || o.has("port")) {
            try {
                address = SocketAddress.parse("tcp:" + bracket(o.path("host").asText("0.0.0.0")) + ":" + o.path("port").asText(""));
            } catch (QmpException e) {
                throw new IllegalArgumentException(e.getMessage(), e);
            }
        } else {
            throw new IllegalArgumentException("needs path=PATH or host=HOST,port=PORT");
        }
        if (chardevs.putIfAbsent(id, address) != null) {
            throw new IllegalArgumentException("duplicate chardev id '" + id + "'");
        }
    }

    private void monitor(String value) {
        ObjectNode o = Keyval.parse(value, "chardev");
        String mode = o.path("mode").asText("control");
        if (!mode.equals("control")) {
            throw new IllegalArgumentException("only mode=control (QMP) is supported");
        }
        for (var it = o.fieldNames(); it.hasNext();) {
            String k = it.next();
            if (!Set.of("chardev", "mode", "pretty", "id").contains(k)) {
                throw new IllegalArgumentException("'" + k + "' is not supported");
            }
        }
        String id = o.path("chardev").asText("");
        if (id.isEmpty()) {
            throw new IllegalArgumentException("needs chardev=ID");
        }
        monitorChardevs.add(id);
    }

    private static boolean bool(String s) {
        return switch (s) {
            case "on", "yes", "true", "y" -> true;
            case "off", "no", "false", "n" -> false;
            default -> throw new IllegalArgumentException("'" + s + "' is not on or off");
        };
    }

    private static String bracket(String host) {
        return host.contains(":") ? "[" + host + "]" : host;
    }
}
