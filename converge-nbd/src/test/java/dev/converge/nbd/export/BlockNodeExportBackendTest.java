package dev.converge.nbd.export;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdProtocol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The pure parts of the export adapter: flag and errno mappings, dirty bitmap runs. */
class BlockNodeExportBackendTest {

    @Test
    void allocationFlagsAsQemusNbdServer() {
        int data = dev.converge.block.Extent.DATA | dev.converge.block.Extent.ALLOCATED;
        int zero = dev.converge.block.Extent.ZERO | dev.converge.block.Extent.ALLOCATED;
        assertThat(BlockNodeExportBackend.allocationFlags(new dev.converge.block.Extent(0, 1, data))).isZero();
        assertThat(BlockNodeExportBackend.allocationFlags(new dev.converge.block.Extent(0, 1, zero)))
                .isEqualTo(NbdProtocol.STATE_HOLE | NbdProtocol.STATE_ZERO);
        assertThat(BlockNodeExportBackend.allocationFlags(new dev.converge.block.Extent(0, 1,
                data | dev.converge.block.Extent.ZERO))).isEqualTo(NbdProtocol.STATE_ZERO);
    }

    @Test
    void dirtyRunsAreClippedToTheRequest() {
        DirtyBitmap b = new DirtyBitmap("b", 65536, 1 << 20);
        b.setDirty(65536, 2 * 65536);
        assertThat(BlockNodeExportBackend.dirtyExtents(b, 0, 1 << 20)).containsExactly(
                Extent.clean(65536), Extent.dirty(2 * 65536), Extent.clean((1 << 20) - 3 * 65536));
        assertThat(BlockNodeExportBackend.dirtyExtents(b, 70000, 4096)).containsExactly(Extent.dirty(4096));
        assertThat(BlockNodeExportBackend.dirtyExtents(b, 65536 * 3 - 10, 20)).containsExactly(
                Extent.dirty(10), Extent.clean(10));
    }

    @ParameterizedTest
    @EnumSource(Errno.class)
    void everyBlockErrnoHasAnNbdKindThatKeepsTheMessage(Errno errno) {
        var e = BlockErrors.toNbd(new BlockIOException(errno, "read of 1 bytes failed"));
        assertThat(e.kind()).isNotNull();
        assertThat(e.getMessage()).isEqualTo("read of 1 bytes failed");
        assertThat(e.getCause()).isInstanceOf(BlockIOException.class);
    }

    @Test
    void errnoMappingsRoundTripWhereNbdHasTheErrno() {
        for (Errno e : new Errno[] {Errno.EPERM, Errno.EIO, Errno.ENOMEM, Errno.ENOSPC, Errno.EINVAL,
                Errno.ENOTSUP, Errno.ESHUTDOWN}) {
            assertThat(BlockErrors.toErrno(IoErrorKind.fromWire((int) (BlockErrors.toKind(e).toErrno().code()))))
                    .as(e.name()).isEqualTo(e);
        }
        assertThat(BlockErrors.toKind(Errno.EROFS).toErrno()).isEqualTo(NbdProtocol.Errno.EPERM);
        assertThat(kindOfUnknownErrno()).isEqualTo(IoErrorKind.OTHER);
    }

    private static IoErrorKind kindOfUnknownErrno() {
        return BlockErrors.toNbd(new BlockIOException(200, "odd", null)).kind();
    }
}
