package dev.converge.migration.precopy;

/** {@link TestControl} for tests outside this package. */
public final class TestControls {
    private TestControls() {
    }

    /** Switches over by itself once converged, after at least {@code minPasses} passes, without a bandwidth cap. */
    public static MigrationControl autoComplete(int minPasses) {
        return new TestControl(true, minPasses, 0);
    }
}
