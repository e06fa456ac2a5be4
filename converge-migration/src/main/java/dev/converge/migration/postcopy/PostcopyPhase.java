package dev.converge.migration.postcopy;

/**
 * Where a postcopy migration stands, on either side (QEMU's postcopy migration statuses; the
 * job and the incoming side map them to their MigrationStatus).
 */
public enum PostcopyPhase {
    /** The destination runs the guest; pages still travel (postcopy-active). */
    ACTIVE,
    /** The connection broke or was paused: both sides keep every byte and wait (postcopy-paused). */
    PAUSED,
    /** Recovery asked for, the new connection not up yet (postcopy-recover-setup). */
    RECOVER_SETUP,
    /** A new connection is up; the sides exchange what the destination holds (postcopy-recover). */
    RECOVER
}
