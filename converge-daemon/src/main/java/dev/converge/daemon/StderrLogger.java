package dev.converge.daemon;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.slf4j.Marker;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/**
 * One named logger of {@link StderrLogProvider}: writes {@code 2026-12-03T06:34:21.123+01:00 INFO
 * Daemon - message} (an ISO timestamp with the zone's offset, {@code Z} for UTC; the level; the
 * logger's short name) and the stack trace of a throwable, as one write to standard error, so
 * lines of different threads do not interleave. Thread-safe (immutable).
 */
final class StderrLogger extends LegacyAbstractLogger {
    /** The levels, most severe first. */
    enum Level {
        ERROR, WARN, INFO, DEBUG, TRACE
    }

    private final String shortName;
    private final Level threshold;

    StderrLogger(String name, Level threshold) {
        this.name = name;
        this.shortName = name.substring(name.lastIndexOf('.') + 1);
        this.threshold = threshold;
    }

    @Override
    public boolean isTraceEnabled() {
        return enabled(Level.TRACE);
    }

    @Override
    public boolean isDebugEnabled() {
        return enabled(Level.DEBUG);
    }

    @Override
    public boolean isInfoEnabled() {
        return enabled(Level.INFO);
    }

    @Override
    public boolean isWarnEnabled() {
        return enabled(Level.WARN);
    }

    @Override
    public boolean isErrorEnabled() {
        return enabled(Level.ERROR);
    }

    private boolean enabled(Level level) {
        return level.ordinal() <= threshold.ordinal();
    }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(org.slf4j.event.Level level, Marker marker, String pattern,
            Object[] arguments, Throwable throwable) {
        StringBuilder line = new StringBuilder(128);
        timestamp(line, Instant.now(), ZoneId.systemDefault());
        line.append(' ').append(level.name()).append(' ').append(shortName).append(" - ")
                .append(MessageFormatter.basicArrayFormat(pattern, arguments)).append(System.lineSeparator());
        if (throwable != null) {
            StringWriter trace = new StringWriter();
            throwable.printStackTrace(new PrintWriter(trace));
            line.append(trace);
        }
        System.err.print(line);
        System.err.flush();
    }

    /** Appends {@code yyyy-MM-ddTHH:mm:ss.SSS} and the offset ({@code Z} or {@code +hh:mm}) of {@code at} in {@code zone}. */
    static void timestamp(StringBuilder out, Instant at, ZoneId zone) {
        ZoneOffset offset = zone.getRules().getOffset(at);
        LocalDateTime t = LocalDateTime.ofEpochSecond(at.getEpochSecond(), at.getNano(), offset);
        pad(out, t.getYear(), 4).append('-');
        pad(out, t.getMonthValue(), 2).append('-');
        pad(out, t.getDayOfMonth(), 2).append('T');
        pad(out, t.getHour(), 2).append(':');
        pad(out, t.getMinute(), 2).append(':');
        pad(out, t.getSecond(), 2).append('.');
        pad(out, t.getNano() / 1_000_000, 3);
        int seconds = offset.getTotalSeconds();
        if (seconds == 0) {
            out.append('Z');
            return;
        }
        out.append(seconds < 0 ? '-' : '+');
        int minutes = Math.abs(seconds) / 60;
        pad(out, minutes / 60, 2).append(':');
        pad(out, minutes % 60, 2);
    }

    private static StringBuilder pad(StringBuilder out, int value, int width) {
        String digits = Integer.toString(value);
        for (int i = digits.length(); i < width; i++) {
            out.append('0');
        }
        return out.append(digits);
    }
}
