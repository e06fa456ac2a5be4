package dev.converge.qmp.schema;

import java.util.Objects;

/**
 * One QMP event, declared once.
 *
 * @param name  the event name, e.g. "JOB_STATUS_CHANGE"
 * @param data  the type of its {@code data} member
 * @param doc   when it is emitted
 * @param since the converge version that introduced it
 */
public record EventSpec(String name, ObjectType data, String doc, String since) {
    public EventSpec {
        Objects.requireNonNull(name);
        Objects.requireNonNull(data);
        doc = doc == null ? "" : doc;
    }
}
