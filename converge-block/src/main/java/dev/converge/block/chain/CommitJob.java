package dev.converge.block.chain;

import dev.converge.block.BackingChain;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.job.JobKind;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The block-commit job for an intermediate image (QEMU's block/commit.c): copies into
 * {@code base} what the chain from {@code top} down to {@code base} holds, then points the
 * overlay of {@code top} at {@code base} (dropping the committed images from the chain) and
 * records it in the overlay's image. The guest writes into the active layer above, so nothing
 * it does can race the copy: the committed part of the chain is read-only. A commit of the
 * active layer is {@link ActiveCommitJob}.
 */
public final class CommitJob extends ChainCopyJob {
    /** The job kind: type {@code commit}, no job-change options, no members of its own. */
    public static final JobKind<Record, Record> KIND = JobKind.plain("commit");

    CommitJob(String id, BlockGraph graph, BlockNode top, BlockNode base, BlockNode overlay, String backingFile,
            BlockdevOnError onError, ErrorReporter reporter, Runnable release) {
        super(id, top, new Relink(graph, overlay, base, backingFile, base.driverName()), onError, reporter, release);
    }

    @Override
    protected List<Extent> rangesToMove(long offset, long length) throws BlockIOException {
        return BackingChain.allocatedAbove(top, relink.base(), offset, length);
    }

    @Override
    protected BlockNode destination() {
        return relink.base();
    }

    @Override
    protected void store(long offset, MemorySegment data) throws BlockIOException {
        relink.base().write(offset, data);
    }

    /** QEMU's commit_prepare (bdrv_drop_intermediate): the overlay reads through the base now. */
    @Override
    public void prepare() throws Exception {
        relink.base().flush();
        super.prepare();
    }
}
