/**
 * The generic job engine: one state machine for mirrors, migrations and every other long
 * running operation, with QEMU's job.c semantics.
 * <ul>
 * <li>{@link dev.converge.job.JobTables}: the transition and verb tables (data) and their chokepoints.</li>
 * <li>{@link dev.converge.job.JobEngine}: creates, starts, finds jobs and applies verbs (main loop).</li>
 * <li>{@link dev.converge.job.JobKind}: a kind of job declared once: its type and the records
 *     its driver speaks (job-change options, query-jobs info).</li>
 * <li>{@link dev.converge.job.JobDriver} and {@link dev.converge.job.JobContext}: the driver SPI.</li>
 * <li>{@link dev.converge.job.JobTxn}: transactions that commit or abort as a whole;
 *     {@link dev.converge.job.GroupedSwitchover}: a transaction whose leader switches over for
 *     its {@link dev.converge.job.SwitchoverParticipant}s.</li>
 * <li>{@link dev.converge.job.JobListener}: events in one total order;
 *     {@link dev.converge.job.JobOutcome}: how a job ended.</li>
 * <li>{@link dev.converge.job.RateLimit}: the speed limit (QEMU ratelimit.h).</li>
 * </ul>
 * <h2>The lock contract</h2>
 * One job lock guards all generic job state. No driver hook and no listener ever runs while it
 * is held: changes post their events to an ordered outbox under the lock, and the thread that
 * releases the lock delivers them, in order, afterwards (see {@code JobLock}); when an engine
 * method returns, the events it caused have been delivered. {@link
 * dev.converge.job.JobEngine#holdsJobLock()} lets hooks and tests check it.
 * <p>
 * Pure Java: no JSON, no QMP, no job kind; the QMP binding is {@code dev.converge.job.qmp}.
 * EnginePackageDependenciesTest pins that this package and its subpackages refer to nothing of
 * converge's qmp, block, nbd or migration packages, except {@code job.qmp}, which binds to
 * qmp (and only to it).
 */
package dev.converge.job;
