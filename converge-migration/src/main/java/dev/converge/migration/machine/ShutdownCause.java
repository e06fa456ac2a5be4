package dev.converge.migration.machine;

/**
 * Why a machine resets or shuts down: the values of QEMU's {@code ShutdownCause}
 * (qapi/run-state.json) that a converge machine can cause. {@code RESET} and {@code SHUTDOWN}
 * carry it as {@code reason}, and {@code guest} says whether the guest asked.
 */
public enum ShutdownCause {
    /** QMP {@code system_reset}. */
    HOST_QMP_SYSTEM_RESET("host-qmp-system-reset", false),
    /** The guest asked for a reset (on x86 KVM: a triple fault, KVM_EXIT_SHUTDOWN). */
    GUEST_RESET("guest-reset", true);

    private final String wireName;
    private final boolean guest;

    ShutdownCause(String wireName, boolean guest) {
        this.wireName = wireName;
        this.guest = guest;
    }

    /** The QAPI name, e.g. "guest-reset". */
    public String wireName() {
        return wireName;
    }

    /** Whether the guest caused it (the events' {@code guest} member). */
    public boolean guest() {
        return guest;
    }
}
