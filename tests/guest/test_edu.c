/* Scenario "edu": QEMU's edu teaching device (PCI 1234:11e8), on QEMU
 * (-device edu) and on isle (--edu), with the same code, as the DMA and
 * interrupt source later VT-d tests build on (kvm-unit-tests drives it the
 * same way in x86/intel-iommu.c).
 *
 * Checks: ident 0x010000ed and liveness (~value); 10! = 3628800; a 4 KiB
 * patterned DMA RAM -> device buffer -> RAM compared byte for byte (whole
 * buffer on isle, two halves on QEMU, see check_dma); MSI
 * (the one vector of its MSI capability): raise + ack through 0x60/0x64,
 * the factorial and DMA completion interrupts (irq status 0x1 / 0x100);
 * INTx with MSI off, level-triggered through the IOAPIC input that the
 * Interrupt Line register names (isle: 16 + slot % 4; QEMU: what SeaBIOS
 * wrote): delivered, re-delivered on EOI while raised, quiet after the ack
 * and EOI. On isle only (QEMU aborts or clamps instead): DMAs outside the
 * buffer or the 28-bit mask complete with nothing copied.
 * The factorial and DMA finish asynchronously on QEMU (a thread, a 100 ms
 * timer), so completion is polled with a deadline. Skips (77) when the
 * device is absent. */
#include "guest.h"
#include "edu.h"

#define PCI_INT_LINE    0x3c
#define PCI_INT_PIN     0x3d

#define VEC_MSI         0x48
#define VEC_INTX        0x68
#define WAIT_US         500000      /* an interrupt that must come */
#define QUIET_US        20000       /* one that must not */
#define DONE_US         2000000     /* QEMU's DMA timer is 100 ms */

static uint8_t ram_src[EDU_DMA_SIZE] __attribute__((aligned(4096)));
static uint8_t ram_dst[EDU_DMA_SIZE] __attribute__((aligned(4096)));

static struct edu edu;
static uint64_t ioapic_base;

static uint32_t rd(uint32_t off)
{
	return edu_rd(&edu, off);
}

static void wr(uint32_t off, uint32_t v)
{
	edu_wr(&edu, off, v);
}

static bool wait_clear(uint32_t off, uint32_t mask)
{
	return edu_wait_clear(&edu, off, mask, DONE_US);
}

static bool dma(uint64_t src, uint64_t dst, uint32_t cnt, uint32_t cmd)
{
	return edu_dma(&edu, src, dst, cnt, cmd);
}

static uint64_t pa(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void check_regs(void)
{
	uint32_t id = rd(EDU_IDENT);

	report(id == 0x010000ed, "ident %#x (version 1.0)", id);
	wr(EDU_LIVENESS, 0x12345678);
	report(rd(EDU_LIVENESS) == ~0x12345678u, "liveness reads back ~value");
	uint32_t fact;
	bool done;

	wr(EDU_FACT, 10);
	done = wait_clear(EDU_STATUS, EDU_STATUS_COMPUTING);
	fact = rd(EDU_FACT);
	report(done && fact == 3628800, "10! = %u", fact);
}

static void check_dma(void)
{
	bool same = true;

	report_prefix_push("dma");
	for (unsigned int i = 0; i < EDU_DMA_SIZE; i++) {
		ram_src[i] = (uint8_t)(i * 7 + (i >> 8) + 3);
		ram_dst[i] = 0;
	}
	if (cpu_on_isle()) {
		report(dma(pa(ram_src), EDU_DMA_BUF, EDU_DMA_SIZE, 0), "RAM -> device done");
		report(dma(EDU_DMA_BUF, pa(ram_dst), EDU_DMA_SIZE, EDU_DMA_TO_RAM),
		       "device -> RAM done");
	} else {
		/* QEMU 7.2's range check rejects (aborts on) any transfer that
		 * ends at the buffer's end, an off-by-one: move the 4 KiB in two
		 * round trips through the buffer's first half. */
		for (unsigned int h = 0; h < 2; h++) {
			unsigned int o = h * EDU_DMA_SIZE / 2;

			report(dma(pa(ram_src + o), EDU_DMA_BUF, EDU_DMA_SIZE / 2, 0) &&
			       dma(EDU_DMA_BUF, pa(ram_dst + o), EDU_DMA_SIZE / 2, EDU_DMA_TO_RAM),
			       "half %u: RAM -> device -> RAM done", h);
		}
	}
	for (unsigned int i = 0; i < EDU_DMA_SIZE && same; i++)
		same = ram_dst[i] == ram_src[i];
	report(same, "4 KiB came back unchanged");

	if (cpu_on_isle()) {
		/* QEMU 7.2 aborts on a buffer overrun and clamps to the
		 * mask; isle completes the command and copies nothing. */
		memset(ram_src, 0xa5, sizeof(ram_src));
		report(dma(pa(ram_src), EDU_DMA_BUF + 1, EDU_DMA_SIZE, 0),
		       "beyond the buffer: completes");
		report(dma(1ull << 28, EDU_DMA_BUF, 16, 0), "beyond the DMA mask: completes");
		report(dma(EDU_DMA_BUF, pa(ram_dst), EDU_DMA_SIZE, EDU_DMA_TO_RAM),
		       "device -> RAM again");
		same = true;
		for (unsigned int i = 0; i < EDU_DMA_SIZE && same; i++)
			same = ram_dst[i] == (uint8_t)(i * 7 + (i >> 8) + 3);
		report(same, "failed DMAs copied nothing");
	}
	report_prefix_pop();
}

/* Waits for one interrupt on vec; true if exactly one came. */
static bool one_irq(unsigned int vec, uint32_t before)
{
	return irq_wait_count(vec, before, WAIT_US) == before + 1;
}

static void check_msi(void)
{
	uint32_t c;

	report_prefix_push("msi");
	if (!report(edu.msi_cap != 0, "MSI capability at %#x", edu.msi_cap)) {
		report_prefix_pop();
		return;
	}
	report(!(pci_read16(edu.bdf, (uint16_t)(edu.msi_cap + 2)) & 1), "disabled at start");
	edu_msi_enable(&edu, APIC_BASE | apic_id() << 12, VEC_MSI);

	c = irq_counts[VEC_MSI];
	wr(EDU_IRQ_RAISE, 0x1000);
	report(one_irq(VEC_MSI, c), "raise: delivered");
	report(rd(EDU_IRQ_STATUS) == 0x1000, "irq status %#x", rd(EDU_IRQ_STATUS));
	wr(EDU_IRQ_ACK, 0x1000);
	irq_idle_us(QUIET_US);
	report(rd(EDU_IRQ_STATUS) == 0 && irq_counts[VEC_MSI] == c + 1, "ack: status 0, quiet");

	c = irq_counts[VEC_MSI];
	wr(EDU_STATUS, EDU_STATUS_IRQFACT);
	wr(EDU_FACT, 5);
	report(one_irq(VEC_MSI, c) && rd(EDU_FACT) == 120 && rd(EDU_IRQ_STATUS) == 0x1,
	       "factorial done: interrupt, status 0x1");
	wr(EDU_IRQ_ACK, 0x1);
	wr(EDU_STATUS, 0);

	c = irq_counts[VEC_MSI];
	report(dma(pa(ram_src), EDU_DMA_BUF, 64, EDU_DMA_IRQ), "DMA with interrupt done");
	report(one_irq(VEC_MSI, c) && rd(EDU_IRQ_STATUS) == 0x100,
	       "DMA done: interrupt, status 0x100");
	wr(EDU_IRQ_ACK, 0x100);
	report(rd(EDU_IRQ_STATUS) == 0, "acked");

	edu_msi_disable(&edu);
	report_prefix_pop();
}

static void rte_set(unsigned int pin, uint32_t lo)
{
	ioapic_rte_write(ioapic_base, pin, apic_id() << 24, lo);
}

static void check_intx(void)
{
	uint8_t pin = pci_read8(edu.bdf, PCI_INT_PIN), line = pci_read8(edu.bdf, PCI_INT_LINE);
	uint32_t c = irq_counts[VEC_INTX], gsi_base;

	report_prefix_push("intx");
	report(pin == 1, "interrupt pin %u (INTA#)", pin);
	if (!report(ioapic_find(&ioapic_base, &gsi_base, NULL) && gsi_base == 0,
		    "MADT lists an IOAPIC (GSI base 0)") ||
	    !report(line > 0 && line < 24, "interrupt line %u is an IOAPIC input", line)) {
		report_prefix_pop();
		return;
	}
	pci_write16(edu.bdf, PCI_COMMAND, pci_read16(edu.bdf, PCI_COMMAND) & ~PCI_CMD_INTX_OFF);
	irq_flags[VEC_INTX] = IRQ_NO_EOI;
	rte_set(line, IOAPIC_RTE_LEVEL | VEC_INTX);
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_INTX] == c, "quiet before the raise");

	wr(EDU_IRQ_RAISE, 0x2);
	report(one_irq(VEC_INTX, c), "raise: delivered on IOAPIC input %u", line);
	report(ioapic_read(ioapic_base, IOAPIC_REG_RTE(line)) & IOAPIC_RTE_REMOTE_IRR, "remote IRR set");
	apic_write(APIC_EOI, 0);
	report(one_irq(VEC_INTX, c + 1), "EOI while raised: delivered again");
	wr(EDU_IRQ_ACK, 0x2);
	apic_write(APIC_EOI, 0);
	irq_idle_us(QUIET_US);
	report(irq_counts[VEC_INTX] == c + 2 && !(ioapic_read(ioapic_base, IOAPIC_REG_RTE(line)) & IOAPIC_RTE_REMOTE_IRR),
	       "ack, EOI: quiet, remote IRR clear");
	report(rd(EDU_IRQ_STATUS) == 0, "irq status 0");

	rte_set(line, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | VEC_INTX);
	irq_flags[VEC_INTX] = 0;
	report_prefix_pop();
}

void test_edu_run(void)
{
	bool absent;

	report_prefix_push("edu");
	if (!edu_open(&edu, &absent)) {
		if (absent)
			report_skip("edu device %04x:%04x absent", EDU_VENDOR, EDU_DEVICE);
		else
			report(false, "BAR0 mapped");
		report_prefix_pop();
		return;
	}
	report_info("edu at %02x:%02x.%x, BAR0 at %#lx", PCI_BUS(edu.bdf), PCI_DEV(edu.bdf),
		    PCI_FN(edu.bdf), edu.regs);
	apic_enable();

	check_regs();
	check_dma();
	check_msi();
	check_intx();
	report(irq_counts[APIC_SPURIOUS_VECTOR] == 0, "no spurious interrupts");
	report_prefix_pop();
}
