package dev.converge.migration.postcopy;

import java.util.Arrays;

/**
 * A postcopy destination's page waits by thread (QEMU's capability {@code postcopy-blocktime}):
 * per vCPU the time it was blocked and its number of waits, the waits of other threads (a QMP
 * command reading guest RAM), and the time during which every vCPU was blocked at once, when the
 * guest made no progress at all (QEMU's postcopy-blocktime). A wait is a fault that needed the
 * page from the source, from the access to the page's arrival.
 * <p>
 * Thread-safe: the waiting threads record, QMP reads; one short lock per wait, next to a network
 * round trip.
 */
public final class Blocktime {
    /**
     * What query-migrate shows (QEMU 10.0's blocktime members, 10.1's latency ones).
     *
     * @param allBlockedMs       ms during which every vCPU was blocked (postcopy-blocktime)
     * @param vcpuBlockedMs      per vCPU, ms it was blocked (postcopy-vcpu-blocktime)
     * @param vcpuLatencyNs      per vCPU, its mean wait in ns, 0 without any (postcopy-vcpu-latency)
     * @param nonVcpuLatencyNs   the mean wait of other threads in ns, 0 without any (postcopy-non-vcpu-latency)
     */
    public record Stats(long allBlockedMs, long[] vcpuBlockedMs, long[] vcpuLatencyNs, long nonVcpuLatencyNs) {
    }

    private final int vcpus;
    // All guarded by this.
    private final long[] vcpuBlockedNanos;
    private final long[] vcpuWaits;
    private long nonVcpuWaits;
    private long nonVcpuNanos;
    /** vCPUs blocked now. */
    private int blockedNow;
    /** System.nanoTime() when the last vCPU got blocked, while all are. */
    private long allBlockedSince;
    private long allBlockedNanos;

    public Blocktime(int vcpus) {
        this.vcpus = vcpus;
        vcpuBlockedNanos = new long[vcpus];
        vcpuWaits = new long[vcpus];
    }

    /** A wait begins on vCPU {@code vcpu} (-1: not a vCPU) at {@code now} (System.nanoTime()). */
    public synchronized void begin(int vcpu, long now) {
        if (isVcpu(vcpu) && ++blockedNow == vcpus) {
            allBlockedSince = now;
        }
    }

    /** The wait that began at {@code since} ends at {@code now}, with the page or without it. */
    public synchronized void end(int vcpu, long since, long now) {
        long waited = now - since;
        if (!isVcpu(vcpu)) {
            nonVcpuWaits++;
            nonVcpuNanos += waited;
            return;
        }
        if (blockedNow-- == vcpus) {
            allBlockedNanos += now - allBlockedSince;
        }
        vcpuBlockedNanos[vcpu] += waited;
        vcpuWaits[vcpu]++;
    }

    private boolean isVcpu(int vcpu) {
        return vcpu >= 0 && vcpu < vcpus;
    }

    /** The figures now; a wait in progress counts once it ends. */
    public synchronized Stats stats() {
        long[] blocked = Arrays.stream(vcpuBlockedNanos).map(n -> n / 1_000_000).toArray();
        long[] latency = new long[vcpus];
        for (int i = 0; i < vcpus; i++) {
            latency[i] = vcpuWaits[i] == 0 ? 0 : vcpuBlockedNanos[i] / vcpuWaits[i];
        }
        return new Stats(allBlockedNanos / 1_000_000, blocked, latency, nonVcpuWaits == 0 ? 0 : nonVcpuNanos / nonVcpuWaits);
    }
}
