/* Unit tests for vmm/pci/msi.c: the capability's layout and write masks,
 * enable creating one route with the function's requester id and the
 * programmed message, delivery through the eventfd only while enabled,
 * message changes (with MSI on and while off) reaching the route, hostile
 * config writes, and teardown. KVM is not involved: the GSI table runs with
 * vm_fd = -1 and delivery is observed by reading the eventfd. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "pci/msi.h"

struct fake {
	struct pci_dev pci;
	struct msi msi;
};

static void fake_bar_access(struct pci_dev *dev, unsigned int bar, uint64_t offset, void *data,
			    unsigned int len, bool is_write)
{
	if (!is_write)
		memset(data, 0, len);
}

static void fake_config_write(struct pci_dev *dev, unsigned int offset, unsigned int len,
			      uint32_t old)
{
	struct fake *f = dev->opaque;

	msi_config_write(&f->msi, offset, len, old);
}

static const struct pci_dev_ops fake_ops = {
	.name = "fake-msi",
	.bar_access = fake_bar_access,
	.config_write = fake_config_write,
};

static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

static struct gsi_table gt;
static struct pci_bus bus;
static struct fake f;

static void setup(void)
{
	memset(&f, 0, sizeof(f));
	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &win), 0);
	pci_dev_init(&f.pci, 0x1234, 0x11e8, 0xff0000, 0, &fake_ops, &f);
	CU_ASSERT_EQUAL_FATAL(pci_dev_set_bar(&f.pci, 0, PCI_BAR_MEM32, 0x1000, false), 0);
	CU_ASSERT_EQUAL_FATAL(msi_init(&f.msi, &f.pci, &gt), 0);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &f.pci), 0);
}

static void teardown(void)
{
	pci_unregister(&bus, &f.pci);
	msi_destroy(&f.msi);
	pci_bus_destroy(&bus);
	gsi_destroy(&gt);
}

static void cfg_wr(unsigned int off, uint32_t v, unsigned int len)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cfg_access(&bus, 0, f.pci.slot << 3, off, b, len, true);
}

static uint32_t cfg_rd(unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_access(&bus, 0, f.pci.slot << 3, off, b, len, false);
	return len == 4 ? get_le32(b) : len == 2 ? get_le16(b) : b[0];
}

static void program(uint64_t addr, uint16_t data)
{
	cfg_wr(f.msi.cap + PCI_MSI_ADDRESS_LO, (uint32_t)addr, 4);
	cfg_wr(f.msi.cap + PCI_MSI_ADDRESS_HI, (uint32_t)(addr >> 32), 4);
	cfg_wr(f.msi.cap + PCI_MSI_DATA_64, data, 2);
}

static void enable(bool on)
{
	cfg_wr(f.msi.cap + PCI_MSI_FLAGS, on ? PCI_MSI_FLAGS_ENABLE : 0, 2);
}

/* Interrupts delivered since the last call (the eventfd's counter). */
static uint64_t delivered(void)
{
	uint64_t c = 0;

	if (f.msi.efd < 0 || read(f.msi.efd, &c, sizeof(c)) != sizeof(c))
		return 0;
	return c;
}

static const struct kvm_irq_routing_entry *route(int gsi)
{
	for (unsigned int i = 0; i < gt.nr; i++)
		if (gt.entries[i].type == KVM_IRQ_ROUTING_MSI && gt.entries[i].gsi == (uint32_t)gsi)
			return &gt.entries[i];
	return NULL;
}

static void test_msi_cap(void)
{
	unsigned int cap;

	setup();
	cap = f.msi.cap;
	CU_ASSERT(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	CU_ASSERT_EQUAL(cfg_rd(PCI_CAPABILITY_LIST, 1), cap);
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_CAP_LIST_ID, 1), PCI_CAP_ID_MSI);
	/* 64-bit, one vector, no masking, disabled. */
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT);
	CU_ASSERT_EQUAL(gt.nr, 0);
	CU_ASSERT_EQUAL(msi_notify(&f.msi), -EAGAIN);
	/* Only enable is writable in control; MME, MMC, 64-bit, mask are not. */
	cfg_wr(cap + PCI_MSI_FLAGS, 0xffff, 2);
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_MSI_FLAGS, 2),
			PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_ENABLE);
	enable(false);
	/* Address dword aligned, data 16 bits, the reserved half reads 0. */
	cfg_wr(cap + PCI_MSI_ADDRESS_LO, 0xffffffff, 4);
	cfg_wr(cap + PCI_MSI_ADDRESS_HI, 0x12345678, 4);
	cfg_wr(cap + PCI_MSI_DATA_64, 0xffffffff, 4);
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_MSI_ADDRESS_LO, 4), 0xfffffffc);
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_MSI_ADDRESS_HI, 4), 0x12345678);
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_MSI_DATA_64, 4), 0xffff);
	/* Disabled again: the route stays (as MSI-X vectors keep theirs), the
	 * irqfd is unbound, and notify has nowhere to go. */
	CU_ASSERT_EQUAL(gt.nr, 1);
	CU_ASSERT(!f.msi.bound);
	CU_ASSERT_EQUAL(msi_notify(&f.msi), -EAGAIN);
	CU_ASSERT(!msi_enabled(&f.msi));
	teardown();
}

static void test_msi_deliver(void)
{
	const struct kvm_irq_routing_entry *e;
	int gsi;

	setup();
	program(0xfee01000, 0x41);
	enable(true);
	CU_ASSERT(msi_enabled(&f.msi));
	gsi = f.msi.route.gsi;
	CU_ASSERT(gsi >= GSI_IRQCHIP_PINS);
	CU_ASSERT_EQUAL(f.msi.route.rid, f.pci.slot << 3);
	e = route(gsi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee01000);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x41);
	CU_ASSERT(f.msi.bound);

	CU_ASSERT_EQUAL(msi_notify(&f.msi), 0);
	CU_ASSERT_EQUAL(msi_notify(&f.msi), 0);
	CU_ASSERT_EQUAL(delivered(), 2);

	/* Reprogrammed while enabled: the route follows. */
	cfg_wr(f.msi.cap + PCI_MSI_DATA_64, 0x42, 2);
	CU_ASSERT_EQUAL(route(gsi)->u.msi.data, 0x42);

	/* Disabled: unbound, nothing delivered, the GSI is kept. */
	enable(false);
	CU_ASSERT(!f.msi.bound);
	CU_ASSERT_EQUAL(msi_notify(&f.msi), -EAGAIN);
	CU_ASSERT_EQUAL(delivered(), 0);

	/* Changed while off, then enabled: the route catches up. */
	program(0xfee02000, 0x43);
	CU_ASSERT_EQUAL(route(gsi)->u.msi.data, 0x42);
	enable(true);
	CU_ASSERT_EQUAL(f.msi.route.gsi, gsi);
	CU_ASSERT_EQUAL(route(gsi)->u.msi.address_lo, 0xfee02000);
	CU_ASSERT_EQUAL(route(gsi)->u.msi.data, 0x43);
	CU_ASSERT_EQUAL(msi_notify(&f.msi), 0);
	CU_ASSERT_EQUAL(delivered(), 1);
	CU_ASSERT_EQUAL(gt.nr, 1);
	teardown();
}

/* Byte-wise and misaligned writes over the capability never reach beyond
 * it, and a disabled-then-destroyed msi leaves no GSI and no fd. */
static void test_msi_hostile_teardown(void)
{
	unsigned int cap;
	int efd, gsi;

	setup();
	cap = f.msi.cap;
	for (unsigned int o = 0; o < 0x40; o++)
		cfg_wr(cap + o, 0xff, 1);
	cfg_wr(cap + 1, 0xffff, 2);        /* misaligned: dropped */
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_MSI_FLAGS, 2),
			PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_CAP_LIST_ID, 1), PCI_CAP_ID_MSI);
	CU_ASSERT_EQUAL(cfg_rd(cap + PCI_MSI_DATA_64 + 2, 2), 0);
	CU_ASSERT(msi_enabled(&f.msi));
	efd = f.msi.efd;
	gsi = f.msi.route.gsi;
	CU_ASSERT(efd >= 0);
	CU_ASSERT_EQUAL(gt.nr, 1);
	msi_destroy(&f.msi);
	CU_ASSERT_EQUAL(gt.nr, 0);
	CU_ASSERT_EQUAL(gt.used[gsi], 0);
	CU_ASSERT_EQUAL(fcntl(efd, F_GETFD), -1);
	CU_ASSERT(!msi_enabled(&f.msi));
	CU_ASSERT_EQUAL(msi_notify(&f.msi), -EAGAIN);
	msi_destroy(&f.msi);               /* twice: a no-op */
	pci_unregister(&bus, &f.pci);
	pci_bus_destroy(&bus);
	gsi_destroy(&gt);
}

void unit_register(void)
{
	UNIT_SUITE("msi", UNIT_TEST(test_msi_cap), UNIT_TEST(test_msi_deliver),
		   UNIT_TEST(test_msi_hostile_teardown));
}
