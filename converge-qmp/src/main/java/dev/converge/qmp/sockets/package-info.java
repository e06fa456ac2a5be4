/**
 * Socket addresses as QEMU has them (qapi/sockets.json): {@link dev.converge.qmp.sockets.SocketAddress}
 * with its {@code inet} and {@code unix} variants, read from the strings users type
 * ({@link dev.converge.qmp.sockets.SocketAddressText}: {@code unix:PATH}, {@code tcp:HOST:PORT},
 * {@code [::1]} brackets) and from QMP dictionaries ({@link dev.converge.qmp.sockets.SocketAddressQmp},
 * which also holds the QAPI types), and printed back.
 *
 * <p>Owns: every parse and print of a socket address in converge (QMP listeners and clients, the
 * NBD server and client, migration URIs and channels, daemon options) and their error texts,
 * QEMU's where QEMU has one. Must not: open sockets (callers bind and connect the
 * {@link dev.converge.qmp.sockets.SocketAddress#resolve() resolved} address), or know which module
 * uses an address; no other package parses HOST:PORT or builds these dictionaries by hand.
 */
package dev.converge.qmp.sockets;
