package dev.converge.daemon.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class JobBoardTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final StringWriter text = new StringWriter();
    private final JobBoard board = new JobBoard(new PrintWriter(text), false);

    private static JsonNode json(String s) throws Exception {
        return JSON.readTree(s);
    }

    private void poll(String id, String status, long current, long total) throws Exception {
        board.onQueryJobs(json("[{\"id\": \"" + id + "\", \"type\": \"migration\", \"status\": \"" + status
                + "\", \"current-progress\": " + current + ", \"total-progress\": " + total + "}]"));
    }

    private void event(String id, String status) throws Exception {
        board.onEvent(json("{\"event\": \"JOB_STATUS_CHANGE\", \"data\": {\"id\": \"" + id + "\", \"status\": \"" + status + "\"}}"));
    }

    @Test
    void aCommittedJobEndsAtItsFullTotalThoughTheLastPollCameEarlier() throws Exception {
        poll("migration", "ready", 95, 100);
        event("migration", "waiting");
        event("migration", "pending");
        event("migration", "concluded");
        event("migration", "null"); // auto-dismissed: the next poll will not list it
        JobBoard.Row r = board.rows().getFirst();
        assertThat(r.current).isEqualTo(100);
        assertThat(r.status).isEqualTo("concluded");
        assertThat(board.allConcluded()).isTrue();
        assertThat(text.toString()).contains("migration: concluded");
    }

    @Test
    void anAbortedJobKeepsWhatItReallyDid() throws Exception {
        poll("mirror0", "running", 40, 100);
        event("mirror0", "aborting");
        event("mirror0", "concluded");
        JobBoard.Row r = board.rows().getFirst();
        assertThat(r.current).isEqualTo(40);
        assertThat(board.anyAborted()).isTrue();
    }
}
