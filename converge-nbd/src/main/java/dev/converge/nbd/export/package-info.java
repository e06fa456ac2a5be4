/**
 * Exports of block nodes: the adapter from a block node (through a block backend, so through the
 * node's one write path) to the NBD server's backend interface, and the errno mappings between the
 * block layer and NBD.
 *
 * <p>Must not: bypass the node's write path, or know the wire format.
 */
package dev.converge.nbd.export;
