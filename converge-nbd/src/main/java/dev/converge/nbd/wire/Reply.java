package dev.converge.nbd.wire;

/** A transmission reply as the client sees it: a simple reply or one structured chunk. */
public sealed interface Reply permits SimpleReply, StructuredChunk {
    /** The cookie of the request this answers. */
    long cookie();
}
