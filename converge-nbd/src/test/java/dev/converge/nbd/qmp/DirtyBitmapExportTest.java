package dev.converge.nbd.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.nbd.testing.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Incremental backup over NBD as libvirt's pull mode does it: a full copy, guest writes recorded
 * in a bitmap, the bitmap frozen (disabled) and exported as qemu:dirty-bitmap:NAME, nbdinfo --map
 * as the peer that reads it, and only the dirty extents copied (nbdcopy over nbdkit's offset
 * filter) onto the full copy, which then equals the disk byte for byte.
 */
@Tag("integration")
class DirtyBitmapExportTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;
    private NbdQmpFixture f;
    private Path image;
    private Path sock;

    @BeforeEach
    void setUp() throws Exception {
        byte[] data = new byte[SIZE];
        new Random(11).nextBytes(data);
        image = dir.resolve("disk.raw");
        Files.write(image, data);
        sock = dir.resolve("nbd.sock");
        f = new NbdQmpFixture();
        f.exec("blockdev-add", "{'driver':'file','node-name':'disk','filename':'" + image + "'}");
        f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}}}");
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    private String url(String export) {
        return "nbd+unix:///" + export + "?socket=" + sock;
    }

    /** The dirty extents nbdinfo reports, as {offset, length} pairs. */
    private List<long[]> dirtyExtents(String export, String bitmap) throws Exception {
        String map = Peers.run("nbdinfo", "--map=qemu:dirty-bitmap:" + bitmap, url(export)).ok().out();
        List<long[]> out = new ArrayList<>();
        for (String line : map.split("\n")) {
            String[] c = line.trim().split("\\s+");
            if (c.length >= 4 && c[3].equals("dirty")) {
                out.add(new long[] {Long.parseLong(c[0]), Long.parseLong(c[1])});
            }
        }
        return out;
    }

    @Test
    void incrementalCopyOfTheDirtyExtentsRestoresTheDisk() throws Exception {
        Peers.assume("nbdkit");
        Path backup = dir.resolve("backup.raw");
        Files.copy(image, backup); // the full backup, taken when the bitmap starts
        f.exec("block-dirty-bitmap-add", "{'node':'disk','name':'inc','granularity':65536}");
        // guest writes through a writable export: scattered, unaligned, one across a chunk boundary
        f.exec("block-export-add", "{'type':'nbd','id':'guest','node-name':'disk','writable':true}");
        for (String w : List.of("write -P 0x11 4096 512", "write -P 0x22 1048575 2", "write -P 0x33 5242880 131072",
                "write -P 0x44 8384512 4096")) {
            Peers.run("qemu-io", "-f", "raw", "-c", w, url("disk")).ok();
        }
        f.exec("block-export-del", "{'id':'guest','mode':'hard'}");
        // freeze the bitmap (libvirt disables it and starts the next one, in a transaction)
        f.exec("block-dirty-bitmap-disable", "{'node':'disk','name':'inc'}");
        f.exec("block-dirty-bitmap-add", "{'node':'disk','name':'next'}");
        f.exec("block-export-add", "{'type':'nbd','id':'pull','node-name':'disk','name':'pull',"
                + "'bitmaps':[{'node':'disk','name':'inc'}]}");
        assertThat(f.exec("query-named-block-nodes", "{'flat':true}").toString()).contains("\"busy\":true");
        assertThat(f.error("block-dirty-bitmap-clear", "{'node':'disk','name':'inc'}"))
                .isEqualTo("Bitmap 'inc' is currently in use by another operation and cannot be used");

        List<long[]> dirty = dirtyExtents("pull", "inc");
        assertThat(dirty).extracting(e -> e[0] + "+" + e[1]).containsExactly("0+65536", "983040+131072",
                "5242880+131072", "8323072+65536");
        for (long[] e : dirty) {
            Peers.run("nbdcopy", "--", "[", "nbdkit", "-r", "nbd", "socket=" + sock, "export=pull", "--filter=offset",
                    "offset=" + e[0], "range=" + e[1], "]", "[", "nbdkit", "file", backup.toString(),
                    "--filter=offset", "offset=" + e[0], "range=" + e[1], "]").ok();
        }
        assertThat(Files.readAllBytes(backup)).isEqualTo(Files.readAllBytes(image));

        // the export released the bitmap: the backup application may now drop it
        f.exec("block-export-del", "{'id':'pull'}");
        f.exec("block-dirty-bitmap-remove", "{'node':'disk','name':'inc'}");
    }

    @Test
    void exportedBitmapsAreLookedUpAsQemuDoes() throws Exception {
        f.exec("block-dirty-bitmap-add", "{'node':'disk','name':'b'}");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e','node-name':'disk',"
                + "'bitmaps':[{'node':'nope','name':'b'}]}")).isEqualTo("Node 'nope' not found");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e','node-name':'disk',"
                + "'bitmaps':[{'node':'disk','name':'x'}]}")).isEqualTo("Dirty bitmap 'x' not found");
        // a raw node over the file: the name is found on the node below, as QEMU's filter chain lookup
        f.exec("blockdev-add", "{'driver':'raw','node-name':'fmt','file':'disk'}");
        f.exec("block-export-add", "{'type':'nbd','id':'e','node-name':'fmt','bitmaps':['b']}");
        assertThat(Peers.run("nbdinfo", "--list", "nbd+unix://?socket=" + sock).ok().out())
                .contains("qemu:dirty-bitmap:b");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e2','node-name':'disk','name':'other',"
                + "'bitmaps':['b']}")).isEqualTo("Bitmap 'b' is currently in use by another operation and cannot be used");
    }
}
