/**
 * Jobs on backing chains (QEMU's block/stream.c and block/commit.c):
 * {@link dev.converge.block.chain.StreamJob} copies what the chain below a node holds into it,
 * {@link dev.converge.block.chain.CommitJob} copies an intermediate image into its base, both
 * on {@link dev.converge.block.chain.ChainCopyJob}'s chunked loop with the on-error policy;
 * {@link dev.converge.block.chain.ActiveCommitJob} is the active commit, a mirror onto the base
 * in a job of type {@code commit}. {@link dev.converge.block.chain.ChainJobs} starts them:
 * claims the nodes, makes read-only ones writable for the job, undoes it all on refusal.
 *
 * <p>Owns: the stream and commit job kinds. Must not: know QMP wire formats (the binding is
 * {@code dev.converge.block.qmp.ChainQmp}); copy the mirror's machinery (active commit drives a
 * {@code MirrorJob}).
 */
package dev.converge.block.chain;
