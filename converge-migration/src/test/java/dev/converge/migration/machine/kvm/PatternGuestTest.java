package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The committed pattern guest binary: a boot sector, and what its committed source assembles to. */
class PatternGuestTest {
    @TempDir
    Path dir;

    @Test
    void isABootSectorQemuAcceptsAsIs() {
        byte[] image = KvmGuest.pattern().image();
        assertThat(image).hasSize(512);
        assertThat(image[510]).isEqualTo((byte) 0x55);
        assertThat(image[511]).isEqualTo((byte) 0xaa);
        assertThat(image[0]).as("starts with cli").isEqualTo((byte) 0xfa);
    }

    @Test
    void theSourceAssemblesToTheCommittedBytes() throws Exception {
        assumeTrue(onPath("as") && onPath("ld") && onPath("objcopy"), "skipped: GNU as, ld and objcopy (binutils) are not installed");
        Path src = dir.resolve("pattern-guest.S");
        try (InputStream in = KvmGuest.class.getResourceAsStream("pattern-guest.S")) {
            assertThat(in).as("the source ships next to the binary").isNotNull();
            Files.write(src, in.readAllBytes());
        }
        run("as", "--32", "-o", dir.resolve("g.o").toString(), src.toString());
        run("ld", "-m", "elf_i386", "-Ttext=0x7c00", "-e", "start", "-o", dir.resolve("g.elf").toString(), dir.resolve("g.o").toString());
        run("objcopy", "-O", "binary", "-j", ".text", dir.resolve("g.elf").toString(), dir.resolve("g.bin").toString());
        assertThat(Files.readAllBytes(dir.resolve("g.bin"))).isEqualTo(KvmGuest.pattern().image());
        String symbols = new String(new ProcessBuilder("nm", dir.resolve("g.elf").toString()).start().getInputStream().readAllBytes());
        assertThat(symbols).as("PatternCheck's addresses").contains("00007cbe t ram_end", "00007cc2 t passes");
    }

    private void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", command) + ": " + out).isZero();
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }
}
