package dev.converge.migration.precopy;

import dev.converge.block.BackgroundPriority;
import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.MigrationBitmap;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Runs the steps of an outgoing migration's setup that need no destination (load and initialise
 * the sender's classes, encode the stream's first records, harvest the accelerator's dirty log
 * into a scratch bitmap) once while a machine has not started a migration, so that they are
 * loaded and linked when the {@code migrate} command comes. The counterpart of
 * {@link IncomingWarmUp}.
 * <p>
 * Why: JFR of the source of a 512 MiB KVM guest (`./bin/bench kvm-migration`) showed about 0.11 s
 * from the migrate command to its first page batch; besides the connect (about 20 ms) most of it
 * was the first run of this code: the sender's classes read from the jar, the lambdas and string
 * concatenations linked, and KvmVm's dirty-log ioctls (their VarHandles and messages) linked, 15-20
 * ms of them inside the first KVM_GET_DIRTY_LOG alone.
 * <p>
 * Safe: the harvest is the one every sync does first ({@link GuestRam#markEverWritten} moves the
 * accelerator's dirty bits into the blocks' {@link dev.converge.migration.machine.DirtyLog}s and
 * only reads them from there): the log keeps every mark for the migration that follows.
 */
public final class OutgoingWarmUp {
    /** Harvests: the first links, the others run what the first loaded. */
    static final int ROUNDS = 3;

    /** Classes of the sender's setup that only a migration would load. */
    private static final List<Class<?>> SENDER_CLASSES = List.of(PrecopySender.class, ReturnPath.class,
            BandwidthMeter.class, PageCrcTable.class, StreamEncoder.class, java.util.zip.CRC32C.class);

    private OutgoingWarmUp() {
    }

    /**
     * Starts the warm-up on a background thread at a lower priority.
     *
     * @param stop whether to stop (an outgoing migration started); asked before every step
     */
    public static Thread start(String machineName, GuestRam ram, BooleanSupplier stop) {
        return Thread.ofPlatform().daemon().name(machineName + "-outgoing-warm-up").start(() -> {
            BackgroundPriority.lowerCallingThread();
            run(ram, ROUNDS, stop);
        });
    }

    /**
     * Loads the sender's classes, encodes a header and {@code ram}'s layout, and harvests the dirty
     * log into a fresh bitmap {@code rounds} times, unless {@code stop} says so.
     *
     * @return the harvests done
     */
    static int run(GuestRam ram, int rounds, BooleanSupplier stop) {
        if (stop.getAsBoolean()) {
            return 0;
        }
        for (Class<?> c : SENDER_CLASSES) {
            try {
                Class.forName(c.getName(), true, c.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("the sender's class " + c.getName() + " did not load", e);
            }
        }
        ByteBuffer start = ByteBuffer.allocateDirect(64 << 10).order(WireFormat.ORDER);
        StreamEncoder.putHeader(start, WireFormat.VERSION_CURRENT, WireFormat.FLAG_VERIFIED);
        List<StreamRecord.BlockInfo> layout = new ArrayList<>();
        for (RamBlock b : ram.blocks()) {
            layout.add(new StreamRecord.BlockInfo(b.name(), b.size()));
        }
        start.put(StreamEncoder.encode(new StreamRecord.RamBlocks(layout), true));
        int done = 0;
        while (done < rounds && !stop.getAsBoolean()) {
            MigrationBitmap scratch = ram.newMigrationBitmap();
            ram.markEverWritten(scratch);
            done++;
        }
        return done;
    }
}
