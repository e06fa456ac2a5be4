package dev.converge.migration.machine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A machine's guest RAM: named RAM blocks of off-heap memory, in a fixed order (the order is
 * the block index on the migration stream). Allocated zeroed from one shared arena and freed
 * by {@link #close()}, which must only run once no thread touches the memory any more.
 */
public final class GuestRam implements AutoCloseable {
    /** A RAM block's name and size, as declared in a layout. */
    public record BlockInfo(String name, long size) {
    }

    /** Bytes hashed per slice by {@link #digest()}. */
    private static final long DIGEST_SLICE = 1L << 30;

    /** Allocates one block's memory in an arena (an accelerator maps it as it needs). */
    @FunctionalInterface
    public interface BlockAllocator {
        /** Zeroed memory of {@code info.size()} bytes, page aligned, freed when {@code arena} closes. */
        MemorySegment allocate(Arena arena, BlockInfo info);
    }

    private final Arena arena;
    private final List<RamBlock> blocks;
    /**
     * Runs at the start of every sync: moves dirty pages tracked outside the write path (the
     * kernel's, for KVM) into the blocks' logs. Volatile: attached once when the machine is built.
     */
    private volatile Runnable externalDirtyLog = () -> { };

    /** Allocates the blocks of {@code layout}, in that order, zero-filled. */
    public GuestRam(List<BlockInfo> layout) {
        this(layout, (arena, info) -> arena.allocate(info.size(), RamBlock.PAGE_SIZE));
    }

    /** Allocates the blocks of {@code layout}, in that order, with {@code allocator}. */
    public GuestRam(List<BlockInfo> layout, BlockAllocator allocator) {
        this.arena = Arena.ofShared();
        List<RamBlock> list = new ArrayList<>();
        Map<String, Boolean> seen = new LinkedHashMap<>();
        try {
            for (BlockInfo info : layout) {
                if (seen.put(info.name(), Boolean.TRUE) != null) {
                    throw new IllegalArgumentException("RAM block name used twice: " + info.name());
                }
                list.add(new RamBlock(info.name(), allocator.allocate(arena, info)));
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        this.blocks = List.copyOf(list);
    }

    /** The blocks in index order. */
    public List<RamBlock> blocks() {
        return blocks;
    }

    /** The layout (names and sizes, in index order). */
    public List<BlockInfo> layout() {
        return blocks.stream().map(b -> new BlockInfo(b.name(), b.size())).toList();
    }

    /** The block called {@code name}. */
    public Optional<RamBlock> block(String name) {
        return blocks.stream().filter(b -> b.name().equals(name)).findFirst();
    }

    /** Total size in bytes. */
    public long size() {
        return blocks.stream().mapToLong(RamBlock::size).sum();
    }

    /** A fresh bitmap for one migration, with nothing marked. */
    public MigrationBitmap newMigrationBitmap() {
        return new MigrationBitmap(blocks);
    }

    /**
     * Hands the dirty log of every block to {@code target} by atomic word exchange (see
     * {@link DirtyLog#drainInto}); writes racing this call are never lost.
     *
     * @return the number of pages newly marked in {@code target}
     */
    public long syncDirtyLog(MigrationBitmap target) {
        externalDirtyLog.run();
        long added = 0;
        for (int i = 0; i < blocks.size(); i++) {
            added += blocks.get(i).dirtyLog().drainInto(target.words(i));
        }
        return added;
    }

    /**
     * Marks in {@code target} every page ever written (see {@link DirtyLog#everWrittenInto}):
     * the first pass of a migration sends these; every other page is zero, and so is the
     * destination's copy of it, which starts zeroed.
     */
    public void markEverWritten(MigrationBitmap target) {
        externalDirtyLog.run();
        for (int i = 0; i < blocks.size(); i++) {
            blocks.get(i).dirtyLog().everWrittenInto(target.words(i));
        }
    }

    /** Makes every sync first run {@code collector} (see {@link Accelerator#collectDirtyLog}). */
    void attachExternalDirtyLog(Runnable collector) {
        externalDirtyLog = java.util.Objects.requireNonNull(collector);
    }

    /** SHA-256 over all blocks' contents in index order, as lowercase hex. */
    public String digest() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (RamBlock b : blocks) {
                // In slices: a ByteBuffer cannot view 2 GiB or more at once.
                long size = b.size();
                for (long off = 0; off < size; off += DIGEST_SLICE) {
                    md.update(b.memory().asSlice(off, Math.min(DIGEST_SLICE, size - off)).asByteBuffer());
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** Zeros all RAM without marking it (a destination discards a failed incoming migration). */
    public void clear() {
        blocks.forEach(RamBlock::clear);
    }

    @Override
    public void close() {
        arena.close();
    }
}
