package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockJob;
import dev.converge.block.BlockJobs;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobInfo;
import dev.converge.job.JobStatus;
import dev.converge.job.qmp.JobQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.Member;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The legacy block-job commands on the generic engine (QEMU's blockdev.c for these):
 * query-block-jobs, block-job-set-speed, -pause, -resume, -cancel, -complete, -finalize,
 * -dismiss. They name the job by {@code device} (or {@code id}) and report an unknown one as
 * QEMU does, "Block job 'X' not found" (DeviceNotActive). Main loop.
 */
final class BlockJobQmp {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final JobEngine engine;
    private final BlockJobs blockJobs;

    BlockJobQmp(JobEngine engine, BlockJobs blockJobs) {
        this.engine = Objects.requireNonNull(engine);
        this.blockJobs = Objects.requireNonNull(blockJobs);
    }

    void register(QmpRegistry r) {
        r.register(new CommandSpec("query-block-jobs", CommandSpec.EMPTY, new ArrayType(MirrorSchema.BLOCK_JOB_INFO),
                "Information about all block jobs, in creation order.", MirrorSchema.SINCE, args -> queryBlockJobs()));
        r.register(legacy("block-job-set-speed", "Set the job's speed limit (bytes per second, 0 = unlimited).",
                List.of(required("device", BuiltinType.STR, "the job id"),
                        required("speed", BuiltinType.INT, "bytes per second")),
                a -> engine.setSpeed(blockJob(a.str("device")), a.integer("speed"))));
        r.register(legacy("block-job-pause", "Pause the job.", List.of(required("device", BuiltinType.STR, "the job id")),
                a -> engine.pause(blockJob(a.str("device")))));
        r.register(legacy("block-job-resume", "Resume the job.",
                List.of(required("device", BuiltinType.STR, "the job id")),
                a -> engine.resume(blockJob(a.str("device")))));
        r.register(legacy("block-job-cancel",
                "Cancel the job. Without force a ready mirror finishes with a consistent copy and no pivot.",
                List.of(required("device", BuiltinType.STR, "the job id"),
                        optional("force", BuiltinType.BOOL, "abort even a ready mirror; default false")),
                this::blockJobCancel));
        r.register(legacy("block-job-complete", "Complete a ready job: the mirror pivots to its target.",
                List.of(required("device", BuiltinType.STR, "the job id")),
                a -> engine.complete(blockJob(a.str("device")))));
        r.register(legacy("block-job-finalize", "Finalize a pending job.",
                List.of(required("id", BuiltinType.STR, "the job id")),
                a -> engine.finalizeJob(blockJob(a.str("id")))));
        r.register(legacy("block-job-dismiss", "Dismiss a concluded job.",
                List.of(required("id", BuiltinType.STR, "the job id")),
                a -> engine.dismiss(blockJob(a.str("id")))));
    }

    private interface LegacyVerb {
        void apply(Args args);
    }

    private static CommandSpec legacy(String name, String doc, List<Member> members, LegacyVerb verb) {
        return new CommandSpec(name, CommandSpec.args(name, members.toArray(Member[]::new)), CommandSpec.EMPTY,
                doc + " Errors: 'Block job 'X' not found' (DeviceNotActive), the verb refused in this state.",
                MirrorSchema.SINCE, args -> {
                    try {
                        verb.apply(args);
                    } catch (JobException e) {
                        throw JobQmp.toQmp(e);
                    }
                    return null;
                });
    }

    /** The id of a live block job, or QEMU's "Block job 'X' not found" (DeviceNotActive). */
    private String blockJob(String id) {
        if (!blockJobs.contains(id) || engine.find(id).isEmpty()) {
            throw new QmpException(ErrorClass.DeviceNotActive, "Block job '" + id + "' not found");
        }
        return id;
    }

    /**
     * Without force: refused while paused (QEMU's text), and for a participant of a grouped
     * switchover (its leader finishes it; only a force cancel, which aborts the transaction).
     */
    private void blockJobCancel(Args a) {
        String id = blockJob(a.str("device"));
        boolean force = a.bool("force", false);
        Job job = engine.get(id);
        JobStatus s = job.status();
        if (!force && (s == JobStatus.PAUSED || s == JobStatus.STANDBY)) {
            throw QmpException.generic("The block job for device '%s' is currently paused", id);
        }
        if (!force && s == JobStatus.READY) {
            Optional<Job> leader = engine.switchoverLeader(job);
            if (leader.isPresent()) {
                throw QmpException.generic("%s: cancel it with force=true, which aborts the transaction",
                        JobEngine.completedByLeader(job, leader.get()));
            }
        }
        engine.cancel(id, force);
    }

    private JsonNode queryBlockJobs() {
        ArrayNode out = JSON.arrayNode();
        for (Job j : engine.jobs()) {
            Optional<BlockJob> m = blockJobs.find(j.id());
            if (m.isEmpty()) {
                continue;
            }
            JobInfo info = engine.query(j);
            JobStatus s = info.status();
            ObjectNode o = out.addObject();
            o.put("type", j.type());
            o.put("device", j.id());
            o.put("len", info.totalProgress());
            o.put("offset", info.currentProgress());
            o.put("busy", m.get().isBusy() && (s == JobStatus.RUNNING || s == JobStatus.READY));
            o.put("paused", s == JobStatus.PAUSED || s == JobStatus.STANDBY);
            o.put("speed", j.speed());
            o.put("io-status", m.get().ioStatus());
            o.put("ready", s == JobStatus.READY || s == JobStatus.STANDBY);
            o.put("status", s.wireName());
            o.put("auto-finalize", j.autoFinalize());
            o.put("auto-dismiss", j.autoDismiss());
            info.error().ifPresent(e -> o.put("error", e));
        }
        return out;
    }
}
