/**
 * NBD for converge: the protocol ({@code wire}), what client and server share ({@code transport}:
 * plain and TLS byte transports, TLS configuration), the server ({@code server}) and exports of
 * block nodes ({@code export}), the client ({@code client}) and the {@code nbd} block driver over
 * it ({@code driver}), and the QMP commands ({@code qmp}).
 *
 * <p>Dependency rules inside the module: {@code wire} depends on nothing; {@code transport} on
 * {@code wire}; {@code client} and {@code server} on both but never on each other ({@code server}
 * also binds its listening socket with {@code dev.converge.qmp.net.ListeningSocket}, generic socket
 * code shared with the QMP server, and nothing else of converge-qmp);
 * {@code driver} on {@code client}, never on {@code qmp} or {@code server}; {@code qmp} wires
 * the rest. The module must not know migration. See docs/architecture.md, section 7.
 */
package dev.converge.nbd;
