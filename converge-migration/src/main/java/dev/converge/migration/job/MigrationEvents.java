package dev.converge.migration.job;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.migration.precopy.FrozenRamCheck;
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

    /**
     * X_CONVERGE_RAM_CHECK {status, mismatched-pages, description}: the source's frozen RAM
     * differs from what it sent. Sent whatever the events capability says: it means the
     * destination's guest is not the source's (see {@code FrozenRamCheck}).
     */
    public void ramCheckFailed(FrozenRamCheck.Result r) {
        sink.emit("X_CONVERGE_RAM_CHECK", ramCheck(r));
    }

    /** An XConvergeRamCheck: the event's data, and query-migrate's x-converge-ram-check. */
    public static ObjectNode ramCheck(FrozenRamCheck.Result r) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.put("status", r.status().wireName());
        data.put("mismatched-pages", r.mismatchedPages());
        data.put("description", r.describe());
        return data;
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
