package dev.converge.migration.precopy;

import dev.converge.block.BackgroundPriority;
import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamDecoder;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import dev.converge.migration.wire.WireFormatException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Runs the receiving path of a verified stream (decode a PAGE_BATCH, check its checksum, apply
 * its pages) over a scratch block of a few pages while a destination waits for its migration, so
 * that the JIT has compiled that path when the stream comes.
 * <p>
 * Why: a daemon started as a destination received the first fraction of a second of every
 * migration with that path interpreted. The source's writes then stalled about 10 ms for every
 * 2.5 MiB (the socket full) and the first 0.3 s carried about 20 MiB, where QEMU's destination
 * took 230-265 MiB in its first 0.2 s (512 MiB KVM guest, `./bin/bench kvm-migration` with
 * -Dconverge.bench.trace=true). The warm-up costs a few tenths of a CPU-second at a nice value 10
 * above the daemon's, and a scratch block of 256 KiB; it stops at once when the incoming migration
 * starts listening, so it never competes with a stream.
 * <p>
 * It first takes the steps of a switchover once ({@link #switchover}): decoding DEVICE_STATE,
 * COMPLETE and START, the state machine's steps from the device state to {@code Completed}, the
 * RAM digest and the answers ACK_COMPLETE and RESUMED. Each is taken once per migration, inside
 * the downtime, and its first run links classes, lambdas and pattern switches (seen: 10 ms of
 * such linking between the destination's device state and its RESUMED in a 2 GiB KVM
 * switchover, -Xlog:class+load).
 */
public final class IncomingWarmUp {
    /** Batches decoded and applied: enough for the compilers' thresholds (hundreds of calls) with room to spare. */
    static final int BATCHES = 2000;

    private IncomingWarmUp() {
    }

    /**
     * Starts the warm-up on a background thread.
     *
     * @param stop whether to stop (an incoming migration started); asked before every batch
     */
    public static Thread start(String machineName, BooleanSupplier stop) {
        return Thread.ofPlatform().daemon().name(machineName + "-incoming-warm-up").start(() -> {
            BackgroundPriority.lowerCallingThread();
            run(BATCHES, stop);
        });
    }

    /**
     * Decodes and applies {@code batches} copies of one verified PAGE_BATCH of
     * {@link WireFormat#MAX_BATCH_PAGES} pages into a scratch block, unless {@code stop} says so.
     *
     * @return the batches applied
     */
    static int run(int batches, BooleanSupplier stop) {
        switchover(); // a few ms, before the stream can come: the switchover's path matters most
        int pages = WireFormat.MAX_BATCH_PAGES;
        try (GuestRam scratch = new GuestRam(List.of(new GuestRam.BlockInfo("warm-up", (long) pages * RamBlock.PAGE_SIZE)))) {
            List<RamBlock> blocks = scratch.blocks();
            // Direct buffers, as the receiver's: the compiled code then sees the same buffer classes.
            ByteBuffer data = ByteBuffer.allocateDirect(pages * RamBlock.PAGE_SIZE).order(java.nio.ByteOrder.nativeOrder());
            long[] offsets = new long[pages];
            for (int i = 0; i < pages; i++) {
                offsets[i] = (long) i * RamBlock.PAGE_SIZE;
                data.putLong(i * RamBlock.PAGE_SIZE, i + 1);
            }
            ByteBuffer batch = ByteBuffer.allocateDirect(WireFormat.MAX_RECORD_SIZE);
            batch.put(StreamEncoder.encode(new StreamRecord.PageBatch(0, offsets, data), true)).flip();
            ByteBuffer start = streamStart(blocks.get(0).size(), 1024).flip();
            StreamDecoder decoder = new StreamDecoder();
            decoder.decode(start); // the header
            decoder.decode(start); // the layout
            IncomingMigration.Receiving s = new IncomingMigration.Receiving(WireFormat.VERSION_CURRENT, true, blocks, 0, 0,
                    new PageCrcTable(blocks));
            int done = 0;
            while (done < batches && !stop.getAsBoolean()) {
                StreamRecord.PageBatch b = (StreamRecord.PageBatch) decoder.decode(batch.duplicate());
                IncomingMigration.applyBatch(s, b);
                done++;
            }
            // What was applied must be what was encoded: a warm-up that wrote wrong pages would be a broken path.
            for (int i = 0; done > 0 && i < pages; i++) {
                if (blocks.get(0).page(i).get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0) != i + 1
                        || s.crcs().get(0, i) != PageCrcTable.crc(data.slice(i * RamBlock.PAGE_SIZE, RamBlock.PAGE_SIZE))) {
                    throw new IllegalStateException("the warm-up's page " + i + " differs from what it encoded");
                }
            }
            return done;
        } catch (WireFormatException e) {
            throw new IllegalStateException("the warm-up's own stream does not decode", e);
        }
    }

    /**
     * The destination's steps of one switchover, over a scratch block, without a machine (the
     * device state's load is the accelerator's, warmed when it is created): the records decoded,
     * COMPLETE checked against the digest, START taken, the answers encoded.
     *
     * @return the state the steps end in ({@code Completed}; anything else is a broken path)
     */
    static IncomingMigration.State switchover() {
        try (GuestRam scratch = new GuestRam(List.of(new GuestRam.BlockInfo("warm-up", RamBlock.PAGE_SIZE)))) {
            List<RamBlock> blocks = scratch.blocks();
            PageCrcTable crcs = new PageCrcTable(blocks);
            String digest = crcs.digest();
            ByteBuffer stream = streamStart(RamBlock.PAGE_SIZE, 4096);
            stream.put(StreamEncoder.encode(new StreamRecord.DeviceState(ByteBuffer.allocate(64)), true));
            stream.put(StreamEncoder.encode(new StreamRecord.Complete(digest), true));
            stream.put(StreamEncoder.encode(new StreamRecord.Start(), true)).flip();
            StreamDecoder decoder = new StreamDecoder();
            decoder.decode(stream); // the header
            decoder.decode(stream); // the layout
            StreamRecord.DeviceState state = (StreamRecord.DeviceState) decoder.decode(stream);
            IncomingMigration.Receiving receiving = new IncomingMigration.Receiving(WireFormat.VERSION_CURRENT, true, blocks, 1,
                    1, crcs);
            IncomingMigration.State s = new IncomingMigration.StateReceived(receiving, digest);
            s = IncomingMigration.step(null, s, decoder.decode(stream)); // COMPLETE: the digests agree, no machine is touched
            s = IncomingMigration.step(null, s, decoder.decode(stream)); // START
            StreamEncoder.encode(new ReturnMessage.AckComplete());
            StreamEncoder.encode(new ReturnMessage.Resumed());
            if (state.data().remaining() != 64) {
                throw new IllegalStateException("the warm-up's device state decoded as " + state.data().remaining() + " bytes");
            }
            return s;
        } catch (WireFormatException e) {
            throw new IllegalStateException("the warm-up's own switchover does not decode", e);
        }
    }

    /**
     * A verified stream's first records, the header and the layout of one block of {@code blockSize}
     * bytes (the scratch block's), in a direct buffer of {@code capacity} bytes, not yet flipped.
     */
    private static ByteBuffer streamStart(long blockSize, int capacity) {
        ByteBuffer b = ByteBuffer.allocateDirect(capacity).order(WireFormat.ORDER);
        StreamEncoder.putHeader(b, WireFormat.VERSION_CURRENT, WireFormat.FLAG_VERIFIED);
        b.put(StreamEncoder.encode(new StreamRecord.RamBlocks(List.of(new StreamRecord.BlockInfo("warm-up", blockSize))), true));
        return b;
    }
}
