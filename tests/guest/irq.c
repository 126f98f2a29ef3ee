/* Interrupts and exceptions of the test guest, the ring-0 services behind
 * r0call (CPUID, waiting for interrupts), the legacy PIC and the LAPIC.
 *
 * irq_handle() runs in ring 0 (called from the stubs in crt0.S), as do the
 * *_ring0() functions handed to r0call. Ring 0 is emulated slowly on the
 * development host, so they do the minimum: run an r0call function, resume
 * an expected exception at its fixup, count an interrupt and EOI it, or
 * report a fatal exception and stop the VM. All else (LAPIC setup, IPIs)
 * runs in ring 3 through the user-mapped LAPIC page. */
#include "isle/testdev.h"

#include "guest.h"

volatile uint32_t irq_counts[256];
volatile uint8_t irq_flags[256];
volatile uint32_t irq_last_apic[256];
volatile int exc_vector = -1;
volatile uint64_t exc_error;

extern const struct extable_entry __extable_start[], __extable_end[];

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "rsvd",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

static uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* An unexpected exception: the run is void. Tell TAP consumers, leave
 * through the exit port, and stop this CPU for good (HLT is fine: we are
 * in ring 0 here). */
static __attribute__((noreturn)) void irq_fatal(const struct irq_frame *f)
{
	const char *name = exc_names[f->vector & 31];

	printf("\nBail out! unexpected exception %lu (%s) error %#lx at rip %#lx"
	       " cs %#lx rflags %#lx rsp %#lx",
	       f->vector, name ? name : "?", f->error, f->rip, f->cs,
	       f->rflags, f->rsp);
	if (f->vector == 14)
		printf(" cr2 %#lx", read_cr2());
	printf(" apic %u\n", apic_id());
	outl(TESTDEV_EXIT_PORT, EXIT_FAIL);
	for (;;)
		__asm__ volatile("cli; hlt");
}

extern const char r0call_ud2[];

/* Ring 0, interrupts off. */
void irq_handle(struct irq_frame *f);
void irq_handle(struct irq_frame *f)
{
	if (f->vector == 6 && f->rip == (uintptr_t)r0call_ud2) {
		r0call_fn fn = (r0call_fn)f->rdi;

		f->rax = fn(f->rsi);
		f->rip += 2;
		return;
	}
	if (f->vector < 32) {
		for (const struct extable_entry *e = __extable_start; e < __extable_end; e++) {
			if (e->fault == f->rip) {
				exc_vector = (int)f->vector;
				exc_error = f->error;
				f->rip = e->fixup;
				return;
			}
		}
		irq_fatal(f);
	}
	if (irq_flags[f->vector] & IRQ_TRACK_CPU)
		irq_last_apic[f->vector] = apic_id();
	__atomic_fetch_add(&irq_counts[f->vector], 1, __ATOMIC_SEQ_CST);
	/* The spurious vector must not be EOIed; everything else came
	 * through the LAPIC (MSI, IOAPIC or IPI) and must be, unless the
	 * test EOIs it itself (level-triggered lines). */
	if (f->vector != APIC_SPURIOUS_VECTOR && !(irq_flags[f->vector] & IRQ_NO_EOI))
		apic_write(APIC_EOI, 0);
}

static uint64_t cpuid_ring0(uint64_t arg)
{
	struct cpuid_regs *r = (struct cpuid_regs *)arg;

	*r = cpuid_native(r->eax, r->ecx);
	return 0;
}

struct cpuid_regs cpuid_count(uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r = { .eax = leaf, .ecx = sub };

	r0call(cpuid_ring0, (uintptr_t)&r);
	return r;
}

struct cpuid_regs cpuid(uint32_t leaf)
{
	return cpuid_count(leaf, 0);
}

int exc_probe_ud(void)
{
	exc_vector = -1;
	__asm__ volatile("1: ud2\n\t"
			 "2:\n\t"
			 EXTABLE("1b", "2b")
			 ::: "memory");
	return exc_vector;
}

int exc_probe_gp(uint64_t *error)
{
	uint32_t lo = 0, hi = 0;

	exc_vector = -1;
	exc_error = ~0ull;
	/* RDMSR is privileged: at CPL 3 it raises #GP(0) before any
	 * hypervisor gets to look at the MSR index. */
	__asm__ volatile("1: rdmsr\n\t"
			 "2:\n\t"
			 EXTABLE("1b", "2b")
			 : "+a"(lo), "+d"(hi)
			 : "c"(0x10u)
			 : "memory");
	*error = exc_error;
	return exc_vector;
}

/* ---- waiting for interrupts -------------------------------------------- */

/* LAPIC timer input clock. KVM and QEMU both clock it at 1 GHz; isle says
 * so in its timing leaf too. Only a bound: callers re-check the TSC. */
static uint64_t apic_timer_khz(void)
{
	static uint64_t khz;

	if (!khz) {
		struct cpuid_regs r = cpuid(0x40000000);

		khz = 1000000;
		if (r.eax >= 0x40000010 && r.eax < 0x40010000) {
			uint32_t ebx = cpuid(0x40000010).ebx;

			if (ebx >= 1000 && ebx <= 10000000)
				khz = ebx;
		}
	}
	return khz;
}

/* Ring 0. The interrupt lands on this (ring-0) stack right after hlt. */
static uint64_t wait_ring0(uint64_t ticks)
{
	apic_write(APIC_TIMER_DCR, 0xb);                  /* divide by 1 */
	apic_write(APIC_LVT_TIMER, IRQ_WAKEUP_VECTOR);    /* one-shot */
	apic_write(APIC_TIMER_ICR, (uint32_t)ticks);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	apic_write(APIC_TIMER_ICR, 0);
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | IRQ_WAKEUP_VECTOR);
	return 0;
}

/* Ring 0. Without a timer to end a hlt, open a bounded interrupt window:
 * an emulator injects pending interrupts between its instruction batches. */
static uint64_t window_ring0(uint64_t spins)
{
	__asm__ volatile("sti\n\t"
			 "1: pause\n\t"
			 "dec %0\n\t"
			 "jnz 1b\n\t"
			 "cli"
			 : "+r"(spins) : : "memory");
	return 0;
}

/* A hlt is only safe if the one-shot bounding it will fire: check once that
 * the LAPIC timer counts down at all. */
static bool apic_timer_works(void)
{
	static int works = -1;

	if (works < 0) {
		apic_write(APIC_TIMER_DCR, 0xb);
		apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | IRQ_WAKEUP_VECTOR);
		apic_write(APIC_TIMER_ICR, 0xffffffffu);
		timer_delay_us(200);
		works = apic_read(APIC_TIMER_CCR) < 0xffffffffu - 1000;
		apic_write(APIC_TIMER_ICR, 0);
		if (!works)
			report_info("LAPIC timer does not count: waiting for interrupts in "
				    "ring-0 polling windows instead of hlt");
	}
	return works;
}

void irq_wait_us(uint64_t us)
{
	uint64_t ticks = us * apic_timer_khz() / 1000;

	apic_enable();
	if (!apic_timer_works()) {
		r0call(window_ring0, 2000);
		return;
	}
	if (ticks < 1000)
		ticks = 1000;
	if (ticks > 0xffffffffu)
		ticks = 0xffffffffu;
	r0call(wait_ring0, ticks);
}

uint32_t irq_wait_count(unsigned int vector, uint32_t before, uint64_t us)
{
	uint64_t t0 = rdtsc(), deadline = timer_deadline_us(us);

	while (irq_counts[vector] == before && !timer_expired(deadline))
		irq_wait_us(us - MIN(us, timer_elapsed_us(t0)));
	return irq_counts[vector];
}

void irq_idle_us(uint64_t us)
{
	uint64_t t0 = rdtsc(), deadline = timer_deadline_us(us);

	while (!timer_expired(deadline))
		irq_wait_us(us - MIN(us, timer_elapsed_us(t0)));
}

/* ---- legacy PIC ------------------------------------------------------ */

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1
#define PIC_VECTOR_BASE 0x20

void irq_init(void)
{
	/* Firmware leaves the 8259s on vectors 0x08-0x0f, on top of the CPU
	 * exceptions, often with the timer unmasked; and ring 3 may run with
	 * interrupts forced on (PVM). Move them to 0x20-0x2f, where a stray
	 * or spurious IRQ is merely counted, and mask every line. */
	outb(PIC1_CMD, 0x11);                  /* ICW1: init, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC_VECTOR_BASE);      /* ICW2: vector base */
	outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
	outb(PIC1_DATA, 0x04);                 /* ICW3: slave on IRQ2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01);                 /* ICW4: 8086 mode */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff);                 /* OCW1: all masked */
	outb(PIC2_DATA, 0xff);
}

/* ---- local APIC (xAPIC MMIO, user-mapped and uncached) ------------- */

uint32_t apic_read(uint32_t reg)
{
	return mmio_read32(APIC_BASE + reg);
}

void apic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(APIC_BASE + reg, v);
}

void apic_enable(void)
{
	static bool enabled;

	/* Once: every LAPIC access is a trapped MMIO access. */
	if (enabled)
		return;
	apic_write(APIC_SVR, 0x100 | APIC_SPURIOUS_VECTOR);
	apic_write(APIC_TPR, 0);
	enabled = true;
}

uint32_t apic_id(void)
{
	return apic_read(APIC_ID) >> 24;
}

bool apic_send_ipi(uint32_t dest, uint32_t icr_lo)
{
	uint64_t deadline;

	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR_LO, icr_lo);
	/* Delivery status is clear on virtual APICs almost at once; give it
	 * 100 ms before calling it stuck. */
	deadline = timer_deadline_us(100000);
	while (apic_read(APIC_ICR_LO) & APIC_ICR_PENDING) {
		if (timer_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}
