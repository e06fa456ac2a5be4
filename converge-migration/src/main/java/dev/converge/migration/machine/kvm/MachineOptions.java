package dev.converge.migration.machine.kvm;

import dev.converge.migration.machine.Accelerator;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.SoftwareAccelerator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A {@code --machine} value with its accelerator: the keys {@code accel=software|kvm},
 * {@code guest=pattern|FILE}, {@code serial=file:PATH|stdio|none} and {@code dirty-ring-size=N}
 * (QEMU's {@code -accel kvm,dirty-ring-size=N}: the KVM dirty ring with N entries per vCPU, a
 * power of two; 0, the default as on QEMU, for the dirty bitmap) are taken here, the rest
 * is a {@link MachineSpec}. With {@code accel=kvm} the vCPUs run the guest's code, so the
 * software workload keys (workload, dirty-rate, working-set, disk) are refused.
 *
 * @param spec        the machine (workload idle for kvm)
 * @param accel       which accelerator
 * @param accelerator makes the backend (a fresh factory per machine)
 */
public record MachineOptions(MachineSpec spec, Accelerator.Kind accel, Supplier<Accelerator.Factory> accelerator) {
    private static final List<String> SOFTWARE_ONLY = List.of("workload", "dirty-rate", "working-set", "disk");
    private static final String DIRTY_RING_SIZE = "dirty-ring-size";

    /**
     * Parses {@code text}.
     *
     * @throws IllegalArgumentException naming the bad key or value
     */
    public static MachineOptions parse(String text) {
        Map<String, String> own = new LinkedHashMap<>();
        List<String> rest = new ArrayList<>();
        List<String> restKeys = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? part : part.substring(0, eq);
            if (key.equals("accel") || key.equals("guest") || key.equals("serial") || key.equals(DIRTY_RING_SIZE)) {
                if (own.put(key, part.substring(eq + 1)) != null) {
                    throw new IllegalArgumentException("machine: key '" + key + "' given twice");
                }
            } else {
                rest.add(part);
                restKeys.add(key);
            }
        }
        String accelName = own.getOrDefault("accel", Accelerator.Kind.SOFTWARE.wireName());
        if (accelName.equals(Accelerator.Kind.SOFTWARE.wireName())) {
            for (String key : List.of("guest", "serial", DIRTY_RING_SIZE)) {
                if (own.containsKey(key)) {
                    throw new IllegalArgumentException("machine: key '" + key + "' needs accel=kvm");
                }
            }
            return new MachineOptions(MachineSpec.parse(text.replaceAll("(^|,)accel=software", "").replaceFirst("^,", "")),
                    Accelerator.Kind.SOFTWARE, () -> SoftwareAccelerator.FACTORY);
        }
        if (!accelName.equals(Accelerator.Kind.KVM.wireName())) {
            throw new IllegalArgumentException("accel: '" + accelName + "' is unknown (expected: software, kvm)");
        }
        for (String key : SOFTWARE_ONLY) {
            if (restKeys.contains(key)) {
                throw new IllegalArgumentException("machine: key '" + key + "' is for accel=software (with accel=kvm the guest's code runs)");
            }
        }
        rest.add("workload=idle");
        MachineSpec spec = MachineSpec.parse(String.join(",", rest));
        if (spec.memory() > KvmAccelerator.MAX_MEMORY) {
            throw new IllegalArgumentException("memory: " + spec.memory() + " (expected: at most " + KvmAccelerator.MAX_MEMORY
                    + " with accel=kvm)");
        }
        String guestName = own.getOrDefault("guest", "pattern");
        if (guestName.isEmpty()) {
            throw new IllegalArgumentException("guest: empty (expected: pattern or a file)");
        }
        KvmGuest guest = guestName.equals("pattern") ? KvmGuest.pattern() : KvmGuest.file(Path.of(guestName));
        String serial = own.getOrDefault("serial", "none");
        Supplier<SerialSink> sink;
        if (serial.equals("none")) {
            sink = SerialSink::none;
        } else if (serial.equals("stdio")) {
            sink = () -> SerialSink.stdio(System.out);
        } else if (serial.startsWith("file:") && serial.length() > 5) {
            Path path = Path.of(serial.substring(5));
            sink = () -> SerialSink.file(path);
        } else {
            throw new IllegalArgumentException("serial: '" + serial + "' (expected: file:PATH, stdio or none)");
        }
        int ring = own.containsKey(DIRTY_RING_SIZE) ? parseRingSize(own.get(DIRTY_RING_SIZE)) : 0;
        return new MachineOptions(spec, Accelerator.Kind.KVM, () -> KvmAccelerator.factory(guest, sink.get(), ring));
    }

    /** 0 (the bitmap) or a power of two from 1024 to 65536 entries (what QEMU accepts and the kernel's reserve needs). */
    private static int parseRingSize(String text) {
        int n;
        try {
            n = Integer.parseInt(text);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n != 0 && (n < 1024 || n > 65536 || Integer.bitCount(n) != 1)) {
            throw new IllegalArgumentException(DIRTY_RING_SIZE + ": '" + text + "' (expected: 0 for the dirty bitmap, or a power of two "
                    + "from 1024 to 65536)");
        }
        return n;
    }
}
