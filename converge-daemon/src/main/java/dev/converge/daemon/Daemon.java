package dev.converge.daemon;

import dev.converge.block.BlockGraph;
import dev.converge.block.qmp.ImageJobsQmp;
import dev.converge.block.qmp.BackupQmp;
import dev.converge.block.qmp.MirrorQmp;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.job.JobEngine;
import dev.converge.job.qmp.JobQmp;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.migration.qmp.MigrationModule;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.cmdline.KeyvalTyping;
import dev.converge.qmp.Args;
import dev.converge.qmp.EventSink;
import dev.converge.nbd.driver.NbdDriver;
import dev.converge.nbd.qmp.NbdQmp;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.SchemaValidator;
import dev.converge.qmp.objects.UserObjects;
import dev.converge.qmp.server.QmpCoreCommands;
import dev.converge.qmp.server.QmpServer;
import dev.converge.qmp.server.ServerIdentity;
import dev.converge.qmp.sockets.SocketAddress;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One converge daemon: wires the modules together and serves QMP. Each module registers its own
 * commands; this class only builds the objects and decides the order of start and stop.
 * <p>
 * Lifecycle: {@link #start} listens first on the QMP addresses without TLS, so a client gets its
 * greeting while the modules are still being built (from the moment the sockets listen); the
 * modules, the start-up objects, block nodes and commands, and the machine (migration module) are
 * built by the first task of the main loop,
 * which runs every QMP command, so the first command a client sends (qmp_capabilities included)
 * is answered once all of that is done, exactly as if it had been done before listening. A QMP
 * address with tls-creds listens after that (its credentials are a start-up object).
 * {@link #shutdown}
 * (from {@code quit}, SIGTERM or a test) closes the QMP server (socket files removed) and the
 * main loop; {@link #awaitShutdown} returns once that is done.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final MainLoop mainLoop = new MainLoop();
    private final QmpRegistry registry = new QmpRegistry();
    private final QmpServer server;
    private final EventSink events;
    // The modules: written once by registerModules on the main loop, which runs before any QMP
    // command; other threads read them only after start() (or qmpReference) waited for that task.
    private JobEngine jobs;
    private JobQmp jobQmp;
    private BlockGraph blockGraph;
    private BlockQmp blockQmp;
    private TransactionQmp transactions;
    private NbdQmp nbd;
    /** tls-creds-x509 and authz objects (object-add, --object); NBD's TLS and QMP's. */
    private final UserObjects objects = new UserObjects();
    /** Installed by {@link #start} once the start-up block nodes are open (a disk=NODE needs them). */
    private volatile MigrationModule migration;
    private final List<SocketAddress> listening = new ArrayList<>();
    private final AtomicBoolean shuttingDown = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);

    /** What the greeting needs: the server (not yet listening), its main loop and its (empty) registry. */
    private Daemon() {
        server = new QmpServer(registry, mainLoop, ServerIdentity.CONVERGE);
        events = new EventLog(server); // every module's events: logged, then sent
    }

    /** Builds every module and registers its commands, in dependency order. Main loop, before any command. */
    private Void registerModules() {
        QmpCoreCommands.register(registry, ServerIdentity.CONVERGE);
        DaemonQmp.register(registry, server, this::shutdown);

        jobs = new JobEngine(mainLoop);
        jobQmp = new JobQmp(jobs, registry, events);
        jobQmp.register();

        blockGraph = new BlockGraph(mainLoop);
        blockQmp = new BlockQmp(blockGraph);
        blockQmp.register(registry);
        MirrorQmp mirrors = MirrorQmp.register(registry, events, jobs, jobQmp, blockGraph);
        BackupQmp backups = BackupQmp.register(registry, jobs, jobQmp, blockGraph, blockQmp, mirrors);

        transactions = new TransactionQmp(registry);
        transactions.register();
        mirrors.registerTransactionAction(transactions);
        blockQmp.bitmaps().registerTransactionActions(transactions);
        backups.registerTransactionAction(transactions);

        objects.register(registry); // object-add, object-del
        nbd = NbdQmp.register(registry, events, blockGraph, objects);
        blockQmp.addDriver(registry, NbdDriver.plugin(objects));
        ImageJobsQmp.register(registry, jobs, jobQmp, blockGraph, mirrors); // after the last driver
        return null;
    }

    /**
     * Builds a daemon, opens the configured block nodes and starts listening.
     *
     * @throws DaemonStartException when a block node cannot be opened or an address cannot be bound;
     *                              everything already started is closed again
     */
    public static Daemon start(DaemonConfig config) {
        Daemon d = new Daemon();
        try {
            // Queued before the first listen, so it runs before any client's command (all run on the main loop);
            // it starts once the sockets listen: until then the CPUs belong to the way to the first greeting.
            CountDownLatch listened = new CountDownLatch(1);
            java.util.concurrent.CompletableFuture<Void> ready = d.mainLoop.submit(() -> {
                listened.await();
                d.registerModules();
                for (String json : config.objects()) {
                    d.objectAdd(json);
                }
                for (String json : config.blockdevs()) {
                    d.blockQmp.blockdevAdd(BlockQmp.parseBlockdevJson(json));
                }
                for (StartupCall call : config.startup()) {
                    d.run(call);
                }
                d.installMigration(config.machine());
                return null;
            });
            try {
                for (SocketAddress address : config.qmp()) {
                    if (!config.qmpTls().containsKey(address)) {
                        d.listening.add(d.server.listen(address, null));
                    }
                }
            } finally {
                listened.countDown();
            }
            await(ready);
            for (SocketAddress address : config.qmp()) {
                String creds = config.qmpTls().get(address);
                if (creds != null) {
                    d.listening.add(d.server.listen(address, d.mainLoop.call(() -> d.qmpTls(creds))));
                }
            }
        } catch (DaemonStartException e) {
            d.close();
            throw e;
        } catch (QmpException e) {
            d.close();
            throw new DaemonStartException(e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            d.close();
            throw new DaemonStartException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
        log.info("converged serving QMP on {}", d.listening);
        return d;
    }

    /** Waits for a main-loop task; its failure is thrown as it was (as MainLoop.call does). */
    private static void await(java.util.concurrent.CompletableFuture<Void> task) {
        try {
            task.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** object-add with the JSON of {@code --object}, as a client's would run. Main loop. */
    private Void objectAdd(String json) {
        com.fasterxml.jackson.databind.JsonNode n;
        try {
            n = dev.converge.qmp.wire.QmpJson.parse(json);
        } catch (dev.converge.qmp.wire.QmpJson.ParseException e) {
            throw QmpException.generic("Invalid JSON in --object: %s", e.detail());
        }
        dev.converge.qmp.schema.CommandSpec spec = registry.command("object-add").orElseThrow();
        spec.handler().handle(new dev.converge.qmp.Args(dev.converge.qmp.schema.SchemaValidator.validateArguments(spec,
                (com.fasterxml.jackson.databind.node.ObjectNode) n)));
        return null;
    }

    /** The TLS of a QMP listener from tls-creds object {@code id} (endpoint server, as QEMU's chardev requires). */
    private QmpServer.Tls qmpTls(String id) {
        dev.converge.qmp.objects.UserObject.TlsCredsX509 creds = objects.tlsCreds(id);
        if (creds.endpoint() != dev.converge.qmp.objects.UserObject.Endpoint.SERVER) {
            throw QmpException.generic("Expecting TLS credentials with a server endpoint");
        }
        try {
            return new QmpServer.Tls(dev.converge.qmp.tls.TlsContexts.fromDirectory(creds.dir(),
                    dev.converge.qmp.tls.TlsContexts.Endpoint.SERVER), creds.verifyPeer());
        } catch (IOException e) {
            throw QmpException.generic("Unable to load TLS credentials '%s': %s", id, e.getMessage());
        }
    }

    /**
     * The QMP reference of a daemon as Markdown: generated from the same declarations that validate
     * arguments and answer query-qmp-schema, so docs/qmp.md cannot drift (a test compares them).
     */
    public static String qmpReference() {
        try (Daemon d = new Daemon()) {
            d.mainLoop.call(d::registerModules);
            d.installMigration(MachineConfig.none());
            // Two modules declaring one type name differently would make introspection ambiguous.
            List<String> clashes = dev.converge.qmp.schema.SchemaIntrospection.clashes(d.registry);
            if (!clashes.isEmpty()) {
                throw new IllegalStateException("QMP type names declared twice, differently: " + clashes);
            }
            return dev.converge.qmp.schema.SchemaDocs.markdown(d.registry)
                    + "\n---\nRegenerate with `./bin/converged --qmp-reference > docs/qmp.md`.\n";
        }
    }

    /** Runs one start-up command as a client's would run (typed from key=value first); main loop. */
    private JsonNode run(StartupCall call) {
        CommandSpec spec = registry.command(call.command()).orElseThrow();
        ObjectNode args = call.arguments();
        if (call.keyval()) {
            args = (ObjectNode) KeyvalTyping.coerce(args, spec.arguments());
        }
        try {
            return spec.handler().handle(new Args(SchemaValidator.validateArguments(spec, args)));
        } catch (QmpException e) {
            throw new DaemonStartException(call.option() + ": " + e.desc(), e);
        }
    }

    private void installMigration(MachineConfig machine) {
        migration = MigrationModule.install(registry, events, mainLoop, jobs, jobQmp, blockGraph, machine, objects);
        migration.registerTransactionAction(transactions);
    }

    /** The migration module (machine, incoming side, migration job); null before {@link #start} finished it. */
    public MigrationModule migration() {
        return migration;
    }

    /** Addresses actually listened on (a tcp port 0 shows the port chosen). */
    public List<SocketAddress> addresses() {
        return List.copyOf(listening);
    }

    public MainLoop mainLoop() {
        return mainLoop;
    }

    public QmpRegistry registry() {
        return registry;
    }

    public JobEngine jobs() {
        return jobs;
    }

    public JobQmp jobQmp() {
        return jobQmp;
    }

    public BlockGraph blockGraph() {
        return blockGraph;
    }

    /** Stops serving and releases everything; idempotent, callable from any thread but the main loop. */
    public void shutdown() {
        if (!shuttingDown.compareAndSet(false, true)) {
            return;
        }
        try {
            server.close();
            try {
                mainLoop.call(() -> {
                    if (nbd != null) { // null when start-up failed before the modules were built
                        nbd.close(); // stops the NBD server: its socket file goes, its clients are closed
                    }
                    return null;
                });
            } catch (RuntimeException e) {
                log.warn("closing the NBD server: {}", e.toString());
            }
            MigrationModule m = migration;
            if (m != null) {
                m.close(); // stops the incoming side and the machine's vCPUs, frees guest RAM
            }
            try {
                // as QEMU's bdrv_flush_all at quit: a qcow2 node's write-back metadata caches reach
                // the image, or its last allocations would be lost
                mainLoop.call(() -> {
                    if (blockGraph != null) {
                        blockGraph.flushAll();
                    }
                    return null;
                });
            } catch (RuntimeException e) {
                log.warn("flushing the block nodes: {}", e.toString());
            }
        } finally {
            mainLoop.close();
            stopped.countDown();
            log.info("converged stopped");
        }
    }

    /** Waits until {@link #shutdown} has finished. */
    public void awaitShutdown() throws InterruptedException {
        stopped.await();
    }

    /** Waits at most {@code timeout} for shutdown; returns whether it happened. */
    public boolean awaitShutdown(long timeout, TimeUnit unit) throws InterruptedException {
        return stopped.await(timeout, unit);
    }

    @Override
    public void close() {
        shutdown();
    }
}
