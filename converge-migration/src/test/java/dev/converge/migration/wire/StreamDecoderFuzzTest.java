package dev.converge.migration.wire;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.machine.WorkloadKind;
import dev.converge.migration.precopy.IncomingMigration;
import java.nio.ByteBuffer;

/**
 * The migration destination's parser on hostile bytes, cut at arbitrary points: the stream
 * decoder yields records or throws {@link WireFormatException}, nothing else; every record it
 * yields goes through the incoming state machine into a small machine without an exception
 * (a record that does not fit gives the Failed state); the return-path decoder likewise. A
 * fixed valid prefix (header, and the machine's layout when the first byte says so) lets the
 * fuzzer reach the records past the layout.
 */
class StreamDecoderFuzzTest {
    private static final Machine MACHINE = Machine.create("fuzz", MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE),
            RunState.INMIGRATE);

    @FuzzTest(maxDuration = "30s")
    void streamOfAnyBytesInAnyChunking(FuzzedDataProvider data) {
        boolean verified = data.consumeBoolean();
        boolean withLayout = data.consumeBoolean();
        int chunk = data.consumeInt(1, 1 << 16);
        byte[] tail = data.consumeRemainingAsBytes();
        ByteBuffer prefix = ByteBuffer.allocate(1 << 12).order(WireFormat.ORDER);
        prefix.put(StreamEncoder.encode(new StreamRecord.Header(WireFormat.VERSION_CURRENT,
                verified ? WireFormat.FLAG_VERIFIED : 0)));
        if (withLayout) {
            prefix.put(StreamEncoder.encode(new StreamRecord.RamBlocks(MACHINE.ram().layout().stream()
                    .map(b -> new StreamRecord.BlockInfo(b.name(), b.size())).toList()), verified));
        }
        prefix.flip();
        byte[] all = new byte[prefix.remaining() + tail.length];
        prefix.get(all, 0, prefix.limit());
        System.arraycopy(tail, 0, all, all.length - tail.length, tail.length);

        StreamDecoder decoder = new StreamDecoder();
        IncomingMigration.State state = new IncomingMigration.AwaitingHeader();
        ByteBuffer buf = ByteBuffer.allocate(WireFormat.MAX_RECORD_SIZE + (1 << 16));
        buf.flip();
        try {
            for (int at = 0; at < all.length; at += chunk) {
                buf.compact();
                buf.put(all, at, Math.min(chunk, all.length - at));
                buf.flip();
                for (StreamRecord r; (r = decoder.decode(buf)) != null;) {
                    state = IncomingMigration.step(MACHINE, state, r);
                }
                if (buf.remaining() > WireFormat.MAX_RECORD_SIZE) {
                    throw new AssertionError("a whole record stayed undecoded: " + buf.remaining() + " bytes");
                }
            }
        } catch (WireFormatException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
        ByteBuffer back = ByteBuffer.wrap(tail);
        try {
            while (ReturnDecoder.decode(back) != null) {
                // every whole message decodes
            }
        } catch (WireFormatException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
    }
}
