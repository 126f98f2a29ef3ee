/* Unit tests for vmm/devices/edu.c, realized through device_add_type on a VM
 * that has only guest memory, its identity DMA address space, the GSI table
 * (vm_fd = -1), the IOAPIC and PCI bus 0: identity, liveness and factorial
 * (including the O(1) cut-off), access sizes, DMA round trips and every way
 * a DMA is refused (bus mastering off, outside the buffer, past the 28-bit
 * mask, outside guest RAM, straddling its end: nothing copied, the command
 * still completes), INTx on the IOAPIC input the Interrupt Line names
 * (raise, ack, INTx disable, MSI taking over) and MSI delivery. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/edu.h"

#define RAM_BASE 0x100000
#define RAM_SIZE 0x10000
#define BUF      0x40000

static uint8_t *ram;
static struct vm vm;
static struct device *dev;
static struct pci_dev *pd;

static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

static void setup(void)
{
	struct device_spec spec = { .kind = DEVICE_EDU };

	memset(&vm, 0, sizeof(vm));
	ram = calloc(1, RAM_SIZE);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&vm.gmem, RAM_BASE, RAM_SIZE, ram, -1, 0), 0);
	dma_as_identity_init(&vm.dma, &vm.gmem);
	CU_ASSERT_EQUAL_FATAL(gsi_init(&vm.gsi, -1), 0);
	CU_ASSERT_EQUAL_FATAL(ioapic_init(&vm.ioapic, &vm.gsi, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&vm.pci, &win), 0);
	CU_ASSERT_EQUAL_FATAL(device_add_type(&vm, &edu_type, &spec, &dev), 0);
	pd = NULL;
	for (unsigned int s = 8; s < PCI_MAX_FNS && !pd; s++)
		if (vm.pci.devs[s] && get_le16(vm.pci.devs[s]->cfg + PCI_DEVICE_ID) == 0x11e8)
			pd = vm.pci.devs[s];
	CU_ASSERT_PTR_NOT_NULL_FATAL(pd);
}

static void teardown(void)
{
	device_del_all(&vm);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 0);
	pci_bus_destroy(&vm.pci);
	ioapic_destroy(&vm.ioapic);
	gsi_destroy(&vm.gsi);
	dma_as_destroy(&vm.dma);
	free(ram);
}

static uint64_t rd(uint64_t off, unsigned int len)
{
	uint64_t v = 0;

	pd->ops->bar_access(pd, 0, off, &v, len, false);
	return v;
}

static void wr(uint64_t off, uint64_t v, unsigned int len)
{
	pd->ops->bar_access(pd, 0, off, &v, len, true);
}

static uint32_t cfg_rd(unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_access(&vm.pci, 0, pd->slot << 3, off, b, len, false);
	return len == 4 ? get_le32(b) : len == 2 ? get_le16(b) : b[0];
}

static void cfg_wr(unsigned int off, uint32_t v, unsigned int len)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cfg_access(&vm.pci, 0, pd->slot << 3, off, b, len, true);
}

static void command(uint16_t bits)
{
	cfg_wr(PCI_COMMAND, bits, 2);
}

/* Runs one DMA and checks that it completed. */
static void dma(uint64_t src, uint64_t dst, uint64_t cnt, uint32_t cmd)
{
	wr(0x80, src, 8);
	wr(0x88, dst, 8);
	wr(0x90, cnt, 8);
	wr(0x98, cmd | 1, 4);
	CU_ASSERT_EQUAL(rd(0x98, 4) & 1, 0);
}

static unsigned int intx_pin(void)
{
	return 16 + pd->slot % 4;
}

static void test_edu_identity(void)
{
	setup();
	CU_ASSERT_STRING_EQUAL(dev->id, "edu0");
	CU_ASSERT_EQUAL(cfg_rd(PCI_VENDOR_ID, 4), 0x11e81234);
	CU_ASSERT_EQUAL(cfg_rd(PCI_CLASS_REVISION, 4) >> 8, 0xff0000);
	CU_ASSERT_EQUAL(cfg_rd(PCI_INTERRUPT_PIN, 1), 1);
	CU_ASSERT_EQUAL(cfg_rd(PCI_INTERRUPT_LINE, 1), intx_pin());
	CU_ASSERT_EQUAL(pd->bars[0].size, 1u << 20);
	CU_ASSERT_EQUAL(pd->bars[0].type, PCI_BAR_MEM32);
	CU_ASSERT_EQUAL(cfg_rd(cfg_rd(PCI_CAPABILITY_LIST, 1), 1), PCI_CAP_ID_MSI);
	CU_ASSERT_PTR_EQUAL(pd->dma, &vm.dma);

	CU_ASSERT_EQUAL(rd(0x00, 4), 0x010000ed);
	wr(0x04, 0x12345678, 4);
	CU_ASSERT_EQUAL(rd(0x04, 4), 0xedcba987);
	wr(0x00, 0, 4);                         /* read-only */
	CU_ASSERT_EQUAL(rd(0x00, 4), 0x010000ed);
	/* QEMU's sizes: 4 bytes below 0x80, 4 or 8 from 0x80; else all-ones. */
	CU_ASSERT_EQUAL(rd(0x00, 2), 0xffff);
	CU_ASSERT_EQUAL(rd(0x00, 8), UINT64_MAX);
	CU_ASSERT_EQUAL(rd(0x01, 4), 0xffffffff);
	CU_ASSERT_EQUAL(rd(0x84, 8), UINT64_MAX);
	CU_ASSERT_EQUAL(rd(0x40, 4), 0xffffffff);
	CU_ASSERT_EQUAL(rd(0xffffc, 4), 0xffffffff);
	wr(0x04, 1, 2);                         /* dropped */
	CU_ASSERT_EQUAL(rd(0x04, 4), 0xedcba987);
	wr(0x80, 0x1122334455667788ull, 8);
	CU_ASSERT_EQUAL(rd(0x80, 8), 0x1122334455667788ull);
	CU_ASSERT_EQUAL(rd(0x80, 4), 0x55667788);
	teardown();
}

static void test_edu_factorial(void)
{
	uint32_t want = 1;

	setup();
	/* Against the 32-bit loop QEMU runs, well past the cut-off at 34. */
	for (uint32_t n = 0; n < 64; n++) {
		if (n > 1)
			want *= n;
		wr(0x08, n, 4);
		CU_ASSERT_EQUAL(rd(0x08, 4), want);
		CU_ASSERT_EQUAL(rd(0x20, 4) & 1, 0);
	}
	wr(0x08, 10, 4);
	CU_ASSERT_EQUAL(rd(0x08, 4), 3628800);
	wr(0x08, 0xffffffff, 4);               /* O(1), not 2^32 multiplications */
	CU_ASSERT_EQUAL(rd(0x08, 4), 0);
	/* Only bit 7 of status is the guest's. */
	wr(0x20, 0xffffffff, 4);
	CU_ASSERT_EQUAL(rd(0x20, 4), 0x80);
	wr(0x08, 3, 4);                         /* interrupt when done: irq 0x1 */
	CU_ASSERT_EQUAL(rd(0x24, 4), 0x1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << intx_pin());
	wr(0x64, 0x1, 4);
	CU_ASSERT_EQUAL(rd(0x24, 4), 0);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 0);
	teardown();
}

static void test_edu_dma(void)
{
	uint8_t pattern[4096], back[4096];

	setup();
	for (unsigned int i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 13 + 1);
	memcpy(ram, pattern, sizeof(pattern));

	/* No bus mastering: completes, nothing copied. */
	dma(RAM_BASE, BUF, 4096, 0);
	dma(BUF, RAM_BASE + 0x2000, 4096, 2);
	CU_ASSERT_EQUAL(ram[0x2000], 0);

	command(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	dma(RAM_BASE, BUF, 4096, 0);
	dma(BUF, RAM_BASE + 0x2000, 4096, 2);
	CU_ASSERT_EQUAL(memcmp(ram + 0x2000, pattern, 4096), 0);
	/* Part of the buffer, at an offset. */
	dma(BUF + 0x100, RAM_BASE + 0x4000, 16, 2);
	CU_ASSERT_EQUAL(memcmp(ram + 0x4000, pattern + 0x100, 16), 0);

	/* Refused: each completes, nothing copied either way. */
	memset(ram, 0xee, 4096);
	dma(RAM_BASE, BUF + 1, 4096, 0);                 /* past the buffer */
	dma(RAM_BASE, BUF - 1, 2, 0);                    /* before it */
	dma(RAM_BASE, UINT64_MAX, 2, 0);                 /* wraps */
	dma(RAM_BASE, BUF, UINT64_MAX, 0);               /* huge count */
	dma(1ull << 28, BUF, 16, 0);                     /* past the mask */
	dma((1ull << 28) - 8, BUF, 16, 0);               /* straddles the mask */
	dma(0x200000, BUF, 16, 0);                       /* not guest RAM */
	dma(RAM_BASE + RAM_SIZE - 8, BUF, 16, 0);        /* straddles RAM's end */
	memset(ram + RAM_SIZE - 16, 0x5a, 16);
	dma(BUF, RAM_BASE + RAM_SIZE - 8, 16, 2);        /* to RAM, straddling */
	for (unsigned int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(ram[RAM_SIZE - 16 + i], 0x5a);
	dma(BUF, RAM_BASE + 0x3000, 4096, 2);
	memcpy(back, ram + 0x3000, sizeof(back));
	CU_ASSERT_EQUAL(memcmp(back, pattern, 4096), 0);
	/* Zero bytes: a no-op that completes. */
	dma(RAM_BASE, BUF, 0, 0);

	/* Completion interrupt, even for a refused DMA (the command ends). */
	dma(1ull << 40, BUF, 16, 4);
	CU_ASSERT_EQUAL(rd(0x24, 4), 0x100);
	wr(0x64, 0x100, 4);
	CU_ASSERT_EQUAL(rd(0x24, 4), 0);
	teardown();
}

static void test_edu_intx_msi(void)
{
	unsigned int cap;
	uint64_t cnt = 0;
	struct edu *e;

	setup();
	cap = cfg_rd(PCI_CAPABILITY_LIST, 1);
	command(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	wr(0x60, 0x3, 4);
	CU_ASSERT_EQUAL(rd(0x24, 4), 0x3);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << intx_pin());
	wr(0x64, 0x1, 4);                        /* one bit still set */
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << intx_pin());
	/* INTx disable drops the line; clearing it raises it again. */
	command(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 0);
	command(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << intx_pin());
	/* The guest's Interrupt Line is scratch: the pin does not move. */
	cfg_wr(PCI_INTERRUPT_LINE, 5, 1);
	wr(0x64, 0x2, 4);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 0);

	/* MSI on: the line stays low, each raise is one message. */
	cfg_wr(cap + PCI_MSI_ADDRESS_LO, 0xfee00000, 4);
	cfg_wr(cap + PCI_MSI_DATA_64, 0x45, 2);
	cfg_wr(cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, 2);
	wr(0x60, 0x10, 4);
	wr(0x60, 0x10, 4);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 0);
	e = dev->priv;
	CU_ASSERT(e->msi.bound);
	CU_ASSERT_EQUAL(read(e->msi.efd, &cnt, sizeof(cnt)), sizeof(cnt));
	CU_ASSERT_EQUAL(cnt, 2);
	/* No bus mastering: no message. */
	command(PCI_COMMAND_MEMORY);
	wr(0x60, 0x10, 4);
	CU_ASSERT_EQUAL(read(e->msi.efd, &cnt, sizeof(cnt)), -1);
	/* MSI off with a bit pending: INTx takes over at once. */
	cfg_wr(cap + PCI_MSI_FLAGS, 0, 2);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << intx_pin());
	/* Left high: device_del must lower it (teardown checks). */
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("edu", UNIT_TEST(test_edu_identity), UNIT_TEST(test_edu_factorial),
		   UNIT_TEST(test_edu_dma), UNIT_TEST(test_edu_intx_msi));
}
