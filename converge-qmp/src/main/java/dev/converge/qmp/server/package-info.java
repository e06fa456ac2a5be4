/**
 * The QMP server: listeners ({@link dev.converge.qmp.server.QmpServer}), one reader and one writer
 * thread per client with an ordered, bounded outbound queue
 * ({@link dev.converge.qmp.server.QmpConnection}), dispatch on the main loop as QEMU's
 * qmp-dispatch.c ({@link dev.converge.qmp.server.QmpDispatcher}) and the core commands
 * ({@link dev.converge.qmp.server.QmpCoreCommands}).
 *
 * <p>Owns: connections and the order of replies and events. Must not: run a command off the
 * main loop, let one slow or malformed client affect another, or know module commands.
 */
package dev.converge.qmp.server;
