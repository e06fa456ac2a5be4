package dev.converge.bench;

import dev.converge.daemon.launch.ChildDaemon;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The daemons a benchmark runs, as {@link ChildDaemon}s: converged and its peer
 * qemu-storage-daemon, both driven by the same QMP client so that they are measured alike.
 */
public final class Daemons {
    private Daemons() {
    }

    /**
     * converged as an operator starts it: {@code bin/converged} of the checkout the benchmark runs
     * from ({@link #convergeHome}), with the daemon's JVM options, heap cap and AOT cache, and
     * {@code --qmp unix:DIR/converged.qmp}. Every benchmark starts it this way, so that it measures
     * what an operator runs, not a JVM on the benchmark's class path.
     */
    public static ChildDaemon converged(Path dir, String... extraArgs) throws IOException {
        Path socket = dir.resolve("converged.qmp");
        List<String> args = new ArrayList<>(List.of("--qmp", "unix:" + socket));
        args.addAll(List.of(extraArgs));
        return ChildDaemon.start("converged", shippedConvergedCommand(args), dir, socket);
    }

    /**
     * The command of {@link #converged}: {@code bin/converged ARGS} with the build check
     * skipped (bin/bench built it, as the release archive ships it built).
     */
    public static ProcessBuilder shippedConvergedCommand(List<String> args) {
        Path home = convergeHome();
        List<String> cmd = new ArrayList<>(List.of(home.resolve("bin/converged").toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("CONVERGE_NO_BUILD", "1");
        return pb;
    }

    /**
     * The checkout (or release) whose bin/converged runs: property {@code converge.home}, which
     * bin/bench sets; else the nearest directory up from the working directory that has
     * bin/converged (a module of the checkout, where Maven runs the benchmarks' own tests).
     */
    static Path convergeHome() {
        String home = System.getProperty("converge.home");
        if (home != null) {
            return Path.of(home).toAbsolutePath();
        }
        Path here = Path.of("").toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            if (Files.isExecutable(p.resolve("bin/converged"))) {
                return p;
            }
        }
        return here;
    }

    /** qemu-storage-daemon with one QMP monitor on a UNIX socket. */
    public static ChildDaemon qemuStorageDaemon(Path dir, String... extraArgs) throws IOException {
        Path socket = dir.resolve("qsd.sock");
        List<String> cmd = new ArrayList<>(List.of("qemu-storage-daemon",
                "--chardev", "socket,id=qmp0,path=" + socket + ",server=on,wait=off", "--monitor", "chardev=qmp0"));
        cmd.addAll(List.of(extraArgs));
        return ChildDaemon.start("qemu-storage-daemon", cmd, dir, socket);
    }

    /** Whether an executable is on the PATH (peers are optional: a benchmark says when it skips one). */
    public static boolean onPath(String exe) {
        return ChildDaemon.onPath(exe);
    }
}
