package dev.converge.bench.migration;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * What the source may do to a guest that dirties memory faster than the stream carries it: the
 * migration capability turned on for a pattern run (both sides, default parameters).
 */
public enum ConvergenceAid {
    /** Nothing: the plain rows (and the rate-matched one). */
    NONE("none", null),
    /** auto-converge: throttle the vCPUs step by step. */
    AUTO_CONVERGE("auto-converge", "auto-converge"),
    /** dirty-limit: cap each vCPU's dirty rate (QEMU 8.1 and later; QEMU 7.2 refuses the capability). */
    DIRTY_LIMIT("dirty-limit", "dirty-limit");

    private final String wireName;
    private final String capability;

    ConvergenceAid(String wireName, String capability) {
        this.wireName = wireName;
        this.capability = capability;
    }

    public String wireName() {
        return wireName;
    }

    /** The migration capability to turn on, or null for none. */
    public String capability() {
        return capability;
    }

    /**
     * The aid named {@code name}.
     *
     * @throws IllegalArgumentException naming the bad value and the accepted ones
     */
    public static ConvergenceAid parse(String name) {
        for (ConvergenceAid a : values()) {
            if (a.wireName.equals(name)) {
                return a;
            }
        }
        throw new IllegalArgumentException("--aids: '" + name + "' (expected some of: "
                + Arrays.stream(values()).map(ConvergenceAid::wireName).collect(Collectors.joining(", ")) + ")");
    }
}
