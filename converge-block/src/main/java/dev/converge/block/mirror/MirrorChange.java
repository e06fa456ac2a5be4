package dev.converge.block.mirror;

import dev.converge.qmp.schema.QmpDoc;
import java.util.Optional;

/**
 * What job-change may set on a mirror job (QEMU's JobChangeOptionsMirror); declared once, the
 * QMP variant is derived from it.
 *
 * @param copyMode the new copy mode; empty: unchanged
 */
@QmpDoc("The mirror's job-change options.")
public record MirrorChange(
        @QmpDoc("the new copy mode; only background → write-blocking") Optional<MirrorCopyMode> copyMode) {
}
