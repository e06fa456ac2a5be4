package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.machine.WorkloadKind;
import dev.converge.migration.wire.RecordType;
import dev.converge.migration.wire.ReturnDecoder;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The incoming side fed from memory: valid, truncated, corrupted and out-of-order streams. */
class IncomingMigrationTest {
    static final MachineSpec SPEC = MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE);
    /** START of a verified stream: record header and checksum. */
    static final int START_SIZE = WireFormat.RECORD_HEADER_SIZE + WireFormat.CHECKSUM_SIZE;

    private Machine source;
    private Machine dest;
    private byte[] stream;
    private MigrationResult result;
    private String zeroDigest;

    @BeforeEach
    void setUp() throws Exception {
        source = Machine.create("src", SPEC, RunState.RUNNING);
        RamBlock ram = source.ram().blocks().get(0);
        for (long p = 0; p < ram.pages(); p += 3) {
            ram.writeLong(p * RamBlock.PAGE_SIZE + 8, p * 31 + 7);
        }
        ram.writeLong(RamBlock.PAGE_SIZE, 0); // written but zero: sent as a zero page (never-written pages are not sent)
        MemoryChannel ch = new MemoryChannel(bytes(StreamEncoder.encode(new ReturnMessage.AckComplete())), 1 << 20);
        result = new PrecopySender(source, ch, new ConvergencePolicy(Duration.ofMillis(300)),
                new TestControl(true, 1, 0)).run();
        assertThat(result.pagesSent()).isPositive();
        assertThat(result.zeroPages()).isPositive();
        assertThat(source.runState()).isEqualTo(RunState.POSTMIGRATE);
        stream = ch.written();
        dest = Machine.create("dst", SPEC, RunState.INMIGRATE);
        dest.stop(); // no autostart: stay paused after the incoming migration
        zeroDigest = dest.ramDigest();
    }

    @AfterEach
    void tearDown() {
        source.close();
        dest.close();
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }

    /** The first return message that is not a PASS_ACK (the destination acks every pass first). */
    private ReturnMessage returned(MemoryChannel ch) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(ch.written());
        ReturnMessage m;
        while ((m = ReturnDecoder.decode(b)) instanceof ReturnMessage.PassAck) {
            // skip
        }
        return m;
    }

    private ReturnMessage lastReturned(MemoryChannel ch) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(ch.written());
        ReturnMessage last = null;
        ReturnMessage m;
        while ((m = ReturnDecoder.decode(b)) != null) {
            last = m;
        }
        return last;
    }

    @Test
    void abortAfterTheAckDiscardsEverything() throws Exception {
        byte[] aborted = stream.clone();
        // START is the last record; ABORT needs its own checksum too.
        ByteBuffer abort = StreamEncoder.encode(new StreamRecord.Abort(), true);
        abort.get(aborted, aborted.length - START_SIZE, START_SIZE);
        MemoryChannel ch = new MemoryChannel(aborted, 1 << 16);
        assertThatThrownBy(() -> IncomingMigration.run(dest, ch))
                .isInstanceOf(MigrationException.IncomingRejected.class)
                .hasMessage("incoming migration refused: the source rolled the switchover back (ABORT after COMPLETE)");
        assertThat(returned(ch)).as("all state had been acknowledged").isEqualTo(new ReturnMessage.AckComplete());
        assertThat(dest.runState()).isEqualTo(RunState.INMIGRATE);
        assertThat(dest.ramDigest()).isEqualTo(zeroDigest);
    }

    @Test
    void connectionEndingAfterTheAckWithoutStartDiscards() throws Exception {
        MemoryChannel ch = new MemoryChannel(java.util.Arrays.copyOf(stream, stream.length - START_SIZE), 1 << 16);
        assertThatThrownBy(() -> IncomingMigration.run(dest, ch))
                .isInstanceOf(MigrationException.ChannelFailed.class)
                .hasMessageEndingWith("in state AwaitingDecision");
        assertThat(dest.runState()).as("never runs without START").isEqualTo(RunState.INMIGRATE);
        assertThat(dest.ramDigest()).isEqualTo(zeroDigest);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 4096, 1 << 20})
    void validStreamInAnyChunkingArrivesWhole(int chunk) throws Exception {
        MemoryChannel ch = new MemoryChannel(stream, chunk);
        IncomingMigration.Completed done = IncomingMigration.run(dest, ch);
        // Only pages ever written travel (every third, and one zero page); the rest is zero on both sides.
        assertThat(done.pages()).isEqualTo((SPEC.memory() / RamBlock.PAGE_SIZE + 2) / 3 + 1);
        assertThat(dest.ramDigest()).isEqualTo(source.ramDigest());
        assertThat(dest.runState()).isEqualTo(RunState.PAUSED);
        assertThat(returned(ch)).isEqualTo(new ReturnMessage.AckComplete());
        ByteBuffer back = ByteBuffer.wrap(ch.written());
        List<ReturnMessage> all = new java.util.ArrayList<>();
        for (ReturnMessage m; (m = ReturnDecoder.decode(back)) != null;) {
            all.add(m);
        }
        assertThat(all).as("version 4: a PASS_ACK per pass, the ack, RESUMED after START").containsExactly(
                new ReturnMessage.PassAck(1), new ReturnMessage.AckComplete(), new ReturnMessage.Resumed());
    }

    @ParameterizedTest
    @ValueSource(ints = {7, 4096, 1 << 20})
    void statsGrowWithTheStreamAndTheLastSnapshotCountsEveryRecordTheSourceSent(int chunk) throws Exception {
        List<IncomingStats> seen = new java.util.ArrayList<>();
        IncomingMigration.run(dest, new MemoryChannel(stream, chunk), seen::add);
        assertThat(seen.getLast()).isEqualTo(new IncomingStats(stream.length, result.pagesSent(), result.zeroPages(),
                result.passes()));
        assertThat((long) stream.length).as("the source's count ends at COMPLETE; START (a bare record header) follows")
                .isEqualTo(result.bytesSent() + START_SIZE);
        for (int i = 1; i < seen.size(); i++) {
            IncomingStats a = seen.get(i - 1);
            IncomingStats b = seen.get(i);
            assertThat(b.bytes() >= a.bytes() && b.normalPages() >= a.normalPages() && b.zeroPages() >= a.zeroPages()
                    && b.passes() >= a.passes()).as("snapshot %d (%s) after %s", i, b, a).isTrue();
        }
        if (chunk < stream.length) {
            assertThat(seen).as("snapshots while receiving, not only at the end")
                    .anySatisfy(st -> assertThat(st.bytes()).isStrictlyBetween(0L, (long) stream.length));
        }
    }

    @Test
    void statsOfAFailedStreamShowWhatArrivedBeforeTheFailure() throws Exception {
        // Everything but START: all pages arrived, then the connection ended while awaiting the decision.
        int len = stream.length - START_SIZE;
        List<IncomingStats> seen = new java.util.ArrayList<>();
        assertThatThrownBy(() -> IncomingMigration.run(dest, new MemoryChannel(java.util.Arrays.copyOf(stream, len), 1 << 16),
                seen::add)).isInstanceOf(MigrationException.ChannelFailed.class);
        assertThat(seen.getLast()).isEqualTo(new IncomingStats(len, result.pagesSent(), result.zeroPages(), result.passes()));
    }

    @Test
    void truncatedStreamFailsCleanlyAndTheDestinationAcceptsTheNextOne() throws Exception {
        for (int len : new int[] {0, 5, 8, 30, 100, 5000, stream.length / 2, stream.length - 1}) {
            MemoryChannel ch = new MemoryChannel(java.util.Arrays.copyOf(stream, len), 1 << 16);
            assertThatThrownBy(() -> IncomingMigration.run(dest, ch))
                    .isInstanceOf(MigrationException.ChannelFailed.class)
                    .hasMessageStartingWith("incoming migration stream truncated: ended after " + len + " bytes in state ");
            assertThat(dest.runState()).isEqualTo(RunState.INMIGRATE);
            assertThat(dest.ramDigest()).as("partial RAM discarded").isEqualTo(zeroDigest);
            assertThat(lastReturned(ch)).isInstanceOf(ReturnMessage.Error.class);
        }
        IncomingMigration.run(dest, new MemoryChannel(stream, 1 << 16));
        assertThat(dest.ramDigest()).isEqualTo(source.ramDigest());
    }

    @Test
    void badMagicIsRefusedNamingIt() throws Exception {
        byte[] bad = stream.clone();
        bad[0] ^= 0x20;
        MemoryChannel ch = new MemoryChannel(bad, 1 << 16);
        assertThatThrownBy(() -> IncomingMigration.run(dest, ch))
                .isInstanceOf(MigrationException.ProtocolFailed.class)
                .hasMessage("incoming migration stream is malformed: magic: 0x534d5663 (expected: 0x534d5643)");
        assertThat(((ReturnMessage.Error) returned(ch)).message()).contains("magic");
        assertThat(dest.runState()).isEqualTo(RunState.INMIGRATE);
    }

    @Test
    void corruptedRecordTypeMidStreamIsRefused() throws Exception {
        byte[] bad = stream.clone();
        // The first record after the header and RAM_BLOCKS: overwrite its type code with the first unknown one.
        int unknown = dev.converge.migration.wire.RecordType.values().length;
        int ramBlocksLen = java.nio.ByteBuffer.wrap(bad, 12, 4).order(WireFormat.ORDER).getInt();
        int next = 8 + 8 + ramBlocksLen;
        bad[next] = (byte) unknown;
        bad[next + 1] = 0;
        assertThatThrownBy(() -> IncomingMigration.run(dest, new MemoryChannel(bad, 1 << 16)))
                .isInstanceOf(MigrationException.ProtocolFailed.class)
                .hasMessageEndingWith("record type: " + unknown + " (unknown) (expected: 1.." + (unknown - 1) + ")");
        assertThat(dest.ramDigest()).isEqualTo(zeroDigest);
    }

    @Test
    void oneByteFlippedInPageDataFailsTheChecksumAndDiscards() throws Exception {
        int at = firstBatchData(stream) + 100;
        for (int bit : new int[] {0x01, 0x80}) {
            byte[] bad = stream.clone();
            bad[at] ^= (byte) bit;
            MemoryChannel ch = new MemoryChannel(bad, 4096);
            assertThatThrownBy(() -> IncomingMigration.run(dest, ch))
                    .isInstanceOf(MigrationException.ProtocolFailed.class)
                    .hasMessageStartingWith("incoming migration stream is corrupt: PAGE_BATCH checksum mismatch: crc32c 0x")
                    .hasMessageEndingWith(", the sender's)");
            assertThat(((ReturnMessage.Error) lastReturned(ch)).message()).contains("checksum mismatch");
            assertThat(dest.runState()).isEqualTo(RunState.INMIGRATE);
            assertThat(dest.ramDigest()).as("nothing of the corrupt stream kept").isEqualTo(zeroDigest);
        }
        IncomingMigration.run(dest, new MemoryChannel(stream, 1 << 16));
        assertThat(dest.ramDigest()).as("the next, intact stream is taken").isEqualTo(source.ramDigest());
    }

    /** The offset of the first PAGE_BATCH's page data in a stream (after header, RAM_BLOCKS and its own head). */
    static int firstBatchData(byte[] stream) {
        ByteBuffer b = ByteBuffer.wrap(stream).order(WireFormat.ORDER);
        int p = WireFormat.STREAM_HEADER_SIZE;
        while (b.getShort(p) != RecordType.PAGE_BATCH.code()) {
            p += WireFormat.RECORD_HEADER_SIZE + b.getInt(p + 4);
        }
        int count = b.getInt(p + WireFormat.RECORD_HEADER_SIZE + 4);
        return p + WireFormat.RECORD_HEADER_SIZE + WireFormat.BATCH_FIXED + 8 * count;
    }

    @Test
    void ramThatDiffersAtTheSwitchoverFailsTheDigestCheck() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String wrong = "ab".repeat(WireFormat.DIGEST_SIZE);
        for (StreamRecord r : List.of(new StreamRecord.RamBlocks(List.of(
                        new StreamRecord.BlockInfo(Machine.RAM_BLOCK, SPEC.memory()),
                        new StreamRecord.BlockInfo(Machine.ROM_BLOCK, Machine.ROM_SIZE))),
                new StreamRecord.DeviceState(ByteBuffer.wrap(source.saveDeviceState())),
                new StreamRecord.Complete(wrong))) {
            out.writeBytes(bytes(StreamEncoder.encode(r, true)));
        }
        byte[] header = bytes(StreamEncoder.encode(new StreamRecord.Header(WireFormat.VERSION_CURRENT, WireFormat.FLAG_VERIFIED)));
        ByteBuffer all = ByteBuffer.allocate(header.length + out.size()).put(header).put(out.toByteArray());
        MemoryChannel ch = new MemoryChannel(all.array(), 1 << 16);
        assertThatThrownBy(() -> IncomingMigration.run(dest, ch))
                .isInstanceOf(MigrationException.IncomingRejected.class)
                .hasMessage("incoming migration refused: RAM digest mismatch after the switchover: "
                        + dev.converge.migration.machine.PageCrcTable.scan(dest.ram()).digest()
                        + " on the destination (expected: " + wrong + ", the source's)");
        assertThat(lastReturned(ch)).as("refused before the ack").isInstanceOf(ReturnMessage.Error.class);
        assertThat(dest.runState()).isEqualTo(RunState.INMIGRATE);
    }

    @Test
    void unverifiedStreamStillArrivesWhole() throws Exception {
        try (Machine src = Machine.create("plain", SPEC, RunState.RUNNING)) {
            src.ram().blocks().get(0).writeLong(3 * RamBlock.PAGE_SIZE, 42);
            MemoryChannel out = new MemoryChannel(bytes(StreamEncoder.encode(new ReturnMessage.AckComplete())), 1 << 20);
            new PrecopySender(src, out, () -> new ConvergencePolicy(Duration.ofMillis(300)), new TestControl(true, 1, 0),
                    false).run();
            byte[] plain = out.written();
            assertThat(ByteBuffer.wrap(plain).order(WireFormat.ORDER).getShort(6)).as("header flags").isZero();
            IncomingMigration.run(dest, new MemoryChannel(plain, 4096));
            assertThat(dest.ramDigest()).isEqualTo(src.ramDigest());
        }
    }

    @Test
    void layoutThatDoesNotFitTheDestinationIsRefused() throws Exception {
        try (Machine bigger = Machine.create("big", MachineSpec.of(2L << 20, 1, WorkloadKind.IDLE), RunState.INMIGRATE)) {
            assertThatThrownBy(() -> IncomingMigration.run(bigger, new MemoryChannel(stream, 1 << 16)))
                    .isInstanceOf(MigrationException.IncomingRejected.class)
                    .hasMessage("incoming migration refused: RAM block 'pc.ram' size: 1048576 (expected: 2097152)");
            assertThat(bigger.runState()).isEqualTo(RunState.INMIGRATE);
        }
    }

    @Test
    void recordsOutOfOrderAreRefusedNamingRecordAndState() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (StreamRecord r : List.of(new StreamRecord.Header(WireFormat.VERSION_PREVIOUS),
                new StreamRecord.RamBlocks(List.of(new StreamRecord.BlockInfo(Machine.RAM_BLOCK, SPEC.memory()),
                        new StreamRecord.BlockInfo(Machine.ROM_BLOCK, Machine.ROM_SIZE))),
                new StreamRecord.DeviceState(ByteBuffer.wrap(dest.saveDeviceState())), // valid: it is loaded on receipt
                new StreamRecord.ZeroPage(0, 0))) {
            out.writeBytes(bytes(StreamEncoder.encode(r)));
        }
        assertThatThrownBy(() -> IncomingMigration.run(dest, new MemoryChannel(out.toByteArray(), 1 << 16)))
                .isInstanceOf(MigrationException.IncomingRejected.class)
                .hasMessage("incoming migration refused: unexpected record ZeroPage in state StateReceived");
    }

    @Test
    void badDeviceStateIsRefusedOnReceipt() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (StreamRecord r : List.of(new StreamRecord.Header(WireFormat.VERSION_PREVIOUS),
                new StreamRecord.RamBlocks(List.of(new StreamRecord.BlockInfo(Machine.RAM_BLOCK, SPEC.memory()),
                        new StreamRecord.BlockInfo(Machine.ROM_BLOCK, Machine.ROM_SIZE))),
                new StreamRecord.DeviceState(ByteBuffer.wrap(new byte[4])),
                new StreamRecord.Complete())) {
            out.writeBytes(bytes(StreamEncoder.encode(r)));
        }
        assertThatThrownBy(() -> IncomingMigration.run(dest, new MemoryChannel(out.toByteArray(), 1 << 16)))
                .hasMessage("incoming migration refused: device state does not fit the destination: "
                        + "device state length: 4 (expected: 16)");
        assertThat(dest.runState()).isEqualTo(RunState.INMIGRATE);
    }

    @Test
    void machineNotWaitingForIncomingIsRefused() {
        assertThatThrownBy(() -> IncomingMigration.run(source, new MemoryChannel(stream, 1 << 16)))
                .isInstanceOf(MigrationException.IncomingRejected.class)
                .hasMessage("machine 'src' is not waiting for an incoming migration (run state 'postmigrate')");
    }

    @Test
    void senderReportsTheDestinationsError() throws Exception {
        try (Machine src = Machine.create("s2", SPEC, RunState.RUNNING)) {
            MemoryChannel ch = new MemoryChannel(bytes(StreamEncoder.encode(new ReturnMessage.Error("out of memory"))), 1 << 16);
            assertThatThrownBy(() -> new PrecopySender(src, ch, new ConvergencePolicy(Duration.ofMillis(300)),
                    new TestControl(true, 1, 0)).run())
                    .isInstanceOf(MigrationException.DestinationFailed.class)
                    .hasMessage("destination failed the migration: out of memory");
            assertThat(src.runState()).as("source resumes after a failed switchover").isEqualTo(RunState.RUNNING);
        }
    }
}
