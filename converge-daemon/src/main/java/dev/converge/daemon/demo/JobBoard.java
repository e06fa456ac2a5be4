package dev.converge.daemon.demo;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.daemon.cli.ProgressBar;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The demo's live view: one progress bar per job, fed with query-jobs results and job events.
 * On a terminal the bars are redrawn in place; otherwise a line is printed when a job's status
 * changes, so logs stay short. Also remembers, per job, when it was seen ready and concluded,
 * and its last progress, for the summary (jobs vanish from query-jobs once auto-dismissed).
 * Guarded by {@code this}: events arrive on the QMP client's reader thread.
 */
final class JobBoard {
    /** What the board knows of one job. */
    static final class Row {
        final String id;
        String type = "";
        String status = "created";
        long current;
        long total;
        String error = "";
        long startedNanos;
        long readyNanos;
        long concludedNanos;
        boolean aborted;

        Row(String id, long now) {
            this.id = id;
            this.startedNanos = now;
        }
    }

    private final PrintWriter out;
    private final boolean tty;
    private final Map<String, Row> rows = new LinkedHashMap<>();
    private int drawnLines;

    JobBoard(PrintWriter out, boolean tty) {
        this.out = out;
        this.tty = tty;
    }

    synchronized Row row(String id) {
        return rows.computeIfAbsent(id, k -> new Row(k, System.nanoTime()));
    }

    synchronized void onQueryJobs(JsonNode jobs) {
        for (JsonNode j : jobs) {
            Row r = row(j.path("id").asText());
            r.type = j.path("type").asText();
            r.current = Math.max(r.current, j.path("current-progress").asLong());
            r.total = j.path("total-progress").asLong();
            if (j.hasNonNull("error")) {
                r.error = j.get("error").asText();
            }
            status(r, j.path("status").asText());
        }
        redraw();
    }

    /** JOB_STATUS_CHANGE: keeps ready/concluded times exact even between two polls. */
    synchronized void onEvent(JsonNode event) {
        if (!"JOB_STATUS_CHANGE".equals(event.path("event").asText())) {
            return;
        }
        Row r = row(event.path("data").path("id").asText());
        status(r, event.path("data").path("status").asText());
    }

    private void status(Row r, String s) {
        if (s.equals(r.status)) {
            return;
        }
        long now = System.nanoTime();
        if (s.equals("ready") && r.readyNanos == 0) {
            r.readyNanos = now;
        }
        if (s.equals("aborting")) {
            r.aborted = true;
        }
        if ((s.equals("concluded") || s.equals("null")) && r.concludedNanos == 0) {
            r.concludedNanos = now;
            if (!r.aborted) {
                // Committed: all its work is done. The last poll may predate the final steps (the
                // job is auto-dismissed before the next one), so the bar would stop short of 100 %.
                r.current = Math.max(r.current, r.total);
            }
        }
        if (!s.equals("null")) {
            r.status = s;
        }
        if (!tty) {
            out.println("  " + r.id + ": " + s);
            out.flush();
        }
    }

    synchronized boolean allReady() {
        return !rows.isEmpty() && rows.values().stream().allMatch(r -> r.readyNanos != 0);
    }

    synchronized boolean allConcluded() {
        return !rows.isEmpty() && rows.values().stream().allMatch(r -> r.concludedNanos != 0);
    }

    synchronized boolean anyAborted() {
        return rows.values().stream().anyMatch(r -> r.aborted);
    }

    synchronized java.util.List<Row> rows() {
        return java.util.List.copyOf(rows.values());
    }

    /**
     * Prints a line above the bars: on a terminal the bars are erased, the line printed and the
     * bars drawn again below it, so that cursor movements never overwrite text.
     */
    synchronized void message(String line) {
        if (tty && drawnLines > 0) {
            out.print("\u001b[" + drawnLines + "F\u001b[J");
            drawnLines = 0;
            out.println(line);
            redraw();
        } else {
            out.println(line);
            out.flush();
        }
    }

    /** Redraws the bars in place (terminal only). */
    synchronized void redraw() {
        if (!tty) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        if (drawnLines > 0) {
            sb.append("\u001b[").append(drawnLines).append('F');
        }
        int width = rows.keySet().stream().mapToInt(String::length).max().orElse(4);
        for (Row r : rows.values()) {
            sb.append("\u001b[2K").append(ProgressBar.render(r.id, width, 30, r.current, r.total, r.status)).append('\n');
        }
        drawnLines = rows.size();
        out.print(sb);
        out.flush();
    }
}
