/**
 * file: migration: a machine's RAM and device state in a file, and back (QEMU's
 * {@code migrate file:PATH[,offset=N]} and {@code migrate-incoming file:...}, the snapshot
 * primitive). {@link dev.converge.migration.file.FileHeader} is the format (a pure codec),
 * {@link dev.converge.migration.file.FileSaver} writes, {@link dev.converge.migration.file.FileRestorer}
 * reads. With the capability mapped-ram every page has a fixed offset: zero pages are holes (a
 * sparse file), and several threads write and read at once; without it the non-zero pages follow
 * each other as records. With mapped-ram a running machine can be saved live
 * ({@link dev.converge.migration.file.FileSaver#saveLive}): dirtied pages are rewritten in place
 * pass after pass, and the caller stops the vCPUs for the last pass only. converge's own format,
 * not QEMU's: the two cannot read each other's files.
 *
 * <p>Must not: know the job engine or QMP (the job's {@code FileSave} and the incoming side drive
 * these classes), or run the vCPUs (the caller stops and resumes them; a live save asks it to stop them).
 */
package dev.converge.migration.file;
