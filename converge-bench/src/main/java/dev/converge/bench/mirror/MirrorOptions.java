package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The benchmark's command line: {@code [--size 4G] [--dir DIR] [--cases full,sparse,cp,writer,fio]
 * [--write-rate 50M] [--runs 3] [--ready-timeout SECONDS]}.
 *
 * @param size         size of each image in bytes (a multiple of 1 MiB)
 * @param dir          where the images go; checked for free space before anything is written
 * @param cases        the cases to run, in the order of {@link MirrorCase}
 * @param writeRate    bytes per second the writer of the writer case writes into the source
 * @param runs         measured runs per (case, side), interleaved between the sides
 * @param readyTimeout how long a mirror may take to become READY before it is reported "not ready"
 */
public record MirrorOptions(long size, Path dir, Set<MirrorCase> cases, long writeRate, int runs, Duration readyTimeout) {
    static final String USAGE = "usage: MirrorBench [--size 4G] [--dir DIR] [--cases full,sparse,cp,writer,fio]"
            + " [--write-rate 50M] [--runs 3] [--ready-timeout SECONDS]";

    /** Canonical checks. */
    public MirrorOptions {
        if (size < Sizes.MiB || size % Sizes.MiB != 0) {
            throw new IllegalArgumentException("--size: " + size + " bytes (expected: a positive multiple of 1 MiB)");
        }
        if (cases.isEmpty()) {
            throw new IllegalArgumentException("--cases: empty (expected: some of full, sparse, cp, writer, fio)");
        }
        if (runs < 1) {
            throw new IllegalArgumentException("--runs: " + runs + " (expected: at least 1)");
        }
        cases = Set.copyOf(EnumSet.copyOf(cases));
    }

    /** The defaults the issue asks for: 4 GiB, all cases, 50 MiB/s, in the system temp dir. */
    public static MirrorOptions defaults() {
        return new MirrorOptions(4 * Sizes.GiB, Path.of(System.getProperty("java.io.tmpdir")), EnumSet.allOf(MirrorCase.class),
                50 * Sizes.MiB, 3, Duration.ofSeconds(120));
    }

    /**
     * Parses {@code args}.
     *
     * @throws IllegalArgumentException naming the bad option or value
     */
    public static MirrorOptions parse(String... args) {
        MirrorOptions d = defaults();
        long size = d.size;
        Path dir = d.dir;
        Set<MirrorCase> cases = d.cases;
        long writeRate = d.writeRate;
        int runs = d.runs;
        Duration readyTimeout = d.readyTimeout;
        for (int i = 0; i < args.length; i++) {
            String opt = args[i];
            if (opt.equals("--help") || opt.equals("-h")) {
                throw new IllegalArgumentException(USAGE);
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(opt + ": missing value (" + USAGE + ")");
            }
            String v = args[++i];
            switch (opt) {
                case "--size" -> size = Sizes.parse("--size", v);
                case "--dir" -> dir = Path.of(v);
                case "--cases" -> {
                    cases = EnumSet.noneOf(MirrorCase.class);
                    for (String c : list("--cases", v)) {
                        cases.add(MirrorCase.parse(c));
                    }
                }
                case "--write-rate" -> writeRate = Sizes.parse("--write-rate", v);
                case "--runs" -> runs = (int) positive("--runs", v);
                case "--ready-timeout" -> readyTimeout = Duration.ofSeconds(positive("--ready-timeout", v));
                default -> throw new IllegalArgumentException("unknown option '" + opt + "' (" + USAGE + ")");
            }
        }
        return new MirrorOptions(size, dir, cases, writeRate, runs, readyTimeout);
    }

    private static List<String> list(String opt, String v) {
        List<String> out = new ArrayList<>();
        for (String s : v.split(",", -1)) {
            if (s.isBlank()) {
                throw new IllegalArgumentException(opt + ": empty item in '" + v + "'");
            }
            out.add(s.strip());
        }
        return out;
    }

    private static long positive(String opt, String v) {
        try {
            long n = Long.parseLong(v);
            if (n > 0 && n <= Integer.MAX_VALUE) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(opt + ": '" + v + "' (expected: a positive integer)");
    }
}
