/**
 * The mirror block job (QEMU's block/mirror.c): {@link dev.converge.block.mirror.MirrorJob} is
 * the driver of the generic job engine (bulk copy, convergence, drain, pivot) and a
 * switchover participant, {@link dev.converge.block.mirror.MirrorFilterNode} the filter above
 * the source through which guest writes pass, {@link dev.converge.block.mirror.Mirrors} the
 * domain act of starting a mirror (its checks throw {@link
 * dev.converge.block.mirror.MirrorRefusedException} with QEMU's texts), and {@link
 * dev.converge.block.mirror.MirrorChange} / {@link dev.converge.block.mirror.MirrorInfo} the
 * records of the job kind. No QMP here beyond the records' docs: the binding (blockdev-mirror,
 * the legacy block-job commands, the BLOCK_JOB_* events, the transaction action) lives in
 * {@code dev.converge.block.qmp}.
 * <p>
 * The guest comes first: its writes through the filter never wait for a copy operation
 * ({@link dev.converge.block.mirror.InFlightRanges}: an overlap only keeps granules dirty), copy
 * operations and target flushes run on the job's platform threads (never on the virtual threads'
 * carriers the guest's requests need), and the only wait a guest write ever has is the short
 * drained section at the very end, after the target was flushed once while the guest still ran.
 * <p>
 * Between two host files (a {@code file} node without cache.direct, {@code raw} over one) the
 * data goes in the kernel: each piece is the source's host file span, admitted on the source as a
 * read, written with copy_file_range through the target's write path (its notifiers, bitmaps and
 * statistics), under the same in-flight ranges, bitmap resets and {@link
 * dev.converge.block.mirror.TargetTurns} as a buffered copy; no copy buffer is taken. Elsewhere, or
 * where the kernel refuses (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP), it is read and written.
 */
package dev.converge.block.mirror;
