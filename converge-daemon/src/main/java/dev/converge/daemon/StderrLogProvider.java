package dev.converge.daemon;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.NOPMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * The daemon process's SLF4J binding, chosen by {@link LogSetup} through the {@code slf4j.provider}
 * property (so SLF4J does not scan every jar for providers): {@link StderrLogger}s, one line per
 * message on standard error. It writes the lines slf4j-simple wrote as LogSetup configured it, but
 * formats the timestamp by hand: slf4j-simple's SimpleDateFormat initialised the JDK's locale data
 * (CLDR, calendars, number formats) on the way to the first QMP greeting, about a third of the
 * daemon's start-up CPU. slf4j-simple stays the binding of the tests and of in-process use.
 */
public final class StderrLogProvider implements SLF4JServiceProvider, ILoggerFactory {
    /** Messages below this level are dropped; set by {@link LogSetup} before the first logger exists. */
    static volatile StderrLogger.Level threshold = StderrLogger.Level.INFO;

    private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();
    private final IMarkerFactory markers = new BasicMarkerFactory();
    private final MDCAdapter mdc = new NOPMDCAdapter();

    /** Public, with no arguments: SLF4J instantiates the class named by {@code slf4j.provider}. */
    public StderrLogProvider() {
    }

    @Override
    public Logger getLogger(String name) {
        return loggers.computeIfAbsent(name, n -> new StderrLogger(n, threshold));
    }

    @Override
    public ILoggerFactory getLoggerFactory() {
        return this;
    }

    @Override
    public IMarkerFactory getMarkerFactory() {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter() {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion() {
        return "2.0.99";
    }

    @Override
    public void initialize() {
        // nothing to read: the threshold is set before
    }
}
