/* Interrupts and exceptions of the test guest, plus the local APIC.
 *
 * irq_handle() is the one piece of C that runs in ring 0 (called from the
 * stubs in crt0.S). Ring 0 is emulated slowly on the development host, so it
 * does the minimum: resume an expected exception at its fixup, count an
 * interrupt and EOI it, or report a fatal exception and stop the VM. All
 * else (LAPIC setup, IPIs) runs in ring 3 through the user-mapped LAPIC
 * page. */
#include "isle/testdev.h"

#include "guest.h"

volatile uint32_t irq_counts[256];
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

/* Ring 0, interrupts off. */
void irq_handle(struct irq_frame *f);
void irq_handle(struct irq_frame *f)
{
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
	irq_counts[f->vector]++;
	/* The spurious vector must not be EOIed; everything else came
	 * through the LAPIC (MSI or IPI) and must be. */
	if (f->vector != APIC_SPURIOUS_VECTOR)
		apic_write(APIC_EOI, 0);
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
	apic_write(APIC_SVR, 0x100 | APIC_SPURIOUS_VECTOR);
	apic_write(APIC_TPR, 0);
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
