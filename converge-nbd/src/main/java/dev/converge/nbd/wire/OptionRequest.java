package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.Option;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * An option request: IHAVEOPT, 32-bit option code, 32-bit length, data.
 *
 * <p>The code is kept raw: an unknown option is not a framing error, the server must answer it with
 * ERR_UNSUP and go on, so {@link #option()} is where the typed rejection happens.
 *
 * @param code the option code as received
 * @param data the option payload (at most {@link NbdProtocol#MAX_OPTION_SIZE} bytes)
 */
public record OptionRequest(int code, byte[] data) {

    public OptionRequest {
        if (data.length > NbdProtocol.MAX_OPTION_SIZE) {
            throw new IllegalArgumentException("option length: " + data.length + " (expected: <= "
                    + NbdProtocol.MAX_OPTION_SIZE + ")");
        }
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /** The payload as a read-only buffer. */
    public ByteBuffer payload() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer();
    }

    /** The option, or {@link NbdProtocolException.UnknownCode}. */
    public Option option() throws NbdProtocolException.UnknownCode {
        return Option.fromCode(code);
    }

    public static OptionRequest of(Option option, byte[] data) {
        return new OptionRequest((int) option.code(), data);
    }

    public static OptionRequest exportName(String name) {
        return of(Option.EXPORT_NAME, Wire.utf8(name, "export name"));
    }

    public static OptionRequest abort() {
        return of(Option.ABORT, new byte[0]);
    }

    public static OptionRequest list() {
        return of(Option.LIST, new byte[0]);
    }

    public static OptionRequest startTls() {
        return of(Option.STARTTLS, new byte[0]);
    }

    public static OptionRequest structuredReply() {
        return of(Option.STRUCTURED_REPLY, new byte[0]);
    }

    public static OptionRequest go(String name, List<InfoType> infos) {
        return of(Option.GO, new ExportInfoRequest(name, infos.stream().map(i -> (int) i.code()).toList()).encode());
    }

    public static OptionRequest info(String name, List<InfoType> infos) {
        return of(Option.INFO, new ExportInfoRequest(name, infos.stream().map(i -> (int) i.code()).toList()).encode());
    }

    public static OptionRequest listMetaContext(String export, List<String> queries) {
        return of(Option.LIST_META_CONTEXT, new MetaContextRequest(export, queries).encode());
    }

    public static OptionRequest setMetaContext(String export, List<String> queries) {
        return of(Option.SET_META_CONTEXT, new MetaContextRequest(export, queries).encode());
    }

    public ByteBuffer encode() {
        ByteBuffer b = Wire.allocate(NbdProtocol.OPTION_HEADER_SIZE + data.length);
        b.putLong(NbdProtocol.IHAVEOPT).putInt(code).putInt(data.length).put(data);
        return b.flip();
    }

    /**
     * Decodes one option request, or returns null without consuming anything while the frame is
     * incomplete. The length is checked against {@link NbdProtocol#MAX_OPTION_SIZE} before the payload
     * is allocated.
     */
    public static OptionRequest decode(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < NbdProtocol.OPTION_HEADER_SIZE) {
            return null;
        }
        int p = in.position();
        long magic = in.getLong(p);
        if (magic != NbdProtocol.IHAVEOPT) {
            throw new NbdProtocolException.BadMagic("option magic", magic, NbdProtocol.IHAVEOPT);
        }
        int code = in.getInt(p + 8);
        long len = in.getInt(p + 12) & 0xffffffffL;
        if (len > NbdProtocol.MAX_OPTION_SIZE) {
            throw new NbdProtocolException.LimitExceeded("option length", len, NbdProtocol.MAX_OPTION_SIZE);
        }
        if (in.remaining() < NbdProtocol.OPTION_HEADER_SIZE + len) {
            return null;
        }
        byte[] data = new byte[(int) len];
        in.get(p + NbdProtocol.OPTION_HEADER_SIZE, data);
        in.position(p + NbdProtocol.OPTION_HEADER_SIZE + (int) len);
        return new OptionRequest(code, data);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OptionRequest r && r.code == code && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return code * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "OptionRequest[" + Option.describe(code) + ", " + data.length + " bytes]";
    }
}
