package dev.converge.migration.qmp;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

/**
 * When a test fails (a wait that timed out, mostly), prints what each of its daemons says about
 * the migration (query-migrate, query-jobs, query-status) and a dump of every thread of the test
 * JVM, virtual ones included, before {@code @AfterEach} closes the daemons: so that a hang seen
 * once under load says where it hung. Register with {@code @RegisterExtension} and {@link #watch}
 * each peer.
 */
final class PeerDiagnostics implements TestExecutionExceptionHandler {
    private final List<Peer> peers = new ArrayList<>();

    /** Returns {@code p}, reported on a failure. */
    Peer watch(Peer p) {
        peers.add(p);
        return p;
    }

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        PrintStream out = System.err;
        out.println("=== " + (context == null ? "" : context.getDisplayName()) + " failed: " + failure + "; the daemons say:");
        for (Peer p : peers) {
            String name = p.module.machine().map(m -> m.name()).orElse("?");
            for (String command : new String[] {"query-migrate", "query-jobs", "query-status"}) {
                try {
                    out.println(name + " " + command + ": " + p.exec(command));
                } catch (RuntimeException e) {
                    out.println(name + " " + command + " failed: " + e);
                }
            }
        }
        try {
            Path dump = Files.createTempFile("converge-threads-", ".txt");
            Files.delete(dump); // dumpThreads creates it and refuses an existing file
            ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                    .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.TEXT_PLAIN);
            out.println("=== threads of the test JVM:");
            out.println(Files.readString(dump));
            Files.delete(dump);
        } catch (Exception e) {
            out.println("thread dump failed: " + e);
        }
        throw failure;
    }
}
