package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.Option;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import dev.converge.nbd.wire.NbdProtocol.TransmissionFlag;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.OptionRequest;
import dev.converge.nbd.wire.Request;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * NBD_OPT_EXTENDED_HEADERS (spec: the extension-ext-header branch of NetworkBlockDevice/nbd, as
 * qemu-nbd 8.2+ and libnbd 1.18+ speak it) on the wire, byte by byte: 32-byte requests with 64-bit
 * lengths, 32-byte extended reply chunks echoing the request's offset, BLOCK_STATUS_EXT. Debian's
 * libnbd 1.14 and qemu-nbd 7.2 predate the extension, so no real peer is used here.
 */
class ExtendedHeadersTest {
    private static final long GIB = 1L << 30;
    private NbdServer server;
    private final List<TestClient> clients = new ArrayList<>();

    @AfterEach
    void stop() throws IOException {
        for (TestClient c : clients) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private TestClient extended(NbdExport export, List<String> contexts) throws IOException {
        if (server == null) {
            server = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0));
        }
        server.addExport(export);
        TestClient c = TestClient.connect(server.localAddress());
        clients.add(c);
        c.start();
        TestClient.expectAck(c.option(OptionRequest.of(Option.EXTENDED_HEADERS, new byte[0])));
        if (!contexts.isEmpty()) {
            TestClient.expectAck(c.option(OptionRequest.setMetaContext(export.name(), contexts)));
        }
        List<OptionReply> go = c.option(OptionRequest.go(export.name(), List.of(InfoType.BLOCK_SIZE)));
        TestClient.expectAck(go);
        for (OptionReply r : go) {
            ByteBuffer p = r.payload();
            if (r.type() == OptionReplyType.INFO && p.getShort(0) == 0) {
                c.transmissionFlags = p.getShort(10) & 0xffff;
            }
        }
        return c;
    }

    /** One extended reply chunk as it came off the wire. */
    record Chunk(int flags, int type, long cookie, long offset, ByteBuffer payload) {
    }

    private static ByteBuffer readExactly(TestClient c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.channel.read(b) < 0) {
                throw new EOFException("server closed the connection");
            }
        }
        return b.flip();
    }

    static Chunk chunk(TestClient c) throws IOException {
        ByteBuffer h = readExactly(c, 32);
        assertThat(h.getInt(0)).as("extended reply magic").isEqualTo(NbdProtocol.EXTENDED_REPLY_MAGIC);
        long len = h.getLong(24);
        assertThat(len).isBetween(0L, (long) NbdProtocol.MAX_BUFFER_SIZE + 8);
        return new Chunk(h.getShort(4) & 0xffff, h.getShort(6) & 0xffff, h.getLong(8), h.getLong(16),
                readExactly(c, (int) len));
    }

    @Test
    void negotiationFollowsTheExtension() throws IOException {
        server = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0));
        server.addExport(NbdExport.writable("d", new MemoryBackend(1 << 20)));
        TestClient c = TestClient.connect(server.localAddress());
        clients.add(c);
        c.start();
        TestClient.expectAck(c.option(OptionRequest.of(Option.EXTENDED_HEADERS, new byte[0])));
        assertThat(c.option(OptionRequest.of(Option.EXTENDED_HEADERS, new byte[0])).getLast().type())
                .isEqualTo(OptionReplyType.ERR_INVALID);
        assertThat(c.option(OptionRequest.structuredReply()).getLast().type())
                .isEqualTo(OptionReplyType.ERR_EXT_HEADER_REQD);
        // meta contexts need chunked replies, which extended headers give
        TestClient.expectAck(c.option(OptionRequest.setMetaContext("d", List.of("base:allocation"))));
        TestClient d = TestClient.connect(server.localAddress());
        clients.add(d);
        d.start();
        assertThat(d.option(OptionRequest.of(Option.EXTENDED_HEADERS, new byte[] {1})).getLast().type())
                .isEqualTo(OptionReplyType.ERR_INVALID);
        d.write(OptionRequest.of(Option.EXTENDED_HEADERS, new byte[0]).encode());
        assertThat(d.read(OptionReply::decode).type()).isEqualTo(OptionReplyType.ACK);
        d.write(OptionRequest.exportName("d").encode()); // not allowed after extended headers: closed
        assertThat(d.closedByServer()).isTrue();
    }

    @Test
    void repliesAreExtendedChunksEchoingTheRequestOffsetByteForByte() throws IOException {
        MemoryBackend mem = new MemoryBackend(1 << 20);
        TestClient c = extended(NbdExport.writable("d", mem), List.of());
        assertThat(c.transmissionFlags & TransmissionFlag.SEND_DF.code()).isNotZero();

        c.write(Request.of(Command.FLUSH, Set.of(), 0x0102030405060708L, 0, 0).encodeExtended());
        // magic, flags DONE, type NONE, cookie, offset, payload length 0
        assertThat(HexFormat.of().formatHex(readExactly(c, 32).array())).isEqualTo(
                "6e8a278c" + "0001" + "0000" + "0102030405060708" + "0000000000000000" + "0000000000000000");

        byte[] data = new byte[65536];
        new Random(3).nextBytes(data);
        Request write = new Request((int) (CommandFlag.PAYLOAD_LEN.code() | CommandFlag.FUA.code()),
                (int) Command.WRITE.code(), 7, 12288, data.length, ByteBuffer.wrap(data));
        c.write(write.encodeExtended());
        Chunk done = chunk(c);
        assertThat(done).isEqualTo(new Chunk(NbdProtocol.REPLY_FLAG_DONE, (int) ReplyType.NONE.code(), 7, 12288,
                ByteBuffer.allocate(0)));
        assertThat(java.util.Arrays.copyOfRange(mem.snapshot(), 12288, 12288 + data.length)).isEqualTo(data);

        c.write(Request.of(Command.READ, Set.of(CommandFlag.DF), 8, 12288, data.length).encodeExtended());
        Chunk read = chunk(c);
        assertThat(read.type()).isEqualTo((int) ReplyType.OFFSET_DATA.code());
        assertThat(read.flags()).isEqualTo(NbdProtocol.REPLY_FLAG_DONE);
        assertThat(read.offset()).isEqualTo(12288);
        assertThat(read.payload().getLong(0)).isEqualTo(12288);
        assertThat(read.payload().slice(8, data.length)).isEqualTo(ByteBuffer.wrap(data));
    }

    @Test
    void payloadsWhereNoneBelongAreReadPastAndAnsweredEinval() throws IOException {
        MemoryBackend mem = new MemoryBackend(1 << 20);
        TestClient c = extended(NbdExport.writable("d", mem), List.of());
        // a WRITE without PAYLOAD_LEN carries nothing: EINVAL
        c.write(Request.of(Command.WRITE, Set.of(), 1, 0, 4096).encodeExtended());
        Chunk noFlag = chunk(c);
        assertThat(noFlag.cookie()).isEqualTo(1);
        assertThat(noFlag.type()).isEqualTo((int) ReplyType.ERROR.code());
        assertThat(noFlag.payload().getInt(0)).isEqualTo(Errno.EINVAL.wire());
        // a FLUSH with a 16-byte payload: the payload is skipped, the stream stays in step
        ByteBuffer flushWithPayload = new Request((int) CommandFlag.PAYLOAD_LEN.code(), (int) Command.FLUSH.code(), 2,
                0, 16, ByteBuffer.wrap(new byte[16])).encodeExtended();
        c.write(flushWithPayload);
        Chunk flush = chunk(c);
        assertThat(flush.cookie()).isEqualTo(2);
        assertThat(flush.payload().getInt(0)).isEqualTo(Errno.EINVAL.wire());
        c.write(Request.of(Command.READ, Set.of(CommandFlag.DF), 3, 0, 16).encodeExtended());
        assertThat(chunk(c).cookie()).isEqualTo(3);
        assertThat(mem.flushes()).isZero();
    }

    /** An 8 GiB export that is all hole, recording the ranges trimmed. */
    private static final class HugeHoles implements NbdExportBackend {
        final List<long[]> trims = new CopyOnWriteArrayList<>();

        @Override
        public long size() {
            return 8 * GIB;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            dst.position(dst.limit());
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            throw new AssertionError("no writes expected");
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) {
            throw new AssertionError("no zeroing expected");
        }

        @Override
        public void trim(long offset, long length) {
            trims.add(new long[] {offset, length});
        }

        @Override
        public void flush() {
        }

        @Override
        public List<Extent> blockStatus(long offset, long length) {
            List<Extent> out = new ArrayList<>(); // in 1 GiB pieces, so the answer can cover more than 2^32
            for (long done = 0; done < length; done += GIB) {
                out.add(Extent.hole(Math.min(GIB, length - done)));
            }
            return out;
        }
    }

    @Test
    void effectLengthsAre64BitsAndBlockStatusComesAsExt() throws IOException {
        HugeHoles huge = new HugeHoles();
        TestClient c = extended(NbdExport.writable("big", huge), List.of("base:allocation"));
        c.write(Request.of(Command.TRIM, Set.of(), 1, GIB, 5 * GIB).encodeExtended());
        assertThat(chunk(c).type()).isEqualTo((int) ReplyType.NONE.code());
        assertThat(huge.trims).singleElement().isEqualTo(new long[] {GIB, 5 * GIB});

        c.write(Request.of(Command.BLOCK_STATUS, Set.of(), 2, GIB, 6 * GIB).encodeExtended());
        Chunk status = chunk(c);
        assertThat(status.type()).isEqualTo((int) ReplyType.BLOCK_STATUS_EXT.code());
        assertThat(status.offset()).isEqualTo(GIB);
        ByteBuffer p = status.payload();
        int count = p.getInt(4);
        assertThat(p.remaining()).isEqualTo(8 + 16 * count);
        long covered = 0;
        for (int i = 0; i < count; i++) {
            covered += p.getLong(8 + 16 * i);
            assertThat(p.getLong(16 + 16 * i)).isEqualTo(NbdProtocol.STATE_HOLE | NbdProtocol.STATE_ZERO);
        }
        assertThat(covered).isEqualTo(6 * GIB); // past 2^32: impossible with compact BLOCK_STATUS
    }
}
