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
 */
public record DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs, MachineConfig machine, List<String> objects,
        java.util.Map<SocketAddress, String> qmpTls) {
    public DaemonConfig {
        qmp = List.copyOf(qmp);
        blockdevs = List.copyOf(blockdevs);
        Objects.requireNonNull(machine, "machine");
        objects = List.copyOf(objects);
        qmpTls = java.util.Map.copyOf(qmpTls);
        if (qmp.isEmpty()) {
            throw new IllegalArgumentException("at least one --qmp address is required");
        }
    }

    /** A daemon without objects and without TLS on QMP. */
    public DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs, MachineConfig machine) {
        this(qmp, blockdevs, machine, List.of(), java.util.Map.of());
    }

    /** A daemon without a machine. */
    public DaemonConfig(List<SocketAddress> qmp, List<String> blockdevs) {
        this(qmp, blockdevs, MachineConfig.none());
    }
}
