package dev.converge.migration.job;

import dev.converge.migration.file.FileSaver;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.precopy.MigrationResult;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * One outgoing migration into a file, for {@link MigrationJob}: opens the file (QEMU's flags:
 * created, truncated when the data starts at offset 0, else what comes before the offset is
 * kept), stops the vCPUs and writes through {@link FileSaver} ({@link #write}), or with
 * mapped-ram and a running machine writes live and stops them for the last pass
 * ({@link #writeLive}), and then either leaves the source in postmigrate ({@link #commit}) or
 * resumes it ({@link #resume}). Job thread, except commit and
 * resume (main loop, after the job thread wrote).
 */
final class FileSave {
    private final Machine machine;
    private final FileTarget target;
    private final boolean mappedRam;
    private final boolean digest;
    private final BooleanSupplier cancelled;
    private final FileChannel channel;
    /** The run state the save stopped the machine from; null before {@link #stop} and after a resume. */
    private volatile RunState previous;
    private volatile long stoppedAt;

    /**
     * Opens the file.
     *
     * @throws MigrationException.ChannelFailed QEMU's "Could not open 'PATH': REASON"
     */
    FileSave(Machine machine, FileTarget target, boolean mappedRam, boolean digest, BooleanSupplier cancelled)
            throws MigrationException {
        this.machine = Objects.requireNonNull(machine);
        this.target = Objects.requireNonNull(target);
        this.mappedRam = mappedRam;
        this.digest = digest;
        this.cancelled = cancelled;
        Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.READ);
        if (target.offset() == 0) {
            options.add(StandardOpenOption.TRUNCATE_EXISTING);
        }
        try {
            this.channel = FileChannel.open(target.path(), options,
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        } catch (IOException | UnsupportedOperationException e) {
            throw new MigrationException.ChannelFailed("Could not open '" + target.path() + "': " + reason(e), e);
        }
    }

    /** Stops the vCPUs (STOP when they ran). */
    void stop() {
        previous = machine.beginSwitchover();
        stoppedAt = System.nanoTime();
    }

    /** Writes RAM and device state; the file is closed after. */
    MigrationResult write() throws IOException {
        try (channel) {
            FileSaver.Saved s = FileSaver.save(machine, channel, target.offset(), mappedRam, digest, cancelled);
            return new MigrationResult(1, s.bytes(), s.normalPages(), s.zeroPages(),
                    (System.nanoTime() - stoppedAt) / 1_000_000);
        } catch (IOException e) {
            throw new IOException("Failed to write '" + target.path() + "': " + reason(e), e);
        }
    }

    /**
     * Writes a running machine live (mapped-ram): passes while the guest runs, then
     * {@code atStop} stops it ({@link #stop} and what the job shows), the last pass, device state
     * and header; the file is closed after.
     *
     * @param converged whether the bytes still dirty after a pass, at the pass's rate (bytes/s), fit the downtime limit
     */
    MigrationResult writeLive(java.util.function.BiPredicate<Long, Double> converged, Runnable atStop) throws IOException {
        try (channel) {
            FileSaver.SavedLive s = FileSaver.saveLive(machine, channel, target.offset(), digest, cancelled,
                    new FileSaver.LiveControl() {
                        @Override
                        public boolean converged(long remainingBytes, double bytesPerSecond) {
                            return converged.test(remainingBytes, bytesPerSecond);
                        }

                        @Override
                        public void stopVcpus() {
                            atStop.run();
                        }
                    });
            return new MigrationResult(s.passes(), s.saved().bytes(), s.saved().normalPages(), s.saved().zeroPages(),
                    (System.nanoTime() - stoppedAt) / 1_000_000);
        } catch (IOException e) {
            throw new IOException("Failed to write '" + target.path() + "': " + reason(e), e);
        }
    }

    /** The save is kept: the source goes to postmigrate. @return nanoseconds the vCPUs were stopped */
    long commit() {
        machine.completeSwitchover();
        return System.nanoTime() - stoppedAt;
    }

    /** The save is dropped (failed or cancelled): the source resumes in its previous run state. */
    void resume() {
        RunState p = previous;
        previous = null;
        try {
            channel.close();
        } catch (IOException e) {
            // only releasing
        }
        if (p != null) {
            machine.abortSwitchover(p);
        }
    }

    private static String reason(Exception e) {
        return switch (e) {
            case java.nio.file.NoSuchFileException n -> "No such file or directory";
            case java.nio.file.AccessDeniedException a -> "Permission denied";
            case java.nio.file.FileSystemException f when f.getReason() != null -> f.getReason();
            default -> String.valueOf(e.getMessage());
        };
    }
}
