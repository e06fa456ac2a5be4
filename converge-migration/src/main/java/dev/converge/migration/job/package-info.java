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
 *  running/ready device                   vCPUs stop (finish-migrate), last dirty pages, device state, COMPLETE,
 *                                         wait for the destination's ack; run() returns
 *  waiting      device                    the destination holds all state but does not run it
 *  pending      pre-switchover            only with pause-before-switchover (the job is manual-finalize):
 *                                         job-finalize and migrate-continue are the same act
 *  running      postcopy-active           after migrate-start-postcopy / job-change start-postcopy: the vCPUs
 *                                         stopped at the end of a pass, the destination runs; pages travel
 *                                         on request and in the background (package postcopy)
 *  running      postcopy-paused,          the connection broke or migrate-pause: both sides keep everything;
 *               postcopy-recover(-setup)  migrate {resume: true} reconnects (cancel is refused in postcopy)
 *  concluded    completed                 commit: START to the destination (it runs), source postmigrate
 *  aborting →   cancelling → cancelled    abort: ABORT to the destination (it discards), the source resumes
 *  concluded    / failed (error-desc)     in its previous run state; nothing is lost
 * </pre>
 *
 * <h2>Why pre-switchover comes after the device state</h2>
 * QEMU stops the vCPUs, enters pre-switchover, and sends the device state only after
 * migrate-continue. Here PENDING can only follow the end of run(), and run() ends only once the
 * destination has acknowledged everything: so the vCPUs stop, the rest and the device state
 * travel (status device), and the job then waits in PENDING (status pre-switchover) with the
 * source stopped and the destination holding but not running the guest. What management relies
 * on at pre-switchover still holds: the guest runs nowhere, and nothing is committed until
 * migrate-continue / job-finalize, which sends START. What differs is unobservable to the guest:
 * its device state is already at the destination, so finalizing is quick, and cancelling in
 * pending resumes the source exactly as before. With pause-before-switchover the MIGRATION
 * events therefore read active, device, pre-switchover, completed (QEMU: active, pre-switchover,
 * device, completed).
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
