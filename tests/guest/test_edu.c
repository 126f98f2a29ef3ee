/* Scenario "edu": QEMU's edu teaching device (PCI 1234:11e8), on QEMU
 * (-device edu), on isle (--edu, isle's model) and assigned to isle from
 * QEMU (VFIO, in the lab), with the same code, as the DMA and interrupt
 * source later VT-d tests build on (kvm-unit-tests drives it the same way
 * in x86/intel-iommu.c).
 *
 * Checks: ident 0x010000ed and liveness (~value); 10! = 3628800; patterned
 * DMAs RAM -> device buffer -> RAM of 1, 64, 1000 and 4000 bytes at
 * assorted offsets, compared byte for byte, bytes around them untouched
 * (never 4096 bytes nor a transfer ending at the buffer's end: QEMU 7.2
 * aborts on those, an off-by-one in its range check); MSI
 * (the one vector of its MSI capability): raise + ack through 0x60/0x64,
 * the factorial and DMA completion interrupts (irq status 0x1 / 0x100);
 * INTx with MSI off, level-triggered through the IOAPIC input that the
 * Interrupt Line register names (isle: 16 + slot % 4; QEMU: what SeaBIOS
 * wrote), five rounds in a row (a VFIO INTx path must re-arm each time):
 * delivered, re-delivered on EOI while raised, quiet after the ack and
 * EOI. Only on isle's own model, told apart by its PCI subsystem id
 * (edu.h; QEMU's edu aborts or clamps instead, also when assigned to
 * isle): DMAs outside the buffer or the 28-bit mask complete with nothing
 * copied.
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
#define INTX_ROUNDS     5

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

static uint8_t dma_byte(unsigned int i, unsigned int seed)
{
	return (uint8_t)(i * 7 + (i >> 8) + seed * 31 + 3);
}

/* Bytes of ram_dst outside [off, off + len) must still hold 0xee. */
static bool dst_untouched_around(unsigned int off, unsigned int len)
{
	for (unsigned int i = 0; i < EDU_DMA_SIZE; i++) {
		if ((i < off || i >= off + len) && ram_dst[i] != 0xee)
			return false;
	}
	return true;
}

/* Whether this is isle's own edu model (edu.h), not QEMU's, emulated or
 * assigned. */
static bool edu_is_isle_model(uint32_t *subsys)
{
	*subsys = pci_read32(edu.bdf, PCI_SUBSYSTEM);
	return *subsys == ((uint32_t)EDU_SUBSYS_ISLE_ID << 16 | EDU_SUBSYS_ISLE_VENDOR);
}

/* isle's model only: out-of-range DMAs complete and copy nothing. The
 * buffer holds the last transfer of check_dma (len bytes at offset 0,
 * pattern seed). */
static void check_dma_isle(unsigned int len, unsigned int seed)
{
	bool same = true;

	memset(ram_src, 0xa5, sizeof(ram_src));
	report(dma(pa(ram_src), EDU_DMA_BUF + 1, EDU_DMA_SIZE, 0), "beyond the buffer: completes");
	report(dma(1ull << 28, EDU_DMA_BUF, 16, 0), "beyond the DMA mask: completes");
	memset(ram_dst, 0, sizeof(ram_dst));
	report(dma(EDU_DMA_BUF, pa(ram_dst), len, EDU_DMA_TO_RAM), "device -> RAM again");
	for (unsigned int i = 0; i < len && same; i++)
		same = ram_dst[i] == dma_byte(i, seed);
	report(same, "failed DMAs copied nothing");
}

/* edu_move=1: the guest moves BAR0 (decoding off, new address, on) and
 * finds the registers at the new place and nothing at the old one; an
 * assigned edu's mapped BAR must follow (isle moves its KVM slot). */
static void check_move(void)
{
	uint64_t old = edu.regs, moved = ALIGN_UP(pci_mmio32_used_end(), 1 << 20);
	uint16_t cmd = pci_read16(edu.bdf, PCI_COMMAND);

	report_prefix_push("move");
	pci_write16(edu.bdf, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
	pci_write32(edu.bdf, PCI_BAR0, (uint32_t)moved);
	pci_write16(edu.bdf, PCI_COMMAND, cmd);
	edu.regs = moved;
	report((pci_read32(edu.bdf, PCI_BAR0) & ~0xfu) == moved, "BAR0 moved from %#lx to %#lx",
	       old, moved);
	report(rd(EDU_IDENT) == 0x010000ed, "ident at the new address");
	wr(EDU_LIVENESS, 0x5a5a0001);
	report(rd(EDU_LIVENESS) == ~0x5a5a0001u, "liveness at the new address");
	report(mmio_read32(old + EDU_IDENT) == 0xffffffffu, "nothing at the old address");
	pci_write16(edu.bdf, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
	pci_write32(edu.bdf, PCI_BAR0, (uint32_t)old);
	pci_write16(edu.bdf, PCI_COMMAND, cmd);
	edu.regs = old;
	report(rd(EDU_IDENT) == 0x010000ed, "ident back at %#lx", old);
	report_prefix_pop();
}

static void check_dma(void)
{
	/* Sizes, device-buffer offsets and RAM offsets: every transfer ends
	 * before the buffer's end (see the top of the file). */
	static const struct { unsigned int len, dev_off, ram_off; } xfer[] = {
		{ 1, 0, 0 }, { 64, 100, 7 }, { 1000, 3000, 2048 }, { 4000, 0, 0 },
	};
	uint32_t subsys;

	report_prefix_push("dma");
	for (unsigned int t = 0; t < ARRAY_SIZE(xfer); t++) {
		unsigned int len = xfer[t].len, ro = xfer[t].ram_off;
		uint64_t dev = EDU_DMA_BUF + xfer[t].dev_off;
		bool same = true;

		for (unsigned int i = 0; i < EDU_DMA_SIZE; i++)
			ram_src[i] = dma_byte(i >= ro ? i - ro : i, t);
		memset(ram_dst, 0xee, sizeof(ram_dst));
		report(dma(pa(ram_src + ro), dev, len, 0) &&
		       dma(dev, pa(ram_dst + ro), len, EDU_DMA_TO_RAM),
		       "len %u at buffer offset %u: RAM -> device -> RAM done", len,
		       xfer[t].dev_off);
		for (unsigned int i = 0; i < len && same; i++)
			same = ram_dst[ro + i] == dma_byte(i, t);
		report(same && dst_untouched_around(ro, len),
		       "len %u: came back unchanged, nothing around it written", len);
	}

	if (edu_is_isle_model(&subsys))
		check_dma_isle(xfer[ARRAY_SIZE(xfer) - 1].len, ARRAY_SIZE(xfer) - 1);
	else
		report_skip("out-of-range DMAs: subsystem %04x:%04x is not isle's edu model "
			    "(%04x:%04x)", subsys & 0xffff, subsys >> 16,
			    EDU_SUBSYS_ISLE_VENDOR, EDU_SUBSYS_ISLE_ID);
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

	for (unsigned int round = 1; round <= INTX_ROUNDS; round++) {
		uint32_t rte;

		report_prefix_pushf("round %u", round);
		c = irq_counts[VEC_INTX];
		wr(EDU_IRQ_RAISE, 0x2);
		report(one_irq(VEC_INTX, c), "raise: delivered on IOAPIC input %u", line);
		report(ioapic_read(ioapic_base, IOAPIC_REG_RTE(line)) & IOAPIC_RTE_REMOTE_IRR,
		       "remote IRR set");
		apic_write(APIC_EOI, 0);
		report(one_irq(VEC_INTX, c + 1), "EOI while raised: delivered again");
		wr(EDU_IRQ_ACK, 0x2);
		apic_write(APIC_EOI, 0);
		irq_idle_us(QUIET_US);
		rte = ioapic_read(ioapic_base, IOAPIC_REG_RTE(line));
		report(irq_counts[VEC_INTX] == c + 2 && !(rte & IOAPIC_RTE_REMOTE_IRR),
		       "ack, EOI: quiet, remote IRR clear");
		report(rd(EDU_IRQ_STATUS) == 0, "irq status 0");
		report_prefix_pop();
	}

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
	if (cmdline_get_u64("edu_move", 0))
		check_move();
	check_dma();
	check_msi();
	check_intx();
	report(irq_counts[APIC_SPURIOUS_VECTOR] == 0, "no spurious interrupts");
	report_prefix_pop();
}
