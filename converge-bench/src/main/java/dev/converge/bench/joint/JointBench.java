package dev.converge.bench.joint;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The joint switchover's figures on this machine: the same machine (pattern workload writing
 * RAM and its disk) migrated alone and as one transaction with the mirror of its disk, with two
 * converged processes. Prints per run the downtime (query-migrate: vCPUs stopped until the
 * destination starts), the switchover as the client sees it (job-complete → completed), the
 * time to ready of each job and the total, then the ratio of the median downtimes.
 * <p>
 * {@code ./bin/bench joint [--memory 512M] [--disk 256M] [--dirty-rate 64M] [--downtime 300] [--runs 1] [--copy-mode write-blocking|background]}
 */
public final class JointBench {
    private JointBench() {
    }

    public static void main(String[] args) throws IOException {
        JointOptions o;
        try {
            o = JointOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench joint: " + e.getMessage());
            System.exit(2);
            return;
        }
        PrintStream out = System.out;
        out.printf("joint switchover: RAM %d MiB, disk %d MiB, pattern workload at %d MiB/s (RAM and disk), "
                + "downtime-limit %d ms, mirror copy-mode %s, %d run(s) per mode, %d CPUs%n", o.memory() >> 20,
                o.disk() >> 20, o.dirtyRate() >> 20, o.downtimeMs(), o.copyMode(), o.runs(), Runtime.getRuntime().availableProcessors());
        Path dir = Files.createTempDirectory("converge-joint-bench");
        try {
            runAll(o, dir, out);
        } finally {
            deleteTree(dir); // the images are large: never leave them behind
        }
    }

    private static void runAll(JointOptions o, Path dir, PrintStream out) throws IOException {
        List<Long> alone = new ArrayList<>();
        List<Long> joint = new ArrayList<>();
        out.printf("%-10s %4s %12s %14s %22s %10s  %s%n", "mode", "run", "downtime ms", "switchover ms",
                "ready ms (per job)", "total ms", "check");
        for (int i = 0; i < o.runs(); i++) {
            for (boolean j : new boolean[] {false, true}) {
                String mode = j ? "joint" : "migration";
                JointRun.Result r = JointRun.run(dir.resolve(mode + "-" + i), o, j);
                (j ? joint : alone).add(r.downtimeMs());
                out.printf("%-10s %4d %12d %14d %22s %10d  %s%s%n", mode, i + 1, r.downtimeMs(), r.switchoverMs(),
                        ready(r.readyMs()), r.totalMs(), r.check(), j ? "; disk via " + r.transport() : "");
            }
        }
        long ma = median(alone);
        long mj = median(joint);
        out.printf("median downtime: migration alone %d ms, joint %d ms (joint/alone %.2f)%n", ma, mj,
                ma == 0 ? Double.NaN : (double) mj / ma);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static String ready(Map<String, Long> readyMs) {
        StringBuilder b = new StringBuilder();
        readyMs.forEach((id, ms) -> b.append(b.isEmpty() ? "" : " ").append(id).append('=').append(ms));
        return b.toString();
    }

    private static long median(List<Long> xs) {
        List<Long> s = xs.stream().sorted().toList();
        return s.get(s.size() / 2);
    }
}
