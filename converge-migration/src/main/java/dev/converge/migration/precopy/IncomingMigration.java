package dev.converge.migration.precopy;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.multifd.ChannelAcceptor;
import dev.converge.migration.multifd.MultifdReceiver;
import dev.converge.migration.wire.ChecksumMismatchException;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamDecoder;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import dev.converge.migration.wire.WireFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The incoming side of a migration: a sealed {@link State} and a {@link #step} function that
 * validates each decoded record against the destination machine and applies it; {@link #run}
 * drives it from a channel and answers on the return path.
 * <p>
 * On any failure the destination discards what it received (RAM zeroed) and stays in
 * {@code inmigrate}, so it can accept the next incoming migration.
 */
public final class IncomingMigration {
    private IncomingMigration() {
    }

    /** Where an incoming migration stands. */
    public sealed interface State permits AwaitingHeader, AwaitingLayout, Receiving, StateReceived, AwaitingDecision,
            Completed, Failed, PostcopyListening {
    }

    /**
     * POSTCOPY_LISTEN arrived: the source switched to postcopy (its vCPUs are stopped); the rest
     * of the stream is the postcopy phase's ({@link PostcopyHandoff}).
     */
    public record PostcopyListening(Receiving receiving) implements State {
    }

    /**
     * Who receives the postcopy phase (the capability postcopy-ram on the destination); absent,
     * POSTCOPY_LISTEN is refused.
     */
    public interface PostcopyHandoff {
        /**
         * Receives the rest of the stream from {@code channel}, continuing {@code decoder} and its
         * input {@code buf}, until the guest is complete here (it runs already).
         *
         * @param preempt the preempt channel the stream declared, or null
         * @throws MigrationException as {@link IncomingMigration#run}; the guest may be running here then
         */
        Completed takeOver(Receiving receiving, ByteChannel channel, StreamDecoder decoder, ByteBuffer buf,
                dev.converge.migration.postcopy.PreemptAcceptor preempt) throws MigrationException;

        /** Whether a preempt channel is accepted (the capability postcopy-preempt); else POSTCOPY_PREEMPT is refused. */
        boolean acceptsPreempt();
    }

    /** Nothing received yet. */
    public record AwaitingHeader() implements State {
    }

    /** Header accepted; the RAM layout comes next. {@code verified}: the header's flag. */
    public record AwaitingLayout(int version, boolean verified) implements State {
    }

    /**
     * Layout matches the destination; pages are applied as they come. In a verified stream
     * {@code crcs} keeps the CRC of every page as received, for the digest at COMPLETE (mutable,
     * confined to the receiving thread); else null.
     */
    public record Receiving(int version, boolean verified, List<RamBlock> blocks, long pages, long passes,
            PageCrcTable crcs) implements State {
        public Receiving {
            blocks = List.copyOf(blocks);
        }

        Receiving plus(long morePages, long morePasses) {
            return new Receiving(version, verified, blocks, pages + morePages, passes + morePasses, crcs);
        }
    }

    /**
     * Device state received and loaded; only COMPLETE may follow. In a verified stream
     * {@code ramDigest} is the {@link PageCrcTable#digest} of the pages received, taken when the
     * device state arrived (every page comes before it), for COMPLETE to be checked against; else null.
     * <p>
     * Why loaded before COMPLETE: the source computes its own digest and sends COMPLETE after the
     * device state, and the load (KVM: every vCPU's and the VM's state, milliseconds) runs
     * meanwhile instead of after it, inside the downtime. A digest that then disagrees fails the
     * migration as before: the destination never runs what it loaded.
     */
    public record StateReceived(Receiving receiving, String ramDigest) implements State {
    }

    /**
     * All state is in the destination and acknowledged, but it does not run it yet: the source
     * decides with START (commit) or ABORT (version 3 streams).
     */
    public record AwaitingDecision(long pages, long passes) implements State {
    }

    /** All state is in the destination, which may run it. */
    public record Completed(long pages, long passes) implements State {
    }

    /** The stream was refused; {@code reason} names what was wrong. */
    public record Failed(String reason) implements State {
    }

    /**
     * The next state after {@code record}. Applies pages into {@code machine}'s RAM and loads
     * the device state on COMPLETE. An unexpected record gives {@link Failed} naming the record
     * and the state. Terminal states accept nothing.
     */
    public static State step(Machine machine, State state, StreamRecord record) {
        return switch (state) {
            case AwaitingHeader s -> record instanceof StreamRecord.Header h
                    ? new AwaitingLayout(h.version(), h.verified()) : unexpected(record, state);
            case AwaitingLayout s -> record instanceof StreamRecord.RamBlocks r
                    ? matchLayout(machine, s, r.blocks()) : unexpected(record, state);
            case Receiving s -> switch (record) {
                case StreamRecord.Page p -> {
                    received(s, p.block(), p.offset(), p.data());
                    yield s.plus(1, 0);
                }
                case StreamRecord.ZeroPage z -> {
                    s.blocks().get(z.block()).loadZeroPage(z.offset());
                    if (s.crcs() != null) {
                        s.crcs().recordZero(z.block(), z.offset() >>> RamBlock.PAGE_SHIFT);
                    }
                    yield s.plus(1, 0);
                }
                case StreamRecord.PageBatch b -> {
                    applyBatch(s, b);
                    yield s.plus(b.offsets().length, 0);
                }
                case StreamRecord.EndOfPass e -> s.plus(0, 1);
                case StreamRecord.MultifdSetup m -> s; // the channels are the receiver's (I/O); their pages bypass this step
                case StreamRecord.PostcopyPreempt p -> s; // the channel is the receiver's, used in postcopy only
                case StreamRecord.PostcopyListen l -> new PostcopyListening(s);
                case StreamRecord.DeviceState d -> {
                    try {
                        machine.loadDeviceState(d.data()); // it reads a duplicate: the record's buffer stays as it is
                    } catch (IllegalArgumentException e) {
                        yield new Failed("device state does not fit the destination: " + e.getMessage());
                    }
                    yield new StateReceived(s, s.crcs() != null ? s.crcs().digest() : null);
                }
                default -> unexpected(record, state);
            };
            case StateReceived s -> {
                if (!(record instanceof StreamRecord.Complete c)) {
                    yield unexpected(record, state);
                }
                if (s.ramDigest() != null && !s.ramDigest().equals(c.ramDigest())) {
                    yield new Failed("RAM digest mismatch after the switchover: " + s.ramDigest()
                            + " on the destination (expected: " + c.ramDigest() + ", the source's)");
                }
                Receiving r = s.receiving();
                yield r.version() >= WireFormat.VERSION_DECISION
                        ? new AwaitingDecision(r.pages(), r.passes()) : new Completed(r.pages(), r.passes());
            }
            case AwaitingDecision s -> switch (record) {
                case StreamRecord.Start st -> new Completed(s.pages(), s.passes());
                case StreamRecord.Abort a -> new Failed("the source rolled the switchover back (ABORT after COMPLETE)");
                default -> unexpected(record, state);
            };
            case Completed s -> unexpected(record, state);
            case PostcopyListening s -> unexpected(record, state);
            case Failed s -> s;
        };
    }

    /** Applies a batch's pages, recording their CRCs (a verified stream); {@link IncomingWarmUp} runs it too. */
    static void applyBatch(Receiving s, StreamRecord.PageBatch b) {
        for (int i = 0; i < b.offsets().length; i++) {
            if (b.crcs() != null && s.crcs() != null) {
                // The decoder read the page for the record's checksum already: its CRC is known.
                s.crcs().set(b.block(), b.offsets()[i] >>> RamBlock.PAGE_SHIFT, b.crcs()[i]);
                s.blocks().get(b.block()).loadPage(b.offsets()[i], b.page(i));
            } else {
                received(s, b.block(), b.offsets()[i], b.page(i));
            }
        }
    }

    /** Applies one received page, recording its CRC where it is decoded (a verified stream). */
    private static void received(Receiving s, int block, long offset, ByteBuffer data) {
        if (s.crcs() != null) {
            s.crcs().record(block, offset >>> RamBlock.PAGE_SHIFT, data);
        }
        s.blocks().get(block).loadPage(offset, data);
    }

    private static State matchLayout(Machine machine, AwaitingLayout header, List<StreamRecord.BlockInfo> declared) {
        List<RamBlock> local = machine.ram().blocks();
        if (declared.size() != local.size()) {
            return new Failed("RAM block count: " + declared.size() + " (expected: " + local.size() + " on the destination)");
        }
        for (int i = 0; i < declared.size(); i++) {
            StreamRecord.BlockInfo d = declared.get(i);
            RamBlock l = local.get(i);
            if (!d.name().equals(l.name())) {
                return new Failed("RAM block " + i + " name: '" + d.name() + "' (expected: '" + l.name() + "')");
            }
            if (d.size() != l.size()) {
                return new Failed("RAM block '" + d.name() + "' size: " + d.size() + " (expected: " + l.size() + ")");
            }
        }
        return new Receiving(header.version(), header.verified(), local, 0, 0,
                header.verified() ? new PageCrcTable(local) : null);
    }

    private static State unexpected(StreamRecord record, State state) {
        return new Failed("unexpected record " + record.getClass().getSimpleName() + " in state "
                + state.getClass().getSimpleName());
    }

    /**
     * Receives one migration from {@code channel} into {@code machine}, which must be in
     * {@code inmigrate}. Answers ACK_COMPLETE once all state is in; with a version 3 stream it
     * then waits for the source's decision and runs the machine
     * ({@link Machine#incomingCompleted()}) only on START. On failure (also ABORT, or the
     * connection ending before START) answers ERROR (best effort), discards the received RAM
     * and throws. Closing the channel is the caller's (closing it from another thread cancels).
     */
    public static Completed run(Machine machine, ByteChannel channel) throws MigrationException {
        return run(machine, channel, stats -> { });
    }

    /**
     * As {@link #run(Machine, ByteChannel)}, and hands {@code stats} a new snapshot of what was
     * received before each blocking read and once when the stream ends, also on failure: the last
     * snapshot holds the final numbers. Called on the calling thread; it should only publish.
     */
    public static Completed run(Machine machine, ByteChannel channel, Consumer<IncomingStats> stats)
            throws MigrationException {
        return run(machine, channel, ChannelAcceptor.NONE, stats, null);
    }

    /**
     * As {@link #run(Machine, ByteChannel, Consumer)}; a source that switches to postcopy is
     * handed to {@code postcopy} (null: refused, the destination lacks the capability postcopy-ram).
     */
    public static Completed run(Machine machine, ByteChannel channel, Consumer<IncomingStats> stats,
            PostcopyHandoff postcopy) throws MigrationException {
        return run(machine, channel, ChannelAcceptor.NONE, stats, postcopy);
    }

    /**
     * As {@link #run(Machine, ByteChannel, Consumer)}, and accepts the multifd channels the
     * stream declares through {@code channels} (closed once every channel is in, when the stream
     * does not use multifd, or at the end). A failing channel fails the migration with its error.
     */
    public static Completed run(Machine machine, ByteChannel channel, ChannelAcceptor channels,
            Consumer<IncomingStats> stats) throws MigrationException {
        return run(machine, channel, channels, stats, null);
    }

    /** Both: multifd channels through {@code channels}, a switch to postcopy handed to {@code postcopy} (may be null). */
    public static Completed run(Machine machine, ByteChannel channel, ChannelAcceptor channels,
            Consumer<IncomingStats> stats, PostcopyHandoff postcopy) throws MigrationException {
        Objects.requireNonNull(stats);
        Objects.requireNonNull(channels);
        if (machine.runState() != RunState.INMIGRATE) {
            throw new MigrationException.IncomingRejected("machine '" + machine.name()
                    + "' is not waiting for an incoming migration (run state '" + machine.runState().wireName() + "')", null);
        }
        MigrationException failure;
        Receiver rx = new Receiver(machine, channel, channels, stats, postcopy != null,
                postcopy != null && postcopy.acceptsPreempt());
        try {
            State state = rx.next();
            if (state instanceof PostcopyListening p) {
                if (postcopy == null) {
                    state = new Failed("the source switched to postcopy, but postcopy-ram is not enabled on the destination");
                } else {
                    return postcopy.takeOver(p.receiving(), channel, rx.decoder, rx.buf, rx.preempt);
                }
            }
            if (state instanceof AwaitingDecision) {
                writeReturn(channel, new ReturnMessage.AckComplete());
                state = rx.next();
            } else if (state instanceof Completed) {
                writeReturn(channel, new ReturnMessage.AckComplete()); // a version 2 source: no decision follows
            }
            if (state instanceof Completed c) {
                machine.incomingCompleted();
                if (rx.decoder.version() >= WireFormat.VERSION_PASS_ACKS) {
                    // The source's downtime ends here (source stop to destination running).
                    writeReturn(channel, new ReturnMessage.Resumed());
                }
                return rx.withChannels(c);
            }
            Failed f = (Failed) state;
            failure = new MigrationException.IncomingRejected("incoming migration refused: " + f.reason(), null);
        } catch (MigrationException e) {
            failure = rx.channelFailure().orElse(e);
        } catch (IOException e) {
            failure = rx.channelFailure().orElse(
                    new MigrationException.ChannelFailed("incoming migration stream failed: " + MigrationException.describe(e), e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure = new MigrationException.Interrupted(e);
        } finally {
            rx.closeChannels();
        }
        if (machine.runState() == RunState.INMIGRATE) {
            machine.incomingFailed(); // else the guest ran here already (postcopy): nothing to discard
        }
        try {
            writeReturn(channel, new ReturnMessage.Error(failure.getMessage()));
        } catch (IOException e) {
            failure.addSuppressed(e); // the source may be gone already; the failure stands
        }
        throw failure;
    }

    /**
     * Reads records into the state machine; keeps decoder and buffer across {@link #next} calls.
     * Confined to the receiving thread, counters included: others see them only as the
     * {@link IncomingStats} snapshots it publishes.
     */
    private static final class Receiver {
        private final Machine machine;
        private final ByteChannel channel;
        private final ChannelAcceptor acceptor;
        private final Consumer<IncomingStats> stats;
        /** The multifd channels once MULTIFD_SETUP came, else null. */
        private MultifdReceiver multifd;
        /** Whether the acceptor was closed because the stream does not use multifd. */
        private boolean acceptorDone;
        /** Whether this destination has postcopy-ram: a header that advises postcopy is refused without it. */
        private final boolean postcopyAccepted;
        /** Whether this destination has postcopy-preempt: POSTCOPY_PREEMPT is refused without it. */
        private final boolean preemptAccepted;
        /** The preempt channel being accepted, once POSTCOPY_PREEMPT came; else null. */
        private dev.converge.migration.postcopy.PreemptAcceptor preempt;
        private final StreamDecoder decoder = new StreamDecoder();
        private final ByteBuffer buf = ByteBuffer.allocateDirect(WireFormat.MAX_RECORD_SIZE);
        private State state = new AwaitingHeader();
        private long received;
        private long normalPages;
        private long zeroPages;
        private long passes;

        Receiver(Machine machine, ByteChannel channel, ChannelAcceptor acceptor, Consumer<IncomingStats> stats,
                boolean postcopyAccepted, boolean preemptAccepted) {
            this.machine = machine;
            this.channel = channel;
            this.acceptor = acceptor;
            this.stats = stats;
            this.postcopyAccepted = postcopyAccepted;
            this.preemptAccepted = preemptAccepted;
            buf.flip(); // empty, ready for reading
        }

        /** Steps until the state is AwaitingDecision, Completed or Failed; publishes the stats however it ends. */
        State next() throws IOException, MigrationException, InterruptedException {
            try {
                return receive();
            } finally {
                publish();
            }
        }

        private State receive() throws IOException, MigrationException, InterruptedException {
            while (true) {
                try {
                    StreamRecord r;
                    while ((r = decoder.decode(buf)) != null) {
                        String mismatch = multifdMismatch(r);
                        state = r instanceof StreamRecord.Header h && h.postcopy() && !postcopyAccepted
                                ? new Failed("the source has postcopy-ram on, the destination does not (it must be on "
                                        + "both sides)")
                                : r instanceof StreamRecord.PostcopyPreempt && !preemptAccepted
                                ? new Failed("the source has postcopy-preempt on, the destination does not (it must be "
                                        + "on both sides)")
                                : mismatch != null ? new Failed(mismatch) : step(machine, state, r);
                        if (!(state instanceof Failed)) {
                            count(r);
                            channels(r);
                        }
                        if (r instanceof StreamRecord.EndOfPass e && state instanceof Receiving
                                && decoder.version() >= WireFormat.VERSION_PASS_ACKS) {
                            // Everything up to this END_OF_PASS is applied: the source times our lag with it.
                            writeReturn(channel, new ReturnMessage.PassAck(e.pass()));
                        }
                        if (state instanceof Completed || state instanceof Failed || state instanceof AwaitingDecision
                                || state instanceof PostcopyListening) {
                            return state;
                        }
                    }
                } catch (WireFormatException e) {
                    throw new MigrationException.ProtocolFailed("incoming migration stream is "
                            + (e instanceof ChecksumMismatchException ? "corrupt: " : "malformed: ") + e.getMessage(), e);
                }
                // Publish before blocking, when every whole record read so far is applied and counted:
                // a slow stream shows where it stands, and a fast one publishes once per read, not per page.
                publish();
                buf.compact();
                int n = channel.read(buf);
                buf.flip();
                if (n < 0) {
                    throw new MigrationException.ChannelFailed("incoming migration stream truncated: ended after " + received
                            + " bytes in state " + state.getClass().getSimpleName(), null);
                }
                received += n;
            }
        }

        /**
         * The capability multifd must be the same on both sides (QEMU's text for a capability it
         * validates): the stream declares the source's with MULTIFD_SETUP right after RAM_BLOCKS,
         * or goes on without it. Null when they agree (so far).
         */
        private String multifdMismatch(StreamRecord r) {
            boolean setup = r instanceof StreamRecord.MultifdSetup;
            if (setup && !acceptor.accepting()) {
                return "Capability multifd is off, but received capability is on";
            }
            if (!setup && acceptor.accepting() && multifd == null
                    && !(r instanceof StreamRecord.Header || r instanceof StreamRecord.RamBlocks)) {
                return "Capability multifd is on, but received capability is off";
            }
            return null;
        }

        /** Starts the multifd channels at MULTIFD_SETUP, stops listening when the stream has none, syncs at END_OF_PASS. */
        private void channels(StreamRecord r) throws IOException, InterruptedException {
            switch (r) {
                case StreamRecord.Header h -> { }
                case StreamRecord.RamBlocks b -> { }
                case StreamRecord.MultifdSetup m -> {
                    Receiving rs = (Receiving) state;
                    multifd = MultifdReceiver.start(m, decoder.version(), decoder.verified(), decoder.layout(), rs.blocks(),
                            acceptor, rs.crcs(), this::wakeUp, machine.name());
                }
                case StreamRecord.EndOfPass e -> {
                    if (multifd != null) {
                        multifd.release(e.pass()); // every channel applied the pass: only now may the PASS_ACK go
                    }
                }
                case StreamRecord.PostcopyPreempt p -> {
                    if (preempt == null && !acceptorDone) {
                        acceptorDone = true; // the preempt acceptor closes it once its channel is in
                        preempt = dev.converge.migration.postcopy.PreemptAcceptor.start(acceptor, machine.name());
                    }
                }
                default -> { }
            }
            if (multifd == null && !acceptorDone && !(r instanceof StreamRecord.Header || r instanceof StreamRecord.RamBlocks)) {
                acceptorDone = true;
                acceptor.close(); // one connection: stop listening as before
            }
        }

        /** A channel failed: end the blocking read of the main stream, whose output stays open for the ERROR. */
        private void wakeUp() {
            try {
                switch (channel) {
                    case java.nio.channels.SocketChannel sc -> sc.shutdownInput();
                    case dev.converge.qmp.tls.SecureChannel tls -> tls.shutdownInput(); // TLS: the socket under it
                    default -> { } // a test's pipe: the read ends when the source gives up
                }
            } catch (IOException e) {
                // the read ends anyway when the source gives up
            }
        }

        /** A channel's failure, which explains whatever the main stream saw afterwards. */
        java.util.Optional<MigrationException> channelFailure() {
            IOException e = multifd == null ? null : multifd.failure();
            if (e == null) {
                return java.util.Optional.empty();
            }
            boolean format = e.getCause() instanceof WireFormatException;
            return java.util.Optional.of(format ? new MigrationException.ProtocolFailed("incoming migration " + e.getMessage(), e)
                    : new MigrationException.ChannelFailed("incoming migration " + e.getMessage(), e));
        }

        /** Completed, with the pages the channels applied. */
        Completed withChannels(Completed c) {
            return multifd == null ? c
                    : new Completed(c.pages() + multifd.counters().normalPages() + multifd.counters().zeroPages(), c.passes());
        }

        void closeChannels() {
            if (multifd != null) {
                multifd.close();
                publish();
            }
            if (preempt != null) {
                preempt.close();
            }
            acceptor.close();
        }

        private void count(StreamRecord r) {
            switch (r) {
                case StreamRecord.Page p -> normalPages++;
                case StreamRecord.PageBatch b -> normalPages += b.offsets().length;
                case StreamRecord.ZeroPage z -> zeroPages++;
                case StreamRecord.EndOfPass e -> passes++;
                default -> { }
            }
        }

        private void publish() {
            MultifdReceiver m = multifd;
            stats.accept(m == null ? new IncomingStats(received, normalPages, zeroPages, passes)
                    : new IncomingStats(received + m.counters().bytes(), normalPages + m.counters().normalPages(),
                            zeroPages + m.counters().zeroPages(), passes));
        }
    }

    private static void writeReturn(ByteChannel channel, ReturnMessage m) throws IOException {
        ByteBuffer b = StreamEncoder.encode(m);
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }
}
