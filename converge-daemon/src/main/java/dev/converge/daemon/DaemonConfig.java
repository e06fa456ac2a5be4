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
 * @param objects   object-add JSON objects ({@code --object}), made before anything else
 * @param qmpTls    the tls-creds object id of each QMP address served over TLS ({@code --qmp ...,tls-creds=ID})
 * @param startup   QMP commands run after the block nodes, before the machine is built and QMP is
 *                  served: the daemon's command line in QSD's terms (--blockdev, --nbd-server,
 *                  --export), in command-line order
 */
public record DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs, MachineConfig machine, List<String> objects,
        java.util.Map<SocketAddress, String> qmpTls, List<StartupCall> startup) {
    public DaemonConfig {
        qmp = List.copyOf(qmp);
        blockdevs = List.copyOf(blockdevs);
        startup = List.copyOf(startup);
        Objects.requireNonNull(machine, "machine");
        objects = List.copyOf(objects);
        qmpTls = java.util.Map.copyOf(qmpTls);
        if (qmp.isEmpty()) {
            throw new IllegalArgumentException("at least one --qmp address is required");
        }
    }

    /** A daemon without start-up commands. */
    public DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs, MachineConfig machine, List<String> objects,
            java.util.Map<SocketAddress, String> qmpTls) {
        this(qmp, blockdevs, machine, objects, qmpTls, List.of());
    }

    /** A daemon without objects, without TLS on QMP and without start-up commands. */
    public DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs, MachineConfig machine) {
        this(qmp, blockdevs, machine, List.of(), java.util.Map.of());
    }

    /** A daemon without a machine. */
    public DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs) {
        this(qmp, blockdevs, MachineConfig.none());
    }
}
