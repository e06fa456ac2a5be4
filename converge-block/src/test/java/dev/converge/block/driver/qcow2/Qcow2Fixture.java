package dev.converge.block.driver.qcow2;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.qmp.MainLoop;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A main loop and a block graph to open qcow2 nodes with blockdev-add JSON, as the daemon does. */
final class Qcow2Fixture implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    final MainLoop mainLoop = new MainLoop();
    final BlockGraph graph = new BlockGraph(mainLoop);

    /** blockdev-add with JSON (single quotes allowed). */
    BlockNode add(String json) {
        try {
            ObjectNode o = (ObjectNode) JSON.readTree(json.replace('\'', '"'));
            return mainLoop.call(() -> graph.blockdevAdd(o));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** A qcow2 node over the image file, named {@code name}. */
    Qcow2Node qcow2(String name, java.nio.file.Path img, boolean readOnly) {
        return (Qcow2Node) add("{'driver':'qcow2','node-name':'" + name + "','read-only':" + readOnly
                + ",'file':{'driver':'file','filename':'" + img + "'}}");
    }

    void del(String name) {
        mainLoop.call(() -> {
            graph.blockdevDel(name);
            return null;
        });
    }

    static byte[] readAll(BlockNode n) throws Exception {
        long size = n.size();
        byte[] out = new byte[(int) size];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1 << 20);
            for (long off = 0; off < size; off += buf.byteSize()) {
                long len = Math.min(buf.byteSize(), size - off);
                MemorySegment part = buf.asSlice(0, len);
                n.read(off, part);
                MemorySegment.copy(part, ValueLayout.JAVA_BYTE, 0, out, (int) off, (int) len);
            }
        }
        return out;
    }

    @Override
    public void close() {
        mainLoop.call(() -> {
            for (BlockNode n : graph.nodes()) {
                if (graph.isMonitorOwned(n) && n.parents().isEmpty()) {
                    graph.blockdevDel(n.nodeName());
                }
            }
            return null;
        });
        mainLoop.close();
    }
}
