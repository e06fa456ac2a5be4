package dev.converge.bench.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestImageTest {
    @Test
    void isOneBootSectorWithSignatureAndIdleByDefault() {
        byte[] image = GuestImage.assembled();
        assertThat(image).hasSize(512);
        assertThat(HexFormat.of().formatHex(image, 510, 512)).isEqualTo("55aa");
        assertThat(GuestImage.ramEnd(image)).isZero();
        // The code starts with cli; the first instruction a BIOS runs must not take interrupts.
        assertThat(image[0]).isEqualTo((byte) 0xfa);
    }

    @Test
    void patternPatchesRamEndLittleEndianAndNothingElse() {
        byte[] idle = GuestImage.forWorkload(Workload.IDLE, 2L << 30);
        byte[] pattern = GuestImage.forWorkload(Workload.PATTERN, 2L << 30);
        assertThat(idle).isEqualTo(GuestImage.assembled());
        assertThat(HexFormat.of().formatHex(pattern, GuestImage.RAM_END_OFFSET, GuestImage.RAM_END_OFFSET + 4))
                .isEqualTo("00000080");
        assertThat(GuestImage.ramEnd(pattern)).isEqualTo(2L << 30);
        for (int i = 0; i < GuestImage.SIZE; i++) {
            if (i < GuestImage.RAM_END_OFFSET || i >= GuestImage.RAM_END_OFFSET + 4) {
                assertThat(pattern[i]).as("byte %d", i).isEqualTo(idle[i]);
            }
        }
        assertThat(GuestImage.ramEnd(GuestImage.forWorkload(Workload.PATTERN, GuestImage.MAX_RAM_END)))
                .isEqualTo(0xE000_0000L);
    }

    @Test
    void patternRejectsSizesTheGuestCannotWalk() {
        for (long bad : new long[] {0, 1L << 20, (2L << 30) + 1, GuestImage.MAX_RAM_END + 4096, 4L << 30}) {
            assertThatThrownBy(() -> GuestImage.forWorkload(Workload.PATTERN, bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("memory: " + bad);
        }
    }

    /** The committed bytes are what guest-boot.S assembles to (skipped where binutils are absent). */
    @Tag("integration")
    @Test
    void bytesMatchTheAssemblySource(@TempDir Path dir) throws Exception {
        assumeTrue(Daemons.onPath("as") && Daemons.onPath("ld") && Daemons.onPath("objcopy"),
                "binutils (as, ld, objcopy) not installed: cannot assemble guest-boot.S");
        Path source = dir.resolve("guest-boot.S");
        try (InputStream in = GuestImage.class.getResourceAsStream("guest-boot.S")) {
            assertThat(in).as("guest-boot.S on the class path").isNotNull();
            Files.copy(in, source);
        }
        run(dir, "as", "--32", "-o", "boot.o", "guest-boot.S");
        run(dir, "ld", "-m", "elf_i386", "-Ttext=0x7c00", "-e", "_start", "-o", "boot.elf", "boot.o");
        run(dir, "objcopy", "-O", "binary", "-j", ".text", "boot.elf", "boot.bin");
        assertThat(Files.readAllBytes(dir.resolve("boot.bin"))).isEqualTo(GuestImage.assembled());
    }

    private static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).as("%s finished", cmd[0]).isTrue();
        assertThat(p.exitValue()).as("%s: %s", String.join(" ", cmd), out).isZero();
    }
}
