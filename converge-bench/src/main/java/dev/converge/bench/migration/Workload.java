package dev.converge.bench.migration;

import java.util.Arrays;
import java.util.stream.Collectors;

/** What the guest does while it migrates; the same names as converged's {@code --machine workload=}. */
public enum Workload {
    /** The vCPU halts in a loop: RAM stays zero pages (beyond what the firmware wrote). */
    IDLE("idle"),
    /** The vCPU increments one byte in every 4 KiB page above 1 MiB, pass after pass, forever. */
    PATTERN("pattern");

    private final String wireName;

    Workload(String wireName) {
        this.wireName = wireName;
    }

    /** The name on the command line and in reports. */
    public String wireName() {
        return wireName;
    }

    /**
     * The workload named {@code name}.
     *
     * @throws IllegalArgumentException naming the bad value and the accepted ones
     */
    public static Workload parse(String name) {
        for (Workload w : values()) {
            if (w.wireName.equals(name)) {
                return w;
            }
        }
        throw new IllegalArgumentException("workload: '" + name + "' (expected one of: "
                + Arrays.stream(values()).map(Workload::wireName).collect(Collectors.joining(", ")) + ")");
    }
}
