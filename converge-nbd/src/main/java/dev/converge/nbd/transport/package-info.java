/**
 * NBD's TLS configuration ({@link dev.converge.nbd.transport.NbdTlsConfig}: peer verification,
 * authorization, protocol versions). The byte transports ({@code Transport}, {@code PlainTransport},
 * {@code TlsTransport}) and the SSL contexts from a tls-creds-x509 directory live in
 * {@code dev.converge.qmp.tls}, shared with QMP and migration.
 *
 * <p>Must not: import the client or the server (both import this package), or know the NBD
 * messages beyond what {@code nbd.wire} gives.
 */
package dev.converge.nbd.transport;
