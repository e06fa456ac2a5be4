package dev.converge.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Where modules send QMP events. The server stamps each with the time it was emitted and
 * delivers it to every negotiated client, in the order of the calls to {@link #emit}.
 * Callers that need a total order across threads (job status changes) call it while holding
 * the lock that orders their changes; the sink itself only enqueues and never blocks long.
 */
@FunctionalInterface
public interface EventSink {
    /**
     * @param event a name declared with {@link dev.converge.qmp.schema.EventSpec}
     * @param data  the event's data; null for events without data
     */
    void emit(String event, ObjectNode data);
}
