package dev.converge.nbd.wire;

import java.util.EnumSet;
import java.util.Set;

/**
 * The NBD protocol's numbers, mirroring the spec (NetworkBlockDevice/nbd doc/proto.md) and QEMU's
 * include/block/nbd.h block by block: magics, limits, handshake and transmission flags, options,
 * option replies, info types, commands, command flags, structured reply types and errors.
 *
 * <p>Every enum has {@code code()} and a {@code fromCode(code)} that rejects unknown codes with
 * {@link NbdProtocolException.UnknownCode}; nothing is mapped to a default. {@link #describe} names a
 * code for logs and error messages, also when it is unknown.
 */
public final class NbdProtocol {
    private NbdProtocol() {
    }

    // ---- magics -------------------------------------------------------------------------------

    /** "NBDMAGIC": first 8 bytes of every server greeting. */
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    /** "IHAVEOPT": second 8 bytes of the newstyle greeting, and the first 8 of every option request. */
    public static final long IHAVEOPT = 0x49484156454F5054L;
    /** Magic of every option reply. */
    public static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    /** Magic of every transmission request. */
    public static final int REQUEST_MAGIC = 0x25609513;
    /** Magic of a simple reply. */
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    /** Magic of a structured reply chunk. */
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** Magic of an extended (32-byte, 64-bit length) request, once EXTENDED_HEADERS is agreed. */
    public static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71;
    /** Magic of an extended reply chunk, once EXTENDED_HEADERS is agreed. */
    public static final int EXTENDED_REPLY_MAGIC = 0x6e8a278c;

    // ---- limits -------------------------------------------------------------------------------

    /** Largest READ/WRITE payload, as QEMU's NBD_MAX_BUFFER_SIZE (32 MiB). */
    public static final int MAX_BUFFER_SIZE = 32 * 1024 * 1024;
    /** Longest export name, description or meta context name, as QEMU's NBD_MAX_STRING_SIZE. */
    public static final int MAX_STRING_SIZE = 4096;
    /**
     * Longest option payload we accept. The largest legitimate option is SET_META_CONTEXT with a
     * handful of queries of at most {@link #MAX_STRING_SIZE} each; an unauthenticated peer must not
     * make us buffer megabytes during the handshake.
     */
    public static final int MAX_OPTION_SIZE = 64 * 1024;
    /** Most queries in one LIST/SET_META_CONTEXT option. */
    public static final int MAX_META_CONTEXT_QUERIES = 128;
    /** Most info requests in one INFO/GO option. */
    public static final int MAX_INFO_REQUESTS = 64;
    /** Length of a transmission request header. */
    public static final int REQUEST_HEADER_SIZE = 28;
    /** Length of a simple reply header. */
    public static final int SIMPLE_REPLY_HEADER_SIZE = 16;
    /** Length of an extended request header and of an extended reply chunk header. */
    public static final int EXTENDED_HEADER_SIZE = 32;
    /** Length of a structured reply chunk header. */
    public static final int STRUCTURED_REPLY_HEADER_SIZE = 20;
    /** Length of an option request header (magic, option, length). */
    public static final int OPTION_HEADER_SIZE = 16;
    /** Length of an option reply header (magic, option, type, length). */
    public static final int OPTION_REPLY_HEADER_SIZE = 20;
    /** Zero padding after the EXPORT_NAME reply unless NO_ZEROES was agreed. */
    public static final int EXPORT_NAME_PADDING = 124;

    // ---- meta contexts ------------------------------------------------------------------------

    /** The allocation context every server should offer. */
    public static final String CONTEXT_BASE_ALLOCATION = "base:allocation";
    /** Prefix of QEMU's dirty bitmap contexts; the bitmap name follows. */
    public static final String CONTEXT_QEMU_DIRTY_BITMAP = "qemu:dirty-bitmap:";
    /** base:allocation flag: the extent is not allocated (a hole). */
    public static final int STATE_HOLE = 1;
    /** base:allocation flag: the extent reads as zeroes. */
    public static final int STATE_ZERO = 2;
    /** qemu:dirty-bitmap flag: the extent is dirty. */
    public static final int STATE_DIRTY = 1;

    /** An enum of protocol codes. */
    public interface Coded {
        /** The value on the wire. */
        long code();
    }

    static <E extends Enum<E> & Coded> E lookup(Class<E> type, long code, String field)
            throws NbdProtocolException.UnknownCode {
        for (E e : type.getEnumConstants()) {
            if (e.code() == code) {
                return e;
            }
        }
        throw new NbdProtocolException.UnknownCode(field, code);
    }

    static <E extends Enum<E> & Coded> String describe(Class<E> type, long code) {
        for (E e : type.getEnumConstants()) {
            if (e.code() == code) {
                return e.name();
            }
        }
        return "<unknown " + type.getSimpleName() + " " + code + ">";
    }

    /** Decodes a bit set, rejecting bits the enum does not name. */
    static <E extends Enum<E> & Coded> Set<E> flags(Class<E> type, long bits, String field)
            throws NbdProtocolException.UnknownCode {
        Set<E> out = EnumSet.noneOf(type);
        long rest = bits;
        for (E e : type.getEnumConstants()) {
            if ((bits & e.code()) != 0) {
                out.add(e);
                rest &= ~e.code();
            }
        }
        if (rest != 0) {
            throw new NbdProtocolException.UnknownCode(field, rest);
        }
        return out;
    }

    /** Encodes a bit set. */
    public static <E extends Enum<E> & Coded> int bits(Set<E> flags) {
        long b = 0;
        for (E e : flags) {
            b |= e.code();
        }
        return (int) b;
    }

    // ---- handshake flags ----------------------------------------------------------------------

    /** Flags the server sends in its greeting (16 bits). */
    public enum HandshakeFlag implements Coded {
        /** The server speaks fixed newstyle. */
        FIXED_NEWSTYLE(1),
        /** The server can omit the 124 zero bytes after EXPORT_NAME. */
        NO_ZEROES(2);

        private final int code;

        HandshakeFlag(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public static Set<HandshakeFlag> fromBits(int bits) throws NbdProtocolException.UnknownCode {
            return flags(HandshakeFlag.class, bits, "handshake flags");
        }
    }

    /** Flags the client answers the greeting with (32 bits). */
    public enum ClientFlag implements Coded {
        /** The client speaks fixed newstyle. */
        FIXED_NEWSTYLE(1),
        /** The client does not want the 124 zero bytes after EXPORT_NAME. */
        NO_ZEROES(2);

        private final int code;

        ClientFlag(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public static Set<ClientFlag> fromBits(int bits) throws NbdProtocolException.UnknownCode {
            return flags(ClientFlag.class, bits & 0xffffffffL, "client flags");
        }
    }

    /** Per-export transmission flags (16 bits). */
    public enum TransmissionFlag implements Coded {
        /** Always set: the other flags are meaningful. */
        HAS_FLAGS(1 << 0),
        /** The export is read-only. */
        READ_ONLY(1 << 1),
        /** FLUSH is supported. */
        SEND_FLUSH(1 << 2),
        /** The FUA command flag is supported. */
        SEND_FUA(1 << 3),
        /** The export behaves like a rotational medium. */
        ROTATIONAL(1 << 4),
        /** TRIM is supported. */
        SEND_TRIM(1 << 5),
        /** WRITE_ZEROES is supported. */
        SEND_WRITE_ZEROES(1 << 6),
        /** The DF (don't fragment) command flag is supported. */
        SEND_DF(1 << 7),
        /** Several connections to this export see one consistent image; FLUSH on one covers all. */
        CAN_MULTI_CONN(1 << 8),
        /** RESIZE is supported. */
        SEND_RESIZE(1 << 9),
        /** CACHE is supported. */
        SEND_CACHE(1 << 10),
        /** The FAST_ZERO command flag is supported. */
        SEND_FAST_ZERO(1 << 11),
        /** BLOCK_STATUS may carry a payload (extended headers only). */
        BLOCK_STATUS_PAYLOAD(1 << 12);

        private final int code;

        TransmissionFlag(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public static Set<TransmissionFlag> fromBits(int bits) throws NbdProtocolException.UnknownCode {
            return flags(TransmissionFlag.class, bits & 0xffff, "transmission flags");
        }
    }

    // ---- options ------------------------------------------------------------------------------

    /** Option codes of the handshake phase. */
    public enum Option implements Coded {
        /** Old-style export selection; ends the handshake without a way to report errors. */
        EXPORT_NAME(1),
        /** The client gives up the handshake. */
        ABORT(2),
        /** List the exports. */
        LIST(3),
        /** Withdrawn from the spec; never implemented by QEMU. */
        PEEK_EXPORT(4),
        /** Upgrade the connection to TLS. */
        STARTTLS(5),
        /** Ask about an export without selecting it. */
        INFO(6),
        /** Ask about an export and select it, ending the handshake. */
        GO(7),
        /** Use structured replies in the transmission phase. */
        STRUCTURED_REPLY(8),
        /** List the meta contexts matching queries. */
        LIST_META_CONTEXT(9),
        /** Select the meta contexts BLOCK_STATUS reports. */
        SET_META_CONTEXT(10),
        /** 64-bit headers; we do not offer them (QEMU 7.2 does not either). */
        EXTENDED_HEADERS(11);

        private final int code;

        Option(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public static Option fromCode(int code) throws NbdProtocolException.UnknownCode {
            return lookup(Option.class, code & 0xffffffffL, "option");
        }

        public static String describe(int code) {
            return NbdProtocol.describe(Option.class, code & 0xffffffffL);
        }
    }

    private static final int REP_ERR = 1 << 31;

    /** Types of option replies; the error types have bit 31 set. */
    public enum OptionReplyType implements Coded {
        /** The option is done. */
        ACK(1),
        /** One export in a LIST reply. */
        SERVER(2),
        /** One information item in an INFO/GO reply. */
        INFO(3),
        /** One meta context in a LIST/SET_META_CONTEXT reply. */
        META_CONTEXT(4),
        /** Unknown or unsupported option. */
        ERR_UNSUP(REP_ERR | 1),
        /** Forbidden by server policy. */
        ERR_POLICY(REP_ERR | 2),
        /** Syntactically or semantically invalid. */
        ERR_INVALID(REP_ERR | 3),
        /** Not supported on this platform. */
        ERR_PLATFORM(REP_ERR | 4),
        /** TLS is required first. */
        ERR_TLS_REQD(REP_ERR | 5),
        /** No such export. */
        ERR_UNKNOWN(REP_ERR | 6),
        /** The server is shutting down. */
        ERR_SHUTDOWN(REP_ERR | 7),
        /** The export needs the client to honour block sizes; ask for BLOCK_SIZE. */
        ERR_BLOCK_SIZE_REQD(REP_ERR | 8),
        /** The option payload is too large. */
        ERR_TOO_BIG(REP_ERR | 9),
        /** Extended headers are required first. */
        ERR_EXT_HEADER_REQD(REP_ERR | 10);

        private final int code;

        OptionReplyType(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code & 0xffffffffL;
        }

        /** The 32-bit value on the wire. */
        public int wire() {
            return code;
        }

        /** Whether this is an error reply. */
        public boolean isError() {
            return (code & REP_ERR) != 0;
        }

        public static OptionReplyType fromCode(int code) throws NbdProtocolException.UnknownCode {
            return lookup(OptionReplyType.class, code & 0xffffffffL, "option reply type");
        }

        public static String describe(int code) {
            return NbdProtocol.describe(OptionReplyType.class, code & 0xffffffffL);
        }
    }

    /** Information types in INFO/GO requests and replies. */
    public enum InfoType implements Coded {
        /** Size and transmission flags; always sent. */
        EXPORT(0),
        /** The canonical export name. */
        NAME(1),
        /** The export description. */
        DESCRIPTION(2),
        /** Minimum, preferred and maximum block sizes. */
        BLOCK_SIZE(3);

        private final int code;

        InfoType(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public static InfoType fromCode(int code) throws NbdProtocolException.UnknownCode {
            return lookup(InfoType.class, code & 0xffff, "info type");
        }

        public static String describe(int code) {
            return NbdProtocol.describe(InfoType.class, code & 0xffff);
        }
    }

    // ---- transmission -------------------------------------------------------------------------

    /**
     * Commands of the transmission phase.
     *
     * <pre>
     *   GO/EXPORT_NAME ─▶ [transmission] ─READ/WRITE/FLUSH/TRIM/WRITE_ZEROES/BLOCK_STATUS─▶ [transmission]
     *                          │
     *                          └─DISC (or EOF)─▶ drain in-flight replies ─▶ [closed]
     * </pre>
     */
    public enum Command implements Coded {
        /** Read data. */
        READ(0),
        /** Write the payload. */
        WRITE(1),
        /** Disconnect after answering what is in flight; no reply. */
        DISC(2),
        /** Make completed writes durable. */
        FLUSH(3),
        /** Discard a range (advisory). */
        TRIM(4),
        /** Prefetch (not offered). */
        CACHE(5),
        /** Write zeroes without a payload. */
        WRITE_ZEROES(6),
        /** Report extents of the selected meta contexts. */
        BLOCK_STATUS(7),
        /** Resize the export (not offered). */
        RESIZE(8);

        private final int code;

        Command(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public static Command fromCode(int code) throws NbdProtocolException.UnknownCode {
            return lookup(Command.class, code & 0xffff, "command");
        }

        public static String describe(int code) {
            return NbdProtocol.describe(Command.class, code & 0xffff);
        }
    }

    /** Flags of a transmission request (16 bits). */
    public enum CommandFlag implements Coded {
        /** Force unit access: durable before the reply. */
        FUA(1 << 0),
        /** WRITE_ZEROES must allocate (no hole). */
        NO_HOLE(1 << 1),
        /** Don't fragment: a READ reply in one data chunk. */
        DF(1 << 2),
        /** BLOCK_STATUS: one extent is enough. */
        REQ_ONE(1 << 3),
        /** WRITE_ZEROES: fail with ENOTSUP unless it is fast. */
        FAST_ZERO(1 << 4),
        /** The length field is the payload length (extended headers only). */
        PAYLOAD_LEN(1 << 5);

        private final int code;

        CommandFlag(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public static Set<CommandFlag> fromBits(int bits) throws NbdProtocolException.UnknownCode {
            return flags(CommandFlag.class, bits & 0xffff, "command flags");
        }
    }

    /** Flag of a structured reply chunk: this is the last chunk for the cookie. */
    public static final int REPLY_FLAG_DONE = 1;

    private static final int REPLY_TYPE_ERR = 1 << 15;

    /** Types of structured reply chunks (16 bits). */
    public enum ReplyType implements Coded {
        /** No payload; only valid as the final chunk. */
        NONE(0),
        /** Offset followed by data. */
        OFFSET_DATA(1),
        /** Offset and length of a range that reads as zeroes. */
        OFFSET_HOLE(2),
        /** Context id followed by (length, flags) descriptors. */
        BLOCK_STATUS(5),
        /** Context id followed by 64-bit descriptors (extended headers only). */
        BLOCK_STATUS_EXT(6),
        /** Error and message. */
        ERROR(REPLY_TYPE_ERR | 1),
        /** Error, message and the offset it concerns. */
        ERROR_OFFSET(REPLY_TYPE_ERR | 2);

        private final int code;

        ReplyType(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        public boolean isError() {
            return (code & REPLY_TYPE_ERR) != 0;
        }

        public static ReplyType fromCode(int code) throws NbdProtocolException.UnknownCode {
            return lookup(ReplyType.class, code & 0xffff, "structured reply type");
        }

        public static String describe(int code) {
            return NbdProtocol.describe(ReplyType.class, code & 0xffff);
        }
    }

    // ---- errors -------------------------------------------------------------------------------

    /** Error numbers on the wire (Linux values, fixed by the spec whatever the host). */
    public enum Errno implements Coded {
        /** Operation not permitted (e.g. a write to a read-only export). */
        EPERM(1),
        /** Input/output error. */
        EIO(5),
        /** Out of memory. */
        ENOMEM(12),
        /** Invalid argument (bad range, bad flags, unknown command). */
        EINVAL(22),
        /** No space left (also a write past the end). */
        ENOSPC(28),
        /** Request too large. */
        EOVERFLOW(75),
        /** Not supported (e.g. FAST_ZERO that would be slow). */
        ENOTSUP(95),
        /** The server is shutting down. */
        ESHUTDOWN(108);

        private final int code;

        Errno(int code) {
            this.code = code;
        }

        @Override
        public long code() {
            return code;
        }

        /** The 32-bit value on the wire. */
        public int wire() {
            return code;
        }

        public static Errno fromCode(int code) throws NbdProtocolException.UnknownCode {
            return lookup(Errno.class, code & 0xffffffffL, "errno");
        }

        public static String describe(int code) {
            return NbdProtocol.describe(Errno.class, code & 0xffffffffL);
        }
    }
}
