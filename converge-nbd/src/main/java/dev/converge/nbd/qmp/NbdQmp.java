package dev.converge.nbd.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.nbd.export.BlockNodeExportBackend;
import dev.converge.nbd.server.NbdExport;
import dev.converge.nbd.server.NbdServer;
import dev.converge.nbd.server.NbdServerConfig;
import dev.converge.nbd.transport.NbdTlsConfig;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.qmp.Args;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.objects.UserObject;
import dev.converge.qmp.objects.UserObjects;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.sockets.InetSocketAddress;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.SocketAddressQmp;
import dev.converge.qmp.sockets.UnixSocketAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NBD server's QMP commands as QEMU has them (blockdev-nbd.c, block/export/export.c):
 * nbd-server-start, nbd-server-stop, block-export-add, nbd-server-add (legacy), block-export-del,
 * query-block-exports and the event BLOCK_EXPORT_DELETED. Error texts are QEMU 7.2's.
 *
 * <p>An export is a user of its node ({@link BlockGraph#attachBackend}): writes through it take the
 * node's write path, it follows the node when a mirror pivots, and blockdev-del refuses the node
 * while it is exported.
 *
 * <p>Deletion: mode=safe refuses while clients are connected; mode=hard closes them. The export
 * leaves the server at once (no new client sees it), shows {@code shutting-down: true} until its
 * last connection has ended, and then is gone and BLOCK_EXPORT_DELETED is emitted. With no
 * connection, that happens before the command's reply, as in QEMU.
 *
 * <p>Threads: every handler and every field here belongs to the main loop.
 */
public final class NbdQmp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdQmp.class);
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final BlockGraph graph;
    private final EventSink events;
    private final UserObjects objects;
    /** The running server, or null. Main loop. */
    private NbdServer server;
    /** Exports by id in creation order. Main loop. */
    private final Map<String, ExportEntry> exports = new LinkedHashMap<>();

    /** One block export; mutable only on the main loop. */
    private static final class ExportEntry {
        final String id;
        final NbdExport export;
        final BlockBackend backend;
        final List<DirtyBitmap> bitmaps;
        /** Set once by deletion; the entry then waits for its connections to end. Main loop. */
        boolean shuttingDown;

        ExportEntry(String id, NbdExport export, BlockBackend backend, List<DirtyBitmap> bitmaps) {
            this.id = id;
            this.export = export;
            this.backend = backend;
            this.bitmaps = bitmaps;
        }
    }

    public NbdQmp(BlockGraph graph, EventSink events, UserObjects objects) {
        this.graph = Objects.requireNonNull(graph);
        this.events = Objects.requireNonNull(events);
        this.objects = Objects.requireNonNull(objects);
    }

    /**
     * The daemon's wiring: makes the commands' state and registers them; {@code objects} (whose
     * object-add/object-del the daemon registers) resolves tls-creds and tls-authz.
     */
    public static NbdQmp register(QmpRegistry registry, EventSink events, BlockGraph graph, UserObjects objects) {
        NbdQmp q = new NbdQmp(graph, events, objects);
        q.register(registry);
        return q;
    }

    /** Registers the NBD server commands and BLOCK_EXPORT_DELETED (object-add is {@link UserObjects}'). */
    public void register(QmpRegistry registry) {
        registry.register(NbdSchema.BLOCK_EXPORT_DELETED);
        registry.register(new CommandSpec("nbd-server-start", CommandSpec.args("nbd-server-start",
                required("addr", SocketAddressQmp.SOCKET_ADDRESS_LEGACY, "address on which the server will listen"),
                optional("tls-creds", BuiltinType.STR, "id of a tls-creds-x509 object (endpoint server); "
                        + "clients must then use TLS"),
                optional("tls-authz", BuiltinType.STR, "id of an authz-simple or authz-list object that "
                        + "checks the client certificate's distinguished name"),
                optional("handshake-max-seconds", BuiltinType.UINT32, "a client that has not completed the "
                        + "handshake by then is disconnected; 0 for no limit; default 10"),
                optional("max-connections", BuiltinType.UINT32, "connections at once (handshaking ones included), "
                        + "0 for unlimited; at the limit new clients wait in the listen backlog; 1 also stops "
                        + "advertising multi-conn; default 100")),
                CommandSpec.EMPTY, "Starts an NBD server listening on the given host and port. Errors: NBD server "
                        + "already running, No TLS credentials with id 'X', Failed to bind socket to ADDR: REASON.",
                "0.1", this::serverStart));
        registry.register(new CommandSpec("nbd-server-stop", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Stops the NBD server: closes every client and deletes every NBD export (BLOCK_EXPORT_DELETED "
                        + "for each). Error: NBD server not running.",
                "0.1", args -> {
                    serverStop();
                    return null;
                }));
        registry.register(new CommandSpec("block-export-add", NbdSchema.BLOCK_EXPORT_OPTIONS, CommandSpec.EMPTY,
                "Creates a new block export of a node. Errors as QEMU: Block export id 'X' is already in use, "
                        + "Cannot find device='' nor node-name='N', NBD server not running, NBD server already has "
                        + "export named 'X', Bitmap 'B' is not found, Cannot export read-only node as writable.",
                "0.1", args -> {
                    exportAdd(ExportRequest.of(args));
                    return null;
                }));
        registry.register(new CommandSpec("nbd-server-add", CommandSpec.args("nbd-server-add",
                required("device", BuiltinType.STR, "the device (backend) or node name to export"),
                optional("name", BuiltinType.STR, "export name and export id; default the device"),
                optional("description", BuiltinType.STR, "free-form description of the export"),
                optional("writable", BuiltinType.BOOL, "whether clients may write; default false"),
                optional("bitmap", BuiltinType.STR, "a dirty bitmap of the node to offer")),
                CommandSpec.EMPTY, "Exports a device to the NBD server (deprecated in QEMU in favour of "
                        + "block-export-add; the export id is the export name).",
                "0.1", this::legacyAdd));
        registry.register(new CommandSpec("block-export-del", CommandSpec.args("block-export-del",
                required("id", BuiltinType.STR, "block export id"),
                optional("mode", NbdSchema.REMOVE_MODE, "safe: refuse while clients are connected; hard: "
                        + "disconnect them; default safe")),
                CommandSpec.EMPTY, "Requests a block export to be removed; BLOCK_EXPORT_DELETED tells when it is "
                        + "gone. Errors: Export 'X' is not found, export 'X' still in use.",
                "0.1", args -> {
                    exportDel(args.str("id"), args.str("mode", "safe").equals("hard"));
                    return null;
                }));
        registry.register(new CommandSpec("query-block-exports", CommandSpec.EMPTY,
                new ArrayType(NbdSchema.BLOCK_EXPORT_INFO), "Lists the block exports, newest first.", "0.1",
                args -> queryExports()));
    }

    // ---------------------------------------------------------------- server start and stop

    private JsonNode serverStart(Args args) {
        if (server != null) {
            throw QmpException.generic("NBD server already running");
        }
        SocketAddress addr = SocketAddress.fromQmpLegacy(args.raw("addr"), "addr");
        addr.checkListenable();
        java.net.SocketAddress address;
        try {
            address = addr.resolve();
        } catch (IOException e) {
            throw QmpException.generic("%s", e.getMessage());
        }
        NbdTlsConfig tls = null;
        if (args.has("tls-creds")) {
            tls = serverTls(args.str("tls-creds"), args.optStr("tls-authz").orElse(null));
        } else if (args.has("tls-authz")) {
            throw QmpException.generic("tls-authz is not supported without tls-creds");
        }
        long max = args.integer("max-connections", NbdServerConfig.DEFAULT_MAX_CONNECTIONS);
        long handshake = args.integer("handshake-max-seconds",
                NbdServerConfig.DEFAULT_HANDSHAKE_TIMEOUT.toSeconds());
        NbdServerConfig config = new NbdServerConfig(address, max == 0 ? Integer.MAX_VALUE : (int) Math.min(max,
                Integer.MAX_VALUE), NbdServerConfig.DEFAULT_MAX_IN_FLIGHT, tls)
                .withHandshakeTimeout(java.time.Duration.ofSeconds(handshake));
        try {
            server = NbdServer.start(config);
        } catch (IOException e) {
            String reason = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
            throw QmpException.generic("Failed to bind socket to %s: %s", describe(addr), reason);
        }
        return null;
    }

    private NbdTlsConfig serverTls(String credsId, String authzId) {
        UserObject.TlsCredsX509 creds = objects.tlsCreds(credsId);
        if (creds.endpoint() != UserObject.Endpoint.SERVER) {
            throw QmpException.generic("Expecting TLS credentials with a server endpoint");
        }
        if (authzId != null && !creds.verifyPeer()) {
            throw QmpException.generic("tls-authz needs TLS credentials with verify-peer=on");
        }
        try {
            NbdTlsConfig tls = new NbdTlsConfig(dev.converge.qmp.tls.TlsContexts.fromDirectory(creds.dir(), dev.converge.qmp.tls.TlsContexts.Endpoint.SERVER),
                    creds.verifyPeer(), Set.of(), NbdTlsConfig.defaultProtocols(creds.verifyPeer()));
            // looked up per connection, as QEMU: the authz object may be added or replaced later
            return authzId == null ? tls : tls.withAuthz(subject -> objects.authorizes(authzId, subject));
        } catch (IOException e) {
            throw QmpException.generic("Unable to load TLS credentials '%s': %s", credsId, e.getMessage());
        }
    }

    /** How a bind failure names the address: the socket path, or HOST:PORT. */
    private static String describe(SocketAddress a) {
        return switch (a) {
            case UnixSocketAddress u -> u.path().toString();
            case InetSocketAddress i -> i.hostPort();
        };
    }

    /** The running server's address (for tests and the daemon's logs); null when stopped. Main loop. */
    public java.net.SocketAddress serverAddress() {
        return server == null ? null : server.localAddress();
    }

    private void serverStop() {
        if (server == null) {
            throw QmpException.generic("NBD server not running");
        }
        List<ExportEntry> all = new ArrayList<>(exports.values());
        for (ExportEntry e : all) {
            server.removeExport(e.export.name());
            e.shuttingDown = true;
        }
        NbdServer s = server;
        server = null;
        s.close(); // joins every connection: the exports have no users after this
        for (ExportEntry e : all) {
            finish(e);
        }
    }

    /** Stops the server if it runs (daemon shutdown). Main loop. */
    @Override
    public void close() {
        if (server != null) {
            serverStop();
        }
    }

    // ---------------------------------------------------------------- exports

    /** What block-export-add (and nbd-server-add) asks for. */
    record ExportRequest(String id, String nodeName, BlockNode node, String name, String description,
                         boolean writable, boolean writethrough, List<BitmapRef> bitmaps, boolean allocationDepth,
                         String iothread, String multiConn) {
        static ExportRequest of(Args a) {
            List<BitmapRef> bitmaps = new ArrayList<>();
            JsonNode b = a.raw("bitmaps");
            if (b != null) {
                b.forEach(n -> bitmaps.add(n.isTextual() ? new BitmapRef(null, n.asText())
                        : new BitmapRef(n.get("node").asText(), n.get("name").asText())));
            }
            return new ExportRequest(a.str("id"), a.str("node-name"), null, a.optStr("name").orElse(null),
                    a.str("description", ""), a.bool("writable", false), a.bool("writethrough", false), bitmaps,
                    a.bool("allocation-depth", false), a.optStr("iothread").orElse(null), a.str("multi-conn", "auto"));
        }
    }

    /** A bitmap to export: by name on the exported node or below it (node null), or on a named node. */
    record BitmapRef(String node, String name) {
    }

    private JsonNode legacyAdd(Args a) {
        String device = a.str("device");
        BlockNode node = graph.lookup(device); // QEMU's text names device= and node-name=
        String name = a.optStr("name").orElse(device);
        exportAdd(new ExportRequest(name, node.nodeName(), node, name, a.str("description", ""),
                a.bool("writable", false), false,
                a.optStr("bitmap").map(b -> List.of(new BitmapRef(null, b))).orElse(List.of()), false, null,
                "auto"));
        return null;
    }

    /** block-export-add, with QEMU's checks in QEMU's order; changes nothing when it fails. */
    void exportAdd(ExportRequest r) {
        if (!UserObjects.idWellFormed(r.id())) {
            throw QmpException.generic("Invalid block export id");
        }
        if (exports.containsKey(r.id())) {
            throw QmpException.generic("Block export id '%s' is already in use", r.id());
        }
        BlockNode node = r.node() != null ? r.node() : graph.find(r.nodeName()).orElseThrow(
                () -> QmpException.generic("Cannot find device='' nor node-name='%s'", r.nodeName()));
        if (r.iothread() != null) {
            throw QmpException.generic("Parameter 'iothread' is not supported by converge");
        }
        if (r.writable() && node.readOnly()) {
            throw QmpException.generic("Cannot export read-only node as writable");
        }
        if (server == null) {
            throw QmpException.generic("NBD server not running");
        }
        String name = r.name() != null ? r.name() : node.nodeName();
        if (utf8Length(name) > NbdProtocol.MAX_STRING_SIZE) {
            throw QmpException.generic("export name '%s' too long", name);
        }
        if (utf8Length(r.description()) > NbdProtocol.MAX_STRING_SIZE) {
            throw QmpException.generic("description '%s' too long", r.description());
        }
        if (server.exports().stream().anyMatch(e -> e.name().equals(name))) {
            throw QmpException.generic("NBD server already has export named '%s'", name);
        }
        if (r.allocationDepth()) {
            throw QmpException.generic("Parameter 'allocation-depth' is not supported by converge");
        }
        Map<String, DirtyBitmap> bitmaps = new LinkedHashMap<>();
        for (BitmapRef ref : r.bitmaps()) {
            DirtyBitmap bm = exportedBitmap(node, ref);
            try {
                bm.check(DirtyBitmap.Use.ALLOW_READONLY);
            } catch (dev.converge.block.bitmap.BitmapException e) {
                throw QmpException.generic("%s", e.getMessage());
            }
            bitmaps.put(bm.name(), bm);
        }
        long size;
        try {
            size = node.size();
        } catch (BlockIOException e) {
            throw QmpException.generic("Failed to determine the NBD export's length: %s", e.getMessage());
        }
        BlockBackend backend = graph.attachBackend(null, node);
        NbdExport export;
        try {
            export = new NbdExport(name, r.description(), r.writable(),
                    new BlockNodeExportBackend(backend, size, !r.writable(), r.writethrough(), bitmaps),
                    List.copyOf(bitmaps.keySet()), advertiseMultiConn(r.multiConn()));
            server.addExport(export);
        } catch (RuntimeException e) {
            graph.detachBackend(backend);
            throw e;
        }
        bitmaps.values().forEach(b -> b.setBusy(true));
        exports.put(r.id(), new ExportEntry(r.id(), export, backend, List.copyOf(bitmaps.values())));
        LOG.info("block export '{}': node '{}' as NBD export '{}'{}", r.id(), node.nodeName(), name,
                r.writable() ? " (writable)" : "");
    }

    /**
     * QEMU's lookup of an exported bitmap: by name on the node, then down its filter or backing
     * chain ("Bitmap 'B' is not found"); as {node, name} on that node ("Node 'N' not found",
     * "Dirty bitmap 'B' not found").
     */
    private DirtyBitmap exportedBitmap(BlockNode node, BitmapRef ref) {
        if (ref.node() == null) {
            for (BlockNode n = node; n != null; n = filteredOrBacking(n)) {
                var bm = n.dirtyBitmap(ref.name());
                if (bm.isPresent()) {
                    return bm.get();
                }
            }
            throw QmpException.generic("Bitmap '%s' is not found", ref.name());
        }
        BlockNode owner = graph.backends().stream().filter(b -> ref.node().equals(b.name())).map(BlockBackend::node)
                .findFirst().or(() -> graph.find(ref.node()))
                .orElseThrow(() -> QmpException.generic("Node '%s' not found", ref.node()));
        return owner.dirtyBitmap(ref.name())
                .orElseThrow(() -> QmpException.generic("Dirty bitmap '%s' not found", ref.name()));
    }

    /** QEMU's bdrv_filter_or_cow_bs: the backing node, or a filter's (raw, blkdebug) only child. */
    private static BlockNode filteredOrBacking(BlockNode n) {
        var backing = n.child("backing");
        if (backing.isPresent()) {
            return backing.get().node();
        }
        boolean filter = n.driverName().equals("raw") || n.driverName().equals("blkdebug");
        return filter && n.children().size() == 1 ? n.children().getFirst().node() : null;
    }

    /**
     * QEMU's rule with one difference: multi-conn is never advertised when max-connections is 1, "on"
     * and "off" set it, and "auto" advertises it for writable exports too (QEMU: read-only only). Every
     * connection writes through the node's one write path and FLUSH flushes the node, so a write one
     * connection saw completed is covered by a flush on any other: the consistency CAN_MULTI_CONN
     * promises (the improvement QEMU's documentation anticipates for cache-consistent drivers).
     */
    private boolean advertiseMultiConn(String mode) {
        return server.maxConnections() != 1 && !mode.equals("off");
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** block-export-del. */
    void exportDel(String id, boolean hard) {
        ExportEntry e = exports.get(id);
        if (e == null) {
            throw QmpException.generic("Export '%s' is not found", id);
        }
        if (e.shuttingDown) {
            throw QmpException.generic("Export '%s' is already shutting down", id);
        }
        if (!hard && server.connectionCount(e.export) > 0) {
            throw QmpException.generic("export '%s' still in use", id);
        }
        server.removeExport(e.export.name());
        e.shuttingDown = true;
        if (hard) {
            server.closeConnections(e.export);
        }
        CompletableFuture<Void> unused = server.whenUnused(e.export);
        if (unused.isDone()) {
            finish(e); // before the reply, as QEMU when no client holds the export
        } else {
            unused.thenRun(() -> graph.mainLoop().execute(() -> finish(e)));
        }
    }

    /** The export has no connection left: release the node and the bitmaps, and tell. Main loop. */
    private void finish(ExportEntry e) {
        if (exports.get(e.id) != e) {
            return; // already finished (nbd-server-stop raced a hard delete)
        }
        exports.remove(e.id);
        graph.detachBackend(e.backend);
        e.bitmaps.forEach(b -> b.setBusy(false));
        ObjectNode data = JSON.objectNode();
        data.put("id", e.id);
        events.emit(NbdSchema.BLOCK_EXPORT_DELETED.name(), data);
        LOG.info("block export '{}' deleted", e.id);
    }

    private JsonNode queryExports() {
        ArrayNode out = JSON.arrayNode();
        for (ExportEntry e : exports.values().stream().toList().reversed()) {
            ObjectNode o = out.addObject();
            o.put("type", "nbd");
            o.put("id", e.id);
            o.put("node-name", e.backend.node().nodeName());
            o.put("shutting-down", e.shuttingDown);
        }
        return out;
    }
}
