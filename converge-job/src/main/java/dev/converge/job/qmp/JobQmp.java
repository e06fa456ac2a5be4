package dev.converge.job.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobInfo;
import dev.converge.job.JobKind;
import dev.converge.job.JobListener;
import dev.converge.job.JobStatus;
import dev.converge.qmp.Args;
import dev.converge.qmp.CommandHandler;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.RecordType;
import dev.converge.qmp.schema.WireEnum;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The QMP binding of the job engine (QEMU's qapi/job.json and job-qmp.c): query-jobs,
 * job-pause, job-resume, job-cancel, job-complete, job-finalize, job-dismiss, job-change, and
 * the events JOB_STATUS_CHANGE and JOB_INFO_CHANGE. Job user errors become QMP errors here:
 * every error is a GenericError, "Job not found" included, as QEMU's job-qmp.c.
 * <p>
 * The handlers run on the main loop. Events are emitted from the engine's listener calls, which
 * come in the engine's total order of changes (outside the job lock), and the events a command
 * caused are emitted before the command returns, so before its reply.
 */
public final class JobQmp implements JobListener {
    static final String SINCE = "0.1";
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private static final EnumType JOB_STATUS = EnumType.of("JobStatus", JobStatus.class, JobStatus::wireName,
            "Status of a job: undefined, created, running, paused, ready, standby, waiting, pending, aborting, "
                    + "concluded, null (see the job state machine in docs/architecture.md)");

    private final JobEngine engine;
    private final QmpRegistry registry;
    private final EventSink events;

    /** A registered job kind with the QMP structs derived from its records (null where it has none). */
    private record Kind(JobKind<?, ?> kind, RecordType<?> change, RecordType<?> info) {
        @SuppressWarnings("unchecked")
        ObjectNode encodeInfo(Record r) {
            return ((RecordType<Record>) info).encode(r);
        }
    }

    /** Registered job kinds by type, in registration order; guarded by {@code this}. */
    private final Map<String, Kind> types = new LinkedHashMap<>();

    public JobQmp(JobEngine engine, QmpRegistry registry, EventSink events) {
        this.engine = engine;
        this.registry = registry;
        this.events = events;
    }

    /** Registers the commands and events and starts emitting events for the engine's jobs. */
    public synchronized void register() {
        registry.register(queryJobsSpec());
        registry.register(idCommand("job-pause",
                "Pause an active job: it stops at its next pause point (running→paused, ready→standby). "
                        + "Errors: 'Job not found', verb refused, 'Job is already paused'.",
                engine::pause));
        registry.register(idCommand("job-resume",
                "Resume a job the user paused. Errors: 'Job not found', "
                        + "'Can't resume a job that was not paused', verb refused.",
                engine::resume));
        registry.register(idCommand("job-cancel",
                "Cancel a job at the next opportunity (a force cancel, as QEMU's job-cancel; a soft cancel of a "
                        + "ready job is block-job-cancel's force=false). The job usually goes to aborting, but may "
                        + "reach pending if it was about to finish. Cancelling a job aborts its whole transaction. "
                        + "Errors: 'Job not found', verb refused.",
                id -> engine.cancel(id, true)));
        registry.register(idCommand("job-complete",
                "Complete a ready job: it switches over and finishes. Errors: 'Job not found', verb refused, "
                        + "'The active block job 'ID' cannot be completed'.",
                engine::complete));
        registry.register(idCommand("job-finalize",
                "Finalize a pending job and every job of its transaction (commit, or abort if one fails to "
                        + "prepare). Errors: 'Job not found', verb refused.",
                engine::finalizeJob));
        registry.register(idCommand("job-dismiss",
                "Remove a concluded job from query-jobs. Errors: 'Job not found', verb refused.",
                engine::dismiss));
        registry.register(jobChangeSpec());
        registry.register(new EventSpec("JOB_STATUS_CHANGE", ObjectType.struct("q_obj_JOB_STATUS_CHANGE-arg", null,
                Member.required("id", BuiltinType.STR, "The job identifier"),
                Member.required("status", JOB_STATUS, "The new job status")),
                "Emitted when a job changes status; one event per change, in order.", SINCE));
        registry.register(new EventSpec("JOB_INFO_CHANGE", ObjectType.struct("q_obj_JOB_INFO_CHANGE-arg", null,
                Member.required("id", BuiltinType.STR, "The job identifier")),
                "Emitted when the type-specific members of a job's query-jobs entry changed meaningfully "
                        + "(e.g. a migration's sub-status); query-jobs shows the new values. (converge addition)",
                SINCE));
        engine.addListener(this);
    }

    /**
     * Declares a job kind: adds its type to JobType and derives from its records the variants of
     * JobInfo (query-jobs), named {@code JobInfo<Type>}, and of job-change's arguments, named
     * {@code JobChangeOptions<Type>} (Type in camel case: mirror → Mirror), re-declaring both
     * commands. From then on job-change decodes that kind's options into its record once, here,
     * and query-jobs encodes its info records.
     *
     * @param enums the enums the kind's records use
     * @throws IllegalStateException    when the type is declared twice or {@link #register()} did not run
     * @throws IllegalArgumentException when a record cannot be mapped to QMP (see {@link RecordType})
     */
    public synchronized void registerJobKind(JobKind<?, ?> kind, WireEnum<?>... enums) {
        String camel = camel(kind.type());
        Kind k = new Kind(kind,
                kind.changeOptions() == null ? null : RecordType.of(kind.changeOptions(), "JobChangeOptions" + camel, enums),
                kind.info() == null ? null : RecordType.of(kind.info(), "JobInfo" + camel, enums));
        if (types.putIfAbsent(kind.type(), k) != null) {
            throw new IllegalStateException("job type registered twice: " + kind.type());
        }
        registry.replace(queryJobsSpec());
        registry.replace(jobChangeSpec());
    }

    /** A QAPI name part in camel case: "mirror" → "Mirror", "blockdev-mirror" → "BlockdevMirror". */
    static String camel(String type) {
        StringBuilder sb = new StringBuilder();
        for (String part : type.split("-")) {
            if (!part.isEmpty()) {
                sb.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
            }
        }
        return sb.toString();
    }

    /** The JobType enum as currently declared (for other modules' schemas). */
    public synchronized EnumType jobTypeEnum() {
        return new EnumType("JobType", List.copyOf(types.keySet()), "Type of a job");
    }

    /** The JobInfo union as currently declared. */
    public synchronized ObjectType jobInfoType() {
        ObjectType info = ObjectType.union("JobInfo", "Information about a job", List.of(
                Member.required("id", BuiltinType.STR, "The job identifier"),
                Member.required("type", jobTypeEnum(), "The kind of job that is being performed"),
                Member.required("status", JOB_STATUS, "Current job state/status"),
                Member.required("current-progress", BuiltinType.INT,
                        "Progress made until now; only grows. The unit is arbitrary (bytes for mirror and migration)"),
                Member.required("total-progress", BuiltinType.INT,
                        "Estimated current-progress value at completion: current plus remaining; may move both ways"),
                Member.optional("error", BuiltinType.STR,
                        "Present iff the job failed or was cancelled; human-readable, not for parsing")),
                "type", Map.of());
        for (Kind k : types.values()) {
            if (k.info() != null) {
                info = info.withVariant(k.kind().type(), k.info().schema());
            }
        }
        return info;
    }

    private CommandSpec queryJobsSpec() {
        return new CommandSpec("query-jobs", CommandSpec.EMPTY, new ArrayType(jobInfoType()),
                "Return information about all jobs, in creation order.", SINCE, args -> queryJobs());
    }

    private synchronized ObjectType jobChangeArgs() {
        ObjectType t = ObjectType.union("JobChangeOptions", "Options for changing a running job", List.of(
                Member.required("id", BuiltinType.STR, "The job identifier"),
                Member.optional("type", jobTypeEnum(),
                        "The job type; when absent the job's own type selects the options; when given it must "
                                + "match the job")),
                "type", Map.of());
        for (Kind k : types.values()) {
            if (k.change() != null) {
                t = t.withVariant(k.kind().type(), k.change().schema());
            }
        }
        return t;
    }

    private CommandSpec jobChangeSpec() {
        return new CommandSpec("job-change", jobChangeArgs(), CommandSpec.EMPTY,
                "Change the type-specific options of an active job (e.g. a migration's downtime-limit). Errors: "
                        + "'Job not found', 'Job 'ID' is 'T' job, not 'U'', verb refused, "
                        + "'Job type does not support change', 'Parameter 'x' is unexpected', a bad option.",
                SINCE, this::jobChange).withVariantResolver(this::jobTypeOf);
    }

    /**
     * job-change without {@code type}: the job's own type selects the variant, so that the server's
     * validator checks the type-specific options (names and types) before the handler runs.
     */
    private String jobTypeOf(ObjectNode arguments) {
        JsonNode id = arguments.get("id");
        if (id == null || !id.isTextual()) {
            return null;
        }
        return mapped(() -> engine.get(id.asText())).type();
    }

    private static CommandSpec idCommand(String name, String doc, Consumer<String> verb) {
        CommandHandler h = args -> {
            String id = args.str("id");
            mapped(() -> verb.accept(id));
            return null;
        };
        return new CommandSpec(name, CommandSpec.args(name, Member.required("id", BuiltinType.STR,
                "The job identifier")), CommandSpec.EMPTY, doc, SINCE, h);
    }

    private JsonNode queryJobs() {
        ArrayNode out = NODES.arrayNode();
        for (JobInfo info : engine.query()) {
            out.add(toJson(info));
        }
        return out;
    }

    /** One JobInfo as query-jobs shows it: generic members first, then the kind's own. */
    ObjectNode toJson(JobInfo info) {
        ObjectNode o = NODES.objectNode();
        o.put("id", info.id());
        o.put("type", info.type());
        o.put("status", info.status().wireName());
        o.put("current-progress", info.currentProgress());
        o.put("total-progress", info.totalProgress());
        info.error().ifPresent(e -> o.put("error", e));
        if (info.driverInfo().isEmpty()) {
            return o;
        }
        Kind k;
        synchronized (this) {
            k = types.get(info.type());
        }
        if (k == null || k.info() == null) {
            throw new IllegalStateException("job '" + info.id() + "': info of type '" + info.type()
                    + "', which declared no info record");
        }
        ObjectNode own = k.encodeInfo(info.driverInfo().get());
        for (Map.Entry<String, JsonNode> e : own.properties()) {
            if (o.has(e.getKey())) {
                throw new IllegalStateException("job '" + info.id() + "': info member '" + e.getKey()
                        + "' clashes with a generic member");
            }
            o.set(e.getKey(), e.getValue());
        }
        return o;
    }

    private JsonNode jobChange(Args args) {
        String id = args.str("id");
        Job job = mapped(() -> engine.get(id));
        String given = args.optStr("type").orElse(null);
        if (given != null && !given.equals(job.type())) {
            throw QmpException.generic("Job '%s' is '%s' job, not '%s'", id, job.type(), given);
        }
        ObjectNode rest = args.node().deepCopy();
        rest.remove("id");
        rest.remove("type");
        RecordType<?> codec;
        synchronized (this) {
            Kind k = types.get(job.type());
            codec = k == null ? null : k.change();
        }
        Set<String> allowed = new HashSet<>();
        if (codec != null) {
            codec.schema().members().forEach(m -> allowed.add(m.name()));
        }
        List<String> names = new ArrayList<>();
        rest.fieldNames().forEachRemaining(names::add);
        for (String n : names) {
            if (!allowed.contains(n)) {
                throw QmpException.generic("Parameter '%s' is unexpected", n);
            }
        }
        // Decoded once, here: the validator already checked names, types and ranges against the
        // variant, so the driver gets a typed record.
        Record options = codec == null ? null : codec.decode(rest);
        mapped(() -> engine.change(id, options));
        return null;
    }

    @Override
    public void statusChanged(Job job, JobStatus newStatus) {
        ObjectNode data = NODES.objectNode();
        data.put("id", job.id());
        data.put("status", newStatus.wireName());
        events.emit("JOB_STATUS_CHANGE", data);
    }

    @Override
    public void infoChanged(Job job) {
        ObjectNode data = NODES.objectNode();
        data.put("id", job.id());
        events.emit("JOB_INFO_CHANGE", data);
    }

    /** Runs {@code r}, turning a job user error into the QMP error of the right class. */
    static void mapped(Runnable r) {
        mapped(() -> {
            r.run();
            return null;
        });
    }

    static <T> T mapped(java.util.function.Supplier<T> s) {
        try {
            return s.get();
        } catch (JobException e) {
            throw toQmp(e);
        }
    }

    /** Every job user error is a GenericError, "Job not found" included, as in QEMU's job-qmp.c. */
    public static QmpException toQmp(JobException e) {
        // QEMU's job-* commands report an unknown job as a GenericError "Job not found"; only the
        // legacy block-job-* commands use DeviceNotActive (with their own message).
        return new QmpException(ErrorClass.GenericError, e.getMessage(), e);
    }
}
