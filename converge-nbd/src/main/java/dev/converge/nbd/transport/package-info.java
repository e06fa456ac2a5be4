/**
 * What the NBD client and server share below the protocol: the byte transport of a connection
 * ({@link dev.converge.nbd.transport.Transport}: {@link dev.converge.nbd.transport.PlainTransport}
 * over a socket channel, {@link dev.converge.nbd.transport.TlsTransport} over an
 * {@code SSLEngine} after STARTTLS), and TLS configuration ({@link dev.converge.nbd.transport.NbdTlsConfig}:
 * the {@code SSLContext} built from a tls-creds-x509 directory by
 * {@link dev.converge.nbd.transport.PemFiles}, peer verification, authorization, protocol versions).
 *
 * <p>Must not: import the client or the server (both import this package), or know the NBD
 * messages beyond what {@code nbd.wire} gives.
 */
package dev.converge.nbd.transport;
