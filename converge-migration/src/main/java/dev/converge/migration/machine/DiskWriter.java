package dev.converge.migration.machine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a workload writes its disk ({@code disk=NODE} in the machine spec): a block backend of
 * converge-block (see {@link MachineDisk}), so that guest disk writes go through the node's
 * write path and its notifiers, and a mirror sees them.
 */
@FunctionalInterface
public interface DiskWriter {
    /**
     * Writes the remaining bytes of {@code data} at byte {@code offset} of the disk.
     *
     * @throws IOException when the block layer fails the write (the workload stops with it)
     */
    void write(long offset, ByteBuffer data) throws IOException;
}
