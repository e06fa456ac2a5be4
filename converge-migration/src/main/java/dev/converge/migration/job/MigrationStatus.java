package dev.converge.migration.job;

/**
 * QEMU's MigrationStatus (qapi/migration.json), in QAPI order. converge reaches none, setup,
 * active, device, pre-switchover, completed, failed, cancelling and cancelled; the postcopy and
 * COLO values are declared so the enum reads as QEMU's.
 */
public enum MigrationStatus {
    NONE("none"),
    SETUP("setup"),
    CANCELLING("cancelling"),
    CANCELLED("cancelled"),
    ACTIVE("active"),
    POSTCOPY_ACTIVE("postcopy-active"),
    POSTCOPY_PAUSED("postcopy-paused"),
    POSTCOPY_RECOVER_SETUP("postcopy-recover-setup"),
    POSTCOPY_RECOVER("postcopy-recover"),
    COMPLETED("completed"),
    FAILED("failed"),
    COLO("colo"),
    PRE_SWITCHOVER("pre-switchover"),
    DEVICE("device"),
    WAIT_UNPLUG("wait-unplug");

    private final String wireName;

    MigrationStatus(String wireName) {
        this.wireName = wireName;
    }

    /** The QAPI name. */
    public String wireName() {
        return wireName;
    }

    /** Whether a migration in this status has ended (a new one may start). */
    public boolean isFinal() {
        return this == NONE || this == COMPLETED || this == FAILED || this == CANCELLED;
    }
}
