package dev.converge.migration.machine.kvm;

/**
 * ioctl request numbers, computed as the kernel's {@code _IO/_IOR/_IOW/_IOWR} macros do
 * (asm-generic/ioctl.h): direction in bits 30-31, argument size in bits 16-29, type in
 * bits 8-15, number in bits 0-7. Pure functions; {@code IoctlTest} checks them against the
 * numbers linux/kvm.h yields.
 */
final class Ioctl {
    static final int NONE = 0;
    static final int WRITE = 1;
    static final int READ = 2;

    private Ioctl() {
    }

    /** {@code _IOC(dir, type, nr, size)}. */
    static long ioc(int dir, int type, int nr, int size) {
        if (dir < 0 || dir > 3 || type < 0 || type > 0xff || nr < 0 || nr > 0xff || size < 0 || size >= 1 << 14) {
            throw new IllegalArgumentException("ioctl fields out of range: dir " + dir + ", type " + type + ", nr " + nr + ", size " + size);
        }
        return ((long) dir << 30) | ((long) size << 16) | ((long) type << 8) | nr;
    }

    /** {@code _IO(type, nr)}. */
    static long io(int type, int nr) {
        return ioc(NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, size)}: the kernel writes the argument. */
    static long ior(int type, int nr, int size) {
        return ioc(READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, size)}: the kernel reads the argument. */
    static long iow(int type, int nr, int size) {
        return ioc(WRITE, type, nr, size);
    }

    /** {@code _IOWR(type, nr, size)}. */
    static long iowr(int type, int nr, int size) {
        return ioc(READ | WRITE, type, nr, size);
    }
}
