/**
 * The NBD server: {@link dev.converge.nbd.server.NbdServer} serves {@link dev.converge.nbd.server.NbdExport}s,
 * each backed by an {@link dev.converge.nbd.server.NbdExportBackend} ({@code dev.converge.nbd.export} adapts
 * block nodes to it).
 *
 * <pre>
 *  acceptor thread ──accept──▶ Connection (platform thread per connection)
 *                                 │ greeting, client flags
 *                                 │ loop: OptionRequest ─▶ Handshake.step(state, option) ─▶ replies [+ STARTTLS upgrade]
 *                                 ▼
 *                              Transmission (same thread = the only reader)
 *                                 │ RequestDecoder ─▶ validate ─▶ RequestThreads (≤ maxInFlight)
 *                                 │                                   │ backend I/O
 *                                 │                                   ▼
 *                                 │                              ReplyWriter (one chunk at a time, any order)
 *                                 ▼ DISC / EOF / framing error: wait for in-flight replies, close
 * </pre>
 *
 * <p>Errors of a request become the protocol's errno (EINVAL, EPERM, ENOSPC, EOVERFLOW, ENOTSUP, EIO) on
 * the same connection; framing errors and broken sockets end that connection only; nothing a client sends
 * ends the server. {@code NbdServer.close()} closes every socket and joins every connection thread.
 *
 * <p>Must not: import the client, the block layer or QMP; exports reach block nodes only through {@link dev.converge.nbd.server.NbdExportBackend}.
 */
package dev.converge.nbd.server;
