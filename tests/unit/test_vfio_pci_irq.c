/* Unit tests for vmm/devices/vfio_pci_irq.c: the interrupts of an assigned
 * function, against the fake device of test_vfio_pci_cfg.c (a memfd as the
 * VFIO device fd, its config space as region 7). KVM is not involved: the
 * GSI table runs with vm_fd -1 (routes are table state, irqfds no-ops).
 *
 * VFIO_DEVICE_SET_IRQS fails on a memfd. The test links with
 * -Wl,--wrap=vfio_irq_set_eventfds (tests/unit/meson.build): the wrapper
 * passes the call to the real function (so the ioctl fails, as without
 * VFIO) unless a test asks it to accept the eventfds, in which case it
 * records what VFIO would have been given and returns 0. That lets both
 * sides be checked: the back-out when VFIO refuses, and the routes and
 * eventfds when it accepts.
 *
 * Checked: MSI enable refused by VFIO leaves no route, no GSI and msi_on
 * false; accepted, every vector of a multi-message MSI gets a route with
 * the function's requester id and data whose low bits are the vector
 * number, and VFIO the eventfds of those irqfds; the vector count follows
 * MME and is clamped by what VFIO offers; message updates reach the routes;
 * MSI-X enable hands VFIO one eventfd per vector, created while they are
 * still masked, whose writes become pending bits and are delivered on
 * unmask; vfio_irq_init clamps (msi_max by VFIO's count and VFIO_MSI_MAX,
 * msix_nr by VFIO's MSI-X count, no MSI-X when VFIO reports none);
 * vfio_irq_reset clears the emulated enable bits and tears routes down;
 * vfio_irq_fini closes every eventfd and is safe twice and after a failed
 * init.
 *
 * Not covered: INTx (vfio_irq_start needs the IOAPIC's resample irqfds and
 * VFIO_IRQ_SET_ACTION_UNMASK, which only KVM and real VFIO give), and
 * whether the device really signals the eventfds VFIO was handed. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>

#include "cunit.h"
#include "isle/log.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"
#include "fake_vfio.h"

/* --- the VFIO seam --- */

int __real_vfio_irq_set_eventfds(const struct vfio_device *d, unsigned int index,
				 unsigned int start, unsigned int n, const int *fds);
int __wrap_vfio_irq_set_eventfds(const struct vfio_device *d, unsigned int index,
				 unsigned int start, unsigned int n, const int *fds);

static struct {
	bool accept;              /* false: the real call (fails on a memfd) */
	unsigned int calls;
	unsigned int index, n;    /* the last call */
	int fds[MSIX_MAX_VECTORS];
} seam;

int __wrap_vfio_irq_set_eventfds(const struct vfio_device *d, unsigned int index,
				 unsigned int start, unsigned int n, const int *fds)
{
	seam.calls++;
	if (!seam.accept)
		return __real_vfio_irq_set_eventfds(d, index, start, n, fds);
	/* What VFIO itself checks. */
	if (index >= d->nr_irqs || start || n > d->irqs[index].count || (n && !fds))
		return -EINVAL;
	seam.index = index;
	seam.n = n;
	if (n)
		memcpy(seam.fds, fds, n * sizeof(*fds));
	return 0;
}

/* --- the fake device --- */

#define MSI_CAP    0x50
#define MSIX_CAP   0x70
#define MSIX_HW_NR 16
#define TABLE      0x2000
#define PBA        0x3000
#define BAR0_SIZE  0x4000

static struct vm vm;
static struct vfio_pci v;
static uint8_t img[PCI_CFG_SIZE];

/* 1234:5678 without INTx: MSI (64-bit, MMC mmc) at 0x50 -> MSI-X (16
 * vectors, table and PBA in BAR0) at 0x70. */
static void image(unsigned int mmc)
{
	memset(img, 0, sizeof(img));
	put_le16(img + PCI_VENDOR_ID, 0x1234);
	put_le16(img + PCI_DEVICE_ID, 0x5678);
	put_le16(img + PCI_STATUS, PCI_STATUS_CAP_LIST);
	put_le32(img + PCI_BASE_ADDRESS_0, 0xfe000000);
	img[PCI_CAPABILITY_LIST] = MSI_CAP;
	img[MSI_CAP] = PCI_CAP_ID_MSI;
	img[MSI_CAP + 1] = MSIX_CAP;
	put_le16(img + MSI_CAP + PCI_MSI_FLAGS, PCI_MSI_FLAGS_64BIT | mmc << 1);
	img[MSIX_CAP] = PCI_CAP_ID_MSIX;
	img[MSIX_CAP + 1] = 0;
	put_le16(img + MSIX_CAP + PCI_MSIX_FLAGS, MSIX_HW_NR - 1);
	put_le32(img + MSIX_CAP + PCI_MSIX_TABLE, TABLE | 0);
	put_le32(img + MSIX_CAP + PCI_MSIX_PBA, PBA | 0);
}

/* What VFIO_DEVICE_GET_IRQ_INFO would report. */
static unsigned int vfio_msi_count, vfio_msix_count;
/* Nonzero: msi_max as vfio_irq_init finds it, instead of the capability's. */
static unsigned int force_msi_max;

/* Config space from img, BAR0 declared as bars_init does (the MSI-X
 * structures where the device has them), then vfio_irq_init. Returns
 * vfio_irq_init's result; the function is registered only on success. */
static int setup(void)
{
	char err[256];
	int r;

	log_set_level(LOG_ERROR);
	memset(&seam, 0, sizeof(seam));
	CU_ASSERT_EQUAL_FATAL(fake_vfio_open(&vm, &v, img, false, vfio_msi_count,
					     vfio_msix_count), 0);
	CU_ASSERT_EQUAL_FATAL(vfio_cfg_init(&v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(pci_dev_set_bar(&v.pci, 0, PCI_BAR_MEM32, BAR0_SIZE, false), 0);
	v.msix_table_off = v.msix_hw_table;
	v.msix_pba_off = v.msix_hw_pba;
	if (force_msi_max)
		v.msi_max = force_msi_max;
	r = vfio_irq_init(&v);
	if (!r)
		CU_ASSERT_EQUAL_FATAL(pci_register(&vm.pci, &v.pci), 0);
	return r;
}

static void setup_default(void)
{
	image(2);   /* 4 MSI vectors */
	vfio_msi_count = 4;
	vfio_msix_count = MSIX_HW_NR;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
}

static void teardown(void)
{
	fake_vfio_close(&vm, &v);
}

static uint32_t rd(unsigned int off, unsigned int len)
{
	return fake_vfio_rd(&vm, &v, off, len);
}

static void wr(unsigned int off, unsigned int len, uint32_t val)
{
	fake_vfio_wr(&vm, &v, off, len, val);
}

/* The guest programs MSI (64-bit layout) and enables it with 1 << mme vectors. */
static void msi_program(uint64_t addr, uint16_t data)
{
	wr(MSI_CAP + PCI_MSI_ADDRESS_LO, 4, (uint32_t)addr);
	wr(MSI_CAP + PCI_MSI_ADDRESS_HI, 4, (uint32_t)(addr >> 32));
	wr(MSI_CAP + PCI_MSI_DATA_64, 2, data);
}

static void msi_enable(unsigned int mme)
{
	wr(MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | mme << 4);
}

static const struct kvm_irq_routing_entry *route(int gsi)
{
	for (unsigned int i = 0; i < vm.gsi.nr; i++)
		if (vm.gsi.entries[i].type == KVM_IRQ_ROUTING_MSI &&
		    vm.gsi.entries[i].gsi == (uint32_t)gsi)
			return &vm.gsi.entries[i];
	return NULL;
}

/* The data KVM's entry for gsi delivers (all-ones: no entry). */
static uint32_t route_data(int gsi)
{
	const struct kvm_irq_routing_entry *e = route(gsi);

	return e ? e->u.msi.data : UINT32_MAX;
}

/* No GSI above the IOAPIC's pins is taken. */
static bool no_msi_gsis(void)
{
	for (unsigned int g = GSI_IRQCHIP_PINS; g < GSI_MAX; g++)
		if (vm.gsi.used[g] || vm.gsi.routes[g])
			return false;
	return vm.gsi.nr == 0;
}

static bool fd_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

/* --- MSI --- */

/* VFIO refuses the eventfds (the real ioctl on a memfd): the routes and
 * GSIs taken for them are given back, MSI is off, and a later enable
 * tries again from scratch. */
static void test_msi_refused_backs_out(void)
{
	setup_default();
	msi_program(0xfee00000, 0x4040);
	msi_enable(2);
	CU_ASSERT_EQUAL(seam.calls, 2);   /* the enable, then msi_off's disable */
	CU_ASSERT(!v.msi_on);
	CU_ASSERT_EQUAL(v.msi_nr, 0);
	CU_ASSERT(no_msi_gsis());
	for (unsigned int i = 0; i < VFIO_MSI_MAX; i++)
		CU_ASSERT_EQUAL(v.msi_routes[i].gsi, -1);
	/* The guest's view is emulated and keeps what it wrote. */
	CU_ASSERT_EQUAL(rd(MSI_CAP + PCI_MSI_FLAGS, 2) & (PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE),
			PCI_MSI_FLAGS_ENABLE | 2 << 4);
	/* The next write to the capability retries; refused again, it backs
	 * out again. */
	wr(MSI_CAP + PCI_MSI_DATA_64, 2, 0x4050);
	CU_ASSERT_EQUAL(seam.calls, 4);
	CU_ASSERT(!v.msi_on);
	CU_ASSERT(no_msi_gsis());
	/* Disable, then enable again with VFIO accepting: it works. */
	wr(MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	CU_ASSERT(no_msi_gsis());
	seam.accept = true;
	msi_enable(0);
	CU_ASSERT(v.msi_on);
	CU_ASSERT_EQUAL(v.msi_nr, 1);
	CU_ASSERT_EQUAL(vm.gsi.nr, 1);
	teardown();
}

/* Multi-message MSI with VFIO accepting: one route per vector, data with
 * the vector number in its low bits, the function's requester id, VFIO
 * given the eventfds those routes' irqfds use. */
static void test_msi_multi_message(void)
{
	const struct kvm_irq_routing_entry *e;

	setup_default();
	seam.accept = true;
	msi_program(0x1fee01000ULL, 0x4043);   /* low bits set by the guest: replaced */
	msi_enable(2);
	CU_ASSERT_FATAL(v.msi_on);
	CU_ASSERT_EQUAL(v.msi_nr, 4);
	CU_ASSERT_EQUAL(vm.gsi.nr, 4);
	CU_ASSERT_EQUAL(seam.index, VFIO_PCI_MSI_IRQ_INDEX);
	CU_ASSERT_EQUAL(seam.n, 4);
	for (unsigned int i = 0; i < 4; i++) {
		const struct msi_route *r = &v.msi_routes[i];

		CU_ASSERT(r->gsi >= GSI_IRQCHIP_PINS);
		CU_ASSERT_EQUAL(r->rid, pci_dev_rid(&v.pci));
		CU_ASSERT_EQUAL(r->msg.addr, 0x1fee01000ULL);
		CU_ASSERT_EQUAL(r->msg.data, 0x4040u | i);
		e = route(r->gsi);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee01000u);
		CU_ASSERT_EQUAL(e->u.msi.address_hi, 1u);
		CU_ASSERT_EQUAL(e->u.msi.data, 0x4040u | i);
		CU_ASSERT(fd_open(v.msi_efd[i]));
		CU_ASSERT_EQUAL(seam.fds[i], v.msi_efd[i]);
		for (unsigned int j = 0; j < i; j++)
			CU_ASSERT_NOT_EQUAL(v.msi_routes[j].gsi, r->gsi);
	}
	/* A new message while enabled reaches every route. */
	wr(MSI_CAP + PCI_MSI_DATA_64, 2, 0x5150);
	for (unsigned int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(route_data(v.msi_routes[i].gsi), 0x5150u | i);
	/* Fewer vectors (MME 1): re-enabled with two, data masked by 2. */
	msi_enable(1);
	CU_ASSERT(v.msi_on);
	CU_ASSERT_EQUAL(v.msi_nr, 2);
	CU_ASSERT_EQUAL(vm.gsi.nr, 2);
	CU_ASSERT_EQUAL(seam.n, 2);
	CU_ASSERT_EQUAL(route_data(v.msi_routes[0].gsi), 0x5150u);
	CU_ASSERT_EQUAL(route_data(v.msi_routes[1].gsi), 0x5151u);
	/* More than the device offers (MME 5 against 4): clamped to 4. */
	msi_enable(5);
	CU_ASSERT_EQUAL(v.msi_nr, 4);
	CU_ASSERT_EQUAL(seam.n, 4);
	CU_ASSERT_EQUAL(route_data(v.msi_routes[3].gsi), 0x5153u);
	/* Disabled: VFIO's trigger off (n = 0) and no route left. */
	wr(MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	CU_ASSERT(!v.msi_on);
	CU_ASSERT_EQUAL(seam.n, 0);
	CU_ASSERT_EQUAL(seam.index, VFIO_PCI_MSI_IRQ_INDEX);
	CU_ASSERT(no_msi_gsis());
	teardown();
}

/* A single vector keeps the guest's data whole. */
static void test_msi_single(void)
{
	image(0);
	vfio_msi_count = 1;
	vfio_msix_count = MSIX_HW_NR;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT_EQUAL(v.msi_max, 1);
	seam.accept = true;
	msi_program(0xfee00000, 0x4047);
	msi_enable(3);   /* asks for 8; the device has 1 */
	CU_ASSERT_FATAL(v.msi_on);
	CU_ASSERT_EQUAL(v.msi_nr, 1);
	CU_ASSERT_EQUAL(seam.n, 1);
	CU_ASSERT_EQUAL(route_data(v.msi_routes[0].gsi), 0x4047u);
	teardown();
}

/* --- vfio_irq_init --- */

static void test_init_clamps(void)
{
	/* MSI: the capability's count, clamped by VFIO's. */
	image(2);
	vfio_msi_count = 2;
	vfio_msix_count = MSIX_HW_NR;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT_EQUAL(v.msi_cap, MSI_CAP);
	CU_ASSERT_EQUAL(v.msi_max, 2);
	seam.accept = true;
	msi_enable(2);
	CU_ASSERT_EQUAL(v.msi_nr, 2);
	teardown();

	image(5);
	vfio_msi_count = 32;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT_EQUAL(v.msi_max, 32);
	teardown();

	/* VFIO reporting no MSI vector: the capability is hidden. */
	image(2);
	vfio_msi_count = 0;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT_EQUAL(v.msi_cap, 0);
	CU_ASSERT_EQUAL(v.msi_max, 0);
	teardown();

	/* VFIO_MSI_MAX bounds msi_max whatever was found (the routes and
	 * eventfds are arrays of that size; vfio_cfg_init never finds more
	 * than 32, so the value is forced here). */
	image(5);
	vfio_msi_count = 64;
	force_msi_max = 128;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	force_msi_max = 0;
	CU_ASSERT_EQUAL(v.msi_max, VFIO_MSI_MAX);
	teardown();

	/* MSI-X: the table size, clamped by VFIO's count; the guest sees it. */
	image(2);
	vfio_msi_count = 4;
	vfio_msix_count = 8;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT(v.has_msix);
	CU_ASSERT_EQUAL(v.msix_nr, 8);
	CU_ASSERT_EQUAL(v.msix.nr, 8);
	CU_ASSERT_EQUAL(v.msix.cap, MSIX_CAP);
	CU_ASSERT_EQUAL(rd(MSIX_CAP + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, 7);
	CU_ASSERT_EQUAL(rd(MSIX_CAP + PCI_MSIX_TABLE, 4), TABLE | 0);
	CU_ASSERT_EQUAL(rd(MSIX_CAP + PCI_MSIX_PBA, 4), PBA | 0);
	teardown();

	vfio_msix_count = 64;   /* more than the table: the table's */
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT_EQUAL(v.msix_nr, MSIX_HW_NR);
	CU_ASSERT_EQUAL(rd(MSIX_CAP + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, MSIX_HW_NR - 1);
	teardown();

	/* VFIO reporting no MSI-X vector: no MSI-X, and nothing to undo. */
	vfio_msix_count = 0;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT(!v.has_msix);
	CU_ASSERT_EQUAL(v.msix_nr, 0);
	CU_ASSERT_PTR_NULL(v.msix.vec);
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT(!v.msix_on);
	CU_ASSERT_EQUAL(seam.calls, 0);
	teardown();
}

/* --- MSI-X --- */

static uint64_t pba_rd(void)
{
	uint8_t b[8] = { 0 };

	CU_ASSERT(msix_bar_access(&v.msix, 0, PBA, b, 8, false));
	return get_le64(b);
}

static void ent_wr(unsigned int n, unsigned int field, uint32_t val)
{
	uint8_t b[4];

	put_le32(b, val);
	CU_ASSERT(msix_bar_access(&v.msix, 0, TABLE + n * MSIX_ENTRY_SIZE + field, b, 4, true));
}

/* Enabling MSI-X hands VFIO one eventfd per vector while every vector is
 * still masked; the device's signals on them are pending bits until the
 * guest unmasks, then delivered on the same eventfd (KVM's irqfd). */
static void test_msix_enable(void)
{
	uint64_t one = 1, c = 0;
	int fds[MSIX_HW_NR];

	setup_default();
	seam.accept = true;
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_FATAL(v.msix_on);
	CU_ASSERT_EQUAL(seam.index, VFIO_PCI_MSIX_IRQ_INDEX);
	CU_ASSERT_EQUAL_FATAL(seam.n, MSIX_HW_NR);
	for (unsigned int i = 0; i < MSIX_HW_NR; i++) {
		fds[i] = msix_vector_eventfd(&v.msix, i);
		CU_ASSERT(fd_open(fds[i]));
		CU_ASSERT_EQUAL(seam.fds[i], fds[i]);
	}
	CU_ASSERT(no_msi_gsis());   /* all masked: no route yet */

	/* The device signals vector 3 while masked: pending. */
	CU_ASSERT_EQUAL(write(fds[3], &one, sizeof(one)), sizeof(one));
	CU_ASSERT_EQUAL(pba_rd(), 1ULL << 3);
	/* The guest unmasks it: routed with the requester id, delivered once. */
	ent_wr(3, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	ent_wr(3, PCI_MSIX_ENTRY_DATA, 0x4063);
	ent_wr(3, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	CU_ASSERT_EQUAL(msix_vector_eventfd(&v.msix, 3), fds[3]);
	CU_ASSERT_EQUAL(vm.gsi.nr, 1);
	CU_ASSERT_EQUAL(v.msix.vec[3].route.rid, pci_dev_rid(&v.pci));
	CU_ASSERT_EQUAL(route_data(v.msix.vec[3].route.gsi), 0x4063u);
	CU_ASSERT_EQUAL(read(fds[3], &c, sizeof(c)), sizeof(c));
	CU_ASSERT_EQUAL(c, 1);
	CU_ASSERT_EQUAL(pba_rd(), 0);

	/* Disabled: VFIO's trigger off, the eventfds stay for next time. */
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, 0);
	CU_ASSERT(!v.msix_on);
	CU_ASSERT_EQUAL(seam.n, 0);
	CU_ASSERT_EQUAL(seam.index, VFIO_PCI_MSIX_IRQ_INDEX);
	CU_ASSERT(fd_open(fds[0]));
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT(v.msix_on);
	CU_ASSERT_EQUAL(seam.fds[0], fds[0]);
	teardown();
	for (unsigned int i = 0; i < MSIX_HW_NR; i++)
		CU_ASSERT(!fd_open(fds[i]));
}

/* VFIO refusing MSI-X: msix_on stays false, nothing routed. */
static void test_msix_refused(void)
{
	setup_default();
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(seam.calls, 1);
	CU_ASSERT(!v.msix_on);
	CU_ASSERT(no_msi_gsis());
	/* A later config write retries (the emulation says enabled). */
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(seam.calls, 2);
	seam.accept = true;
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT(v.msix_on);
	teardown();
}

/* --- reset and teardown --- */

static void test_reset(void)
{
	setup_default();
	seam.accept = true;
	msi_program(0xfee00000, 0x4040);
	msi_enable(1);
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	CU_ASSERT(v.msi_on);
	CU_ASSERT(v.msix_on);
	CU_ASSERT_EQUAL(vm.gsi.nr, 2);
	CU_ASSERT_EQUAL(rd(MSI_CAP + PCI_MSI_FLAGS, 2) & (PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE),
			PCI_MSI_FLAGS_ENABLE | 1 << 4);
	pthread_mutex_lock(&vm.pci.lock);   /* as from a config write */
	vfio_irq_reset(&v);
	pthread_mutex_unlock(&vm.pci.lock);
	CU_ASSERT_EQUAL(rd(MSI_CAP + PCI_MSI_FLAGS, 2) & (PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE),
			0);
	CU_ASSERT_EQUAL(rd(MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK, 2 << 1);   /* kept */
	CU_ASSERT_EQUAL(rd(MSIX_CAP + PCI_MSIX_FLAGS, 2),
			MSIX_HW_NR - 1);   /* ENABLE and MASKALL gone, size kept */
	CU_ASSERT(!v.msi_on);
	CU_ASSERT(!v.msix_on);
	CU_ASSERT(!msix_enabled(&v.msix));
	CU_ASSERT(no_msi_gsis());
	CU_ASSERT_EQUAL(seam.n, 0);
	/* The guest can start again. */
	msi_enable(0);
	CU_ASSERT(v.msi_on);
	CU_ASSERT_EQUAL(vm.gsi.nr, 1);
	teardown();

	/* Without MSI-X (VFIO offers none) reset still clears MSI. */
	image(2);
	vfio_msi_count = 4;
	vfio_msix_count = 0;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	wr(MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	CU_ASSERT_EQUAL(rd(MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_ENABLE);
	pthread_mutex_lock(&vm.pci.lock);
	vfio_irq_reset(&v);
	pthread_mutex_unlock(&vm.pci.lock);
	CU_ASSERT_EQUAL(rd(MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE, 0);
	CU_ASSERT(no_msi_gsis());
	teardown();
}

static void test_fini(void)
{
	int msi_fds[4], msix_fd;

	setup_default();
	seam.accept = true;
	msi_enable(2);
	CU_ASSERT_FATAL(v.msi_on);
	for (unsigned int i = 0; i < 4; i++)
		msi_fds[i] = v.msi_efd[i];
	wr(MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	wr(MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	CU_ASSERT_FATAL(v.msix_on);
	msix_fd = msix_vector_eventfd(&v.msix, 0);
	/* MSI-X on: fini turns it off in VFIO, frees and closes everything. */
	pci_unregister(&vm.pci, &v.pci);
	seam.calls = 0;
	vfio_irq_fini(&v);
	CU_ASSERT_EQUAL(seam.calls, 1);
	CU_ASSERT_EQUAL(seam.n, 0);
	CU_ASSERT(!v.has_msix);
	CU_ASSERT_PTR_NULL(v.msix.vec);
	CU_ASSERT(!fd_open(msix_fd));
	for (unsigned int i = 0; i < 4; i++) {
		CU_ASSERT(!fd_open(msi_fds[i]));
		CU_ASSERT_EQUAL(v.msi_efd[i], -1);
	}
	CU_ASSERT(no_msi_gsis());
	/* Twice: nothing left to do, VFIO not called again. */
	seam.calls = 0;
	vfio_irq_fini(&v);
	CU_ASSERT_EQUAL(seam.calls, 0);
	close(v.vd.fd);
	pci_bus_destroy(&vm.pci);
	gsi_destroy(&vm.gsi);

	/* MSI on at fini: routes freed. */
	setup_default();
	seam.accept = true;
	msi_enable(1);
	CU_ASSERT_EQUAL(vm.gsi.nr, 2);
	teardown();
	CU_ASSERT(no_msi_gsis());
	CU_ASSERT(!v.msi_on);

	/* A failed init (the MSI-X table outside its BAR): has_msix dropped,
	 * fini safe, twice. */
	image(2);
	put_le32(img + MSIX_CAP + PCI_MSIX_TABLE, (BAR0_SIZE - 0x80) | 0);
	vfio_msix_count = MSIX_HW_NR;
	CU_ASSERT_EQUAL(setup(), -EINVAL);
	CU_ASSERT(!v.has_msix);
	vfio_irq_fini(&v);
	vfio_irq_fini(&v);
	CU_ASSERT_EQUAL(v.intx_trigger, -1);
	for (unsigned int i = 0; i < VFIO_MSI_MAX; i++)
		CU_ASSERT_EQUAL(v.msi_efd[i], -1);
	close(v.vd.fd);
	pci_bus_destroy(&vm.pci);
	gsi_destroy(&vm.gsi);
}

void unit_register(void)
{
	UNIT_SUITE("vfio_pci_irq",
		   UNIT_TEST(test_msi_refused_backs_out),
		   UNIT_TEST(test_msi_multi_message),
		   UNIT_TEST(test_msi_single),
		   UNIT_TEST(test_init_clamps),
		   UNIT_TEST(test_msix_enable),
		   UNIT_TEST(test_msix_refused),
		   UNIT_TEST(test_reset),
		   UNIT_TEST(test_fini));
}
