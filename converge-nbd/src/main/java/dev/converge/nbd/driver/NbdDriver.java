package dev.converge.nbd.driver;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockNode;
import dev.converge.block.NodeOptions;
import dev.converge.block.driver.BlockDriverPlugin;
import dev.converge.nbd.client.NbdClient;
import dev.converge.nbd.client.NbdClientConfig;
import dev.converge.nbd.transport.NbdTlsConfig;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.objects.UserObject;
import dev.converge.qmp.objects.UserObjects;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.SocketAddressQmp;
import java.io.IOException;
import java.time.Duration;

/**
 * blockdev-add's {@code nbd} driver, with QEMU's JSON (BlockdevOptionsNbd):
 * {@code {"driver": "nbd", "server": {"type": "inet", "host": H, "port": P} | {"type": "unix", "path": S},
 * "export": NAME, "tls-creds": ID, "tls-hostname": NAME, "reconnect-delay": SECONDS}}.
 * <p>
 * {@link #OPTIONS} is the schema variant for BlockSchema's union; {@link #open} makes the node;
 * {@link #plugin} hands both to converge-block: {@code blockQmp.addDriver(registry, NbdDriver.plugin(objects))}.
 */
public final class NbdDriver {
    private NbdDriver() {
    }

    /** The variant members of the nbd driver. */
    public static final ObjectType OPTIONS = ObjectType.struct("BlockdevOptionsNbd",
            "Driver specific block device options for NBD.",
            required("server", SocketAddressQmp.SOCKET_ADDRESS, "NBD server address"),
            optional("export", BuiltinType.STR, "export name; default the empty (default) export"),
            optional("tls-creds", BuiltinType.STR, "id of a tls-creds-x509 object with endpoint client"),
            optional("tls-hostname", BuiltinType.STR,
                    "the name the server certificate must carry; default the server's host"),
            optional("x-dirty-bitmap", BuiltinType.STR, "refused: not supported"),
            optional("reconnect-delay", BuiltinType.UINT32, "seconds requests wait for a reconnect after the "
                    + "connection broke before they fail; default 0"),
            optional("open-timeout", BuiltinType.UINT32, "accepted; the first connection is tried once"));

    /**
     * The nbd driver for blockdev-add; {@code objects} resolves tls-creds. Its preparer connects
     * and negotiates (off the main loop, bounded by the client's connect timeout), its opener
     * makes the node from that connection.
     */
    public static BlockDriverPlugin plugin(UserObjects objects) {
        BlockDriverPlugin.Opener opener = new BlockDriverPlugin.Opener() {
            @Override
            public BlockNode open(String name, NodeOptions nodeOptions, ObjectNode options) {
                return NbdDriver.open(name, nodeOptions, options, objects);
            }

            @Override
            public BlockNode open(String name, NodeOptions nodeOptions, ObjectNode options, AutoCloseable prepared) {
                return prepared instanceof NbdClient client
                        ? NbdDriver.open(name, nodeOptions, config(options, objects), client)
                        : open(name, nodeOptions, options);
            }
        };
        return new BlockDriverPlugin("nbd", OPTIONS, opener, options -> connect(config(options, objects)));
    }

    /** The client configuration {@code options} (validated against {@link #OPTIONS}) describe. */
    public static NbdClientConfig config(JsonNode options, UserObjects objects) {
        if (options.has("x-dirty-bitmap")) {
            throw QmpException.generic("Parameter 'x-dirty-bitmap' is not supported by converge");
        }
        SocketAddress server = SocketAddress.fromQmp(options.get("server"), "server");
        java.net.SocketAddress address;
        try {
            address = server.resolve();
        } catch (IOException e) {
            throw QmpException.generic("%s", e.getMessage());
        }
        NbdClientConfig c = NbdClientConfig.of(address, options.path("export").asText(""))
                .withReconnectDelay(Duration.ofSeconds(options.path("reconnect-delay").asLong(0)));
        if (options.has("tls-creds")) {
            String id = options.get("tls-creds").asText();
            UserObject.TlsCredsX509 creds = objects.tlsCreds(id);
            if (creds.endpoint() != UserObject.Endpoint.CLIENT) {
                throw QmpException.generic("Expecting TLS credentials with a client endpoint");
            }
            try {
                c = c.withTls(dev.converge.qmp.tls.TlsContexts.fromDirectory(creds.dir(), dev.converge.qmp.tls.TlsContexts.Endpoint.CLIENT),
                        options.has("tls-hostname") ? options.get("tls-hostname").asText() : null);
            } catch (IOException e) {
                throw QmpException.generic("Unable to load TLS credentials '%s': %s", id, e.getMessage());
            }
        } else if (options.has("tls-hostname")) {
            throw QmpException.generic("tls-hostname is set without tls-creds");
        }
        return c;
    }

    /** Connects and makes the node; QEMU's style of error when the server cannot be reached. */
    public static NbdNode open(String nodeName, NodeOptions nodeOptions, JsonNode options, UserObjects objects) {
        NbdClientConfig c = config(options, objects);
        return open(nodeName, nodeOptions, c, connect(c));
    }

    /** Connects and negotiates (blocks up to the config's connect timeout); QEMU's style of error. */
    static NbdClient connect(NbdClientConfig c) {
        try {
            return new NbdClient(c);
        } catch (IOException e) {
            throw QmpException.generic("Failed to connect to '%s': %s", describe(c.address()), e.getMessage());
        }
    }

    /** Makes the node over {@code client}, which it takes over (closes it when it refuses). */
    private static NbdNode open(String nodeName, NodeOptions nodeOptions, NbdClientConfig c, NbdClient client) {
        if (!nodeOptions.readOnly() && client.readOnly()) {
            client.close();
            throw QmpException.generic("Could not open '%s': Read-only export; use read-only=on", uri(c));
        }
        return new NbdNode(nodeName, nodeOptions, client, uri(c));
    }

    private static String describe(java.net.SocketAddress a) {
        return a instanceof java.net.InetSocketAddress i ? i.getHostString() + ":" + i.getPort() : a.toString();
    }

    /** The filename QEMU shows for the node: nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH. */
    static String uri(NbdClientConfig c) {
        return c.address() instanceof java.net.InetSocketAddress i
                ? "nbd://" + i.getHostString() + ":" + i.getPort() + "/" + c.export()
                : "nbd+unix:///" + c.export() + "?socket=" + c.address();
    }
}
