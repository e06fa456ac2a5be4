package dev.converge.migration.qmp;

import dev.converge.migration.machine.MachineSpec;
import java.util.Objects;
import java.util.Optional;

/**
 * The daemon's machine, from its command line: {@code --machine SPEC}, {@code --incoming
 * tcp:HOST:PORT | unix:PATH | defer} and {@code -S}.
 *
 * @param name        the machine's name (thread names, the disk's backend name)
 * @param spec        the machine, or empty for a daemon without one
 * @param incoming    where to wait for an incoming migration ("defer": wait for migrate-incoming), or empty
 * @param startPaused QEMU's -S: do not start the vCPUs by themselves (a destination stays paused after the migration)
 */
public record MachineConfig(String name, Optional<MachineSpec> spec, Optional<String> incoming, boolean startPaused) {
    /** The value of {@code --incoming} that waits for migrate-incoming. */
    public static final String DEFER = "defer";

    public MachineConfig {
        Objects.requireNonNull(name);
        Objects.requireNonNull(spec);
        Objects.requireNonNull(incoming);
        if (spec.isEmpty() && incoming.isPresent()) {
            throw new IllegalArgumentException("--incoming needs a --machine to receive into");
        }
        if (spec.isEmpty() && startPaused) {
            throw new IllegalArgumentException("-S needs a --machine");
        }
    }

    /** A daemon without a machine. */
    public static MachineConfig none() {
        return new MachineConfig("machine", Optional.empty(), Optional.empty(), false);
    }

    /** A machine that starts running at once. */
    public static MachineConfig of(String name, MachineSpec spec) {
        return new MachineConfig(name, Optional.of(spec), Optional.empty(), false);
    }

    /** This config with {@code --incoming}. */
    public MachineConfig withIncoming(String where) {
        return new MachineConfig(name, spec, Optional.of(where), startPaused);
    }

    /** This config with {@code -S}. */
    public MachineConfig withStartPaused(boolean v) {
        return new MachineConfig(name, spec, incoming, v);
    }
}
