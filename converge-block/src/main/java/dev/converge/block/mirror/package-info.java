/**
 * The mirror block job (QEMU's block/mirror.c) and its QMP binding: {@link
 * dev.converge.block.mirror.MirrorJob} is the driver of the generic job engine (bulk copy,
 * convergence, drain, pivot), {@link dev.converge.block.mirror.MirrorFilterNode} the filter above
 * the source through which guest writes pass, {@link dev.converge.block.mirror.MirrorQmp}
 * blockdev-mirror, the legacy block-job commands and the BLOCK_JOB_* events.
 */
package dev.converge.block.mirror;
