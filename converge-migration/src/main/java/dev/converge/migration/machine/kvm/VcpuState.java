package dev.converge.migration.machine.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Saves and restores one vCPU's architectural state through the KVM_GET_* / KVM_SET_* ioctls.
 * {@link #PIECES} lists the fixed-size pieces in the order the kernel needs them restored;
 * MSRs are the one variable piece: those of KVM_GET_MSR_INDEX_LIST that this vCPU can read.
 * Runs with every vCPU stopped and parked ({@link KvmVcpus#onEveryVcpu}; KVM_SET_VCPU_EVENTS is unsafe while
 * other vCPUs run). The order, and why (the kernel's constraints, as QEMU, Firecracker and
 * Cloud Hypervisor honour them):
 * <ol>
 * <li>KVM_SET_CPUID2 comes before all of them, once, when the vCPU is created (the kernel
 * refuses to change CPUID after the first KVM_RUN, and which MSRs and XSAVE features are valid
 * depends on it).</li>
 * <li>regs: KVM_SET_REGS discards a pending exception, so it precedes vcpu_events, which
 * restores it.</li>
 * <li>xsave (or fpu), xcrs: XCR0 and the XSAVE area, checked against CPUID.</li>
 * <li>sregs: control registers, EFER and the APIC base, which the LAPIC needs first.</li>
 * <li>lapic: after sregs (its APIC base and x2APIC mode), before the MSRs: the kernel ignores
 * a write of IA32_TSC_DEADLINE unless the LAPIC timer is already in TSC-deadline mode, so
 * MSRs restored first would lose the guest's armed deadline.</li>
 * <li>msrs: after the LAPIC (above) and CPUID.</li>
 * <li>vcpu_events: pending exception, interrupt, NMI, SMM and latched INIT, after regs and
 * sregs, which both touch pending events.</li>
 * <li>mp_state: last but the debug registers (as QEMU): whether the vCPU runs, halts or waits
 * for a SIPI depends on the LAPIC and the events just restored.</li>
 * <li>debugregs: independent of the rest.</li>
 * </ol>
 * The sections are saved in the same order, so that vcpu_events and mp_state are read after
 * KVM_GET_LAPIC (which may fold the LAPIC's pending state into the vCPU).
 */
final class VcpuState {
    /** Which optional KVM features are present (KVM_CHECK_EXTENSION). */
    record Caps(boolean irqchip, boolean xsave, boolean xcrs, boolean vcpuEvents, boolean mpState, boolean debugregs) {
        static Caps of(KvmSystem kvm) {
            return new Caps(kvm.checkExtension(Kvm.CAP_IRQCHIP) > 0, kvm.checkExtension(Kvm.CAP_XSAVE) > 0,
                    kvm.checkExtension(Kvm.CAP_XCRS) > 0, kvm.checkExtension(Kvm.CAP_VCPU_EVENTS) > 0,
                    kvm.checkExtension(Kvm.CAP_MP_STATE) > 0, kvm.checkExtension(Kvm.CAP_DEBUGREGS) > 0);
        }
    }

    /** A fixed-size piece: its section name, ioctls, struct size and when it applies. */
    record Piece(String name, long get, long set, int size, Predicate<Caps> present) {
    }

    /** Marks where the MSRs go in the restore order. */
    static final String MSRS = "msrs";

    static final List<Piece> PIECES = List.of(
            new Piece("regs", Kvm.GET_REGS, Kvm.SET_REGS, 144, c -> true),
            new Piece("xsave", Kvm.GET_XSAVE, Kvm.SET_XSAVE, 4096, Caps::xsave),
            new Piece("fpu", Kvm.GET_FPU, Kvm.SET_FPU, 416, c -> !c.xsave()),
            new Piece("xcrs", Kvm.GET_XCRS, Kvm.SET_XCRS, 392, Caps::xcrs),
            new Piece("sregs", Kvm.GET_SREGS, Kvm.SET_SREGS, 312, c -> true),
            new Piece("lapic", Kvm.GET_LAPIC, Kvm.SET_LAPIC, 1024, Caps::irqchip),
            new Piece(MSRS, 0, 0, 0, c -> true),
            new Piece("vcpu_events", Kvm.GET_VCPU_EVENTS, Kvm.SET_VCPU_EVENTS, 64, Caps::vcpuEvents),
            new Piece("mp_state", Kvm.GET_MP_STATE, Kvm.SET_MP_STATE, 4, Caps::mpState),
            new Piece("debugregs", Kvm.GET_DEBUGREGS, Kvm.SET_DEBUGREGS, 128, Caps::debugregs));

    private static final long ENTRY = KvmLayouts.MSR_ENTRY.byteSize();
    private static final long HEADER = KvmLayouts.MSRS.byteSize();

    private VcpuState() {
    }

    /** The pieces that apply with {@code caps}, in restore order. */
    static List<Piece> pieces(Caps caps) {
        return PIECES.stream().filter(p -> p.present().test(caps)).toList();
    }

    /** The MSRs of {@code candidates} this vCPU lets user space read (each probed alone). */
    static int[] readableMsrs(KvmVcpu vcpu, int[] candidates) {
        List<Integer> ok = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(HEADER + ENTRY, 8);
            for (int index : candidates) {
                one.fill((byte) 0);
                one.set(ValueLayout.JAVA_INT, 0, 1);
                one.set(ValueLayout.JAVA_INT, HEADER, index);
                if (vcpu.raw(Kvm.GET_MSRS, one) == 1) {
                    ok.add(index);
                }
            }
        }
        return ok.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Appends this vCPU's sections, named {@code prefix + piece}, to {@code out}. */
    static void save(KvmVcpu vcpu, Caps caps, int[] msrs, String prefix, List<StateSections.Section> out) {
        try (Arena a = Arena.ofConfined()) {
            for (Piece p : pieces(caps)) {
                if (p.name().equals(MSRS)) {
                    out.add(new StateSections.Section(prefix + MSRS, getMsrs(vcpu, msrs, a)));
                    continue;
                }
                MemorySegment buf = a.allocate(p.size(), 8);
                buf.fill((byte) 0);
                vcpu.get(p.get(), buf, "KVM_GET_" + p.name().toUpperCase(java.util.Locale.ROOT));
                out.add(new StateSections.Section(prefix + p.name(), buf.toArray(ValueLayout.JAVA_BYTE)));
            }
        }
    }

    /**
     * Restores this vCPU from {@code sections} (in restore order, named {@code prefix + piece}).
     *
     * @throws IllegalArgumentException when a section is missing, misnamed or of the wrong size
     */
    static void load(KvmVcpu vcpu, Caps caps, List<StateSections.Section> sections, String prefix) {
        List<Piece> pieces = pieces(caps);
        if (sections.size() != pieces.size()) {
            throw new IllegalArgumentException("kvm state: " + sections.size() + " sections for vCPU " + vcpu.id()
                    + " (expected: " + pieces.size() + ")");
        }
        try (Arena a = Arena.ofConfined()) {
            for (int i = 0; i < pieces.size(); i++) {
                Piece p = pieces.get(i);
                StateSections.Section s = sections.get(i);
                if (!s.name().equals(prefix + p.name())) {
                    throw new IllegalArgumentException("kvm state: section '" + s.name() + "' (expected: '" + prefix + p.name() + "')");
                }
                if (p.name().equals(MSRS)) {
                    setMsrs(vcpu, s.data(), a);
                    continue;
                }
                if (s.data().length != p.size()) {
                    throw new IllegalArgumentException("kvm state: section '" + s.name() + "' has " + s.data().length
                            + " bytes (expected: " + p.size() + ")");
                }
                MemorySegment buf = a.allocate(p.size(), 8);
                MemorySegment.copy(MemorySegment.ofArray(s.data()), 0, buf, 0, p.size());
                vcpu.set(p.set(), buf, "KVM_SET_" + p.name().toUpperCase(java.util.Locale.ROOT));
            }
        }
    }

    /** The kvm_msr_entry array (16 bytes each: index u32, reserved u32, data u64). */
    private static byte[] getMsrs(KvmVcpu vcpu, int[] msrs, Arena a) {
        MemorySegment buf = a.allocate(HEADER + ENTRY * msrs.length, 8);
        buf.fill((byte) 0);
        buf.set(ValueLayout.JAVA_INT, 0, msrs.length);
        for (int i = 0; i < msrs.length; i++) {
            buf.set(ValueLayout.JAVA_INT, HEADER + ENTRY * i, msrs[i]);
        }
        int got = vcpu.set(Kvm.GET_MSRS, buf, "KVM_GET_MSRS");
        if (got != msrs.length) {
            throw new IllegalStateException("KVM_GET_MSRS read " + got + " of " + msrs.length + " MSRs; it stopped at 0x"
                    + Integer.toHexString(msrs[got]));
        }
        return buf.asSlice(HEADER).toArray(ValueLayout.JAVA_BYTE);
    }

    private static void setMsrs(KvmVcpu vcpu, byte[] entries, Arena a) {
        if (entries.length % ENTRY != 0) {
            throw new IllegalArgumentException("kvm state: msrs section has " + entries.length + " bytes (expected: a multiple of " + ENTRY + ")");
        }
        int n = (int) (entries.length / ENTRY);
        MemorySegment buf = a.allocate(HEADER + entries.length, 8);
        buf.set(ValueLayout.JAVA_INT, 0, n);
        buf.set(ValueLayout.JAVA_INT, 4, 0);
        MemorySegment.copy(MemorySegment.ofArray(entries), 0, buf, HEADER, entries.length);
        int set = vcpu.set(Kvm.SET_MSRS, buf, "KVM_SET_MSRS");
        if (set != n) {
            throw new IllegalArgumentException("KVM_SET_MSRS set " + set + " of " + n + " MSRs; it refused 0x"
                    + Integer.toHexString(buf.get(ValueLayout.JAVA_INT, HEADER + ENTRY * set)) + " (vCPU " + vcpu.id() + ")");
        }
    }
}
