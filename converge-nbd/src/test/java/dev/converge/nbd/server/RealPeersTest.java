package dev.converge.nbd.server;

import dev.converge.nbd.testing.Peers;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our server against qemu-img, qemu-io, nbdinfo and nbdcopy; every data move is compared byte for byte. */
@Tag("integration")
class RealPeersTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path dir;
    private NbdServer server;
    private MemoryBackend disk;
    private MemoryBackend ro;
    private String url;

    @BeforeEach
    void start() throws Exception {
        disk = new MemoryBackend(SIZE).fill(0, 64 << 10, (byte) 0x11).fill(1 << 20, 128 << 10, (byte) 0x22);
        ro = new MemoryBackend(SIZE).fill(4096, 4096, (byte) 0x33);
        server = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0));
        server.addExport(new NbdExport("disk", "the test disk", true, disk, List.of(MemoryBackend.BITMAP), true));
        server.addExport(NbdExport.readOnly("ro", ro));
        url = "nbd://127.0.0.1:" + server.port() + "/";
    }

    @AfterEach
    void stop() {
        server.close();
        assertThat(server.connectionCount()).isZero();
    }

    private Path randomImage(String name) throws Exception {
        byte[] b = new byte[SIZE];
        new Random(42).nextBytes(b);
        java.util.Arrays.fill(b, 2 << 20, 3 << 20, (byte) 0); // a zero range for sparse paths
        Path p = dir.resolve(name);
        Files.write(p, b);
        return p;
    }

    @Test
    void qemuImgInfoSeesSizeAndFormat() throws Exception {
        String out = Peers.run("qemu-img", "info", "--output=json", url + "disk").ok().out();
        assertThat(out).contains("\"virtual-size\": " + SIZE).contains("\"format\": \"raw\"");
    }

    @Test
    void qemuImgConvertFromExport() throws Exception {
        Path out = dir.resolve("out.raw");
        Peers.run("qemu-img", "convert", "-f", "raw", "-O", "raw", url + "disk", out.toString()).ok();
        assertThat(Files.readAllBytes(out)).isEqualTo(disk.snapshot());
    }

    @Test
    void qemuImgConvertToExportAndCompare() throws Exception {
        Path src = randomImage("src.raw");
        Peers.run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src.toString(), url + "disk").ok();
        assertThat(disk.snapshot()).isEqualTo(Files.readAllBytes(src));
        Peers.run("qemu-img", "compare", "-f", "raw", "-F", "raw", url + "disk", src.toString()).ok();
    }

    @Test
    void qemuImgCompareNoticesADifference() throws Exception {
        Path other = randomImage("other.raw");
        assertThat(Peers.run("qemu-img", "compare", "-f", "raw", "-F", "raw", url + "disk", other.toString()).exit())
                .isEqualTo(1);
    }

    @Test
    void qemuIoWritesAndReadsPatterns() throws Exception {
        Peers.run("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 64k", "-c", "write -P 0xcd 1M 4k",
                "-c", "write -z 2M 64k", url + "disk").ok();
        byte[] img = disk.snapshot();
        for (int i = 0; i < 64 << 10; i++) {
            assertThat(img[i]).isEqualTo((byte) 0xab);
        }
        assertThat(img[1 << 20]).isEqualTo((byte) 0xcd);
        assertThat(img[(1 << 20) + 4096]).isEqualTo((byte) 0x22);
        String read = Peers.run("qemu-io", "-f", "raw", "-c", "read -P 0xab 0 64k", "-c", "read -P 0xcd 1M 4k",
                "-c", "read -P 0 2M 64k", url + "disk").ok().out();
        assertThat(read).doesNotContain("Pattern verification failed");
    }

    @Test
    void qemuIoCannotWriteReadOnlyExport() throws Exception {
        // qemu-io opens read-write and the client refuses a READ_ONLY export, as with qemu-nbd -r
        Peers.Result r = Peers.run("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 4k", url + "ro");
        assertThat(r.exit()).isNotZero();
        assertThat(r.out() + r.err()).contains("Permission denied");
        assertThat(ro.snapshot()[0]).isZero();
        String read = Peers.run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x33 4k 4k", url + "ro").ok().out();
        assertThat(read).doesNotContain("Pattern verification failed");
    }

    @Test
    void nbdinfoListsExports() throws Exception {
        String out = Peers.run("nbdinfo", "--list", url).ok().out();
        assertThat(out).contains("export=\"disk\"").contains("export=\"ro\"").contains("the test disk")
                .contains("base:allocation").contains("qemu:dirty-bitmap:" + MemoryBackend.BITMAP);
    }

    @Test
    void nbdinfoMapShowsAllocation() throws Exception {
        String out = Peers.run("nbdinfo", "--map", url + "disk").ok().out();
        // 0..64k data, then hole to 1M, data 1M..1M+128k, hole to the end
        assertThat(out.lines().map(String::trim).toList()).containsExactly(
                "0       65536    0  data",
                "65536      983040    3  hole,zero",
                "1048576      131072    0  data",
                "1179648     3014656    3  hole,zero");
    }

    @Test
    void nbdinfoMapShowsDirtyBitmap() throws Exception {
        Peers.run("qemu-io", "-f", "raw", "-c", "write -P 1 8k 4k", url + "disk").ok();
        String out = Peers.run("nbdinfo", "--map=qemu:dirty-bitmap:" + MemoryBackend.BITMAP, url + "disk").ok().out();
        assertThat(out.lines().map(String::trim).toList()).containsExactly(
                "0        8192    0  clean",
                "8192        4096    1  dirty",
                "12288     4182016    0  clean");
    }

    @Test
    void nbdcopyBothWays() throws Exception {
        Path out = dir.resolve("copy.raw");
        Peers.run("nbdcopy", url + "disk", out.toString()).ok();
        assertThat(Files.readAllBytes(out)).isEqualTo(disk.snapshot());
        Path src = randomImage("src.raw");
        Peers.run("nbdcopy", src.toString(), url + "disk").ok();
        assertThat(disk.snapshot()).isEqualTo(Files.readAllBytes(src));
    }

    @Test
    void unixSocketWithFileBackend() throws Exception {
        Path image = randomImage("served.raw");
        Path sock = dir.resolve("nbd.sock");
        try (FileBackend file = new FileBackend(image);
             NbdServer unix = NbdServer.start(NbdServerConfig.unix(sock))) {
            unix.addExport(NbdExport.writable("f", file));
            String u = "nbd+unix:///f?socket=" + sock;
            Path out = dir.resolve("out.raw");
            Peers.run("qemu-img", "convert", "-f", "raw", "-O", "raw", u, out.toString()).ok();
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(image));
            Peers.run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 4k 8k", "-c", "flush", u).ok();
            byte[] after = Files.readAllBytes(image);
            assertThat(after[4096]).isEqualTo((byte) 0x5a);
            assertThat(after[4096 + 8191]).isEqualTo((byte) 0x5a);
            Peers.run("nbdcopy", u, dir.resolve("out2.raw").toString()).ok();
            assertThat(Files.readAllBytes(dir.resolve("out2.raw"))).isEqualTo(after);
        }
        assertThat(sock).doesNotExist();
    }
}
