# converge's pattern guest: a 512-byte x86 boot sector (it ends in 0x55 0xAA), so the same
# bytes boot in converge (accel=kvm, loaded at 0x7c00 as a BIOS would) and in QEMU (as the
# boot sector of a raw disk).
#
# It switches to flat 32-bit protected mode, reads the RAM size from the CMOS (registers
# 0x34/0x35: 64 KiB units above 16 MiB; 0x30/0x31: KiB above 1 MiB for smaller machines),
# then loops for ever: add 1 to the first byte of every page from 1 MiB to the end of RAM,
# count the pass at `passes`, and write 'B' to the serial port 0x3f8. 'A' on the serial port
# marks the start. Every page of the range therefore holds the same pass count (mod 256),
# except the pages of the pass in flight, which hold one more: a lost or stale page after a
# migration breaks that rule and changes the RAM digest.
#
# Build: as --32 -o g.o pattern-guest.S && ld -m elf_i386 -Ttext=0x7c00 -e start -o g.elf g.o
#        && objcopy -O binary -j .text g.elf pattern-guest.bin
        .code16
        .text
        .globl start
start:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7c00, %sp
        inb     $0x92, %al              # A20 on (fast gate)
        orb     $2, %al
        outb    %al, $0x92
        lgdtl   gdt_desc
        movl    %cr0, %eax
        orl     $1, %eax                # PE
        movl    %eax, %cr0
        ljmpl   $0x08, $flat

        .code32
flat:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movl    $0x7c00, %esp
        movb    $0x34, %cl              # RAM above 16 MiB in 64 KiB units
        call    cmos_word
        testl   %ebx, %ebx
        jz      small
        shll    $16, %ebx
        addl    $0x1000000, %ebx
        jmp     sized
small:
        movb    $0x30, %cl              # RAM above 1 MiB in KiB
        call    cmos_word
        shll    $10, %ebx
        addl    $0x100000, %ebx
sized:
        movl    %ebx, ram_end
        movw    $0x3f8, %dx
        movb    $'A', %al
        outb    %al, %dx
pass:
        movl    $0x100000, %eax
page:
        incb    (%eax)
        addl    $4096, %eax
        cmpl    %ebx, %eax
        jb      page
        incl    passes
        movb    $'B', %al
        outb    %al, %dx
        jmp     pass

# CMOS registers %cl (low byte) and %cl+1 (high byte) as a 16-bit word in %ebx.
cmos_word:
        movb    %cl, %al
        incb    %al
        outb    %al, $0x70
        inb     $0x71, %al
        movb    %al, %bh
        movb    %cl, %al
        outb    %al, $0x70
        inb     $0x71, %al
        movb    %al, %bl
        movzwl  %bx, %ebx
        ret

        .p2align 3
gdt:
        .quad   0                       # null
        .quad   0x00cf9a000000ffff      # 0x08: code, base 0, limit 4 GiB, 32-bit
        .quad   0x00cf92000000ffff      # 0x10: data, base 0, limit 4 GiB
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt
ram_end:
        .long   0                       # end of the range (exclusive), from the CMOS
passes:
        .long   0                       # passes completed

        .org    510
        .byte   0x55, 0xaa
