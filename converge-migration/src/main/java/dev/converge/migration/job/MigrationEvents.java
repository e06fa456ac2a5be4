package dev.converge.migration.job;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.EventSink;

/**
 * QEMU's MIGRATION and MIGRATION_PASS events, sent only while the {@code events} capability is
 * on (read from the settings on the main loop at the start of a migration; passed in here as a
 * snapshot). Thread-safe: the sink only enqueues.
 */
public final class MigrationEvents {
    private final EventSink sink;
    private final boolean enabled;

    public MigrationEvents(EventSink sink, boolean enabled) {
        this.sink = sink;
        this.enabled = enabled;
    }

    /** MIGRATION {status}. */
    public void status(MigrationStatus s) {
        if (enabled) {
            ObjectNode data = JsonNodeFactory.instance.objectNode();
            data.put("status", s.wireName());
            sink.emit("MIGRATION", data);
        }
    }

    /** MIGRATION_PASS {pass}. */
    public void pass(long pass) {
        if (enabled) {
            ObjectNode data = JsonNodeFactory.instance.objectNode();
            data.put("pass", pass);
            sink.emit("MIGRATION_PASS", data);
        }
    }
}
