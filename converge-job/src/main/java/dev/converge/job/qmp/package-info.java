/**
 * The QMP commands and events of the job engine ({@link dev.converge.job.qmp.JobQmp}), as
 * QEMU's qapi/job.json, plus job-change for every job type and JOB_INFO_CHANGE. Modules declare
 * their job types with {@link dev.converge.job.qmp.JobQmp#registerJobKind}, which derives their
 * JobInfo and job-change variants from the records of their {@link dev.converge.job.JobKind}.
 */
package dev.converge.job.qmp;
