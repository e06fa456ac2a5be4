package dev.converge.migration.multifd;

import java.util.concurrent.atomic.LongAdder;

/** What the multifd channels of one side moved so far; every channel thread adds, anyone reads. */
public final class ChannelCounters {
    final LongAdder bytes = new LongAdder();
    final LongAdder normalPages = new LongAdder();
    final LongAdder zeroPages = new LongAdder();

    /** Bytes written (source) or read (destination) on the channels, hellos and framing included. */
    public long bytes() {
        return bytes.sum();
    }

    /** Pages with data. */
    public long normalPages() {
        return normalPages.sum();
    }

    /** Zero pages, sent or applied as markers. */
    public long zeroPages() {
        return zeroPages.sum();
    }
}
