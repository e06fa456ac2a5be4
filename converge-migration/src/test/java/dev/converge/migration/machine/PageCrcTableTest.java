package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A table of pages as they were applied equals a scan of the same RAM, any changed byte changes
 * the digest, and the check names the pages that differ.
 */
class PageCrcTableTest {
    @Test
    void theTableOfAppliedPagesEqualsAScanOfTheSameRam() {
        MachineSpec spec = MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE);
        try (Machine src = Machine.create("s", spec, RunState.INMIGRATE);
                Machine dst = Machine.create("d", spec, RunState.INMIGRATE)) {
            assertThat(PageCrcTable.scan(dst.ram()).digest()).as("zeroed RAM")
                    .isEqualTo(new PageCrcTable(dst.ram().blocks()).digest());
            Random r = new Random(9);
            RamBlock s = src.ram().blocks().get(0);
            RamBlock d = dst.ram().blocks().get(0);
            PageCrcTable t = new PageCrcTable(dst.ram().blocks());
            for (int i = 0; i < 200; i++) {
                long page = r.nextInt((int) s.pages());
                s.writeLong(page * RamBlock.PAGE_SIZE + 8 * r.nextInt(512), r.nextLong());
                t.record(0, page, s.page(page).asByteBuffer());
                d.loadPage(page * RamBlock.PAGE_SIZE, s.page(page).asByteBuffer());
            }
            s.loadZeroPage(0);
            d.loadZeroPage(0);
            t.recordZero(0, 0);
            assertThat(t.digest()).isEqualTo(PageCrcTable.scan(src.ram()).digest())
                    .isEqualTo(PageCrcTable.scan(dst.ram()).digest());
            assertThat(t.mismatches(src.ram(), 8).count()).isZero();
            s.write(4096 * 7 + 100, (byte) (s.read(4096 * 7 + 100) ^ 1));
            assertThat(PageCrcTable.scan(src.ram()).digest()).as("one bit").isNotEqualTo(t.digest());
            assertThat(PageCrcTable.ZERO_PAGE_CRC).isEqualTo(PageCrcTable.crc(ByteBuffer.allocateDirect(4096)));
        }
    }

    @Test
    void theCheckNamesEveryPageThatDiffersInOrderUpToTheLimit() {
        MachineSpec spec = MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE);
        try (Machine m = Machine.create("m", spec, RunState.INMIGRATE)) {
            PageCrcTable t = PageCrcTable.scan(m.ram());
            RamBlock ram = m.ram().blocks().get(0);
            for (long page : new long[] {200, 3, 17}) {
                ram.loadPage(page * RamBlock.PAGE_SIZE, ByteBuffer.allocate(RamBlock.PAGE_SIZE).put(5, (byte) 1)); // behind the dirty log
            }
            assertThat(ram.dirtyLog().isDirty(3)).as("not dirty-logged").isFalse();
            PageCrcTable.Mismatches m2 = t.mismatches(m.ram(), 2);
            assertThat(m2.count()).isEqualTo(3);
            assertThat(m2.first()).containsExactly(new PageCrcTable.Mismatch(Machine.RAM_BLOCK, 3 * 4096L),
                    new PageCrcTable.Mismatch(Machine.RAM_BLOCK, 17 * 4096L));
        }
    }

    @Test
    void everySinglePageChangesTheDigestWhateverItsLaneAndSizesBelowTheLaneCountWork() {
        for (long memory : new long[] {4096 * 3, 1L << 20}) {
            try (Machine m = Machine.create("m", MachineSpec.of(memory, 1, WorkloadKind.IDLE), RunState.INMIGRATE)) {
                PageCrcTable t = new PageCrcTable(m.ram().blocks());
                String zero = t.digest();
                assertThat(zero).hasSize(64).isEqualTo(PageCrcTable.scan(m.ram()).digest());
                java.util.Set<String> seen = new java.util.HashSet<>();
                for (int b = 0; b < m.ram().blocks().size(); b++) {
                    RamBlock block = m.ram().blocks().get(b);
                    for (long page = 0; page < block.pages(); page += Math.max(1, block.pages() / 37)) {
                        t.record(b, page, ByteBuffer.allocate(RamBlock.PAGE_SIZE).put(0, (byte) 1));
                        assertThat(seen.add(t.digest())).as("block %d page %d", b, page).isTrue();
                        t.recordZero(b, page);
                        assertThat(t.digest()).isEqualTo(zero);
                    }
                }
            }
        }
    }
}
