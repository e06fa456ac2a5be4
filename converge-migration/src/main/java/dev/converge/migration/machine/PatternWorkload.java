package dev.converge.migration.machine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * Each vCPU walks its own slice of the pattern range (the working set at the start of pc.ram,
 * split into equal slices, the last one taking the remainder) page by page, and writes
 * {@code (pass + 1) & 0xff} into the first byte of each page; at the end of the slice it
 * starts over with {@code pass + 1}.
 * <p>
 * <b>Invariant</b>, which holds whenever the vCPUs are stopped (every step ends at a page
 * boundary, and a stop waits for the step in flight): for vCPU {@code i} with state
 * {@code (pass, cursor)}, page {@code j} of its slice holds {@code (pass + 1) & 0xff} in its
 * first byte when {@code j < cursor} and {@code pass & 0xff} otherwise; all other bytes of the
 * range are zero. Since the state migrates, {@link #checkInvariant} on a destination finds any
 * page a migration lost (it would hold an older pass).
 */
public final class PatternWorkload implements Workload {
    /** Pages written per step: small, so that a stop is prompt. */
    static final int PAGES_PER_STEP = 16;

    private final RamBlock ram;
    private final long[] first;
    private final long[] length;
    /** Per vCPU: completed passes. Written by vCPU i only (see {@link Workload}). */
    private final long[] pass;
    /** Per vCPU: next page index within the slice. Written by vCPU i only. */
    private final long[] cursor;
    /** Pages a vCPU found holding another value than the invariant says (see {@link #violations}). */
    private final java.util.concurrent.atomic.AtomicLong violations = new java.util.concurrent.atomic.AtomicLong();
    /** The first of them, described; null while none. */
    private volatile String firstViolation;

    PatternWorkload(RamBlock ram, long pages, int vcpus) {
        this.ram = ram;
        this.first = new long[vcpus];
        this.length = new long[vcpus];
        this.pass = new long[vcpus];
        this.cursor = new long[vcpus];
        long slice = Math.max(1, pages / vcpus);
        for (int i = 0; i < vcpus; i++) {
            first[i] = Math.min(pages, i * slice);
            length[i] = i == vcpus - 1 ? pages - first[i] : Math.min(slice, pages - first[i]);
        }
    }

    @Override
    public WorkloadKind kind() {
        return WorkloadKind.PATTERN;
    }

    @Override
    public int step(int vcpu) {
        long len = length[vcpu];
        if (len == 0) {
            return -1;
        }
        int written = 0;
        while (written < PAGES_PER_STEP) {
            long page = first[vcpu] + cursor[vcpu];
            // The guest checks what it reads: the page must still hold this pass's value. A page
            // that a migration had not delivered yet (a postcopy destination's missing page)
            // would hold an older one, or zero.
            byte seen = ram.read(page << RamBlock.PAGE_SHIFT);
            if (seen != (byte) pass[vcpu]) {
                violated(vcpu, page, seen);
            }
            ram.write(page << RamBlock.PAGE_SHIFT, (byte) (pass[vcpu] + 1));
            written++;
            if (++cursor[vcpu] == len) {
                cursor[vcpu] = 0;
                pass[vcpu]++;
                break;
            }
        }
        return written;
    }

    /**
     * Writes the 4 KiB disk block that matches the vCPU's last written page (page index modulo
     * the disk's blocks), filled with that page's value.
     */
    @Override
    public void writeDisk(int vcpu, DiskWriter disk, long diskSize) throws IOException {
        long blocks = diskSize / RamBlock.PAGE_SIZE;
        if (blocks == 0 || length[vcpu] == 0) {
            return;
        }
        long last = first[vcpu] + (cursor[vcpu] == 0 ? length[vcpu] - 1 : cursor[vcpu] - 1);
        ByteBuffer b = ByteBuffer.allocate(RamBlock.PAGE_SIZE);
        java.util.Arrays.fill(b.array(), ram.read(last << RamBlock.PAGE_SHIFT));
        disk.write((last % blocks) * RamBlock.PAGE_SIZE, b);
    }

    private void violated(int vcpu, long page, byte seen) {
        if (violations.getAndIncrement() == 0) {
            firstViolation = "vcpu " + vcpu + " read " + (seen & 0xff) + " from page " + page + " in pass " + pass[vcpu]
                    + " (expected: " + (pass[vcpu] & 0xff) + ")";
        }
    }

    /**
     * How many times a vCPU read a page that did not hold what the invariant says, just before
     * writing it: 0 unless a migration lost or withheld a page.
     */
    public long violations() {
        return violations.get();
    }

    /** The first violation, described, if any. */
    public Optional<String> firstViolation() {
        return Optional.ofNullable(firstViolation);
    }

    /** Sum of all vCPUs' completed passes plus pages of the current ones (for progress checks). */
    public long progress() {
        long n = 0;
        for (int i = 0; i < pass.length; i++) {
            n += pass[i] * length[i] + cursor[i];
        }
        return n;
    }

    @Override
    public int stateSize() {
        return pass.length * 16;
    }

    @Override
    public void save(ByteBuffer out) {
        for (int i = 0; i < pass.length; i++) {
            out.putLong(pass[i]).putLong(cursor[i]);
        }
    }

    @Override
    public void load(ByteBuffer in) {
        long[] p = new long[pass.length];
        long[] c = new long[pass.length];
        for (int i = 0; i < pass.length; i++) {
            p[i] = in.getLong();
            c[i] = in.getLong();
            if (p[i] < 0 || c[i] < 0 || (c[i] >= length[i] && length[i] > 0)) {
                throw new IllegalArgumentException("pattern state of vcpu " + i + ": pass " + p[i] + ", cursor " + c[i]
                        + " (expected: cursor in 0.." + (length[i] - 1) + ")");
            }
        }
        System.arraycopy(p, 0, pass, 0, p.length);
        System.arraycopy(c, 0, cursor, 0, c.length);
    }

    /**
     * Checks the invariant (see class doc) against {@code ram}, which may be another machine's
     * RAM of the same layout. vCPUs must be stopped.
     *
     * @return a description of the first violation, or empty when it holds
     */
    public Optional<String> checkInvariant(RamBlock target) {
        for (int i = 0; i < pass.length; i++) {
            for (long j = 0; j < length[i]; j++) {
                long page = first[i] + j;
                byte expected = (byte) (j < cursor[i] ? pass[i] + 1 : pass[i]);
                byte actual = target.read(page << RamBlock.PAGE_SHIFT);
                if (actual != expected) {
                    return Optional.of("page " + page + " (vcpu " + i + ", pass " + pass[i] + ", cursor " + cursor[i]
                            + ") holds " + (actual & 0xff) + " (expected: " + (expected & 0xff) + ")");
                }
            }
        }
        return Optional.empty();
    }
}
