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
 */
package dev.converge.daemon;
