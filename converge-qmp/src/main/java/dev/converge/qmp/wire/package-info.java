/**
 * The QMP wire protocol as pure codecs: {@link dev.converge.qmp.wire.QmpFramer} splits bytes into
 * JSON texts, {@link dev.converge.qmp.wire.QmpJson} parses and prints them,
 * {@link dev.converge.qmp.wire.QmpRequest} checks a request's envelope and
 * {@link dev.converge.qmp.wire.QmpMessages} builds what the server sends.
 * <p>
 * The exchange (QEMU's docs/interop/qmp-spec.rst; every message is one JSON text, we end each
 * with CR LF):
 * <pre>
 * client                                  server
 *   |  ---------- connect ---------------->  |
 *   |  &lt;--- {"QMP": {"version": .., "capabilities": []}}
 *   |  --- {"execute": "qmp_capabilities"} -> |   (anything else: CommandNotFound)
 *   |  &lt;--- {"return": {}}                 |
 *   |  --- {"execute": C, "arguments": A, "id": I} -->
 *   |  &lt;--- {"event": E, "data": .., "timestamp": ..}   (events C caused, first)
 *   |  &lt;--- {"return": R, "id": I}  or  {"error": {"class": K, "desc": D}, "id": I}
 *   |  &lt;--- {"event": ...}                  (at any time after negotiation)
 * </pre>
 * <b>Versioning.</b> The greeting carries the QEMU version whose QMP we follow; commands and
 * members are only ever added (additive changes keep the version), as QEMU does; removing or
 * changing the meaning of one would be a breaking change and bump it.
 *
 * <p>Must not: do I/O or know commands.
 */
package dev.converge.qmp.wire;
