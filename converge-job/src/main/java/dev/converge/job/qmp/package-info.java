/**
 * The QMP commands and events of the job engine ({@link dev.converge.job.qmp.JobQmp}), as
 * QEMU's qapi/job.json, plus job-change for every job type and JOB_INFO_CHANGE. Modules declare
 * their job types with {@link dev.converge.job.qmp.JobQmp#registerJobType}.
 */
package dev.converge.job.qmp;
