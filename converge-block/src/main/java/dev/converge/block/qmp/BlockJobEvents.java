package dev.converge.block.qmp;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.mirror.BlockErrorAction;
import dev.converge.block.mirror.MirrorJob;
import dev.converge.block.BlockJobs;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobInfo;
import dev.converge.job.JobListener;
import dev.converge.job.JobStatus;
import dev.converge.qmp.EventSink;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The BLOCK_JOB_* events of the block jobs, every kind in {@link BlockJobs} (QEMU's blockjob.c): READY, PENDING, COMPLETED,
 * CANCELLED from the engine's events, and ERROR from the jobs' I/O errors.
 *
 * <h2>Event order (as qemu-storage-daemon 7.2, pinned by MirrorQmpTest)</h2>
 * JOB_STATUS_CHANGE ready, then BLOCK_JOB_READY; JOB_STATUS_CHANGE pending, then
 * BLOCK_JOB_PENDING (only without auto-finalize); BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED
 * after commit/abort and before JOB_STATUS_CHANGE concluded; BLOCK_JOB_ERROR before the
 * JOB_STATUS_CHANGE paused that a stop causes. This listener is registered after the JobQmp
 * one, so for one change the generic event always comes first. Listeners run outside the job
 * lock (the engine's lock contract), so reading the job's progress here is safe.
 */
public final class BlockJobEvents implements JobListener, MirrorJob.ErrorReporter {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final EventSink events;
    private final JobEngine engine;
    private final BlockGraph graph;
    /** The live block jobs of every kind whose events these are. */
    private final BlockJobs blockJobs;

    BlockJobEvents(EventSink events, JobEngine engine, BlockGraph graph, BlockJobs blockJobs) {
        this.events = Objects.requireNonNull(events);
        this.engine = Objects.requireNonNull(engine);
        this.graph = Objects.requireNonNull(graph);
        this.blockJobs = Objects.requireNonNull(blockJobs);
    }

    private boolean isMirror(Job job) {
        return blockJobs.contains(job.id());
    }

    /** From an I/O thread: announce on the main loop; for a stop, pause the job as a user pause. */
    @Override
    public CompletableFuture<Void> onError(MirrorJob job, boolean read, BlockErrorAction action) {
        return onError(job.id(), read, action);
    }

    /**
     * A block job's I/O error (BLOCK_JOB_ERROR), from any thread: announced on the main loop;
     * for a stop, the job is paused as a user pause. The future completes after both.
     */
    public CompletableFuture<Void> onError(String jobId, boolean read, BlockErrorAction action) {
        return graph.mainLoop().submit(() -> {
            ObjectNode d = JSON.objectNode();
            d.put("device", jobId);
            d.put("operation", read ? "read" : "write");
            d.put("action", action.wireName());
            events.emit("BLOCK_JOB_ERROR", d);
            if (action == BlockErrorAction.STOP) {
                try {
                    engine.pause(jobId);
                } catch (JobException e) {
                    // already paused by the user, or ending: QEMU pauses only when not user-paused
                }
            }
            return null;
        });
    }

    private ObjectNode progressData(Job job) {
        JobInfo info = engine.query(job);
        ObjectNode d = JSON.objectNode();
        d.put("device", job.id());
        d.put("len", info.totalProgress());
        d.put("offset", info.currentProgress());
        d.put("speed", job.speed());
        d.put("type", job.type());
        return d;
    }

    @Override
    public void statusChanged(Job job, JobStatus newStatus) {
        if (newStatus == JobStatus.PENDING && !job.autoFinalize() && isMirror(job)) {
            ObjectNode d = JSON.objectNode();
            d.put("type", job.type());
            d.put("id", job.id());
            events.emit("BLOCK_JOB_PENDING", d);
        }
    }

    @Override
    public void ready(Job job) {
        if (isMirror(job)) {
            events.emit("BLOCK_JOB_READY", progressData(job));
        }
    }

    @Override
    public void finalized(Job job) {
        if (!isMirror(job) || !job.wasStarted()) {
            return;
        }
        ObjectNode d = progressData(job);
        if (job.isCancelled()) {
            events.emit("BLOCK_JOB_CANCELLED", d);
        } else {
            job.error().ifPresent(e -> d.put("error", e));
            events.emit("BLOCK_JOB_COMPLETED", d);
        }
    }
}
