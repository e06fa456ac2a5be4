package dev.converge.migration.machine;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What a machine is made of, as given on the command line:
 * {@code --machine workload=NAME[,memory=SIZE][,vcpus=N][,dirty-rate=BYTES/s][,working-set=SIZE][,disk=NODE]}.
 *
 * @param memory     guest RAM in bytes (block "pc.ram"); a multiple of 4 KiB, at most {@link #MAX_MEMORY}
 * @param vcpus      number of vCPU threads, 1..{@link #MAX_VCPUS}
 * @param workload   what the vCPUs run
 * @param dirtyRate  bytes of guest memory the workload dirties per second (page granularity), all vCPUs
 *                   together; empty means as fast as the vCPUs can
 * @param workingSet bytes at the start of pc.ram the workload touches; empty means all of it
 * @param disk       block node the workload also writes, empty for none
 */
public record MachineSpec(long memory, int vcpus, WorkloadKind workload, OptionalLong dirtyRate,
        OptionalLong workingSet, Optional<String> disk) {
    /** Largest guest RAM accepted. */
    public static final long MAX_MEMORY = 64L << 30;
    /** Largest vCPU count accepted. */
    public static final int MAX_VCPUS = 64;

    public MachineSpec {
        if (memory <= 0 || memory > MAX_MEMORY || memory % RamBlock.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("memory: " + memory + " (expected: a multiple of 4096 in 4096.." + MAX_MEMORY + ")");
        }
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("vcpus: " + vcpus + " (expected: 1.." + MAX_VCPUS + ")");
        }
        if (dirtyRate.isPresent() && dirtyRate.getAsLong() <= 0) {
            throw new IllegalArgumentException("dirty-rate: " + dirtyRate.getAsLong() + " (expected: > 0)");
        }
        if (workingSet.isPresent() && (workingSet.getAsLong() < RamBlock.PAGE_SIZE || workingSet.getAsLong() > memory)) {
            throw new IllegalArgumentException("working-set: " + workingSet.getAsLong() + " (expected: 4096.." + memory + ")");
        }
        if (disk.isPresent() && disk.get().isEmpty()) {
            throw new IllegalArgumentException("disk: empty node name");
        }
    }

    /** A spec without rate, working set or disk. */
    public static MachineSpec of(long memory, int vcpus, WorkloadKind workload) {
        return new MachineSpec(memory, vcpus, workload, OptionalLong.empty(), OptionalLong.empty(), Optional.empty());
    }

    /** The working set in bytes, rounded down to whole pages. */
    public long workingSetOrMemory() {
        return (workingSet.orElse(memory) / RamBlock.PAGE_SIZE) * RamBlock.PAGE_SIZE;
    }

    /** QEMU's default RAM size (its {@code -m} when absent): 128 MiB. */
    public static final String DEFAULT_MEMORY = "128M";

    /**
     * Parses the {@code --machine} value. Keys QEMU has default as QEMU's do: {@code memory} is
     * 128 MiB and {@code vcpus} 1 when absent (as {@code -m} and {@code -smp}); {@code workload}
     * has no QEMU counterpart and must be given. Sizes follow QEMU's qemu_strtosz ({@code memory}
     * without suffix is MiB, as {@code -m}; {@code working-set} and {@code dirty-rate} without
     * suffix are bytes; suffixes B, K, M, G, T, P, E in either case; QEMU takes neither "KiB" nor
     * "MB", nor does converge; {@code dirty-rate} may end in "/s").
     *
     * @throws IllegalArgumentException naming the bad key or value
     */
    public static MachineSpec parse(String text) {
        Map<String, String> kv = new LinkedHashMap<>();
        for (String part : text.split(",", -1)) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("machine: '" + part + "' is not KEY=VALUE");
            }
            String key = part.substring(0, eq);
            if (kv.put(key, part.substring(eq + 1)) != null) {
                throw new IllegalArgumentException("machine: key '" + key + "' given twice");
            }
        }
        for (String key : kv.keySet()) {
            switch (key) {
                case "memory", "vcpus", "workload", "dirty-rate", "working-set", "disk" -> { }
                default -> throw new IllegalArgumentException("machine: unknown key '" + key
                        + "' (expected: memory, vcpus, workload, dirty-rate, working-set, disk)");
            }
        }
        if (!kv.containsKey("workload")) {
            throw new IllegalArgumentException("machine: missing key 'workload'");
        }
        long memory = Sizes.parse("memory", kv.getOrDefault("memory", DEFAULT_MEMORY), 1L << 20);
        int vcpus;
        try {
            vcpus = Integer.parseInt(kv.getOrDefault("vcpus", "1"));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("vcpus: '" + kv.get("vcpus") + "' is not an integer", e);
        }
        WorkloadKind workload = WorkloadKind.fromName(kv.get("workload"));
        OptionalLong rate = OptionalLong.empty();
        if (kv.containsKey("dirty-rate")) {
            String r = kv.get("dirty-rate");
            rate = OptionalLong.of(Sizes.parse("dirty-rate", r.endsWith("/s") ? r.substring(0, r.length() - 2) : r, 1));
        }
        OptionalLong ws = kv.containsKey("working-set")
                ? OptionalLong.of(Sizes.parse("working-set", kv.get("working-set"), 1)) : OptionalLong.empty();
        Optional<String> disk = Optional.ofNullable(kv.get("disk"));
        return new MachineSpec(memory, vcpus, workload, rate, ws, disk);
    }
}
