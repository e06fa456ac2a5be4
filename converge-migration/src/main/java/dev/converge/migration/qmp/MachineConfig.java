package dev.converge.migration.qmp;

import dev.converge.migration.machine.Accelerator;
import dev.converge.migration.machine.GuestActions;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.SoftwareAccelerator;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The daemon's machine, from its command line: {@code --machine SPEC}, {@code --incoming
 * tcp:HOST:PORT | unix:PATH | defer} and {@code -S}.
 *
 * @param name        the machine's name (thread names, the disk's backend name)
 * @param spec        the machine, or empty for a daemon without one
 * @param incoming    where to wait for an incoming migration ("defer": wait for migrate-incoming), or empty
 * @param startPaused QEMU's -S: do not start the vCPUs by themselves (a destination stays paused after the migration)
 * @param accelerator makes the backend of the machine ({@code accel=software} unless told otherwise)
 * @param actions     what a reset request does ({@code --action}, {@code --no-reboot}; QEMU's defaults unless told otherwise)
 */
public record MachineConfig(String name, Optional<MachineSpec> spec, Optional<String> incoming, boolean startPaused,
        Supplier<Accelerator.Factory> accelerator, GuestActions actions) {
    /** The value of {@code --incoming} that waits for migrate-incoming. */
    public static final String DEFER = "defer";

    public MachineConfig {
        Objects.requireNonNull(name);
        Objects.requireNonNull(spec);
        Objects.requireNonNull(incoming);
        Objects.requireNonNull(accelerator);
        Objects.requireNonNull(actions);
        if (spec.isEmpty() && incoming.isPresent()) {
            throw new IllegalArgumentException("--incoming needs a --machine to receive into");
        }
        if (spec.isEmpty() && startPaused) {
            throw new IllegalArgumentException("-S needs a --machine");
        }
    }

    /** A daemon without a machine. */
    public static MachineConfig none() {
        return new MachineConfig("machine", Optional.empty(), Optional.empty(), false, () -> SoftwareAccelerator.FACTORY, GuestActions.DEFAULT);
    }

    /** A machine that starts running at once. */
    public static MachineConfig of(String name, MachineSpec spec) {
        return new MachineConfig(name, Optional.of(spec), Optional.empty(), false, () -> SoftwareAccelerator.FACTORY, GuestActions.DEFAULT);
    }

    /** This config with {@code --incoming}. */
    public MachineConfig withIncoming(String where) {
        return new MachineConfig(name, spec, Optional.of(where), startPaused, accelerator, actions);
    }

    /** This config on the accelerator {@code factory} makes ({@code accel=kvm}). */
    public MachineConfig withAccelerator(Supplier<Accelerator.Factory> factory) {
        return new MachineConfig(name, spec, incoming, startPaused, factory, actions);
    }

    /** This config with {@code -S}. */
    public MachineConfig withStartPaused(boolean v) {
        return new MachineConfig(name, spec, incoming, v, accelerator, actions);
    }

    /** This config with {@code --action} / {@code --no-reboot}. */
    public MachineConfig withActions(GuestActions a) {
        return new MachineConfig(name, spec, incoming, startPaused, accelerator, a);
    }
}
