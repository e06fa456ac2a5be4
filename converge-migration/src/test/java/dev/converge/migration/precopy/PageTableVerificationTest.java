package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.testing.TestTimeouts;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The verified stream's page tables: the source's table of what it sent against the
 * destination's table of what it received (at the switchover), and the source's frozen RAM
 * against its table (after the hand-over).
 */
class PageTableVerificationTest {
    private Machine source;
    private Machine dest;
    private String zeroDigest;

    @BeforeEach
    void setUp() {
        source = Machine.create("src", IncomingMigrationTest.SPEC, RunState.RUNNING);
        RamBlock ram = source.ram().blocks().get(0);
        for (long p = 0; p < ram.pages(); p += 2) {
            ram.writeLong(p * RamBlock.PAGE_SIZE + 16, p * 131 + 5);
        }
        dest = Machine.create("dst", IncomingMigrationTest.SPEC, RunState.INMIGRATE);
        dest.stop();
        zeroDigest = dest.ramDigest();
    }

    @AfterEach
    void tearDown() {
        source.close();
        dest.close();
    }

    private static MemoryChannel acked() {
        return new MemoryChannel(IncomingMigrationTest.bytes(StreamEncoder.encode(new ReturnMessage.AckComplete())), 4 << 20);
    }

    private PrecopySender sender(MemoryChannel ch, TestControl control) {
        return new PrecopySender(source, ch, () -> new ConvergencePolicy(Duration.ofMillis(300)), control, true);
    }

    @Test
    void aPageCorruptedOnTheSendPathPassesTheRecordChecksumButNotTheTablesAtTheSwitchover() throws Exception {
        MemoryChannel ch = acked();
        PrecopySender s = sender(ch, new TestControl(true, 1, 0));
        AtomicBoolean done = new AtomicBoolean();
        s.injectSendFault((block, page, data) -> {
            if (block == 0 && page == 10 && done.compareAndSet(false, true)) {
                data.put(data.position() + 77, (byte) (data.get(data.position() + 77) ^ 0x10));
            }
        });
        s.run();
        assertThat(done).as("the fault was injected").isTrue();

        MemoryChannel in = new MemoryChannel(ch.written(), 4096);
        assertThatThrownBy(() -> IncomingMigration.run(dest, in))
                .isInstanceOf(MigrationException.IncomingRejected.class)
                .hasMessageStartingWith("incoming migration refused: RAM digest mismatch after the switchover: ")
                .hasMessageEndingWith(", the source's)");
        assertThat(dest.runState()).as("never runs the wrong guest").isEqualTo(RunState.INMIGRATE);
        assertThat(dest.ramDigest()).as("discarded").isEqualTo(zeroDigest);
    }

    @Test
    void aPageWrittenBehindTheDirtyLogIsCaughtByTheCheckAfterTheHandOver() throws Exception {
        MemoryChannel ch = acked();
        TestControl control = new TestControl(true, 1, 0);
        RamBlock ram = source.ram().blocks().get(0);
        // Stopped, before the last dirty pages: a write the dirty log never sees (as a device
        // writing guest memory behind the accelerator's back would).
        // (loadPage is the incoming side's store: it marks the page written, never dirty.)
        ByteBuffer other = ByteBuffer.allocate(RamBlock.PAGE_SIZE).putLong(24, 0xdeadbeefL);
        control.onStopped = () -> ram.loadPage(4 * RamBlock.PAGE_SIZE, other);
        PrecopySender s = sender(ch, control);
        s.run();

        // The tables agree (the destination got what was sent), so the switchover passes...
        IncomingMigration.run(dest, new MemoryChannel(ch.written(), 1 << 16));
        assertThat(dest.ramDigest()).as("the destination holds the older page").isNotEqualTo(source.ramDigest());
        // ...and the frozen RAM's check names the page.
        FrozenRamCheck.Result r = s.frozenRamCheck().orElseThrow().get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(r.status()).isEqualTo(FrozenRamCheck.Status.FAILED);
        assertThat(r.mismatchedPages()).isEqualTo(1);
        assertThat(r.first()).containsExactly(new PageCrcTable.Mismatch(Machine.RAM_BLOCK, 4 * RamBlock.PAGE_SIZE));
        assertThat(r.describe()).startsWith("1 page(s) of the source's frozen RAM differ from what was sent: "
                + "written without being dirty-logged").endsWith("(first: ['pc.ram' offset 0x4000])");
    }

    @Test
    void aCleanMigrationPassesBothChecks() throws Exception {
        MemoryChannel ch = acked();
        PrecopySender s = sender(ch, new TestControl(true, 1, 0));
        s.run();
        IncomingMigration.run(dest, new MemoryChannel(ch.written(), 1 << 16));
        assertThat(dest.ramDigest()).isEqualTo(source.ramDigest());
        FrozenRamCheck.Result r = s.frozenRamCheck().orElseThrow().get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(r.status()).isEqualTo(FrozenRamCheck.Status.PASSED);
        assertThat(r.mismatchedPages()).isZero();
    }

    @Test
    void aSourceThatRunsAgainIsNotCheckedAgainstWhatItSent() {
        assertThat(source.runState()).isEqualTo(RunState.RUNNING);
        PageCrcTable sent = new PageCrcTable(source.ram().blocks());
        assertThat(FrozenRamCheck.check(source, sent).status()).isEqualTo(FrozenRamCheck.Status.SKIPPED);
    }
}
