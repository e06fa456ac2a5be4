package dev.converge.qmp;

import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EventSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The one table of QMP commands and events of a daemon. Each module registers its own at
 * wiring time; dispatch, query-commands and query-qmp-schema read from here.
 * <p>
 * Guarded by {@code this}: registration happens at start-up (and when a module adds a job
 * type, which re-declares a union), lookups on every command; both are short.
 */
public final class QmpRegistry {
    private final Map<String, CommandSpec> commands = new LinkedHashMap<>();
    private final Map<String, EventSpec> events = new LinkedHashMap<>();

    /** Adds a command; a second command of the same name is a wiring bug. */
    public synchronized void register(CommandSpec spec) {
        if (commands.putIfAbsent(spec.name(), spec) != null) {
            throw new IllegalStateException("command registered twice: " + spec.name());
        }
    }

    /** Replaces the declaration of an already registered command (e.g. a union gained a variant). */
    public synchronized void replace(CommandSpec spec) {
        if (commands.replace(spec.name(), spec) == null) {
            throw new IllegalStateException("command not registered: " + spec.name());
        }
    }

    /** Adds an event; a second event of the same name is a wiring bug. */
    public synchronized void register(EventSpec spec) {
        if (events.putIfAbsent(spec.name(), spec) != null) {
            throw new IllegalStateException("event registered twice: " + spec.name());
        }
    }

    /** Replaces the declaration of an already registered event. */
    public synchronized void replace(EventSpec spec) {
        if (events.replace(spec.name(), spec) == null) {
            throw new IllegalStateException("event not registered: " + spec.name());
        }
    }

    public synchronized Optional<CommandSpec> command(String name) {
        return Optional.ofNullable(commands.get(name));
    }

    public synchronized Optional<EventSpec> event(String name) {
        return Optional.ofNullable(events.get(name));
    }

    /** All commands, in registration order. */
    public synchronized List<CommandSpec> commands() {
        return new ArrayList<>(commands.values());
    }

    /** All events, in registration order. */
    public synchronized List<EventSpec> events() {
        return new ArrayList<>(events.values());
    }
}
