package dev.converge.daemon;

import java.util.concurrent.CompletableFuture;

/**
 * SIGTERM and SIGINT end the daemon as {@code quit} does (sockets closed, files removed, status
 * 0); a shutdown hook covers any other orderly exit of the JVM. Installed before the daemon
 * starts: it greets and may answer commands before {@link Daemon#start} returns, so a supervisor
 * may signal it then. A signal that comes before the daemon exists is kept and acted on as soon
 * as {@link #attach} hands the daemon over.
 */
final class SignalShutdown {
    private final CompletableFuture<Daemon> daemon = new CompletableFuture<>();

    private SignalShutdown() {
    }

    static SignalShutdown install() {
        SignalShutdown s = new SignalShutdown();
        for (String signal : new String[] {"TERM", "INT"}) {
            // The signal's own thread must not block: shutdown runs on a thread of its own.
            sun.misc.Signal.handle(new sun.misc.Signal(signal), sig -> s.daemon.thenAcceptAsync(Daemon::shutdown,
                    task -> Thread.ofPlatform().name("sig" + signal).start(task)));
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Daemon d = s.daemon.getNow(null);
            if (d != null) {
                d.shutdown();
            }
        }, "shutdown-hook"));
        return s;
    }

    /** The daemon has started: a signal received already shuts it down now. */
    void attach(Daemon d) {
        daemon.complete(d);
    }
}
