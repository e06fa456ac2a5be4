package dev.converge.job.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.job.JobTxn;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * QMP {@code transaction} (QEMU's qapi/transaction.json): several actions that either all take
 * effect or none does. Modules add the actions they own ({@code blockdev-mirror} from the block
 * layer, {@code migrate} from migration) with {@link #registerAction}; this class knows none of
 * them.
 * <p>
 * Two phases, all on the main loop so nothing else runs in between: every action is
 * {@linkplain Action#prepare prepared} in order (arguments checked, resources reserved, jobs
 * created but not started); if one refuses, the prepared ones are {@linkplain Prepared#abort
 * aborted} in reverse order and the command fails with that action's error, so an invalid
 * action refuses the whole transaction before any job starts. Otherwise every action is
 * {@linkplain Prepared#commit committed} (jobs start).
 * <p>
 * {@code properties.completion-mode}: {@code individual} (QEMU's default) gives each job its own
 * job transaction; {@code grouped} puts every job of the command in one {@link JobTxn}, so they
 * finish together or all abort (see docs/architecture.md, the joint switchover).
 */
public final class TransactionQmp {
    /** The kind of action QEMU offers for testing rollback: it always refuses. */
    public static final String ABORT = "abort";

    private static final EnumType COMPLETION_MODE = new EnumType("ActionCompletionMode",
            List.of("individual", "grouped"),
            "individual: each action's job finishes on its own; grouped: the jobs of the transaction finish "
                    + "together, or all abort if one fails or is cancelled");
    private static final ObjectType PROPERTIES = ObjectType.struct("TransactionProperties",
            "Optional properties of a transaction",
            Member.optional("completion-mode", COMPLETION_MODE, "default individual"));

    /** One kind of action. */
    @FunctionalInterface
    public interface Action {
        /**
         * Checks {@code data} and reserves what the action needs (for a job: creates it, in
         * {@code txn} when given, without starting it). Runs on the main loop.
         *
         * @param data the action's arguments, already validated against its declared type
         * @param txn  the job transaction to join (grouped), or null for a transaction of its own
         * @throws QmpException the action is invalid; it must then have changed nothing
         */
        Prepared prepare(ObjectNode data, JobTxn txn) throws QmpException;
    }

    /** A prepared action: exactly one of commit or abort is called. */
    public interface Prepared {
        /** Makes the action take effect (starts its job). Must not fail for user reasons. */
        void commit();

        /** Undoes what prepare reserved (cancels a created job). */
        void abort();
    }

    private record Registered(ObjectType dataType, Action action) {
    }

    private final QmpRegistry registry;
    /** Action kinds in registration order; guarded by {@code this}. */
    private final Map<String, Registered> actions = new LinkedHashMap<>();

    public TransactionQmp(QmpRegistry registry) {
        this.registry = registry;
    }

    /** Registers {@code transaction} with the built-in {@code abort} action. */
    public synchronized void register() {
        actions.put(ABORT, new Registered(ObjectType.struct("Abort", "An action that always fails"), (data, txn) -> {
            throw QmpException.generic("Transaction aborted using Abort action");
        }));
        registry.register(spec());
    }

    /**
     * Adds an action kind: {@code {"type": type, "data": {...}}} with {@code data} of
     * {@code dataType} (normally the arguments of the command of the same name).
     */
    public synchronized void registerAction(String type, ObjectType dataType, Action action) {
        if (actions.putIfAbsent(type, new Registered(dataType, action)) != null) {
            throw new IllegalStateException("transaction action registered twice: " + type);
        }
        registry.replace(spec());
    }

    private synchronized CommandSpec spec() {
        EnumType kinds = new EnumType("TransactionActionKind", List.copyOf(actions.keySet()), "The kinds of action");
        ObjectType action = ObjectType.union("TransactionAction",
                "One action of a transaction: its kind and its arguments",
                List.of(Member.required("type", kinds, "the kind of action")), "type", Map.of());
        for (Map.Entry<String, Registered> e : actions.entrySet()) {
            action = action.withVariant(e.getKey(), ObjectType.struct(
                    "TransactionAction" + JobQmp.camel(e.getKey()) + "Wrapper", null,
                    Member.required("data", e.getValue().dataType(), "the arguments of the action")));
        }
        return new CommandSpec("transaction",
                CommandSpec.args("transaction",
                        Member.required("actions", new ArrayType(action), "the actions, prepared in this order"),
                        Member.optional("properties", PROPERTIES, "properties of the whole transaction")),
                CommandSpec.EMPTY,
                "Run several actions atomically: every action is checked and prepared first, and if any is "
                        + "invalid none takes effect and the error of the first invalid one is returned. With "
                        + "completion-mode grouped the jobs started form one job transaction: they switch over "
                        + "together, or all abort.",
                JobQmp.SINCE, this::run);
    }

    private JsonNode run(Args args) {
        boolean grouped = args.has("properties")
                && "grouped".equals(args.raw("properties").path("completion-mode").asText("individual"));
        JobTxn txn = grouped ? new JobTxn() : null;
        List<Prepared> prepared = new ArrayList<>();
        try {
            for (JsonNode a : args.raw("actions")) {
                Registered r;
                synchronized (this) {
                    r = actions.get(a.get("type").asText());
                }
                ObjectNode data = (ObjectNode) a.get("data");
                prepared.add(r.action().prepare(data, txn));
            }
        } catch (RuntimeException e) {
            for (int i = prepared.size() - 1; i >= 0; i--) {
                prepared.get(i).abort();
            }
            throw e;
        }
        prepared.forEach(Prepared::commit);
        return null;
    }
}
