package dev.converge.migration.machine;

/**
 * What a guest access to a page of one RAM block waits for on a postcopy destination: the
 * page's arrival. Attached to a {@link RamBlock} only while a postcopy migration runs into it
 * ({@link RamBlock#setPageGate}); outside postcopy the block has none and the guest access path
 * pays one field load and a null check.
 */
@FunctionalInterface
public interface PageGate {
    /**
     * Returns once page {@code page} of the block holds its migrated contents: at once when it
     * has arrived, else after requesting it and waiting for it.
     *
     * @throws IllegalStateException when the page can never arrive (the migration was given up
     *                               while the guest waited): the vCPU stops with it
     */
    void awaitPage(long page);
}
