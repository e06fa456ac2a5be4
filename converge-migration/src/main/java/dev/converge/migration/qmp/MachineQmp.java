package dev.converge.migration.qmp;

import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RunState;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.ObjectType;

/**
 * The machine's QMP commands: QEMU's {@code query-status}, {@code stop} and {@code cont}, and
 * converge's {@code query-machine-digest}. Handlers run on the main loop.
 */
public final class MachineQmp {
    /** QAPI's RunState enum (the values converge can reach). */
    public static final EnumType RUN_STATE = EnumType.of("RunState", RunState.class, RunState::wireName,
            "The run state of the machine, as QEMU's.");
    /** QEMU's StatusInfo (without "singlestep", removed from QEMU in 9.1). */
    public static final ObjectType STATUS_INFO = ObjectType.struct("StatusInfo", "Information about the machine's run state.",
            required("running", BuiltinType.BOOL, "true if all vCPUs are runnable, false if not"),
            required("status", RUN_STATE, "the run state"));
    /** converge's MachineDigest. */
    public static final ObjectType MACHINE_DIGEST = ObjectType.struct("MachineDigest",
            "SHA-256 digests of the machine's state, to compare source and destination of a migration.",
            required("ram", BuiltinType.STR, "SHA-256 of all RAM blocks in order, lowercase hex"),
            required("disks", BuiltinType.ANY, "object: node name -> SHA-256 of that disk (disk=NODE), lowercase hex; empty without a disk"));

    private MachineQmp() {
    }

    /**
     * Registers the same commands for a daemon without a machine: query-status answers
     * "running" (there is nothing to stop), the others refuse naming the missing machine.
     */
    public static void registerWithoutMachine(QmpRegistry registry) {
        JsonNodeFactory json = JsonNodeFactory.instance;
        registerEvents(registry);
        registry.register(new CommandSpec("query-status", CommandSpec.EMPTY, STATUS_INFO,
                "Query the run status of the machine.", "0.1", args -> {
                    ObjectNode r = json.objectNode();
                    r.put("running", true);
                    r.put("status", RunState.RUNNING.wireName());
                    return r;
                }));
        for (String name : new String[] {"stop", "cont"}) {
            registry.register(new CommandSpec(name, CommandSpec.EMPTY, CommandSpec.EMPTY,
                    name.equals("stop") ? "Stop all guest vCPU execution." : "Resume guest vCPU execution.", "0.1",
                    args -> {
                        throw noMachine();
                    }));
        }
        registry.register(new CommandSpec("query-machine-digest", CommandSpec.EMPTY, MACHINE_DIGEST,
                "SHA-256 digests of RAM and disks. Consistent only while the vCPUs are stopped.", "0.1", args -> {
                    throw noMachine();
                }));
    }

    private static QmpException noMachine() {
        return QmpException.generic("No machine: converged was started without --machine");
    }

    /** QEMU's STOP and RESUME events (no data). */
    private static void registerEvents(QmpRegistry registry) {
        registry.register(new EventSpec("STOP", CommandSpec.EMPTY, "The vCPUs stopped: by stop, or for the switchover of an outgoing "
                + "migration (before MIGRATION pre-switchover or completed), as QEMU.", "0.1"));
        registry.register(new EventSpec("RESUME", CommandSpec.EMPTY, "The vCPUs are about to run: by cont; on the source when a "
                + "failed or cancelled migration resumes it (after MIGRATION failed, between cancelling and cancelled); "
                + "on the destination when an incoming migration completes with autostart and a running source "
                + "(before MIGRATION completed), as QEMU.", "0.1"));
    }

    /** Registers the commands and events for {@code machine}; STOP and RESUME go to {@code events}. */
    public static void register(QmpRegistry registry, Machine machine, EventSink events) {
        JsonNodeFactory json = JsonNodeFactory.instance;
        registerEvents(registry);
        machine.setRunStateListener(new Machine.RunStateListener() {
            @Override
            public void resuming() {
                events.emit("RESUME", null);
            }

            @Override
            public void stopped() {
                events.emit("STOP", null);
            }
        });
        registry.register(new CommandSpec("query-status", CommandSpec.EMPTY, STATUS_INFO,
                "Query the run status of the machine.", "0.1", args -> {
                    RunState s = machine.runState();
                    ObjectNode r = json.objectNode();
                    r.put("running", s.vcpusRun());
                    r.put("status", s.wireName());
                    return r;
                }));
        registry.register(new CommandSpec("stop", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Stop all guest vCPU execution. On a machine waiting for an incoming migration, the machine "
                        + "will stay paused when the migration completes (clears autostart).", "0.1", args -> {
                    machine.stop();
                    return null;
                }));
        registry.register(new CommandSpec("cont", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Resume guest vCPU execution. On a machine waiting for an incoming migration, the machine will "
                        + "run when the migration completes. Fails with \"Migration is not finalized yet\" while an "
                        + "outgoing migration finishes.", "0.1", args -> {
                    machine.cont();
                    return null;
                }));
        registry.register(new CommandSpec("query-machine-digest", CommandSpec.EMPTY, MACHINE_DIGEST,
                "SHA-256 digests of RAM and disks. Consistent only while the vCPUs are stopped.", "0.1", args -> {
                    ObjectNode r = json.objectNode();
                    r.put("ram", machine.ramDigest());
                    ObjectNode disks = r.putObject("disks");
                    machine.disk().ifPresent(d -> {
                        try {
                            disks.put(d.nodeName(), d.digest());
                        } catch (java.io.IOException e) {
                            throw QmpException.generic("Failed to read disk '%s': %s", d.nodeName(), e.getMessage());
                        }
                    });
                    return r;
                }));
    }
}
