package dev.converge.daemon;

import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.server.QmpServer;

/** The commands the daemon itself owns: its own lifetime. */
final class DaemonQmp {
    private DaemonQmp() {
    }

    /** {@code quit}: replies, then shuts the daemon down (the reply is written first, as QEMU does). */
    static void register(QmpRegistry registry, QmpServer server, Runnable shutdown) {
        registry.register(new CommandSpec("quit", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Ends the daemon: the reply is sent, then every job is left as it is, QMP sockets close "
                        + "and their socket files are removed, and the process exits with status 0.",
                "0.1", args -> {
                    server.afterReply(shutdown);
                    return null;
                }));
    }
}
