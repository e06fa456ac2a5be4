package dev.converge.block.qmp;

import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobStatus;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.Args;
import java.util.Objects;

/**
 * The {@code blockdev-mirror} action of QMP {@code transaction}: its data is blockdev-mirror's
 * arguments, validated by the same schema. Prepare does every check blockdev-mirror does and
 * creates the job (CREATED, filter inserted, bitmap on the source) in the transaction's job
 * transaction; commit starts it; abort cancels it while it is still CREATED (it then vanishes
 * and its filter, bitmap and target user go with it).
 */
final class MirrorTransactionAction implements TransactionQmp.Action {
    private final JobEngine engine;
    private final MirrorQmp mirror;

    MirrorTransactionAction(JobEngine engine, MirrorQmp mirror) {
        this.engine = Objects.requireNonNull(engine);
        this.mirror = Objects.requireNonNull(mirror);
    }

    @Override
    public TransactionQmp.Prepared prepare(com.fasterxml.jackson.databind.node.ObjectNode data,
            dev.converge.job.JobTxn txn) {
        Job job = mirror.create(new Args(data), txn);
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
