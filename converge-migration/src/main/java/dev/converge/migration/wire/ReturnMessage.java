package dev.converge.migration.wire;

import java.util.Objects;

/** A message of the return path (destination → source). */
public sealed interface ReturnMessage {
    /** The destination holds all state. */
    record AckComplete() implements ReturnMessage {
    }

    /** The destination failed; {@code message} is human-readable, not for parsing. */
    record Error(String message) implements ReturnMessage {
        public Error {
            Objects.requireNonNull(message);
        }
    }

    /** The destination applied everything up to END_OF_PASS {@code pass} (version 4). */
    record PassAck(long pass) implements ReturnMessage {
    }

    /** The destination left inmigrate after START (version 4). */
    record Resumed() implements ReturnMessage {
    }
}
