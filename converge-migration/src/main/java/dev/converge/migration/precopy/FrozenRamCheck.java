package dev.converge.migration.precopy;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RunState;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The source's check after the hand-over of a verified migration: its RAM, frozen in
 * {@code postmigrate}, against the CRCs of what it sent ({@link PageCrcTable}). At the switchover
 * the two sides only compared what was sent with what was received; this closes the remaining
 * gap, the dirty log. A page that differs was written after it was last sent without the dirty
 * log marking it (a lost dirty bit: an accelerator or device that wrote guest memory behind the
 * log), so the destination runs with an older copy of that page: its guest is not the source's.
 * Nothing can be rolled back any more (the destination runs); the check reports it loudly (an
 * ERROR in the log, the event {@code X_CONVERGE_RAM_CHECK}, query-migrate's
 * {@code x-converge-ram-check}) so that the operator can act, e.g. restart the guest from the
 * source, whose RAM is intact.
 * <p>
 * Runs on a thread of its own (one core), after the downtime. If the source leaves
 * {@code postmigrate} meanwhile ({@code cont}) its RAM changes again and the result is {@link Status#SKIPPED}.
 */
public final class FrozenRamCheck {
    /** Mismatches named in the result. */
    static final int NAMED = 8;

    private FrozenRamCheck() {
    }

    /** Where the check stands. */
    public enum Status {
        RUNNING("running"), PASSED("passed"), FAILED("failed"), SKIPPED("skipped");

        private final String wireName;

        Status(String wireName) {
            this.wireName = wireName;
        }

        public String wireName() {
            return wireName;
        }
    }

    /**
     * The check's outcome.
     *
     * @param mismatchedPages pages whose RAM differs from what was sent
     * @param first           the first of them (at most {@value #NAMED})
     */
    public record Result(Status status, long mismatchedPages, List<PageCrcTable.Mismatch> first) {
        public Result {
            first = List.copyOf(first);
        }

        /** The check has started and not ended. */
        public static final Result RUNNING = new Result(Status.RUNNING, 0, List.of());

        /** One line for the log and the event. */
        public String describe() {
            return switch (status) {
                case RUNNING -> "the source's RAM is being checked against what was sent";
                case PASSED -> "the source's frozen RAM equals what was sent";
                case SKIPPED -> "not checked: the source left postmigrate (it ran again) before the check ended";
                case FAILED -> mismatchedPages + " page(s) of the source's frozen RAM differ from what was sent: "
                        + "written without being dirty-logged, the destination runs with older copies (first: "
                        + first + ")";
            };
        }
    }

    /** Starts the check of {@code machine}'s RAM (in postmigrate) against {@code sent}. */
    static CompletableFuture<Result> start(Machine machine, PageCrcTable sent) {
        CompletableFuture<Result> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name(machine.name() + "-ram-check").start(() -> {
            try {
                f.complete(check(machine, sent));
            } catch (RuntimeException | Error e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    static Result check(Machine machine, PageCrcTable sent) {
        if (machine.runState() != RunState.POSTMIGRATE) {
            return new Result(Status.SKIPPED, 0, List.of());
        }
        PageCrcTable.Mismatches m = sent.mismatches(machine.ram(), NAMED);
        if (machine.runState() != RunState.POSTMIGRATE) {
            return new Result(Status.SKIPPED, 0, List.of());
        }
        return new Result(m.count() == 0 ? Status.PASSED : Status.FAILED, m.count(), m.first());
    }
}
