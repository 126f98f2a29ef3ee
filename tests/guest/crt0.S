/* crt0 of the test guest: everything that must run in ring 0.
 *
 * Owns the PVH ELF note, the 32-bit PVH entry, the boot page tables, GDT,
 * TSS and IDT, the switch to long mode and the drop to ring 3, the interrupt
 * entry stubs, the ring-3 -> ring-0 service gate (r0call), and the AP
 * (secondary CPU) path including the real-mode trampoline.
 *
 * Why so little here: on the development host KVM runs guest ring 0 under
 * slow instruction emulation while ring 3 runs natively. So all tables that
 * can be computed at assembly time are (the page tables are static data),
 * ring 0 executes only a few thousand instructions (mostly the IDT fill
 * loop), and even zeroing .bss is left to ring 3. */

#include "arch.h"

/* XEN_ELFNOTE_PHYS32_ENTRY from isle/pvh.h (a C header; main.c checks that
 * the two agree). */
#define PVH_NOTE_PHYS32_ENTRY 18

/* 2 MiB page-directory entry: present, writable, user, page size. */
#define PDE_FLAGS 0x87
/* Page-level cache disable + write-through: UC with the reset PAT. Used
 * from the ECAM window up, which covers all MMIO (ECAM, PCI windows, IOAPIC,
 * LAPIC) on both isle and QEMU q35. */
#define PDE_UC 0x18
#define UC_BASE 0xb0000000
/* Upper-level entries: present, writable, user. */
#define PXE_FLAGS 0x07
/* 104-byte TSS, 8 KiB I/O bitmap, terminator byte. */
#define TSS_LIMIT (104 + 65536 / 8 + 1 - 1)

/* ------------------------------------------------------------------ */
/* PVH ELF note: a loader starts us at pvh_entry in 32-bit flat protected
 * mode, paging off, %ebx = physical address of struct hvm_start_info. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                         /* namesz: "Xen\0" */
	.long 4                         /* descsz: 32-bit entry */
	.long PVH_NOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.long pvh_entry
	.balign 4

/* ------------------------------------------------------------------ */
	.section .text.entry, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	movl %ebx, boot_start_info

	/* The TSS base cannot be split into descriptor fields by a
	 * relocation, so patch it in (the TSS lies below 4 GiB). */
	movl $tss, %eax
	movw %ax, gdt + GDT_TSS + 2
	shrl $16, %eax
	movb %al, gdt + GDT_TSS + 4
	movb %ah, gdt + GDT_TSS + 7

	lgdt gdt_desc
	movl $bsp_entry64, %esi
	jmp long_mode_enable

/* APs arrive here from the trampoline in 32-bit protected mode with our
 * GDT loaded but no stack. */
	.globl ap_entry32
ap_entry32:
	movl $GDT_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $ap_entry64, %esi
	/* fall through */

/* Enables PAE paging with the static tables and long mode, then continues
 * at the 64-bit address in %esi. Shared by the BSP and the APs. */
long_mode_enable:
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl $CR0_LONG, %eax
	movl %eax, %cr0
	ljmp $GDT_KCODE64, $long_mode_entered

	.code64
long_mode_entered:
	/* The upper halves of registers are undefined after the switch. */
	movl %esi, %esi
	movl $GDT_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	jmp *%rsi

bsp_entry64:
	movq $bsp_kstack_top, %rsp
	movw $GDT_TSS, %ax
	ltr %ax
	call idt_fill
	lidt idt_desc

	/* Drop to ring 3 with IOPL=3 and interrupts off. The test body
	 * takes interrupts only while waiting in ring 0 (irq.c). */
	pushq $(GDT_UDATA | 3)
	pushq $bsp_ustack_top
	pushq $(RFLAGS_IOPL3 | RFLAGS_RSVD1)
	pushq $(GDT_UCODE64 | 3)
	pushq $user_entry
	iretq

/* Points every IDT vector at its stub (stub i is at irq_stubs + 16*i):
 * interrupt gates, DPL 0, so `int n` from ring 3 raises #GP instead. */
idt_fill:
	movq $idt, %rdi
	movq $irq_stubs, %rsi
	movl $256, %ecx
1:	movq %rsi, %rax
	movw %ax, (%rdi)
	movw $GDT_KCODE64, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	shrq $16, %rax
	movw %ax, 6(%rdi)
	shrq $16, %rax
	movl %eax, 8(%rdi)
	movl $0, 12(%rdi)
	addq $16, %rdi
	addq $IRQ_STUB_SIZE, %rsi
	decl %ecx
	jnz 1b
	ret

/* An AP in long mode: take a slot, record the APIC id, count ourselves in,
 * enable the LAPIC and idle with interrupts on, so interrupts routed to
 * this CPU (the ioapic scenario) reach irq_handle on the AP's own stack. An
 * AP without a slot (no stack) parks with interrupts off. Everything is
 * ring 0 (slow under emulation), so it stays short. */
ap_entry64:
	movl $1, %eax
	lock xaddl %eax, smp_ap_next
	movl %eax, %r12d
	cmpl $SMP_MAX_APS, %r12d
	jae ap_park
	leal 1(%r12d), %eax
	shll $12, %eax                  /* SMP_STACK_SIZE == 4096 */
	movq $smp_ap_stacks, %rsp
	addq %rax, %rsp
	lidt idt_desc
	movl $1, %eax
	cpuid
	shrl $24, %ebx
	movl %ebx, smp_ap_apic_ids(, %r12, 4)
	movl $0xfee000f0, %eax          /* LAPIC SVR: software enable, */
	movl $0x1ff, (%rax)             /* spurious vector 0xff */
	lock incl smp_ap_count
ap_idle:
	sti
	hlt
	cli
	jmp ap_idle
ap_park:
	cli
	hlt
	jmp ap_park

/* ------------------------------------------------------------------ */
/* Ring 3 from here on. */
user_entry:
	/* .bss is zeroed here, natively, rather than in ring 0; nothing
	 * written before this point lives in .bss. */
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb
	xorl %ebp, %ebp
	call guest_main
	movl $1, %edi
	call guest_exit

/* Ring-3 entry into ring 0 for short services: r0call(fn, arg) executes
 * ud2 here; irq_handle() recognizes this address, runs fn(arg) in ring 0,
 * returns its result in %rax and resumes after the ud2. An exception is
 * used as the gate because #UD from ring 3 is delivered faithfully by every
 * hypervisor we run on, which `int n` and `syscall` are not. */
	.globl r0call, r0call_ud2
r0call:
r0call_ud2:
	ud2
	ret

/* ------------------------------------------------------------------ */
/* Interrupt stubs, IRQ_STUB_SIZE bytes apart so idt_fill can compute them.
 * Vectors without a CPU error code push a 0 so the frame is uniform. */
	.balign 16
irq_stubs:
	.set vec, 0
	.rept 256
	.balign IRQ_STUB_SIZE
	.if vec < 32
	.if ((0x60227d00 >> vec) & 1) == 0
	pushq $0
	.endif
	.else
	pushq $0
	.endif
	pushq $vec
	jmp irq_common
	.set vec, vec + 1
	.endr

irq_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call irq_handle
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp                  /* vector, error code */
	iretq

/* ------------------------------------------------------------------ */
/* AP trampoline, copied to SMP_TRAMPOLINE by the smp scenario. A SIPI
 * starts it in real mode at CS=SMP_TRAMPOLINE>>4, IP=0. Position-
 * independent: data is addressed relative to CS; targets are absolute. */
	.code16
	.globl smp_tramp_start, smp_tramp_end
smp_tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdtr - smp_tramp_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $GDT_KCODE32, $ap_entry32
	.balign 8
tramp_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
smp_tramp_end:
	.code64

/* ------------------------------------------------------------------ */
	.section .data
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff        /* 0x10 kernel data */
	.quad 0x00cff2000000ffff        /* 0x18 user data, DPL 3 */
	.quad 0x00affa000000ffff        /* 0x20 user code, 64-bit, DPL 3 */
	.quad 0x00cf9a000000ffff        /* 0x28 kernel code, 32-bit */
	/* 0x30 TSS: base patched at boot, limit = size - 1 */
	.quad 0x0000890000000000 + TSS_LIMIT
	.quad 0
gdt_end:

	.balign 8
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

	.balign 8
	.word 0
	.globl idt_desc
idt_desc:
	.word 256 * 16 - 1
	.quad idt

/* 64-bit TSS: rsp0 is the stack interrupts from ring 3 switch to. It
 * carries a full I/O permission bitmap granting every port. With IOPL=3
 * the CPU never looks at it, but a PVM-style hypervisor (the development
 * host's KVM) cannot give ring 3 a real IOPL: it strips IOPL from user
 * RFLAGS, traps each IN/OUT as #GP, and its instruction emulator then
 * allows the access only if this bitmap does. */
	.balign 16
tss:
	.long 0
	.quad bsp_kstack_top            /* rsp0 */
	.quad 0, 0                      /* rsp1, rsp2 */
	.quad 0
	.fill 7, 8, 0                   /* ist1-7 */
	.quad 0
	.word 0
	.word tss_iomap - tss           /* I/O map base */
tss_iomap:
	.fill 65536 / 8, 1, 0           /* every port allowed */
	.byte 0xff                      /* terminator: accesses read 2 bytes */
tss_end:

/* Written in ring 0 before .bss is cleared, so it lives in .data. */
	.balign 8
	.globl boot_start_info
boot_start_info:
	.quad 0

/* Identity map of 0-4 GiB with 2 MiB pages, all user-accessible so ring 3
 * can reach RAM, ECAM and the LAPIC directly; computed by the assembler so
 * ring 0 does not spend time building it. The rest of pdpt (4-512 GiB,
 * where 64-bit BARs live) is filled in by paging.c, from ring 3. */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4, pdpt
pml4:
	.quad pdpt + PXE_FLAGS
	.fill 511, 8, 0
pdpt:
	.quad pd + PXE_FLAGS
	.quad pd + 0x1000 + PXE_FLAGS
	.quad pd + 0x2000 + PXE_FLAGS
	.quad pd + 0x3000 + PXE_FLAGS
	.fill 508, 8, 0
pd:
	.set pde_addr, 0
	.rept 2048
	.if pde_addr >= UC_BASE
	.quad pde_addr + PDE_FLAGS + PDE_UC
	.else
	.quad pde_addr + PDE_FLAGS
	.endif
	.set pde_addr, pde_addr + 0x200000
	.endr

/* ------------------------------------------------------------------ */
/* AP bookkeeping: zeroed with .bss by ring 3 before any AP is started. */
	.section .bss
	.balign 8
	.globl smp_ap_next, smp_ap_count, smp_ap_apic_ids
smp_ap_next:
	.long 0
smp_ap_count:
	.long 0
smp_ap_apic_ids:
	.fill SMP_MAX_APS, 4, 0

/* Never zeroed: stacks and the IDT (filled in ring 0 before .bss is). */
	.section .noinit, "aw", @nobits
	.balign 4096
idt:
	.skip 256 * 16
	.balign 16
	.skip KSTACK_SIZE
bsp_kstack_top:
	.skip USTACK_SIZE
bsp_ustack_top:
	.globl smp_ap_stacks
smp_ap_stacks:
	.skip SMP_MAX_APS * SMP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
