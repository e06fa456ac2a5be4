package dev.converge.migration.machine;

/** The workloads a machine's vCPUs can run ({@code workload=NAME}). */
public enum WorkloadKind {
    /** The vCPUs write nothing. */
    IDLE("idle"),
    /** Each pass writes pass+1 into the first byte of every page of the range; see {@link PatternWorkload}. */
    PATTERN("pattern"),
    /** Random 8-byte writes to random pages of the working set; see {@link StressWorkload}. */
    STRESS("stress");

    private final String wireName;

    WorkloadKind(String wireName) {
        this.wireName = wireName;
    }

    /** The name on the command line and in device state. */
    public String wireName() {
        return wireName;
    }

    /** The workload called {@code name}, or an error listing the known ones. */
    public static WorkloadKind fromName(String name) {
        for (WorkloadKind k : values()) {
            if (k.wireName.equals(name)) {
                return k;
            }
        }
        throw new IllegalArgumentException("workload: '" + name + "' is unknown (expected: idle, pattern, stress)");
    }
}
