package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import java.nio.ByteBuffer;
import java.util.Set;

/**
 * The client's 32-bit answer to the greeting. Unknown bits are rejected, as QEMU does ("Unknown client
 * flags"), because they would change the meaning of what follows.
 *
 * @param flags what the client agrees to
 */
public record ClientFlags(Set<ClientFlag> flags) {
    /** Encoded length. */
    public static final int SIZE = 4;

    public ClientFlags {
        flags = Set.copyOf(flags);
    }

    public ByteBuffer encode() {
        return Wire.allocate(SIZE).putInt(NbdProtocol.bits(flags)).flip();
    }

    /** Decodes the flags, or returns null without consuming anything when fewer than 4 bytes are there. */
    public static ClientFlags decode(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < SIZE) {
            return null;
        }
        Set<ClientFlag> flags = ClientFlag.fromBits(in.getInt(in.position()));
        in.position(in.position() + SIZE);
        return new ClientFlags(flags);
    }
}
