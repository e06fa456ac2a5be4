package dev.converge.migration.machine.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The KVM accelerator's device state on the wire: a sequence of named sections, each
 * {@code name length u8, name (ASCII), data length u32, data} (little-endian), the whole
 * preceded by the section count u32. Names say what the data is ("vm.clock",
 * "vcpu0.regs", ...), so a destination that expects something else fails naming it.
 * Pure functions; {@code StateSectionsTest} checks them with byte vectors.
 */
final class StateSections {
    /** One named piece of state: the raw struct a KVM_GET_* ioctl filled. */
    record Section(String name, byte[] data) {
        Section {
            if (name.isEmpty() || name.length() > 255 || !StandardCharsets.US_ASCII.newEncoder().canEncode(name)) {
                throw new IllegalArgumentException("section name: '" + name + "' (expected: 1..255 ASCII characters)");
            }
        }
    }

    private StateSections() {
    }

    static byte[] encode(List<Section> sections) {
        int size = 4;
        for (Section s : sections) {
            size += 1 + s.name().length() + 4 + s.data().length;
        }
        ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(sections.size());
        for (Section s : sections) {
            out.put((byte) s.name().length()).put(s.name().getBytes(StandardCharsets.US_ASCII));
            out.putInt(s.data().length).put(s.data());
        }
        return out.array();
    }

    /**
     * Decodes all of {@code in}.
     *
     * @throws IllegalArgumentException when truncated or followed by extra bytes
     */
    static List<Section> decode(ByteBuffer src) {
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int count = need(in, 4, "section count").getInt();
        if (count < 0 || count > 100_000) {
            throw new IllegalArgumentException("kvm state: section count " + Integer.toUnsignedString(count) + " (expected: 0..100000)");
        }
        List<Section> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int nameLength = Byte.toUnsignedInt(need(in, 1, "section " + i + " name length").get());
            byte[] name = new byte[nameLength];
            need(in, nameLength, "section " + i + " name").get(name);
            int length = need(in, 4, "section " + i + " length").getInt();
            if (length < 0) {
                throw new IllegalArgumentException("kvm state: section " + i + " length " + Integer.toUnsignedString(length));
            }
            byte[] data = new byte[length];
            need(in, length, "section " + i + " data").get(data);
            out.add(new Section(new String(name, StandardCharsets.US_ASCII), data));
        }
        if (in.hasRemaining()) {
            throw new IllegalArgumentException("kvm state: " + in.remaining() + " bytes after the last section");
        }
        return out;
    }

    private static ByteBuffer need(ByteBuffer in, int n, String what) {
        if (in.remaining() < n) {
            throw new IllegalArgumentException("kvm state truncated in " + what + ": " + in.remaining() + " bytes left (expected: " + n + ")");
        }
        return in;
    }
}
