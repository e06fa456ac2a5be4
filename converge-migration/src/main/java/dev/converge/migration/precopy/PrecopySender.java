package dev.converge.migration.precopy;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MigrationBitmap;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.multifd.MultifdSender;
import dev.converge.migration.multifd.ZeroPageDetection;
import dev.converge.migration.wire.Checksums;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The precopy loop of an outgoing migration (mechanism only; convergence is the
 * {@link ConvergencePolicy}'s, pausing, cancelling, rate and completion the
 * {@link MigrationControl}'s).
 * <ol>
 * <li>Setup: mark every page ever written (the others are zero, as on the destination, which
 * starts zeroed), send the header and the RAM layout, start the {@link ReturnPath} reader.</li>
 * <li>Passes: send every marked page (zero pages as markers, others in batches with one
 * gathering write straight from guest memory), END_OF_PASS, sync the dirty log, measure
 * bandwidth (judged by the slowest recent 100 ms window, {@link BandwidthMeter}), ask the policy with the measured fixed switchover cost (the destination's lag and
 * round trip from its PASS_ACKs), report progress. Before trusting a "converged", the sender
 * waits for that pass's ack, so the lag in the estimate is the current one. Repeat until the
 * control requests completion.</li>
 * <li>Switchover ({@link #runToSwitchover}): ask the vCPUs to stop and, while a KVM vCPU waits
 * for a host CPU to take its kick, send what is dirty ({@link Machine#requestStop}); then stop
 * them (finish-migrate), let the control
 * finish what must end with the guest stopped ({@link MigrationControl#vcpusStopped}), send what is
 * still dirty, the device state and COMPLETE, wait for the destination's ack. On any failure
 * the source returns to its previous run state, so a failed migration leaves it running. After
 * the ack the destination holds everything but does not run it, and the source stays stopped.</li>
 * <li>Decision: {@link #commitSwitchover} (START: the destination runs and answers RESUMED,
 * which ends the downtime; the source goes to postmigrate) or {@link #abortSwitchover} (ABORT: the destination discards, the source
 * resumes). The job engine calls them from its commit and abort; a migration alone in its job
 * transaction commits on its own thread right after the ack (see the job package).</li>
 * </ol>
 * A blocked write or the wait for the ack end when another thread closes the channel (that is
 * how a cancel reaches them). One sender runs one migration; it is not reusable.
 * <p>
 * A verified stream (the default; capability {@code x-converge-verify}) seals every record with
 * a CRC32C, records each page's CRC32C where it encodes the page ({@link PageCrcTable}), and sends
 * that table's digest in COMPLETE, which the destination compares with the table of what it
 * received: the stopped window hashes O(pages) integers, never the RAM. After the hand-over
 * {@link FrozenRamCheck} compares the frozen RAM with the table in the background
 * ({@link #frozenRamCheck}). Pages are copied out of guest memory before they are checksummed and
 * sent: the guest keeps writing while they go, and a checksum of memory that changed before the
 * write would fail a correct stream. (The copy and the CRCs are what verification costs while the
 * guest runs; an unverified stream writes straight from guest memory.)
 */
public final class PrecopySender {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PrecopySender.class);
    /** Longest wait between passes when nothing was dirty. */
    static final Duration IDLE_WAIT = Duration.ofMillis(20);
    /** How long a converged-looking pass waits for the destination's ack before it counts as not converged. */
    static final Duration PASS_ACK_WAIT = Duration.ofSeconds(1);
    /**
     * Longest wait in {@link #commitSwitchover} for the destination's RESUMED. It runs on the job
     * engine's main loop, so it is bounded; normally it is one loopback round trip.
     */
    static final Duration RESUMED_WAIT = Duration.ofSeconds(1);
    /** A preparation before the stop longer than this is followed by one more pass while the guest runs. */
    static final Duration CATCH_UP_AFTER = Duration.ofMillis(10);
    /** See {@link #controlInterval}: two full batches (a full batch is 256 KiB). */
    static final long CONTROL_INTERVAL = 512 << 10;
    private static final int CTRL_CAPACITY = 64 << 10;
    /**
     * After a failed write, the longest wait for the destination's reason on the return path
     * (its ERROR follows its close by about a round trip); without one the write's own error stands.
     */
    static final Duration REASON_WAIT = Duration.ofSeconds(2);
    /** Passes in which the digest of the sent table is timed. */
    static final int DIGEST_SAMPLES = 8;
    private static final int BATCH_HEAD_MAX = WireFormat.RECORD_HEADER_SIZE + WireFormat.BATCH_FIXED
            + 8 * WireFormat.MAX_BATCH_PAGES;

    private final Machine machine;
    private final GuestRam ram;
    private final ByteChannel in;
    private final GatheringByteChannel out;
    private final java.util.function.Supplier<ConvergencePolicy> policy;
    private final MigrationControl control;
    /** Whether the stream is verified (CRC32C trailers, RAM digest in COMPLETE). */
    private final boolean verified;
    private final SendOptions options;
    /** The multifd channels while they are open; null without multifd. Set and closed by the running thread. */
    private MultifdSender multifd;
    /**
     * The postcopy preempt channel (capability postcopy-preempt), opened at the start; null
     * without. Set by the running thread; the postcopy phase takes it over, else it closes with the run.
     */
    private GatheringByteChannel preempt;
    /** The run state before the switchover, to return to on abort; set by the running thread before the ack. */
    private volatile RunState previous;
    /** System.nanoTime() when the vCPUs stopped; set by the running thread. */
    private volatile long stoppedAt;
    /** System.nanoTime() when the destination said RESUMED (or the wait for it ended); set by commit. */
    private volatile long resumedAt;
    /** The return path reader; set by the running thread before the first pass. */
    private volatile ReturnPath returnPath;
    /**
     * Pages never written when the migration started: zero on both sides (the destination starts
     * zeroed), so the first pass skips them; query-migrate counts them as zero pages (duplicate), as
     * QEMU, whose first pass finds them zero. Set once by the running thread at setup.
     */
    private volatile long implicitZeroPages;
    /**
     * Whether the migration switched to postcopy: the destination runs the guest since then, so
     * commit sends no START and nothing can roll back. Set by the running thread.
     */
    private volatile boolean postcopied;
    /** The switchover's steps, set by the running thread once the destination acked; RESUMED added by commit. */
    private volatile SwitchoverTrace trace;
    /**
     * Whether {@link #commitSwitchover} ran (it runs once; a second call returns the first's
     * outcome), and whether it wrote START. Written by the one thread that commits (the owner
     * hands the sender over between its threads through its own locks); volatile for the readers.
     */
    private volatile boolean committed;
    private volatile boolean startWritten;
    /** The check of the frozen RAM after the hand-over; set by commit in a verified stream, else null. */
    private volatile java.util.concurrent.CompletableFuture<FrozenRamCheck.Result> frozenRamCheck;

    /**
     * A fault injected where a page has been recorded in the sent table and is about to be
     * encoded (tests only: a corruption on the send path that the stream's own checksum cannot see).
     */
    @FunctionalInterface
    interface SendFault {
        void encoding(int block, long page, ByteBuffer data);
    }

    // All state below is confined to the thread that calls run().
    private final ByteBuffer ctrl = ByteBuffer.allocateDirect(CTRL_CAPACITY).order(WireFormat.ORDER);
    /** ctrl, up to MAX_BATCH_PAGES pages, and the batch's trailer in a verified stream. */
    private final ByteBuffer[] gather = new ByteBuffer[2 + WireFormat.MAX_BATCH_PAGES];
    /** A verified stream's page copies (one slice per batch slot) and batch trailer; null otherwise. */
    private final ByteBuffer[] pageCopies;
    private final ByteBuffer trailer = ByteBuffer.allocateDirect(WireFormat.CHECKSUM_SIZE).order(WireFormat.ORDER);
    private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    /** A verified stream's CRC32C of every page as last sent; null otherwise. Written by the running thread. */
    private final PageCrcTable sentCrcs;
    /** The fastest digest of {@link #sentCrcs} so far ({@link #measureDigest}): its share of the switchover's fixed cost. */
    private long digestNanos;
    /** Digests timed so far. */
    private int digestSamples;
    /** Tests only; null otherwise. */
    private SendFault sendFault;
    /** Whether the pending batch ends with {@link #trailer}. */
    private boolean trailerPending;
    private final long[] batchOffsets = new long[WireFormat.MAX_BATCH_PAGES];
    /** In a verified stream, the CRC32C of each page of the pending batch (its trailer is built from them). */
    private final int[] batchCrcs = new int[WireFormat.MAX_BATCH_PAGES];
    private int batchCount;
    /**
     * Bytes between calls of the control (rate limit, pause point, cancel check). Not a flag that
     * is true in every pass and false only in the stopped window: the JIT compiles a branch never
     * taken as a trap, and the switchover's first batch would then deoptimize the send loop and
     * run it interpreted inside the downtime (seen in -XX:+PrintCompilation at every switchover).
     * With an interval both outcomes occur in every pass; the switchover sets it to "never". The
     * end of each pass is a control point too, so that short passes are rate-limited.
     */
    private long controlInterval = CONTROL_INTERVAL;
    private long sinceControl;
    /** The bitmap of the pass under way, for {@link #reportPassProgress}; null outside the passes. */
    private MigrationBitmap passBitmap;
    private long passProgressAt;
    private long passProgressBytes;
    private int batchBlock = -1;
    private long bytesSent;
    private long pagesSent;
    private long zeroPages;
    /** The estimate the last pass was judged by, and its fixed cost (for the trace). */
    private ConvergencePolicy.Estimate lastEstimate;
    /** Auto-converge's state; applied only while the control supplies parameters. */
    private final AutoConverge autoConverge = new AutoConverge();
    /** The dirty limit applied to the vCPUs, bytes/s per vCPU, 0 when none. */
    private long dirtyLimit;
    private Duration lastFixedCost = Duration.ZERO;

    /**
     * @param channel the connection to the destination: the stream is written to it and the
     *                return path read from it (a TCP or UNIX {@code SocketChannel})
     */
    public <C extends ByteChannel & GatheringByteChannel> PrecopySender(Machine machine, C channel,
            ConvergencePolicy policy, MigrationControl control) {
        this(machine, channel, constant(policy), control);
    }

    /**
     * @param policy read after every pass, so a changed downtime-limit applies at once
     */
    public <C extends ByteChannel & GatheringByteChannel> PrecopySender(Machine machine, C channel,
            java.util.function.Supplier<ConvergencePolicy> policy, MigrationControl control) {
        this(machine, channel, policy, control, true);
    }

    /**
     * @param verified whether to send a verified stream (CRC32C trailers and the RAM digest;
     *                 the capability {@code x-converge-verify})
     */
    public <C extends ByteChannel & GatheringByteChannel> PrecopySender(Machine machine, C channel,
            java.util.function.Supplier<ConvergencePolicy> policy, MigrationControl control, boolean verified) {
        this(machine, channel, policy, control, SendOptions.single(verified));
    }

    /**
     * @param options verification, zero-page detection and multifd
     */
    public <C extends ByteChannel & GatheringByteChannel> PrecopySender(Machine machine, C channel,
            java.util.function.Supplier<ConvergencePolicy> policy, MigrationControl control, SendOptions options) {
        this.options = Objects.requireNonNull(options);
        this.verified = options.verified();
        if (verified) {
            ByteBuffer copies = ByteBuffer.allocateDirect(WireFormat.MAX_BATCH_PAGES * WireFormat.PAGE_SIZE);
            pageCopies = new ByteBuffer[WireFormat.MAX_BATCH_PAGES];
            for (int i = 0; i < pageCopies.length; i++) {
                pageCopies[i] = copies.slice(i * WireFormat.PAGE_SIZE, WireFormat.PAGE_SIZE);
            }
        } else {
            pageCopies = null;
        }
        this.sentCrcs = verified ? new PageCrcTable(machine.ram().blocks()) : null;
        this.machine = Objects.requireNonNull(machine);
        this.ram = machine.ram();
        this.in = Objects.requireNonNull(channel);
        this.out = channel;
        this.policy = Objects.requireNonNull(policy);
        this.control = Objects.requireNonNull(control);
    }

    /** Tests only: injects {@code fault} on the send path (before run()). */
    void injectSendFault(SendFault fault) {
        this.sendFault = fault;
    }

    /**
     * The check of the source's frozen RAM against what was sent ({@link FrozenRamCheck}),
     * started by {@link #commitSwitchover} in a verified stream; empty before, or when the stream
     * is not verified.
     */
    public java.util.Optional<java.util.concurrent.CompletableFuture<FrozenRamCheck.Result>> frozenRamCheck() {
        return java.util.Optional.ofNullable(frozenRamCheck);
    }

    private static java.util.function.Supplier<ConvergencePolicy> constant(ConvergencePolicy p) {
        Objects.requireNonNull(p);
        return () -> p;
    }

    /**
     * Runs the migration to its end and commits it: {@link #runToSwitchover} then
     * {@link #commitSwitchover}.
     *
     * @throws MigrationException when it failed or was cancelled; the source then runs as before
     */
    public MigrationResult run() throws MigrationException {
        MigrationResult r = runToSwitchover();
        commitSwitchover();
        return r;
    }

    /**
     * Runs setup, passes and the switchover up to the destination's ack. Returns with the
     * source stopped in {@code finish-migrate}; exactly one of {@link #commitSwitchover} or
     * {@link #abortSwitchover} must follow.
     *
     * @throws MigrationException when it failed or was cancelled; the source then runs as before
     */
    public MigrationResult runToSwitchover() throws MigrationException {
        try {
            return doRun();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException.Interrupted(e);
        } finally {
            if (multifd != null) {
                multifd.close(); // failed or cancelled: the channels go with the migration (after the switchover: closed already)
            }
            if (preempt != null) {
                try {
                    preempt.close(); // postcopy is over, or the migration ended without it
                } catch (IOException e) {
                    // only releasing
                }
            }
            // Auto-converge ends with the migration (as QEMU's): a source that resumes after a
            // failure or a cancel runs at full speed again.
            if (autoConverge.throttle() > 0) {
                machine.vcpus().setThrottle(0);
            }
            if (dirtyLimit > 0) {
                machine.vcpus().setDirtyLimit(0);
            }
        }
    }

    /** Pages never written at the start, which the destination holds as zero without a record (see the field). */
    public long implicitZeroPages() {
        return implicitZeroPages;
    }

    /** When the vCPUs stopped for the switchover (System.nanoTime()), 0 before. */
    public long stoppedAtNanos() {
        return stoppedAt;
    }

    /**
     * The downtime as QEMU means it, source stop to destination running: from
     * {@link #stoppedAtNanos()} to the destination's RESUMED (or, when that did not come, to
     * the end of the wait for it). -1 before {@link #commitSwitchover}.
     */
    public long downtimeNanos() {
        long s = stoppedAt;
        long r = resumedAt;
        return s == 0 || r == 0 ? -1 : r - s;
    }

    /**
     * Commits: sends START and moves the source to {@code postmigrate}. Cannot fail: if START
     * cannot be written the destination sees the connection end and discards, and the source
     * still stays stopped, so the guest never runs twice; nothing is lost (the source keeps
     * its RAM and {@code cont} resumes it). Runs once: a second call returns the first's outcome.
     *
     * @return whether START was written
     */
    public boolean commitSwitchover() {
        if (committed) {
            return startWritten; // the owner committed early, on the migration's thread
        }
        committed = true;
        if (postcopied) {
            machine.completeSwitchover(); // the destination has run the guest since POSTCOPY_RUN
            startWritten = true;
            return true;
        }
        long decided = System.nanoTime();
        boolean sent = sendDecision(new StreamRecord.Start());
        startWritten = sent;
        machine.completeSwitchover();
        ReturnPath rp = returnPath;
        long resumed = 0;
        if (sent && rp != null) {
            try {
                resumed = rp.awaitResumed(RESUMED_WAIT.toNanos());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        resumedAt = resumed != 0 ? resumed : System.nanoTime();
        if (sentCrcs != null && sent) {
            // After RESUMED: the scan's CPUs must not delay the destination's start (they may share a host).
            frozenRamCheck = FrozenRamCheck.start(machine, sentCrcs);
        }
        SwitchoverTrace t = trace;
        if (t != null) {
            trace = t.withDecision(decided, resumed);
            log.info("migration of '{}' switched over: {}", machine.name(), trace);
        }
        return sent;
    }

    /**
     * Rolls back after {@link #runToSwitchover} returned: sends ABORT (best effort; a
     * destination that does not get it discards anyway when the connection ends) and resumes
     * the source in its previous run state.
     */
    public void abortSwitchover() {
        if (postcopied) {
            // The guest ran on the destination: the source's copy is stale, it must never resume.
            machine.completeSwitchover();
            return;
        }
        sendDecision(new StreamRecord.Abort());
        RunState p = previous;
        if (p != null) {
            machine.abortSwitchover(p);
        }
    }

    private boolean sendDecision(StreamRecord decision) {
        ByteBuffer b = StreamEncoder.encode(decision, verified);
        try {
            while (b.hasRemaining()) {
                bytesSent += out.write(b);
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private MigrationResult doRun() throws MigrationException, InterruptedException {
        checkCancelled();
        MigrationBitmap bitmap = ram.newMigrationBitmap();
        // The first pass sends every page ever written; a page never written is zero, and so is
        // the destination's copy (it starts zeroed), so it needs no record at all.
        ram.syncDirtyLog(bitmap);
        ram.markEverWritten(bitmap);
        if (options.zeroPageDetection() != ZeroPageDetection.NONE) {
            implicitZeroPages = ram.size() / RamBlock.PAGE_SIZE - bitmap.count();
        }
        StreamEncoder.putHeader(ctrl, WireFormat.VERSION_CURRENT, (verified ? WireFormat.FLAG_VERIFIED : 0)
                | (control.postcopyAdvised() ? WireFormat.FLAG_POSTCOPY : 0));
        List<StreamRecord.BlockInfo> layout = new ArrayList<>();
        for (RamBlock b : ram.blocks()) {
            layout.add(new StreamRecord.BlockInfo(b.name(), b.size()));
        }
        ctrl.put(StreamEncoder.encode(new StreamRecord.RamBlocks(layout), verified));
        long session = options.multifd() == null ? 0 : new java.security.SecureRandom().nextLong();
        if (options.multifd() != null) {
            ctrl.put(StreamEncoder.encode(new StreamRecord.MultifdSetup(options.multifd().channels(),
                    options.multifd().compression(), session), verified));
        }
        if (options.preempt() != null) {
            ctrl.put(StreamEncoder.encode(new StreamRecord.PostcopyPreempt(), verified));
        }
        flush();
        // Read before the channels open: a destination that refuses the stream (its capability
        // multifd differs) says why, and that reason beats the channels' connect errors.
        ReturnPath rp = new ReturnPath(in);
        returnPath = rp;
        Thread.ofVirtual().name(machine.name() + "-migration-return").start(rp);
        if (options.preempt() != null) {
            // After the declaration, as multifd's channels: the destination accepts it once it has read it.
            // Opened now (QEMU too sets it up at the start), so that the switch to postcopy connects nothing.
            try {
                preempt = options.preempt().open(0);
            } catch (IOException e) {
                throw new MigrationException.ChannelFailed("opening the postcopy preempt channel failed: " + e.getMessage(), e);
            }
            dev.converge.migration.postcopy.PostcopySource.greetPreempt(preempt, ram, verified);
        }
        if (options.multifd() != null) {
            // After the setup is out: the destination accepts the channels only once it has read it.
            try {
                multifd = MultifdSender.open(options.multifd(), WireFormat.VERSION_CURRENT,
                        verified ? WireFormat.FLAG_VERIFIED : 0, session,
                        options.zeroPageDetection() == ZeroPageDetection.MULTIFD, sentCrcs, options.opener(),
                        machine.name());
            } catch (IOException e) {
                throw channelFailed(e);
            }
        }
        autoConverge.start(System.nanoTime(), totalBytes());

        BandwidthMeter meter = new BandwidthMeter();
        passBitmap = bitmap;
        boolean signalledConverged = false;
        long pass = 0;
        while (true) {
            long passStart = System.nanoTime();
            long passBytesStart = totalBytes();
            sendMarked(bitmap);
            controlPoint(); // a pass shorter than the interval is rate-limited too
            pass++;
            endPass(pass);
            long passEnd = System.nanoTime();
            long passBytes = totalBytes() - passBytesStart;
            long elapsed = Math.max(1, passEnd - passStart);
            meter.record(passBytes, elapsed);
            if (pass == 1) {
                meter.firstPassOver();
            }
            double bandwidth = meter.forSwitchover();
            sync(bitmap);
            throttle();
            measureDigest();
            long remaining = bitmap.count() * RamBlock.PAGE_SIZE;
            Duration fixed = fixedCost(rp);
            ConvergencePolicy.Estimate estimate = estimate(remaining, bandwidth, fixed);
            if (estimate.converged()) {
                ReturnPath.PassAck ack = rp.awaitPassAck(pass, PASS_ACK_WAIT);
                if (ack == ReturnPath.PassAck.ACKED) {
                    // Converged on the lag of an earlier pass: wait until the destination has applied
                    // this one, so that its lag is in the estimate, then count what was dirtied meanwhile.
                    sync(bitmap);
                    remaining = bitmap.count() * RamBlock.PAGE_SIZE;
                    fixed = fixedCost(rp);
                    estimate = estimate(remaining, bandwidth, fixed);
                } else if (ack == ReturnPath.PassAck.TIMED_OUT) {
                    // No ack in time: the destination lags at least that long; not converged this pass.
                    fixed = PASS_ACK_WAIT;
                    estimate = estimate(remaining, bandwidth, fixed);
                }
                // ENDED: no ack can come; the estimate stands and the switchover reports the loss.
            }
            lastEstimate = estimate;
            lastFixedCost = fixed;
            if (log.isDebugEnabled()) {
                log.debug("migration of '{}' pass {}: {} bytes dirty, {} B/s, stop {} (overlaps the send), fixed cost {} (lag {} ns, "
                        + "rtt {} ns, digest {} ns, decision {}, accelerator state {}), expected downtime {} ms", machine.name(),
                        pass, remaining, (long) bandwidth, stopCost(), fixed, rp.lastLagNanos(), rp.roundTripNanos(), digestNanos,
                        control.decisionLatency(), machine.accelerator().switchoverCost(), estimate.expectedDowntimeMs());
            }
            MigrationProgress progress = new MigrationProgress(pass, totalBytes(), normalPages(), zeroPageCount(), remaining,
                    meter.latest(), estimate.expectedDowntimeMs(), estimate.converged(), autoConverge.throttle(),
                    dirtyLimit, multifdBytes());
            control.progress(progress);
            if (estimate.converged() && !signalledConverged) {
                signalledConverged = true;
                control.converged(progress);
            }
            checkCancelled();
            if (control.postcopyRequested()) {
                return switchToPostcopy(bitmap, pass);
            }
            if (control.completeRequested()) {
                // The estimate is some ms old by now (progress, events, on busy CPUs a preemption),
                // and the guest went on writing: what the stop finds is what counts (seen: 5 MB at
                // the estimate, 12.6 MB at the stop, 16 ms later). Look again right before it; when
                // that no longer fits, the next pass sends it.
                sync(bitmap);
                remaining = bitmap.count() * RamBlock.PAGE_SIZE;
                ConvergencePolicy.Estimate atStop = estimate(remaining, bandwidth, fixed);
                if (atStop.converged()) {
                    lastEstimate = atStop;
                    return switchover(bitmap, pass);
                }
                log.debug("migration of '{}' pass {}: {} bytes dirty at the stop, expected downtime {} ms: one more pass",
                        machine.name(), pass, remaining, atStop.expectedDowntimeMs());
            }
            if (remaining == 0) {
                control.idle(IDLE_WAIT);
                checkCancelled();
                sync(bitmap);
            }
        }
    }

    /**
     * Ends pass {@code pass}: with multifd a sync point of every channel first (each has written
     * everything before it), then END_OF_PASS on the main stream, which the destination answers
     * with PASS_ACK once the pass is applied.
     */
    private void endPass(long pass) throws MigrationException, InterruptedException {
        if (multifd != null) {
            sendBatch(); // the main stream's zero markers of this pass go before the sync
            try {
                multifd.sync(pass);
            } catch (IOException e) {
                throw channelFailed(e);
            }
        }
        ctrl.put(StreamEncoder.encode(new StreamRecord.EndOfPass(pass), verified));
        // Timed before the write: on a fast link the PASS_ACK can arrive before flush() returns, and
        // an ack that finds no send time is not timed, which leaves the fixed cost unmeasured (0).
        returnPath.passSent(pass, System.nanoTime());
        flush();
    }

    private MigrationResult switchover(MigrationBitmap bitmap, long passes) throws MigrationException, InterruptedException {
        passBitmap = null; // the passes are over: the result reports from here
        long before = System.nanoTime();
        control.switchingOver();
        if (System.nanoTime() - before > CATCH_UP_AFTER.toNanos()) {
            // The owner's preparation took a while (a joint switchover flushing the mirrors'
            // targets) and the guest wrote meanwhile: send that while it still runs, not after the stop.
            sync(bitmap);
            sendMarked(bitmap);
            controlPoint();
            if (multifd != null) {
                endPass(++passes); // a page sent now may be sent again after the stop: a sync point between
            }
        }
        // The downtime starts when the stop is asked for, as QEMU's (downtime_start before vm_stop):
        // getting the vCPUs out of the guest is part of it (KVM: the kick and the exit from KVM_RUN).
        long stopped = System.nanoTime();
        long beforeStop = totalBytes();
        if (machine.requestStop()) {
            // The vCPUs leave the guest meanwhile (a KVM vCPU waits for a host CPU to take its kick,
            // tens of ms on busy CPUs, and runs no guest code while it waits): send what is dirty now
            // instead of waiting idle, so that only what they wrote until they stopped is left after.
            try {
                controlInterval = Long.MAX_VALUE; // no pause point with the vCPUs on their way out
                sync(bitmap);
                sendMarked(bitmap);
                if (multifd != null) {
                    endPass(++passes); // a page sent now may be sent again after the stop: a sync point between
                }
            } catch (Throwable t) {
                machine.withdrawStopRequest();
                throw t;
            }
        }
        long overlapSent = System.nanoTime();
        RunState previous;
        try {
            previous = machine.beginSwitchover();
        } catch (RuntimeException e) {
            machine.withdrawStopRequest();
            throw e;
        }
        this.previous = previous;
        stoppedAt = stopped;
        long parked = System.nanoTime();
        long overlapBytes = totalBytes() - beforeStop;
        boolean done = false;
        Throwable failure = null;
        try {
            control.vcpusStopped();
            long drained = System.nanoTime();
            long bytesBefore = totalBytes();
            ram.syncDirtyLog(bitmap);
            long synced = System.nanoTime();
            controlInterval = Long.MAX_VALUE; // stopped: no rate limit, no pause point, as fast as it goes
            sendMarked(bitmap);
            if (multifd != null) {
                // Every channel drains before the device state: the destination has applied all pages when it loads it.
                endPass(++passes);
                try {
                    multifd.finish();
                } catch (IOException e) {
                    throw channelFailed(e);
                }
            }
            long pagesOut = System.nanoTime();
            putRecord(StreamEncoder.encode(new StreamRecord.DeviceState(ByteBuffer.wrap(machine.saveDeviceState())), verified));
            long stateSaved = System.nanoTime();
            if (verified) {
                // Out before hashing: on receipt of the device state the destination loads it and
                // hashes its own table meanwhile.
                flush();
                putRecord(StreamEncoder.encode(new StreamRecord.Complete(sentCrcs.digest()), true));
            } else {
                putRecord(StreamEncoder.encode(new StreamRecord.Complete(), false));
            }
            flush();
            long sent = System.nanoTime();
            returnPath.awaitAckComplete();
            ConvergencePolicy.Estimate e = lastEstimate;
            trace = new SwitchoverTrace(e.expectedDowntimeMs(), e.remainingBytes(), e.bandwidth(), lastFixedCost.toMillis(),
                    overlapBytes, totalBytes() - bytesBefore, stopped, overlapSent, parked, drained, synced, pagesOut,
                    stateSaved, sent, System.nanoTime(), 0, 0);
            done = true;
            return new MigrationResult(passes, totalBytes(), normalPages(), zeroPageCount(),
                    (System.nanoTime() - stopped) / 1_000_000, multifdBytes());
        } catch (Throwable t) {
            failure = t;
            throw t;
        } finally {
            if (!done) {
                control.switchoverFailed(failure);
                machine.abortSwitchover(previous);
            }
        }
    }

    /** Bytes sent on the main stream and the multifd channels. */
    private long totalBytes() {
        return bytesSent + multifdBytes();
    }

    private long multifdBytes() {
        return (multifd == null ? 0 : multifd.counters().bytes());
    }

    private long normalPages() {
        return pagesSent + (multifd == null ? 0 : multifd.counters().normalPages());
    }

    private long zeroPageCount() {
        return zeroPages + (multifd == null ? 0 : multifd.counters().zeroPages());
    }

    /**
     * The switch to postcopy: stop the vCPUs, let the owner finish what ends with them stopped
     * (the mirrors of a joint switchover), sync the dirty log one last time and hand the bitmap,
     * which now holds exactly the pages stale on the destination, to the postcopy phase. A
     * failure before the destination could run the guest resumes the source, as in precopy.
     */
    private MigrationResult switchToPostcopy(MigrationBitmap bitmap, long passes)
            throws MigrationException, InterruptedException {
        passBitmap = null; // postcopy reports its own progress from here
        control.postcopyStarting();
        // While the guest still runs, let the destination apply what is in flight (the pass just
        // ended): else the switch's records queue behind that backlog inside the downtime.
        returnPath.awaitPassAck(passes, PASS_ACK_WAIT);
        long stopped = System.nanoTime(); // as in precopy: the stop itself is downtime
        RunState before = machine.beginSwitchover();
        this.previous = before;
        stoppedAt = stopped;
        dev.converge.migration.postcopy.PostcopySource postcopy;
        try {
            control.vcpusStopped();
            ram.syncDirtyLog(bitmap);
            flush();
            postcopy = new dev.converge.migration.postcopy.PostcopySource(machine, bitmap, verified, control.postcopy());
            postcopy.start(out, returnPath, preempt);
        } catch (MigrationException | RuntimeException e) {
            machine.abortSwitchover(before);
            throw e;
        }
        postcopied = true;
        dev.converge.migration.postcopy.PostcopySource.Result r = postcopy.run();
        long resumed = returnPath.resumedAtNanos();
        resumedAt = resumed != 0 ? resumed : System.nanoTime();
        bytesSent += r.bytes();
        pagesSent += r.pagesSent() - r.zeroPages();
        zeroPages += r.zeroPages();
        return new MigrationResult(passes, bytesSent, pagesSent, zeroPages, (resumedAt - stopped) / 1_000_000);
    }

    /** Whether the migration switched to postcopy. */
    public boolean postcopied() {
        return postcopied;
    }

    /**
     * Times one digest of the sent table (the same work as at the switchover: the table's size
     * is fixed) in the first {@link #DIGEST_SAMPLES} passes; the fastest counts.
     */
    private void measureDigest() {
        if (sentCrcs != null && digestSamples < DIGEST_SAMPLES) {
            long t = System.nanoTime();
            sentCrcs.digest();
            long took = System.nanoTime() - t;
            digestNanos = digestSamples++ == 0 ? took : Math.min(digestNanos, took);
        }
    }

    /** Syncs the dirty log into {@code bitmap}; what it newly marks counts for auto-converge. */
    private void sync(MigrationBitmap bitmap) {
        autoConverge.dirtied(ram.syncDirtyLog(bitmap) * RamBlock.PAGE_SIZE);
    }

    /**
     * Applies auto-converge's throttle or the dirty limit, whichever the control has on (their
     * parameters may change meanwhile; the two exclude each other).
     */
    private void throttle() {
        AutoConverge.Params p = control.autoConverge();
        if (p != null) {
            int before = autoConverge.throttle();
            int now = autoConverge.evaluate(System.nanoTime(), totalBytes(), p);
            if (now != before) {
                machine.vcpus().setThrottle(now);
                log.info("migration of '{}': auto-converge throttles the vCPUs to {}%", machine.name(), now);
            }
            return;
        }
        MigrationControl.DirtyLimit d = control.dirtyLimit();
        if (d != null && autoConverge.triggered(System.nanoTime(), totalBytes(), d.triggerThreshold())
                && d.bytesPerSecond() != dirtyLimit) {
            dirtyLimit = d.bytesPerSecond();
            machine.vcpus().setDirtyLimit(dirtyLimit);
            log.info("migration of '{}': dirty-limit caps each vCPU at {} bytes/s", machine.name(), dirtyLimit);
        }
    }

    /** Sends every page marked in {@code bitmap}, clearing the marks. */
    private void sendMarked(MigrationBitmap bitmap) throws MigrationException, InterruptedException {
        List<RamBlock> blocks = ram.blocks();
        boolean zeroOnMain = options.zeroPagesOnMain();
        for (int b = 0; b < blocks.size(); b++) {
            RamBlock block = blocks.get(b);
            for (long page = bitmap.nextSet(b, 0); page >= 0; page = bitmap.nextSet(b, page + 1)) {
                // Clear before reading: a write racing the copy marks the page in the dirty log
                // again, and the next sync brings it back.
                bitmap.clear(b, page);
                if (zeroOnMain && block.isZeroPage(page)) {
                    if (ctrl.remaining() < WireFormat.RECORD_HEADER_SIZE + WireFormat.ZERO_PAGE_PAYLOAD + BATCH_HEAD_MAX) {
                        sendBatch();
                    }
                    if (sentCrcs != null) {
                        sentCrcs.recordZero(b, page);
                    }
                    StreamEncoder.putZeroPage(ctrl, b, page << RamBlock.PAGE_SHIFT, verified);
                    zeroPages++;
                } else if (multifd != null) {
                    try {
                        sinceControl += multifd.add(b, block, page);
                    } catch (IOException e) {
                        throw channelFailed(e); // a destination that refused the stream said why: that reason wins
                    }
                    if (sinceControl >= controlInterval) {
                        sendBatch(); // the main stream's zero markers queued so far, then the control point
                        controlPoint();
                    }
                } else {
                    if (batchCount == WireFormat.MAX_BATCH_PAGES || (batchCount > 0 && batchBlock != b)) {
                        sendBatch();
                    }
                    batchBlock = b;
                    batchOffsets[batchCount] = page << RamBlock.PAGE_SHIFT;
                    ByteBuffer data = block.page(page).asByteBuffer();
                    if (verified) {
                        data = pageCopies[batchCount].clear().put(data).flip();
                        batchCrcs[batchCount] = sentCrcs.record(b, page, data); // of the copy: exactly the bytes that are sent
                        if (sendFault != null) {
                            sendFault.encoding(b, page, data);
                            batchCrcs[batchCount] = PageCrcTable.crc(data); // the trailer seals what goes out
                        }
                    }
                    gather[1 + batchCount] = data;
                    batchCount++;
                }
            }
        }
        sendBatch();
    }

    /** Writes the pending control records and the pending batch in one gathering write. */
    private void sendBatch() throws MigrationException, InterruptedException {
        if (batchCount == 0 && ctrl.position() == 0) {
            return;
        }
        if (batchCount > 0) {
            int head = ctrl.position();
            StreamEncoder.putBatchHead(ctrl, batchBlock, batchOffsets, batchCount, verified);
            if (verified) {
                crc.reset();
                crc.update(ctrl.duplicate().limit(ctrl.position()).position(head));
                int sealed = (int) crc.getValue();
                for (int i = 0; i < batchCount; i++) {
                    sealed = Checksums.appendPage(sealed, batchCrcs[i]); // each page was read for its CRC once, above
                }
                trailer.clear().putInt(sealed).flip();
                gather[1 + batchCount] = trailer;
                trailerPending = true;
            }
        }
        long n = flush();
        pagesSent += batchCount;
        for (int i = 0; i < batchCount + 1; i++) {
            gather[1 + i] = null;
        }
        trailerPending = false;
        batchCount = 0;
        sinceControl += n;
        if (sinceControl >= controlInterval) {
            controlPoint();
        }
    }

    /** Rate limit for what was sent since the last call, pause point, cancel check. */
    private void controlPoint() throws MigrationException, InterruptedException {
        control.rateLimit(sinceControl);
        sinceControl = 0;
        reportPassProgress();
        control.checkpoint();
        checkCancelled();
    }

    /** Reports the counters of the pass under way, at most every {@link PassProgress#INTERVAL_NANOS}. */
    private void reportPassProgress() {
        MigrationBitmap bitmap = passBitmap;
        long now = System.nanoTime();
        if (bitmap == null || now - passProgressAt < PassProgress.INTERVAL_NANOS) {
            return;
        }
        long bytes = totalBytes();
        double rate = passProgressAt == 0 ? 0 : (bytes - passProgressBytes) * 1e9 / (now - passProgressAt);
        passProgressAt = now;
        passProgressBytes = bytes;
        control.passProgress(new PassProgress(bytes, normalPages(), zeroPageCount(), bitmap.count() * RamBlock.PAGE_SIZE,
                rate, multifdBytes()));
    }

    /** Queues a control record; one larger than the queue's room goes out on its own. */
    private void putRecord(ByteBuffer record) throws MigrationException {
        if (record.remaining() > ctrl.remaining()) {
            flush();
            try {
                while (record.hasRemaining()) {
                    bytesSent += out.write(record);
                }
            } catch (IOException e) {
                throw writeFailed(e);
            }
        } else {
            ctrl.put(record);
        }
    }

    /** Writes ctrl and the first batchCount page buffers; returns the bytes written. */
    private long flush() throws MigrationException {
        ctrl.flip();
        gather[0] = ctrl;
        int count = 1 + batchCount + (trailerPending ? 1 : 0);
        long total = 0;
        try {
            while (true) {
                total += out.write(gather, 0, count);
                if (!gather[count - 1].hasRemaining()) {
                    break;
                }
            }
        } catch (IOException e) {
            throw writeFailed(e);
        } finally {
            ctrl.clear();
        }
        bytesSent += total;
        return total;
    }

    /**
     * Why a write to the destination failed: the destination's own reason when it gave one (a
     * destination that refuses the stream sends ERROR and closes, and the write that finds the
     * connection closed usually fails before the reader has decoded the ERROR), else the
     * write's error. A cancel (which closes the channel) does not wait.
     */
    private MigrationException writeFailed(IOException e) {
        return destinationReason(e).orElseGet(() ->
                new MigrationException.ChannelFailed("migration stream to the destination failed: " + e.getMessage(), e));
    }

    /** A multifd channel failed: as {@link #writeFailed}, the destination's reason when it gave one, else the channel's. */
    private MigrationException channelFailed(IOException e) {
        return destinationReason(e).orElseGet(() -> new MigrationException.ChannelFailed(e.getMessage(), e));
    }

    /** The destination's ERROR that explains {@code e}, waited for briefly (not on a cancel). */
    private java.util.Optional<MigrationException> destinationReason(IOException e) {
        ReturnPath rp = returnPath;
        if (rp != null && !control.isCancelled()) {
            try {
                MigrationException reason = rp.awaitReason(REASON_WAIT);
                if (reason != null) {
                    reason.addSuppressed(e);
                    return java.util.Optional.of(reason);
                }
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
        return java.util.Optional.empty();
    }

    /**
     * The switchover's fixed cost: the destination's recent lag behind the stream (the longest of
     * the last acknowledged passes': what is in flight at the stop must still be applied; includes
     * the COMPLETE/ACK round trip), the owner's recent time to decide ({@link MigrationControl#decisionLatency}),
     * one more round trip (START to RESUMED), and what the accelerator adds (KVM: saving and
     * loading the vCPU state; the kick out of the guest is {@link #stopCost}), and in a verified stream the digest
     * of the sent table (measured at setup; the destination hashes its own table meanwhile). The
     * return path's part is zero before the first ack.
     */
    private Duration fixedCost(ReturnPath rp) {
        long lag = rp.lastLagNanos();
        long rtt = rp.roundTripNanos();
        return Duration.ofNanos(Math.max(0, lag) + Math.max(0, rtt) + digestNanos).plus(control.decisionLatency())
                .plus(machine.accelerator().switchoverCost());
    }

    /** The estimate of a pass: the stop overlaps the send ({@link #switchover}), the fixed cost adds to both. */
    private ConvergencePolicy.Estimate estimate(long remaining, double bandwidth, Duration fixed) {
        return policy.get().evaluate(remaining, bandwidth, stopCost(), fixed);
    }

    /**
     * How long the vCPUs take to stop once asked (KVM: the kick latency of the vCPUs in the guest,
     * as measured now); nothing when they do not run.
     */
    private Duration stopCost() {
        return machine.runState().vcpusRun() ? machine.accelerator().stopCost() : Duration.ZERO;
    }

    private void checkCancelled() throws MigrationException {
        if (control.isCancelled()) {
            throw new MigrationException.Cancelled();
        }
        MultifdSender m = multifd;
        IOException channelFailure = m == null ? null : m.failure();
        if (channelFailure != null) {
            throw channelFailed(channelFailure);
        }
        ReturnPath rp = returnPath;
        MigrationException f = rp == null ? null : rp.failure();
        if (f instanceof MigrationException.DestinationFailed || f instanceof MigrationException.ProtocolFailed) {
            throw f; // the destination gave up: do not keep streaming into a closing connection
        }
    }
}
