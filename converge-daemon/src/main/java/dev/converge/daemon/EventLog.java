package dev.converge.daemon;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.EventSink;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every module's events pass through here on their way to the QMP server: each job transition
 * becomes one INFO line ({@code job 'm0': ready (was running)}), every other event a DEBUG line.
 * The log is the operator's record of what happened when no client was connected.
 * Thread-safe: the previous status of each job is kept in a concurrent map (emit is called by
 * whoever changes a job, under the job's own lock, so per job the calls are ordered).
 */
final class EventLog implements EventSink {
    private static final Logger log = LoggerFactory.getLogger("converged.jobs");

    private final EventSink next;
    private final Map<String, String> jobStatus = new ConcurrentHashMap<>();

    EventLog(EventSink next) {
        this.next = next;
    }

    @Override
    public void emit(String event, ObjectNode data) {
        if ("JOB_STATUS_CHANGE".equals(event) && data != null) {
            String id = data.path("id").asText();
            String status = data.path("status").asText();
            String was = status.equals("null") ? jobStatus.remove(id) : jobStatus.put(id, status);
            if (status.equals("null")) {
                log.info("job '{}': dismissed", id);
            } else {
                log.info("job '{}': {}{}", id, status, was == null ? "" : " (was " + was + ")");
            }
        } else if (log.isDebugEnabled()) {
            log.debug("event {} {}", event, data == null ? "" : data);
        }
        next.emit(event, data);
    }
}
