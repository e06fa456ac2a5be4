/**
 * TLS for every connection converge opens or accepts, shared by QMP, the NBD client and server and
 * migration: SSL contexts from a {@code tls-creds-x509} directory
 * ({@link dev.converge.qmp.tls.TlsContexts}, {@link dev.converge.qmp.tls.PemFiles}), a byte
 * transport over an {@code SSLEngine} that works on TCP and UNIX sockets alike
 * ({@link dev.converge.qmp.tls.Transport}, {@link dev.converge.qmp.tls.PlainTransport},
 * {@link dev.converge.qmp.tls.TlsTransport}), and that transport as a blocking channel with
 * gathering writes for streams that start in TLS ({@link dev.converge.qmp.tls.SecureChannel}:
 * the migration's main channel and return path, and every multifd channel, secured where the
 * connection is opened or accepted).
 *
 * <p>Must not: know a protocol above the bytes (NBD's STARTTLS and authorization lists stay in
 * {@code nbd.transport}; tls-authz objects are {@code qmp.objects}').
 */
package dev.converge.qmp.tls;
