/**
 * The generic job engine: one state machine for mirrors, migrations and every other long
 * running operation, with QEMU's job.c semantics.
 * <ul>
 * <li>{@link dev.converge.job.JobTables}: the transition and verb tables (data) and their chokepoints.</li>
 * <li>{@link dev.converge.job.JobEngine}: creates, starts, finds jobs and applies verbs (main loop).</li>
 * <li>{@link dev.converge.job.JobDriver} and {@link dev.converge.job.JobContext}: the driver SPI.</li>
 * <li>{@link dev.converge.job.JobTxn}: transactions that commit or abort as a whole.</li>
 * <li>{@link dev.converge.job.JobListener}: events in one total order.</li>
 * <li>{@link dev.converge.job.RateLimit}: the speed limit (QEMU ratelimit.h).</li>
 * </ul>
 * Pure Java: no JSON, no QMP; the QMP binding is {@code dev.converge.job.qmp}.
 */
package dev.converge.job;
