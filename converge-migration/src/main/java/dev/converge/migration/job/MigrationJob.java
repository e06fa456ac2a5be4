package dev.converge.migration.job;

import dev.converge.job.Job;
import dev.converge.job.JobCancelledException;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobException;
import dev.converge.job.JobKind;
import dev.converge.job.JobOutcome;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.postcopy.PostcopyControl;
import dev.converge.migration.postcopy.PostcopyPhase;
import dev.converge.migration.postcopy.PostcopyProgress;
import dev.converge.migration.precopy.AutoConverge;
import dev.converge.migration.precopy.FrozenRamCheck;
import dev.converge.migration.precopy.ConvergencePolicy;
import dev.converge.migration.precopy.PassProgress;
import dev.converge.migration.precopy.SentCounters;
import dev.converge.migration.precopy.MigrationControl;
import dev.converge.migration.precopy.MigrationControl.DirtyLimit;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.precopy.MigrationProgress;
import dev.converge.migration.precopy.MigrationResult;
import dev.converge.migration.precopy.PrecopySender;
import dev.converge.migration.precopy.SendOptions;
import dev.converge.migration.multifd.MultifdConfig;
import dev.converge.migration.multifd.ZeroPageDetection;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * The outgoing migration as a job of type {@value #TYPE} (see the package doc for the mapping
 * of migration phases to job statuses).
 * <p>
 * Threads: {@link #run} on the job's thread; {@link #cancel}, {@link #complete}, {@link #change},
 * {@link #commit}, {@link #abort}, {@link #clean} and the status listener on the main loop;
 * {@link #info()} and the query-migrate view from the main loop while run() works. So every field
 * run() writes and others read is volatile, and each is written by one thread only, except the
 * status, which both change (under {@link #statusLock}).
 */
public final class MigrationJob implements JobDriver<MigrationChange, MigrationInfo> {
    /** The migration job kind: type {@code migration}, its job-change options and its query-jobs members. */
    public static final JobKind<MigrationChange, MigrationInfo> KIND = new JobKind<>("migration",
            MigrationChange.class, MigrationInfo.class);
    /** The job type, as registered with JobQmp. */
    public static final String TYPE = KIND.type();

    /**
     * How {@link #run} connects its channel: {@link #DIRECT} outside tests. It exists so that a
     * test can hold a migration in setup for as long as it needs, which the kernel does not offer
     * on the job's virtual thread: there the JDK makes the socket non-blocking, so an AF_UNIX
     * connect to a listener with a full backlog fails at once (EAGAIN) instead of waiting, and a
     * TCP one waits only if the accept queue is already full when the SYN arrives, which a test
     * cannot ensure (the previous handshakes may still be in flight).
     */
    @FunctionalInterface
    public interface Connector {
        /** {@link SocketChannel#connect} in blocking mode. */
        Connector DIRECT = SocketChannel::connect;

        /**
         * Connects {@code channel} to {@code address}, blocking; a close of {@code channel} from
         * another thread (a cancel) must end the wait with an {@link IOException}.
         *
         * @return ignored (SocketChannel's own result)
         */
        boolean connect(SocketChannel channel, SocketAddress address) throws IOException;

        /**
         * {@code inner} bounded by {@code timeout}: when the connect has not ended by then the
         * channel is closed and the connect fails with "no connection within N ms (connect
         * timeout)". QEMU has no bound of its own (the kernel's SYN retries, about two minutes).
         */
        static Connector bounded(Connector inner, java.time.Duration timeout) {
            java.util.Objects.requireNonNull(inner);
            if (!timeout.isPositive()) {
                throw new IllegalArgumentException("connect timeout: " + timeout + " (expected: > 0)");
            }
            return (channel, address) -> {
                // 0 connecting, 1 connected or failed on its own, 2 timed out (the channel is closed)
                java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger();
                java.util.concurrent.CompletableFuture.delayedExecutor(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS)
                        .execute(() -> {
                            if (state.compareAndSet(0, 2)) {
                                try {
                                    channel.close();
                                } catch (IOException e) {
                                    // closing is all the timeout does
                                }
                            }
                        });
                IOException failure;
                try {
                    boolean r = inner.connect(channel, address);
                    if (state.compareAndSet(0, 1)) {
                        return r;
                    }
                    failure = null;
                } catch (IOException e) {
                    if (state.compareAndSet(0, 1)) {
                        throw e;
                    }
                    failure = e;
                }
                java.net.SocketTimeoutException t = new java.net.SocketTimeoutException(
                        "no connection within " + timeout.toMillis() + " ms (connect timeout)");
                if (failure != null) {
                    t.initCause(failure);
                }
                throw t;
            };
        }
    }

    /**
     * TLS of a migration's connections (tls-creds): applied to every connection right after the
     * {@link Connector} connected it, before any byte of the stream; null for plain text.
     */
    @FunctionalInterface
    public interface Securer {
        /**
         * Runs the TLS handshake on {@code connected} as the client.
         *
         * @throws IOException "TLS handshake failed: ..." (a peer that does not speak TLS, a
         *                     certificate the CA did not sign or that does not name the host)
         */
        dev.converge.qmp.tls.SecureChannel secure(SocketChannel connected) throws IOException;
    }

    /**
     * How long a migration's connect may take (the main channel; multifd channels open through
     * the same {@link Connector}): then the migration fails with "Failed to connect to 'URI': no
     * connection within 10000 ms (connect timeout)" and the source runs on. A constant: the
     * same bound as an NBD node's connect; on loopback or a LAN a connect takes microseconds.
     */
    public static final java.time.Duration CONNECT_TIMEOUT = java.time.Duration.ofSeconds(10);

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(MigrationJob.class);
    private final Machine machine;
    /** The socket to migrate to, or null for a file (see {@link #file}). */
    private final MigrationUri uri;
    /** The file to save to, or null for a socket; see {@link FileSave}. */
    private final FileTarget file;
    private final MigrationSettings settings;
    private final boolean autoComplete;
    private final boolean pauseBeforeSwitchover;
    /** The main loop's dispatch delay: the hand-over that decides the switchover waits that long. */
    private final LatencyProbe decisionLatency;
    /** Whether auto-converge was on when the migration started (capabilities cannot change while it runs). */
    private final boolean autoConverge;
    /** Whether dirty-limit was on when the migration started. */
    private final boolean dirtyLimited;
    /** Whether x-converge-verify was on when the migration started: a verified stream. */
    private final boolean verified;
    /** multifd's settings when the capability was on at the start, else null. */
    private final MultifdConfig multifd;
    /** zero-page-detection when the migration started. */
    private final ZeroPageDetection zeroPageDetection;
    /** Whether mapped-ram was on when the migration started (a file migration's layout). */
    private final boolean mappedRam;
    /** Whether postcopy-ram was on when the migration started. */
    private final boolean postcopyRam;
    /** Whether postcopy-preempt was on too: a preempt channel opens at the start, and again at each recovery. */
    private final boolean postcopyPreempt;
    /** QEMU's reason a migration in postcopy cannot be cancelled (migrate_cancel and job-cancel). */
    public static final String POSTCOPY_CANCEL_REFUSED = "Postcopy migration in progress, cannot cancel.";
    private final MigrationEvents events;
    /** Changes the parameters as migrate-set-parameters does (the same merge, checks and speed). */
    private final ParameterChange parameterChange;
    private final Runnable onClean;
    private final Connector connector;
    /** TLS after the connect, or null. */
    private final Securer securer;
    private final long startMillis = System.currentTimeMillis();
    /** Orders status changes and their MIGRATION events between the job thread and the main loop. */
    private final Object statusLock = new Object();

    /** Changes the daemon's migration parameters: migrate-set-parameters' own path, main loop. */
    @FunctionalInterface
    public interface ParameterChange {
        /**
         * Merges {@code update} into the parameters and applies max-bandwidth to the running
         * job's speed.
         *
         * @throws MigrationParameters.InvalidParameter with QEMU's text; nothing changed then
         */
        void apply(MigrationParameters.Update update);
    }

    /**
     * What one pass left for query-jobs and query-migrate, published as one value so that both
     * read the same pass.
     *
     * @param progress  the pass's numbers
     * @param dirtyRate bytes dirtied per second over the pass
     */
    private record Pass(MigrationProgress progress, double dirtyRate) {
    }

    /** The job; set once on the main loop right after creation. */
    private volatile Job job;
    /**
     * Written under {@link #statusLock} by the job thread (setup, active, device) and the main
     * loop (cancelling, pre-switchover, completed, failed, cancelled); volatile for the readers.
     * Once cancelling, only cancelled or failed may follow.
     */
    private volatile MigrationStatus status = MigrationStatus.NONE;
    /** The last pass, or null before the first; written by the job thread. */
    private volatile Pass lastPass;
    /** The counters of the pass under way, newer than {@link #lastPass}; null once a pass ends. */
    private volatile PassProgress livePass;
    /** Bytes sent when the vCPUs stopped; written by the job thread. */
    private volatile long precopyBytes = -1;
    private volatile MigrationResult result;
    private volatile long setupTimeMs;
    private volatile long totalTimeMs = -1;
    private volatile long downtimeMs = -1;
    private volatile String errorDesc;
    /**
     * The check of the source's frozen RAM after the hand-over (verified streams): RUNNING from
     * commit until the check's thread sets the result; null before commit or when not verified.
     */
    private volatile FrozenRamCheck.Result ramCheck;
    /** The main connection; written by the job thread. */
    private volatile SocketChannel channel;
    /** Every connection opened (main and multifd channels); added by the job thread, closed by cancel (main loop) or clean. */
    private final java.util.List<SocketChannel> connections = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile PrecopySender sender;
    /** The file being saved, for a file migration; written by the job thread before the job can commit or abort. */
    private volatile FileSave fileSave;
    /** Set by cancel() before it closes the channel, so run() reports a cancel, not an I/O error. */
    private volatile boolean cancelled;
    /** migrate-continue came before the job reached PENDING; main loop only. */
    private boolean continueRequested;
    /** Whether run() is still working (a cancel must then close the connection to unblock it). */
    private volatile boolean running;
    /**
     * The joint switchover with the mirrors of the job's transaction, or null for a migration
     * alone. Set once on the main loop before the job starts.
     */
    private volatile JointSwitchover joint;
    /**
     * Whether the job is alone in its job transaction (migrate, not QMP transaction); set once on
     * the main loop before the job starts. See {@link #commitsOnAck()}.
     */
    private volatile boolean alone;
    /**
     * Set by the job thread, under {@link #statusLock}, when it committed the switchover itself
     * (START is out, the destination runs the guest): from then on a cancel cannot roll back.
     */
    private volatile boolean committedOnAck;
    /** Set by migrate-start-postcopy / job-change (main loop); read by the job thread after every pass. */
    private volatile boolean postcopyRequested;
    /** The postcopy phase's numbers, null before it; written by the job thread. */
    private volatile PostcopyProgress postcopyProgress;
    /** Why postcopy paused (error-desc while postcopy-paused); written by the job thread. */
    private volatile String pausedReason;
    /** Guards {@link #recoveryUri}: migrate resume (main loop) hands it to the paused job thread. */
    private final Object recoveryLock = new Object();
    /** Where a paused postcopy resumes; guarded by recoveryLock. */
    private MigrationUri recoveryUri;
    /** The daemon shuts down: a postcopy can never resume; guarded by recoveryLock. */
    private boolean shutdown;

    /**
     * @param autoComplete switch over by itself once converged (QEMU's behaviour); false keeps the job READY until job-complete
     * @param parameterChange migrate-set-parameters' path, for job-change
     * @param onClean      called on the main loop after commit or abort, when the migration is over
     * @param connector    connects the channel ({@link Connector#DIRECT} outside tests)
     * @param securer      TLS on every connection after the connect; null for plain text
     */
    public MigrationJob(Machine machine, MigrationUri uri, MigrationSettings settings, boolean autoComplete,
            MigrationEvents events, ParameterChange parameterChange, Runnable onClean, Connector connector,
            Executor mainLoop, Securer securer) {
        this(machine, Objects.requireNonNull(uri), null, settings, autoComplete, events, parameterChange, onClean,
                connector, mainLoop, securer);
    }

    /** A migration into {@code file} (QEMU's {@code file:} URI): see {@link FileSave}. */
    public static MigrationJob toFile(Machine machine, FileTarget file, MigrationSettings settings,
            MigrationEvents events, ParameterChange parameterChange, Runnable onClean, Executor mainLoop) {
        return new MigrationJob(machine, null, Objects.requireNonNull(file), settings, true, events, parameterChange,
                onClean, Connector.DIRECT, mainLoop, null);
    }

    private MigrationJob(Machine machine, MigrationUri uri, FileTarget file, MigrationSettings settings,
            boolean autoComplete, MigrationEvents events, ParameterChange parameterChange, Runnable onClean,
            Connector connector, Executor mainLoop, Securer securer) {
        this.securer = securer;
        this.machine = Objects.requireNonNull(machine);
        this.uri = uri;
        this.file = file;
        this.settings = Objects.requireNonNull(settings);
        this.autoComplete = autoComplete;
        this.pauseBeforeSwitchover = settings.has(MigrationCapability.PAUSE_BEFORE_SWITCHOVER);
        this.autoConverge = settings.has(MigrationCapability.AUTO_CONVERGE);
        this.dirtyLimited = settings.has(MigrationCapability.DIRTY_LIMIT);
        this.verified = settings.has(MigrationCapability.X_CONVERGE_VERIFY);
        MigrationParameters p = settings.parameters();
        this.multifd = settings.has(MigrationCapability.MULTIFD) ? new MultifdConfig((int) p.multifd().channels(),
                p.multifd().compression(), (int) p.multifd().zlibLevel(), (int) p.multifd().zstdLevel()) : null;
        this.zeroPageDetection = p.zeroPageDetection();
        this.mappedRam = settings.has(MigrationCapability.MAPPED_RAM);
        this.postcopyRam = settings.has(MigrationCapability.POSTCOPY_RAM);
        this.postcopyPreempt = postcopyRam && settings.has(MigrationCapability.POSTCOPY_PREEMPT);
        this.events = Objects.requireNonNull(events);
        this.parameterChange = Objects.requireNonNull(parameterChange);
        this.onClean = Objects.requireNonNull(onClean);
        this.connector = Objects.requireNonNull(connector);
        this.decisionLatency = new LatencyProbe(mainLoop);
    }

    /** Binds the job created for this driver. Main loop, once. */
    public void attach(Job j) {
        this.job = j;
    }

    public Job job() {
        return job;
    }

    /**
     * Makes the switchover joint with the mirrors of the job's transaction (see
     * {@link JointSwitchover}). Main loop, before the job starts.
     */
    public void joinSwitchover(JointSwitchover j) {
        this.joint = Objects.requireNonNull(j);
    }

    /** The job is alone in its job transaction (see {@link #commitsOnAck()}). Main loop, before the job starts. */
    public void aloneInTransaction() {
        this.alone = true;
    }

    /**
     * Whether the job thread commits the switchover itself as soon as the destination acked,
     * instead of handing the decision to the main loop: when nothing else can decide it, i.e.
     * the job is alone in its transaction (no partner can fail, no joint mirrors) and finalizes
     * by itself (no pause-before-switchover, which waits for migrate-continue). That hand-over
     * sat inside the downtime, with the vCPUs stopped, for a main-loop dispatch (27 ms measured
     * on two busy CPUs); QEMU's migration thread too starts the destination without the main
     * loop. The engine's commit then only records the outcome.
     */
    private boolean commitsOnAck() {
        return alone && !pauseBeforeSwitchover && joint == null;
    }

    /** Claims the commit for the job thread unless a cancel came first; after it, cancels are refused. */
    private boolean claimCommit() {
        synchronized (statusLock) {
            if (cancelled) {
                return false;
            }
            committedOnAck = true;
            return true;
        }
    }

    public MigrationStatus status() {
        return status;
    }

    /** Whether pause-before-switchover was on when the migration started (the job then needs finalize). */
    public boolean pauseBeforeSwitchover() {
        return pauseBeforeSwitchover;
    }

    /**
     * Changes the status and announces it, under {@link #statusLock} so that the MIGRATION events
     * come in the order of the changes. A cancel wins over the job thread's own progress: a
     * connect or a switchover that ends just after the cancel arrived must not show active or
     * device after cancelling (run() then ends as cancelled, at its next check).
     */
    private void setStatus(MigrationStatus next) {
        synchronized (statusLock) {
            if (status == next || (status == MigrationStatus.CANCELLING && !next.isFinal())) {
                return;
            }
            status = next;
            events.status(next);
        }
        // One line per phase, for the operator's log (the event only goes out with the events capability).
        log.info("outgoing migration of '{}' to {}: {}", machine.name(), uri != null ? uri : file, next.wireName());
    }

    /** The policy of the parameters now (one read of the parameters' reference). */
    private ConvergencePolicy policy() {
        return settings.parameters().policy();
    }

    @Override
    public void run(JobContext ctx) throws Exception {
        if (file != null) {
            runToFile(ctx);
            return;
        }
        running = true;
        long t0 = System.nanoTime();
        setStatus(MigrationStatus.SETUP);
        try {
            SocketChannel ch;
            try {
                ch = openConnection();
            } catch (IOException e) {
                if (cancelled) {
                    throw new JobCancelledException(ctx.id());
                }
                throw new MigrationException.ChannelFailed(e.getMessage(), e);
            }
            channel = ch;
            setupTimeMs = (System.nanoTime() - t0) / 1_000_000;
            setStatus(MigrationStatus.ACTIVE);
            Control control = new Control(ctx);
            PrecopySender s;
            if (securer == null) {
                s = new PrecopySender(machine, ch, this::policy, control, sendOptions());
            } else {
                dev.converge.qmp.tls.SecureChannel secure;
                try {
                    secure = securer.secure(ch);
                } catch (IOException e) {
                    if (cancelled) {
                        throw new JobCancelledException(ctx.id());
                    }
                    throw new MigrationException.ChannelFailed(e.getMessage(), e);
                }
                // The cancel closes ch, which ends a blocked TLS read or write too.
                s = new PrecopySender(machine, secure, this::policy, control, sendOptions());
            }
            sender = s;
            MigrationResult r = s.runToSwitchover();
            if (commitsOnAck() && claimCommit()) {
                s.commitSwitchover(); // START now; the engine's commit() finds it done
            }
            result = r;
            control.finished(r);
        } catch (MigrationException e) {
            if (cancelled || ctx.isCancelled()) {
                throw new JobCancelledException(ctx.id());
            }
            throw e;
        } finally {
            running = false;
        }
    }

    /**
     * Opens one connection to the destination, connected and ready: the main stream's and every
     * multifd channel's. The one place that connects (through the {@link Connector} seam), so that
     * TLS wraps every connection here and a cancel finds them all in {@link #connections}.
     *
     * @throws IOException with QEMU's "Failed to connect to" text; a cancel closes the socket and ends the wait
     */
    private SocketChannel openConnection() throws IOException {
        return openConnection(uri);
    }

    /** {@link #openConnection()} to {@code to} (a postcopy recovery may go elsewhere). */
    private SocketChannel openConnection(MigrationUri to) throws IOException {
        SocketChannel ch = SocketChannel.open(to.family());
        connections.add(ch);
        if (cancelled) {
            ch.close();
            throw new IOException("cancelled");
        }
        try {
            connector.connect(ch, to.address());
        } catch (IOException e) {
            ch.close();
            throw new IOException("Failed to connect to '" + to + "': " + e.getMessage(), e);
        }
        noDelay(ch);
        return ch;
    }

    /** How the stream is encoded: verification, zero-page detection and multifd, as set when the migration started. */
    private SendOptions sendOptions() {
        // Every multifd channel and the preempt channel get TLS as the main stream does (its close ends a
        // blocked TLS write too).
        dev.converge.migration.multifd.ChannelOpener opener = i -> securer == null ? openConnection()
                : securer.secure(openConnection());
        return new SendOptions(verified, zeroPageDetection, multifd, multifd == null ? null : opener,
                postcopyPreempt ? opener : null);
    }

    /**
     * A migration into a file: with mapped-ram a running machine is saved live (passes rewrite
     * dirtied pages in place until the rest fits downtime-limit or stops shrinking, at most
     * {@link dev.converge.migration.file.FileSaver#MAX_LIVE_PASSES}; then the vCPUs stop for the
     * last one), otherwise the vCPUs stop at once; RAM and device state go to the file, and the
     * source stays stopped in finish-migrate until the job commits (postmigrate, completed) or
     * aborts (it resumes).
     */
    private void runToFile(JobContext ctx) throws Exception {
        long t0 = System.nanoTime();
        setStatus(MigrationStatus.SETUP);
        fileSave = new FileSave(machine, file, mappedRam, verified, () -> cancelled || ctx.isCancelled());
        setupTimeMs = (System.nanoTime() - t0) / 1_000_000;
        setStatus(MigrationStatus.ACTIVE);
        // mapped-ram rewrites a dirtied page in place, so a running machine is saved live, as QEMU
        // does (its docs: "best done non-live", but allowed); a stopped one, or a stream of records, in one go.
        boolean live = mappedRam && machine.runState() == dev.converge.migration.machine.RunState.RUNNING;
        Runnable stop = () -> {
            fileSave.stop();
            if (pauseBeforeSwitchover) {
                setStatus(MigrationStatus.PRE_SWITCHOVER);
            }
        };
        try {
            if (live) {
                result = fileSave.writeLive((remaining, rate) -> policy().evaluate(remaining, rate).converged(), stop);
            } else {
                stop.run();
                result = fileSave.write();
            }
        } catch (Exception e) {
            if (cancelled || ctx.isCancelled()) {
                fileSave.resume();
                throw new JobCancelledException(ctx.id());
            }
            errorDesc = e.getMessage();
            setStatus(MigrationStatus.FAILED); // QEMU's order: failed, then RESUME
            fileSave.resume();
            throw e;
        }
        precopyBytes = 0;
        ctx.progressDone(result.bytesSent());
        ctx.progressRemaining(0);
    }

    /** What the precopy loop asks the job engine. Job thread. */
    private final class Control implements MigrationControl {
        private final JobContext ctx;
        private long lastBytes;
        private long lastNanos = System.nanoTime();
        private boolean lastConverged;
        private boolean readySet;

        Control(JobContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void checkpoint() {
            ctx.checkpoint();
        }

        @Override
        public boolean isCancelled() {
            return cancelled || ctx.isCancelled();
        }

        @Override
        public void rateLimit(long bytes) {
            ctx.rateLimit(bytes);
        }

        /** Everything is sent: the bytes of the switchover count as done and nothing remains. */
        void finished(MigrationResult r) {
            ctx.progressDone(Math.max(0, r.bytesSent() - lastBytes));
            lastBytes = r.bytesSent();
            ctx.progressRemaining(0);
        }

        @Override
        public void passProgress(PassProgress p) {
            livePass = p;
            ctx.progressDone(Math.max(0, p.bytesSent() - lastBytes));
            lastBytes = p.bytesSent();
            ctx.progressRemaining(p.remainingBytes());
        }

        @Override
        public void progress(MigrationProgress p) {
            long now = System.nanoTime();
            livePass = null;
            lastPass = new Pass(p, p.remainingBytes() * 1e9 / Math.max(1, now - lastNanos));
            lastNanos = now;
            if (!commitsOnAck()) {
                decisionLatency.probe();
            }
            ctx.progressDone(Math.max(0, p.bytesSent() - lastBytes));
            lastBytes = p.bytesSent();
            ctx.progressRemaining(p.remainingBytes());
            events.pass(p.pass());
            if (p.converged() != lastConverged) {
                lastConverged = p.converged();
                ctx.infoChanged();
            }
        }

        @Override
        public void converged(MigrationProgress p) {
            if (!autoComplete && !readySet) {
                readySet = true;
                ctx.setReady();
            }
        }

        @Override
        public boolean completeRequested() throws MigrationException {
            Pass last = lastPass;
            MigrationProgress p = last == null ? null : last.progress();
            // Ready is sticky: a job-complete waits for the next pass whose estimate fits again.
            if (p == null || !p.converged()) {
                return false;
            }
            if (!autoComplete) {
                return ctx.completeRequested(); // a joint job-complete was accepted only with every mirror ready
            }
            JointSwitchover j = joint;
            return j == null || j.readyForAutoComplete();
        }

        @Override
        public void vcpusStopped() throws MigrationException {
            if (pauseBeforeSwitchover) {
                // QEMU's order: STOP (the machine announced it), pre-switchover; device only after
                // migrate-continue. The rest of RAM and the device state still travel meanwhile (see
                // the package doc): the destination holds them without running.
                setStatus(MigrationStatus.PRE_SWITCHOVER);
            }
            JointSwitchover j = joint;
            if (j != null) {
                j.completeMirrors();
            }
        }

        /** None when the job thread commits itself ({@link #commitsOnAck()}): no hand-over inside the downtime. */
        @Override
        public Duration decisionLatency() {
            return commitsOnAck() ? Duration.ZERO : decisionLatency.recentMax();
        }

        @Override
        public AutoConverge.Params autoConverge() {
            return autoConverge ? settings.parameters().autoConverge() : null;
        }

        @Override
        public DirtyLimit dirtyLimit() {
            if (!dirtyLimited) {
                return null;
            }
            MigrationParameters p = settings.parameters();
            long mb = p.vcpuDirtyLimit();
            // an unsigned limit past what bytes per second can hold caps nothing
            long bytes = mb < 0 || mb > Long.MAX_VALUE >> 20 ? Long.MAX_VALUE : mb << 20;
            return new DirtyLimit(bytes, p.autoConverge().triggerThreshold());
        }

        @Override
        public void idle(Duration max) {
            ctx.sleep(max);
        }

        @Override
        public boolean postcopyAdvised() {
            return postcopyRam;
        }

        @Override
        public boolean postcopyRequested() {
            return postcopyRequested;
        }

        @Override
        public void postcopyStarting() {
            JointSwitchover j = joint;
            if (j != null) {
                j.prepareMirrors();
            }
            Pass last = lastPass;
            precopyBytes = last == null ? 0 : last.progress().bytesSent();
        }

        @Override
        public PostcopyControl postcopy() {
            return new PostcopySide(ctx);
        }

        @Override
        public void switchingOver() {
            JointSwitchover j = joint;
            if (j != null) {
                j.prepareMirrors(); // before the device status: the guest still runs meanwhile
            }
            Pass last = lastPass;
            precopyBytes = last == null ? 0 : last.progress().bytesSent();
            ctx.infoChanged();
        }

        @Override
        public void switchoverFailed(Throwable cause) {
            if (!isCancelled()) {
                // QEMU's order: MIGRATION failed, then RESUME as the source runs again (the sender
                // resumes the vCPUs right after this). error-desc first, so failed never shows without it;
                // abort() later sets the job's own error, the same failure.
                errorDesc = cause == null || cause.getMessage() == null ? "migration failed" : cause.getMessage();
                setStatus(MigrationStatus.FAILED);
            }
        }
    }

    /** The job's side of the postcopy phase. Job thread. */
    private final class PostcopySide implements PostcopyControl {
        private final JobContext ctx;
        private long lastPages = -1;

        PostcopySide(JobContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void phase(PostcopyPhase phase, String why) {
            if (phase == PostcopyPhase.PAUSED) {
                pausedReason = why;
            }
            setStatus(switch (phase) {
                case ACTIVE -> MigrationStatus.POSTCOPY_ACTIVE;
                case PAUSED -> MigrationStatus.POSTCOPY_PAUSED;
                case RECOVER_SETUP -> MigrationStatus.POSTCOPY_RECOVER_SETUP;
                case RECOVER -> MigrationStatus.POSTCOPY_RECOVER;
            });
            ctx.infoChanged();
        }

        /**
         * current-progress keeps growing by a page per page sent; what remains is the pages left,
         * so total-progress stays where it was at the switch (the stopped source dirties nothing).
         */
        @Override
        public void progress(PostcopyProgress p) {
            postcopyProgress = p;
            if (lastPages >= 0) {
                ctx.progressDone(Math.max(0, p.pagesSent() - lastPages) * RamBlock.PAGE_SIZE);
            }
            lastPages = p.pagesSent();
            ctx.progressRemaining(p.pagesLeft() * RamBlock.PAGE_SIZE);
        }

        @Override
        public long maxPostcopyBandwidth() {
            return settings.parameters().maxPostcopyBandwidth();
        }

        @Override
        public Recovery awaitRecovery(boolean preempt) throws MigrationException, InterruptedException {
            while (true) {
                MigrationUri to;
                synchronized (recoveryLock) {
                    while (recoveryUri == null) {
                        if (shutdown) {
                            throw new MigrationException.ChannelFailed("the source daemon shut down in postcopy: "
                                    + "the guest is lost (neither side holds all of it)", null);
                        }
                        if (ctx.isCancelled()) {
                            throw new MigrationException.Cancelled();
                        }
                        recoveryLock.wait(1000);
                    }
                    to = recoveryUri;
                    recoveryUri = null;
                }
                SocketChannel ch = null;
                try {
                    ch = openConnection(to);
                    channel = ch;
                    // The preempt channel after the main one: the destination takes them in this order.
                    return new Recovery(ch, preempt ? openConnection(to) : null);
                } catch (IOException e) {
                    if (ch != null) {
                        try {
                            ch.close();
                        } catch (IOException closing) {
                            e.addSuppressed(closing);
                        }
                    }
                    phase(PostcopyPhase.PAUSED, e.getMessage());
                }
            }
        }
    }

    /**
     * The daemon shuts down: a migration in postcopy stops sending and can never resume (its job
     * fails); one in precopy is left to its cancel. Any thread.
     */
    public void shutdown() {
        synchronized (recoveryLock) {
            shutdown = true;
            recoveryLock.notifyAll();
        }
        if (inPostcopy()) {
            closeChannel();
        }
    }

    /** Whether the status is one of postcopy's (the destination runs the guest; nothing can roll back). */
    public boolean inPostcopy() {
        MigrationStatus s = status;
        return s == MigrationStatus.POSTCOPY_ACTIVE || s == MigrationStatus.POSTCOPY_PAUSED
                || s == MigrationStatus.POSTCOPY_RECOVER_SETUP || s == MigrationStatus.POSTCOPY_RECOVER;
    }

    /**
     * migrate-start-postcopy: switch to postcopy after the current pass. Main loop. Without the
     * capability at the start, refused as QEMU; once the migration ended, ignored (as QEMU: the
     * command races with the end).
     *
     * @throws JobException with QEMU's text
     */
    public void startPostcopy() {
        if (!postcopyRam) {
            throw JobException.generic("Enable postcopy with migrate_set_capability before the start of migration");
        }
        JointSwitchover j = joint;
        if (j != null && !inPostcopy() && !status.isFinal()) {
            j.checkComplete(); // every mirror must be ready to complete at the stop
        }
        postcopyRequested = true;
    }

    /**
     * migrate with resume: continue a paused postcopy over {@code to}. Main loop.
     *
     * @throws JobException "Cannot resume if there is no paused migration" (QEMU's text)
     */
    public void resumePostcopy(MigrationUri to) {
        synchronized (statusLock) {
            if (status != MigrationStatus.POSTCOPY_PAUSED) {
                throw JobException.generic("Cannot resume if there is no paused migration");
            }
            setStatus(MigrationStatus.POSTCOPY_RECOVER_SETUP);
        }
        synchronized (recoveryLock) {
            recoveryUri = to;
            recoveryLock.notifyAll();
        }
    }

    /**
     * migrate-pause on the source: breaks the connection of an active (or recovering) postcopy,
     * which then pauses. Main loop.
     *
     * @return false when not in postcopy-active or postcopy-recover (the caller reports QEMU's error)
     */
    public boolean pausePostcopy() {
        MigrationStatus s = status;
        if (s != MigrationStatus.POSTCOPY_ACTIVE && s != MigrationStatus.POSTCOPY_RECOVER) {
            return false;
        }
        closeChannel();
        return true;
    }

    @Override
    public boolean cancel(boolean force) {
        if (inPostcopy()) {
            throw JobException.generic(POSTCOPY_CANCEL_REFUSED);
        }
        synchronized (statusLock) {
            if (committedOnAck) {
                // The destination runs the guest already: nothing to roll back. A soft cancel lets
                // the job complete, as QEMU's migrate_cancel does nothing once the migration completed.
                return false;
            }
            cancelled = true;
        }
        if (!status.isFinal()) {
            setStatus(MigrationStatus.CANCELLING);
        }
        if (running) {
            closeChannel(); // unblocks a connect, a write or the wait for the ack
        }
        return true;
    }

    /**
     * Accepted in READY (or STANDBY); the switchover happens at the next pass whose estimate
     * fits. A joint switchover is refused unless every mirror of the transaction is ready.
     */
    @Override
    public void complete() {
        JointSwitchover j = joint;
        if (j != null) {
            j.checkComplete();
        }
    }

    /**
     * job-change: downtime-limit and max-bandwidth, through migrate-set-parameters' own merge
     * (the same checks and texts; max-bandwidth becomes the job's speed there).
     */
    @Override
    public void change(MigrationChange options) {
        if (options.startPostcopy().orElse(false)) {
            startPostcopy();
        }
        try {
            parameterChange.apply(MigrationParameters.Update.ofJobChange(boxed(options.downtimeLimit()),
                    boxed(options.maxBandwidth())));
        } catch (MigrationParameters.InvalidParameter e) {
            throw JobException.generic(e.getMessage());
        }
    }

    private static Long boxed(OptionalLong v) {
        return v.isPresent() ? v.getAsLong() : null;
    }

    /**
     * migrate-continue arrived while the job still finishes its run (status pre-switchover, job
     * not yet PENDING): the job is finalized as soon as it is. Main loop.
     */
    public void requestContinue() {
        continueRequested = true;
    }

    /** Whether migrate-continue is waiting for the job to reach PENDING. Main loop. */
    public boolean continueRequested() {
        return continueRequested;
    }

    @Override
    public void commit() {
        if (status == MigrationStatus.PRE_SWITCHOVER) {
            setStatus(MigrationStatus.DEVICE); // migrate-continue / job-finalize: QEMU's device phase, then completed
        }
        PrecopySender s = sender;
        FileSave f = fileSave;
        // QEMU's meaning: source stop to destination running (the destination's RESUMED); a file: until now.
        long downtime = f != null ? f.commit() : commitStream(s);
        downtimeMs = downtime < 0 ? 0 : Math.round(downtime / 1e6);
        totalTimeMs = System.currentTimeMillis() - startMillis;
        setStatus(MigrationStatus.COMPLETED);
    }

    private long commitStream(PrecopySender s) {
        s.commitSwitchover();
        s.frozenRamCheck().ifPresent(check -> {
            ramCheck = FrozenRamCheck.Result.RUNNING;
            check.whenComplete(this::ramChecked);
        });
        return s.downtimeNanos();
    }

    @Override
    public void abort() {
        PrecopySender s = sender;
        Job j = job;
        String error = j == null ? null : j.error().orElse(null);
        // Cancelled by its own user: cancelled. Failed, or aborted because a job of its transaction
        // failed or was cancelled: failed, and error-desc says why (the engine's "Transaction aborted ...").
        // QEMU's order around the source's RESUME: cancelling, RESUME, cancelled; failed, RESUME.
        boolean cancelledByUser = j != null && j.outcome().orElse(null) == JobOutcome.CANCELLED;
        if (!cancelledByUser) {
            errorDesc = error == null ? "migration failed" : error;
            setStatus(MigrationStatus.FAILED);
        }
        if (s != null && (result != null || s.postcopied())) {
            s.abortSwitchover(); // run() ended with the source stopped: the destination discards, the source resumes
        }
        FileSave f = fileSave;
        if (result != null && f != null) {
            f.resume(); // the file stays as written; the source runs on
        }
        if (cancelledByUser) {
            setStatus(MigrationStatus.CANCELLED);
        }
    }

    @Override
    public void clean() {
        closeChannel();
        onClean.run();
    }

    /**
     * Turns Nagle off on a TCP connection: the sender coalesces its writes itself, and the small
     * records that end the stream (COMPLETE, START) must not wait for the peer's delayed ack.
     */
    static void noDelay(SocketChannel ch) {
        try {
            ch.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
        } catch (UnsupportedOperationException | IOException e) {
            // a UNIX socket has no Nagle; nothing to turn off
        }
    }

    /** Closes every connection of the migration: the main stream and the multifd channels, as one. */
    private void closeChannel() {
        for (SocketChannel ch : connections) {
            try {
                ch.close();
            } catch (IOException e) {
                // closing only releases the socket; nothing to report
            }
        }
    }

    @Override
    public MigrationInfo info() {
        Pass last = lastPass;
        MigrationProgress p = last == null ? null : last.progress();
        MigrationStatus s = status;
        return new MigrationInfo(s, p == null ? 0L : p.pass(), last == null ? 0L : (long) last.dirtyRate(),
                p != null && p.expectedDowntimeMs() != Long.MAX_VALUE ? OptionalLong.of(p.expectedDowntimeMs())
                        : OptionalLong.empty(),
                p == null ? machine.ram().size() : p.remainingBytes(), p != null && p.converged(),
                p != null && p.throttlePercent() > 0 && !s.isFinal() ? OptionalLong.of(p.throttlePercent())
                        : OptionalLong.empty(),
                p != null && p.dirtyLimit() > 0 && !s.isFinal() ? OptionalLong.of(p.dirtyLimit()) : OptionalLong.empty());
    }

    /** The frozen-RAM check's outcome (the check's thread): kept for query-migrate, loud when it failed. */
    private void ramChecked(FrozenRamCheck.Result r, Throwable error) {
        if (error != null) {
            log.error("outgoing migration of '{}': the check of the frozen RAM failed to run", machine.name(), error);
            r = new FrozenRamCheck.Result(FrozenRamCheck.Status.SKIPPED, 0, java.util.List.of());
        }
        ramCheck = r;
        if (r.status() == FrozenRamCheck.Status.FAILED) {
            log.error("outgoing migration of '{}' to {}: {}", machine.name(), uri, r.describe());
            events.ramCheckFailed(r);
        } else {
            log.info("outgoing migration of '{}': {}", machine.name(), r.describe());
        }
    }

    /**
     * The check of the source's frozen RAM against what was sent (verified streams, after the
     * hand-over); empty before commit or when the stream was not verified.
     */
    public java.util.Optional<FrozenRamCheck.Result> ramCheck() {
        return java.util.Optional.ofNullable(ramCheck);
    }

    /** A consistent view for query-migrate: one pass, each other member read once. */
    public MigrationView view() {
        Pass last = lastPass;
        MigrationProgress p = last == null ? null : last.progress();
        double dirtyRate = last == null ? 0 : last.dirtyRate();
        MigrationResult r = result;
        PostcopyProgress pc = postcopyProgress;
        // The newest counters: the result, else within a pass (no postcopy yet) the live ones, else the last pass's.
        PassProgress live = r == null && pc == null ? livePass : null;
        SentCounters sent = r != null ? r : live != null ? live : p;
        long transferred = sent == null ? 0 : sent.bytesSent() + (sent == p && pc != null ? pc.bytes() : 0);
        long normal = sent == null ? 0 : sent.pagesSent();
        PrecopySender s = sender;
        long zero = (sent == null ? 0 : sent.zeroPages()) + (s == null ? 0 : s.implicitZeroPages());
        long multifdBytes = sent == null ? 0 : sent.multifdBytes();
        long pre = precopyBytes < 0 ? transferred : precopyBytes;
        long total = totalTimeMs >= 0 ? totalTimeMs : System.currentTimeMillis() - startMillis;
        return new MigrationView(status, total, setupTimeMs, downtimeMs,
                p == null || p.expectedDowntimeMs() == Long.MAX_VALUE ? settings.parameters().downtimeLimitMs()
                        : p.expectedDowntimeMs(),
                status == MigrationStatus.POSTCOPY_PAUSED ? pausedReason : errorDesc, transferred,
                status == MigrationStatus.COMPLETED ? 0 : postcopyProgress != null ? postcopyProgress.pagesLeft() * RamBlock.PAGE_SIZE
                        : live != null ? live.remainingBytes() : p == null ? machine.ram().size() : p.remainingBytes(),
                machine.ram().size(), zero, normal, (long) (dirtyRate / RamBlock.PAGE_SIZE),
                live != null ? live.bandwidth() * 8 / 1e6 : p == null ? 0 : p.bandwidth() * 8 / 1e6, p == null ? (r == null ? 0 : r.passes()) : p.pass(), pre, transferred - pre,
                status.isFinal() || p == null ? 0 : p.throttlePercent(),
                postcopyProgress == null ? 0 : postcopyProgress.requests(),
                postcopyProgress == null ? 0 : postcopyProgress.bytes(), multifdBytes);
    }

    /** Why postcopy paused, while it is paused. */
    public java.util.Optional<String> pausedReason() {
        return status == MigrationStatus.POSTCOPY_PAUSED ? java.util.Optional.ofNullable(pausedReason)
                : java.util.Optional.empty();
    }
}
