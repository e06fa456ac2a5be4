package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.HandshakeFlag;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.Set;

/**
 * The fixed newstyle greeting: NBDMAGIC, IHAVEOPT, 16-bit handshake flags (18 bytes).
 *
 * @param flags what the server offers
 */
public record ServerGreeting(Set<HandshakeFlag> flags) {
    /** Encoded length. */
    public static final int SIZE = 18;

    public ServerGreeting {
        flags = Set.copyOf(flags);
    }

    /** The greeting QEMU sends: FIXED_NEWSTYLE and NO_ZEROES. */
    public static ServerGreeting standard() {
        return new ServerGreeting(EnumSet.allOf(HandshakeFlag.class));
    }

    public ByteBuffer encode() {
        ByteBuffer b = Wire.allocate(SIZE);
        b.putLong(NbdProtocol.NBDMAGIC).putLong(NbdProtocol.IHAVEOPT).putShort((short) NbdProtocol.bits(flags));
        return b.flip();
    }

    /** Decodes a greeting, or returns null without consuming anything when fewer than 18 bytes are there. */
    public static ServerGreeting decode(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < SIZE) {
            return null;
        }
        int p = in.position();
        long magic = in.getLong(p);
        if (magic != NbdProtocol.NBDMAGIC) {
            throw new NbdProtocolException.BadMagic("greeting magic", magic, NbdProtocol.NBDMAGIC);
        }
        long opt = in.getLong(p + 8);
        if (opt != NbdProtocol.IHAVEOPT) {
            throw new NbdProtocolException.BadMagic("greeting newstyle magic", opt, NbdProtocol.IHAVEOPT);
        }
        Set<HandshakeFlag> flags = HandshakeFlag.fromBits(in.getShort(p + 16) & 0xffff);
        in.position(p + SIZE);
        return new ServerGreeting(flags);
    }
}
