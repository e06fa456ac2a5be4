package dev.converge.block.mirror;

import dev.converge.qmp.schema.QmpDoc;

/**
 * The mirror's own members of its query-jobs entry (QEMU's JobInfoMirror plus converge's
 * progress detail); declared once, the QMP variant is derived from it.
 */
@QmpDoc("The mirror's query-jobs members.")
public record MirrorInfo(
        @QmpDoc("the current copy mode") MirrorCopyMode copyMode,
        @QmpDoc("write-blocking mode and in sync: guest writes reach the target before they complete")
        boolean activelySynced,
        @QmpDoc("bytes dirty now and still to copy") long dirtyBytes,
        @QmpDoc("bytes of copy operations in flight") long bytesInFlight) {
}
