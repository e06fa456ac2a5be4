package dev.converge.migration.machine;

/**
 * Where a guest access waits for its page on a postcopy destination ({@link PageGate}), as seen
 * by the machine's vCPUs. A vCPU that waits executes no guest code, so it counts as parked:
 * {@code stop} returns while it waits (QEMU's vCPU blocked in a userfault is out of guest code
 * too). When its page arrives while the machine is stopped, the vCPU stays parked and makes its
 * access only after {@code cont}; a stopped machine never changes its RAM.
 * <p>
 * The binding is per thread: {@link Vcpus} binds each of its threads once; on any other thread
 * (a QMP command reading guest RAM, a test) the wait runs as it is and {@link #vcpuIndex} is -1.
 */
public final class GuestPageWait {
    /** What the owner of a vCPU thread does around a page wait. Called on that vCPU's thread. */
    interface Parking {
        /** The vCPU's index. */
        int index();

        /** The vCPU stops executing guest code: it counts as parked. */
        void waitBegins();

        /**
         * The page is there: returns once the vCPU may run again (at once while running).
         *
         * @throws VcpuExit when the vCPUs are closed meanwhile
         */
        void waitEnds();

        /** The wait failed (the page will never come): the vCPU no longer counts as parked. */
        void waitFailed();
    }

    /** Ends a vCPU that was parked in a page wait when the machine closes. */
    static final class VcpuExit extends RuntimeException {
        VcpuExit() {
            super("the vCPUs were closed while this one waited for a page", null, false, false);
        }
    }

    private static final ThreadLocal<Parking> CURRENT = new ThreadLocal<>();

    private GuestPageWait() {
    }

    /** Binds the calling thread to its vCPU. */
    static void bind(Parking p) {
        CURRENT.set(p);
    }

    /** The calling thread's vCPU index, -1 when it is not a vCPU. */
    public static int vcpuIndex() {
        Parking p = CURRENT.get();
        return p == null ? -1 : p.index();
    }

    /**
     * Runs {@code wait} (which returns once the page is there): on a vCPU, parked meanwhile, and
     * returns only when the vCPU may run.
     */
    public static void run(Runnable wait) {
        Parking p = CURRENT.get();
        if (p == null) {
            wait.run();
            return;
        }
        p.waitBegins();
        try {
            wait.run();
        } catch (RuntimeException | Error e) {
            p.waitFailed();
            throw e;
        }
        p.waitEnds();
    }
}
