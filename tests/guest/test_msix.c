/* Scenario "msix" (isle only): MSI-X delivery from the isle test device.
 * Checks the capability layout against include/isle/testdev.h, then rings
 * the BAR0 doorbell for each of the four vectors and waits in ring 0 for
 * the interrupt (irq_wait_count(); the handler in irq.c counts it and EOIs
 * the LAPIC).
 * Masked vectors must stay silent but latch their PBA bit, and fire once
 * when unmasked; the function mask must do the same for all vectors.
 * Without the test device (QEMU) the whole scenario is skipped (exit 77). */
#include "isle/testdev.h"

#include "guest.h"

#define MSIX_CTRL          2
#define MSIX_TABLE_REG     4
#define MSIX_PBA_REG       8
#define MSIX_CTRL_SIZE     0x07ff
#define MSIX_CTRL_FMASK    0x4000
#define MSIX_CTRL_ENABLE   0x8000
#define MSIX_ENTRY_SIZE    16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA    8
#define MSIX_ENTRY_CTRL    12
#define MSIX_ENTRY_MASKED  1

/* IDT vectors used for the device's MSI-X vectors 0..3. */
#define VECTOR_BASE        0x40
/* Generous for a delivery that goes ring 3 -> VMM -> KVM -> emulated
 * ring-0 handler; a silent vector is watched for this long. */
#define DELIVERY_US        500000
#define SILENCE_US         20000

struct msix {
	uint16_t bdf;
	uint8_t cap;
	uint16_t ctrl;            /* as found, size bits included */
	uint64_t regs;            /* BAR0 */
	uint64_t table, pba;      /* inside BAR4 */
	uint32_t apic;
};

static uint64_t entry(const struct msix *m, unsigned int i, unsigned int field)
{
	return m->table + i * MSIX_ENTRY_SIZE + field;
}

static void vector_mask(const struct msix *m, unsigned int i, bool masked)
{
	mmio_write32(entry(m, i, MSIX_ENTRY_CTRL), masked ? MSIX_ENTRY_MASKED : 0);
}

static bool pba_pending(const struct msix *m, unsigned int i)
{
	return mmio_read32(m->pba) & (1u << i);
}

static void function_mask(const struct msix *m, bool masked)
{
	uint16_t ctrl = (uint16_t)((m->ctrl & ~MSIX_CTRL_FMASK) | MSIX_CTRL_ENABLE);

	pci_write16(m->bdf, (uint16_t)(m->cap + MSIX_CTRL),
		    (uint16_t)(ctrl | (masked ? MSIX_CTRL_FMASK : 0)));
}

static void doorbell(const struct msix *m, unsigned int i)
{
	mmio_write32(m->regs + TESTDEV_REG_DOORBELL, i);
}

/* Waits (taking interrupts, see irq.c) until vector i has been taken
 * more than `before` times or us pass; returns the count seen. */
static uint32_t wait_count(unsigned int i, uint32_t before, uint64_t us)
{
	return irq_wait_count(VECTOR_BASE + i, before, us);
}

/* Counts interrupts of vector i that arrive within us (no early exit). */
static uint32_t settle_count(unsigned int i, uint64_t us)
{
	irq_idle_us(us);
	return irq_counts[VECTOR_BASE + i];
}

static bool check_layout(struct msix *m)
{
	uint32_t table, pba;
	unsigned int size;

	m->cap = pci_cap_find(m->bdf, PCI_CAP_MSIX);
	if (!report(m->cap != 0, "MSI-X capability at %#x", m->cap))
		return false;
	m->ctrl = pci_read16(m->bdf, (uint16_t)(m->cap + MSIX_CTRL));
	size = (m->ctrl & MSIX_CTRL_SIZE) + 1u;
	table = pci_read32(m->bdf, (uint16_t)(m->cap + MSIX_TABLE_REG));
	pba = pci_read32(m->bdf, (uint16_t)(m->cap + MSIX_PBA_REG));
	report(size == TESTDEV_MSIX_VECTORS, "table size %u", size);
	report((table & 7) == 4 && (table & ~7u) == TESTDEV_MSIX_TABLE,
	       "table in BAR%u at %#x", table & 7, table & ~7u);
	report((pba & 7) == 4 && (pba & ~7u) == TESTDEV_MSIX_PBA,
	       "PBA in BAR%u at %#x", pba & 7, pba & ~7u);
	report(!(m->ctrl & MSIX_CTRL_ENABLE), "disabled at start");
	if (size != TESTDEV_MSIX_VECTORS || (table & 7) != 4 || (pba & 7) != 4)
		return false;

	m->regs = pci_bar_map(m->bdf, 0);
	m->table = pci_bar_map(m->bdf, 4);
	if (!report(m->regs && m->table, "BAR0 at %#lx, BAR4 at %#lx", m->regs, m->table))
		return false;
	m->pba = m->table + (pba & ~7u);
	m->table += table & ~7u;
	return report(mmio_read32(m->regs + TESTDEV_REG_MAGIC) == TESTDEV_MAGIC, "BAR0 magic");
}

static void program_table(const struct msix *m)
{
	bool readback = true;

	for (unsigned int i = 0; i < TESTDEV_MSIX_VECTORS; i++) {
		uint32_t addr = APIC_BASE | m->apic << 12;

		mmio_write32(entry(m, i, MSIX_ENTRY_ADDR_LO), addr);
		mmio_write32(entry(m, i, MSIX_ENTRY_ADDR_HI), 0);
		/* Fixed delivery, edge: the data is just the vector. */
		mmio_write32(entry(m, i, MSIX_ENTRY_DATA), VECTOR_BASE + i);
		vector_mask(m, i, true);
		readback = readback && mmio_read32(entry(m, i, MSIX_ENTRY_ADDR_LO)) == addr &&
			   mmio_read32(entry(m, i, MSIX_ENTRY_DATA)) == VECTOR_BASE + i &&
			   mmio_read32(entry(m, i, MSIX_ENTRY_CTRL)) == MSIX_ENTRY_MASKED;
	}
	report(readback, "table entries read back as programmed");
}

static void check_vectors(const struct msix *m)
{
	uint32_t doorbells = mmio_read32(m->regs + TESTDEV_REG_COUNT);

	for (unsigned int i = 0; i < TESTDEV_MSIX_VECTORS; i++) {
		uint32_t before = irq_counts[VECTOR_BASE + i];
		uint64_t t0;
		uint32_t got;

		vector_mask(m, i, false);
		t0 = rdtsc();
		doorbell(m, i);
		got = wait_count(i, before, DELIVERY_US);
		report(got == before + 1 && settle_count(i, 2000) == before + 1,
		       "vector %u -> IDT %#x delivered once (%u, after %lu us)",
		       i, VECTOR_BASE + i, got - before, timer_elapsed_us(t0));
		vector_mask(m, i, true);
	}
	report(mmio_read32(m->regs + TESTDEV_REG_COUNT) == doorbells + TESTDEV_MSIX_VECTORS,
	       "doorbell count %u -> %u", doorbells, mmio_read32(m->regs + TESTDEV_REG_COUNT));
}

static void check_masked(const struct msix *m)
{
	const unsigned int i = 0;
	uint32_t before = irq_counts[VECTOR_BASE + i];

	report_prefix_push("vector mask");
	report(!pba_pending(m, i), "PBA bit %u clear", i);
	doorbell(m, i);
	report(settle_count(i, SILENCE_US) == before, "masked vector %u does not fire", i);
	report(pba_pending(m, i), "PBA bit %u set while masked", i);
	vector_mask(m, i, false);
	report(wait_count(i, before, DELIVERY_US) == before + 1 &&
	       settle_count(i, 2000) == before + 1, "fires once when unmasked");
	report(!pba_pending(m, i), "PBA bit %u clear after delivery", i);
	vector_mask(m, i, true);
	report_prefix_pop();
}

static void check_function_mask(const struct msix *m)
{
	const unsigned int i = 1;
	uint32_t before = irq_counts[VECTOR_BASE + i];

	report_prefix_push("function mask");
	vector_mask(m, i, false);
	function_mask(m, true);
	doorbell(m, i);
	report(settle_count(i, SILENCE_US) == before, "vector %u does not fire", i);
	report(pba_pending(m, i), "PBA bit %u set", i);
	function_mask(m, false);
	report(wait_count(i, before, DELIVERY_US) == before + 1 &&
	       settle_count(i, 2000) == before + 1, "fires once when the function is unmasked");
	report(!pba_pending(m, i), "PBA bit %u clear after delivery", i);
	vector_mask(m, i, true);
	report_prefix_pop();
}

void test_msix_run(void)
{
	struct msix m = { 0 };
	int bdf;

	report_prefix_push("msix");
	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	bdf = pci_find(TESTDEV_VENDOR, TESTDEV_DEVICE);
	if (bdf < 0) {
		report_skip("test device %04x:%04x absent (isle only)", TESTDEV_VENDOR,
			    TESTDEV_DEVICE);
		report_prefix_pop();
		return;
	}
	m.bdf = (uint16_t)bdf;

	apic_enable();
	m.apic = apic_id();
	report(apic_read(APIC_SVR) & 0x100, "LAPIC enabled (id %u, version %#x)", m.apic,
	       apic_read(APIC_VERSION));
	if (!check_layout(&m)) {
		report_prefix_pop();
		return;
	}

	pci_write16(m.bdf, PCI_COMMAND, pci_read16(m.bdf, PCI_COMMAND) | PCI_CMD_MEM |
		    PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
	/* Enable with the function masked so no entry fires half-written. */
	function_mask(&m, true);
	program_table(&m);
	function_mask(&m, false);
	report(pci_read16(m.bdf, (uint16_t)(m.cap + MSIX_CTRL)) & MSIX_CTRL_ENABLE,
	       "MSI-X enabled");

	check_vectors(&m);
	check_masked(&m);
	check_function_mask(&m);

	for (unsigned int i = 0; i < TESTDEV_MSIX_VECTORS; i++)
		vector_mask(&m, i, true);
	pci_write16(m.bdf, (uint16_t)(m.cap + MSIX_CTRL), m.ctrl & ~MSIX_CTRL_ENABLE);
	report(irq_counts[APIC_SPURIOUS_VECTOR] == 0, "no spurious interrupts");
	report_prefix_pop();
}
