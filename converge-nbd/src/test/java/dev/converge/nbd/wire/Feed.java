package dev.converge.nbd.wire;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Feeds encoded bytes to a decoder in pieces, the way a socket delivers them. */
final class Feed {
    private Feed() {
    }

    @FunctionalInterface
    interface Decoder<T> {
        T decode(ByteBuffer in) throws NbdProtocolException;
    }

    /** Decodes everything from {@code bytes} delivered in chunks cut at the given offsets. */
    static <T> List<T> cut(byte[] bytes, Decoder<T> decoder, int... cuts) throws NbdProtocolException {
        ByteBuffer buf = ByteBuffer.allocate(bytes.length);
        List<T> out = new ArrayList<>();
        int from = 0;
        List<Integer> points = new ArrayList<>();
        for (int c : cuts) {
            points.add(c);
        }
        points.add(bytes.length);
        for (int to : points) {
            buf.put(bytes, from, to - from);
            from = to;
            buf.flip();
            while (true) {
                int before = buf.position();
                T t = decoder.decode(buf);
                if (t == null) {
                    if (buf.position() != before && buf.hasRemaining()) {
                        throw new AssertionError("decoder consumed part of a frame and stopped before the end");
                    }
                    break;
                }
                out.add(t);
            }
            buf.compact();
        }
        if (buf.position() != 0) {
            throw new AssertionError(buf.position() + " bytes left undecoded");
        }
        return out;
    }

    /** One byte at a time. */
    static <T> List<T> byteByByte(byte[] bytes, Decoder<T> decoder) throws NbdProtocolException {
        int[] cuts = new int[Math.max(0, bytes.length - 1)];
        for (int i = 0; i < cuts.length; i++) {
            cuts[i] = i + 1;
        }
        return cut(bytes, decoder, cuts);
    }

    static byte[] bytes(ByteBuffer... buffers) {
        int n = 0;
        for (ByteBuffer b : buffers) {
            n += b.remaining();
        }
        ByteBuffer all = ByteBuffer.allocate(n);
        for (ByteBuffer b : buffers) {
            all.put(b.duplicate());
        }
        return all.array();
    }
}
