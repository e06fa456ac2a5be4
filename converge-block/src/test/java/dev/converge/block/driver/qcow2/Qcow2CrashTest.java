package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import dev.converge.block.driver.FileNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a process writing a qcow2 image (allocating writes, zeroes, discards, refcount
 * table growth; from several threads, so allocating writes are in flight outside the metadata
 * lock when it dies), then qemu-img check: leaked clusters at most, never corruption.
 */
class Qcow2CrashTest {
    @TempDir
    Path dir;

    @Test
    void killDuringWritesLeavesAtMostLeaks() throws Exception {
        QemuTools.assumeInstalled();
        // small clusters with wide refcounts make the refcount table grow while we write
        for (String layout : List.of("compat=1.1,cluster_size=4096,refcount_bits=64", "compat=1.1,extended_l2=on")) {
            Path img = dir.resolve("crash.qcow2");
            QemuTools.create(img, layout, 256L << 20);
            String java = ProcessHandle.current().info().command().orElse("java");
            Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                    System.getProperty("java.class.path"), Writer.class.getName(), img.toString())
                    .redirectErrorStream(true).start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                int rounds = 0;
                String line;
                while (rounds < 12 && (line = r.readLine()) != null) {
                    assertThat(line).as("writer output").startsWith("round");
                    rounds++;
                }
                assertThat(rounds).as("writer rounds before the kill").isEqualTo(12);
                p.destroyForcibly(); // SIGKILL: no close, no flush
                p.waitFor();
            }
            QemuTools.Result check = QemuTools.run(QemuTools.QEMU_IMG.toString(), "check", img.toString());
            // 0: clean, 3: leaked clusters only; 2 would be corruption
            assertThat(check.status()).as("%s: %s", layout, check.output()).isIn(0, 3);
            assertThat(check.output()).doesNotContain("ERROR").doesNotContain("corrupt");
            QemuTools.ok(QemuTools.QEMU_IMG.toString(), "check", "-q", "-r", "leaks", img.toString());
            QemuTools.checkClean(img);
        }
    }

    /** The process that is killed: writes without end from several threads, reporting each round of the first. */
    public static final class Writer {
        private static final int THREADS = 3;

        public static void main(String[] args) throws Exception {
            FileNode file = FileNode.open("f", NodeOptions.DEFAULTS.withDiscardUnmap(true), args[0]);
            Qcow2Node.Probe probe = Qcow2Node.probe(file, false);
            Qcow2Node n = Qcow2Node.open("q", NodeOptions.DEFAULTS.withDiscardUnmap(true), file, null, probe, 0, 0);
            for (int t = 1; t < THREADS; t++) {
                int seed = 42 + t;
                Thread.ofPlatform().daemon(true).start(() -> {
                    try {
                        write(n, seed, false);
                    } catch (Exception e) {
                        System.out.println("writer " + seed + " failed: " + e);
                    }
                });
            }
            write(n, 42, true);
        }

        private static void write(Qcow2Node n, int seed, boolean report) throws Exception {
            Random rnd = new Random(seed);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(1 << 20);
                for (int round = 0;; round++) {
                    for (int i = 0; i < 20; i++) {
                        int len = 1 + rnd.nextInt(256 << 10);
                        long off = rnd.nextLong(n.size() - len);
                        buf.fill((byte) round);
                        switch (rnd.nextInt(5)) {
                            case 0 -> n.writeZeroes(off, len, Set.of(ReqFlag.MAY_UNMAP));
                            case 1 -> n.discard(off, len);
                            default -> n.write(off, buf.asSlice(0, len));
                        }
                    }
                    if (round % 7 == 0) {
                        n.flush();
                    }
                    if (report) {
                        System.out.println("round " + round);
                    }
                }
            }
        }
    }
}
