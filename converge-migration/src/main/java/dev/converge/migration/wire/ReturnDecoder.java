package dev.converge.migration.wire;

import static dev.converge.migration.wire.WireFormat.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Incremental decoder of the return path (source side): the same framing as stream records
 * (type u16, reserved u16, length u32, payload; little-endian). Stateless between messages;
 * returns null without consuming when a whole message is not there yet.
 */
public final class ReturnDecoder {
    private ReturnDecoder() {
    }

    /**
     * @return the next message, or null when more bytes are needed (position unchanged)
     * @throws WireFormatException on an unknown type, reserved field or bad length
     */
    public static ReturnMessage decode(ByteBuffer in) throws WireFormatException {
        ByteOrder saved = in.order();
        in.order(ORDER);
        try {
            int p = in.position();
            if (in.remaining() < RECORD_HEADER_SIZE) {
                return null;
            }
            ReturnType type = ReturnType.fromCode(Short.toUnsignedInt(in.getShort(p)));
            int reserved = Short.toUnsignedInt(in.getShort(p + 2));
            if (reserved != 0) {
                throw new WireFormatException(type + " reserved: " + reserved + " (expected: 0)");
            }
            long length = Integer.toUnsignedLong(in.getInt(p + 4));
            long min = switch (type) {
                case PASS_ACK -> PASS_ACK_PAYLOAD;
                case PAGE_REQUEST -> PAGE_REQUEST_PAYLOAD;
                case RECEIVED_BITMAP -> BITMAP_FIXED + 8;
                default -> 0;
            };
            long max = switch (type) {
                case ERROR -> MAX_ERROR_MESSAGE;
                case RECEIVED_BITMAP -> BITMAP_FIXED + 8L * MAX_BITMAP_WORDS;
                default -> min;
            };
            if (length < min || length > max) {
                throw new WireFormatException(type + " length: " + length + " (expected: "
                        + (min == max ? String.valueOf(min) : min + ".." + max) + ")");
            }
            if (type == ReturnType.RECEIVED_BITMAP && (length - BITMAP_FIXED) % 8 != 0) {
                throw new WireFormatException(type + " length: " + length + " (expected: " + BITMAP_FIXED
                        + " + a multiple of 8)");
            }
            if (in.remaining() < RECORD_HEADER_SIZE + length) {
                return null;
            }
            int body = p + RECORD_HEADER_SIZE;
            ReturnMessage m = switch (type) {
                case ACK_COMPLETE -> new ReturnMessage.AckComplete();
                case ERROR -> new ReturnMessage.Error(StandardCharsets.UTF_8.decode(
                        in.slice(p + RECORD_HEADER_SIZE, (int) length)).toString());
                case PASS_ACK -> new ReturnMessage.PassAck(in.getLong(p + RECORD_HEADER_SIZE));
                case RESUMED -> new ReturnMessage.Resumed();
                case PAGE_REQUEST -> {
                    if (in.getInt(body + 4) != 0) {
                        throw new WireFormatException(type + " reserved: " + in.getInt(body + 4) + " (expected: 0)");
                    }
                    long offset = in.getLong(body + 8);
                    if (offset < 0 || offset % PAGE_SIZE != 0) {
                        throw new WireFormatException(type + " offset: " + offset + " (expected: a multiple of " + PAGE_SIZE + ")");
                    }
                    yield new ReturnMessage.PageRequest(in.getInt(body), offset);
                }
                case RECEIVED_BITMAP -> {
                    if (in.getInt(body + 4) != 0) {
                        throw new WireFormatException(type + " reserved: " + in.getInt(body + 4) + " (expected: 0)");
                    }
                    long first = in.getLong(body + 8);
                    if (first < 0 || first % 64 != 0) {
                        throw new WireFormatException(type + " first page: " + first + " (expected: a multiple of 64)");
                    }
                    yield new ReturnMessage.ReceivedBitmap(in.getInt(body), first,
                            StreamDecoder.bitmapWords(in, body, (int) length));
                }
                case RESUME_READY -> new ReturnMessage.ResumeReady();
                case POSTCOPY_DONE -> new ReturnMessage.PostcopyDone();
                case INVALID -> throw new AssertionError("fromCode never returns INVALID");
            };
            in.position(p + RECORD_HEADER_SIZE + (int) length);
            return m;
        } finally {
            in.order(saved);
        }
    }
}
