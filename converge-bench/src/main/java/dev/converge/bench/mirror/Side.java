package dev.converge.bench.mirror;

/** A daemon measured by the benchmark. */
public enum Side {
    /** Ours. */
    CONVERGED("converged"),
    /** The peer: Debian's qemu-storage-daemon. */
    QSD("qemu-storage-daemon");

    private final String label;

    Side(String label) {
        this.label = label;
    }

    /** The name in the report. */
    public String label() {
        return label;
    }
}
