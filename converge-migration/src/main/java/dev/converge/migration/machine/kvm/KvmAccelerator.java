package dev.converge.migration.machine.kvm;

import dev.converge.migration.machine.Accelerator;
import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.machine.Workload;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The KVM accelerator: guest RAM mmap'd (with MADV_HUGEPAGE as QEMU asks for its RAM, on an incoming
 * destination only once the incoming state is loaded: {@link HugePages}) and handed
 * to KVM as memory slots (pc.ram at guest physical 0, pc.rom just below 4 GiB), an in-kernel
 * irqchip and PIT as QEMU's PC has, one {@link KvmVcpus} thread per vCPU, the kernel's dirty
 * tracking moved into the RAM blocks' {@link dev.converge.migration.machine.DirtyLog}s, and the
 * vCPU and VM state as {@link StateSections}.
 * <p>
 * Dirty tracking ({@link DirtySource}), one or the other per VM as the kernel allows: by default
 * (as QEMU's default) the per-slot bitmap with manual protection
 * (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: KVM_GET_DIRTY_LOG, then KVM_CLEAR_DIRTY_LOG of exactly the
 * pages taken); with the machine option {@code dirty-ring-size=N} (QEMU's {@code -accel
 * kvm,dirty-ring-size=N}) the per-vCPU dirty rings (KVM_CAP_DIRTY_LOG_RING), which a reaper
 * thread collects every {@link #RING_REAP_PERIOD_NANOS} ns while the vCPUs run (see
 * {@link DirtyRings} for why).
 * <p>
 * A fresh machine (not {@code inmigrate}) gets its guest binary at 0x7c00 and vCPU 0 starts
 * there in real mode, as after a BIOS; the other vCPUs wait for a start-up IPI (the in-kernel
 * local APIC's reset state), as application processors do. That power-on state is saved once
 * at creation; {@link #reset} (a triple fault, system_reset) loads it again and reloads the
 * boot sector.
 */
public final class KvmAccelerator implements Accelerator {
    /** Guest physical address where a boot sector is loaded and vCPU 0 starts. */
    public static final long BOOT_ADDRESS = 0x7c00;
    /** Largest pc.ram: it must end below the TSS, identity map and ROM pages under 4 GiB. */
    public static final long MAX_MEMORY = 3L << 30;
    /** How often the reaper collects the dirty rings while the vCPUs run. */
    static final long RING_REAP_PERIOD_NANOS = 5_000_000;
    private static final int SLOT_RAM = 0;
    private static final int SLOT_ROM = 1;
    private static final int IRQCHIP_SIZE = 520;
    private static final int CLOCK_SIZE = 48;
    private static final int PIT2_SIZE = 112;
    /** KVM_GET_IRQCHIP chip ids: master PIC, slave PIC, IOAPIC. */
    private static final String[] CHIPS = {"pic_master", "pic_slave", "ioapic"};

    private final KvmSystem kvm;
    private final KvmVm vm;
    private final KvmVcpus vcpus;
    private final GuestPorts ports;
    private final SerialSink serial;
    private final VcpuState.Caps caps;
    /** The memory slots: index = slot id. */
    private final List<RamBlock> slots;
    private final RamBlock main;
    private final KvmGuest guest;
    /** The vCPU and VM state right after creation (vCPU 0 at the boot sector), which a reset loads again. */
    private final byte[] powerOn;
    /** Where the dirty pages come from; called under dirtyLock. */
    private final DirtySource dirty;
    /** Arena of the kvm_run mappings and the CPUID table; closed last. */
    private final Arena arena;
    /** MSRs saved and restored per vCPU (readable on this host); written by the vCPU threads at init. */
    private volatile int[] msrs = new int[0];
    /** Timed runs of {@link #saveState} and of loading its state back at creation; the fastest of each make {@link #stateCostNanos}. */
    private static final int STATE_TIMINGS = 3;
    /** One save and one load of the state at creation (the fastest of {@link #STATE_TIMINGS} each), ns. */
    private final long stateCostNanos;
    /** Serializes dirty log collections (the migration thread, a query). */
    private final ReentrantLock dirtyLock = new ReentrantLock();
    /** When the last collection ran; guarded by dirtyLock. */
    private long lastCollect = System.nanoTime();
    /** Pages vCPUs collected from their full rings since the last {@link #collectDirtyLog}; guarded by dirtyLock. */
    private long collectedByVcpus;
    /** Per vCPU, what had been taken from its ring at its last full-ring exit; guarded by dirtyLock. */
    private final long[] takenAtLastFull;

    /** Transparent huge pages for guest RAM: at once, or on an incoming destination once its state is loaded. */
    private final HugePages hugePages;

    /** Collects the dirty rings while the vCPUs run; null with the bitmap. */
    private final Thread reaper;
    /** Set by close; the reaper ends. */
    private volatile boolean closing;

    /**
     * @param ringEntries dirty ring entries per vCPU: 0 for the bitmap, or a power of two the kernel accepts
     */
    private KvmAccelerator(String machineName, MachineSpec spec, GuestRam ram, Map<String, MemorySegment> memory, KvmGuest guest,
            SerialSink serial, RunState initial, int ringEntries) {
        if (spec.memory() > MAX_MEMORY) {
            throw new IllegalArgumentException("memory: " + spec.memory() + " (expected: at most " + MAX_MEMORY + " with accel=kvm)");
        }
        this.serial = serial;
        this.guest = guest;
        this.main = ram.block(Machine.RAM_BLOCK).orElseThrow();
        RamBlock rom = ram.block(Machine.ROM_BLOCK).orElseThrow();
        this.slots = List.of(main, rom); // index = slot id (SLOT_RAM, SLOT_ROM)
        this.arena = Arena.ofShared();
        this.takenAtLastFull = new long[spec.vcpus()];
        java.util.Arrays.fill(takenAtLastFull, -1);
        this.kvm = KvmSystem.open();
        KvmVm v = null;
        try {
            for (int cap : new int[] {Kvm.CAP_USER_MEMORY, Kvm.CAP_SET_TSS_ADDR, Kvm.CAP_IRQCHIP, Kvm.CAP_PIT2,
                    Kvm.CAP_IMMEDIATE_EXIT, Kvm.CAP_ADJUST_CLOCK}) {
                if (kvm.checkExtension(cap) <= 0) {
                    throw new IllegalStateException("KVM lacks capability " + cap + " that accel=kvm needs");
                }
            }
            this.caps = VcpuState.Caps.of(kvm);
            v = kvm.createVm();
            v.setTssAddr();
            v.createIrqchip();
            v.createPit2();
            int entries = checkRingEntries(v, ringEntries);
            if (entries > 0) {
                v.enableCap(Kvm.CAP_DIRTY_LOG_RING, (long) entries * Kvm.DIRTY_GFN_SIZE); // before any vCPU exists
            } else {
                if (kvm.checkExtension(Kvm.CAP_MANUAL_DIRTY_LOG_PROTECT2) <= 0) {
                    throw new IllegalStateException("KVM lacks capability " + Kvm.CAP_MANUAL_DIRTY_LOG_PROTECT2
                            + " (manual dirty log protection) that accel=kvm needs without a dirty ring");
                }
                v.enableCap(Kvm.CAP_MANUAL_DIRTY_LOG_PROTECT2, Kvm.DIRTY_LOG_MANUAL_PROTECT_ENABLE);
            }
            this.hugePages = new HugePages(List.copyOf(memory.values()), initial == RunState.INMIGRATE);
            v.setMemoryRegion(SLOT_RAM, Kvm.MEM_LOG_DIRTY_PAGES, 0, memory.get(main.name()));
            v.setMemoryRegion(SLOT_ROM, Kvm.MEM_LOG_DIRTY_PAGES, (1L << 32) - rom.size(), memory.get(rom.name()));
            this.vm = v;
            if (initial != RunState.INMIGRATE) {
                guest.loadInto(main);
            }
            this.ports = new GuestPorts(spec.memory(), serial);
            List<KvmVcpu> list = new ArrayList<>();
            List<MemorySegment> rings = new ArrayList<>();
            for (int i = 0; i < spec.vcpus(); i++) {
                KvmVcpu vcpu = v.createVcpu(i, arena);
                list.add(vcpu);
                if (entries > 0) {
                    rings.add(vcpu.mapDirtyRing((long) entries * Kvm.DIRTY_GFN_SIZE, arena));
                }
            }
            this.dirty = entries > 0 ? new DirtyRings(v, slots, rings, entries) : new DirtyBitmaps(v, slots);
            MemorySegment cpuid = kvm.supportedCpuid(arena);
            int[] candidates = kvm.msrIndexList();
            this.vcpus = new KvmVcpus(machineName, list, ports, vcpu -> {
                vcpu.set(Kvm.SET_CPUID2, cpuid, "KVM_SET_CPUID2");
                if (vcpu.id() == 0) {
                    msrs = VcpuState.readableMsrs(vcpu, candidates);
                    // Also on a destination (its state is replaced by the incoming one): this is the
                    // power-on state a reset returns to.
                    startAtBootSector(vcpu);
                }
            });
            vcpus.onDirtyRingFull(this::collectFullRing);
            this.reaper = entries == 0 ? null
                    : Thread.ofPlatform().daemon().name(machineName + "-dirty-ring-reaper").start(this::reapRings);
            // What a switchover pays to save the state here and load it there: timed here, while
            // the vCPUs have not run, after a first run of each (warm), loading back the state just
            // saved (which changes nothing). The fastest of a few runs: a daemon starts on busy CPUs
            // (its JIT, a second daemon starting beside it), and one timing caught that (seen: 17 ms
            // in one daemon, 2.4 ms in the next, while the stopped window's save and load took a few
            // ms in both), which the estimate charges at every pass and which alone can keep a 50 ms
            // limit out of reach. The first load also links the load's path (its lambdas and native
            // calls), which a destination otherwise did inside its downtime. The state is the power-on state.
            byte[] state = saveState();
            load(ByteBuffer.wrap(state), false);
            long fastestSave = Long.MAX_VALUE;
            long fastestLoad = Long.MAX_VALUE;
            for (int i = 0; i < STATE_TIMINGS; i++) {
                long t0 = System.nanoTime();
                state = saveState();
                long t1 = System.nanoTime();
                load(ByteBuffer.wrap(state), false);
                fastestSave = Math.min(fastestSave, t1 - t0);
                fastestLoad = Math.min(fastestLoad, System.nanoTime() - t1);
            }
            this.powerOn = state;
            this.stateCostNanos = fastestSave + fastestLoad;
        } catch (RuntimeException | Error e) {
            closing = true; // a reaper started already ends at its next period
            if (v != null) {
                v.close();
            }
            kvm.close();
            arena.close();
            throw e;
        }
    }

    /**
     * Checks a ring size against what this KVM offers: {@code requested} entries, 0 for the bitmap.
     *
     * @throws IllegalArgumentException when a ring was asked for and the kernel has none, or not of that size
     */
    private static int checkRingEntries(KvmVm vm, int requested) {
        long maxBytes = Math.max(0, vm.checkExtension(Kvm.CAP_DIRTY_LOG_RING));
        if (requested > 0 && maxBytes == 0) {
            throw new IllegalArgumentException("dirty-ring-size: " + requested + ", but this KVM has no dirty ring "
                    + "(KVM_CAP_DIRTY_LOG_RING); use dirty-ring-size=0 for the dirty bitmap");
        }
        if (requested > 0 && (long) requested * Kvm.DIRTY_GFN_SIZE > maxBytes) {
            throw new IllegalArgumentException("dirty-ring-size: " + requested + " (expected: at most " + maxBytes / Kvm.DIRTY_GFN_SIZE
                    + " entries on this KVM)");
        }
        return requested;
    }

    /**
     * The factory of one KVM machine: {@link #allocateRam} maps anonymous memory for each
     * block and remembers it, {@link #create} hands it to KVM. One machine per factory. Dirty
     * tracking by the bitmap.
     */
    public static Accelerator.Factory factory(KvmGuest guest, SerialSink serial) {
        return factory(guest, serial, 0);
    }

    /** The factory with {@code dirtyRingEntries} per vCPU (the machine option {@code dirty-ring-size}; 0: the bitmap). */
    public static Accelerator.Factory factory(KvmGuest guest, SerialSink serial, int dirtyRingEntries) {
        return new Accelerator.Factory() {
            /** The blocks' mappings by name; written by allocateRam, read by create (same thread). */
            private final Map<String, MemorySegment> memory = new LinkedHashMap<>();

            @Override
            public GuestRam allocateRam(List<GuestRam.BlockInfo> layout) {
                return new GuestRam(layout, (arena, info) -> {
                    MemorySegment m = LibC.mmap(info.size(), LibC.PROT_READ | LibC.PROT_WRITE,
                            LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0, arena, "mmap guest RAM " + info.name());
                    // Huge pages are asked for by the accelerator once it knows whether this is an
                    // incoming destination (see HugePages).
                    memory.put(info.name(), m);
                    return m;
                });
            }

            @Override
            public Accelerator create(String machineName, MachineSpec spec, GuestRam ram, Workload workload, RunState initial) {
                return new KvmAccelerator(machineName, spec, ram, Map.copyOf(memory), guest, serial, initial, dirtyRingEntries);
            }
        };
    }

    /** Real mode at {@link #BOOT_ADDRESS} with CS = 0, DL = 0x80 (booted from the first disk), as a BIOS hands over. */
    private static void startAtBootSector(KvmVcpu vcpu) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sregs = a.allocate(KvmLayouts.SREGS);
            vcpu.get(Kvm.GET_SREGS, sregs, "KVM_GET_SREGS");
            long cs = KvmLayouts.offset(KvmLayouts.SREGS, "cs");
            sregs.set(ValueLayout.JAVA_LONG, cs + KvmLayouts.offset(KvmLayouts.SEGMENT, "base"), 0L);
            sregs.set(ValueLayout.JAVA_SHORT, cs + KvmLayouts.offset(KvmLayouts.SEGMENT, "selector"), (short) 0);
            vcpu.set(Kvm.SET_SREGS, sregs, "KVM_SET_SREGS");
            MemorySegment regs = a.allocate(KvmLayouts.REGS);
            regs.fill((byte) 0);
            regs.set(ValueLayout.JAVA_LONG, KvmLayouts.offset(KvmLayouts.REGS, "rip"), BOOT_ADDRESS);
            regs.set(ValueLayout.JAVA_LONG, KvmLayouts.offset(KvmLayouts.REGS, "rflags"), 2L);
            regs.set(ValueLayout.JAVA_LONG, KvmLayouts.offset(KvmLayouts.REGS, "rdx"), 0x80L);
            vcpu.set(Kvm.SET_REGS, regs, "KVM_SET_REGS");
        }
    }

    @Override
    public Kind kind() {
        return Kind.KVM;
    }

    @Override
    public KvmVcpus vcpus() {
        return vcpus;
    }

    /** Bytes the guest wrote to its serial port so far (its progress marks). */
    public long serialBytes() {
        return ports.serialBytes();
    }

    /** Which dirty tracking this machine uses: "ring" or "bitmap". */
    public String dirtyTracking() {
        return dirty.name();
    }

    @Override
    public void collectDirtyLog() {
        dirtyLock.lock();
        try {
            long newly = dirty.collect() + collectedByVcpus;
            collectedByVcpus = 0;
            long now = System.nanoTime();
            vcpus.steerDirtyLimit(newly, now - lastCollect);
            lastCollect = now;
            vcpus.probeKickLatency();
        } finally {
            dirtyLock.unlock();
        }
    }

    /**
     * A vCPU's ring is full (KVM_EXIT_DIRTY_RING_FULL): collect all rings on its thread before it
     * re-enters. A second full ring with nothing taken from it since the first (by this or by the
     * reaper) means the kernel overwrote entries and its indexes and ours parted (see
     * {@link DirtyRings}): pages were lost for the migration, so the vCPU fails rather than spins.
     */
    private void collectFullRing(int vcpu) {
        dirtyLock.lock();
        try {
            collectedByVcpus += dirty.collect();
            long took = ((DirtyRings) dirty).takenFrom(vcpu);
            boolean stuck = took == takenAtLastFull[vcpu];
            takenAtLastFull[vcpu] = took;
            if (!stuck) {
                return;
            }
        } finally {
            dirtyLock.unlock();
        }
        throw new IllegalStateException("KVM dirty ring of vCPU " + vcpu + " overflowed: the kernel reported it full twice with "
                + "nothing to collect (pages it logged were overwritten); use a larger dirty-ring-size, or 0 (the dirty bitmap)");
    }

    private long collectRings() {
        dirtyLock.lock();
        try {
            long n = dirty.collect();
            collectedByVcpus += n;
            return n;
        } finally {
            dirtyLock.unlock();
        }
    }

    /** The reaper: collects the rings every period while the vCPUs run, so that none gets near full. */
    private void reapRings() {
        while (!closing) {
            java.util.concurrent.locks.LockSupport.parkNanos(RING_REAP_PERIOD_NANOS);
            if (!closing && vcpus.isRunning()) {
                try {
                    collectRings();
                } catch (RuntimeException e) {
                    if (!closing) {
                        throw e;
                    }
                }
            }
        }
    }

    /** Saving the vCPU and VM state here and loading it there (timed at creation, the fastest of a few runs). */
    @Override
    public java.time.Duration switchoverCost() {
        return java.time.Duration.ofNanos(stateCostNanos);
    }

    /** Kicking the vCPUs that run guest code out of KVM_RUN, as recently measured (halted ones are out already). */
    @Override
    public java.time.Duration stopCost() {
        return java.time.Duration.ofNanos(vcpus.kickLatency());
    }

    @Override
    public byte[] saveState() {
        List<StateSections.Section> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            for (int chip = 0; chip < CHIPS.length; chip++) {
                MemorySegment buf = a.allocate(IRQCHIP_SIZE, 8);
                buf.fill((byte) 0);
                buf.set(ValueLayout.JAVA_INT, 0, chip);
                vm.get(Kvm.GET_IRQCHIP, buf, "KVM_GET_IRQCHIP " + CHIPS[chip]);
                out.add(new StateSections.Section("vm." + CHIPS[chip], buf.toArray(ValueLayout.JAVA_BYTE)));
            }
            MemorySegment pit = a.allocate(PIT2_SIZE, 8);
            vm.get(Kvm.GET_PIT2, pit, "KVM_GET_PIT2");
            out.add(new StateSections.Section("vm.pit2", pit.toArray(ValueLayout.JAVA_BYTE)));
            int[] m = msrs;
            for (List<StateSections.Section> mine : vcpus.onEveryVcpu((i, vcpu) -> {
                List<StateSections.Section> s = new ArrayList<>();
                VcpuState.save(vcpu, caps, m, "vcpu" + i + ".", s);
                return s;
            })) {
                out.addAll(mine);
            }
            MemorySegment clock = a.allocate(CLOCK_SIZE, 8);
            vm.get(Kvm.GET_CLOCK, clock, "KVM_GET_CLOCK");
            out.add(new StateSections.Section("vm.clock", clock.toArray(ValueLayout.JAVA_BYTE)));
        }
        return StateSections.encode(out);
    }

    /** Loads the incoming state; on a destination, RAM has arrived by then: huge pages from here on ({@link HugePages}). */
    @Override
    public void loadState(ByteBuffer in) {
        load(in, true);
        hugePages.incomingLoaded();
    }

    @Override
    public boolean canReset() {
        return true;
    }

    /**
     * Power-on again: the boot sector reloaded at 0x7c00 (the rest of RAM as the guest left it,
     * as on QEMU, whose BIOS does the same) and the vCPU and VM state saved at creation, but the
     * clock, which goes on. The vCPUs are stopped.
     */
    @Override
    public void reset() {
        guest.loadInto(main);
        load(ByteBuffer.wrap(powerOn), false);
    }

    @Override
    public void onGuestReset(Runnable listener) {
        vcpus.onGuestReset(listener);
    }

    /**
     * Loads state sections in the order the kernel needs: the interrupt controllers and the PIT
     * before the vCPUs (a LAPIC routes to the IOAPIC/PIC state just loaded), each vCPU in
     * {@link VcpuState}'s order, and the clock last (kvmclock counts from when it is set).
     */
    private void load(ByteBuffer in, boolean clockToo) {
        List<StateSections.Section> sections = StateSections.decode(in.order(ByteOrder.LITTLE_ENDIAN));
        int perVcpu = VcpuState.pieces(caps).size();
        int expected = CHIPS.length + 1 + perVcpu * vcpus.count() + 1;
        if (sections.size() != expected) {
            throw new IllegalArgumentException("kvm state: " + sections.size() + " sections (expected: " + expected + " for "
                    + vcpus.count() + " vCPUs)");
        }
        int at = 0;
        try (Arena a = Arena.ofConfined()) {
            for (int chip = 0; chip < CHIPS.length; chip++) {
                vm.set(Kvm.SET_IRQCHIP, fixed(a, sections.get(at++), "vm." + CHIPS[chip], IRQCHIP_SIZE), "KVM_SET_IRQCHIP " + CHIPS[chip]);
            }
            vm.set(Kvm.SET_PIT2, fixed(a, sections.get(at++), "vm.pit2", PIT2_SIZE), "KVM_SET_PIT2");
            int first = at;
            // Each vCPU on its own thread, all at once (each in VcpuState's order).
            vcpus.onEveryVcpu((i, vcpu) -> {
                int from = first + i * perVcpu;
                VcpuState.load(vcpu, caps, sections.subList(from, from + perVcpu), "vcpu" + i + ".");
                return null;
            });
            at += perVcpu * vcpus.count();
            MemorySegment clock = fixed(a, sections.get(at), "vm.clock", CLOCK_SIZE);
            if (clockToo) {
                // Only the clock value: the flags, realtime and host_tsc the source reported are its own.
                clock.asSlice(8).fill((byte) 0);
                vm.set(Kvm.SET_CLOCK, clock, "KVM_SET_CLOCK");
            }
        }
    }

    private static MemorySegment fixed(Arena a, StateSections.Section s, String name, int size) {
        if (!s.name().equals(name)) {
            throw new IllegalArgumentException("kvm state: section '" + s.name() + "' (expected: '" + name + "')");
        }
        if (s.data().length != size) {
            throw new IllegalArgumentException("kvm state: section '" + name + "' has " + s.data().length + " bytes (expected: " + size + ")");
        }
        MemorySegment buf = a.allocate(size, 8);
        MemorySegment.copy(MemorySegment.ofArray(s.data()), 0, buf, 0, size);
        return buf;
    }

    @Override
    public void close() {
        closing = true;
        try {
            if (reaper != null) {
                java.util.concurrent.locks.LockSupport.unpark(reaper);
                reaper.join();
            }
            hugePages.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        vcpus.close();
        vm.close();
        kvm.close();
        serial.close();
        arena.close();
    }
}
