/**
 * The QMP schema as QEMU's QAPI knows it: types ({@link dev.converge.qmp.schema.SchemaType} and
 * its builtins, enums, arrays, structs, flat unions, alternates), command and event declarations
 * ({@link dev.converge.qmp.schema.CommandSpec}, {@link dev.converge.qmp.schema.EventSpec}),
 * argument validation with QEMU's texts ({@link dev.converge.qmp.schema.SchemaValidator}),
 * {@code query-qmp-schema} ({@link dev.converge.qmp.schema.SchemaIntrospection}) and the Markdown
 * reference docs/qmp.md ({@link dev.converge.qmp.schema.SchemaDocs}).
 *
 * <p>Owns: one declaration per command, from which validation, introspection and documentation
 * are all derived. Must not: run commands, or hold state beyond the declarations.
 */
package dev.converge.qmp.schema;
