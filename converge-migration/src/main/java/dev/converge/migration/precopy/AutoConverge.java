package dev.converge.migration.precopy;

import java.util.Objects;

/**
 * Auto-converge, QEMU's answer to a guest that dirties memory faster than the stream carries
 * it: slow the vCPUs down step by step until the dirty rate falls below the bandwidth. Pure
 * policy: the sender reports what each dirty-log sync found and what it sent, and applies the
 * throttle this returns to the vCPUs.
 * <p>
 * The rule follows QEMU's (ram.c, migration_trigger_throttle): the numbers are summed over
 * periods of at least {@link #PERIOD_NANOS}; a period is <em>high</em> when the bytes dirtied in
 * it exceed {@code throttle-trigger-threshold}% of the bytes sent in it; every second high
 * period raises the throttle: to {@code cpu-throttle-initial} the first time, then by
 * {@code cpu-throttle-increment}, never above {@code max-cpu-throttle}. With
 * {@code cpu-throttle-tailslow} the raise is smaller near the goal: only as much as the share of
 * CPU that would bring the dirty rate to the threshold, at most the increment. As in QEMU, a low
 * period does not reset the count of high ones.
 * <p>
 * Not thread-safe: one sender thread uses it.
 */
public final class AutoConverge {
    /** QEMU measures over periods of at least a second. */
    static final long PERIOD_NANOS = 1_000_000_000L;

    /**
     * The parameters, with QEMU's names and ranges.
     *
     * @param initial          cpu-throttle-initial, 1..99 (default 20)
     * @param increment        cpu-throttle-increment, 1..99 (default 10)
     * @param tailslow         cpu-throttle-tailslow (default false)
     * @param max              max-cpu-throttle, 1..99 (default 99)
     * @param triggerThreshold throttle-trigger-threshold, 1..100 (default 50)
     */
    public record Params(int initial, int increment, boolean tailslow, int max, int triggerThreshold) {
        /** QEMU's defaults. */
        public static final Params DEFAULTS = new Params(20, 10, false, 99, 50);

        public Params {
            check("cpu-throttle-initial", initial, 1, 99);
            check("cpu-throttle-increment", increment, 1, 99);
            check("max-cpu-throttle", max, 1, 99);
            check("throttle-trigger-threshold", triggerThreshold, 1, 100);
        }

        private static void check(String name, int value, int min, int max) {
            if (value < min || value > max) {
                throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + ".." + max + ")");
            }
        }
    }

    private int throttle;
    private int highPeriods;
    private long periodStart = Long.MIN_VALUE;
    private long periodDirtied;
    private long periodSentFrom;

    /** The throttle now, 0 when none. */
    public int throttle() {
        return throttle;
    }

    /**
     * Starts the first period: {@code nanos} is the clock now, {@code bytesSent} the stream's
     * bytes so far.
     */
    public void start(long nanos, long bytesSent) {
        periodStart = nanos;
        periodSentFrom = bytesSent;
        periodDirtied = 0;
    }

    /**
     * One dirty-log sync found {@code newlyDirtyBytes} that were not dirty already.
     *
     * @throws IllegalArgumentException when negative
     */
    public void dirtied(long newlyDirtyBytes) {
        if (newlyDirtyBytes < 0) {
            throw new IllegalArgumentException("newly dirty bytes: " + newlyDirtyBytes + " (expected: >= 0)");
        }
        periodDirtied += newlyDirtyBytes;
    }

    /**
     * Ends a period when one has lasted {@link #PERIOD_NANOS}, judges it and returns the
     * throttle to apply (unchanged while the period goes on).
     *
     * @param nanos     the clock now
     * @param bytesSent the stream's bytes so far
     */
    public int evaluate(long nanos, long bytesSent, Params p) {
        Objects.requireNonNull(p);
        Period period = judge(nanos, bytesSent, p.triggerThreshold());
        if (period != null && period.triggers()) {
            throttle = raised(p, period.threshold(), period.dirtied());
        }
        return throttle;
    }

    /**
     * The same trigger without the throttle: whether a period just ended that calls for slowing
     * the guest down (QEMU's dirty-limit capability reacts to it by capping each vCPU's dirty rate).
     *
     * @param triggerThreshold throttle-trigger-threshold, 1..100
     */
    public boolean triggered(long nanos, long bytesSent, int triggerThreshold) {
        if (triggerThreshold < 1 || triggerThreshold > 100) {
            throw new IllegalArgumentException("throttle-trigger-threshold: " + triggerThreshold + " (expected: 1..100)");
        }
        Period period = judge(nanos, bytesSent, triggerThreshold);
        return period != null && period.triggers();
    }

    /** One judged period: its threshold and dirtied bytes, and whether it is the second high one. */
    private record Period(long threshold, long dirtied, boolean triggers) {
    }

    /** Ends the period when it has lasted long enough; null while it goes on. */
    private Period judge(long nanos, long bytesSent, int triggerThreshold) {
        if (periodStart == Long.MIN_VALUE) {
            start(nanos, bytesSent);
            return null;
        }
        if (nanos - periodStart < PERIOD_NANOS) {
            return null;
        }
        long sent = bytesSent - periodSentFrom;
        long threshold = sent / 100 * triggerThreshold + sent % 100 * triggerThreshold / 100;
        long dirtied = periodDirtied;
        boolean triggers = false;
        if (dirtied > threshold && ++highPeriods >= 2) {
            highPeriods = 0;
            triggers = true;
        }
        start(nanos, bytesSent);
        return new Period(threshold, dirtied, triggers);
    }

    private int raised(Params p, long threshold, long dirtied) {
        if (throttle == 0) {
            return Math.min(p.initial(), p.max());
        }
        int step = p.increment();
        if (p.tailslow()) {
            // The vCPUs' share of CPU that would dirty exactly the threshold: raise only that far.
            double cpuNow = 100 - throttle;
            double cpuIdeal = cpuNow * threshold / dirtied;
            step = (int) Math.min(cpuNow - cpuIdeal, step);
        }
        return Math.min(throttle + step, p.max());
    }
}
