/* x86-64 machine definitions for the test guest: segment selectors and
 * control-register bits (shared with crt0.S), and the inline wrappers for the
 * few instructions C code needs (port I/O, MMIO, CPUID, RDTSC, flags).
 *
 * Everything here runs in ring 3 unless noted: port I/O (IOPL=3, or the TSS
 * I/O bitmap under PVM), RDTSC and PAUSE are legal there. CPUID is too, but
 * may not be virtualized in ring 3, so guest.h's cpuid() runs it in ring 0. */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

/* GDT layout (crt0.S builds it; the order is fixed by these selectors). */
#define GDT_KCODE64   0x08
#define GDT_KDATA     0x10
#define GDT_UDATA     0x18   /* used with RPL 3 */
#define GDT_UCODE64   0x20   /* used with RPL 3 */
#define GDT_KCODE32   0x28   /* AP trampoline: real mode -> 32-bit -> long */
#define GDT_TSS       0x30   /* 16-byte 64-bit TSS descriptor */
#define GDT_ENTRIES   8

#define CR0_PE        0x00000001
#define CR0_ET        0x00000010
#define CR0_NE        0x00000020
#define CR0_WP        0x00010000
#define CR0_PG        0x80000000
/* Written whole (not read-modify-write) so APs leaving INIT with CD/NW set
 * get caching back on. */
#define CR0_LONG      (CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_PE)
#define CR4_PAE       0x00000020
#define MSR_EFER      0xc0000080
#define EFER_LME      0x00000100

#define RFLAGS_RSVD1  0x00000002
#define RFLAGS_IF     0x00000200
#define RFLAGS_IOPL3  0x00003000

/* Where the AP real-mode trampoline is copied (SIPI vector 0x08). */
#define SMP_TRAMPOLINE  0x8000
#define SMP_MAX_APS     63
#define SMP_STACK_SIZE  4096

#define KSTACK_SIZE   16384
#define USTACK_SIZE   65536

#define IRQ_STUB_SIZE 16

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Physical address to pointer (identity mapped). The empty asm hides the
 * constant from GCC, whose -Warray-bounds rejects fixed low addresses. */
static inline void *phys_ptr(uint64_t paddr)
{
	uintptr_t p = (uintptr_t)paddr;

	__asm__("" : "+r"(p));
	return (void *)p;
}

/* MMIO: volatile plain moves so a trapping hypervisor can decode them. The
 * whole 0xB0000000-4 GiB range is mapped uncached by crt0.S. */
static inline uint8_t mmio_read8(uint64_t addr)
{
	return *(volatile uint8_t *)(uintptr_t)addr;
}
static inline uint16_t mmio_read16(uint64_t addr)
{
	return *(volatile uint16_t *)(uintptr_t)addr;
}
static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}
static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	*(volatile uint8_t *)(uintptr_t)addr = v;
}
static inline void mmio_write16(uint64_t addr, uint16_t v)
{
	*(volatile uint16_t *)(uintptr_t)addr = v;
}
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)addr = v;
}

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

/* CPUID as executed where we are. In ring 3 under a PVM-style hypervisor
 * without CPUID faulting this is the *host's* CPUID; cpuid()/cpuid_count()
 * (irq.c) run it in ring 0, where it is virtualized. */
static inline struct cpuid_regs cpuid_native(uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(sub));
	return r;
}

/* Runs fn(arg) in ring 0 and returns its result (see crt0.S). fn must be
 * short: ring 0 may be emulated instruction by instruction. */
typedef uint64_t (*r0call_fn)(uint64_t arg);
uint64_t r0call(r0call_fn fn, uint64_t arg);

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

static inline uint16_t read_cs(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

/* Whether ring 3 sees the IOPL=3 that crt0.S asked for. A PVM-style
 * hypervisor (the development host's KVM) runs ring 3 on the hardware with
 * IOPL 0 and IF forced on: there port I/O is emulated (see the TSS I/O
 * bitmap in crt0.S), CLI/STI would raise #GP, and interrupts are only ever
 * injected while the guest is in ring 0. Hence the test body never enables
 * interrupts itself; it waits for them in ring 0 (irq_wait_us()). */
static inline bool cpu_iopl3(void)
{
	return ((read_rflags() >> 12) & 3) == 3;
}

/* Register frame built by the interrupt stubs in crt0.S (lowest address
 * first); irq.c's ring-0 handler may rewrite rip to resume at a fixup. */
struct irq_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Exception table: an instruction at `fault` that is expected to trap
 * resumes at `fixup` (see EXTABLE and irq.c). */
struct extable_entry {
	uint64_t fault, fixup;
};

#define EXTABLE(fault, fixup)                          \
	".pushsection .extable, \"a\"\n\t"             \
	".balign 8\n\t"                                \
	".quad " fault ", " fixup "\n\t"               \
	".popsection\n\t"

#endif /* !__ASSEMBLER__ */
#endif
