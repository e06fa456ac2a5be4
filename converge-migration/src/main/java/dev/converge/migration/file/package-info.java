/**
 * file: migration: a stopped machine's RAM and device state in a file, and back (QEMU's
 * {@code migrate file:PATH[,offset=N]} and {@code migrate-incoming file:...}, the snapshot
 * primitive). {@link dev.converge.migration.file.FileHeader} is the format (a pure codec),
 * {@link dev.converge.migration.file.FileSaver} writes, {@link dev.converge.migration.file.FileRestorer}
 * reads. With the capability mapped-ram every page has a fixed offset: zero pages are holes (a
 * sparse file), and several threads write and read at once; without it the non-zero pages follow
 * each other as records. converge's own format, not QEMU's: the two cannot read each other's files.
 *
 * <p>Must not: know the job engine or QMP (the job's {@code FileSave} and the incoming side drive
 * these classes), or run the vCPUs (the caller stops and resumes them).
 */
package dev.converge.migration.file;
