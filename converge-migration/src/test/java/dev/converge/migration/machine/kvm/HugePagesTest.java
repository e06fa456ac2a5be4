package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Guest RAM asks for huge pages at once on a booting machine and only after the incoming state
 * on a destination: the kernel's own record of the advice ({@code hg} in the mapping's
 * {@code VmFlags} in /proc/self/smaps) shows which.
 */
class HugePagesTest {
    private static final Path SMAPS = Path.of("/proc/self/smaps");
    private static final long SIZE = 4L << 20;
    private static final java.util.regex.Pattern MAPPING = java.util.regex.Pattern.compile("([0-9a-f]+)-([0-9a-f]+) ");

    @Test
    void aBootingMachineAsksAtOnce() throws IOException {
        assumeTrue(Files.isReadable(SMAPS), "no /proc/self/smaps here: the kernel's VmFlags cannot be read");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ram = map(arena);
            new HugePages(List.of(ram), false);
            assertThat(vmFlags(ram)).contains("hg");
        }
    }

    @Test
    void aDestinationAsksOnceItsStateIsLoaded() throws IOException, InterruptedException {
        assumeTrue(Files.isReadable(SMAPS), "no /proc/self/smaps here: the kernel's VmFlags cannot be read");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ram = map(arena);
            HugePages pages = new HugePages(List.of(ram), true);
            ram.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 1); // a page arrives: still 4 KiB faults
            assertThat(vmFlags(ram)).doesNotContain("hg");
            pages.incomingLoaded(); // returns at once: the advice is given on a thread of its own
            pages.close(); // waits for it
            assertThat(vmFlags(ram)).contains("hg");
            pages.incomingLoaded(); // once is enough; again changes nothing
            pages.close();
            assertThat(vmFlags(ram)).contains("hg");
        }
    }

    private static MemorySegment map(Arena arena) {
        return LibC.mmap(SIZE, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE,
                -1, 0, arena, "mmap test RAM");
    }

    /** The VmFlags of the mapping that holds {@code m}'s first byte. */
    private static List<String> vmFlags(MemorySegment m) throws IOException {
        boolean inside = false;
        for (String line : Files.readAllLines(SMAPS)) {
            java.util.regex.Matcher mapping = MAPPING.matcher(line);
            if (mapping.lookingAt()) { // a mapping's first line: START-END PERMS ...
                long from = Long.parseUnsignedLong(mapping.group(1), 16);
                long to = Long.parseUnsignedLong(mapping.group(2), 16);
                inside = Long.compareUnsigned(from, m.address()) <= 0 && Long.compareUnsigned(m.address(), to) < 0;
            } else if (inside && line.startsWith("VmFlags:")) {
                return List.of(line.substring("VmFlags:".length()).trim().split("\\s+"));
            }
        }
        throw new AssertionError("no mapping holds 0x" + Long.toHexString(m.address()) + " in " + SMAPS);
    }
}
