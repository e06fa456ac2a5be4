package dev.converge.migration.machine;

import java.io.IOException;

/**
 * A machine's disk ({@code disk=NODE}): where the workload writes (through the block layer's
 * write path, so a mirror sees every write) and what {@code query-machine-digest} hashes.
 * Writes come from vCPU threads; implementations must be thread-safe.
 */
public interface MachineDisk extends DiskWriter {
    /** The block node's name, the key in {@code query-machine-digest}'s {@code disks}. */
    String nodeName();

    /** The disk's size in bytes (fixed while attached). */
    long size();

    /** SHA-256 of the whole disk, lowercase hex; consistent only while the vCPUs are stopped. */
    String digest() throws IOException;
}
