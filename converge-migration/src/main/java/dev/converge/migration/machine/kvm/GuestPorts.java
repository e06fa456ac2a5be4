package dev.converge.migration.machine.kvm;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The I/O ports a boot-sector guest uses, emulated in user space (KVM exits to us for each
 * access): the serial port COM1 at 0x3f8 (transmit only: every byte written goes to the
 * {@link SerialSink}; the line status always says "transmitter empty"), the CMOS at 0x70/0x71
 * (the RAM size registers a BIOS fills, as QEMU's PC does), and the fast A20 gate at 0x92.
 * Reads of any other port give 0xff (nothing there), writes are ignored.
 * <p>
 * Pure logic apart from the sink: {@code GuestPortsTest} drives it with port/value vectors.
 * Thread-safe: vCPUs may exit concurrently; {@link #lock} orders the CMOS index and data.
 */
final class GuestPorts {
    static final int COM1 = 0x3f8;
    static final int COM1_LSR = COM1 + 5;
    /** Line status: transmitter holding register empty and transmitter empty. */
    static final int LSR_IDLE = 0x60;
    static final int CMOS_INDEX = 0x70;
    static final int CMOS_DATA = 0x71;
    static final int SYSTEM_CONTROL_A = 0x92;

    private final long ramSize;
    private final SerialSink serial;
    private final ReentrantLock lock = new ReentrantLock();
    /** The selected CMOS register; guarded by lock. */
    private int cmosIndex;
    /** Port 0x92 (bit 1: A20 enabled); guarded by lock. */
    private int systemControlA = 0x02;
    private final AtomicLong serialBytes = new AtomicLong();

    GuestPorts(long ramSize, SerialSink serial) {
        this.ramSize = ramSize;
        this.serial = serial;
    }

    /** A guest {@code out} of one byte. */
    void write(int port, int value) {
        value &= 0xff;
        if (port == COM1) {
            serialBytes.incrementAndGet();
            serial.write(value);
            return;
        }
        lock.lock();
        try {
            switch (port) {
                case CMOS_INDEX -> cmosIndex = value & 0x7f; // bit 7 masks NMIs
                case SYSTEM_CONTROL_A -> systemControlA = value & ~1; // bit 0 would reset the machine
                default -> { }
            }
        } finally {
            lock.unlock();
        }
    }

    /** A guest {@code in} of one byte. */
    int read(int port) {
        if (port == COM1_LSR) {
            return LSR_IDLE;
        }
        lock.lock();
        try {
            return switch (port) {
                case CMOS_INDEX -> cmosIndex;
                case CMOS_DATA -> cmos(cmosIndex, ramSize);
                case SYSTEM_CONTROL_A -> systemControlA;
                default -> 0xff;
            };
        } finally {
            lock.unlock();
        }
    }

    /** Bytes the guest wrote to the serial port so far. */
    long serialBytes() {
        return serialBytes.get();
    }

    /**
     * A CMOS register as a PC BIOS leaves it for {@code ramSize} bytes of RAM: 0x17/0x18 and
     * 0x30/0x31 hold the KiB above 1 MiB, 0x34/0x35 the 64 KiB units above 16 MiB (each at most
     * 0xffff, low byte first); every other register reads 0.
     */
    static int cmos(int index, long ramSize) {
        long above1m = Math.min(0xffff, Math.max(0, ramSize / 1024 - 1024));
        long above16m = Math.min(0xffff, Math.max(0, (ramSize - (16L << 20)) / 65536));
        return (int) switch (index) {
            case 0x17, 0x30 -> above1m & 0xff;
            case 0x18, 0x31 -> above1m >>> 8;
            case 0x34 -> above16m & 0xff;
            case 0x35 -> above16m >>> 8;
            default -> 0;
        };
    }
}
