/* Scenario "ioapic": the IOAPIC the MADT lists, driven by ISA IRQ lines that
 * exist on isle and on QEMU alike: QEMU's pc-testdev ("-device pc-testdev")
 * and isle's test device both set ISA line n to (value != 0) on a byte
 * write to port 0x2000 + n. Lines 3, 5 and 7 are used: free on both (COM2,
 * LPT2 and LPT1 are absent; 0 PIT, 1/12 i8042, 4 COM1, 8 RTC, 9 SCI and
 * the PCI link lines 10/11 are not).
 *
 * Checks: version and 24 entries; remote IRR and delivery status are
 * read-only; edge: one interrupt per pulse, a masked pulse is lost; level:
 * delivered once while high and not EOIed (remote IRR set), re-delivered
 * on EOI while still high, quiet after the line drops and the EOI clears
 * remote IRR; a masked high level line delivers on unmask; and redirection
 * to every CPU of the MADT (each AP is started, and the CPU that took the
 * interrupt records its APIC id). Level vectors are EOIed here, in ring 3,
 * rather than by the handler, so the test controls when the EOI happens. */
#include "isle/testdev.h"

#include "guest.h"

#define LINE_EDGE   5
#define LINE_LEVEL  7
#define LINE_CPU    3
#define VEC_EDGE    0x50
#define VEC_LEVEL   0x60
#define VEC_CPU     0x70
#define WAIT_US     200000      /* for an interrupt that must come */
#define QUIET_US    20000       /* for one that must not */
#define MAX_CPUS    (SMP_MAX_APS + 1)

static uint64_t ioapic_base;

static uint32_t ioapic_rd(uint32_t reg)
{
	return ioapic_read(ioapic_base, reg);
}

/* Physical destination in the high dword first, then the low one. */
static void rte_set(unsigned int pin, uint32_t dest, uint32_t lo)
{
	ioapic_rte_write(ioapic_base, pin, dest << 24, lo);
}

static void line_set(unsigned int line, uint8_t level)
{
	outb((uint16_t)(TESTDEV_IRQ_PORT + line), level);
}

static void check_registers(void)
{
	uint32_t ver = ioapic_rd(IOAPIC_REG_VER), lo;

	report_info("IOAPIC version register %#x", ver);
	report((ver >> 16 & 0xff) == 23, "24 redirection entries (max index %u)",
	       ver >> 16 & 0xff);
	/* Remote IRR and delivery status belong to the IOAPIC. */
	rte_set(LINE_EDGE, apic_id(), IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_DELIVS | VEC_EDGE);
	lo = ioapic_rd(IOAPIC_REG_RTE(LINE_EDGE));
	report((lo & (IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_DELIVS)) == 0 && (lo & 0x1ffff) == (IOAPIC_RTE_MASKED | VEC_EDGE),
	       "RTE reads back, remote IRR and delivery status read-only (%#x)", lo);
	report(ioapic_rd(IOAPIC_REG_RTE(LINE_EDGE) + 1) >> 24 == apic_id(), "RTE destination reads back");
}

static void check_edge(void)
{
	uint32_t c;

	report_prefix_push("edge");
	rte_set(LINE_EDGE, apic_id(), VEC_EDGE);
	for (int i = 0; i < 3; i++) {
		c = irq_counts[VEC_EDGE];
		line_set(LINE_EDGE, 1);
		line_set(LINE_EDGE, 0);
		if (!report(irq_wait_count(VEC_EDGE, c, WAIT_US) == c + 1,
			    "pulse %d delivered once", i + 1))
			break;
	}
	c = irq_counts[VEC_EDGE];
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_EDGE] == c, "nothing more without a pulse");
	/* The 82093AA ignores edges on a masked pin. */
	rte_set(LINE_EDGE, apic_id(), IOAPIC_RTE_MASKED | VEC_EDGE);
	line_set(LINE_EDGE, 1);
	line_set(LINE_EDGE, 0);
	irq_idle_us(QUIET_US);
	rte_set(LINE_EDGE, apic_id(), VEC_EDGE);
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_EDGE] == c, "a pulse while masked is lost");
	rte_set(LINE_EDGE, apic_id(), IOAPIC_RTE_MASKED | VEC_EDGE);
	report_prefix_pop();
}

static bool remote_irr(void)
{
	return ioapic_rd(IOAPIC_REG_RTE(LINE_LEVEL)) & IOAPIC_RTE_REMOTE_IRR;
}

static void check_level(void)
{
	uint32_t c = irq_counts[VEC_LEVEL];

	report_prefix_push("level");
	irq_flags[VEC_LEVEL] = IRQ_NO_EOI;
	rte_set(LINE_LEVEL, apic_id(), IOAPIC_RTE_LEVEL | VEC_LEVEL);
	line_set(LINE_LEVEL, 1);
	report(irq_wait_count(VEC_LEVEL, c, WAIT_US) == c + 1, "raised: delivered");
	report(remote_irr(), "remote IRR set until the EOI");
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_LEVEL] == c + 1, "no second interrupt before the EOI");
	/* EOI while the line is still high: the IOAPIC sends it again. */
	apic_write(APIC_EOI, 0);
	report(irq_wait_count(VEC_LEVEL, c + 1, WAIT_US) == c + 2,
	       "EOI with the line high: delivered again");
	report(remote_irr(), "remote IRR set again");
	line_set(LINE_LEVEL, 0);
	apic_write(APIC_EOI, 0);
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_LEVEL] == c + 2, "line low, EOI: quiet");
	report(!remote_irr(), "remote IRR clear after the EOI");

	/* Masked while high: nothing until the unmask, then one interrupt. */
	c = irq_counts[VEC_LEVEL];
	rte_set(LINE_LEVEL, apic_id(), IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | VEC_LEVEL);
	line_set(LINE_LEVEL, 1);
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_LEVEL] == c && !remote_irr(), "masked: not delivered");
	rte_set(LINE_LEVEL, apic_id(), IOAPIC_RTE_LEVEL | VEC_LEVEL);
	report(irq_wait_count(VEC_LEVEL, c, WAIT_US) == c + 1, "unmasked: delivered");
	line_set(LINE_LEVEL, 0);
	apic_write(APIC_EOI, 0);
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_LEVEL] == c + 1 && !remote_irr(), "line low, EOI: quiet");
	rte_set(LINE_LEVEL, apic_id(), IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | VEC_LEVEL);
	irq_flags[VEC_LEVEL] = 0;
	report_prefix_pop();
}

/* One edge interrupt aimed at the CPU with APIC id `id`; the BSP waits in
 * hlt for its own, and polls for an AP's. */
static bool deliver_to(uint32_t id, bool bsp)
{
	uint32_t c = irq_counts[VEC_CPU];
	uint64_t deadline = timer_deadline_us(WAIT_US);

	irq_last_apic[VEC_CPU] = ~0u;
	rte_set(LINE_CPU, id, VEC_CPU);
	line_set(LINE_CPU, 1);
	line_set(LINE_CPU, 0);
	if (bsp)
		irq_wait_count(VEC_CPU, c, WAIT_US);
	while (irq_counts[VEC_CPU] == c && !timer_expired(deadline))
		cpu_relax();
	rte_set(LINE_CPU, id, IOAPIC_RTE_MASKED | VEC_CPU);
	return report(irq_counts[VEC_CPU] == c + 1 && irq_last_apic[VEC_CPU] == id,
		      "to APIC id %u: taken by APIC id %d", id,
		      irq_counts[VEC_CPU] == c ? -1 : (int)irq_last_apic[VEC_CPU]);
}

static void check_cpus(void)
{
	static struct acpi_cpu cpus[MAX_CPUS];
	uint32_t lapic = 0, bsp = apic_id();
	int n;

	report_prefix_push("redirection");
	irq_flags[VEC_CPU] = IRQ_TRACK_CPU;
	n = acpi_madt_cpus(cpus, MAX_CPUS, &lapic);
	if (n > MAX_CPUS)
		n = MAX_CPUS;
	deliver_to(bsp, true);
	if (n > 1 && !report(smp_tramp_install(), "AP trampoline installed")) {
		report_prefix_pop();
		return;
	}
	for (int i = 0; i < n; i++) {
		uint32_t id = cpus[i].apic_id;

		if (!cpus[i].enabled || id == bsp || id > 0xfe)
			continue;
		if (!report(smp_ap_start(id, smp_ap_count), "AP %u started", id))
			continue;
		deliver_to(id, false);
	}
	report_prefix_pop();
}

void test_ioapic_run(void)
{
	uint32_t gsi_base = 0;

	report_prefix_push("ioapic");
	if (!report(ioapic_find(&ioapic_base, &gsi_base, NULL), "MADT lists an IOAPIC")) {
		report_prefix_pop();
		return;
	}
	report(ioapic_base == 0xfec00000 && gsi_base == 0, "IOAPIC at %#lx, GSI base %u",
	       ioapic_base, gsi_base);
	apic_enable();
	check_registers();
	check_edge();
	check_level();
	check_cpus();
	report_prefix_pop();
}
