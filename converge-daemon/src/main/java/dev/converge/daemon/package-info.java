/**
 * {@code converged}: the process that wires the modules together
 * ({@link dev.converge.daemon.Daemon}: main loop, QMP server, job engine, block graph, NBD,
 * migration, user objects, in that order; shutdown in reverse) and its command line
 * ({@link dev.converge.daemon.Converged}: {@code --qmp}, {@code --blockdev}, {@code --machine},
 * {@code --incoming}, {@code -S}, {@code --qmp-reference}). Subpackages: {@code cli} (the
 * {@code converge} command), {@code demo}, {@code launch} (child daemons).
 *
 * <p>Owns: construction order and process lifecycle. Must not: implement protocol, block or job
 * logic, or register commands of its own beyond {@code quit}; each module registers its own.
 * See docs/architecture.md.
 *
 * <p>converged: the daemon's command line ({@link dev.converge.daemon.Converged}: QMP addresses,
 * qemu-storage-daemon's options, machine, pid file, daemonize, systemd readiness, log level,
 * metrics), its logging ({@link dev.converge.daemon.LogSetup} binds SLF4J to
 * {@link dev.converge.daemon.StderrLogProvider}; {@link dev.converge.daemon.EventLog} writes one line per job transition) and the wiring of the
 * modules ({@link dev.converge.daemon.Daemon}: each module registers its own QMP commands; start-up
 * calls run in command-line order before the first QMP command is served: the sockets listen and
 * greet while the main loop builds the modules, and commands queue behind that).
 *
 * <p>Start-up cost is watched by {@code ./bin/bench startup} (docs/benchmarks.md): the common
 * command lines are read without picocli ({@link dev.converge.daemon.QuickOptions}, as the CLI's
 * {@code QuickPath}), signals are handled from before the start
 * ({@link dev.converge.daemon.SignalShutdown}).
 */
package dev.converge.daemon;
