/**
 * The {@code nbd} block driver: a block node over an {@link dev.converge.nbd.client.NbdClient}.
 *
 * <p>Must not: import {@code nbd.qmp} or {@code nbd.server}; socket addresses come from
 * {@code dev.converge.qmp.sockets}, TLS credentials from {@code dev.converge.qmp.objects}.
 */
package dev.converge.nbd.driver;
