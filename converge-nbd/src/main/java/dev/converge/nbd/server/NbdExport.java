package dev.converge.nbd.server;

import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocol.TransmissionFlag;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * An export registered with an {@link NbdServer}.
 *
 * @param name        the name clients ask for ("" is the default export); at most 4096 bytes
 * @param description shown by LIST and INFO ("" for none)
 * @param writable    whether clients may write (false also when the backend is read-only)
 * @param backend     what is served
 * @param bitmaps     names of the backend's dirty bitmaps offered as qemu:dirty-bitmap:NAME contexts
 * @param multiConn   whether to advertise CAN_MULTI_CONN (the backend makes writes visible to all
 *                    connections and flushes globally, see {@link NbdExportBackend})
 */
public record NbdExport(String name, String description, boolean writable, NbdExportBackend backend,
                        List<String> bitmaps, boolean multiConn) {

    public NbdExport {
        check(name, "export name");
        check(description, "export description");
        bitmaps = List.copyOf(bitmaps);
        for (String b : bitmaps) {
            check(NbdProtocol.CONTEXT_QEMU_DIRTY_BITMAP + b, "dirty bitmap context name");
            if (backend.dirtyBitmap(b).isEmpty()) {
                throw new IllegalArgumentException("bitmaps: '" + b + "' is not a dirty bitmap of the backend");
            }
        }
        if (backend.readOnly()) {
            writable = false;
        }
    }

    /** A writable export with CAN_MULTI_CONN and no bitmaps. */
    public static NbdExport writable(String name, NbdExportBackend backend) {
        return new NbdExport(name, "", true, backend, List.of(), true);
    }

    /** A read-only export with CAN_MULTI_CONN and no bitmaps. */
    public static NbdExport readOnly(String name, NbdExportBackend backend) {
        return new NbdExport(name, "", false, backend, List.of(), true);
    }

    private static void check(String s, String field) {
        int len = s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (len > NbdProtocol.MAX_STRING_SIZE) {
            throw new IllegalArgumentException(field + ": " + len + " bytes (expected: <= "
                    + NbdProtocol.MAX_STRING_SIZE + ")");
        }
    }

    /**
     * Transmission flags as QEMU computes them: always HAS_FLAGS, SEND_FLUSH, SEND_FUA; READ_ONLY or
     * SEND_TRIM/SEND_WRITE_ZEROES/SEND_FAST_ZERO; CAN_MULTI_CONN when enabled; SEND_DF once structured
     * replies are agreed.
     */
    public int transmissionFlags(boolean structuredReplies) {
        Set<TransmissionFlag> f = EnumSet.of(TransmissionFlag.HAS_FLAGS, TransmissionFlag.SEND_FLUSH,
                TransmissionFlag.SEND_FUA);
        if (writable) {
            f.addAll(EnumSet.of(TransmissionFlag.SEND_TRIM, TransmissionFlag.SEND_WRITE_ZEROES,
                    TransmissionFlag.SEND_FAST_ZERO));
        } else {
            f.add(TransmissionFlag.READ_ONLY);
        }
        if (multiConn) {
            f.add(TransmissionFlag.CAN_MULTI_CONN);
        }
        if (structuredReplies) {
            f.add(TransmissionFlag.SEND_DF);
        }
        return NbdProtocol.bits(f);
    }

    /** Minimum block size advertised: the backend's (1 or 512). */
    public int minBlockSize() {
        return backend.minBlockSize();
    }

    /** Preferred block size advertised: 4096, or the minimum if larger (as qemu-nbd). */
    public int preferredBlockSize() {
        return Math.max(4096, minBlockSize());
    }

    /** Maximum block size advertised: {@link NbdProtocol#MAX_BUFFER_SIZE}. */
    public int maxBlockSize() {
        return NbdProtocol.MAX_BUFFER_SIZE;
    }
}
