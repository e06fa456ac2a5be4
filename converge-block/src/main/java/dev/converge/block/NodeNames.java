package dev.converge.block;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/** QEMU's rules for node names: user names are well-formed ids; generated ones start with '#'. */
public final class NodeNames {
    /** QEMU's node_name buffer is 32 bytes with the terminating NUL. */
    public static final int MAX_LENGTH = 31;

    private static final AtomicLong COUNTER = new AtomicLong();

    private NodeNames() {
    }

    /** QEMU's id_wellformed: a letter, then letters, digits, '-', '.', '_'. */
    public static boolean wellFormed(String id) {
        if (id.isEmpty() || !isAsciiLetter(id.charAt(0))) {
            return false;
        }
        for (int i = 1; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!isAsciiLetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_') {
                return false;
            }
        }
        return true;
    }

    /** A fresh generated name such as "#block146": a counter and two random digits, as QEMU's id_generate. */
    public static String generate() {
        return "#block" + COUNTER.getAndIncrement() + String.format("%02d", ThreadLocalRandom.current().nextInt(100));
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
}
