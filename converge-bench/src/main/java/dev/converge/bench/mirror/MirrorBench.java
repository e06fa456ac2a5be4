package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Mirror benchmark, file to file, converged against qemu-storage-daemon in the same run on the same
 * files with the same QMP sequence ({@link MirrorRun}), plus {@code cp --sparse=always} as a
 * baseline:
 * <ul>
 * <li>{@code full}: a fully allocated random image; {@code sparse}: 10% allocated in 1 MiB extents;
 * time to READY, MB/s of allocated data;</li>
 * <li>{@code cp}: both images copied by {@code cp --sparse=always};</li>
 * <li>{@code writer}: the full image mirrored while a writer writes 64 KiB random blocks at a fixed
 * rate into the source node through an NBD export of it, in both copy modes;</li>
 * <li>{@code fio}: the full image mirrored 1 s into an {@code fio --ioengine=nbd} writer (64 KiB random
 * writes, iodepth 1, paced at the write rate) on the source's export, in both copy modes; reports the
 * guest's longest write, p99 and worst 250 ms window from blockdev-mirror to BLOCK_JOB_COMPLETED.</li>
 * </ul>
 * Every run ends with the target compared byte for byte with the source. The page cache is warm
 * for both sides (the sources were just written; each side first runs once uncounted, and once under fio
 * before the fio case, as a daemon that has served its guest for a while); measured
 * runs alternate which side goes first.
 * Usage: {@code ./bin/bench mirror [--size 4G] [--dir DIR] [--cases full,sparse,cp,writer,fio]
 * [--write-rate 50M] [--runs 3] [--ready-timeout SECONDS]}. For diagnosis,
 * {@code JAVA_TOOL_OPTIONS=-Dconverge.bench.keep-fio-logs=DIR} keeps each fio run's latency logs
 * and the mirror's start, READY and end times under DIR, to line the writes up with a trace.
 */
public final class MirrorBench {
    /** Fraction of the sparse image that holds data. */
    static final double SPARSE_FRACTION = 0.10;
    /** Head room on top of the files, for the file system's own needs. */
    private static final long MARGIN = 256 * Sizes.MiB;

    private final MirrorOptions options;
    private final Path work;
    private final PrintStream progress;
    private final Map<Side, DaemonSlot> slots = new EnumMap<>(Side.class);
    /** Sides that cannot run at all (peer not installed), with the reason. */
    private final Map<Side, String> absent = new EnumMap<>(Side.class);
    /**
     * Sides whose warm-up run is done, per kind of run: a plain mirror, and a mirror under the fio
     * writer, whose guest path through the NBD export a plain warm-up leaves cold (the first fio run
     * of a fresh daemon spent about a CPU-second per second in the JIT's C2 compiler).
     */
    private final Set<WarmUp> warm = new HashSet<>();

    /** A warm-up that is done: the side, and whether it ran under fio. */
    private record WarmUp(Side side, boolean underFio) {
    }
    /** Seed of the next run's writer; benchmark thread only. */
    private long seed = 1;

    private MirrorBench(MirrorOptions options, Path work, PrintStream progress) {
        this.options = options;
        this.work = work;
        this.progress = progress;
    }

    public static void main(String[] args) throws Exception {
        MirrorOptions options;
        try {
            options = MirrorOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        try {
            System.out.print(run(options, System.err));
        } catch (IOException e) {
            System.err.println("mirror benchmark: " + e.getMessage());
            System.exit(1);
        }
    }

    /**
     * Runs the cases of {@code options} and returns the report. Files go to a fresh directory under
     * {@code options.dir()}, removed at the end.
     *
     * @param progress where to say what is running
     * @throws IOException not enough space, or the images cannot be written
     */
    public static String run(MirrorOptions options, PrintStream progress) throws IOException, InterruptedException {
        Images.requireFreeSpace(options.dir(), spaceNeeded(options), "source images and one target at a time, plus "
                + Sizes.human(MARGIN) + " margin");
        Path work = Files.createTempDirectory(options.dir(), "converge-mirror-bench-");
        MirrorBench bench = new MirrorBench(options, work, progress);
        try {
            return bench.runCases();
        } finally {
            bench.closeSlots();
            deleteTree(work);
        }
    }

    /** Bytes the chosen cases need on disk at once: the sources plus one target. */
    static long spaceNeeded(MirrorOptions o) {
        boolean full = o.cases().contains(MirrorCase.FULL) || o.cases().contains(MirrorCase.CP)
                || o.cases().contains(MirrorCase.WRITER) || o.cases().contains(MirrorCase.FIO);
        boolean sparse = o.cases().contains(MirrorCase.SPARSE) || o.cases().contains(MirrorCase.CP);
        long sources = (full ? o.size() : 0) + (sparse ? sparseAllocated(o.size()) : 0);
        long target = full ? o.size() : sparseAllocated(o.size());
        return sources + target + MARGIN;
    }

    private static long sparseAllocated(long size) {
        return Math.max(1, Math.round(SPARSE_FRACTION * (size / Images.EXTENT))) * Images.EXTENT;
    }

    private String runCases() throws IOException, InterruptedException {
        if (!Daemons.onPath("qemu-storage-daemon")) {
            absent.put(Side.QSD, "qemu-storage-daemon not installed (apt-get install qemu-system-common)");
        }
        for (Side s : Side.values()) {
            slots.put(s, new DaemonSlot(s, work));
        }
        Images.Image full = null;
        Images.Image sparse = null;
        StringBuilder header = new StringBuilder();
        header.append(String.format(Locale.ROOT, "mirror benchmark: image size %s, %d measured run(s) per side, dir %s (%s)%n",
                Sizes.human(options.size()), options.runs(), options.dir(), Files.getFileStore(options.dir()).type()));
        boolean needFull = options.cases().contains(MirrorCase.FULL) || options.cases().contains(MirrorCase.CP)
                || options.cases().contains(MirrorCase.WRITER) || options.cases().contains(MirrorCase.FIO);
        boolean needSparse = options.cases().contains(MirrorCase.SPARSE) || options.cases().contains(MirrorCase.CP);
        if (needFull) {
            full = prepare("full", () -> Images.full(work.resolve("full.img"), options.size(), 42));
            header.append(imageLine("full", full));
        }
        if (needSparse) {
            sparse = prepare("sparse", () -> Images.sparse(work.resolve("sparse.img"), options.size(), SPARSE_FRACTION, 43));
            header.append(imageLine("sparse", sparse));
        }
        header.append("page cache: warm for both sides (sources just written and read from cache; no cache drop without"
                + " root); each daemon first runs one uncounted warm-up mirror (and one under fio before the fio case); measured runs alternate which side goes first;"
                + " targets are fresh sparse files, deleted after each run; sync(1) before every run, so no run pays for"
                + " the writeback of the run before\n");
        absent.forEach((s, why) -> header.append(s.label()).append(": ").append(why).append('\n'));

        Map<String, MirrorReport.Row> rows = new LinkedHashMap<>();
        if (options.cases().contains(MirrorCase.FULL)) {
            rows.put("full", mirrorRow("full", full, CopyMode.BACKGROUND, 0));
        }
        if (options.cases().contains(MirrorCase.SPARSE)) {
            rows.put("sparse", mirrorRow("sparse", sparse, CopyMode.BACKGROUND, 0));
        }
        if (options.cases().contains(MirrorCase.CP)) {
            for (Images.Image img : List.of(full, sparse)) {
                String name = img == full ? "full" : "sparse";
                List<RunOutcome> cp = new ArrayList<>();
                for (int r = 0; r < options.runs(); r++) {
                    progress.printf("cp %s run %d...%n", name, r + 1);
                    DirtyPages.settle();
                    cp.add(CpBaseline.run(img, work.resolve("target.img"), options.readyTimeout()));
                }
                MirrorReport.Row old = rows.get(name);
                Map<String, List<RunOutcome>> sides = new LinkedHashMap<>(old == null ? Map.of() : old.bySide());
                sides.put(MirrorReport.CP, cp);
                rows.put(name, new MirrorReport.Row(name, CopyMode.BACKGROUND, img.allocated(), sides));
            }
        }
        List<MirrorReport.Row> out = new ArrayList<>(rows.values());
        if (options.cases().contains(MirrorCase.WRITER)) {
            header.append(String.format(Locale.ROOT, "writer: 64 KiB random blocks at random offsets into the source node"
                    + " through an NBD export (UNIX socket), paced at %s/s; stopped after READY%n", Sizes.human(options.writeRate())));
            for (CopyMode mode : CopyMode.values()) {
                out.add(mirrorRow("writer", full, mode, options.writeRate()));
            }
        }
        if (options.cases().contains(MirrorCase.FIO)) {
            header.append(String.format(Locale.ROOT, "fio: fio --ioengine=nbd --rw=randwrite --bs=64k --iodepth=1 --rate=%s/s"
                    + " into the source's NBD export (UNIX socket), blockdev-mirror 1 s after it started, soft cancel at READY;"
                    + " writer figures over the writes in flight from blockdev-mirror to BLOCK_JOB_COMPLETED;"
                    + " '" + MirrorReport.CP_BESIDE_FIO + "': the same fio through converged's export with no mirror while"
                    + " cp --sparse=always copies the source file beside the daemon (the machine's floor for any copy)%n",
                    Sizes.human(options.writeRate())));
            for (CopyMode mode : CopyMode.values()) {
                out.add(mirrorRow("fio", full, mode, options.writeRate()));
            }
        }
        return MirrorReport.format(header.toString(), out);
    }

    private MirrorReport.Row mirrorRow(String name, Images.Image image, CopyMode mode, long writeRate)
            throws IOException, InterruptedException {
        Map<Side, List<RunOutcome>> runs = new EnumMap<>(Side.class);
        List<RunOutcome> floor = new ArrayList<>();
        for (Side s : Side.values()) {
            runs.put(s, new ArrayList<>());
            if (absent.containsKey(s)) {
                runs.get(s).add(new RunOutcome.Unavailable(absent.get(s)));
            }
        }
        for (Side s : Side.values()) {
            boolean fio = name.equals("fio") && FioWriter.available();
            if (!absent.containsKey(s) && warm.add(new WarmUp(s, fio))) {
                progress.printf("%s: warm-up run%s (not counted)...%n", s.label(), fio ? " under fio" : "");
                RunOutcome o = runOnce(s, image, mode, fio ? writeRate : 0, fio);
                progress.printf("  %s%n", o.summary());
            }
        }
        for (int r = 0; r < options.runs(); r++) {
            Side[] order = r % 2 == 0 ? new Side[] {Side.CONVERGED, Side.QSD} : new Side[] {Side.QSD, Side.CONVERGED};
            for (Side s : order) {
                List<RunOutcome> mine = runs.get(s);
                if (absent.containsKey(s) || (!mine.isEmpty() && mine.getLast() instanceof RunOutcome.Unavailable)) {
                    continue; // an unavailable side says so once per row, it is not retried
                }
                progress.printf("%s %s %s run %d...%n", name, mode.wireName(), s.label(), r + 1);
                RunOutcome o = name.equals("fio") && !FioWriter.available()
                        ? new RunOutcome.Unavailable("fio not installed (apt-get install fio)")
                        : runOnce(s, image, mode, writeRate, name.equals("fio"));
                progress.printf("  %s%n", o.summary());
                mine.add(o);
            }
            if (name.equals("fio") && FioWriter.available() && !absent.containsKey(Side.CONVERGED)) {
                progress.printf("fio with cp beside converged (no mirror) run %d...%n", r + 1);
                RunOutcome o = runOnce(Side.CONVERGED, image, mode, writeRate, true, true);
                progress.printf("  %s%n", o.summary());
                floor.add(o);
            }
        }
        Map<String, List<RunOutcome>> bySide = new LinkedHashMap<>();
        runs.forEach((s, l) -> bySide.put(s.label(), l));
        if (!floor.isEmpty()) {
            bySide.put(MirrorReport.CP_BESIDE_FIO, floor);
        }
        return new MirrorReport.Row(name, mode, image.allocated(), bySide);
    }

    private RunOutcome runOnce(Side side, Images.Image image, CopyMode mode, long writeRate, boolean fio)
            throws IOException, InterruptedException {
        return runOnce(side, image, mode, writeRate, fio, false);
    }

    private RunOutcome runOnce(Side side, Images.Image image, CopyMode mode, long writeRate, boolean fio, boolean cpBeside)
            throws IOException, InterruptedException {
        DaemonSlot slot = slots.get(side);
        MirrorRun runner;
        try {
            runner = slot.runner();
        } catch (IOException e) {
            slot.discard();
            return new RunOutcome.Failed(side.label() + " did not start: " + e.getMessage());
        }
        DirtyPages.settle();
        RunOutcome o = runner.run(new MirrorRun.Spec(image, work.resolve("target.img"), mode, writeRate, slot.nbdSocket(),
                options.readyTimeout(), seed++, fio, cpBeside));
        if (o instanceof RunOutcome.Failed || o instanceof RunOutcome.NotReady) {
            slot.discard(); // it may have left nodes or an export behind: the next run gets a fresh daemon
        }
        return o;
    }

    private Images.Image prepare(String name, ImageWriter w) throws IOException {
        progress.printf("writing %s image (%s)...%n", name, Sizes.human(options.size()));
        long t0 = System.nanoTime();
        Images.Image img = w.write();
        progress.printf("  %.1f s%n", (System.nanoTime() - t0) / 1e9);
        return img;
    }

    private static String imageLine(String name, Images.Image img) throws IOException {
        long measured = Allocation.allocatedBytes(img.path(), img.size());
        return String.format(Locale.ROOT, "%s image: %s, %s of data written, %s allocated by SEEK_DATA (%.1f%%)%n", name,
                Sizes.human(img.size()), Sizes.human(img.allocated()), Sizes.human(measured), 100.0 * measured / img.size());
    }

    private void closeSlots() {
        for (DaemonSlot s : slots.values()) {
            try {
                s.close();
            } catch (IOException e) {
                progress.println("stopping " + s.side().label() + ": " + e.getMessage());
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    @FunctionalInterface
    private interface ImageWriter {
        Images.Image write() throws IOException;
    }
}
