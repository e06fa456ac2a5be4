package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RamBlock;
import java.lang.foreign.ValueLayout;

/**
 * Checks a stopped pattern guest's RAM: its pass counter and its RAM size (at the addresses
 * pattern-guest.S puts them) and the rule that every page from 1 MiB on holds the pass count
 * (mod 256) in its first byte, or one more for the pages the pass in flight has done (a prefix).
 */
public final class PatternCheck {
    /** Address of {@code ram_end} in pattern-guest.S (see the symbol table of its build). */
    static final long RAM_END_AT = 0x7cbe;
    /** Address of {@code passes}. */
    static final long PASSES_AT = 0x7cc2;
    static final long FIRST_PAGE = 1 << 20;

    private PatternCheck() {
    }

    static RamBlock ram(Machine m) {
        return m.ram().block(Machine.RAM_BLOCK).orElseThrow();
    }

    public static int passes(Machine m) {
        return ram(m).page(PASSES_AT >>> RamBlock.PAGE_SHIFT).get(ValueLayout.JAVA_INT_UNALIGNED, PASSES_AT & (RamBlock.PAGE_SIZE - 1));
    }

    public static long ramEnd(Machine m) {
        return Integer.toUnsignedLong(ram(m).page(RAM_END_AT >>> RamBlock.PAGE_SHIFT)
                .get(ValueLayout.JAVA_INT_UNALIGNED, RAM_END_AT & (RamBlock.PAGE_SIZE - 1)));
    }

    public static void assertConsistent(Machine m) {
        RamBlock ram = ram(m);
        byte done = (byte) passes(m);
        byte ahead = (byte) (done + 1);
        boolean inPrefix = true;
        for (long off = FIRST_PAGE; off < ram.size(); off += RamBlock.PAGE_SIZE) {
            byte b = ram.read(off);
            if (inPrefix && b == ahead && done != ahead) {
                continue;
            }
            inPrefix = false;
            assertThat(b).as("first byte of the page at 0x%x (passes %d)", off, passes(m)).isEqualTo(done);
        }
    }
}
