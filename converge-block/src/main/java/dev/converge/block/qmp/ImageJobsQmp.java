package dev.converge.block.qmp;

import dev.converge.block.BlockGraph;
import dev.converge.job.JobEngine;
import dev.converge.job.qmp.JobQmp;
import dev.converge.qmp.QmpRegistry;

/**
 * Wiring of the image jobs and commands that came with qcow2 (issue 18): blockdev-create,
 * block-stream, block-commit, blockdev-reopen, query-blockstats. One call at wiring time,
 * after the mirror's registration (stream and commit share its BLOCK_JOB_* events and
 * block-job-* commands; active commit runs as a mirror) and after the last block driver.
 */
public final class ImageJobsQmp {
    private ImageJobsQmp() {
    }

    public static void register(QmpRegistry registry, JobEngine engine, JobQmp jobQmp, BlockGraph graph,
            MirrorQmp mirrors) {
        BlockdevCreateQmp.register(registry, engine, jobQmp, graph);
        ChainQmp.register(registry, engine, jobQmp, graph, mirrors);
        BlockStatsQmp.register(registry, graph);
        BlockdevReopenQmp.register(registry, graph);
    }
}
