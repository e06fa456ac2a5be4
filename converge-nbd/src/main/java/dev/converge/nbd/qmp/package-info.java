/**
 * The NBD server's QMP commands as QEMU has them (nbd-server-start/stop, block-export-add/del,
 * nbd-server-add, query-block-exports, BLOCK_EXPORT_DELETED), and their QAPI types.
 * Wiring: {@code NbdQmp.register(registry, events, blockGraph, userObjects)} on the daemon's main loop.
 *
 * <p>Must not: hold protocol logic; it translates QMP to the server and exports and back, on the main loop.
 */
package dev.converge.nbd.qmp;
