package dev.converge.nbd.wire;

import java.io.IOException;

/**
 * Bytes from the peer that break the NBD protocol. One subtype per kind of breakage, so callers can
 * tell a peer that speaks a newer dialect (unknown code) from one that sends garbage (bad magic) or
 * one that asks too much (limit). Every message names the field, the value and what was expected.
 */
public abstract sealed class NbdProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    private NbdProtocolException(String message) {
        super(message);
    }

    /** A code (option, command, reply type, flag...) that the protocol enum does not know. */
    public static final class UnknownCode extends NbdProtocolException {
        private static final long serialVersionUID = 1L;
        private final String field;
        private final long code;

        public UnknownCode(String field, long code) {
            super(field + ": unknown code " + code + " (0x" + Long.toHexString(code) + ")");
            this.field = field;
            this.code = code;
        }

        /** The field whose value was unknown, e.g. "option" or "command". */
        public String field() {
            return field;
        }

        /** The unknown value as received. */
        public long code() {
            return code;
        }
    }

    /** A magic number that is not the one the protocol requires at that point. */
    public static final class BadMagic extends NbdProtocolException {
        private static final long serialVersionUID = 1L;

        public BadMagic(String field, long actual, long expected) {
            super(field + ": 0x" + Long.toHexString(actual) + " (expected: 0x" + Long.toHexString(expected) + ")");
        }
    }

    /** A peer-supplied length above a named maximum, detected before anything was allocated. */
    public static final class LimitExceeded extends NbdProtocolException {
        private static final long serialVersionUID = 1L;

        public LimitExceeded(String field, long actual, long bound) {
            super(field + ": " + actual + " (expected: <= " + bound + ")");
        }
    }

    /** A message whose fields are individually valid but do not fit together. */
    public static final class Malformed extends NbdProtocolException {
        private static final long serialVersionUID = 1L;

        public Malformed(String message) {
            super(message);
        }
    }
}
