package dev.converge.migration.machine.kvm;

import dev.converge.migration.machine.RamBlock;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The code a KVM machine boots: a flat x86 binary loaded at {@link KvmAccelerator#BOOT_ADDRESS}
 * ({@code guest=FILE}), or converge's pattern guest ({@code guest=pattern}: the resource
 * {@value #PATTERN_RESOURCE}, assembled from {@code pattern-guest.S} next to it).
 *
 * @param name  what the guest is called in messages
 * @param image the bytes loaded at 0x7c00
 */
public record KvmGuest(String name, byte[] image) {
    /** The assembled pattern guest, a 512-byte boot sector. */
    public static final String PATTERN_RESOURCE = "pattern-guest.bin";
    /** Largest image: from 0x7c00 up to the start of the EBDA/VGA area at 0x80000, as a BIOS allows. */
    public static final int MAX_IMAGE = 0x80000 - (int) KvmAccelerator.BOOT_ADDRESS;

    public KvmGuest {
        if (image.length == 0 || image.length > MAX_IMAGE) {
            throw new IllegalArgumentException("guest " + name + ": " + image.length + " bytes (expected: 1.." + MAX_IMAGE + ")");
        }
        image = image.clone();
    }

    /** converge's pattern guest. */
    public static KvmGuest pattern() {
        try (InputStream in = KvmGuest.class.getResourceAsStream(PATTERN_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + PATTERN_RESOURCE + " is missing from the class path");
            }
            return new KvmGuest("pattern", in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A flat binary read from {@code file}. */
    public static KvmGuest file(Path file) {
        try {
            return new KvmGuest(file.toString(), Files.readAllBytes(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("guest: cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The image bytes (a copy). */
    @Override
    public byte[] image() {
        return image.clone();
    }

    /**
     * Writes the image at 0x7c00 of {@code ram}, page by page, as a BIOS loads a boot sector (at
     * power-on and at every reset), and marks those pages dirty: KVM's dirty log sees only the
     * guest's writes, and a migration in progress must send these too.
     */
    void loadInto(RamBlock ram) {
        long start = KvmAccelerator.BOOT_ADDRESS;
        long end = start + image.length;
        for (long page = start & ~(RamBlock.PAGE_SIZE - 1L); page < end; page += RamBlock.PAGE_SIZE) {
            ByteBuffer buf = ByteBuffer.allocate(RamBlock.PAGE_SIZE);
            ram.page(page >>> RamBlock.PAGE_SHIFT).asByteBuffer().get(buf.array());
            for (long at = Math.max(page, start); at < Math.min(page + RamBlock.PAGE_SIZE, end); at++) {
                buf.put((int) (at - page), image[(int) (at - start)]);
            }
            ram.loadPage(page, buf);
            ram.dirtyLog().mark(page >>> RamBlock.PAGE_SHIFT);
        }
    }
}
