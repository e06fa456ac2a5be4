package dev.converge.block.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DriversTest {
    private final Arena arena = Arena.ofAuto();

    private static NullNode zeroes(long size) {
        return new NullNode("n", NodeOptions.DEFAULTS, size, true, 0);
    }

    @Test
    void nullCoDefaultsAndReads() throws Exception {
        NullNode n = zeroes(NullNode.DEFAULT_SIZE);
        assertThat(n.size()).isEqualTo(1L << 30);
        MemorySegment buf = arena.allocate(512).fill((byte) 7);
        n.read(0, buf);
        assertThat(buf.get(ValueLayout.JAVA_BYTE, 0)).isZero();
        assertThat(n.blockStatus(0, 4096)).containsExactly(new Extent(0, 4096, Extent.ZERO | Extent.ALLOCATED));
        NullNode garbage = new NullNode("g", NodeOptions.DEFAULTS, 4096, false, 0);
        buf.fill((byte) 7);
        garbage.read(0, buf);
        assertThat(buf.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 7);
        assertThat(garbage.blockStatus(0, 4096).getFirst().isData()).isTrue();
    }

    @Test
    void rawWindowShiftsAndBoundsRequests() throws Exception {
        NullNode child = zeroes(1 << 20);
        RawNode raw = RawNode.open("r", NodeOptions.DEFAULTS, child, 4096, OptionalLong.of(8192));
        assertThat(raw.size()).isEqualTo(8192);
        raw.write(0, arena.allocate(8192));
        assertThatThrownBy(() -> raw.write(4096, arena.allocate(8192))).isInstanceOfSatisfying(
                BlockIOException.class, e -> assertThat(e.kind()).isEqualTo(Errno.ENOSPC));
        assertThatThrownBy(() -> raw.read(8192, arena.allocate(1))).isInstanceOfSatisfying(
                BlockIOException.class, e -> assertThat(e.kind()).isEqualTo(Errno.EINVAL));
        assertThat(raw.blockStatus(0, 8192)).containsExactly(new Extent(0, 8192, Extent.ZERO | Extent.ALLOCATED));
        // the write reached the child at the shifted offset
        var b = child.addDirtyBitmap(null, 4096);
        raw.write(100, arena.allocate(1));
        assertThat(b.nextDirty(0)).isEqualTo(4096);
    }

    @Test
    void rawWindowChecksAreQemus() {
        NullNode child = zeroes(1 << 20);
        assertThatThrownBy(() -> RawNode.open("r", NodeOptions.DEFAULTS, child, 2_000_000, OptionalLong.empty()))
                .hasMessage("Offset (2000000) cannot be greater than size of the containing file (1048576)");
        assertThatThrownBy(() -> RawNode.open("r", NodeOptions.DEFAULTS, child, 512, OptionalLong.of(1 << 20)))
                .hasMessage("The sum of offset (512) and size (1048576) has to be smaller or equal to the "
                        + " actual size of the containing file (1048576)");
        assertThatThrownBy(() -> RawNode.open("r", NodeOptions.DEFAULTS, child, 0, OptionalLong.of(1000)))
                .hasMessage("Specified size is not multiple of 512");
    }

    private static BlkdebugNode debug(BlkdebugNode.InjectError... rules) {
        return new BlkdebugNode("d", NodeOptions.DEFAULTS, zeroes(1 << 20), List.of(rules), List.of());
    }

    @Test
    void blkdebugFailsReadsOnReadAio() throws Exception {
        BlkdebugNode d = debug(new BlkdebugNode.InjectError("read_aio", 0, BlkdebugNode.IoType.DEFAULT, 5, -1, false));
        MemorySegment buf = arena.allocate(512);
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> d.read(0, buf)).isInstanceOfSatisfying(BlockIOException.class,
                    e -> assertThat(e.kind()).isEqualTo(Errno.EIO));
        }
        // QEMU's model: the rule stays active until another event activates other rules, and its
        // default iotypes include writes
        assertThatThrownBy(() -> d.write(0, buf)).isInstanceOf(BlockIOException.class);
    }

    @Test
    void blkdebugOnceSectorIotypeAndErrno() throws Exception {
        BlkdebugNode d = debug(new BlkdebugNode.InjectError("write_aio", 0, EnumSet.of(BlkdebugNode.IoType.WRITE), 28,
                10, true));
        MemorySegment buf = arena.allocate(512);
        d.write(0, buf); // sector 0: not sector 10
        d.read(10 * 512, buf); // reads are not the rule's iotype
        assertThatThrownBy(() -> d.write(9 * 512, arena.allocate(1024))).isInstanceOfSatisfying(
                BlockIOException.class, e -> assertThat(e.errno()).isEqualTo(28));
        d.write(10 * 512, buf); // once: gone
    }

    @Test
    void blkdebugStateGatesRules() throws Exception {
        BlkdebugNode d = new BlkdebugNode("d", NodeOptions.DEFAULTS, zeroes(1 << 20),
                List.of(new BlkdebugNode.InjectError("read_aio", 2, BlkdebugNode.IoType.DEFAULT, 5, -1, false)),
                List.of(new BlkdebugNode.SetState("flush_to_disk", 1, 2)));
        MemorySegment buf = arena.allocate(512);
        d.read(0, buf);
        d.flush();
        assertThat(d.state()).isEqualTo(2);
        assertThatThrownBy(() -> d.read(0, buf)).isInstanceOf(BlockIOException.class);
    }
}
