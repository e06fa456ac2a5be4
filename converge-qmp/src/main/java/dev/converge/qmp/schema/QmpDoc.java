package dev.converge.qmp.schema;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The QMP documentation of a record that {@link RecordType} maps to a QMP struct, and of each of
 * its components: what it means (and, for a member that may be absent, what absence means). The
 * member's wire name is the component's name in kebab case ({@code dirtyBytes} → {@code
 * dirty-bytes}); its type follows from the Java type unless {@link #type()} names a QAPI builtin.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.RECORD_COMPONENT})
public @interface QmpDoc {
    /** The documentation text, as docs/qmp.md shows it. */
    String value();

    /**
     * The QAPI builtin type of an integer member when it is not {@code int} (e.g. {@code uint64},
     * {@code size}); empty: derived from the Java type.
     */
    String type() default "";
}
