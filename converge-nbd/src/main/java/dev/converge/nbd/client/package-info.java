/**
 * The NBD client: a connection that drives the fixed-newstyle handshake (STARTTLS, structured
 * replies, base:allocation, GO) and pipelines requests with replies matched by cookie on a reader
 * thread; reconnects as QEMU's reconnect-delay says.
 *
 * <pre>
 *  client                                 server
 *    | &lt;-- greeting (NBDMAGIC, IHAVEOPT, flags)  |
 *    | --&gt; client flags (FIXED_NEWSTYLE, NO_ZEROES)|
 *    | --&gt; STARTTLS ; &lt;-- ACK ; TLS handshake     |   (with tls-creds)
 *    | --&gt; STRUCTURED_REPLY ; &lt;-- ACK             |
 *    | --&gt; SET_META_CONTEXT base:allocation       |
 *    | &lt;-- META_CONTEXT id ; ACK                  |
 *    | --&gt; GO export [BLOCK_SIZE]                 |
 *    | &lt;-- INFO export/size/flags ; INFO sizes ; ACK
 *    | ==&gt; requests (up to maxInFlight) ==&gt;       |
 *    | &lt;== replies/chunks, any order, by cookie   |
 *    | --&gt; DISC                                   |
 * </pre>
 *
 * <p>Must not: import the server ({@code nbd.server}); what both sides share is in {@code nbd.transport}.
 */
package dev.converge.nbd.client;
