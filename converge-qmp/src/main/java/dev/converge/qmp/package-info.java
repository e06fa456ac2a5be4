/**
 * QMP as a daemon serves it: the {@link dev.converge.qmp.MainLoop} every command runs on, the
 * {@link dev.converge.qmp.QmpRegistry} each module registers its commands and events in,
 * validated {@link dev.converge.qmp.Args}, user-facing errors ({@link dev.converge.qmp.QmpException},
 * {@link dev.converge.qmp.ErrorClass}) and the {@link dev.converge.qmp.EventSink}. Subpackages:
 * {@code wire} (codecs), {@code schema} (types, validation, introspection, docs/qmp.md),
 * {@code server}, {@code client}, {@code sockets} (socket addresses), {@code objects}
 * (object-add).
 *
 * <p>Owns: the protocol and its single-threaded execution model. Must not: depend on any other
 * converge module, or know any command beyond the core ones; every other module depends on this
 * one. See docs/architecture.md.
 */
package dev.converge.qmp;
