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

    /** The destination left inmigrate after START (version 4), or runs after POSTCOPY_RUN. */
    record Resumed() implements ReturnMessage {
    }

    /** Postcopy: a vCPU waits for the page at {@code offset} of block {@code block}. */
    record PageRequest(int block, long offset) implements ReturnMessage {
    }

    /** Postcopy recovery: the pages of {@code block} the destination holds (bit layout of POSTCOPY_DISCARD). */
    record ReceivedBitmap(int block, long firstPage, long[] words) implements ReturnMessage {
        @Override
        public boolean equals(Object o) {
            return o instanceof ReceivedBitmap r && r.block == block && r.firstPage == firstPage
                    && java.util.Arrays.equals(r.words, words);
        }

        @Override
        public int hashCode() {
            return Objects.hash(block, firstPage, java.util.Arrays.hashCode(words));
        }
    }

    /** Postcopy recovery: the received bitmap is complete. */
    record ResumeReady() implements ReturnMessage {
    }

    /** Postcopy: the destination holds every page. */
    record PostcopyDone() implements ReturnMessage {
    }
}
