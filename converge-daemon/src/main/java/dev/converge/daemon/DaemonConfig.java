package dev.converge.daemon;

import dev.converge.qmp.QmpAddress;
import java.util.List;

/**
 * What a daemon is started with: where it serves QMP and the block nodes it opens at start-up.
 *
 * @param qmp       addresses to listen on (at least one)
 * @param blockdevs blockdev-add JSON objects, opened in order before QMP is served
 */
public record DaemonConfig(List<QmpAddress> qmp, List<String> blockdevs) {
    public DaemonConfig {
        qmp = List.copyOf(qmp);
        blockdevs = List.copyOf(blockdevs);
        if (qmp.isEmpty()) {
            throw new IllegalArgumentException("at least one --qmp address is required");
        }
    }
}
