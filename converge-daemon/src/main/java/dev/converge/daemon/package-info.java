/**
 * converged: the daemon's command line ({@link dev.converge.daemon.Converged}: QMP addresses,
 * qemu-storage-daemon's options, machine, pid file, daemonize, systemd readiness, log level,
 * metrics), its logging ({@link dev.converge.daemon.LogSetup} configures slf4j-simple;
 * {@link dev.converge.daemon.EventLog} writes one line per job transition) and the wiring of the
 * modules ({@link dev.converge.daemon.Daemon}: each module registers its own QMP commands; start-up
 * calls run in command-line order before QMP is served).
 */
package dev.converge.daemon;
