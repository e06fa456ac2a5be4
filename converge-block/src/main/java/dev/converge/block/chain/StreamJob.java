package dev.converge.block.chain;

import dev.converge.block.BackingChain;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.job.JobKind;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The block-stream job (QEMU's block/stream.c): copies into {@code top} what the chain below
 * it holds above {@code base} (everything when there is no base), then makes {@code base} the
 * new backing node of {@code top} (none without a base) and records it in the image.
 * <p>
 * The copy is a {@linkplain BlockNode#populate populate} of each range {@code top} does not
 * hold: the driver fills only what is still unallocated, under its metadata lock, so a guest
 * write into the same range meanwhile (which allocates it) is never overwritten with the old
 * data. The guest-visible contents never change, so mirrors and bitmaps of {@code top} are
 * not disturbed.
 */
public final class StreamJob extends ChainCopyJob {
    /** The job kind: type {@code stream}, no job-change options, no members of its own. */
    public static final JobKind<Record, Record> KIND = JobKind.plain("stream");

    StreamJob(String id, BlockGraph graph, BlockNode top, BlockNode base, String backingFile, String backingFormat,
            BlockdevOnError onError, ErrorReporter reporter, Runnable release) {
        super(id, top, new Relink(graph, top, base, backingFile, backingFormat), onError, reporter, release);
    }

    @Override
    protected List<Extent> rangesToMove(long offset, long length) throws BlockIOException {
        List<Extent> out = new ArrayList<>();
        BlockNode below = top.backing().orElse(null);
        if (below == null) {
            return out;
        }
        for (Extent hole : BackingChain.unallocatedHere(top, offset, length)) {
            out.addAll(BackingChain.allocatedAbove(below, relink.base(), hole.offset(), hole.length()));
        }
        return out;
    }

    @Override
    protected BlockNode destination() {
        return top;
    }

    @Override
    protected void store(long offset, MemorySegment data) throws BlockIOException {
        top.populate(offset, data);
    }
}
