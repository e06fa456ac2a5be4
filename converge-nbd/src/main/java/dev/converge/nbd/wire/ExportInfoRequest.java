package dev.converge.nbd.wire;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Payload of INFO and GO: u32 name length, name, u16 count, count × u16 info type.
 *
 * @param name  the export name ("" is the default export)
 * @param infos the requested info types, raw (unknown ones are ignored by servers, as the spec says)
 */
public record ExportInfoRequest(String name, List<Integer> infos) {
    public ExportInfoRequest {
        infos = List.copyOf(infos);
    }

    public byte[] encode() {
        byte[] n = Wire.utf8(name, "export name");
        ByteBuffer b = Wire.allocate(4 + n.length + 2 + 2 * infos.size());
        b.putInt(n.length).put(n).putShort((short) infos.size());
        infos.forEach(i -> b.putShort(i.shortValue()));
        return b.array();
    }

    public static ExportInfoRequest parse(ByteBuffer in) throws NbdProtocolException {
        String name = Wire.readString(in, "export name");
        int n = Wire.u16(in, "info request count");
        if (n > NbdProtocol.MAX_INFO_REQUESTS) {
            throw new NbdProtocolException.LimitExceeded("info request count", n, NbdProtocol.MAX_INFO_REQUESTS);
        }
        if (in.remaining() != 2 * n) {
            throw new NbdProtocolException.Malformed("info requests: " + in.remaining() + " bytes (expected: "
                    + 2 * n + " for " + n + " requests)");
        }
        List<Integer> infos = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            infos.add(in.getShort() & 0xffff);
        }
        return new ExportInfoRequest(name, infos);
    }
}
