package dev.converge.bench.mirror;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The cases of the benchmark, as {@code --cases} names them. */
public enum MirrorCase {
    /** Mirror of a fully allocated random image, file to file. */
    FULL("full"),
    /** Mirror of an image with 10% allocated in scattered 1 MiB extents. */
    SPARSE("sparse"),
    /** {@code cp --sparse=always} of both images: the baseline without a daemon. */
    CP("cp"),
    /** Mirror of the full image while a writer writes into the source at a fixed rate, in both copy modes. */
    WRITER("writer"),
    /**
     * Mirror of the full image started 1 s into an fio writer through the source's NBD export, in
     * both copy modes: the guest's longest write, p99 and worst 250 ms window (issue 13).
     */
    FIO("fio");

    private final String wireName;

    MirrorCase(String wireName) {
        this.wireName = wireName;
    }

    /** The name on the command line and in the report. */
    public String wireName() {
        return wireName;
    }

    /**
     * The case named {@code name}.
     *
     * @throws IllegalArgumentException naming the bad name and the accepted ones
     */
    public static MirrorCase parse(String name) {
        for (MirrorCase c : values()) {
            if (c.wireName.equals(name.strip().toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        throw new IllegalArgumentException("--cases: '" + name + "' (expected: "
                + Arrays.stream(values()).map(MirrorCase::wireName).collect(Collectors.joining(", ")) + ")");
    }
}
