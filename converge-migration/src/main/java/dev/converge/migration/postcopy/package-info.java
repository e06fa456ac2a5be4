/**
 * Postcopy live migration with recovery (capability {@code postcopy-ram}), as the last phase of
 * the migration job: {@code migrate-start-postcopy} or {@code job-change start-postcopy} makes
 * the precopy sender stop the vCPUs at the end of its pass and hand over to
 * {@link dev.converge.migration.postcopy.PostcopySource}; the destination's
 * {@link dev.converge.migration.precopy.IncomingMigration} hands over to
 * {@link dev.converge.migration.postcopy.PostcopyIncoming} at POSTCOPY_LISTEN.
 *
 * <h2>Exchange</h2>
 * <pre>
 *  source (stopped, finish-migrate)               destination
 *   POSTCOPY_LISTEN, POSTCOPY_DISCARD…  ─────────▶ stale pages marked missing
 *   DEVICE_STATE, POSTCOPY_RUN         ─────────▶ gates on every RAM block, the guest runs
 *                                      ◀───────── RESUMED (the downtime ends)
 *   pages: requested first, then the   ◀───────── PAGE_REQUEST (a vCPU waits for that page)
 *   background push (max-postcopy-bandwidth) ───▶ each loaded once, waiting vCPUs go on
 *   with postcopy-preempt: requested pages on the preempt channel (its own connection, opened
 *   at the start), written by the return path's reader at once ─▶ read by its own thread
 *   POSTCOPY_END(RAM digest at the stop) ───────▶ no page missing: digest check
 *                                      ◀───────── POSTCOPY_DONE → job completes, source postmigrate
 *  connection breaks / migrate-pause: both postcopy-paused, nothing dropped
 *  migrate-recover URI (destination listens), migrate {uri, resume: true} (source connects):
 *   header, RAM_BLOCKS, POSTCOPY_RESUME ────────▶ (then a new preempt channel, with preempt)
 *                                      ◀───────── RECEIVED_BITMAP…, RESUME_READY, PAGE_REQUEST again
 *   every page the destination lacks is sent again; on to POSTCOPY_END
 * </pre>
 *
 * <h2>Why no vCPU reads a missing page, and what the check costs outside postcopy</h2>
 * Every guest access of the software machine goes through {@link dev.converge.migration.machine.RamBlock}'s
 * write/read path, which loads one field, the block's {@link dev.converge.migration.machine.PageGate},
 * and calls it only when it is set: only on a postcopy destination, between POSTCOPY_RUN and
 * POSTCOPY_DONE. The gate is {@link dev.converge.migration.postcopy.PageStates}: one byte per page
 * (missing, requested, received), read with acquire semantics; the receiving thread copies a page
 * before it publishes "received" with release semantics and never loads a received page again.
 * {@code PatternWorkload} checks every page it reads against the value its pass expects, and the
 * tests count those checks (zero violations) while the destination runs in postcopy.
 *
 * <h2>Waiting vCPUs, stop and blocktime</h2>
 * A vCPU waiting in a gate is out of guest code: it counts as parked
 * ({@link dev.converge.migration.machine.GuestPageWait}), so {@code stop} returns while it waits,
 * and once its page is there it goes on only while the machine runs. Every wait is timed by
 * thread ({@link dev.converge.migration.postcopy.Blocktime},
 * {@link dev.converge.migration.postcopy.LatencyRecorder}): query-migrate's QEMU members of the
 * capability postcopy-blocktime.
 *
 * <h2>Limits</h2>
 * KVM guests are refused (their vCPUs touch RAM without this path; they would need userfaultfd).
 * Without {@code postcopy-preempt} requested pages share the one connection, queued ahead of the
 * background push at batch boundaries but behind what the push already put in the socket. If the
 * source dies during postcopy, the guest is lost, as in QEMU: the destination stays paused with
 * the reason in error-desc, its vCPUs that wait for a page stay blocked.
 *
 * <p>Must not: touch the precopy sender's state beyond the bitmap it is handed, or the job engine.
 */
package dev.converge.migration.postcopy;
