/**
 * The outgoing migration as a job of the one job engine ({@link dev.converge.migration.job.MigrationJob},
 * type {@code migration}), its QEMU-style status, capabilities and parameters.
 *
 * <h2>Phases and job statuses</h2>
 * <pre>
 *  job status   migration status          what happens
 *  running      setup                     connect; header and RAM layout
 *  running      active                    pass 1 over all RAM, then passes over dirty RAM (rate-limited by
 *                                         max-bandwidth = the job's speed)
 *  ready        active (converged)        only with auto-complete false: remainder ÷ bandwidth ≤ downtime-limit;
 *                                         keeps iterating; job-complete switches over at the next pass whose
 *                                         estimate fits (ready is sticky; the info's converged says whether it fits now)
 *  running/ready active                   vCPUs stop (finish-migrate, event STOP), last dirty pages, device state,
 *                                         COMPLETE, wait for the destination's ack; run() returns
 *           (pre-switchover)              with pause-before-switchover the status turns pre-switchover at the STOP
 *  waiting      active / pre-switchover   the destination holds all state but does not run it
 *  pending      active / pre-switchover   with pause-before-switchover the job is manual-finalize:
 *                                         job-finalize and migrate-continue are the same act (a migrate-continue
 *                                         that comes before PENDING finalizes as soon as the job gets there)
 *  running      postcopy-active           after migrate-start-postcopy / job-change start-postcopy: the vCPUs
 *                                         stopped at the end of a pass, the destination runs; pages travel
 *                                         on request and in the background (package postcopy)
 *  running      postcopy-paused,          the connection broke or migrate-pause: both sides keep everything;
 *               postcopy-recover(-setup)  migrate {resume: true} reconnects (cancel is refused in postcopy)
 *  concluded    (device →) completed      commit: device (pause-before-switchover only), START to the destination
 *                                         (it runs: RESUME there, then completed), source postmigrate
 *  aborting →   cancelling → cancelled    abort: ABORT to the destination (it discards), the source resumes
 *  concluded    / failed (error-desc)     in its previous run state (RESUME after failed, before cancelled); nothing is lost
 * </pre>
 *
 * <h2>The order of events, as QEMU's</h2>
 * Checked against a QEMU 7.2 pair (QEMU 10.0's code has the same order): source {@code MIGRATION
 * setup, active, STOP, completed}; with pause-before-switchover {@code active, STOP,
 * pre-switchover}, then after migrate-continue {@code device, completed}; a cancel after the stop
 * {@code cancelling, RESUME, cancelled}; a failure after the stop {@code failed, RESUME}. The
 * destination: {@code active, RESUME, completed} (no RESUME when the source was paused or -S: it
 * stays paused, the source's run state travels in the device state). QEMU shows {@code device}
 * only with pause-before-switchover, so without it the status stays {@code active} through the
 * switchover.
 * <p>
 * What differs from QEMU is unobservable to the guest: with pause-before-switchover QEMU sends
 * the device state only after migrate-continue, while here the rest of RAM and the device state
 * travel right after the stop (status pre-switchover already) and the destination holds them
 * without running; nothing is committed until migrate-continue / job-finalize, which sends START.
 * Finalizing is therefore quick, and cancelling in pre-switchover resumes the source exactly as
 * in QEMU.
 *
 * <h2>Who sends START</h2>
 * A migration alone in its job transaction ({@code migrate}, not a QMP {@code transaction}) and
 * without pause-before-switchover has nothing left to decide once the destination acked: nothing
 * can abort it but a cancel. Its job thread then sends START itself, right after the ack (the
 * hand-over to the main loop would sit inside the downtime, with the vCPUs stopped); the engine's
 * commit only records completed. A cancel that comes after that START is a soft cancel (the job
 * completes, as QEMU's migrate_cancel does nothing once the migration completed); one that comes
 * before it aborts as always. In a transaction, or with pause-before-switchover, the main loop's
 * commit sends START, and the downtime estimate counts that hand-over (its measured dispatch delay).
 *
 * <h2>Joint switchover with mirrors</h2>
 * A {@code migrate} action in a grouped QMP {@code transaction} with {@code blockdev-mirror}
 * actions makes one job transaction; {@link dev.converge.migration.job.JointSwitchover} then
 * completes the mirrors (without pivot) while the vCPUs are stopped, between the stop and the
 * last RAM and device state, so disks and memory switch over at one instant or all roll back.
 * A job-complete while a mirror is not ready is refused, naming the mirror. A migration aborted
 * because another job of its transaction failed or was cancelled shows {@code failed} in
 * query-migrate with the engine's reason ("Transaction aborted because job 'X' failed").
 *
 * <h2>Connections</h2>
 * Every connection of a migration is opened through the job's {@link dev.converge.migration.job.MigrationJob.Connector}
 * (bounded by {@link dev.converge.migration.job.MigrationJob#CONNECT_TIMEOUT}) and, with
 * {@code tls-creds}, secured right after by its {@link dev.converge.migration.job.MigrationJob.Securer}
 * (TLS client, checking {@code tls-hostname}); the destination secures what it accepts the same
 * way (server endpoint, {@code tls-authz}). Channels added later (multifd) go through the same two places.
 *
 * <h2>Errors and cancel</h2>
 * One error per migration: the job keeps the first (query-jobs {@code error}) and query-migrate
 * shows it as {@code error-desc}. A cancel closes the connection, which ends a blocked connect,
 * write or wait for the ack at once; the destination then sees the stream end and discards.
 * If START cannot be written at commit, the destination discards and the source stays in
 * postmigrate (never running twice); the source's RAM is intact and {@code cont} resumes it.
 *
 * <p>Must not: touch the stream's bytes (that is {@code precopy} and {@code wire}), or call into a mirror other than through the job engine.
 */
package dev.converge.migration.job;
