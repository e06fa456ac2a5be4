package dev.converge.job;

/**
 * How a job is created.
 *
 * @param autoFinalize move from PENDING on without job-finalize (QEMU auto-finalize, default true)
 * @param autoDismiss  vanish when CONCLUDED without job-dismiss (QEMU auto-dismiss, default true)
 * @param txn          the transaction to join, or null for a transaction of its own
 * @param speed        initial speed limit in bytes per second, 0 = unlimited
 */
public record JobOptions(boolean autoFinalize, boolean autoDismiss, JobTxn txn, long speed) {
    /** Auto-finalize, auto-dismiss, own transaction, unlimited speed. */
    public static JobOptions defaults() {
        return new JobOptions(true, true, null, 0);
    }

    public JobOptions withAutoFinalize(boolean v) {
        return new JobOptions(v, autoDismiss, txn, speed);
    }

    public JobOptions withAutoDismiss(boolean v) {
        return new JobOptions(autoFinalize, v, txn, speed);
    }

    public JobOptions withTxn(JobTxn v) {
        return new JobOptions(autoFinalize, autoDismiss, v, speed);
    }

    public JobOptions withSpeed(long v) {
        return new JobOptions(autoFinalize, autoDismiss, txn, v);
    }
}
