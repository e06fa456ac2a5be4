package dev.converge.bench.mirror;

import java.io.EOFException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The few NBD messages the benchmark's writer needs, over a UNIX socket: the fixed newstyle
 * handshake with {@code NBD_OPT_GO}, then {@code NBD_CMD_WRITE}, {@code NBD_CMD_FLUSH} and
 * {@code NBD_CMD_DISC}, one request at a time with simple replies. converge-nbd's client is not on
 * this module's class path; this is enough to load a export with writes and nothing more.
 * <pre>
 * server: "NBDMAGIC" "IHAVEOPT" u16 handshake-flags
 * client: u32 client-flags
 * client: "IHAVEOPT" u32 NBD_OPT_GO u32 len (u32 name-len, name, u16 0 info requests)
 * server: (u64 0x3e889045565a9, u32 opt, u32 type, u32 len, data)* ... NBD_REP_ACK
 * client: u32 0x25609513 u16 flags u16 type u64 cookie u64 offset u32 length [data]
 * server: u32 0x67446698 u32 error u64 cookie
 * </pre>
 * Not thread-safe: one writer thread owns it. All fields are big-endian (NBD).
 */
final class NbdWriteClient implements AutoCloseable {
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 2;
    static final int OPT_GO = 7;
    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REP_ERROR_BIT = 1 << 31;
    static final int INFO_EXPORT = 0;
    static final int TFLAG_READ_ONLY = 1 << 1;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    /** Longest option reply accepted (info replies are a few bytes; error text is short). */
    static final int MAX_OPTION_REPLY = 64 * 1024;

    private final SocketChannel channel;
    private final long exportSize;
    private final ByteBuffer header = ByteBuffer.allocateDirect(28).order(ByteOrder.BIG_ENDIAN);
    private final ByteBuffer reply = ByteBuffer.allocateDirect(16).order(ByteOrder.BIG_ENDIAN);
    /** Written only by the owning thread. */
    private long cookie;

    private NbdWriteClient(SocketChannel channel, long exportSize) {
        this.channel = channel;
        this.exportSize = exportSize;
    }

    /**
     * Connects to the NBD server at {@code socket}, negotiates export {@code name} with NBD_OPT_GO.
     *
     * @throws IOException the server is not there, the export is missing or read-only, or it speaks no fixed newstyle
     */
    static NbdWriteClient connect(Path socket, String name) throws IOException {
        SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        try {
            ByteBuffer greeting = read(ch, 18);
            long magic = greeting.getLong();
            long opt = greeting.getLong();
            int flags = Short.toUnsignedInt(greeting.getShort());
            if (magic != NBDMAGIC || opt != IHAVEOPT) {
                throw new IOException("NBD greeting from " + socket + ": magic " + Long.toHexString(magic) + "/"
                        + Long.toHexString(opt) + " (expected: NBDMAGIC/IHAVEOPT, newstyle)");
            }
            if ((flags & FLAG_FIXED_NEWSTYLE) == 0) {
                throw new IOException("NBD server " + socket + " lacks fixed newstyle (handshake flags " + flags + ")");
            }
            writeAll(ch, ByteBuffer.allocate(4).putInt(flags & (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)).flip());
            byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
            ByteBuffer go = ByteBuffer.allocate(16 + 4 + nameBytes.length + 2);
            go.putLong(IHAVEOPT).putInt(OPT_GO).putInt(4 + nameBytes.length + 2).putInt(nameBytes.length).put(nameBytes)
                    .putShort((short) 0).flip();
            writeAll(ch, go);
            long size = -1;
            int tflags = 0;
            while (true) {
                ByteBuffer rh = read(ch, 20);
                long rmagic = rh.getLong();
                int ropt = rh.getInt();
                int type = rh.getInt();
                int len = rh.getInt();
                if (rmagic != OPTION_REPLY_MAGIC || ropt != OPT_GO) {
                    throw new IOException("NBD option reply: magic " + Long.toHexString(rmagic) + " option " + ropt
                            + " (expected: " + Long.toHexString(OPTION_REPLY_MAGIC) + ", " + OPT_GO + ")");
                }
                if (len < 0 || len > MAX_OPTION_REPLY) {
                    throw new IOException("NBD option reply length: " + Integer.toUnsignedString(len) + " (expected: <= "
                            + MAX_OPTION_REPLY + ")");
                }
                ByteBuffer data = read(ch, len);
                if ((type & REP_ERROR_BIT) != 0) {
                    byte[] text = new byte[data.remaining()];
                    data.get(text);
                    throw new IOException("NBD server refused export '" + name + "': error " + (type & ~REP_ERROR_BIT) + " "
                            + new String(text, StandardCharsets.UTF_8));
                }
                if (type == REP_ACK) {
                    break;
                }
                if (type == REP_INFO && len >= 12 && Short.toUnsignedInt(data.getShort()) == INFO_EXPORT) {
                    size = data.getLong();
                    tflags = Short.toUnsignedInt(data.getShort());
                }
            }
            if (size < 0) {
                throw new IOException("NBD server sent no NBD_INFO_EXPORT for '" + name + "'");
            }
            if ((tflags & TFLAG_READ_ONLY) != 0) {
                throw new IOException("NBD export '" + name + "' is read-only (expected: writable)");
            }
            return new NbdWriteClient(ch, size);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The export's size as the server announced it. */
    long exportSize() {
        return exportSize;
    }

    /** Writes {@code data} (its remaining bytes) at {@code offset} and waits for the reply. */
    void write(long offset, ByteBuffer data) throws IOException {
        request(CMD_WRITE, offset, data.remaining());
        writeAll(channel, data);
        awaitReply("write at " + offset);
    }

    /** Asks the server to flush, and waits. */
    void flush() throws IOException {
        request(CMD_FLUSH, 0, 0);
        awaitReply("flush");
    }

    /** Sends NBD_CMD_DISC (no reply) and closes the socket. */
    @Override
    public void close() throws IOException {
        try {
            request(CMD_DISC, 0, 0);
        } finally {
            channel.close();
        }
    }

    private void request(int type, long offset, int length) throws IOException {
        header.clear();
        header.putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) type).putLong(++cookie).putLong(offset)
                .putInt(length).flip();
        writeAll(channel, header);
    }

    private void awaitReply(String what) throws IOException {
        reply.clear();
        readFully(channel, reply);
        reply.flip();
        int magic = reply.getInt();
        int error = reply.getInt();
        long c = reply.getLong();
        if (magic != SIMPLE_REPLY_MAGIC) {
            throw new IOException("NBD reply to " + what + ": magic " + Integer.toHexString(magic) + " (expected: "
                    + Integer.toHexString(SIMPLE_REPLY_MAGIC) + ")");
        }
        if (c != cookie) {
            throw new IOException("NBD reply to " + what + ": cookie " + c + " (expected: " + cookie + ")");
        }
        if (error != 0) {
            throw new IOException("NBD " + what + " failed: error " + error);
        }
    }

    private static ByteBuffer read(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readFully(ch, b);
        return b.flip();
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("NBD server closed the connection (" + b.remaining() + " bytes short)");
            }
        }
    }

    private static void writeAll(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
