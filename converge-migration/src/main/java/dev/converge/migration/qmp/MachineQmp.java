package dev.converge.migration.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.migration.machine.Accelerator;
import dev.converge.migration.machine.GuestActions;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.machine.ShutdownCause;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.ObjectType;

/**
 * The machine's QMP commands: QEMU's {@code query-status}, {@code stop}, {@code cont},
 * {@code system_reset}, {@code set-action} and {@code query-kvm}, and converge's
 * {@code query-machine-digest}; the events STOP, RESUME, RESET and SHUTDOWN. Handlers run on the
 * main loop.
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

    /** QEMU 10.0's KvmInfo (qapi/accelerator.json). */
    static final ObjectType KVM_INFO = ObjectType.struct("KvmInfo", "Information about support for KVM acceleration.",
            required("enabled", BuiltinType.BOOL, "true if the machine runs on KVM (--machine accel=kvm)"),
            required("present", BuiltinType.BOOL, "true: converged always has its KVM accelerator; whether this host "
                    + "lets it open /dev/kvm shows when a machine with accel=kvm starts"));
    private static final String QUERY_KVM_DOC = "Returns information about KVM acceleration: as QEMU, present says the "
            + "accelerator is built in (always true), enabled that the machine uses it.";

    /** QAPI's ShutdownCause, all of QEMU's values (converge causes host-qmp-system-reset and guest-reset). */
    static final EnumType SHUTDOWN_CAUSE = new EnumType("ShutdownCause", java.util.List.of("none", "host-error", "host-qmp-quit",
            "host-qmp-system-reset", "host-signal", "host-ui", "guest-shutdown", "guest-reset", "guest-panic", "subsystem-reset",
            "snapshot-load"), "An enumeration of reasons for a shutdown or a reset.");
    static final EnumType REBOOT_ACTION = EnumType.of("RebootAction", GuestActions.Reboot.class, GuestActions.Reboot::wireName,
            "What a reset request does.");
    static final EnumType SHUTDOWN_ACTION = EnumType.of("ShutdownAction", GuestActions.Shutdown.class, GuestActions.Shutdown::wireName,
            "What a guest shutdown does.");
    static final EnumType PANIC_ACTION = new EnumType("PanicAction", java.util.List.of("pause", "shutdown", "exit-failure", "none"),
            "What a guest panic does.");
    static final EnumType WATCHDOG_ACTION = new EnumType("WatchdogAction", java.util.List.of("reset", "shutdown", "poweroff", "pause",
            "debug", "none", "inject-nmi"), "What an expired watchdog does.");
    private static final ObjectType SET_ACTION_ARGS = ObjectType.struct("q_obj_set-action-arg", null,
            optional("reboot", REBOOT_ACTION, "what a reset request (a guest triple fault, system_reset) does: reset (default) "
                    + "or shutdown (QEMU's -no-reboot)"),
            optional("shutdown", SHUTDOWN_ACTION, "what a shutdown does; converged does not exit on poweroff (it serves jobs "
                    + "besides the machine): both values leave the machine in run state 'shutdown'"),
            optional("panic", PANIC_ACTION, "accepted as QEMU does; converge's machines have no panic device, so it never applies"),
            optional("watchdog", WATCHDOG_ACTION, "accepted as QEMU does; converge's machines have no watchdog, so it never applies"));
    private static final ObjectType RESET_EVENT = ObjectType.struct("q_obj_RESET-arg", null,
            required("guest", BuiltinType.BOOL, "true if the guest asked for the reset (a triple fault), false for system_reset"),
            required("reason", SHUTDOWN_CAUSE, "why"));
    private static final ObjectType SHUTDOWN_EVENT = ObjectType.struct("q_obj_SHUTDOWN-arg", null,
            required("guest", BuiltinType.BOOL, "true if the guest's request caused it"),
            required("reason", SHUTDOWN_CAUSE, "why (guest-reset: a reset that reboot=shutdown turned into a shutdown)"));

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
        registry.register(new CommandSpec("system_reset", CommandSpec.EMPTY, CommandSpec.EMPTY, SYSTEM_RESET_DOC, "0.1", args -> {
            throw noMachine();
        }));
        registerQueryKvm(registry, false);
        registry.register(new CommandSpec("set-action", SET_ACTION_ARGS, CommandSpec.EMPTY, SET_ACTION_DOC, "0.1", args -> {
            throw noMachine();
        }));
    }

    private static final String SYSTEM_RESET_DOC = "Performs a hard reset of the machine (accel=kvm): vCPUs and devices to their "
            + "power-on state, the boot sector reloaded; RESET follows. A stopped machine goes to 'prelaunch' (cont boots it). With "
            + "set-action reboot=shutdown it shuts down instead, as QEMU. Refused on the software machine and while a migration "
            + "moves the machine.";
    private static final String SET_ACTION_DOC = "Sets what the machine does on guest events. reboot=shutdown is QEMU's "
            + "-no-reboot: a guest's reset request (a triple fault) or system_reset emits SHUTDOWN and stops the machine in run "
            + "state 'shutdown' (STOP follows) instead of resetting it with RESET.";

    private static ObjectNode causeData(JsonNodeFactory json, ShutdownCause cause) {
        ObjectNode d = json.objectNode();
        d.put("guest", cause.guest());
        d.put("reason", cause.wireName());
        return d;
    }

    /** query-kvm; {@code enabled}: whether the daemon's machine runs on KVM (fixed for the daemon's life). */
    private static void registerQueryKvm(QmpRegistry registry, boolean enabled) {
        registry.register(new CommandSpec("query-kvm", CommandSpec.EMPTY, KVM_INFO, QUERY_KVM_DOC, "0.1", args -> {
            ObjectNode r = JsonNodeFactory.instance.objectNode();
            r.put("enabled", enabled);
            r.put("present", true);
            return r;
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
        registry.register(new EventSpec("RESET", RESET_EVENT, "The machine was reset: the guest asked (a triple fault on "
                + "accel=kvm; the run state stays 'running', no STOP or RESUME) or system_reset.", "0.1"));
        registry.register(new EventSpec("SHUTDOWN", SHUTDOWN_EVENT, "The machine shut down instead of resetting (set-action "
                + "reboot=shutdown); STOP follows when it was running, and it stays in run state 'shutdown' until system_reset.", "0.1"));
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

            @Override
            public void reset(ShutdownCause cause) {
                events.emit("RESET", causeData(json, cause));
            }

            @Override
            public void shutdown(ShutdownCause cause) {
                events.emit("SHUTDOWN", causeData(json, cause));
            }
        });
        registry.register(new CommandSpec("system_reset", CommandSpec.EMPTY, CommandSpec.EMPTY, SYSTEM_RESET_DOC, "0.1", args -> {
            machine.systemReset();
            return null;
        }));
        registerQueryKvm(registry, machine.accelerator().kind() == Accelerator.Kind.KVM);
        registry.register(new CommandSpec("set-action", SET_ACTION_ARGS, CommandSpec.EMPTY, SET_ACTION_DOC, "0.1", args -> {
            GuestActions a = machine.actions();
            if (args.has("reboot")) {
                a = a.parse("reboot=" + args.str("reboot"));
            }
            if (args.has("shutdown")) {
                a = a.parse("shutdown=" + args.str("shutdown"));
            }
            machine.setActions(a);
            return null;
        }));
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
