package dev.converge.block.driver;

import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code null-co} driver: no storage. Writes are dropped; reads leave the buffer as it is,
 * or zero it with read-zeroes (then block-status says ZERO, else DATA). latency-ns delays every
 * request (that delay is the option's purpose, for benchmarks and timing tests).
 */
public final class NullNode extends BlockNode {
    /** QEMU's default size: 1 GiB. */
    public static final long DEFAULT_SIZE = 1L << 30;

    private final long size;
    private final boolean readZeroes;
    private final long latencyNs;

    public NullNode(String nodeName, NodeOptions options, long size, boolean readZeroes, long latencyNs) {
        super(nodeName, "null-co", options);
        this.size = size;
        this.readZeroes = readZeroes;
        this.latencyNs = latencyNs;
    }

    public boolean readZeroes() {
        return readZeroes;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public String filename() {
        return "null-co://";
    }

    @Override
    public OptionalLong actualSize() {
        return OptionalLong.of(0);
    }

    private void delay() {
        if (latencyNs > 0) {
            LockSupport.parkNanos(latencyNs);
        }
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) {
        delay();
        if (readZeroes) {
            dst.fill((byte) 0);
        }
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) {
        delay();
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback) {
        delay();
    }

    @Override
    protected void doDiscard(long offset, long bytes) {
        delay();
    }

    @Override
    protected void doFlush() {
        delay();
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) {
        return List.of(new Extent(offset, bytes, (readZeroes ? Extent.ZERO : Extent.DATA) | Extent.ALLOCATED));
    }
}
