package dev.converge.migration.machine;

import java.util.Locale;

/**
 * What the machine does when a reset or a shutdown is requested: QEMU's {@code set-action}
 * and {@code -action reboot=...,shutdown=...} (qapi/run-state.json, {@code RebootAction} and
 * {@code ShutdownAction}).
 *
 * @param reboot   on a reset request (a guest triple fault, {@code system_reset}): reset the
 *                 machine (QEMU's default) or shut it down (QEMU's {@code -no-reboot})
 * @param shutdown what a shutdown does. QEMU exits on {@code poweroff}; converged stays up
 *                 (it serves jobs and migrations besides the machine), so both leave the
 *                 machine stopped in run state {@code shutdown}, as QEMU's {@code pause} does
 */
public record GuestActions(Reboot reboot, Shutdown shutdown) {
    /** QEMU's defaults: reboot=reset, shutdown=poweroff. */
    public static final GuestActions DEFAULT = new GuestActions(Reboot.RESET, Shutdown.POWEROFF);

    /** QEMU's RebootAction. */
    public enum Reboot {
        RESET, SHUTDOWN;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** QEMU's ShutdownAction. */
    public enum Shutdown {
        POWEROFF, PAUSE;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public GuestActions {
        java.util.Objects.requireNonNull(reboot);
        java.util.Objects.requireNonNull(shutdown);
    }

    /** This with {@code reboot}. */
    public GuestActions withReboot(Reboot r) {
        return new GuestActions(r, shutdown);
    }

    /** This with {@code shutdown}. */
    public GuestActions withShutdown(Shutdown s) {
        return new GuestActions(reboot, s);
    }

    /**
     * Applies a {@code --action} value, {@code reboot=reset|shutdown} and/or
     * {@code shutdown=poweroff|pause}, comma-separated, to this.
     *
     * @throws IllegalArgumentException naming the bad key or value
     */
    public GuestActions parse(String text) {
        GuestActions a = this;
        for (String part : text.split(",", -1)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? part : part.substring(0, eq);
            String value = eq < 0 ? "" : part.substring(eq + 1);
            a = switch (key) {
                case "reboot" -> a.withReboot(parseValue(Reboot.class, "reboot", value));
                case "shutdown" -> a.withShutdown(parseValue(Shutdown.class, "shutdown", value));
                default -> throw new IllegalArgumentException("action: '" + key + "' is unknown (expected: reboot, shutdown)");
            };
        }
        return a;
    }

    private static <E extends Enum<E>> E parseValue(Class<E> type, String key, String value) {
        for (E e : type.getEnumConstants()) {
            if (e.name().toLowerCase(Locale.ROOT).equals(value)) {
                return e;
            }
        }
        throw new IllegalArgumentException("action " + key + ": '" + value + "' (expected: "
                + String.join(", ", java.util.Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT)).toList()) + ")");
    }
}
