package dev.converge.daemon.service;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --daemonize} as QEMU means it: the command returns once the daemon is initialized (its
 * sockets listen, its pid file is written), with status 0, or with the daemon's error and a
 * non-zero status; the daemon runs on detached from the terminal. A JVM cannot fork, so the
 * parent starts the same command line again, without {@code --daemonize}, in a new session
 * ({@code setsid}) with {@link #CHILD_ENV} set, and relays what the child prints until the child
 * says {@link #READY}. The child then points its standard streams at /dev/null, as QEMU does.
 */
public final class Daemonize {
    /** Set in the child's environment: it reports readiness on standard output. */
    public static final String CHILD_ENV = "CONVERGE_DAEMONIZED";
    static final String READY = "converged: daemonized";

    private Daemonize() {
    }

    /** Whether this process is the child of a --daemonize parent. */
    public static boolean isChild() {
        return "1".equals(System.getenv(CHILD_ENV));
    }

    /**
     * Runs in the parent: starts the child and waits for its readiness.
     *
     * @return the parent's exit status: 0 when the daemon is ready, else the child's status (or 1)
     */
    public static int runParent(PrintStream err) {
        ProcessHandle.Info info = ProcessHandle.current().info();
        if (info.command().isEmpty() || info.arguments().isEmpty()) {
            err.println("converged: --daemonize: cannot read this process's command line");
            return 1;
        }
        List<String> cmd = new ArrayList<>();
        Path setsid = Path.of("/usr/bin/setsid");
        if (Files.isExecutable(setsid)) {
            cmd.add(setsid.toString()); // its own session: no terminal, no signals from the shell's job control
        }
        cmd.add(info.command().get());
        for (String a : info.arguments().get()) {
            if (!a.equals("--daemonize")) {
                cmd.add(a);
            }
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put(CHILD_ENV, "1");
        Process child;
        try {
            child = pb.start();
        } catch (IOException e) {
            err.println("converged: --daemonize: " + e.getMessage());
            return 1;
        }
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.equals(READY)) {
                    return 0;
                }
                err.println(line);
            }
            return Math.max(1, child.waitFor());
        } catch (IOException e) {
            err.println("converged: --daemonize: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /** Runs in the child once it serves: tells the parent, then leaves the parent's pipe. */
    public static void childReady() {
        System.out.println(READY);
        System.out.flush();
        PrintStream devNull = new PrintStream(OutputStream.nullOutputStream());
        System.setOut(devNull);
        System.setErr(devNull);
    }
}
