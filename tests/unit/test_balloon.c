/* Unit tests for vmm/virtio/balloon.c, isle's virtio-balloon device, realized
 * through device_add on a VM without KVM: 128 MiB of guest RAM at
 * guest-physical 0 in a memfd (gmem with its fd, so a page given back is a
 * hole: st_blocks drops), the identity DMA address space, the GSI table
 * (vm_fd = -1: no ioeventfds, so notify writes reach the BAR handler, which
 * kicks the queue's eventfd), PCI bus 0, the event loop (never run: the test
 * reads a queue's relay eventfd itself as the interrupt) and, for some
 * cases, the emulated VT-d.
 *
 * The test is the guest's driver: it negotiates through the transport's
 * common config, lays the split rings out in the memfd, puts buffers, kicks
 * and waits, bounded, for the device's thread (used ring, call eventfd).
 *
 * Checked: the features and queues each option string gives (ACCESS_PLATFORM
 * only behind a VT-d), the PCI identity; the config space (num_pages is the
 * target, actual the driver's, clamped, other writes dropped); realize's
 * refusals (a boot size leaving < 64 MiB, an inflated boot balloon with an
 * assigned device) and what it counts; inflate end to end under each policy
 * (free, vfio-refuse keeps, vfio-allow, vfio-iommu without containers) with
 * the memfd's blocks and the pages' contents; deflate; queue indices from
 * the negotiated features (reporting is index 2 without stats); the
 * statistics queue (held buffer, a second one returns the first, the timer
 * returns the held one); a bad ring (the transport's NEEDS_RESET, the ops'
 * activate failing and leaving no queue on); a reset; and that unrealize
 * leaves no thread and no fd behind (ASan checks the memory). */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "cunit.h"
#include "devvm_fixture.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "core/device.h"
#include "core/vm.h"
#include "virtio/balloon.h"
#include "virtio/balloon_priv.h"
#include "virtio/virtio_pci.h"

#define RAM_SIZE   (128ULL << 20)
#define RAM_PAGES  (RAM_SIZE >> 12)
#define QSZ        16
#define RING_GPA   0x100000ULL    /* queue q: desc at +q*0x10000, avail +0x1000, used +0x2000 */
#define BUF_GPA    0x200000ULL    /* the buffers' contents (PFN arrays, statistics) */
#define DATA_PFN   0x1000u        /* 16 MiB: the pages the guest gives */
#define NPAGES     8
#define WAIT_MS    2000
#define VERSION_1  BIT(VIRTIO_F_VERSION_1)
#define F_STATS    BIT(VIRTIO_BALLOON_F_STATS_VQ)
#define F_OOM      BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
#define F_REPORT   BIT(VIRTIO_BALLOON_F_REPORTING)
#define F_RING     (BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC))

static struct device *dev;
static struct balloon *b;
static uint16_t avail_next[BQ_NR_ROLES];   /* the driver's next avail index per queue */

/* --- the VM --- */

static unsigned int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	unsigned int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void vm_up(bool iommu)
{
	devvm_up(RAM_SIZE, iommu);
	memset(avail_next, 0, sizeof(avail_next));
	dev = NULL;
	b = NULL;
}

static void vm_down(void)
{
	devvm_down();
	dev = NULL;
	b = NULL;
}

/* The balloon of an option string: device_add's result. */
static int balloon_add(const char *opts)
{
	struct device_spec spec;
	char err[256];
	int r;

	CU_ASSERT_EQUAL_FATAL(device_spec_parse(DEVICE_BALLOON, opts, &spec, err, sizeof(err)), 0);
	r = device_add(&vm, &spec, &dev);
	if (!r) {
		b = dev->priv;
		CU_ASSERT_PTR_EQUAL(balloon_of(&vm), b);
		CU_ASSERT_PTR_EQUAL(dev->pci, &b->vp.pci);
	}
	return r;
}

static void info(struct balloon_info *i)
{
	balloon_get_info(b, i);
}

/* --- the transport, as the driver sees it --- */

static uint64_t bar_rd(unsigned int bar, uint64_t off, unsigned int len)
{
	uint8_t v[8] = { 0 };

	b->vp.pci.ops->bar_access(&b->vp.pci, bar, off, v, len, false);
	return len == 8 ? get_le64(v) : len == 4 ? get_le32(v) : len == 2 ? get_le16(v) : v[0];
}

static void bar_wr(unsigned int bar, uint64_t off, uint64_t val, unsigned int len)
{
	uint8_t v[8];

	put_le64(v, val);
	b->vp.pci.ops->bar_access(&b->vp.pci, bar, off, v, len, true);
}

#define CC_RD(off, len)    bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + (off), len)
#define CC_WR(off, v, len) bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + (off), v, len)
#define DC_RD(off, len)    bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + (off), len)
#define DC_WR(off, v, len) bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + (off), v, len)

static uint32_t cfg_rd(unsigned int off, unsigned int len)
{
	uint8_t v[4] = { 0 };

	pci_cfg_access(&vm.pci, 0, b->vp.pci.slot << 3, off, v, len, false);
	return len == 4 ? get_le32(v) : len == 2 ? get_le16(v) : v[0];
}

static uint8_t status(void)
{
	return (uint8_t)CC_RD(VIRTIO_PCI_COMMON_STATUS, 1);
}

static void set_status(uint8_t s)
{
	CC_WR(VIRTIO_PCI_COMMON_STATUS, s, 1);
}

static uint64_t offered(void)
{
	uint64_t f;

	CC_WR(VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	f = CC_RD(VIRTIO_PCI_COMMON_DF, 4);
	CC_WR(VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	return f | CC_RD(VIRTIO_PCI_COMMON_DF, 4) << 32;
}

static void negotiate(uint64_t features)
{
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	for (unsigned int sel = 0; sel < 2; sel++) {
		CC_WR(VIRTIO_PCI_COMMON_GFSELECT, sel, 4);
		CC_WR(VIRTIO_PCI_COMMON_GF, (uint32_t)(features >> (32 * sel)), 4);
	}
	set_status(status() | VIRTIO_CONFIG_S_FEATURES_OK);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_FEATURES_OK);
}

static uint64_t ring_gpa(unsigned int q)
{
	return RING_GPA + q * 0x10000ULL;
}

static struct vring_desc *q_desc(unsigned int q)
{
	return (struct vring_desc *)(ram + ring_gpa(q));
}

static struct vring_avail *q_avail(unsigned int q)
{
	return (struct vring_avail *)(ram + ring_gpa(q) + 0x1000);
}

static struct vring_used *q_used(unsigned int q)
{
	return (struct vring_used *)(ram + ring_gpa(q) + 0x2000);
}

/* Queue q, QSZ entries at ring_gpa(q) (or desc at `desc` when not 0), no
 * MSI-X vector (the call fd is the queue's relay eventfd), enabled. */
static void queue_setup(unsigned int q, uint64_t desc)
{
	uint64_t d = desc ? desc : ring_gpa(q);

	memset(ram + ring_gpa(q), 0, 0x3000);
	avail_next[q] = 0;
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_SIZE, QSZ, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_DESCLO, d, 8);
	CC_WR(VIRTIO_PCI_COMMON_Q_AVAILLO, d + 0x1000, 8);
	CC_WR(VIRTIO_PCI_COMMON_Q_USEDLO, d + 0x2000, 8);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

/* The driver's whole start: features, queues 0..nq-1, DRIVER_OK. */
static void driver_start(uint64_t features, unsigned int nq)
{
	negotiate(features);
	for (unsigned int q = 0; q < nq; q++)
		queue_setup(q, 0);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_FALSE(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A one-descriptor chain for [gpa, gpa+len), device-writable or not. */
static uint16_t q_put(unsigned int q, uint64_t gpa, uint32_t len, bool writable)
{
	uint16_t head = avail_next[q] % QSZ;
	struct vring_desc *d = &q_desc(q)[head];
	struct vring_avail *a = q_avail(q);

	d->addr = htole64(gpa);
	d->len = htole32(len);
	d->flags = htole16(writable ? VRING_DESC_F_WRITE : 0);
	d->next = 0;
	a->ring[head] = htole16(head);
	avail_next[q]++;
	__atomic_store_n(&a->idx, htole16(avail_next[q]), __ATOMIC_RELEASE);
	return head;
}

static void kick(unsigned int q)
{
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + 4 * q, q, 2);
}

static uint16_t used_idx(unsigned int q)
{
	return le16toh(__atomic_load_n(&q_used(q)->idx, __ATOMIC_ACQUIRE));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Bounded: whether eventfd fd is signalled within ms (and drains it). */
static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1 || !(p.revents & POLLIN))
		return false;
	return read(fd, &v, sizeof(v)) == sizeof(v);
}

/* The interrupt for queue q: its relay eventfd (no vector). */
static bool wait_call(unsigned int q, int ms)
{
	return wait_fd(b->vp.q[q].relay_fd, ms);
}

/* Bounded: the used ring of q reaches idx (the call fd drained on the way). */
static bool wait_used(unsigned int q, uint16_t idx, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (used_idx(q) != idx) {
		if (now_ms() >= end)
			return false;
		wait_call(q, 20);
	}
	return true;
}

/* Bounded: the device counted n statistics updates. */
static bool wait_stats_updates(uint64_t n, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	struct balloon_info i;

	for (;;) {
		info(&i);
		if (i.c.stats_updates >= n)
			return i.c.stats_updates == n;
		if (now_ms() >= end)
			return false;
		poll(NULL, 0, 5);
	}
}

/* --- guest pages --- */

static uint64_t blocks(void)
{
	struct stat st;

	CU_ASSERT_EQUAL(fstat(memfd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static uint8_t *page(uint64_t pfn)
{
	return ram + (pfn << 12);
}

static bool page_is(uint64_t pfn, int c)
{
	const uint8_t *p = page(pfn);

	for (unsigned int i = 0; i < 4096; i++)
		if (p[i] != (uint8_t)c)
			return false;
	return true;
}

/* DATA_PFN.. +NPAGES get 0x5a, the page after them 0x77. */
static void fill_pages(void)
{
	memset(page(DATA_PFN), 0x5a, NPAGES * 4096);
	memset(page(DATA_PFN + NPAGES), 0x77, 4096);
}

/* The NPAGES PFNs, shuffled, one twice, and one outside RAM, at BUF_GPA:
 * returns the buffer's length. */
static uint32_t pfn_buffer(void)
{
	static const unsigned int order[NPAGES] = { 5, 0, 7, 2, 1, 6, 3, 4 };
	uint32_t *p = (uint32_t *)(ram + BUF_GPA);
	unsigned int n = 0;

	for (unsigned int i = 0; i < NPAGES; i++)
		p[n++] = htole32(DATA_PFN + order[i]);
	p[n++] = htole32(DATA_PFN + 3);                 /* a duplicate */
	p[n++] = htole32((uint32_t)RAM_PAGES + 100);    /* not RAM */
	return n * sizeof(uint32_t);
}

/* --- the tests --- */

static void test_features_and_queues(void)
{
	static const struct {
		const char *opts;
		bool iommu;
		uint64_t dev;          /* device bits expected besides the ring ones */
		unsigned int nq;
	} c[] = {
		{ "", false, 0, 2 },
		{ "stats=5", false, F_STATS, 3 },
		{ "deflate_on_oom=on", false, F_OOM, 2 },
		{ "free_page_reporting=on", false, F_REPORT, 3 },
		{ "stats=1,deflate_on_oom=on,free_page_reporting=on", false,
		  F_STATS | F_OOM | F_REPORT, 4 },
		{ "stats=0,deflate_on_oom=off,free_page_reporting=off", false, 0, 2 },
		{ "", true, BIT(VIRTIO_F_ACCESS_PLATFORM), 2 },
		{ "stats=2,free_page_reporting=on", true,
		  F_STATS | F_REPORT | BIT(VIRTIO_F_ACCESS_PLATFORM), 4 },
	};

	for (size_t k = 0; k < ARRAY_SIZE(c); k++) {
		struct balloon_info i;

		vm_up(c[k].iommu);
		CU_ASSERT_EQUAL_FATAL(balloon_add(c[k].opts), 0);
		CU_ASSERT_EQUAL(offered(), VERSION_1 | F_RING | c[k].dev);
		CU_ASSERT_EQUAL(b->vp.host_features, VERSION_1 | F_RING | c[k].dev);
		CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_NUMQ, 2), c[k].nq);
		CU_ASSERT_EQUAL(b->vp.p.num_queues, c[k].nq);
		/* Every queue takes up to 128 entries. */
		for (unsigned int q = 0; q < c[k].nq; q++) {
			CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
			CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), BALLOON_QUEUE_MAX);
		}
		CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, c[k].nq, 2);
		CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
		/* virtio 1.x balloon: 1af4:1045, class "other", 16 config bytes. */
		CU_ASSERT_EQUAL(cfg_rd(PCI_VENDOR_ID, 2), 0x1af4);
		CU_ASSERT_EQUAL(cfg_rd(PCI_DEVICE_ID, 2), 0x1040 + 5);
		CU_ASSERT_EQUAL(cfg_rd(PCI_CLASS_REVISION, 4) >> 8, BALLOON_CLASS);
		CU_ASSERT_EQUAL(b->vp.p.config_size, 16);
		/* Nothing negotiated yet, no driver. */
		info(&i);
		CU_ASSERT_EQUAL(i.features, 0);
		CU_ASSERT_FALSE(i.driver_ok);
		CU_ASSERT_EQUAL(i.ram, RAM_SIZE);
		CU_ASSERT_EQUAL(i.stats_s, (c[k].dev & F_STATS) ? b->opt.stats_s : 0);
		CU_ASSERT_EQUAL(i.deflate_on_oom, !!(c[k].dev & F_OOM));
		CU_ASSERT_EQUAL(i.free_page_reporting, !!(c[k].dev & F_REPORT));
		CU_ASSERT_STRING_EQUAL(i.policy, "free");
		vm_down();
	}
}

static void test_config_space(void)
{
	struct balloon_info i;
	char err[256];
	uint8_t gen;

	vm_up(false);
	CU_ASSERT_EQUAL_FATAL(balloon_add(""), 0);
	CU_ASSERT_EQUAL(DC_RD(0, 4), 0);
	CU_ASSERT_EQUAL(DC_RD(4, 4), 0);
	/* num_pages is the target in 4K pages; a new one bumps the generation. */
	gen = (uint8_t)CC_RD(VIRTIO_PCI_COMMON_CFGGENERATION, 1);
	CU_ASSERT_EQUAL(balloon_set_target(b, 32ULL << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(DC_RD(0, 4), (32ULL << 20) / 4096);
	CU_ASSERT_EQUAL((uint8_t)CC_RD(VIRTIO_PCI_COMMON_CFGGENERATION, 1), (uint8_t)(gen + 1));
	CU_ASSERT_EQUAL(balloon_set_target(b, (5ULL << 20) + 4095, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(DC_RD(0, 4), (5ULL << 20) / 4096);   /* rounded down */
	CU_ASSERT_EQUAL(DC_RD(0, 2), (5ULL << 20) / 4096);   /* narrower reads see the bytes */
	CU_ASSERT_EQUAL(DC_RD(1, 1), ((5ULL << 20) / 4096) >> 8);
	/* The driver's actual, at offset 4, 4 bytes. */
	DC_WR(4, 1234, 4);
	CU_ASSERT_EQUAL(DC_RD(4, 4), 1234);
	info(&i);
	CU_ASSERT_EQUAL(i.actual_pages, 1234);
	CU_ASSERT_EQUAL(i.target_pages, (5ULL << 20) / 4096);
	/* Clamped to the guest's RAM. */
	DC_WR(4, 0xffffffff, 4);
	CU_ASSERT_EQUAL(DC_RD(4, 4), RAM_PAGES);
	DC_WR(4, RAM_PAGES + 1, 4);
	CU_ASSERT_EQUAL(DC_RD(4, 4), RAM_PAGES);
	DC_WR(4, 77, 4);
	CU_ASSERT_EQUAL(DC_RD(4, 4), 77);
	/* Other sizes, other offsets: dropped (num_pages is the host's). */
	DC_WR(4, 5, 2);
	DC_WR(4, 5, 1);
	DC_WR(5, 5, 1);
	DC_WR(4, 0x500000005ULL, 8);
	CU_ASSERT_EQUAL(DC_RD(4, 4), 77);
	DC_WR(0, 9, 4);
	DC_WR(0, 9, 8);
	CU_ASSERT_EQUAL(DC_RD(0, 4), (5ULL << 20) / 4096);
	DC_WR(8, 9, 4);
	DC_WR(12, 9, 4);
	CU_ASSERT_EQUAL(DC_RD(8, 4), 0);    /* free_page_hint_cmd_id */
	CU_ASSERT_EQUAL(DC_RD(12, 4), 0);   /* poison_val */
	/* Past the 16 bytes: the transport reads 0 and drops writes. */
	CU_ASSERT_EQUAL(DC_RD(16, 4), 0);
	CU_ASSERT_EQUAL(DC_RD(14, 4), 0);
	info(&i);
	CU_ASSERT_EQUAL(i.actual_pages, 77);
	CU_ASSERT_EQUAL(i.target_pages, (5ULL << 20) / 4096);
	vm_down();
}

/* A VFIO function already in the VM's list (one realized before the
 * balloon): only its type is looked at, and it is unlinked before teardown
 * so that nothing unrealizes it. */
static struct device fake_vfio = { .type = &vfio_pci_type, .id = "fakepci0" };

static void link_fake_vfio(void)
{
	fake_vfio.vm = &vm;
	fake_vfio.prev = NULL;
	fake_vfio.next = vm.devices.first;
	if (vm.devices.first)
		vm.devices.first->prev = &fake_vfio;
	else
		vm.devices.last = &fake_vfio;
	vm.devices.first = &fake_vfio;
	vm.devices.count++;
}

static void unlink_fake_vfio(void)
{
	CU_ASSERT_PTR_EQUAL_FATAL(vm.devices.first, &fake_vfio);
	vm.devices.first = fake_vfio.next;
	if (fake_vfio.next)
		fake_vfio.next->prev = NULL;
	else
		vm.devices.last = NULL;
	vm.devices.count--;
}

static void test_realize(void)
{
	unsigned int fds = count_dir("/proc/self/fd"), tasks = count_dir("/proc/self/task");
	struct balloon_info i;

	/* A boot size must leave the guest 64 MiB. */
	vm_up(false);
	CU_ASSERT_EQUAL(balloon_add("size=65"), -EINVAL);
	CU_ASSERT_EQUAL(balloon_add("size=128"), -EINVAL);
	CU_ASSERT_EQUAL(balloon_add("size=1024"), -EINVAL);
	CU_ASSERT_EQUAL(vm.devices.count, 0);
	CU_ASSERT_PTR_NULL(balloon_of(&vm));
	CU_ASSERT_EQUAL(balloon_add("size=64"), 0);
	CU_ASSERT_EQUAL(DC_RD(0, 4), (64ULL << 20) / 4096);
	info(&i);
	CU_ASSERT_EQUAL(i.target_pages, (64ULL << 20) / 4096);
	CU_ASSERT_EQUAL(i.actual_pages, 0);
	CU_ASSERT_EQUAL(count_dir("/proc/self/task"), tasks + 1);   /* its thread */
	vm_down();
	CU_ASSERT_EQUAL(count_dir("/proc/self/fd"), fds);
	CU_ASSERT_EQUAL(count_dir("/proc/self/task"), tasks);

	/* An assigned function at boot: an inflated balloon is refused... */
	vm_up(false);
	link_fake_vfio();
	CU_ASSERT_EQUAL(balloon_add("size=16"), -EPERM);
	CU_ASSERT_EQUAL(vm.devices.count, 1);
	/* ...an empty one counts it (policy vfio-refuse)... */
	CU_ASSERT_EQUAL_FATAL(balloon_add(""), 0);
	info(&i);
	CU_ASSERT_EQUAL(i.vfio_devices, 1);
	CU_ASSERT_STRING_EQUAL(i.policy, "vfio-refuse");
	unlink_fake_vfio();
	vm_down();
	/* ...and vfio=allow takes the inflated one. */
	vm_up(false);
	link_fake_vfio();
	CU_ASSERT_EQUAL_FATAL(balloon_add("vfio=allow,size=16"), 0);
	info(&i);
	CU_ASSERT_EQUAL(i.vfio_devices, 1);
	CU_ASSERT_STRING_EQUAL(i.policy, "vfio-allow");
	CU_ASSERT_EQUAL(i.target_pages, 4096);
	unlink_fake_vfio();
	vm_down();
	/* Behind the VT-d the inflated one is taken too (policy vfio-iommu). */
	vm_up(true);
	link_fake_vfio();
	CU_ASSERT_EQUAL_FATAL(balloon_add("size=16"), 0);
	info(&i);
	CU_ASSERT_EQUAL(i.vfio_devices, 1);
	CU_ASSERT_STRING_EQUAL(i.policy, "vfio-iommu");
	CU_ASSERT_EQUAL(i.target_pages, 4096);
	unlink_fake_vfio();
	vm_down();
	CU_ASSERT_EQUAL(count_dir("/proc/self/fd"), fds);
	CU_ASSERT_EQUAL(count_dir("/proc/self/task"), tasks);
}

/* One inflation end to end under a policy: opts, VT-d, a device pinned
 * (balloon_vfio_pin) before, and whether the pages go back. */
static void inflate_case(const char *opts, bool iommu, bool pin, bool freed, const char *policy)
{
	struct balloon_info i;
	uint64_t before, after;
	uint32_t len;
	char err[256];
	uint16_t head;

	vm_up(iommu);
	CU_ASSERT_EQUAL_FATAL(balloon_add(opts), 0);
	if (pin)
		CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	info(&i);
	CU_ASSERT_STRING_EQUAL(i.policy, policy);
	driver_start(VERSION_1, 2);
	info(&i);
	CU_ASSERT(i.driver_ok);
	CU_ASSERT_EQUAL(i.features, VERSION_1);
	fill_pages();
	len = pfn_buffer();
	before = blocks();
	head = q_put(0, BUF_GPA, len, false);
	kick(0);
	CU_ASSERT_FATAL(wait_call(0, WAIT_MS));
	CU_ASSERT_EQUAL(used_idx(0), 1);
	CU_ASSERT_EQUAL(le32toh(q_used(0)->ring[0].id), head);
	CU_ASSERT_EQUAL(le32toh(q_used(0)->ring[0].len), 0);
	after = blocks();   /* first: reading a hole of a shared memfd allocates a page */
	info(&i);
	CU_ASSERT_EQUAL(i.c.bad_pfns, 1);
	CU_ASSERT_EQUAL(i.c.discard_calls, 1);    /* one run of NPAGES */
	CU_ASSERT_EQUAL(i.c.discard_errors, 0);
	CU_ASSERT_EQUAL(i.c.deflated, 0);
	if (freed) {
		CU_ASSERT_EQUAL(i.c.inflated, NPAGES);
		CU_ASSERT_EQUAL(i.c.kept, 0);
		CU_ASSERT(before - after >= NPAGES * 4096ULL);
		for (unsigned int p = 0; p < NPAGES; p++)
			CU_ASSERT(page_is(DATA_PFN + p, 0));
	} else {
		CU_ASSERT_EQUAL(i.c.inflated, 0);
		CU_ASSERT_EQUAL(i.c.kept, NPAGES);
		CU_ASSERT_EQUAL(after, before);
		for (unsigned int p = 0; p < NPAGES; p++)
			CU_ASSERT(page_is(DATA_PFN + p, 0x5a));
	}
	CU_ASSERT(page_is(DATA_PFN + NPAGES, 0x77));   /* the neighbour keeps its data */

	/* The guest takes them back: counted only. */
	head = q_put(1, BUF_GPA, NPAGES * sizeof(uint32_t), false);
	kick(1);
	CU_ASSERT_FATAL(wait_call(1, WAIT_MS));
	CU_ASSERT_EQUAL(used_idx(1), 1);
	CU_ASSERT_EQUAL(le32toh(q_used(1)->ring[0].id), head);
	info(&i);
	CU_ASSERT_EQUAL(i.c.deflated, NPAGES);
	CU_ASSERT_EQUAL(i.c.bad_pfns, 1);
	if (pin)
		balloon_vfio_unpin(&vm);
	vm_down();
}

/* Rounds cut short (a deadline that has always passed: one buffer per
 * round), many buffers behind a single kick: all are used, the thread
 * comes back for the rest on its own. */
static void test_serve_budget(void)
{
	struct balloon_info i;
	const unsigned int n = 13;

	vm_up(false);
	CU_ASSERT_EQUAL_FATAL(balloon_add(""), 0);
	pthread_mutex_lock(&b->lock);
	b->serve_ns = 0;
	pthread_mutex_unlock(&b->lock);
	driver_start(VERSION_1, 2);
	pfn_buffer();
	for (unsigned int k = 0; k < n; k++)
		q_put(1, BUF_GPA, NPAGES * sizeof(uint32_t), false);
	kick(1);
	CU_ASSERT(wait_used(1, (uint16_t)n, WAIT_MS));
	info(&i);
	CU_ASSERT_EQUAL(i.c.deflated, (uint64_t)n * NPAGES);
	vm_down();
}

static void test_inflate_free(void)
{
	inflate_case("", false, false, true, "free");
}

static void test_inflate_vfio_refuse_keeps(void)
{
	inflate_case("", false, true, false, "vfio-refuse");
}

static void test_inflate_vfio_allow(void)
{
	inflate_case("vfio=allow", false, true, true, "vfio-allow");
}

static void test_inflate_vfio_iommu(void)
{
	/* Behind the VT-d with no container mapping anything: all go back. */
	inflate_case("", true, true, true, "vfio-iommu");
}

/* Buffers queued before DRIVER_OK, with no kick: served at activation. */
static void test_buffers_before_driver_ok(void)
{
	struct balloon_info i;
	uint32_t len;

	vm_up(false);
	CU_ASSERT_EQUAL_FATAL(balloon_add(""), 0);
	negotiate(VERSION_1 | BIT(VIRTIO_RING_F_EVENT_IDX));
	queue_setup(0, 0);
	queue_setup(1, 0);
	fill_pages();
	len = pfn_buffer();
	q_put(0, BUF_GPA, len, false);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_FATAL(wait_used(0, 1, WAIT_MS));
	info(&i);
	CU_ASSERT_EQUAL(i.c.inflated, NPAGES);
	CU_ASSERT_EQUAL(i.features, VERSION_1 | BIT(VIRTIO_RING_F_EVENT_IDX));
	/* With EVENT_IDX the device asks for kicks past what it served. */
	CU_ASSERT_EQUAL(get_le16(&q_used(0)->ring[QSZ]), 1);   /* avail_event */
	vm_down();
}

/* Queue indices follow the negotiated features: reporting is index 2
 * without stats, 3 with. */
static void test_queue_index_mapping(void)
{
	struct balloon_info i;
	uint64_t before, after;
	uint16_t head;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	CU_ASSERT_FATAL(efd >= 0);
	vm_up(false);
	CU_ASSERT_EQUAL_FATAL(balloon_add("stats=5,free_page_reporting=on"), 0);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_NUMQ, 2), 4);
	driver_start(VERSION_1 | F_REPORT, 3);
	pthread_mutex_lock(&b->lock);
	CU_ASSERT(b->active);
	CU_ASSERT(b->q[BQ_INFLATE].on && b->q[BQ_DEFLATE].on && b->q[BQ_REPORT].on);
	CU_ASSERT_FALSE(b->q[BQ_STATS].on);
	CU_ASSERT_EQUAL(b->q[BQ_REPORT].kick_fd, b->vp.q[2].kick_fd);
	CU_ASSERT_EQUAL(b->q[BQ_STATS].kick_fd, -1);
	CU_ASSERT_EQUAL(b->q[BQ_REPORT].call_fd, b->vp.q[2].relay_fd);
	pthread_mutex_unlock(&b->lock);
	/* Queue 2's vector gets routed: the transport hands over an irqfd
	 * (call_changed, by index), which is the reporting queue's. */
	b->vp.ops->call_changed(&b->vp, 2, efd);
	pthread_mutex_lock(&b->lock);
	CU_ASSERT_EQUAL(b->q[BQ_REPORT].call_fd, efd);
	CU_ASSERT_EQUAL(b->q[BQ_STATS].call_fd, -1);
	pthread_mutex_unlock(&b->lock);
	/* A free page report on queue 2: four whole pages go back. */
	fill_pages();
	before = blocks();
	head = q_put(2, (uint64_t)DATA_PFN << 12, 4 * 4096, true);
	kick(2);
	CU_ASSERT_FATAL(wait_fd(efd, WAIT_MS));
	CU_ASSERT_EQUAL(used_idx(2), 1);
	CU_ASSERT_EQUAL(le32toh(q_used(2)->ring[0].id), head);
	after = blocks();
	info(&i);
	CU_ASSERT_EQUAL(i.c.reported, 4);
	CU_ASSERT_EQUAL(i.c.stats_updates, 0);
	CU_ASSERT_EQUAL(i.c.inflated, 0);
	CU_ASSERT(before - after >= 4 * 4096ULL);
	CU_ASSERT(page_is(DATA_PFN, 0) && page_is(DATA_PFN + 3, 0));
	CU_ASSERT(page_is(DATA_PFN + 4, 0x5a));

	/* A reset; the next driver takes both: stats 2, reporting 3. */
	DC_WR(4, 100, 4);
	set_status(0);
	info(&i);
	CU_ASSERT_FALSE(i.driver_ok);
	CU_ASSERT_EQUAL(i.features, 0);
	CU_ASSERT_EQUAL(i.actual_pages, 0);
	driver_start(VERSION_1 | F_REPORT | F_STATS, 4);
	pthread_mutex_lock(&b->lock);
	CU_ASSERT(b->q[BQ_STATS].on && b->q[BQ_REPORT].on);
	CU_ASSERT_EQUAL(b->q[BQ_STATS].kick_fd, b->vp.q[2].kick_fd);
	CU_ASSERT_EQUAL(b->q[BQ_REPORT].kick_fd, b->vp.q[3].kick_fd);
	pthread_mutex_unlock(&b->lock);
	memset(page(DATA_PFN + 4), 0x5a, 4096);
	before = blocks();
	q_put(3, (uint64_t)(DATA_PFN + 4) << 12, 4096, true);
	kick(3);
	CU_ASSERT_FATAL(wait_call(3, WAIT_MS));
	CU_ASSERT_EQUAL(used_idx(3), 1);
	after = blocks();
	info(&i);
	CU_ASSERT_EQUAL(i.c.reported, 5);
	CU_ASSERT_EQUAL(i.c.stats_updates, 0);
	CU_ASSERT(before - after >= 4096ULL);
	vm_down();
	close(efd);   /* after the thread is gone */
}

/* The statistics queue: the buffer is held; a second returns the first at
 * once; the timer (stats=1) returns the held one. */
static void test_stats_queue(void)
{
	struct balloon_info i;
	uint16_t a, c;
	uint8_t *s;

	vm_up(false);
	s = ram + BUF_GPA;   /* the mapping is the new VM's */
	CU_ASSERT_EQUAL_FATAL(balloon_add("stats=1"), 0);
	driver_start(VERSION_1 | F_STATS, 3);
	put_le16(s + 0, VIRTIO_BALLOON_S_MEMFREE);
	put_le64(s + 2, 1000);
	put_le16(s + 10, VIRTIO_BALLOON_S_MEMTOT);
	put_le64(s + 12, 2000);
	put_le16(s + 20, 99);                       /* unknown: counted */
	put_le64(s + 22, 7);
	a = q_put(2, BUF_GPA, 30, false);
	kick(2);
	CU_ASSERT_FATAL(wait_stats_updates(1, WAIT_MS));
	info(&i);
	CU_ASSERT_EQUAL(i.st.value[VIRTIO_BALLOON_S_MEMFREE], 1000);
	CU_ASSERT_EQUAL(i.st.value[VIRTIO_BALLOON_S_MEMTOT], 2000);
	CU_ASSERT_EQUAL(i.st.valid, (1u << VIRTIO_BALLOON_S_MEMFREE) |
				    (1u << VIRTIO_BALLOON_S_MEMTOT));
	CU_ASSERT_EQUAL(i.c.stats_unknown, 1);
	CU_ASSERT(i.stats_age_ms >= 0 && i.stats_age_ms < 60000);
	CU_ASSERT_EQUAL(i.stats_s, 1);
	/* A second buffer: the first goes back now (or went with a tick). */
	put_le64(s + 0x100 + 2, 3000);
	put_le16(s + 0x100, VIRTIO_BALLOON_S_MEMFREE);
	c = q_put(2, BUF_GPA + 0x100, 10, false);
	kick(2);
	CU_ASSERT_FATAL(wait_stats_updates(2, WAIT_MS));
	CU_ASSERT(used_idx(2) >= 1);
	CU_ASSERT_EQUAL(le32toh(q_used(2)->ring[0].id), a);
	info(&i);
	CU_ASSERT_EQUAL(i.st.value[VIRTIO_BALLOON_S_MEMFREE], 3000);
	CU_ASSERT_EQUAL(i.st.value[VIRTIO_BALLOON_S_MEMTOT], 2000);
	/* The timer gives the held one back within its second. */
	CU_ASSERT_FATAL(wait_used(2, 2, 3000));
	CU_ASSERT_EQUAL(le32toh(q_used(2)->ring[1].id), c);
	info(&i);
	CU_ASSERT_EQUAL(i.c.stats_updates, 2);
	vm_down();
}

/* A ring outside guest RAM: the transport puts the device in NEEDS_RESET
 * and never activates it; the ops' activate, given one anyway, fails and
 * leaves no queue on. */
static void test_bad_ring(void)
{
	struct virtio_queue q[2];
	struct balloon_info i;
	int kick_fd[2], call_fd[2];
	uint32_t len;

	vm_up(false);
	CU_ASSERT_EQUAL_FATAL(balloon_add(""), 0);
	negotiate(VERSION_1);
	queue_setup(0, 0);
	queue_setup(1, RAM_SIZE - 0x1000);   /* avail and used past the end */
	CU_ASSERT(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	info(&i);
	CU_ASSERT_FALSE(i.driver_ok);
	CU_ASSERT_EQUAL(i.features, 0);
	set_status(0);
	CU_ASSERT_EQUAL(status(), 0);

	/* The ops directly, with eventfds of ours. */
	for (unsigned int k = 0; k < 2; k++) {
		kick_fd[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		call_fd[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		CU_ASSERT_FATAL(kick_fd[k] >= 0 && call_fd[k] >= 0);
		memset(ram + ring_gpa(k), 0, 0x3000);
		q[k] = (struct virtio_queue){
			.index = k, .size = QSZ, .desc_gpa = ring_gpa(k),
			.avail_gpa = ring_gpa(k) + 0x1000, .used_gpa = ring_gpa(k) + 0x2000,
			.dma = &vm.dma, .kick_fd = kick_fd[k], .call_fd = call_fd[k],
		};
	}
	q[1].used_gpa = RAM_SIZE - 8;
	CU_ASSERT(b->vp.ops->activate(&b->vp, VERSION_1, q, 2) < 0);
	q[1].used_gpa = ring_gpa(1) + 0x2001;   /* misaligned */
	CU_ASSERT(b->vp.ops->activate(&b->vp, VERSION_1, q, 2) < 0);
	q[1].used_gpa = ring_gpa(1) + 0x2000;
	q[1].size = 2 * BALLOON_QUEUE_MAX;       /* above the device's limit */
	CU_ASSERT(b->vp.ops->activate(&b->vp, VERSION_1, q, 2) < 0);
	q[1].size = 12;                          /* not a power of two */
	CU_ASSERT(b->vp.ops->activate(&b->vp, VERSION_1, q, 2) < 0);
	info(&i);
	CU_ASSERT_FALSE(i.driver_ok);
	pthread_mutex_lock(&b->lock);
	for (unsigned int r = 0; r < BQ_NR_ROLES; r++) {
		CU_ASSERT_FALSE(b->q[r].on);
		CU_ASSERT_EQUAL(b->q[r].kick_fd, -1);
	}
	pthread_mutex_unlock(&b->lock);
	/* The same queues, fixed: taken, and served through our fds. */
	q[1].size = QSZ;
	CU_ASSERT_EQUAL_FATAL(b->vp.ops->activate(&b->vp, VERSION_1, q, 2), 0);
	fill_pages();
	len = pfn_buffer();
	avail_next[0] = 0;
	q_put(0, BUF_GPA, len, false);
	CU_ASSERT_EQUAL(write(kick_fd[0], &(uint64_t){ 1 }, 8), 8);
	CU_ASSERT_FATAL(wait_fd(call_fd[0], WAIT_MS));
	CU_ASSERT_EQUAL(used_idx(0), 1);
	info(&i);
	CU_ASSERT(i.driver_ok);
	CU_ASSERT_EQUAL(i.c.inflated, NPAGES);
	b->vp.ops->reset(&b->vp);
	info(&i);
	CU_ASSERT_FALSE(i.driver_ok);
	/* Our fds outlive the thread (it may still poll them until it wakes). */
	vm_down();
	for (unsigned int k = 0; k < 2; k++) {
		close(kick_fd[k]);
		close(call_fd[k]);
	}
}

/* A driver that breaks a ring at run time (a descriptor outside RAM): the
 * queue stops, the device needs a reset, the others go on. */
static void test_broken_ring_needs_reset(void)
{
	struct balloon_info i;
	uint32_t len;

	vm_up(false);
	CU_ASSERT_EQUAL_FATAL(balloon_add(""), 0);
	driver_start(VERSION_1, 2);
	q_put(0, RAM_SIZE + 0x10000, 64, false);
	kick(0);
	/* No used entry, no call: wait for the status bit instead (bounded). */
	for (uint64_t end = now_ms() + WAIT_MS;
	     !(status() & VIRTIO_CONFIG_S_NEEDS_RESET) && now_ms() < end; )
		poll(NULL, 0, 5);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	CU_ASSERT_EQUAL(used_idx(0), 0);
	pthread_mutex_lock(&b->lock);
	CU_ASSERT_FALSE(b->q[BQ_INFLATE].on);
	CU_ASSERT(b->q[BQ_DEFLATE].on);
	pthread_mutex_unlock(&b->lock);
	/* The deflate queue still works. */
	fill_pages();
	len = pfn_buffer();
	q_put(1, BUF_GPA, len, false);
	kick(1);
	CU_ASSERT_FATAL(wait_call(1, WAIT_MS));
	info(&i);
	CU_ASSERT_EQUAL(i.c.deflated, NPAGES);
	CU_ASSERT_EQUAL(i.c.inflated, 0);
	vm_down();
}

void unit_register(void)
{
	UNIT_SUITE("balloon", UNIT_TEST(test_features_and_queues), UNIT_TEST(test_config_space),
		   UNIT_TEST(test_realize), UNIT_TEST(test_serve_budget), UNIT_TEST(test_inflate_free),
		   UNIT_TEST(test_inflate_vfio_refuse_keeps), UNIT_TEST(test_inflate_vfio_allow),
		   UNIT_TEST(test_inflate_vfio_iommu), UNIT_TEST(test_buffers_before_driver_ok),
		   UNIT_TEST(test_queue_index_mapping), UNIT_TEST(test_stats_queue),
		   UNIT_TEST(test_bad_ring), UNIT_TEST(test_broken_ring_needs_reset));
}
