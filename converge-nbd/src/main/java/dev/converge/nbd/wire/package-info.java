/**
 * The NBD wire format (fixed newstyle handshake, simple and structured replies) as pure functions:
 * records with named constructors, {@code encode} and {@code decode}, big-endian, every peer-supplied
 * length checked against a named maximum in {@link dev.converge.nbd.wire.NbdProtocol} before anything
 * is allocated. Decoders return null ("need more") without consuming a partial frame.
 *
 * <pre>
 *  client                                   server
 *    │ ◀── NBDMAGIC IHAVEOPT flags ──────────── │   ServerGreeting
 *    │ ─── client flags ───────────────────────▶ │   ClientFlags
 *    │ ─── IHAVEOPT opt len data ──────────────▶ │   OptionRequest  (STARTTLS, LIST, INFO,
 *    │ ◀── REPLY_MAGIC opt type len data ─────── │   OptionReply     STRUCTURED_REPLY, *_META_CONTEXT)
 *    │          ... more options ...              │
 *    │ ─── GO(name, infos) ────────────────────▶ │
 *    │ ◀── INFO* ACK ─────────────────────────── │   (or EXPORT_NAME ◀── ExportNameReply)
 *    │ ═══ transmission ═════════════════════════ │
 *    │ ─── REQUEST_MAGIC flags type cookie off len [payload] ─▶ │  Request (pipelined)
 *    │ ◀── simple reply, or structured chunks ... DONE (any order across cookies) ── │
 *    │ ─── DISC ──────────────────────────────▶ │   server drains in-flight replies, closes
 * </pre>
 *
 * <p>Versioning: NBD negotiates features, not versions. We add what peers offer (new options, reply
 * types) as additive enum members; an unknown code stays a typed error for the caller to answer
 * (ERR_UNSUP, EINVAL) and never silently becomes a default.
 *
 * <p>Must not: do I/O or depend on any other package of converge.
 */
package dev.converge.nbd.wire;
