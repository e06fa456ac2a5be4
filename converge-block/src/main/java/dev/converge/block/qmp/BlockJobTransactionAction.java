package dev.converge.block.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobStatus;
import dev.converge.job.JobTxn;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.Args;
import java.util.Objects;

/**
 * A QMP {@code transaction} action that starts a block job ({@code blockdev-mirror},
 * {@code blockdev-backup}): its data is the command's arguments, validated by the same schema.
 * Prepare does every check the command does and creates the job (CREATED, its filter inserted)
 * in the transaction's job transaction; commit starts it; abort cancels it while it is still
 * CREATED (it then vanishes, and what it set up goes with it).
 */
final class BlockJobTransactionAction implements TransactionQmp.Action {
    /** The command's checks and the job's creation, without starting it. Main loop. */
    @FunctionalInterface
    interface JobCreator {
        Job create(Args args, JobTxn txn);
    }

    private final JobEngine engine;
    private final JobCreator creator;

    BlockJobTransactionAction(JobEngine engine, JobCreator creator) {
        this.engine = Objects.requireNonNull(engine);
        this.creator = Objects.requireNonNull(creator);
    }

    @Override
    public TransactionQmp.Prepared prepare(ObjectNode data, JobTxn txn) {
        Job job = creator.create(new Args(data), txn);
        return new TransactionQmp.Prepared() {
            @Override
            public void commit() {
                engine.start(job);
            }

            @Override
            public void abort() {
                // A partner's abort may have ended this job already (its transaction aborted).
                if (engine.find(job.id()).orElse(null) == job && job.status() == JobStatus.CREATED) {
                    engine.cancel(job.id(), true);
                }
            }
        };
    }
}
