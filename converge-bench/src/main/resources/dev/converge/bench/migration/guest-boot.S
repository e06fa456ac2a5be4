/*
 * guest-boot.S: the boot sector converge-bench runs in QEMU for the migration benchmark.
 *
 * One image serves both workloads; the benchmark patches the 32-bit little-endian word
 * "ram_end" at byte offset 0x1F8 (504) of the image before it boots it:
 *   ram_end == 0  "idle":    interrupts off, hlt forever, so guest RAM stays zero pages.
 *   ram_end != 0  "pattern": forever, for every 4 KiB page from 1 MiB (0x100000) up to
 *                            ram_end (exclusive), increment the first byte of the page.
 * ram_end must be a multiple of 4096 and at most 0xE0000000: the pc machine maps RAM below
 * 4 GiB contiguously only up to there (more goes above 4 GiB, which this guest does not reach).
 * Addresses below 1 MiB (BIOS, VGA hole, this code at 0x7C00) are never written.
 *
 * How: the BIOS loads this sector at 0x7C00 and jumps to it in 16-bit real mode. We turn on
 * the A20 gate (port 0x92, "fast A20"), load a GDT with flat 4 GiB code and data segments,
 * set CR0.PE and jump into 32-bit protected mode (paging stays off, so guest-physical
 * addresses are used directly). Interrupts stay disabled and no IDT is needed.
 *
 * Build (the benchmark uses the committed bytes in GuestImage.java; GuestImageTest checks
 * that they equal what this source assembles to when binutils are installed):
 *   as --32 -o boot.o guest-boot.S
 *   ld -m elf_i386 -Ttext=0x7c00 -e _start -o boot.elf boot.o
 *   objcopy -O binary -j .text boot.elf boot.bin        (exactly 512 bytes)
 */
        .code16
        .text
        .globl _start
_start:
        cli
        cld
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7c00, %sp
        /* Fast A20: set bit 1 of port 0x92, keep bit 0 (reset) clear. */
        inb     $0x92, %al
        orb     $0x02, %al
        andb    $0xfe, %al
        outb    %al, $0x92
        lgdtl   gdt_desc
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $0x08, $protected

        .code32
protected:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movl    $0x7c00, %esp
        movl    ram_end, %ecx
        testl   %ecx, %ecx
        jz      idle
pass:
        movl    $0x100000, %ebx
page:
        incb    (%ebx)
        addl    $4096, %ebx
        cmpl    %ecx, %ebx
        jb      page
        jmp     pass
idle:
        hlt
        jmp     idle

        .p2align 3
gdt:
        .quad   0                       /* null descriptor */
        .quad   0x00cf9a000000ffff      /* 0x08: code, base 0, limit 4 GiB, 32-bit, execute/read */
        .quad   0x00cf92000000ffff      /* 0x10: data, base 0, limit 4 GiB, read/write */
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt

        .org    0x1f8
ram_end:
        .long   0                       /* patched by the benchmark; see above */
        .org    0x1fe
        .byte   0x55, 0xaa              /* boot signature */
