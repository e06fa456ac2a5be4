package dev.converge.nbd.wire;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Big-endian helpers shared by the message records; NBD is big-endian throughout. */
final class Wire {
    private Wire() {
    }

    static ByteBuffer allocate(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.BIG_ENDIAN);
    }

    static byte[] utf8(String s, String field) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > NbdProtocol.MAX_STRING_SIZE) {
            throw new IllegalArgumentException(field + ": " + b.length + " bytes (expected: <= "
                    + NbdProtocol.MAX_STRING_SIZE + ")");
        }
        return b;
    }

    /** Reads a u32-length-prefixed UTF-8 string, checking the length against what is left and the string limit. */
    static String readString(ByteBuffer in, String field) throws NbdProtocolException {
        long len = u32(in, field + " length");
        return readString(in, len, field);
    }

    static String readString(ByteBuffer in, long len, String field) throws NbdProtocolException {
        if (len > NbdProtocol.MAX_STRING_SIZE) {
            throw new NbdProtocolException.LimitExceeded(field + " length", len, NbdProtocol.MAX_STRING_SIZE);
        }
        if (len > in.remaining()) {
            throw new NbdProtocolException.Malformed(field + " length: " + len + " (expected: <= "
                    + in.remaining() + " bytes left in the message)");
        }
        byte[] b = new byte[(int) len];
        in.get(b);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new NbdProtocolException.Malformed(field + ": not valid UTF-8");
        }
    }

    static long u32(ByteBuffer in, String field) throws NbdProtocolException {
        need(in, 4, field);
        return in.getInt() & 0xffffffffL;
    }

    static int u16(ByteBuffer in, String field) throws NbdProtocolException {
        need(in, 2, field);
        return in.getShort() & 0xffff;
    }

    static long u64(ByteBuffer in, String field) throws NbdProtocolException {
        need(in, 8, field);
        return in.getLong();
    }

    static void need(ByteBuffer in, int n, String field) throws NbdProtocolException {
        if (in.remaining() < n) {
            throw new NbdProtocolException.Malformed(field + ": truncated, " + in.remaining()
                    + " bytes left (expected: " + n + ")");
        }
    }

    static void end(ByteBuffer in, String what) throws NbdProtocolException {
        if (in.hasRemaining()) {
            throw new NbdProtocolException.Malformed(what + ": " + in.remaining() + " trailing bytes (expected: 0)");
        }
    }
}
