/* Unit tests for vmm/virtio/virtio_pci.c: identity and capabilities, the
 * common-config rules (bad queue_select, queue_size that is not a power of
 * two, fields frozen after queue_enable, vectors the function lacks,
 * FEATURES_OK refusals, status bits that cannot be cleared, reset), ring
 * addresses outside RAM -> NEEDS_RESET with a config interrupt, notify
 * offsets, call fds (relay vs routed irqfd, relay upgrade) and the PCI_CFG
 * window. A fake virtio_dev_ops records what the device was told; the VM
 * stub has guest RAM, a GSI table and a PCI bus without KVM (vm_fd -1: no
 * ioeventfds, so notify writes reach the BAR handler). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "cunit.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"

#define RAM_BASE   0x100000ULL
#define RAM_SIZE   0x100000ULL
#define NQ         3
#define QMAX       256
#define CFG_SIZE   24
#define DEV_FEAT   (1ULL << 1 | 1ULL << 9 | 1ULL << VIRTIO_RING_F_EVENT_IDX | \
		    1ULL << VIRTIO_F_RING_PACKED | 1ULL << VIRTIO_F_ACCESS_PLATFORM)
#define VERSION_1  (1ULL << VIRTIO_F_VERSION_1)

static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

static struct vm vm;
static struct virtio_pci vp;
static uint8_t *ram;

/* What the fake device saw. */
static struct {
	unsigned int activations, resets, call_changes;
	int activate_ret;
	uint64_t features;
	unsigned int nr;
	struct virtio_queue q[VIRTIO_PCI_MAX_QUEUES];
	uint8_t config[CFG_SIZE];
	int changed_index, changed_fd;
} dev;

static uint64_t fake_features(struct virtio_pci *p)
{
	return DEV_FEAT;
}

static void fake_config_read(struct virtio_pci *p, uint32_t off, void *data, unsigned int len)
{
	memcpy(data, dev.config + off, len);
}

static void fake_config_write(struct virtio_pci *p, uint32_t off, const void *data,
			      unsigned int len)
{
	memcpy(dev.config + off, data, len);
}

static int fake_activate(struct virtio_pci *p, uint64_t features, const struct virtio_queue *q,
			 unsigned int nr)
{
	dev.activations++;
	dev.features = features;
	dev.nr = nr;
	memcpy(dev.q, q, nr * sizeof(*q));
	return dev.activate_ret;
}

static void fake_reset(struct virtio_pci *p)
{
	dev.resets++;
}

static void fake_call_changed(struct virtio_pci *p, unsigned int index, int fd)
{
	dev.call_changes++;
	dev.changed_index = (int)index;
	dev.changed_fd = fd;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake-virtio",
	.get_features = fake_features,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.reset = fake_reset,
	.call_changed = fake_call_changed,
};

static void setup(void)
{
	const struct virtio_pci_params p = {
		.device_id = 2, .class_code = 0x010000, .num_queues = NQ, .queue_max = QMAX,
		.config_size = CFG_SIZE,
	};

	memset(&vm, 0, sizeof(vm));
	memset(&dev, 0, sizeof(dev));
	vm.vm_fd = vm.kvm_fd = -1;
	ram = calloc(1, RAM_SIZE);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&vm.gmem, RAM_BASE, RAM_SIZE, ram, -1, 0), 0);
	dma_as_identity_init(&vm.dma, &vm.gmem);   /* as vm_create does */
	CU_ASSERT_EQUAL_FATAL(gsi_init(&vm.gsi, -1), 0);
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&vm.pci, &win), 0);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&vm.loop), 0);
	CU_ASSERT_EQUAL_FATAL(virtio_pci_init(&vp, &vm, &fake_ops, &p, NULL), 0);
	for (unsigned int i = 0; i < CFG_SIZE; i++)
		dev.config[i] = (uint8_t)(0xa0 + i);
}

static void teardown(void)
{
	virtio_pci_destroy(&vp);
	evloop_fini(&vm.loop);
	pci_bus_destroy(&vm.pci);
	gsi_destroy(&vm.gsi);
	free(ram);
}

static uint64_t bar_rd(unsigned int bar, uint64_t off, unsigned int len)
{
	uint8_t b[8] = { 0 };

	vp.pci.ops->bar_access(&vp.pci, bar, off, b, len, false);
	return len == 8 ? get_le64(b) : len == 4 ? get_le32(b) : len == 2 ? get_le16(b) : b[0];
}

static void bar_wr(unsigned int bar, uint64_t off, uint64_t v, unsigned int len)
{
	uint8_t b[8];

	put_le64(b, v);
	vp.pci.ops->bar_access(&vp.pci, bar, off, b, len, true);
}

#define CC_RD(off, len)    bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + (off), len)
#define CC_WR(off, v, len) bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + (off), v, len)

static uint32_t cfg_rd(unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_access(&vm.pci, 0, vp.pci.slot << 3, off, b, len, false);
	return len == 4 ? get_le32(b) : len == 2 ? get_le16(b) : b[0];
}

static void cfg_wr(unsigned int off, uint32_t v, unsigned int len)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cfg_access(&vm.pci, 0, vp.pci.slot << 3, off, b, len, true);
}

static uint8_t status(void)
{
	return (uint8_t)CC_RD(VIRTIO_PCI_COMMON_STATUS, 1);
}

static void set_status(uint8_t s)
{
	CC_WR(VIRTIO_PCI_COMMON_STATUS, s, 1);
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
}

/* Sets up queue q with rings at RAM offset off. */
static void queue_setup(unsigned int q, uint16_t size, uint64_t desc, uint16_t vector)
{
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_MSIX, vector, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)desc, 4);
	CC_WR(VIRTIO_PCI_COMMON_Q_DESCHI, (uint32_t)(desc >> 32), 4);
	CC_WR(VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)(desc + 16 * size), 4);
	CC_WR(VIRTIO_PCI_COMMON_Q_AVAILHI, (uint32_t)((desc + 16 * size) >> 32), 4);
	CC_WR(VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)(desc + 0x4000), 4);
	CC_WR(VIRTIO_PCI_COMMON_Q_USEDHI, (uint32_t)((desc + 0x4000) >> 32), 4);
}

static uint64_t pba(void)
{
	return bar_rd(VIRTIO_PCI_MSIX_BAR, VIRTIO_PCI_MSIX_PBA, 8);
}

static void test_identity(void)
{
	unsigned int found = 0, c;

	setup();
	CU_ASSERT_EQUAL(cfg_rd(PCI_VENDOR_ID, 2), 0x1af4);
	CU_ASSERT_EQUAL(cfg_rd(PCI_DEVICE_ID, 2), 0x1042);
	CU_ASSERT_EQUAL(cfg_rd(PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	CU_ASSERT_EQUAL(cfg_rd(PCI_SUBSYSTEM_ID, 2), 2);
	CU_ASSERT_EQUAL(cfg_rd(PCI_REVISION_ID, 1), 1);
	CU_ASSERT_EQUAL(cfg_rd(PCI_CLASS_DEVICE, 2), 0x0100);
	CU_ASSERT_EQUAL(cfg_rd(PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4) & 7,
			PCI_BASE_ADDRESS_MEM_TYPE_64);
	/* Walk the list: five virtio structures and MSI-X. */
	for (c = cfg_rd(PCI_CAPABILITY_LIST, 1); c; c = cfg_rd(c + 1, 1)) {
		if (cfg_rd(c, 1) == PCI_CAP_ID_MSIX) {
			CU_ASSERT_EQUAL(cfg_rd(c + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, NQ);
			CU_ASSERT_EQUAL(cfg_rd(c + PCI_MSIX_TABLE, 4), VIRTIO_PCI_MSIX_BAR);
			found |= 1u << 7;
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(cfg_rd(c, 1), PCI_CAP_ID_VNDR);
		found |= 1u << cfg_rd(c + VIRTIO_PCI_CAP_CFG_TYPE, 1);
		switch (cfg_rd(c + VIRTIO_PCI_CAP_CFG_TYPE, 1)) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_BAR, 1), VIRTIO_PCI_BAR);
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_OFFSET, 4), 0);
			CU_ASSERT(cfg_rd(c + VIRTIO_PCI_CAP_LENGTH, 4) >= 56);
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_LEN, 1), 20);
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_OFFSET, 4), 0x3000);
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_NOTIFY_CAP_MULT, 4), 4);
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_LENGTH, 4), 4 * NQ);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_OFFSET, 4), 0x1000);
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_OFFSET, 4), 0x2000);
			CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_LENGTH, 4), CFG_SIZE);
			break;
		}
	}
	CU_ASSERT_EQUAL(found, 0xbe);   /* types 1-5 and MSI-X */
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	teardown();
}

static void test_features(void)
{
	uint64_t offered;

	setup();
	CC_WR(VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	offered = CC_RD(VIRTIO_PCI_COMMON_DF, 4);
	CC_WR(VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	offered |= CC_RD(VIRTIO_PCI_COMMON_DF, 4) << 32;
	/* Device bits and EVENT_IDX pass; packed rings and IOMMU do not;
	 * VERSION_1 is always there. */
	CU_ASSERT_EQUAL(offered, (DEV_FEAT & ~(1ULL << VIRTIO_F_RING_PACKED |
					      1ULL << VIRTIO_F_ACCESS_PLATFORM)) | VERSION_1);
	CC_WR(VIRTIO_PCI_COMMON_DFSELECT, 2, 4);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_DF, 4), 0);

	/* Without VERSION_1: refused. */
	negotiate(1ULL << 1);
	CU_ASSERT_FALSE(status() & VIRTIO_CONFIG_S_FEATURES_OK);
	/* Something not offered: refused. */
	negotiate(VERSION_1 | 1ULL << VIRTIO_F_RING_PACKED);
	CU_ASSERT_FALSE(status() & VIRTIO_CONFIG_S_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK does nothing. */
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_FALSE(status() & VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL(dev.activations, 0);
	/* A subset with VERSION_1: taken, and frozen from then on. */
	negotiate(VERSION_1 | 1ULL << 9);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_FEATURES_OK);
	CC_WR(VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	CC_WR(VIRTIO_PCI_COMMON_GF, 0x2, 4);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_GF, 4), 1u << 9);
	/* Status bits cannot be cleared short of a reset. */
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_FEATURES_OK);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL(dev.activations, 1);
	CU_ASSERT_EQUAL(dev.features, VERSION_1 | 1ULL << 9);
	CU_ASSERT_EQUAL(dev.nr, 0);
	teardown();
}

static void test_queue_select(void)
{
	setup();
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, NQ, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SELECT, 2), NQ);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);   /* "no such queue" */
	CC_WR(VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_DESCLO, 0x1000, 4);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 0xffff, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	for (unsigned int q = 0; q < NQ; q++) {
		CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
		CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
		CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_NOFF, 2), q);
		CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	}
	/* Wrong widths and holes read 0 and change nothing. */
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SELECT, 4), 0);
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 1, 1);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SELECT, 2), NQ - 1);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_NDATA, 2), 0);
	CU_ASSERT_EQUAL(CC_RD(0x3e, 2), 0);
	teardown();
}

static void test_queue_size(void)
{
	static const uint32_t bad[] = { 0, 3, 100, 255, 2 * QMAX, 0x8000, 0xffff };

	setup();
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CC_WR(VIRTIO_PCI_COMMON_Q_SIZE, bad[i], 2);
		CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	}
	CC_WR(VIRTIO_PCI_COMMON_Q_SIZE, 64, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
	CC_WR(VIRTIO_PCI_COMMON_Q_SIZE, 1, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), 1);
	teardown();
}

static void test_vectors(void)
{
	setup();
	CC_WR(VIRTIO_PCI_COMMON_MSIX, NQ + 1, 2);   /* the function has NQ+1 */
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	CC_WR(VIRTIO_PCI_COMMON_MSIX, NQ, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_MSIX, 2), NQ);
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_MSIX, 0x7fff, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	CC_WR(VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_MSIX, 2), 2);
	teardown();
}

static void test_frozen_after_enable(void)
{
	setup();
	negotiate(VERSION_1);
	queue_setup(0, 16, RAM_BASE, 1);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	CC_WR(VIRTIO_PCI_COMMON_Q_SIZE, 32, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_MSIX, 0, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_DESCLO, 0xdead000, 4);
	CC_WR(VIRTIO_PCI_COMMON_Q_USEDHI, 1, 4);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 0, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_MSIX, 2), 1);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_DESCLO, 4), (uint32_t)RAM_BASE);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_USEDHI, 4), 0);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	CU_ASSERT_FALSE(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	teardown();
}

static void test_ring_outside_ram(void)
{
	setup();
	CC_WR(VIRTIO_PCI_COMMON_MSIX, 0, 2);
	negotiate(VERSION_1);
	/* The used ring runs past the end of RAM. */
	queue_setup(0, 16, RAM_BASE + RAM_SIZE - 0x4000, 1);
	CU_ASSERT_EQUAL(pba(), 0);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Config interrupt: MSI-X is off, so it waits in the PBA; ISR says so. */
	CU_ASSERT_EQUAL(pba(), 1);
	CU_ASSERT_EQUAL(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	CU_ASSERT_EQUAL(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_ISR_OFF, 1), 0);
	/* Never handed to the device. */
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL(dev.activations, 0);
	/* Reset clears it. */
	set_status(0);
	CU_ASSERT_EQUAL(status(), 0);
	CU_ASSERT_EQUAL(dev.resets, 1);
	teardown();
}

/* An address space that maps guest RAM read-only (an IOMMU without write
 * permission): rings whose used part the device cannot write are refused. */
static int ro_translate(struct dma_as *a, uint64_t iova, uint64_t *len, unsigned int access,
			void **hva)
{
	if (access & DMA_WRITE)
		return -EPERM;
	return dma_translate(a->priv, iova, len, access, hva);
}

static const struct dma_as_ops ro_ops = { .name = "ro", .translate = ro_translate };

static void test_ring_ok(void)
{
	struct dma_as *as, ro;

	setup();
	CU_ASSERT_PTR_EQUAL(vp.pci.dma, &vm.dma);   /* set at registration */
	dma_as_init(&ro, &ro_ops, &vm.dma);
	CU_ASSERT_FALSE(virtio_pci_ring_ok(&ro, 16, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x200));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(NULL, 16, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x200));
	dma_as_destroy(&ro);
	as = &vm.dma;
	CU_ASSERT(virtio_pci_ring_ok(as, 16, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x200));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 0, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x200));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 12, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x200));
	/* Misaligned parts. */
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 16, RAM_BASE + 8, RAM_BASE + 0x100, RAM_BASE + 0x200));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 16, RAM_BASE, RAM_BASE + 0x101, RAM_BASE + 0x200));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 16, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x202));
	/* Below, straddling the end, wrapping, far away. */
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 16, 0, RAM_BASE + 0x100, RAM_BASE + 0x200));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 16, RAM_BASE, RAM_BASE + 0x100,
					   RAM_BASE + RAM_SIZE - 8 * 16));
	CU_ASSERT(virtio_pci_ring_ok(as, 16, RAM_BASE, RAM_BASE + 0x100,
				     RAM_BASE + RAM_SIZE - 8 * 16 - 8));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 16, UINT64_MAX - 15, RAM_BASE, RAM_BASE + 0x200));
	/* The biggest queue: the used ring (256 KiB + 6) must fit too. */
	CU_ASSERT(virtio_pci_ring_ok(as, 32768, RAM_BASE, RAM_BASE + 0x80000,
				     RAM_BASE + 0x90000));
	CU_ASSERT_FALSE(virtio_pci_ring_ok(as, 32768, RAM_BASE, RAM_BASE + 0x80000,
					   RAM_BASE + 0xd0000));
	teardown();
}

static void test_activate_and_calls(void)
{
	uint64_t one = 1, v;
	unsigned int mcap;

	setup();
	mcap = vp.msix.cap;
	negotiate(VERSION_1 | 1ULL << VIRTIO_RING_F_EVENT_IDX);
	queue_setup(0, 64, RAM_BASE, 1);            /* vector 1: routed below */
	queue_setup(2, 16, RAM_BASE + 0x8000, 2);   /* vector 2: stays masked */
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	/* MSI-X on, vector 1 unmasked: routed, so it has an irqfd. */
	cfg_wr(mcap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
	bar_wr(VIRTIO_PCI_MSIX_BAR, 16 + PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000, 4);
	bar_wr(VIRTIO_PCI_MSIX_BAR, 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	CU_ASSERT(msix_vector_eventfd(&vp.msix, 1) >= 0);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL_FATAL(dev.activations, 1);
	CU_ASSERT_EQUAL_FATAL(dev.nr, 2);
	CU_ASSERT_EQUAL(dev.q[0].index, 0);
	CU_ASSERT_EQUAL(dev.q[0].size, 64);
	CU_ASSERT_EQUAL(dev.q[0].desc_gpa, RAM_BASE);
	CU_ASSERT_EQUAL(dev.q[0].avail_gpa, RAM_BASE + 16 * 64);
	CU_ASSERT_EQUAL(dev.q[0].used_gpa, RAM_BASE + 0x4000);
	CU_ASSERT_EQUAL(dev.q[0].call_fd, msix_vector_eventfd(&vp.msix, 1));
	CU_ASSERT_EQUAL(dev.q[1].index, 2);
	CU_ASSERT_EQUAL(dev.q[1].call_fd, vp.q[2].relay_fd);
	CU_ASSERT_EQUAL(dev.q[1].kick_fd, vp.q[2].kick_fd);

	/* The relay raises vector 2: pending while masked. */
	CU_ASSERT_EQUAL(write(dev.q[1].call_fd, &one, 8), 8);
	CU_ASSERT(evloop_run_once(&vm.loop, 100) >= 1);
	CU_ASSERT_EQUAL(pba(), 1u << 2);
	CU_ASSERT_EQUAL(dev.call_changes, 0);
	/* Once vector 2 is routed, the next relayed call upgrades the fd. */
	bar_wr(VIRTIO_PCI_MSIX_BAR, 32 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	CU_ASSERT_EQUAL(pba(), 0);   /* delivered on unmask */
	CU_ASSERT_EQUAL(write(dev.q[1].call_fd, &one, 8), 8);
	CU_ASSERT(evloop_run_once(&vm.loop, 100) >= 1);
	CU_ASSERT_EQUAL(dev.call_changes, 1);
	CU_ASSERT_EQUAL(dev.changed_index, 2);
	CU_ASSERT_EQUAL(dev.changed_fd, msix_vector_eventfd(&vp.msix, 2));
	CU_ASSERT(read(msix_vector_eventfd(&vp.msix, 2), &v, 8) == 8);

	/* Late enables are ignored once DRIVER_OK is set. */
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	teardown();
}

/* A polling driver gives a queue no vector; the backend still gets a real
 * call fd (libvhost-user backends abort on a missing one), and a signal on
 * it raises nothing. */
static void test_call_fd_without_vector(void)
{
	uint64_t one = 1;

	setup();
	negotiate(VERSION_1);
	queue_setup(0, 64, RAM_BASE, VIRTIO_MSI_NO_VECTOR);
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL_FATAL(dev.nr, 1);
	CU_ASSERT(dev.q[0].call_fd >= 0);
	CU_ASSERT_EQUAL(dev.q[0].call_fd, vp.q[0].relay_fd);
	CU_ASSERT_EQUAL(write(dev.q[0].call_fd, &one, 8), 8);
	CU_ASSERT(evloop_run_once(&vm.loop, 100) >= 1);
	CU_ASSERT_EQUAL(pba(), 0);
	teardown();
}

static void test_activation_failure(void)
{
	setup();
	dev.activate_ret = -EIO;
	negotiate(VERSION_1);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL(dev.activations, 1);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	teardown();
}

static void test_reset(void)
{
	setup();
	CC_WR(VIRTIO_PCI_COMMON_MSIX, 0, 2);
	negotiate(VERSION_1 | 1ULL << 1);
	queue_setup(1, 32, RAM_BASE, 3);
	CC_WR(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL(dev.activations, 1);
	set_status(0);
	CU_ASSERT_EQUAL(dev.resets, 1);
	CU_ASSERT_EQUAL(status(), 0);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	CC_WR(VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_GF, 4), 0);
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
	/* A second session works like the first. */
	negotiate(VERSION_1);
	CU_ASSERT(status() & VIRTIO_CONFIG_S_FEATURES_OK);
	set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_EQUAL(dev.activations, 2);
	CU_ASSERT_EQUAL(dev.nr, 0);
	teardown();
}

static void test_notify(void)
{
	uint64_t v;

	setup();
	for (unsigned int q = 0; q < NQ; q++) {
		bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + 4 * q, q, 2);
		for (unsigned int k = 0; k < NQ; k++)
			CU_ASSERT_EQUAL(read(vp.q[k].kick_fd, &v, 8) == 8, k == q);
	}
	/* Between queues, past the last one: nobody is kicked. */
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + 2, 0, 2);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + 4 * NQ, 0, 2);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE - 4, 0, 4);
	for (unsigned int k = 0; k < NQ; k++)
		CU_ASSERT(read(vp.q[k].kick_fd, &v, 8) < 0);
	teardown();
}

static void test_device_config(void)
{
	setup();
	CU_ASSERT_EQUAL(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF, 4), 0xa3a2a1a0);
	CU_ASSERT_EQUAL(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + 16, 8),
			0xb7b6b5b4b3b2b1b0ULL);
	/* Past config_size, or straddling it: 0 and dropped. */
	CU_ASSERT_EQUAL(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + CFG_SIZE - 2, 4), 0);
	CU_ASSERT_EQUAL(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + 0x100, 4), 0);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + CFG_SIZE - 1, 0x1234, 2);
	CU_ASSERT_EQUAL(dev.config[CFG_SIZE - 1], 0xa0 + CFG_SIZE - 1);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + 4, 0x55, 1);
	CU_ASSERT_EQUAL(dev.config[4], 0x55);
	/* The generation moves with config changes. */
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_CFGGENERATION, 1), 0);
	virtio_pci_config_changed(&vp);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_CFGGENERATION, 1), 1);
	teardown();
}

static void test_wide_addresses(void)
{
	setup();
	CC_WR(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	CC_WR(VIRTIO_PCI_COMMON_Q_DESCLO, 0x123456789abcdef0ULL, 8);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x9abcdef0);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0x12345678);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x123456789abcdef0ULL);
	/* Only the low half of a pair takes an 8-byte access. */
	CC_WR(VIRTIO_PCI_COMMON_Q_DESCHI, 0x1111111122222222ULL, 8);
	CU_ASSERT_EQUAL(CC_RD(VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0x12345678);
	teardown();
}

static void test_cfg_window(void)
{
	unsigned int c;

	setup();
	c = vp.cfgcap;
	CU_ASSERT_EQUAL_FATAL(cfg_rd(c + VIRTIO_PCI_CAP_CFG_TYPE, 1), VIRTIO_PCI_CAP_PCI_CFG);
	/* Aim it at num_queues (2 bytes): the data reads it. */
	cfg_wr(c + VIRTIO_PCI_CAP_BAR, VIRTIO_PCI_BAR, 1);
	cfg_wr(c + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_COMMON_NUMQ, 4);
	cfg_wr(c + VIRTIO_PCI_CAP_LENGTH, 2, 4);
	CU_ASSERT_EQUAL(cfg_rd(c + 16, 4), NQ);
	/* Write status through it, read it back through the BAR. */
	cfg_wr(c + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_COMMON_STATUS, 4);
	cfg_wr(c + VIRTIO_PCI_CAP_LENGTH, 1, 4);
	cfg_wr(c + 16, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
	CU_ASSERT_EQUAL(status(), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* Other BARs, misaligned or odd lengths: no access. */
	cfg_wr(c + VIRTIO_PCI_CAP_LENGTH, 3, 4);
	cfg_wr(c + 16, 0, 1);
	CU_ASSERT_EQUAL(status(), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	cfg_wr(c + VIRTIO_PCI_CAP_BAR, 0, 1);
	cfg_wr(c + VIRTIO_PCI_CAP_LENGTH, 1, 4);
	cfg_wr(c + 16, 0, 1);
	CU_ASSERT_EQUAL(status(), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* The identity part of the capability stays read-only. */
	cfg_wr(c + VIRTIO_PCI_CAP_CFG_TYPE, 0, 1);
	CU_ASSERT_EQUAL(cfg_rd(c + VIRTIO_PCI_CAP_CFG_TYPE, 1), VIRTIO_PCI_CAP_PCI_CFG);
	teardown();
}

static void test_bad_params(void)
{
	struct virtio_pci_params p = {
		.device_id = 2, .num_queues = 1, .queue_max = 100, .config_size = 8,
	};
	static struct virtio_pci bad;

	setup();
	CU_ASSERT_EQUAL(virtio_pci_init(&bad, &vm, &fake_ops, &p, NULL), -EINVAL);
	p.queue_max = 128;
	p.num_queues = VIRTIO_PCI_MAX_QUEUES + 1;
	CU_ASSERT_EQUAL(virtio_pci_init(&bad, &vm, &fake_ops, &p, NULL), -EINVAL);
	p.num_queues = 0;
	CU_ASSERT_EQUAL(virtio_pci_init(&bad, &vm, &fake_ops, &p, NULL), -EINVAL);
	virtio_pci_destroy(&bad);
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("virtio_pci", UNIT_TEST(test_identity), UNIT_TEST(test_features),
		   UNIT_TEST(test_queue_select), UNIT_TEST(test_queue_size),
		   UNIT_TEST(test_vectors), UNIT_TEST(test_frozen_after_enable),
		   UNIT_TEST(test_ring_outside_ram), UNIT_TEST(test_ring_ok),
		   UNIT_TEST(test_activate_and_calls), UNIT_TEST(test_call_fd_without_vector),
		   UNIT_TEST(test_activation_failure),
		   UNIT_TEST(test_reset), UNIT_TEST(test_notify), UNIT_TEST(test_device_config),
		   UNIT_TEST(test_wide_addresses), UNIT_TEST(test_cfg_window),
		   UNIT_TEST(test_bad_params));
}
