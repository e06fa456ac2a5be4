/**
 * blockdev-create as a job (QEMU's block/create.c): {@link dev.converge.block.create.CreateJob}
 * runs one driver's creation step on the job's thread; {@link
 * dev.converge.block.create.BlockdevCreate} checks the options (QEMU's texts and order) and
 * starts it. The drivers do the work: {@code FileNode.create} for {@code file},
 * {@code Qcow2Formatter} for {@code qcow2} (onto an existing node, usually a {@code file} node
 * made just before). The QMP binding is {@code dev.converge.block.qmp.BlockdevCreateQmp}.
 *
 * <p>Owns: the create job kind. Must not: know QMP wire formats.
 */
package dev.converge.block.create;
