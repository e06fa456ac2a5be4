/**
 * The backup block job (QEMU's block/backup.c, block/copy-before-write.c, block/block-copy.c and
 * block/snapshot-access.c): a point-in-time copy of a node taken with copy-before-write.
 * {@link dev.converge.block.backup.Backups} starts one (QEMU's checks and texts, as
 * {@link dev.converge.block.backup.BackupRefusedException}s), inserting the
 * {@link dev.converge.block.backup.BackupFilterNode} ({@code copy-before-write}) above the
 * source; {@link dev.converge.block.backup.BlockCopy} holds which clusters still have to reach
 * the target and copies each exactly once, for the job
 * ({@link dev.converge.block.backup.BackupJob}) and for guest writes alike;
 * {@link dev.converge.block.backup.SyncBitmap} freezes the user's bitmap for sync=bitmap and
 * settles it by the bitmap mode; {@link dev.converge.block.backup.SnapshotAccessNode}
 * ({@code snapshot-access}) reads the point in time for fleecing. With {@code compress} the copy
 * decides data or zeroes per whole cluster and writes data with {@code WRITE_COMPRESSED}, in
 * units of the target's cluster when that is larger than 64 KiB.
 * <p>
 * Owns: the backup's data movement and its graph changes. Must not: know QMP beyond QEMU's
 * texts (the binding is {@code dev.converge.block.qmp.BackupQmp}); let a guest write overwrite
 * a cluster before its point-in-time data is on the target.
 */
package dev.converge.block.backup;
