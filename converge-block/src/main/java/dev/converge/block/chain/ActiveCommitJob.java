package dev.converge.block.chain;

import dev.converge.block.mirror.MirrorJob;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import java.util.Objects;

/**
 * Active commit (QEMU's commit_active_start): a commit whose top is the active layer runs as a
 * mirror of the active layer onto its base, in the job type {@code commit}. It marks what the
 * chain holds above the base as dirty, copies it while the guest writes on, goes READY, and
 * job-complete pivots the guest's users to the base (which then is the active layer); a soft
 * cancel in READY or an abort leaves them on the top. Every hook is the mirror's; this
 * driver only adds giving back the base's temporary read-write mode when the users stay on top.
 */
public final class ActiveCommitJob implements JobDriver<Record, Record> {
    private final MirrorJob mirror;
    /** Main loop: the base back to read-only (when it was), the claim on the chain released. */
    private final Runnable restoreBase;
    private final Runnable release;
    /** Whether the users stay on the top (a soft cancel). Main loop only. */
    private boolean keepTop;
    /** Whether the pivot happened. Main loop only. */
    private boolean pivoted;

    ActiveCommitJob(MirrorJob mirror, Runnable restoreBase, Runnable release) {
        this.mirror = Objects.requireNonNull(mirror);
        this.restoreBase = Objects.requireNonNull(restoreBase);
        this.release = Objects.requireNonNull(release);
    }

    @Override
    public void run(JobContext ctx) throws Exception {
        mirror.run(ctx);
    }

    @Override
    public void pause() {
        mirror.pause();
    }

    @Override
    public void resume() {
        mirror.resume();
    }

    @Override
    public void complete() {
        mirror.complete();
    }

    @Override
    public boolean cancel(boolean force) {
        boolean forced = mirror.cancel(force);
        keepTop = true;
        return forced;
    }

    @Override
    public void setSpeed(long bytesPerSecond) {
        mirror.setSpeed(bytesPerSecond);
    }

    @Override
    public void prepare() throws Exception {
        mirror.prepare();
    }

    @Override
    public void commit() {
        mirror.commit();
        pivoted = !keepTop;
    }

    @Override
    public void abort() {
        mirror.abort();
    }

    @Override
    public void clean() {
        mirror.clean();
        if (!pivoted) {
            restoreBase.run();
        }
        release.run();
    }
}
