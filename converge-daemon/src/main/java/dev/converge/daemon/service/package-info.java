/**
 * Running converged as a service: {@link dev.converge.daemon.service.PidFile} (--pidfile, locked
 * as QEMU does), {@link dev.converge.daemon.service.SystemdNotify} (sd_notify's datagram through
 * FFM, since the JDK has no UNIX datagram channel) and {@link dev.converge.daemon.service.Daemonize}
 * (--daemonize without fork: the command line again, in its own session, readiness over a pipe).
 */
package dev.converge.daemon.service;
