/**
 * A QMP client for the CLI, tests and benchmarks ({@link dev.converge.qmp.client.QmpClient}):
 * negotiates, runs commands concurrently (replies matched by id), delivers events to listeners,
 * and fails with one typed exception per cause (command error, timeout, connection).
 *
 * <p>Must not: be used by the daemon to talk to itself, or parse addresses itself (it takes a
 * {@link dev.converge.qmp.sockets.SocketAddress}).
 */
package dev.converge.qmp.client;
