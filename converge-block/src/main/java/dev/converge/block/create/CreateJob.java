package dev.converge.block.create;

import dev.converge.block.driver.OpenException;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobKind;
import java.util.Objects;

/**
 * The blockdev-create job (QEMU's block/create.c): one creation, run on the job's thread,
 * its error (QEMU's text) the job's error. Progress goes from 0 of 1 to 1 of 1. The job is
 * made with auto-dismiss off, as QEMU's: it stays CONCLUDED until job-dismiss.
 */
public final class CreateJob implements JobDriver<Record, Record> {
    /** The job kind: type {@code create}, no job-change options, no members of its own. */
    public static final JobKind<Record, Record> KIND = JobKind.plain("create");

    /** The creation itself: a driver's create step. */
    @FunctionalInterface
    public interface Creation {
        void create() throws OpenException;
    }

    private final Creation creation;
    /** Runs on the main loop in clean(): gives back what the creation held (its node's user). */
    private final Runnable release;

    public CreateJob(Creation creation, Runnable release) {
        this.creation = Objects.requireNonNull(creation);
        this.release = Objects.requireNonNull(release);
    }

    @Override
    public void run(JobContext ctx) throws Exception {
        ctx.progressRemaining(1);
        try {
            creation.create();
        } catch (OpenException e) {
            throw new CreateFailedException(e.getMessage());
        }
        ctx.progressDone(1);
    }

    @Override
    public void clean() {
        release.run();
    }

    /** The creation failed; the message is QEMU's text and the job's error. */
    static final class CreateFailedException extends Exception {
        private static final long serialVersionUID = 1L;

        CreateFailedException(String message) {
            super(message);
        }
    }
}
