package dev.converge.block.driver;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The {@code blkdebug} filter: passes requests to its {@code image} child and fails them on
 * demand by QEMU's rules.
 * <p>
 * How rules fire (QEMU's model): an <em>event</em> activates the inject-error rules registered
 * for it (whose {@code state} matches the current state; the new set replaces the active one)
 * and applies set-state rules. A request fails when an active rule matches its I/O type and
 * sector; a {@code once} rule is then removed. Where QEMU's format layer above raises the events,
 * here the node raises them itself for each request it receives: {@code read_aio} for reads,
 * {@code write_aio} for writes, {@code pwritev_zero} for write-zeroes, {@code flush_to_disk} for
 * flushes. So {@code {"event": "read_aio"}} fails every read, {@code "once": true} only the next.
 */
public final class BlkdebugNode extends BlockNode {
    /** BlkdebugIOType, with its QAPI names. */
    public enum IoType {
        READ, WRITE, WRITE_ZEROES, DISCARD, FLUSH, BLOCK_STATUS;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        /** QEMU's default when a rule names no iotype: everything but block-status. */
        public static final Set<IoType> DEFAULT = EnumSet.of(READ, WRITE, WRITE_ZEROES, DISCARD, FLUSH);
    }

    /**
     * One BlkdebugInjectErrorOptions entry.
     *
     * @param event  the event that activates the rule
     * @param state  the state in which the event activates it; 0 = any
     * @param iotypes the request types it fails
     * @param errno  the error (default EIO = 5); 0 injects nothing
     * @param sector the 512-byte sector a request must touch; -1 = any
     * @param once   remove the rule after it failed one request
     */
    public record InjectError(String event, long state, Set<IoType> iotypes, int errno, long sector, boolean once) {
    }

    /** One BlkdebugSetStateOptions entry: on {@code event} in {@code state} (0 = any) go to {@code newState}. */
    public record SetState(String event, long state, long newState) {
    }

    private final BlockChild image;
    /** Rule tables and the state machine; guarded by {@code this} (a test driver: a lock is fine here). */
    private final List<InjectError> rules;
    private final List<SetState> setStates;
    private final List<InjectError> active = new ArrayList<>();
    private long state = 1;

    public BlkdebugNode(String nodeName, NodeOptions options, BlockNode image, List<InjectError> rules,
            List<SetState> setStates) {
        super(nodeName, "blkdebug", options);
        this.image = addChild("image", image);
        this.rules = new ArrayList<>(rules);
        this.setStates = List.copyOf(setStates);
    }

    /** The current state (starts at 1). */
    public synchronized long state() {
        return state;
    }

    private synchronized void event(String event) {
        boolean injected = false;
        for (InjectError r : rules) {
            if (r.event().equals(event) && (r.state() == 0 || r.state() == state)) {
                if (!injected) {
                    active.clear();
                    injected = true;
                }
                active.add(r);
            }
        }
        long newState = state;
        for (SetState s : setStates) {
            if (s.event().equals(event) && (s.state() == 0 || s.state() == state)) {
                newState = s.newState();
            }
        }
        state = newState;
    }

    private synchronized void check(IoType type, long offset, long bytes) throws BlockIOException {
        for (InjectError r : active) {
            if (!r.iotypes().contains(type)) {
                continue;
            }
            if (r.sector() != -1) {
                long first = offset >>> 9;
                long lastExcl = (offset + bytes + 511) >>> 9;
                if (r.sector() < first || r.sector() >= lastExcl) {
                    continue;
                }
            }
            if (r.errno() == 0) {
                return;
            }
            if (r.once()) {
                active.remove(r);
                rules.remove(r);
            }
            throw new BlockIOException(r.errno(), "blkdebug node '" + nodeName() + "': injected " + type.wireName()
                    + " error at offset " + offset + " (" + bytes + " bytes), errno " + r.errno(), null);
        }
    }

    @Override
    public long size() throws BlockIOException {
        return image.node().size();
    }

    @Override
    public String filename() {
        return image.node().filename();
    }

    @Override
    public OptionalLong actualSize() {
        return image.node().actualSize();
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) throws BlockIOException {
        event("read_aio");
        check(IoType.READ, offset, dst.byteSize());
        image.read(offset, dst);
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        event("write_aio");
        check(IoType.WRITE, offset, src.byteSize());
        image.write(offset, src, fua ? Set.of(ReqFlag.FUA) : Set.of());
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback) throws BlockIOException {
        event("pwritev_zero");
        check(IoType.WRITE_ZEROES, offset, bytes);
        EnumSet<ReqFlag> flags = EnumSet.noneOf(ReqFlag.class);
        if (mayUnmap) {
            flags.add(ReqFlag.MAY_UNMAP);
        }
        if (noFallback) {
            flags.add(ReqFlag.NO_FALLBACK);
        }
        image.writeZeroes(offset, bytes, flags);
    }

    @Override
    protected void doDiscard(long offset, long bytes) throws BlockIOException {
        check(IoType.DISCARD, offset, bytes);
        image.discard(offset, bytes);
    }

    @Override
    protected void doFlush() throws BlockIOException {
        event("flush_to_disk");
        check(IoType.FLUSH, 0, 0);
        image.flush();
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        check(IoType.BLOCK_STATUS, offset, bytes);
        return image.blockStatus(offset, bytes);
    }
}
