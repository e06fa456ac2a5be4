package dev.converge.daemon;

import java.util.Locale;

/**
 * Configures slf4j-simple, the daemon's log binding, through its system properties: a timestamp
 * with the zone, the level, the short logger name, the message; on standard error (which a
 * service manager collects). Must run before the first logger is created: slf4j-simple reads
 * its configuration once. A property already given on the command line (-D...) wins.
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
