package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The destination's running digest equals the source's scan of the same RAM, and any changed byte changes it. */
class PageCrcDigestTest {
    @Test
    void theTrackerOfAppliedPagesEqualsAScanOfTheSameRam() {
        MachineSpec spec = MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE);
        try (Machine src = Machine.create("s", spec, RunState.INMIGRATE);
                Machine dst = Machine.create("d", spec, RunState.INMIGRATE)) {
            assertThat(PageCrcDigest.of(dst.ram())).as("zeroed RAM").isEqualTo(new PageCrcDigest.Tracker(dst.ram().blocks()).digest());
            Random r = new Random(9);
            RamBlock s = src.ram().blocks().get(0);
            RamBlock d = dst.ram().blocks().get(0);
            PageCrcDigest.Tracker t = new PageCrcDigest.Tracker(dst.ram().blocks());
            for (int i = 0; i < 200; i++) {
                long page = r.nextInt((int) s.pages());
                s.writeLong(page * RamBlock.PAGE_SIZE + 8 * r.nextInt(512), r.nextLong());
                d.loadPage(page * RamBlock.PAGE_SIZE, s.page(page).asByteBuffer());
                t.applied(0, d, page * RamBlock.PAGE_SIZE);
            }
            s.loadZeroPage(0);
            d.loadZeroPage(0);
            t.zeroed(0, 0);
            assertThat(t.digest()).isEqualTo(PageCrcDigest.of(src.ram())).isEqualTo(PageCrcDigest.of(dst.ram()));
            s.write(4096 * 7 + 100, (byte) (s.read(4096 * 7 + 100) ^ 1));
            assertThat(PageCrcDigest.of(src.ram())).as("one bit").isNotEqualTo(t.digest());
            assertThat(PageCrcDigest.ZERO_PAGE_CRC).isEqualTo(PageCrcDigest.crc(ByteBuffer.allocateDirect(4096)));
        }
    }
}
