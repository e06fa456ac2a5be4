package dev.converge.bench.chain;

import dev.converge.bench.Sizes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Jobs on a qcow2 backing chain, converged against qemu-storage-daemon in the same run on the
 * same images with the same QMP sequence: a base of random data and an overlay with a given
 * share of it rewritten (1 MiB extents at random offsets), made by qemu-img/qemu-io.
 * <ul>
 * <li>{@code mirror-full}: blockdev-mirror sync full of the overlay onto an empty qcow2 image;
 *     time to BLOCK_JOB_READY;</li>
 * <li>{@code mirror-top}: sync top onto an overlay whose backing is the base; time to READY;</li>
 * <li>{@code stream}: block-stream of the whole chain into the overlay; time to
 *     BLOCK_JOB_COMPLETED;</li>
 * <li>{@code commit}: active commit of the overlay into (a copy of) the base: time to READY, then
 *     job-complete; time to COMPLETED.</li>
 * </ul>
 * Every run checks its result with {@code qemu-img compare} (the mirror's target, the streamed
 * overlay, the committed base against the chain as it was) and {@code qemu-img check}.
 * <p>
 * Each side runs one daemon per case for all its runs, and first {@code --warmup} uncounted runs
 * on it (default 1), so converged is measured with a warm JIT as a long-running daemon is; each
 * run adds its own nodes (fresh copies of the images) and deletes them (blockdev-del) before its
 * result is checked. Every run starts after a sync(1), so no run pays for the write-back of the
 * one before.
 * Usage: {@code ./bin/bench chain [--size 1G] [--overlay-percent 10] [--dir DIR] [--runs 1]
 * [--warmup 1] [--cases mirror-full,mirror-top,stream,commit]}.
 */
public final class ChainBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration LONG = Duration.ofMinutes(10);
    private static final long EXTENT = 1 << 20;

    private enum Side { CONVERGED, QSD }

    private final long size;
    private final int percent;
    private final Path work;
    private final int runs;
    private final int warmup;
    private final List<String> cases;
    /** Runs made so far, for unique node names, job ids and directories. */
    private int serial;

    private ChainBench(long size, int percent, Path work, int runs, int warmup, List<String> cases) {
        this.size = size;
        this.percent = percent;
        this.work = work;
        this.runs = runs;
        this.warmup = warmup;
        this.cases = cases;
    }

    public static void main(String[] args) throws Exception {
        long size = 1L << 30;
        int percent = 10;
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        int runs = 1;
        int warmup = 1;
        List<String> cases = List.of("mirror-full", "mirror-top", "stream", "commit");
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--size" -> size = Sizes.parse("--size", args[i + 1]);
                case "--overlay-percent" -> percent = Integer.parseInt(args[i + 1]);
                case "--dir" -> dir = Path.of(args[i + 1]);
                case "--runs" -> runs = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
                case "--cases" -> cases = List.of(args[i + 1].split(","));
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        Path work = Files.createTempDirectory(dir, "converge-chain-bench-");
        try {
            System.out.print(new ChainBench(size, percent, work, runs, warmup, cases).run());
        } finally {
            run(List.of("rm", "-rf", work.toString()));
        }
    }

    private String run() throws Exception {
        if (!Daemons.onPath("qemu-storage-daemon") || !Daemons.onPath("qemu-img")) {
            return "chain benchmark: qemu-storage-daemon and qemu-img are needed (apt-get install qemu-system-common "
                    + "qemu-utils)\n";
        }
        Path base = work.resolve("base.qcow2");
        Path top = work.resolve("top.qcow2");
        makeChain(base, top);
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "chain benchmark: base %d MiB of random data, overlay with %d%% "
                + "rewritten in 1 MiB extents, %d run(s) per side after %d warm-up run(s) on the same daemon, dir %s; "
                + "load average %s%n", size >> 20, percent, runs, warmup, work.getParent(), loadAverage()));
        out.append(String.format(Locale.ROOT, "%-12s %-24s %14s %14s %8s%n", "case", "figure", "converged ms",
                "qsd 7.2 ms", "ratio"));
        for (String c : cases) {
            Map<String, long[]> figures = new LinkedHashMap<>();
            Path cdir = Files.createDirectories(work.resolve(c));
            try (ChildDaemon conv = Daemons.converged(Files.createDirectories(cdir.resolve("converged")));
                    ChildDaemon qsd = Daemons.qemuStorageDaemon(Files.createDirectories(cdir.resolve("qsd")));
                    QmpClient cq = conv.connect(Duration.ofSeconds(60));
                    QmpClient qq = qsd.connect(Duration.ofSeconds(60))) {
                Map<Side, QmpClient> qmp = Map.of(Side.CONVERGED, cq, Side.QSD, qq);
                for (int r = -warmup; r < runs; r++) {
                    // alternate which side goes first
                    List<Side> order = Math.floorMod(r, 2) == 0 ? List.of(Side.CONVERGED, Side.QSD)
                            : List.of(Side.QSD, Side.CONVERGED);
                    for (Side s : order) {
                        System.err.printf("%s: %s %s %d...%n", s, c, r < 0 ? "warm-up" : "run", r < 0 ? r + warmup + 1
                                : r + 1);
                        Map<String, Long> f = runCase(s, qmp.get(s), c, base, top);
                        if (r < 0) {
                            continue;
                        }
                        for (Map.Entry<String, Long> e : f.entrySet()) {
                            figures.computeIfAbsent(e.getKey(), k -> new long[] {Long.MAX_VALUE, Long.MAX_VALUE});
                            long[] best = figures.get(e.getKey());
                            best[s.ordinal()] = Math.min(best[s.ordinal()], e.getValue());
                        }
                    }
                }
                cq.execute("quit");
                qq.execute("quit");
            }
            for (Map.Entry<String, long[]> e : figures.entrySet()) {
                long[] v = e.getValue();
                out.append(String.format(Locale.ROOT, "%-12s %-24s %14d %14d %8.2f%n", c, e.getKey(), v[0], v[1],
                        (double) v[0] / v[1]));
            }
        }
        out.append("ratio: converged ÷ qemu-storage-daemon (below 1: converged is faster); best of the runs\n");
        return out.toString();
    }

    /** base: random data; top: percent% of it rewritten in 1 MiB extents at random offsets. */
    private void makeChain(Path base, Path top) throws Exception {
        System.err.println("making the chain...");
        Path raw = work.resolve("base.raw");
        Random r = new Random(42);
        byte[] buf = new byte[(int) EXTENT];
        try (OutputStream o = Files.newOutputStream(raw)) {
            for (long done = 0; done < size; done += EXTENT) {
                r.nextBytes(buf);
                o.write(buf);
            }
        }
        run(List.of("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw.toString(), base.toString()));
        Files.delete(raw);
        run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.getFileName().toString(), "-F", "qcow2",
                top.toString()));
        List<String> io = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        long extents = size / EXTENT;
        for (long i = 0; i < extents * percent / 100; i++) {
            long at = (long) (r.nextDouble() * extents) * EXTENT;
            io.addAll(List.of("-c", "write -P " + (1 + r.nextInt(250)) + " " + at + " " + EXTENT));
        }
        io.add(top.toString());
        run(io);
    }

    /**
     * One run of a case on one side's daemon, on fresh copies of what the case changes, under
     * node names of its own; deletes its nodes, then checks the result. Returns its figures in ms.
     */
    private Map<String, Long> runCase(Side side, QmpClient q, String c, Path base, Path top) throws Exception {
        int n = ++serial;
        Path dir = Files.createDirectories(work.resolve(side.name().toLowerCase(Locale.ROOT) + "-" + c + "-" + n));
        Path myTop = dir.resolve("top.qcow2");
        Path myBase = base;
        if (c.equals("commit")) {
            myBase = dir.resolve("base.qcow2");
            Files.copy(base, myBase, StandardCopyOption.REPLACE_EXISTING);
            Files.copy(top, myTop, StandardCopyOption.REPLACE_EXISTING);
            run(List.of("qemu-img", "rebase", "-q", "-u", "-b", myBase.toString(), "-F", "qcow2", myTop.toString()));
        } else {
            Files.copy(top, myTop, StandardCopyOption.REPLACE_EXISTING);
            run(List.of("qemu-img", "rebase", "-q", "-u", "-b", base.toString(), "-F", "qcow2", myTop.toString()));
        }
        Path target = dir.resolve("target.qcow2");
        if (c.equals("mirror-full")) {
            run(List.of("qemu-img", "create", "-q", "-f", "qcow2", target.toString(), Long.toString(size)));
        } else if (c.equals("mirror-top")) {
            run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2",
                    target.toString()));
        }
        run(List.of("sync")); // the copies and earlier runs' writes are on disk: this run starts clean
        String topNode = "top" + n;
        String tgtNode = "tgt" + n;
        String job = "j" + n;
        Map<String, Long> f = new LinkedHashMap<>();
        q.execute("blockdev-add", obj("{'driver':'qcow2','node-name':'" + topNode + "','file':{'driver':'file',"
                + "'filename':'" + myTop + "'}}"));
        switch (c) {
            case "mirror-full", "mirror-top" -> {
                q.execute("blockdev-add", obj("{'driver':'qcow2','node-name':'" + tgtNode + "','file':{'driver':'file',"
                        + "'filename':'" + target + "'}}"));
                long t0 = System.nanoTime();
                q.execute("blockdev-mirror", obj("{'job-id':'" + job + "','device':'" + topNode + "','target':'"
                        + tgtNode + "','sync':'" + (c.equals("mirror-full") ? "full" : "top") + "'}"));
                awaitJobEvent(q, job, "BLOCK_JOB_READY");
                f.put("time to READY", ms(t0));
                q.execute("block-job-cancel", obj("{'device':'" + job + "'}"));
                awaitJobEvent(q, job, "BLOCK_JOB_COMPLETED");
                q.execute("blockdev-del", obj("{'node-name':'" + tgtNode + "'}"));
            }
            case "stream" -> {
                long t0 = System.nanoTime();
                q.execute("block-stream", obj("{'job-id':'" + job + "','device':'" + topNode + "'}"));
                awaitJobEvent(q, job, "BLOCK_JOB_COMPLETED");
                f.put("time to COMPLETED", ms(t0));
            }
            case "commit" -> {
                long t0 = System.nanoTime();
                q.execute("block-commit", obj("{'job-id':'" + job + "','device':'" + topNode + "'}"));
                awaitJobEvent(q, job, "BLOCK_JOB_READY");
                f.put("time to READY", ms(t0));
                q.execute("job-complete", obj("{'id':'" + job + "'}"));
                awaitJobEvent(q, job, "BLOCK_JOB_COMPLETED");
                f.put("time to COMPLETED", ms(t0));
            }
            default -> throw new IllegalArgumentException("unknown case " + c);
        }
        q.execute("blockdev-del", obj("{'node-name':'" + topNode + "'}")); // closes the chain it opened
        verify(c, side, base, top, myBase, myTop, target);
        run(List.of("rm", "-rf", dir.toString()));
        return f;
    }

    /** The result reads as the chain did (qemu-img compare) and its image is consistent (qemu-img check). */
    private void verify(String c, Side side, Path base, Path top, Path myBase, Path myTop, Path target)
            throws Exception {
        Path result = switch (c) {
            case "mirror-full", "mirror-top" -> target;
            case "stream" -> myTop;
            default -> myBase;
        };
        run(List.of("qemu-img", "check", "-q", result.toString()));
        run(List.of("qemu-img", "compare", "-q", top.toString(), result.toString()));
        System.err.printf("  %s %s: the result equals the chain (qemu-img compare), qemu-img check clean%n", side, c);
    }

    private static void awaitJobEvent(QmpClient q, String job, String name) {
        JsonNode e = q.awaitEvent(ev -> name.equals(ev.path("event").asText())
                && job.equals(ev.path("data").path("device").asText()), LONG);
        if (e.path("data").has("error")) {
            throw new IllegalStateException(name + " with error: " + e.path("data").path("error").asText());
        }
    }

    private static long ms(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static ObjectNode obj(String json) throws IOException {
        return (ObjectNode) JSON.readTree(json.replace('\'', '"'));
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "?";
        }
    }

    /** Runs a command that must succeed; its output. */
    static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd.subList(0, Math.min(3, cmd.size()))) + " failed: " + out);
        }
        return out;
    }
}
