/**
 * The NBD server: {@link dev.converge.nbd.server.NbdServer} serves {@link dev.converge.nbd.server.NbdExport}s,
 * each backed by an {@link dev.converge.nbd.server.NbdExportBackend} ({@code dev.converge.nbd.export} adapts
 * block nodes to it).
 *
 * <pre>
 *  acceptor thread ──accept (only while below max-connections)──▶ Connection
 *                                 │ virtual thread: greeting, client flags (HandshakeTimer closes it at the limit)
 *                                 │ loop: OptionRequest ─▶ Handshake.step(state, option) ─▶ replies [+ STARTTLS upgrade]
 *                                 ▼
 *                              Transmission (a platform thread per connection = the only reader)
 *                                 │ RequestDecoder ─▶ ConnectionMemory (share of RequestMemory, else ENOMEM)
 *                                 │                ─▶ validate ─▶ RequestThreads (≤ maxInFlight)
 *                                 │                                   │ backend I/O
 *                                 │                                   ▼
 *                                 │                              ReplyWriter (queued; whoever finds it free sends all, any order)
 *                                 ▼ DISC / EOF / framing error: wait for in-flight replies, close
 * </pre>
 *
 * <p>Headers: compact (simple and structured replies) or, after NBD_OPT_EXTENDED_HEADERS, 32-byte
 * extended requests and replies with 64-bit lengths ({@link dev.converge.nbd.server.ReplyWriter}).
 *
 * <p>READ data: a READ over 64 KiB on a plain socket whose backend names the bytes as a host file region
 * ({@link dev.converge.nbd.server.NbdExportBackend#fileRegion}) is sent with sendfile from the page cache, the
 * header first and then the file's bytes under the writer's lock; what the socket does not take at once goes
 * out through the request's buffer. Smaller reads, TLS and other backends read into the buffer and write it.
 *
 * <p>Resource limits against hostile or broken clients: a process-wide budget of request buffers with a
 * per-connection share (a request without memory waits, then gets ENOMEM), a handshake time limit,
 * max-connections with further clients waiting in a somaxconn-sized backlog, TCP keep-alive, and UNIX
 * sockets made private before they are reachable ({@link dev.converge.qmp.net.ListeningSocket}).
 *
 * <p>Errors of a request become the protocol's errno (EINVAL, EPERM, ENOSPC, EOVERFLOW, ENOTSUP, ENOMEM, EIO) on
 * the same connection; framing errors and broken sockets end that connection only; nothing a client sends
 * ends the server. {@code NbdServer.close()} closes every socket and joins every connection thread.
 *
 * <p>Must not: import the client, the block layer or QMP; exports reach block nodes only through {@link dev.converge.nbd.server.NbdExportBackend}.
 */
package dev.converge.nbd.server;
