package dev.converge.job;

/**
 * What a kind of job (mirror, migration, ...) plugs into the generic engine: the engine owns
 * the lifecycle, the driver owns the I/O. Only {@link #run} is mandatory. The type parameters
 * are the records of the job's {@link JobKind}: {@code C} what job-change hands over, {@code I}
 * what {@link #info()} returns.
 *
 * <h2>Where and when each hook runs</h2>
 * <ul>
 * <li>{@link #run} on the job's own virtual thread, once, after job start. Returning normally is
 *     success; throwing is failure with that exception's message as the job's error (only the
 *     first error is kept). Use {@link JobContext#checkpoint()} between units of work.</li>
 * <li>{@link #pause()} and {@link #resume()} on the job's thread, inside a pause point, when the
 *     job really parks and when it continues.</li>
 * <li>{@link #cancel}, {@link #complete}, {@link #setSpeed}, {@link #change} on the main loop,
 *     while a user command runs.</li>
 * <li>{@link #prepare}, {@link #commit}, {@link #abort}, {@link #clean} on the main loop once
 *     every job of the transaction has ended. {@code prepare} runs first on each job of a
 *     transaction that is to commit; if it fails for any, the whole transaction aborts.
 *     Then <b>exactly one</b> of {@code commit} or {@code abort} runs, and <b>then {@code clean}
 *     always runs</b>, for every job (also for a job cancelled before it started).
 *     {@code abort} may follow a successful {@code prepare}.</li>
 * <li>{@link #info()} on the main loop for query-jobs, and on whichever thread delivers a job
 *     event to a listener that shows it (BLOCK_JOB_READY's progress), while run() may be
 *     working: it must read the driver's state safely (volatile fields or the driver's own
 *     lock) and must not call the engine.</li>
 * </ul>
 * <b>Lock contract:</b> the engine never holds the job lock while it calls a hook (nor while it
 * calls a listener; see {@link JobEngine#holdsJobLock()}), so hooks may call the engine's
 * read-only methods and block briefly, but hooks that run on the main loop should not do long
 * I/O.
 */
public interface JobDriver<C extends Record, I extends Record> {
    /**
     * The job's work, on its own thread.
     *
     * @throws JobCancelledException from the context when force-cancelled: the job is cancelled
     * @throws Exception             any other: the job fails with its message
     */
    void run(JobContext ctx) throws Exception;

    /** The job parks at a pause point (RUNNING→PAUSED or READY→STANDBY). Job thread. */
    default void pause() {
    }

    /** The job leaves a pause point it parked in (or whose pause was skipped). Job thread. */
    default void resume() {
    }

    /**
     * The user's job-complete, accepted in READY or STANDBY and not after a cancel request.
     * When it returns normally, {@link JobContext#completeRequested()} becomes true and the job
     * thread is woken (a completion accepted in STANDBY takes effect once the job is resumed).
     * The default refuses: the job type cannot be completed.
     *
     * @throws JobException                  when the driver refuses (e.g. not ready after all)
     * @throws UnsupportedOperationException the job type has no completion (the default)
     */
    default void complete() {
        throw new UnsupportedOperationException("complete");
    }

    /**
     * A cancel request reached the job (QEMU's {@code .cancel}). Returns whether this really is a
     * force cancel: a driver may turn a soft cancel of a READY job into "finish now without
     * switching over" by returning false; the job then only sees
     * {@link JobContext#cancelRequested()} and ends successfully when run() returns normally.
     * The default treats every cancel as a force cancel.
     *
     * @param force whether the user asked for a force cancel
     */
    default boolean cancel(boolean force) {
        return true;
    }

    /**
     * The speed limit (bytes per second, 0 = unlimited): once at creation with the starting
     * speed ({@link JobOptions#speed()}, on the creating thread, before the job can start), then
     * at every change (the engine's limiter already has it).
     */
    default void setSpeed(long bytesPerSecond) {
    }

    /**
     * The user's job-change with the kind's typed options (already decoded and checked against
     * the schema by the QMP binding; absent components mean "unchanged"). Validates what only
     * the driver can judge and applies all, or throws a {@link JobException} naming the bad
     * option and changes nothing. The default refuses: the kind supports no change.
     *
     * @throws UnsupportedOperationException the job type supports no change (the default)
     */
    default void change(C options) {
        throw new UnsupportedOperationException("change");
    }

    /** Prepares to commit; throwing aborts the whole transaction (the message becomes the error). */
    default void prepare() throws Exception {
    }

    /** The transaction succeeded: make the result visible (pivot, start the destination). */
    default void commit() {
    }

    /** The transaction failed or was cancelled: roll back (source keeps running, nothing lost). */
    default void abort() {
    }

    /** Always last: release what the job held, after commit or abort. */
    default void clean() {
    }

    /**
     * The kind's own members for query-jobs, placed beside the generic ones: a fresh snapshot,
     * or null when the kind has none (the default).
     */
    default I info() {
        return null;
    }
}
