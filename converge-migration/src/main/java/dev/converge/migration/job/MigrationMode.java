package dev.converge.migration.job;

/**
 * QEMU's MigMode (parameter {@code mode}). converge migrates in {@code normal} mode only: the
 * CheckPoint-and-Restart modes are accepted as parameter values (as QEMU's schema defines them)
 * and refused by {@code migrate}, naming the mode.
 */
public enum MigrationMode {
    /** The original form of migration. */
    NORMAL("normal"),
    /** QEMU 8.2: stop, save to the URI, quit, restart QEMU with -incoming. */
    CPR_REBOOT("cpr-reboot"),
    /** QEMU 10.0: hand RAM over to a new QEMU process on the same host. */
    CPR_TRANSFER("cpr-transfer");

    private final String wireName;

    MigrationMode(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}
