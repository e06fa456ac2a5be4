package dev.converge.testing;

import java.time.Duration;

/**
 * The only source of timeouts in tests. Each is a bound on how long a correct program may
 * take, never a delay to wait out; all scale with {@code -Dconverge.test.timeoutFactor}
 * (default 1) for slow or loaded machines.
 */
public final class TestTimeouts {
    private static final double FACTOR = Double.parseDouble(System.getProperty("converge.test.timeoutFactor", "1"));

    /** For something that should happen almost at once (an event after a command). */
    public static final Duration SHORT = scaled(Duration.ofSeconds(5));
    /** For a small job or a server start. */
    public static final Duration MEDIUM = scaled(Duration.ofSeconds(30));
    /** For data movement of a few hundred MiB on a 2-core machine. */
    public static final Duration LONG = scaled(Duration.ofMinutes(3));

    private TestTimeouts() {
    }

    public static Duration scaled(Duration d) {
        return Duration.ofMillis((long) (d.toMillis() * FACTOR));
    }
}
