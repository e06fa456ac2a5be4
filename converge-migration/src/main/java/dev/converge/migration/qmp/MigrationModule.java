package dev.converge.migration.qmp;

import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobListener;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import dev.converge.job.JobTables;
import dev.converge.job.JobTxn;
import dev.converge.job.JobVerb;
import dev.converge.job.qmp.JobQmp;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.migration.job.FileTarget;
import dev.converge.migration.job.JointSwitchover;
import dev.converge.migration.job.MigrationCapability;
import dev.converge.migration.job.MigrationEvents;
import dev.converge.migration.job.MigrationJob;
import dev.converge.migration.job.MigrationMode;
import dev.converge.migration.job.MigrationParameters;
import dev.converge.migration.job.MigrationSettings;
import dev.converge.migration.job.MigrationStatus;
import dev.converge.migration.job.MigrationTarget;
import dev.converge.migration.job.MigrationUri;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RunState;
import dev.converge.qmp.Args;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import java.util.Objects;
import java.util.Optional;

/**
 * The migration subsystem of a daemon: its machine (if any), the incoming side, the outgoing
 * migration job and the settings; {@link #install} is the one entry point the daemon calls.
 * <p>
 * Every operation here runs on the main loop (QMP handlers); {@link #outgoing} is volatile only
 * so that tests and the job listener may read it from elsewhere.
 */
public final class MigrationModule implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(MigrationModule.class);
    private final MainLoop mainLoop;
    private final EventSink events;
    private final JobEngine engine;
    private final BlockGraph graph;
    private final MigrationSettings settings = new MigrationSettings();
    /** The machine, or null for a daemon without one. */
    private final Machine machine;
    private final IncomingSide incoming;
    private BackendDisk disk;
    /** The latest outgoing migration (kept after it ends, for query-migrate); main loop writes. */
    private volatile MigrationJob outgoing;
    /**
     * The source's warm-up thread (see OutgoingWarmUp), or null; set once by install. Close waits
     * for it, as its harvest uses the accelerator that closes with the machine.
     */
    private volatile Thread outgoingWarmUp;
    /** Set by close: the warm-up stops at its next step. */
    private volatile boolean closing;
    /** Whether the latest migration was incoming (query-migrate shows that side). Main loop. */
    private boolean lastWasIncoming;
    /** How migrate's jobs connect; only tests change it, before they migrate. */
    /** tls-creds-x509 and authz objects (object-add); looked up at migrate / migrate-incoming. */
    private final dev.converge.qmp.objects.UserObjects objects;
    private volatile MigrationJob.Connector connector = MigrationJob.Connector.bounded(MigrationJob.Connector.DIRECT,
            MigrationJob.CONNECT_TIMEOUT);

    private MigrationModule(MainLoop mainLoop, EventSink events, JobEngine engine, BlockGraph graph, Machine machine,
            dev.converge.qmp.objects.UserObjects objects) {
        this.objects = java.util.Objects.requireNonNull(objects);
        this.mainLoop = mainLoop;
        this.events = events;
        this.engine = engine;
        this.graph = graph;
        this.machine = machine;
        this.incoming = machine == null ? null : new IncomingSide(machine, this::eventsSnapshot,
                () -> settings.has(MigrationCapability.POSTCOPY_RAM), () -> settings.has(MigrationCapability.MULTIFD),
                () -> settings.has(MigrationCapability.POSTCOPY_PREEMPT));
    }

    /**
     * Builds the daemon's machine from {@code config}, registers the machine and migration QMP
     * commands and the {@code migration} job type, attaches the machine's disk ({@code disk=NODE},
     * which must exist in {@code graph} already) and, with {@code --incoming}, starts listening.
     * Call once, from any thread but the main loop, after the start-up block nodes are open.
     *
     * @throws IllegalArgumentException naming what is wrong with the config (a disk node that
     *                                  does not exist, a bad --incoming address); nothing stays open
     */
    public static MigrationModule install(QmpRegistry registry, EventSink events, MainLoop mainLoop, JobEngine engine,
            JobQmp jobQmp, BlockGraph graph, MachineConfig config) {
        return install(registry, events, mainLoop, engine, jobQmp, graph, config, new dev.converge.qmp.objects.UserObjects());
    }

    /**
     * As {@link #install(QmpRegistry, EventSink, MainLoop, JobEngine, JobQmp, BlockGraph, MachineConfig)},
     * with the daemon's user objects: tls-creds and tls-authz name objects there.
     */
    public static MigrationModule install(QmpRegistry registry, EventSink events, MainLoop mainLoop, JobEngine engine,
            JobQmp jobQmp, BlockGraph graph, MachineConfig config, dev.converge.qmp.objects.UserObjects objects) {
        Machine machine = config.spec().map(spec -> Machine.create(config.name(), spec,
                config.incoming().isPresent() ? RunState.INMIGRATE
                        : config.startPaused() ? RunState.PRELAUNCH : RunState.RUNNING, config.accelerator().get(), config.actions()))
                .orElse(null);
        MigrationModule m = new MigrationModule(mainLoop, events, engine, graph, machine, objects);
        try {
            if (machine != null) {
                if (config.incoming().isPresent() && config.startPaused()) {
                    machine.stop(); // -S on a destination: stay paused after the migration (clears autostart)
                }
                MachineQmp.register(registry, machine, events);
                if (config.spec().get().disk().isPresent()) {
                    String node = config.spec().get().disk().get();
                    m.disk = mainLoop.call(() -> attachDisk(graph, node, config.name() + "-disk"));
                    machine.attachDisk(m.disk);
                }
                if (config.incoming().isPresent()) {
                    // A destination: compile the receiving path while nothing comes in yet (see IncomingWarmUp).
                    IncomingSide side = m.incoming;
                    dev.converge.migration.precopy.IncomingWarmUp.start(config.name(), side::started);
                } else {
                    // A source: load and link the sender's setup before a migrate asks for it (see OutgoingWarmUp).
                    m.outgoingWarmUp = dev.converge.migration.precopy.OutgoingWarmUp.start(config.name(), machine.ram(),
                            () -> m.outgoing != null || m.closing);
                }
                if (config.incoming().isPresent() && !config.incoming().get().equals(MachineConfig.DEFER)) {
                    MigrationTarget uri = MigrationTarget.parse(config.incoming().get());
                    mainLoop.call(() -> {
                        m.migrateIncoming(uri);
                        return null;
                    });
                }
            } else {
                MachineQmp.registerWithoutMachine(registry);
            }
            MigrationQmp.register(registry, jobQmp, m);
            engine.addListener(m.new PendingListener());
        } catch (QmpException e) {
            m.close();
            throw new IllegalArgumentException(e.getMessage(), e);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    private static BackendDisk attachDisk(BlockGraph graph, String node, String backendName) {
        try {
            return BackendDisk.attach(graph, node, backendName);
        } catch (BlockIOException e) {
            throw QmpException.generic("disk=%s: %s", node, e.getMessage());
        }
    }

    /** The machine, if the daemon has one. */
    public Optional<Machine> machine() {
        return Optional.ofNullable(machine);
    }

    /**
     * Test seam: the jobs of later migrate commands connect with {@code c} (e.g. one that holds
     * the job in setup on a latch). See {@link MigrationJob.Connector}.
     */
    void useConnector(MigrationJob.Connector c) {
        connector = Objects.requireNonNull(c);
    }

    /** The settings (capabilities and parameters). */
    public MigrationSettings settings() {
        return settings;
    }

    /** The latest outgoing migration, if any. */
    public Optional<MigrationJob> outgoing() {
        return Optional.ofNullable(outgoing);
    }

    private MigrationEvents eventsSnapshot() {
        return new MigrationEvents(events, settings.has(MigrationCapability.EVENTS));
    }

    private Machine requireMachine(String what) {
        if (machine == null) {
            throw QmpException.generic("No machine to %s: converged was started without --machine", what);
        }
        return machine;
    }

    /** Whether an outgoing migration runs (QEMU's migration_is_running: the destination may still set capabilities). */
    private boolean migrationRunning() {
        MigrationJob j = outgoing;
        return j != null && !j.status().isFinal();
    }

    // ---------------------------------------------------------------- QMP operations (main loop)

    /**
     * A migration job created (CREATED) and made the latest outgoing one, not started yet:
     * exactly one of {@link #start} or {@link #abort} follows, on the main loop.
     */
    final class PreparedMigration implements TransactionQmp.Prepared {
        private final Job job;
        private final MigrationJob driver;
        /** The latest outgoing migration before this one, shown again by query-migrate after an abort. */
        private final MigrationJob previous;
        private final boolean previousWasIncoming;

        private PreparedMigration(Job job, MigrationJob driver, MigrationJob previous, boolean previousWasIncoming) {
            this.job = job;
            this.driver = driver;
            this.previous = previous;
            this.previousWasIncoming = previousWasIncoming;
        }

        /**
         * Starts the job; when its transaction holds mirrors, the switchover becomes joint with
         * them (every job of the transaction exists by now).
         */
        void start() {
            JointSwitchover.of(engine, job).ifPresent(driver::joinSwitchover);
            engine.start(job);
        }

        @Override
        public void commit() {
            start();
        }

        /** Undoes the preparation: the job, still CREATED, is cancelled and vanishes. */
        @Override
        public void abort() {
            // A partner's abort may have ended this job already (its transaction aborted).
            if (engine.find(job.id()).orElse(null) == job && job.status() == JobStatus.CREATED) {
                engine.cancel(job.id(), true);
            }
            if (outgoing == driver) {
                outgoing = previous;
                lastWasIncoming = previousWasIncoming;
            }
        }
    }

    /**
     * Registers the {@code migrate} action of QMP {@code transaction} (data: migrate's
     * arguments, validated by the same schema). Prepare does every check migrate does and
     * creates the job in the transaction's job transaction; commit starts it (joint with the
     * transaction's mirrors, see {@link JointSwitchover}); abort cancels it. Call once at wiring
     * time, after {@code transactions.register()}.
     */
    public void registerTransactionAction(TransactionQmp transactions) {
        transactions.registerAction("migrate", MigrationQmp.MIGRATE_ARGS,
                (data, txn) -> migrate(MigrationQmp.migrateRequest(new Args(data)), txn));
    }

    /** migrate: checks, then creates the migration job in {@code txn} (null: its own) without starting it. */
    PreparedMigration migrate(MigrationQmp.MigrateRequest request, JobTxn txn) {
        MigrationTarget target = request.target();
        String jobId = request.jobId();
        boolean autoComplete = request.autoComplete();
        Machine m = requireMachine("migrate");
        MigrationJob current = outgoing;
        if (current != null && !current.status().isFinal()) {
            throw QmpException.generic("There's a migration process in progress");
        }
        checkActedOn(settings.parameters());
        checkMappedRam(target);
        switch (m.runState()) {
            case RUNNING, PAUSED -> { }
            case INMIGRATE -> throw QmpException.generic("Guest is waiting for an incoming migration");
            case POSTMIGRATE -> throw QmpException.generic("Can't migrate the vm that was paused due to previous migration");
            case FINISH_MIGRATE -> throw QmpException.generic("There's a migration process in progress");
            default -> throw QmpException.generic("Can't migrate the vm in run state '%s'", m.runState().wireName());
        }
        MigrationJob driver = switch (target) {
            case MigrationUri uri -> new MigrationJob(m, uri, settings, autoComplete, eventsSnapshot(),
                    this::applyParameters, () -> { }, connector, mainLoop, clientTls(settings.parameters().tls(), uri));
            case FileTarget file -> MigrationJob.toFile(m, file, settings, eventsSnapshot(), this::applyParameters,
                    () -> { }, mainLoop);
        };
        JobOptions options = JobOptions.defaults()
                .withAutoFinalize(!driver.pauseBeforeSwitchover())
                .withSpeed(settings.parameters().jobSpeed())
                .withTxn(txn);
        Job job;
        try {
            job = engine.create(jobId, MigrationJob.KIND, driver, options);
        } catch (JobException e) {
            throw JobQmp.toQmp(e);
        }
        driver.attach(job);
        if (txn == null) {
            driver.aloneInTransaction(); // migrate, not QMP transaction: its job transaction is its own
        }
        PreparedMigration prepared = new PreparedMigration(job, driver, current, lastWasIncoming);
        outgoing = driver;
        lastWasIncoming = false;
        return prepared;
    }

    /** migrate with resume: true: continues the paused postcopy of the outgoing migration over {@code uri}. */
    void resume(MigrationUri uri) {
        requireMachine("migrate");
        MigrationJob j = outgoing;
        if (j == null) {
            throw QmpException.generic("Cannot resume if there is no paused migration");
        }
        try {
            j.resumePostcopy(uri);
        } catch (JobException e) {
            throw JobQmp.toQmp(e);
        }
    }

    /** migrate-start-postcopy (QEMU's checks and texts; after the end of a migration it does nothing). */
    void startPostcopy() {
        if (!settings.has(MigrationCapability.POSTCOPY_RAM)) {
            throw QmpException.generic("Enable postcopy with migrate_set_capability before the start of migration");
        }
        MigrationJob j = outgoing;
        if (j == null || showIncoming()) {
            throw QmpException.generic("Postcopy must be started after migration has been started");
        }
        try {
            j.startPostcopy();
        } catch (JobException e) {
            throw JobQmp.toQmp(e);
        }
    }

    /** migrate-pause: breaks the connection of an active postcopy, on whichever side this is. */
    void pause() {
        MigrationJob j = outgoing;
        boolean paused = !showIncoming() && j != null ? j.pausePostcopy() : incoming != null && incoming.pause();
        if (!paused) {
            throw QmpException.generic("migrate-pause is currently only supported during postcopy-active or "
                    + "postcopy-recover state");
        }
    }

    /** migrate-recover: the destination listens for the source's recovery connection. */
    void recover(MigrationUri uri) {
        requireMachine("receive into");
        incoming.recover(uri);
    }

    /**
     * Refuses a migration under parameters converge accepts but cannot honour, so that a
     * parameter asking for more than converge does is never silently ignored.
     */
    private static void checkActedOn(MigrationParameters p) {
        if (p.mode() != MigrationMode.NORMAL) {
            throw QmpException.generic("Migration mode '%s' is not supported by converge (only 'normal')",
                    p.mode().wireName());
        }
    }

    /**
     * The source's TLS from the parameters, checked now with QEMU's texts (a missing object, one
     * that is not TLS credentials, a server endpoint, no host name to check); null without tls-creds.
     */
    private MigrationJob.Securer clientTls(MigrationParameters.Tls tls, MigrationUri uri) {
        if (!tls.enabled()) {
            return null;
        }
        dev.converge.qmp.objects.UserObject.TlsCredsX509 creds = objects.tlsCreds(tls.creds());
        if (creds.endpoint() != dev.converge.qmp.objects.UserObject.Endpoint.CLIENT) {
            throw QmpException.generic("Expecting TLS credentials with a client endpoint");
        }
        String host = !tls.hostname().isEmpty() ? tls.hostname()
                : uri.address() instanceof java.net.InetSocketAddress a ? a.getHostString() : null;
        if (host == null) {
            throw QmpException.generic("No hostname available for TLS");
        }
        javax.net.ssl.SSLContext context = loadTls(creds, dev.converge.qmp.tls.TlsContexts.Endpoint.CLIENT);
        return ch -> dev.converge.qmp.tls.SecureChannel.client(ch, context, host);
    }

    /** The destination's TLS from the parameters (server endpoint; tls-authz looked up per connection); null without tls-creds. */
    private IncomingSide.ServerTls serverTls(MigrationParameters.Tls tls) {
        if (!tls.enabled()) {
            return null;
        }
        dev.converge.qmp.objects.UserObject.TlsCredsX509 creds = objects.tlsCreds(tls.creds());
        if (creds.endpoint() != dev.converge.qmp.objects.UserObject.Endpoint.SERVER) {
            throw QmpException.generic("Expecting TLS credentials with a server endpoint");
        }
        String authz = tls.authz();
        if (!authz.isEmpty() && !creds.verifyPeer()) {
            throw QmpException.generic("tls-authz needs TLS credentials with verify-peer=on");
        }
        javax.net.ssl.SSLContext context = loadTls(creds, dev.converge.qmp.tls.TlsContexts.Endpoint.SERVER);
        return new IncomingSide.ServerTls(context, creds.verifyPeer(),
                authz.isEmpty() ? null : subject -> objects.authorizes(authz, subject));
    }

    private static javax.net.ssl.SSLContext loadTls(dev.converge.qmp.objects.UserObject.TlsCredsX509 creds,
            dev.converge.qmp.tls.TlsContexts.Endpoint endpoint) {
        try {
            return dev.converge.qmp.tls.TlsContexts.fromDirectory(creds.dir(), endpoint);
        } catch (java.io.IOException e) {
            throw QmpException.generic("Unable to load TLS credentials '%s': %s", creds.id(), e.getMessage());
        }
    }

    /** mapped-ram lays pages out at fixed offsets: only a file can take that. */
    private void checkMappedRam(MigrationTarget target) {
        if (settings.has(MigrationCapability.MAPPED_RAM) && !(target instanceof FileTarget)) {
            throw QmpException.generic("Mapped-ram migration requires a file: URI (a socket cannot seek)");
        }
    }

    /** migrate-incoming. */
    void migrateIncoming(MigrationTarget uri) {
        requireMachine("receive into");
        checkActedOn(settings.parameters());
        checkMappedRam(uri);
        incoming.listen(uri, uri instanceof MigrationUri ? serverTls(settings.parameters().tls()) : null);
        lastWasIncoming = true;
    }

    /** migrate_cancel: cancels the outgoing migration job; nothing to do when none runs (as QEMU). */
    void cancel() {
        MigrationJob j = outgoing;
        if (j == null || j.status().isFinal()) {
            return;
        }
        Job job = j.job();
        if (job.status() == JobStatus.CONCLUDED || job.status() == JobStatus.ABORTING || job.status() == JobStatus.NULL) {
            return;
        }
        try {
            engine.cancel(job.id(), true);
        } catch (JobException e) {
            throw JobQmp.toQmp(e);
        }
    }

    /** migrate-continue: the same act as job-finalize of the migration job in pre-switchover. */
    void migrateContinue(MigrationStatus expected) {
        MigrationJob j = outgoing;
        MigrationStatus now = j == null ? MigrationStatus.NONE : j.status();
        if (now != expected || now != MigrationStatus.PRE_SWITCHOVER) {
            throw QmpException.generic("Migration not in expected state: %s", now.wireName());
        }
        if (j.job().status() != JobStatus.PENDING) {
            // pre-switchover shows as soon as the vCPUs stop; the job reaches PENDING once the
            // destination holds everything: finalize then (PendingListener)
            j.requestContinue();
            return;
        }
        finalizeMigration(j);
    }

    private void finalizeMigration(MigrationJob j) {
        try {
            engine.finalizeJob(j.job().id());
        } catch (JobException e) {
            throw JobQmp.toQmp(e);
        }
    }

    /** migrate-set-capabilities (all given ones, or none when a migration runs). */
    void setCapabilities(java.util.Map<MigrationCapability, Boolean> caps) {
        if (migrationRunning()) {
            throw QmpException.generic("There's a migration process in progress");
        }
        String error = settings.checkCapabilities(caps);
        if (error != null) {
            throw QmpException.generic(error);
        }
        if (caps.containsKey(MigrationCapability.POSTCOPY_PREEMPT) && incoming != null && incoming.started()) {
            // The destination decides at the accept whether it takes a preempt channel.
            throw QmpException.generic("Postcopy preempt must be set before incoming starts");
        }
        if (caps.getOrDefault(MigrationCapability.POSTCOPY_RAM, false) && machine != null
                && machine.accelerator().kind() != dev.converge.migration.machine.Accelerator.Kind.SOFTWARE) {
            // A vCPU in KVM touches guest RAM without converge's access path: missing pages would
            // need userfaultfd, which converge does not use yet.
            throw QmpException.generic("Postcopy is not supported: converge's postcopy needs accel=software "
                    + "(a KVM guest would need userfaultfd)");
        }
        caps.forEach(settings::set);
    }

    /** migrate-set-parameters: checks all, then applies all; a running migration sees them at once. */
    void setParameters(MigrationParameters.Update update) {
        try {
            applyParameters(update);
        } catch (MigrationParameters.InvalidParameter e) {
            throw QmpException.generic(e.getMessage());
        }
    }

    /**
     * The one path of a parameter change, for migrate-set-parameters and for job-change on the
     * migration job: merges and checks the whole set once, then makes max-bandwidth the running
     * job's speed.
     *
     * @throws MigrationParameters.InvalidParameter with QEMU's text; nothing changed then
     */
    private void applyParameters(MigrationParameters.Update update) {
        MigrationParameters now = settings.apply(update);
        if (update.setsMaxBandwidth()) {
            MigrationJob j = outgoing;
            if (j != null && !j.status().isFinal()) {
                Job job = j.job();
                try {
                    JobTables.checkVerb(job.id(), job.status(), JobVerb.SET_SPEED);
                    engine.setSpeed(job.id(), now.jobSpeed());
                } catch (JobException e) {
                    // past the copy phase: the speed no longer matters
                }
            }
        }
    }

    /** Which side query-migrate shows. */
    boolean showIncoming() {
        return lastWasIncoming || outgoing == null;
    }

    IncomingSide incoming() {
        return incoming;
    }

    /** Finalizes the migration job at PENDING when migrate-continue came earlier (a job listener: never under the job lock). */
    private final class PendingListener implements JobListener {
        @Override
        public void statusChanged(Job job, JobStatus newStatus) {
            MigrationJob j = outgoing;
            if (newStatus == JobStatus.PENDING && j != null && j.job() == job) {
                // a listener may run on the job's thread and must not call the engine: the main loop finalizes
                mainLoop.execute(() -> {
                    if (j.continueRequested() && job.status() == JobStatus.PENDING) {
                        try {
                            finalizeMigration(j);
                        } catch (QmpException e) {
                            log.warn("migrate-continue of '{}' could not finalize: {}", job.id(), e.getMessage());
                        }
                    }
                });
            }
        }
    }

    /** Stops the incoming side, cancels nothing else (jobs are the engine's), frees the machine. */
    @Override
    public void close() {
        closing = true;
        Thread warmUp = outgoingWarmUp;
        if (warmUp != null) {
            try {
                warmUp.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        MigrationJob j = outgoing;
        if (j != null) {
            j.shutdown(); // a postcopy job stops sending before the machine's RAM goes
        }
        if (incoming != null) {
            incoming.close();
        }
        if (disk != null) {
            try {
                mainLoop.call(() -> {
                    disk.detach();
                    return null;
                });
            } catch (RuntimeException e) {
                // the main loop is gone already: the graph goes with it
            }
        }
        if (machine != null) {
            machine.close();
        }
    }
}
