package dev.converge.nbd.wire;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Payload of LIST_META_CONTEXT and SET_META_CONTEXT: u32 export name length, name, u32 query count,
 * count × (u32 length, query).
 *
 * @param exportName the export the contexts are for
 * @param queries    context names or prefixes ("base:", "qemu:dirty-bitmap:")
 */
public record MetaContextRequest(String exportName, List<String> queries) {
    public MetaContextRequest {
        queries = List.copyOf(queries);
    }

    public byte[] encode() {
        byte[] n = Wire.utf8(exportName, "export name");
        List<byte[]> qs = queries.stream().map(q -> Wire.utf8(q, "meta context query")).toList();
        ByteBuffer b = Wire.allocate(8 + n.length + qs.stream().mapToInt(q -> 4 + q.length).sum());
        b.putInt(n.length).put(n).putInt(qs.size());
        qs.forEach(q -> b.putInt(q.length).put(q));
        return b.array();
    }

    public static MetaContextRequest parse(ByteBuffer in) throws NbdProtocolException {
        String name = Wire.readString(in, "export name");
        long n = Wire.u32(in, "meta context query count");
        if (n > NbdProtocol.MAX_META_CONTEXT_QUERIES) {
            throw new NbdProtocolException.LimitExceeded("meta context query count", n,
                    NbdProtocol.MAX_META_CONTEXT_QUERIES);
        }
        List<String> queries = new ArrayList<>((int) n);
        for (int i = 0; i < n; i++) {
            queries.add(Wire.readString(in, "meta context query"));
        }
        Wire.end(in, "meta context request");
        return new MetaContextRequest(name, queries);
    }
}
