package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import java.util.List;
import java.util.Locale;

/**
 * What a guest writer saw during a mirror, from its per-write log: how many writes, the longest
 * one, the 99th percentile, and the worst 250 ms window's throughput. A pure function of the
 * samples, so the figures the report prints are tested with plain vectors.
 */
public final class WriterLatency {
    /** The window the worst throughput is taken over (the 250 ms). */
    static final long WINDOW_MS = 250;
    /** Step of the sliding window. */
    static final long STEP_MS = 10;

    /**
     * One write, as fio's latency log has it.
     *
     * @param endMillis    completion time, Unix milliseconds ({@code --log_unix_epoch=1})
     * @param latencyNanos submission to completion
     * @param bytes        size of the write
     * @param offset       where it wrote ({@code --log_offset=1})
     */
    public record Sample(long endMillis, long latencyNanos, long bytes, long offset) {
        /** Unix milliseconds when the write was submitted. */
        long startMillis() {
            return endMillis - latencyNanos / 1_000_000;
        }
    }

    /**
     * The figures over one interval.
     *
     * @param writes          writes that overlapped the interval
     * @param longestMs       the longest of them
     * @param p99Ms           their 99th percentile (nearest rank)
     * @param worstWindowMiBs the fewest MiB/s completed in any {@value #WINDOW_MS} ms window inside
     *                        the interval (the whole interval when it is shorter)
     * @param longestAtMs     when the longest write was submitted, ms after the interval's start
     *                        (negative: before it), so a report can tell a stall at the mirror's
     *                        start from one at READY or at the end
     * @param worstWindowAtMs where the worst window starts, ms after the interval's start
     */
    public record Stats(int writes, double longestMs, double p99Ms, double worstWindowMiBs, long longestAtMs,
            long worstWindowAtMs) {
        public String summary() {
            return String.format(Locale.ROOT, "%d writes, longest %.1f ms (submitted at +%d ms), p99 %.2f ms,"
                    + " worst %d ms %.1f MiB/s (from +%d ms)", writes, longestMs, longestAtMs, p99Ms, WINDOW_MS,
                    worstWindowMiBs, worstWindowAtMs);
        }
    }

    private WriterLatency() {
    }

    /**
     * The figures of the writes that were in flight at some point of [fromMs, toMs], and the
     * throughput windows inside it.
     */
    public static Stats of(List<Sample> samples, long fromMs, long toMs) {
        if (toMs < fromMs) {
            throw new IllegalArgumentException("interval [" + fromMs + ", " + toMs + "]");
        }
        List<Sample> inFlight = samples.stream().filter(s -> s.endMillis() >= fromMs && s.startMillis() <= toMs).toList();
        long[] lat = inFlight.stream().mapToLong(Sample::latencyNanos).sorted().toArray();
        long[] ends = samples.stream().mapToLong(Sample::endMillis).toArray();
        long[] bytes = samples.stream().mapToLong(Sample::bytes).toArray();
        double worst = Double.MAX_VALUE;
        long worstAt = 0;
        long lastStart = Math.max(fromMs, toMs - WINDOW_MS);
        for (long w = fromMs; w <= lastStart; w += STEP_MS) {
            long sum = 0;
            for (int i = 0; i < ends.length; i++) {
                if (ends[i] >= w && ends[i] < w + WINDOW_MS) {
                    sum += bytes[i];
                }
            }
            double rate = sum / (double) Sizes.MiB / (WINDOW_MS / 1000.0);
            if (rate < worst) {
                worst = rate;
                worstAt = w - fromMs;
            }
        }
        if (lat.length == 0) {
            return new Stats(0, 0, 0, 0, 0, 0);
        }
        int rank = (int) Math.ceil(0.99 * lat.length) - 1;
        Sample longest = inFlight.stream().max(java.util.Comparator.comparingLong(Sample::latencyNanos)).orElseThrow();
        return new Stats(lat.length, lat[lat.length - 1] / 1e6, lat[Math.max(0, rank)] / 1e6, worst,
                longest.startMillis() - fromMs, worstAt);
    }

    /**
     * Parses fio's latency log ({@code time, nanoseconds, direction, bytes, offset[, priority]} per
     * line). Lines that are not such are an error naming them: a silently short log would make a
     * stall look like a quiet writer.
     */
    public static List<Sample> parseFioLog(List<String> lines) {
        return lines.stream().filter(l -> !l.isBlank()).map(l -> {
            String[] f = l.split(",");
            if (f.length < 5) {
                throw new IllegalArgumentException("fio latency log line '" + l + "' (expected: time, ns, dir, bytes, offset, ...)");
            }
            try {
                return new Sample(Long.parseLong(f[0].strip()), Long.parseLong(f[1].strip()), Long.parseLong(f[3].strip()),
                        Long.parseLong(f[4].strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("fio latency log line '" + l + "': " + e.getMessage());
            }
        }).toList();
    }

    /**
     * The byte ranges of the writes that may have landed after {@code sinceMillis} (completed at or
     * after it): the source may differ from a copy taken then, there and only there.
     */
    static List<long[]> writtenSince(List<Sample> samples, long sinceMillis) {
        return samples.stream().filter(s -> s.endMillis() >= sinceMillis)
                .map(s -> new long[] {s.offset(), s.offset() + s.bytes()}).toList();
    }
}
