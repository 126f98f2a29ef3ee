/* Unit tests for vmm/pci/msix.c: the capability, reset state (all masked),
 * pending bits and delivery on unmask (entry and function mask), backend
 * eventfd writes while masked showing in the PBA, 8-byte table accesses,
 * read-only PBA, hostile accesses, route mirroring and teardown; a
 * capability laid out by the caller (msix_init_at) and eventfds handed out
 * before a vector goes live (msix_vector_eventfd_get). KVM is not
 * involved: the GSI table runs with vm_fd = -1 and delivery is observed by
 * reading the vector's eventfd. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "pci/msix.h"

#define NR        70         /* two PBA qwords */
#define TABLE     0x0
#define PBA       0x800
#define BAR_SIZE  0x1000

struct fake {
	struct pci_dev pci;
	struct msix msix;
	unsigned int other;     /* BAR accesses msix did not claim */
};

static void fake_bar_access(struct pci_dev *dev, unsigned int bar, uint64_t offset, void *data,
			    unsigned int len, bool is_write)
{
	struct fake *f = dev->opaque;

	if (msix_bar_access(&f->msix, bar, offset, data, len, is_write))
		return;
	f->other++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void fake_config_write(struct pci_dev *dev, unsigned int offset, unsigned int len,
			      uint32_t old)
{
	struct fake *f = dev->opaque;

	msix_config_write(&f->msix, offset, len, old);
}

static const struct pci_dev_ops fake_ops = {
	.name = "fake-msix",
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
	pci_dev_init(&f.pci, 0x1234, 0x1111, 0xff0000, 0, &fake_ops, &f);
	CU_ASSERT_EQUAL_FATAL(pci_dev_set_bar(&f.pci, 0, PCI_BAR_MEM32, BAR_SIZE, false), 0);
	CU_ASSERT_EQUAL_FATAL(msix_init(&f.msix, &f.pci, &gt, NR, 0, TABLE, PBA), 0);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &f.pci), 0);
}

static void teardown(void)
{
	msix_destroy(&f.msix);
	pci_bus_destroy(&bus);
	gsi_destroy(&gt);
}

static void ctl_write(uint16_t v)
{
	uint8_t b[2];

	put_le16(b, v);
	pci_cfg_access(&bus, 0, f.pci.slot << 3, f.msix.cap + PCI_MSIX_FLAGS, b, 2, true);
}

static uint32_t cfg_rd32(unsigned int off)
{
	uint8_t b[4];

	pci_cfg_access(&bus, 0, f.pci.slot << 3, off, b, 4, false);
	return get_le32(b);
}

static bool bar_rw(uint64_t off, uint64_t *v, unsigned int len, bool is_write)
{
	uint8_t b[8] = { 0 };
	bool r;

	if (is_write)
		put_le64(b, *v);
	r = msix_bar_access(&f.msix, 0, off, b, len, is_write);
	if (!is_write)
		*v = len == 8 ? get_le64(b) : len == 4 ? get_le32(b) : len == 2 ? get_le16(b) : b[0];
	return r;
}

static uint32_t ent_rd(unsigned int n, unsigned int field)
{
	uint64_t v;

	CU_ASSERT(bar_rw(TABLE + n * 16 + field, &v, 4, false));
	return (uint32_t)v;
}

static void ent_wr(unsigned int n, unsigned int field, uint32_t val)
{
	uint64_t v = val;

	CU_ASSERT(bar_rw(TABLE + n * 16 + field, &v, 4, true));
}

static uint64_t pba_rd(unsigned int q)
{
	uint64_t v;

	CU_ASSERT(bar_rw(PBA + q * 8, &v, 8, false));
	return v;
}

/* Interrupts delivered on vector n since the last call (eventfd counter). */
static uint64_t delivered(unsigned int n)
{
	int efd = msix_vector_eventfd(&f.msix, n);
	uint64_t c = 0;

	if (efd < 0 || read(efd, &c, sizeof(c)) != sizeof(c))
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

static void test_msix_cap(void)
{
	unsigned int cap;

	setup();
	cap = f.msix.cap;
	CU_ASSERT_EQUAL(cfg_rd32(PCI_CAPABILITY_LIST) & 0xff, cap);
	CU_ASSERT_EQUAL(cfg_rd32(cap) & 0xff, PCI_CAP_ID_MSIX);
	CU_ASSERT_EQUAL(cfg_rd32(cap) >> 16, NR - 1);
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_TABLE), TABLE | 0);
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_PBA), PBA | 0);
	/* Table size and the BIR/offset registers are read-only. */
	ctl_write(0xffff);
	CU_ASSERT_EQUAL(cfg_rd32(cap) >> 16,
			PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NR - 1));
	CU_ASSERT(msix_enabled(&f.msix));
	{
		uint8_t b[4] = { 0xff, 0xff, 0xff, 0xff };

		pci_cfg_access(&bus, 0, f.pci.slot << 3, cap + PCI_MSIX_TABLE, b, 4, true);
		pci_cfg_access(&bus, 0, f.pci.slot << 3, cap + PCI_MSIX_PBA, b, 4, true);
	}
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_TABLE), TABLE);
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_PBA), PBA);
	ctl_write(0);
	CU_ASSERT(!msix_enabled(&f.msix));
	teardown();
}

static void test_msix_init_args(void)
{
	struct pci_dev d;
	struct msix m;

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	pci_dev_init(&d, 1, 2, 0, 0, &fake_ops, NULL);
	pci_dev_set_bar(&d, 0, PCI_BAR_MEM32, BAR_SIZE, false);
	pci_dev_set_bar(&d, 1, PCI_BAR_IO, 0x100, false);
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 0, 0, TABLE, PBA), -EINVAL);
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, MSIX_MAX_VECTORS + 1, 0, TABLE, PBA), -EINVAL);
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 4, 1, 0, 0x80), -EINVAL);     /* I/O BAR */
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 4, 2, 0, 0x80), -EINVAL);     /* no BAR */
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 4, 6, 0, 0x80), -EINVAL);
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 4, 0, 4, 0x80), -EINVAL);     /* BIR bits */
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 4, 0, 0, 0x38), -EINVAL);     /* overlap */
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 129, 0, 0, 0x800), -EINVAL);  /* table too long */
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 4, 0, 0, 0xff8 + 8), -EINVAL); /* PBA outside */
	CU_ASSERT_EQUAL(get_le16(d.cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST, 0);
	CU_ASSERT_EQUAL(msix_init(&m, &d, &gt, 4, 0, 0, 0xff8), 0);
	msix_destroy(&m);
	gsi_destroy(&gt);
}

static void test_msix_start_masked(void)
{
	setup();
	for (unsigned int n = 0; n < NR; n++) {
		CU_ASSERT_EQUAL(ent_rd(n, PCI_MSIX_ENTRY_VECTOR_CTRL), PCI_MSIX_ENTRY_CTRL_MASKBIT);
		CU_ASSERT_EQUAL(ent_rd(n, PCI_MSIX_ENTRY_DATA), 0);
		CU_ASSERT_EQUAL(msix_vector_eventfd(&f.msix, n), -1);
	}
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	CU_ASSERT_EQUAL(pba_rd(1), 0);
	/* Enabling alone routes nothing: every entry is still masked. */
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(gt.nr, 0);
	teardown();
}

static void test_msix_pending_unmask(void)
{
	const struct kvm_irq_routing_entry *e;
	uint64_t v;

	setup();
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	ent_wr(3, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	ent_wr(3, PCI_MSIX_ENTRY_DATA, 0x4041);
	CU_ASSERT_EQUAL(msix_notify(&f.msix, 3), 0);
	CU_ASSERT_EQUAL(pba_rd(0), 1ULL << 3);
	CU_ASSERT_EQUAL(msix_notify(&f.msix, 66), 0);
	CU_ASSERT_EQUAL(pba_rd(1), 1ULL << 2);
	CU_ASSERT(bar_rw(PBA + 8, &v, 4, false));
	CU_ASSERT_EQUAL(v, 1u << 2);
	CU_ASSERT(bar_rw(PBA + 12, &v, 4, false));
	CU_ASSERT_EQUAL(v, 0);

	/* Unmask: routed, the latched interrupt is delivered once, PBA clears. */
	ent_wr(3, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT(msix_vector_eventfd(&f.msix, 3) >= 0);
	CU_ASSERT_EQUAL(delivered(3), 1);
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	CU_ASSERT_EQUAL(pba_rd(1), 1ULL << 2);
	e = route(f.msix.vec[3].route.gsi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee00000u);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4041u);
	/* Live: straight to the eventfd. */
	msix_notify(&f.msix, 3);
	msix_notify(&f.msix, 3);
	CU_ASSERT_EQUAL(delivered(3), 2);
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	/* Masked again: latched, not delivered; the eventfd stays the same. */
	ent_wr(3, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
	msix_notify(&f.msix, 3);
	CU_ASSERT_EQUAL(delivered(3), 0);
	CU_ASSERT_EQUAL(pba_rd(0), 1ULL << 3);
	ent_wr(3, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(delivered(3), 1);
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	CU_ASSERT_EQUAL(gt.nr, 1);   /* still one route for vector 3 */
	teardown();
}

static void test_msix_function_mask(void)
{
	setup();
	ctl_write(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ent_wr(0, PCI_MSIX_ENTRY_DATA, 0x30);
	ent_wr(0, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(gt.nr, 0);   /* function masked: not live, no route */
	msix_notify(&f.msix, 0);
	CU_ASSERT_EQUAL(pba_rd(0), 1);
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(delivered(0), 1);
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	ctl_write(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	msix_notify(&f.msix, 0);
	CU_ASSERT_EQUAL(delivered(0), 0);
	CU_ASSERT_EQUAL(pba_rd(0), 1);
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(delivered(0), 1);
	/* MSI-X disabled behaves like masked. */
	ctl_write(0);
	msix_notify(&f.msix, 0);
	CU_ASSERT_EQUAL(delivered(0), 0);
	CU_ASSERT_EQUAL(pba_rd(0), 1);
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(delivered(0), 1);
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	teardown();
}

static void test_msix_qword(void)
{
	const struct kvm_irq_routing_entry *e;
	uint64_t v;

	setup();
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	v = 0x00000001fee01000ULL;
	CU_ASSERT(bar_rw(TABLE + 16, &v, 8, true));
	CU_ASSERT_EQUAL(ent_rd(1, PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee01000u);
	CU_ASSERT_EQUAL(ent_rd(1, PCI_MSIX_ENTRY_UPPER_ADDR), 1u);
	/* data + vector control in one write: data lands before the unmask. */
	v = 0x4055;
	CU_ASSERT(bar_rw(TABLE + 16 + 8, &v, 8, true));
	CU_ASSERT(bar_rw(TABLE + 16 + 8, &v, 8, false));
	CU_ASSERT_EQUAL(v, 0x4055);
	e = route(f.msix.vec[1].route.gsi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee01000u);
	CU_ASSERT_EQUAL(e->u.msi.address_hi, 1u);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4055u);
	CU_ASSERT(bar_rw(TABLE + 16, &v, 8, false));
	CU_ASSERT_EQUAL(v, 0x00000001fee01000ULL);
	teardown();
}

static void test_msix_pba_readonly(void)
{
	uint64_t v;

	setup();
	msix_notify(&f.msix, 5);
	v = 0;
	CU_ASSERT(bar_rw(PBA, &v, 8, true));
	CU_ASSERT(bar_rw(PBA, &v, 4, true));
	CU_ASSERT_EQUAL(pba_rd(0), 1ULL << 5);
	v = ~0ULL;
	CU_ASSERT(bar_rw(PBA + 8, &v, 8, true));
	CU_ASSERT_EQUAL(pba_rd(1), 0);
	teardown();
}

static void test_msix_bad_access(void)
{
	uint64_t v;
	uint8_t b[16];

	setup();
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	/* Claimed but inert: narrow, unaligned, oversized. */
	v = 0x1234;
	CU_ASSERT(bar_rw(TABLE + 12, &v, 2, false));
	CU_ASSERT_EQUAL(v, 0);
	v = 0;
	CU_ASSERT(bar_rw(TABLE + 12, &v, 1, true));   /* would unmask */
	CU_ASSERT(bar_rw(TABLE + 12, &v, 2, true));
	CU_ASSERT(bar_rw(TABLE + 10, &v, 4, true));
	CU_ASSERT(bar_rw(TABLE + 4, &v, 8, true));
	CU_ASSERT(bar_rw(TABLE + 13, &v, 4, false));
	CU_ASSERT_EQUAL(v, 0);
	memset(b, 0, sizeof(b));
	CU_ASSERT(msix_bar_access(&f.msix, 0, TABLE, b, 16, true));
	CU_ASSERT(msix_bar_access(&f.msix, 0, PBA + 3, b, 3, false));
	CU_ASSERT_EQUAL(ent_rd(0, PCI_MSIX_ENTRY_VECTOR_CTRL), 1);
	CU_ASSERT_EQUAL(gt.nr, 0);
	/* Not ours: between table and PBA, past the PBA, other BARs. */
	CU_ASSERT(!bar_rw(TABLE + NR * 16, &v, 4, false));
	CU_ASSERT(!bar_rw(PBA + 16, &v, 4, false));
	CU_ASSERT(!bar_rw(~0ULL - 3, &v, 4, false));
	CU_ASSERT(!msix_bar_access(&f.msix, 1, TABLE, b, 4, false));
	CU_ASSERT_EQUAL(msix_notify(&f.msix, NR), -EINVAL);
	CU_ASSERT_EQUAL(msix_notify(&f.msix, ~0u), -EINVAL);
	CU_ASSERT_EQUAL(msix_vector_eventfd(&f.msix, NR), -1);

	/* End to end through the MMIO window. */
	pci_cfg_access(&bus, 0, f.pci.slot << 3, PCI_COMMAND, &(uint16_t){ PCI_COMMAND_MEMORY },
		       2, true);
	v = 0;
	pci_mmio32_handler(&bus, pci_bar_address(&f.pci, 0) - win.mmio32_base + 12, &v, 4, false);
	CU_ASSERT_EQUAL(v, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	pci_mmio32_handler(&bus, pci_bar_address(&f.pci, 0) - win.mmio32_base + 0xc00, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0x5a5a5a5au);
	CU_ASSERT_EQUAL(f.other, 1);
	teardown();
}

static void test_msix_route_update(void)
{
	const struct kvm_irq_routing_entry *e;
	int gsi;

	setup();
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	ent_wr(2, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	ent_wr(2, PCI_MSIX_ENTRY_DATA, 0x41);
	ent_wr(2, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	gsi = f.msix.vec[2].route.gsi;
	CU_ASSERT(gsi >= GSI_IRQCHIP_PINS);
	ent_wr(2, PCI_MSIX_ENTRY_DATA, 0x42);
	e = route(gsi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x42u);
	ent_wr(2, PCI_MSIX_ENTRY_UPPER_ADDR, 0x2);
	ent_wr(2, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee0f003);  /* bits 1-0 dropped */
	e = route(gsi);
	CU_ASSERT_EQUAL(e->u.msi.address_hi, 2u);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee0f000u);
	CU_ASSERT_EQUAL(ent_rd(2, PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee0f000u);
	/* Masked changes are mirrored too, and the GSI is kept across masks. */
	ent_wr(2, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
	ent_wr(2, PCI_MSIX_ENTRY_DATA, 0x43);
	CU_ASSERT_EQUAL(route(gsi)->u.msi.data, 0x43u);
	ent_wr(2, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(f.msix.vec[2].route.gsi, gsi);
	CU_ASSERT_EQUAL(gt.nr, 1);
	teardown();
}

/* The defect "the PBA reads 0 for vectors a backend raised while masked":
 * a backend holds the vector's eventfd and writes it while the vector is
 * masked (irqfd unbound). A PBA read must consume the counter and show the
 * bit; the unmask must deliver exactly once. */
static void backend_raise(unsigned int n)
{
	uint64_t one = 1;

	CU_ASSERT_EQUAL(write(msix_vector_eventfd(&f.msix, n), &one, sizeof(one)), sizeof(one));
}

static void test_msix_backend_masked(void)
{
	const struct kvm_irq_routing_entry *e;

	setup();
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	ent_wr(65, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	ent_wr(65, PCI_MSIX_ENTRY_DATA, 0x4061);
	ent_wr(65, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);     /* live: route + eventfd */
	/* The route object carries the requester id 00:slot.0. */
	CU_ASSERT_EQUAL(f.msix.vec[65].route.rid, f.pci.slot << 3);
	e = route(f.msix.vec[65].route.gsi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4061u);

	ent_wr(65, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
	backend_raise(65);
	backend_raise(65);
	CU_ASSERT_EQUAL(pba_rd(0), 0);                 /* other qword: untouched */
	CU_ASSERT_EQUAL(pba_rd(1), 1ULL << 1);
	CU_ASSERT_EQUAL(delivered(65), 0);             /* the counter was consumed */
	CU_ASSERT_EQUAL(pba_rd(1), 1ULL << 1);         /* and the bit stays */
	ent_wr(65, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(delivered(65), 1);
	CU_ASSERT_EQUAL(pba_rd(1), 0);

	/* Raised while masked and unmasked without a PBA read in between. */
	ent_wr(65, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
	backend_raise(65);
	ent_wr(65, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(delivered(65), 1);
	CU_ASSERT_EQUAL(pba_rd(1), 0);

	/* Function mask and MSI-X disable count as masked too; a 4-byte read
	 * of the upper half polls the same vectors. */
	ctl_write(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	backend_raise(65);
	{
		uint64_t v;

		CU_ASSERT(bar_rw(PBA + 12, &v, 4, false));
		CU_ASSERT_EQUAL(v, 0);
		CU_ASSERT(bar_rw(PBA + 8, &v, 4, false));
		CU_ASSERT_EQUAL(v, 1u << 1);
	}
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(delivered(65), 1);
	ctl_write(0);
	backend_raise(65);
	CU_ASSERT_EQUAL(pba_rd(1), 1ULL << 1);
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(delivered(65), 1);
	CU_ASSERT_EQUAL(pba_rd(1), 0);
	teardown();
}

static void test_msix_destroy(void)
{
	int efd[3];

	setup();
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	for (unsigned int n = 0; n < 3; n++) {
		ent_wr(n, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
		efd[n] = msix_vector_eventfd(&f.msix, n);
		CU_ASSERT(efd[n] >= 0);
	}
	CU_ASSERT_EQUAL(gt.nr, 3);
	msix_destroy(&f.msix);
	CU_ASSERT_EQUAL(gt.nr, 0);
	for (unsigned int n = 0; n < 3; n++) {
		CU_ASSERT_EQUAL(fcntl(efd[n], F_GETFD), -1);
		CU_ASSERT_EQUAL(gt.used[GSI_IRQCHIP_PINS + n], 0);
	}
	msix_destroy(&f.msix);   /* idempotent */
	pci_bus_destroy(&bus);
	gsi_destroy(&gt);
}

/* Stress for the locking (meant for a -Db_sanitize=thread build): the device
 * raises vector 0 while one vCPU toggles the function mask through config
 * space (bus lock, then msix lock) and another toggles the entry mask and
 * rewrites data through the table (msix lock only). No CUnit calls in the
 * threads: its counters are not thread-safe. */
#define STRESS 2000

static void *stress_notify(void *arg)
{
	for (int i = 0; i < 10 * STRESS; i++)
		msix_notify(&f.msix, 0);
	return NULL;
}

static void *stress_fn_mask(void *arg)
{
	for (int i = 0; i < STRESS; i++) {
		ctl_write(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
		ctl_write(PCI_MSIX_FLAGS_ENABLE);
	}
	return NULL;
}

static void *stress_entry(void *arg)
{
	uint8_t b[8];

	for (int i = 0; i < STRESS; i++) {
		put_le32(b, 1);
		pci_mmio32_handler(&bus, pci_bar_address(&f.pci, 0) - win.mmio32_base + 12, b, 4,
				   true);
		put_le64(b, (uint64_t)i);   /* data = i, unmasked */
		msix_bar_access(&f.msix, 0, TABLE + 8, b, 8, true);
		msix_vector_eventfd(&f.msix, 0);
	}
	return NULL;
}

static void test_msix_threads(void)
{
	pthread_t t[3];
	uint64_t got;

	setup();
	pci_cfg_access(&bus, 0, f.pci.slot << 3, PCI_COMMAND, &(uint16_t){ PCI_COMMAND_MEMORY },
		       2, true);
	ent_wr(0, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t[0], NULL, stress_notify, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t[1], NULL, stress_fn_mask, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t[2], NULL, stress_entry, NULL), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	/* Everything ends unmasked: nothing may be left pending, something was
	 * delivered, the route carries the last data, and there is one route. */
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	got = delivered(0);
	CU_ASSERT(got >= 1);
	CU_ASSERT_EQUAL(gt.nr, 1);
	CU_ASSERT_EQUAL(route(f.msix.vec[0].route.gsi)->u.msi.data, STRESS - 1);
	teardown();
}

/* msix_init_at: a capability the caller laid out (an assigned function's,
 * at its device's offset) is filled in, not added: the list stays as it
 * was, the control word at that offset drives enable and function mask. */
static void test_msix_init_at(void)
{
	struct pci_dev d;
	struct msix m;
	const unsigned int cap = 0xb0;

	memset(&f, 0, sizeof(f));
	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &win), 0);
	pci_dev_init(&f.pci, 0x1234, 0x1111, 0xff0000, 0, &fake_ops, &f);
	CU_ASSERT_EQUAL_FATAL(pci_dev_set_bar(&f.pci, 0, PCI_BAR_MEM32, BAR_SIZE, false), 0);
	/* The device's list: PM at 0x40 -> MSI-X at 0xb0. */
	put_le16(f.pci.cfg + PCI_STATUS, PCI_STATUS_CAP_LIST);
	f.pci.cfg[PCI_CAPABILITY_LIST] = 0x40;
	f.pci.cfg[0x40] = PCI_CAP_ID_PM;
	f.pci.cfg[0x41] = cap;
	f.pci.cfg[cap] = PCI_CAP_ID_MSIX;
	f.pci.cfg[cap + 1] = 0;
	/* Whatever masks the caller left there, the offsets end read-only. */
	memset(f.pci.wmask + cap + PCI_MSIX_TABLE, 0xff, 8);
	CU_ASSERT_EQUAL_FATAL(msix_init_at(&f.msix, &f.pci, &gt, NR, cap, 0, TABLE, PBA), 0);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &f.pci), 0);
	CU_ASSERT_EQUAL(f.msix.cap, cap);
	CU_ASSERT_EQUAL(cfg_rd32(PCI_CAPABILITY_LIST) & 0xff, 0x40);
	CU_ASSERT_EQUAL(cfg_rd32(0x40) & 0xffff, cap << 8 | PCI_CAP_ID_PM);
	CU_ASSERT_EQUAL(cfg_rd32(cap), (uint32_t)(NR - 1) << 16 | PCI_CAP_ID_MSIX);
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_TABLE), TABLE | 0);
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_PBA), PBA | 0);
	/* Nothing was appended: the next free offset is still the first. */
	CU_ASSERT_EQUAL(f.pci.cap_next, PCI_STD_HEADER_SIZEOF);
	/* Only ENABLE and MASKALL are writable; offsets and the size are not. */
	ctl_write(0xffff);
	CU_ASSERT_EQUAL(cfg_rd32(cap) >> 16,
			PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NR - 1));
	CU_ASSERT(msix_enabled(&f.msix));
	{
		uint8_t b[4] = { 0xff, 0xff, 0xff, 0xff };

		pci_cfg_access(&bus, 0, f.pci.devfn, cap + PCI_MSIX_TABLE, b, 4, true);
		pci_cfg_access(&bus, 0, f.pci.devfn, cap + PCI_MSIX_PBA, b, 4, true);
	}
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_TABLE), TABLE);
	CU_ASSERT_EQUAL(cfg_rd32(cap + PCI_MSIX_PBA), PBA);
	/* A vector goes live through it and is routed with the requester id. */
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	ent_wr(7, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	ent_wr(7, PCI_MSIX_ENTRY_DATA, 0x4077);
	ent_wr(7, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(gt.nr, 1);
	CU_ASSERT_EQUAL(f.msix.vec[7].route.rid, pci_dev_rid(&f.pci));
	CU_ASSERT_PTR_NOT_NULL(route(f.msix.vec[7].route.gsi));
	msix_notify(&f.msix, 7);
	CU_ASSERT_EQUAL(delivered(7), 1);
	ctl_write(0);
	CU_ASSERT(!msix_enabled(&f.msix));
	teardown();

	/* Offsets where a capability cannot be: in the header, or running
	 * past the standard space; the same argument checks as msix_init. */
	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	pci_dev_init(&d, 1, 2, 0, 0, &fake_ops, NULL);
	pci_dev_set_bar(&d, 0, PCI_BAR_MEM32, BAR_SIZE, false);
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 4, 0x3c, 0, 0, 0x80), -EINVAL);
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 4, 0, 0, 0, 0x80), -EINVAL);
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 4, PCI_CFG_SPACE_SIZE - PCI_CAP_MSIX_SIZEOF + 1,
				     0, 0, 0x80), -EINVAL);
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 4, 0x100, 0, 0, 0x80), -EINVAL);
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 0, 0x40, 0, 0, 0x80), -EINVAL);
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 4, 0x40, 2, 0, 0x80), -EINVAL);  /* no BAR */
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 4, 0x40, 0, 0, 0x38), -EINVAL);  /* overlap */
	CU_ASSERT_PTR_NULL(m.vec);
	msix_destroy(&m);   /* a failed init leaves nothing to free */
	CU_ASSERT_EQUAL(d.cfg[0x42], 0);
	CU_ASSERT_EQUAL(get_le16(d.cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST, 0);
	/* The last offset that fits. */
	CU_ASSERT_EQUAL(msix_init_at(&m, &d, &gt, 4, PCI_CFG_SPACE_SIZE - PCI_CAP_MSIX_SIZEOF, 0,
				     0, 0x80), 0);
	CU_ASSERT_EQUAL(get_le16(d.cfg + PCI_CFG_SPACE_SIZE - PCI_CAP_MSIX_SIZEOF +
				 PCI_MSIX_FLAGS), 3);
	CU_ASSERT_EQUAL(get_le16(d.cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST, 0);
	msix_destroy(&m);
	gsi_destroy(&gt);
}

/* msix_vector_eventfd_get: the eventfd of a vector that never went live,
 * for a source that wants them all up front (VFIO). Writes to it while the
 * vector is masked (or MSI-X is off) are pending: the PBA shows them and
 * the unmask delivers them, through the same eventfd, once. */
static void test_msix_eventfd_get(void)
{
	uint64_t one = 1;
	int efd, efd2;

	setup();
	CU_ASSERT_EQUAL(msix_vector_eventfd_get(&f.msix, NR), -EINVAL);
	CU_ASSERT_EQUAL(msix_vector_eventfd_get(&f.msix, ~0u), -EINVAL);
	/* MSI-X still disabled, every vector masked. */
	CU_ASSERT_EQUAL(msix_vector_eventfd(&f.msix, 4), -1);
	efd = msix_vector_eventfd_get(&f.msix, 4);
	CU_ASSERT_FATAL(efd >= 0);
	CU_ASSERT_EQUAL(msix_vector_eventfd_get(&f.msix, 4), efd);   /* the same one */
	CU_ASSERT_EQUAL(msix_vector_eventfd(&f.msix, 4), efd);
	CU_ASSERT_EQUAL(msix_vector_eventfd(&f.msix, 5), -1);        /* only that vector */
	CU_ASSERT_EQUAL(gt.nr, 0);                                   /* and no route */
	CU_ASSERT_EQUAL(f.msix.vec[4].route.gsi, -1);

	/* Raised while MSI-X is off: pending in the PBA, not delivered. */
	CU_ASSERT_EQUAL(write(efd, &one, sizeof(one)), sizeof(one));
	CU_ASSERT_EQUAL(pba_rd(0), 1ULL << 4);
	CU_ASSERT_EQUAL(delivered(4), 0);
	ctl_write(PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(pba_rd(0), 1ULL << 4);      /* the entry is still masked */
	CU_ASSERT_EQUAL(gt.nr, 0);
	ent_wr(4, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	ent_wr(4, PCI_MSIX_ENTRY_DATA, 0x4044);
	ent_wr(4, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	/* Unmasked: routed, the pending interrupt delivered once on the
	 * eventfd the source holds, the PBA clear. */
	CU_ASSERT_EQUAL(msix_vector_eventfd(&f.msix, 4), efd);
	CU_ASSERT_EQUAL(gt.nr, 1);
	CU_ASSERT_PTR_NOT_NULL(route(f.msix.vec[4].route.gsi));
	CU_ASSERT_EQUAL(delivered(4), 1);
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	/* Live: a source's write is the interrupt itself (KVM's irqfd; here
	 * the counter), never a pending bit. */
	CU_ASSERT_EQUAL(write(efd, &one, sizeof(one)), sizeof(one));
	CU_ASSERT_EQUAL(pba_rd(0), 0);
	CU_ASSERT_EQUAL(delivered(4), 1);

	/* Another vector, created while MSI-X is on but the entry masked,
	 * raised and unmasked without a PBA read in between. */
	efd2 = msix_vector_eventfd_get(&f.msix, 66);
	CU_ASSERT_FATAL(efd2 >= 0);
	CU_ASSERT_NOT_EQUAL(efd2, efd);
	CU_ASSERT_EQUAL(write(efd2, &one, sizeof(one)), sizeof(one));
	CU_ASSERT_EQUAL(write(efd2, &one, sizeof(one)), sizeof(one));
	ent_wr(66, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(delivered(66), 1);
	CU_ASSERT_EQUAL(pba_rd(1), 0);
	CU_ASSERT_EQUAL(gt.nr, 2);
	/* Masked again: pending again. */
	ent_wr(66, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
	CU_ASSERT_EQUAL(write(efd2, &one, sizeof(one)), sizeof(one));
	CU_ASSERT_EQUAL(pba_rd(1), 1ULL << 2);
	CU_ASSERT_EQUAL(msix_vector_eventfd_get(&f.msix, 66), efd2);

	/* Teardown closes eventfds of vectors that never went live too. */
	efd = msix_vector_eventfd_get(&f.msix, 9);
	CU_ASSERT_FATAL(efd >= 0);
	msix_destroy(&f.msix);
	CU_ASSERT_EQUAL(fcntl(efd, F_GETFD), -1);
	CU_ASSERT_EQUAL(fcntl(efd2, F_GETFD), -1);
	CU_ASSERT_EQUAL(gt.nr, 0);
	pci_bus_destroy(&bus);
	gsi_destroy(&gt);
}

void unit_register(void)
{
	UNIT_SUITE("msix",
		   UNIT_TEST(test_msix_cap),
		   UNIT_TEST(test_msix_init_args),
		   UNIT_TEST(test_msix_start_masked),
		   UNIT_TEST(test_msix_pending_unmask),
		   UNIT_TEST(test_msix_function_mask),
		   UNIT_TEST(test_msix_qword),
		   UNIT_TEST(test_msix_pba_readonly),
		   UNIT_TEST(test_msix_bad_access),
		   UNIT_TEST(test_msix_route_update),
		   UNIT_TEST(test_msix_backend_masked),
		   UNIT_TEST(test_msix_destroy),
		   UNIT_TEST(test_msix_threads),
		   UNIT_TEST(test_msix_init_at),
		   UNIT_TEST(test_msix_eventfd_get));
}
