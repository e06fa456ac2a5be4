package dev.converge.migration.precopy;

/**
 * Why a migration failed, one subtype per phase; the cause is always kept. The message is
 * human-readable (it becomes a job's {@code error}), not for parsing.
 */
public abstract sealed class MigrationException extends Exception {
    private static final long serialVersionUID = 1L;

    MigrationException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * What an I/O failure says, for a message: its own text, or its kind where it has none (a
     * channel closed under a read, for one, has no message).
     */
    public static String describe(Throwable e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** Reading or writing the stream or the return path failed (peer gone, connection reset). */
    public static final class ChannelFailed extends MigrationException {
        private static final long serialVersionUID = 1L;

        public ChannelFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The peer's bytes broke the stream format; the cause is the {@code WireFormatException}. */
    public static final class ProtocolFailed extends MigrationException {
        private static final long serialVersionUID = 1L;

        public ProtocolFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The destination reported an error on the return path. */
    public static final class DestinationFailed extends MigrationException {
        private static final long serialVersionUID = 1L;

        public DestinationFailed(String message) {
            super(message, null);
        }
    }

    /** The incoming side refused the stream: it does not fit the destination machine, or is out of order. */
    public static final class IncomingRejected extends MigrationException {
        private static final long serialVersionUID = 1L;

        public IncomingRejected(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The migration was cancelled by its owner. */
    public static final class Cancelled extends MigrationException {
        private static final long serialVersionUID = 1L;

        public Cancelled() {
            super("migration cancelled", null);
        }
    }

    /** Waiting in a checkpoint, rate limit or idle wait was interrupted. */
    public static final class Interrupted extends MigrationException {
        private static final long serialVersionUID = 1L;

        public Interrupted(InterruptedException cause) {
            super("migration interrupted", cause);
        }
    }

    /**
     * The joint switchover with the mirrors of the migration's transaction could not go on: a
     * mirror ended before it, or completing the mirrors failed.
     */
    public static final class JointSwitchoverFailed extends MigrationException {
        private static final long serialVersionUID = 1L;

        public JointSwitchoverFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
