package dev.converge.daemon.cli;

import java.util.Locale;

/**
 * Renders one line of a job's progress: {@code [######------]  50%  status}. A pure function so
 * that it can be tested; the caller decides when to redraw.
 * <p>
 * A job's total may shrink or grow while it runs (dirty data adds work), so the bar shows the
 * ratio of the moment and clamps it to [0, 100].
 */
public final class ProgressBar {
    private ProgressBar() {
    }

    /**
     * @param label   shown first (the job id), padded to {@code labelWidth}
     * @param width   number of cells inside the brackets
     * @param current work done
     * @param total   current estimate of all work; 0 when unknown
     * @param status  the job status, shown last
     */
    public static String render(String label, int labelWidth, int width, long current, long total, String status) {
        double ratio = total <= 0 ? 0 : Math.min(1.0, Math.max(0.0, (double) current / total));
        int filled = (int) Math.floor(ratio * width);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-" + Math.max(1, labelWidth) + "s ", label));
        sb.append('[');
        sb.append("#".repeat(filled));
        sb.append("-".repeat(width - filled));
        sb.append(']');
        sb.append(String.format(Locale.ROOT, " %3d%%", (int) Math.floor(ratio * 100)));
        sb.append(String.format(Locale.ROOT, " %10s / %-10s", Units.bytes(current), Units.bytes(total)));
        sb.append(' ').append(status);
        return sb.toString();
    }
}
