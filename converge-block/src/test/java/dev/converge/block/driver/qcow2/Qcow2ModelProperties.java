package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.ReqFlag;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Random write sequences (writes, zeroes with and without unmap, discards) on qcow2 images of
 * every layout, compared with a raw model: converge reads back the model after every step, and
 * at the end qemu-img check finds no errors or leaks and qemu-img reads the model too.
 */
class Qcow2ModelProperties {
    private static final int SIZE = 2 << 20;

    /** One request: kind 0 write, 1 write-zeroes, 2 write-zeroes with unmap, 3 discard. */
    record Op(int kind, int offset, int length, byte fill) {
    }

    @BeforeContainer
    static void peers() {
        QemuTools.assumeInstalled();
    }

    @Provide
    Arbitrary<String> layouts() {
        return Arbitraries.of("compat=0.10,cluster_size=4096", "compat=1.1,cluster_size=512",
                "compat=1.1,cluster_size=4096,refcount_bits=8", "compat=1.1", "compat=1.1,extended_l2=on",
                "compat=1.1,extended_l2=on,cluster_size=16k,refcount_bits=2");
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(0, SIZE - 1), Arbitraries.integers().between(1, 300_000),
                Arbitraries.bytes()).as((k, off, len, fill) -> new Op(k, off, Math.min(len, SIZE - off), fill));
        return op.list().ofMinSize(1).ofMaxSize(25);
    }

    @Property(tries = 30)
    void matchesARawModel(@ForAll("layouts") String layout, @ForAll("ops") List<Op> ops) throws Exception {
        Path dir = Files.createTempDirectory("qcow2-prop");
        try {
            Path img = dir.resolve("p.qcow2");
            QemuTools.create(img, layout, SIZE);
            byte[] model = new byte[SIZE];
            try (Qcow2Fixture f = new Qcow2Fixture(); Arena a = Arena.ofConfined()) {
                Qcow2Node n = (Qcow2Node) f.add("{'driver':'qcow2','node-name':'p','discard':'unmap',"
                        + "'file':{'driver':'file','filename':'" + img + "'}}");
                for (Op op : ops) {
                    switch (op.kind()) {
                        case 0 -> {
                            byte[] w = new byte[op.length()];
                            for (int i = 0; i < w.length; i++) {
                                w[i] = (byte) (op.fill() + i / 512);
                            }
                            n.write(op.offset(), a.allocate(w.length).copyFrom(MemorySegment.ofArray(w)));
                            System.arraycopy(w, 0, model, op.offset(), w.length);
                        }
                        case 1, 2 -> {
                            n.writeZeroes(op.offset(), op.length(),
                                    op.kind() == 2 ? Set.of(ReqFlag.MAY_UNMAP) : Set.of());
                            Arrays.fill(model, op.offset(), op.offset() + op.length(), (byte) 0);
                        }
                        default -> {
                            n.discard(op.offset(), op.length()); // undefined contents: zero them after
                            n.writeZeroes(op.offset(), op.length(), Set.of());
                            Arrays.fill(model, op.offset(), op.offset() + op.length(), (byte) 0);
                        }
                    }
                    assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).as("after %s", op).isTrue();
                }
                f.del("p");
            }
            QemuTools.checkClean(img);
            assertThat(Arrays.equals(QemuTools.contents(img, dir), model)).isTrue();
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
