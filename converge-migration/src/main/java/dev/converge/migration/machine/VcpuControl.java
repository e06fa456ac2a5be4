package dev.converge.migration.machine;

/**
 * What the machine and the migration need of a machine's vCPUs, whatever runs them: the
 * software model's workload threads ({@link Vcpus}) or KVM vCPUs. {@link #stop()} returns
 * only once no vCPU executes guest code any more, so RAM and vCPU state are stable until
 * {@link #resume()}.
 */
public interface VcpuControl extends AutoCloseable {
    /** Lets the vCPUs run. */
    void resume();

    /** Stops the vCPUs and returns once each is out of guest code (no write in flight). */
    void stop();

    /**
     * Asks the vCPUs to stop without waiting for them (a {@link #stop()} or {@link #resume()}
     * follows): for a backend whose vCPUs take a while to leave the guest, so that the caller can
     * work meanwhile. Returns whether the request is under way; false (the default) when the
     * vCPUs stop at once anyway or were not running, and then nothing changed.
     */
    default boolean requestStop() {
        return false;
    }

    /** Whether the vCPUs are allowed to run. */
    boolean isRunning();

    /**
     * Holds each vCPU back for {@code percent}% of its time (QEMU's cpu-throttle-percentage).
     *
     * @throws IllegalArgumentException unless 0..99
     */
    void setThrottle(int percent);

    /** The throttle percentage. */
    int throttle();

    /**
     * Caps each vCPU's dirty rate at {@code bytesPerSecond} (QEMU's dirty limit); 0 lifts it.
     *
     * @throws IllegalArgumentException when negative
     */
    void setDirtyLimit(long bytesPerSecond);

    /** The dirty limit per vCPU in bytes per second, 0 when none. */
    long dirtyLimit();

    /** The first failure that stopped a vCPU (a workload error, a guest shutdown), or null. */
    Throwable failure();

    /** Stops the vCPUs for good. */
    @Override
    void close();
}
