package dev.converge.daemon;

import java.util.Locale;

/**
 * Configures the daemon's logging: {@link StderrLogProvider} as the SLF4J binding (named by the
 * {@code slf4j.provider} property, so SLF4J looks for no other) with {@code --log-level}'s
 * threshold; each line has a timestamp with the zone, the level, the short logger name, the
 * message, on standard error (which a service manager collects). Must run before the first logger
 * is created: SLF4J binds once. A property already given on the command line (-D...) wins:
 * {@code -Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider} selects slf4j-simple, which the
 * properties set here configure the same way.
 */
final class LogSetup {
    /** The levels {@code --log-level} accepts, as slf4j-simple names them. */
    enum Level {
        error, warn, info, debug, trace
    }

    private static final String PREFIX = "org.slf4j.simpleLogger.";

    private LogSetup() {
    }

    static void configure(Level level) {
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.provider", StderrLogProvider.class.getName());
            // SLF4J says at INFO which provider it loads, on every start.
            System.setProperty("slf4j.internal.verbosity", "WARN");
        }
        StderrLogProvider.threshold = StderrLogger.Level.valueOf(level.name().toUpperCase(Locale.ROOT));
        System.setProperty(PREFIX + "defaultLogLevel", level.name().toLowerCase(Locale.ROOT));
        setIfAbsent("showDateTime", "true");
        setIfAbsent("dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
        setIfAbsent("showThreadName", "false");
        setIfAbsent("showShortLogName", "true");
        setIfAbsent("levelInBrackets", "false");
        setIfAbsent("logFile", "System.err");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(PREFIX + key) == null) {
            System.setProperty(PREFIX + key, value);
        }
    }
}
