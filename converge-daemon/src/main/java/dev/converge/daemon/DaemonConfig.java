package dev.converge.daemon;

import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.sockets.SocketAddress;
import java.util.List;
import java.util.Objects;

/**
 * What a daemon is started with: where it serves QMP, the block nodes it opens at start-up and
 * its machine.
 *
 * @param qmp       addresses to listen on (at least one)
 * @param blockdevs blockdev-add JSON objects, opened in order before QMP is served
 * @param machine   the machine ({@code --machine}, {@code --incoming}, {@code -S}); {@link MachineConfig#none()} for none
 * @param startup   QMP commands run after the block nodes, before the machine is built and QMP is
 *                  served: the daemon's command line in QSD's terms (--blockdev, --object,
 *                  --nbd-server, --export), in command-line order
 */
public record DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs, MachineConfig machine, List<StartupCall> startup) {
    public DaemonConfig {
        qmp = List.copyOf(qmp);
        blockdevs = List.copyOf(blockdevs);
        startup = List.copyOf(startup);
        Objects.requireNonNull(machine, "machine");
        if (qmp.isEmpty()) {
            throw new IllegalArgumentException("at least one --qmp address is required");
        }
    }

    /** A daemon without start-up commands. */
    public DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs, MachineConfig machine) {
        this(qmp, blockdevs, machine, List.of());
    }

    /** A daemon without a machine. */
    public DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs) {
        this(qmp, blockdevs, MachineConfig.none());
    }
}
