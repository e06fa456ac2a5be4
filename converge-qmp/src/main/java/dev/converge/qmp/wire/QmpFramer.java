package dev.converge.qmp.wire;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Splits a QMP input byte stream into top-level JSON texts, incrementally and without parsing
 * them: it tracks strings (double- and, as QEMU accepts, single-quoted), escapes and the
 * {@code {}}/{@code []} depth, and hands out a frame only when it is complete. A partial frame
 * stays buffered here until the rest arrives; bytes of it are never handed out twice or lost.
 * <p>
 * Limits, checked as the bytes arrive (before the buffer grows past them):
 * a frame is at most {@link #MAX_MESSAGE_BYTES} and nests at most {@link #MAX_DEPTH} deep.
 * <p>
 * <b>Errors and recovery.</b> A frame that is too big or too deep, a closer at top level
 * ({@code }} or {@code ]}), or a byte that cannot start a JSON value yields one
 * {@link Frame.Error}; the framer then drops its partial frame and discards input up to and
 * including the next newline, and starts afresh. QEMU's lexer (qobject/json-lexer.c,
 * {@code IN_RECOVERY}) instead skips to the next structural character or control character,
 * and its streamer (json-streamer.c) emits an error and resets when a token or message limit is
 * exceeded; we resynchronise on the newline because QMP clients end every command with one,
 * so the next good line is taken whole rather than from its middle.
 * <p>
 * Top-level scalars ({@code 42}, {@code true}, {@code "x"}) are frames too, so that the
 * dispatcher can answer them with QEMU's "QMP input must be a JSON object"; a bare number or
 * keyword ends at the first byte that cannot continue it, so it needs that lookahead byte.
 * <p>
 * Not thread-safe: one framer per connection, fed by its reader.
 */
public final class QmpFramer {
    /** Largest accepted JSON text, in bytes. */
    public static final int MAX_MESSAGE_BYTES = 1 << 20;
    /** Deepest accepted nesting of objects and arrays. */
    public static final int MAX_DEPTH = 64;

    /** Buffer size a framer starts with and shrinks back to after a big frame. */
    private static final int INITIAL_CAPACITY = 4096;
    private static final int RETAINED_CAPACITY = 64 * 1024;

    /** What comes out of the framer. */
    public sealed interface Frame permits Frame.Message, Frame.Error {
        /** One complete top-level JSON text (not yet parsed), UTF-8 as received. */
        record Message(byte[] json) implements Frame {
            @Override
            public String toString() {
                return "Message[" + new String(json, java.nio.charset.StandardCharsets.UTF_8) + "]";
            }

            @Override
            public boolean equals(Object o) {
                return o instanceof Message m && Arrays.equals(json, m.json);
            }

            @Override
            public int hashCode() {
                return Arrays.hashCode(json);
            }
        }

        /** Input that could not be framed; {@code desc} is QEMU-like and user-facing. */
        record Error(String desc) implements Frame {
        }
    }

    private enum State {
        /** Between frames: whitespace is skipped. */
        IDLE,
        /** Inside an object or array (depth ≥ 1), outside strings. */
        IN_CONTAINER,
        /** Inside a string (top-level or nested); {@link #quote} says which quote ends it. */
        IN_STRING,
        /** After a backslash inside a string. */
        IN_ESCAPE,
        /** Inside a top-level number or keyword. */
        IN_SCALAR,
        /** After an error: dropping bytes up to the next newline. */
        DISCARDING
    }

    private State state = State.IDLE;
    private byte quote;
    private int depth;
    private byte[] buf = new byte[INITIAL_CAPACITY];
    private int len;

    /** Feeds all of {@code bytes}. */
    public List<Frame> feed(byte[] bytes) {
        return feed(bytes, 0, bytes.length);
    }

    /**
     * Feeds {@code length} bytes from {@code offset} and returns the frames they complete, in
     * order (often none: the bytes are kept until their frame is complete).
     */
    public List<Frame> feed(byte[] bytes, int offset, int length) {
        List<Frame> out = new ArrayList<>(1);
        for (int i = offset; i < offset + length; i++) {
            step(bytes[i], out);
        }
        return out;
    }

    /** Number of bytes of an incomplete frame held now (0 between frames). */
    public int pendingBytes() {
        return len;
    }

    private void step(byte c, List<Frame> out) {
        switch (state) {
            case DISCARDING -> {
                if (c == '\n') {
                    state = State.IDLE;
                }
            }
            case IDLE -> startFrame(c, out);
            case IN_SCALAR -> {
                if (isScalarByte(c)) {
                    append(c, out);
                } else {
                    emit(out);
                    startFrame(c, out);
                }
            }
            case IN_ESCAPE -> {
                if (append(c, out)) {
                    state = State.IN_STRING;
                }
            }
            case IN_STRING -> {
                if (!append(c, out)) {
                    return;
                }
                if (c == '\\') {
                    state = State.IN_ESCAPE;
                } else if (c == quote) {
                    if (depth == 0) {
                        emit(out);
                    } else {
                        state = State.IN_CONTAINER;
                    }
                }
            }
            case IN_CONTAINER -> {
                if (!append(c, out)) {
                    return;
                }
                switch (c) {
                    case '"', '\'' -> {
                        quote = c;
                        state = State.IN_STRING;
                    }
                    case '{', '[' -> {
                        if (++depth > MAX_DEPTH) {
                            fail(out, c, "JSON nesting depth limit exceeded: " + depth + " (expected: at most "
                                    + MAX_DEPTH + ")");
                        }
                    }
                    case '}', ']' -> {
                        if (--depth == 0) {
                            emit(out);
                        }
                    }
                    default -> {
                        // Members, separators and whitespace: the parser judges them.
                    }
                }
            }
        }
    }

    /** Handles {@code c} between frames. */
    private void startFrame(byte c, List<Frame> out) {
        switch (c) {
            case ' ', '\t', '\r', '\n' -> {
            }
            case '{', '[' -> {
                append(c, out);
                depth = 1;
                state = State.IN_CONTAINER;
            }
            case '"', '\'' -> {
                append(c, out);
                quote = c;
                state = State.IN_STRING;
            }
            default -> {
                if (isScalarByte(c)) {
                    append(c, out);
                    state = State.IN_SCALAR;
                } else {
                    fail(out, c, "JSON parse error, stray '" + describe(c) + "'");
                }
            }
        }
    }

    /** Appends one byte of the current frame; false (after reporting) when it would be too big. */
    private boolean append(byte c, List<Frame> out) {
        if (len == MAX_MESSAGE_BYTES) {
            fail(out, c, "JSON message size limit exceeded: more than " + MAX_MESSAGE_BYTES
                    + " bytes (expected: at most " + MAX_MESSAGE_BYTES + ")");
            return false;
        }
        if (len == buf.length) {
            buf = Arrays.copyOf(buf, Math.min(MAX_MESSAGE_BYTES, buf.length * 2));
        }
        buf[len++] = c;
        return true;
    }

    private void emit(List<Frame> out) {
        out.add(new Frame.Message(Arrays.copyOf(buf, len)));
        reset(State.IDLE);
    }

    /** Reports an error and drops input through the next newline ({@code c} may be that newline). */
    private void fail(List<Frame> out, byte c, String desc) {
        out.add(new Frame.Error(desc));
        reset(c == '\n' ? State.IDLE : State.DISCARDING);
    }

    private void reset(State next) {
        len = 0;
        depth = 0;
        state = next;
        if (buf.length > RETAINED_CAPACITY) {
            buf = new byte[INITIAL_CAPACITY];
        }
    }

    /** Bytes that may continue a top-level number or keyword. */
    private static boolean isScalarByte(byte c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '-' || c == '+' || c == '.';
    }

    private static String describe(byte c) {
        return c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\x%02x", c & 0xff);
    }
}
