package dev.converge.block.create;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.block.driver.FileNode;
import dev.converge.block.driver.OpenException;
import dev.converge.block.driver.PreallocMode;
import dev.converge.block.driver.qcow2.Qcow2Formatter;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobOptions;
import dev.converge.qmp.QmpException;
import java.util.Objects;

/**
 * The domain act of blockdev-create: starts a {@link CreateJob} for the decoded options. As in
 * QEMU, everything the driver checks (sizes, cluster size, versions, the {@code file} node)
 * fails the job with QEMU's text, not the command; only the job id can fail the command. Main
 * loop (the node is looked up in the graph and held by an anonymous user for the job's life,
 * so blockdev-del refuses it meanwhile).
 */
public final class BlockdevCreate {
    /** QEMU's blockdev-create job flags: auto-finalize, manual dismiss. */
    public static final JobOptions JOB_OPTIONS = JobOptions.defaults().withAutoDismiss(false);

    /** What to create: one variant per driver. */
    public sealed interface Options permits FileOptions, Qcow2Options {
    }

    /** The {@code file} driver's options (BlockdevCreateOptionsFile after defaults). */
    public record FileOptions(String filename, long size, PreallocMode prealloc) implements Options {
    }

    /** The {@code qcow2} driver's options: the node to format and the image's layout. */
    public record Qcow2Options(String fileNode, Qcow2Formatter.Format format) implements Options {
    }

    private final JobEngine engine;
    private final BlockGraph graph;

    public BlockdevCreate(JobEngine engine, BlockGraph graph) {
        this.engine = Objects.requireNonNull(engine);
        this.graph = Objects.requireNonNull(graph);
    }

    /**
     * Creates and starts the job.
     *
     * @throws dev.converge.job.JobException for a bad or duplicate job id; nothing started then
     */
    public Job start(String jobId, Options options) {
        CreateJob driver = switch (options) {
            case FileOptions f -> new CreateJob(() -> FileNode.create(f.filename(), f.size(), f.prealloc()), () -> {
            });
            case Qcow2Options q -> qcow2(q);
        };
        Job job;
        try {
            job = engine.create(jobId, CreateJob.KIND, driver, JOB_OPTIONS);
        } catch (RuntimeException e) {
            driver.clean();
            throw e;
        }
        engine.start(job);
        return job;
    }

    private CreateJob qcow2(Qcow2Options q) {
        BlockNode file;
        try {
            file = graph.lookup(q.fileNode());
        } catch (QmpException e) {
            String why = e.getMessage();
            return new CreateJob(() -> {
                throw new OpenException(why);
            }, () -> {
            });
        }
        BlockBackend user = graph.attachBackend(null, file);
        return new CreateJob(() -> Qcow2Formatter.format(file, q.format()), () -> graph.detachBackend(user));
    }
}
