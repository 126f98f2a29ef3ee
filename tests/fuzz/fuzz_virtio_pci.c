/* libFuzzer target for vmm/virtio/virtio_pci.c (with pci.c, msix.c and gsi.c
 * underneath, vm_fd = -1): a guest driving the common config, ISR, device
 * config, notify registers, config space (capabilities, the PCI_CFG window,
 * MSI-X control) and the MSI-X table, while the device side raises config
 * changes, NEEDS_RESET and relayed queue interrupts.
 *
 * Input: 14-byte records (op u8, width u8, offset u32, value u64, little-
 * endian, as fuzz_pci_cfg.c), op bit 0 = write, bits 3-1 = target:
 *   0 common config: offset % 0x48, length width % 9
 *   1 ISR (offset 0x1000 + offset % 4), length width % 9
 *   2 device config: offset % (CFG_SIZE + 8), length width % 9
 *   3 notify: 0x3000 + offset % 0x20, length width % 9
 *   4 raw BAR access: bar = offset >> 28 & 7, BAR offset = offset & 0x3fff,
 *     length width % 9
 *   5 config space of the function: offset & 0xff, length width % 5
 *   6 MSI-X table/PBA (BAR1): offset & 0xfff, length width % 9
 *   7 device side: value % 4 = config change, NEEDS_RESET, a write to queue
 *     (offset % NQ)'s call fd then one event-loop pass, drain a kick fd
 * The device: 1af4:1042, NQ queues of at most QMAX, guest RAM 64 KiB at
 * 1 MiB. Seeds: corpus/virtio_pci (gen_virtio_pci_seeds.py).
 *
 * Checks beyond ASan/UBSan (abort on violation): queue sizes stay powers of
 * two ≤ QMAX; vectors are the function's or NO_VECTOR; FEATURES_OK implies
 * the accepted features are offered and include VERSION_1; DRIVER_OK
 * implies FEATURES_OK; the device is activated at most once per session
 * and only with enabled queues whose rings lie whole in guest RAM, with the
 * transport's kick fds; offered features are within what the transport
 * supports. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "isle/log.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"

#define REC_SIZE  14
#define MAX_RECS  2048
#define NQ        3
#define QMAX      64
#define CFG_SIZE  20
#define RAM_BASE  0x100000ULL
#define RAM_SIZE  0x10000ULL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

static struct vm vm;
static struct virtio_pci vp;
static uint8_t ram[RAM_SIZE];
static uint8_t devcfg[CFG_SIZE];
static bool active;

static uint64_t fd_features(struct virtio_pci *p)
{
	return ~0ULL;   /* the transport must cut this down */
}

static void fd_config_read(struct virtio_pci *p, uint32_t off, void *data, unsigned int len)
{
	if (!range_ok(off, len, CFG_SIZE))
		abort();
	memcpy(data, devcfg + off, len);
}

static void fd_config_write(struct virtio_pci *p, uint32_t off, const void *data,
			    unsigned int len)
{
	if (!range_ok(off, len, CFG_SIZE))
		abort();
	memcpy(devcfg + off, data, len);
}

static int fd_activate(struct virtio_pci *p, uint64_t features, const struct virtio_queue *q,
		       unsigned int nr)
{
	if (active || nr > NQ || features & ~p->host_features ||
	    !(features & BIT(VIRTIO_F_VERSION_1)))
		abort();
	for (unsigned int i = 0; i < nr; i++) {
		const struct virtio_pci_queue *tq = &p->q[q[i].index];

		if (q[i].index >= NQ || !tq->enable || q[i].size != tq->size ||
		    q[i].kick_fd != tq->kick_fd || (i && q[i].index <= q[i - 1].index) ||
		    q[i].dma != &vm.dma ||
		    !virtio_pci_ring_ok(&vm.dma, q[i].size, q[i].desc_gpa, q[i].avail_gpa,
					q[i].used_gpa))
			abort();
	}
	active = true;
	return features & BIT(1) ? -5 : 0;   /* sometimes the backend refuses */
}

static void fd_reset(struct virtio_pci *p)
{
	active = false;
}

static void fd_call_changed(struct virtio_pci *p, unsigned int index, int fd)
{
	if (!active || index >= NQ || fd < 0)
		abort();
}

static const struct virtio_dev_ops fd_ops = {
	.name = "fuzz-virtio",
	.get_features = fd_features,
	.config_read = fd_config_read,
	.config_write = fd_config_write,
	.activate = fd_activate,
	.reset = fd_reset,
	.call_changed = fd_call_changed,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);   /* NEEDS_RESET warns once per session */
	return 0;
}

static void check(void)
{
	const uint64_t transport = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
				   BIT(VIRTIO_RING_F_INDIRECT_DESC) | (BIT(24) - 1);
	uint8_t st = vp.status;

	if (vp.host_features & ~transport || !(vp.host_features & BIT(VIRTIO_F_VERSION_1)))
		abort();
	if ((st & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    ((vp.guest_features & ~vp.host_features) ||
	     !(vp.guest_features & BIT(VIRTIO_F_VERSION_1))))
		abort();
	if ((st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_FEATURES_OK))
		abort();
	if (vp.msix_config != VIRTIO_MSI_NO_VECTOR && vp.msix_config >= NQ + 1)
		abort();
	for (unsigned int i = 0; i < NQ; i++) {
		const struct virtio_pci_queue *q = &vp.q[i];

		if (!q->size || (q->size & (q->size - 1)) || q->size > QMAX)
			abort();
		if (q->msix_vector != VIRTIO_MSI_NO_VECTOR && q->msix_vector >= NQ + 1)
			abort();
	}
	if (active != vp.activated && !(st & VIRTIO_CONFIG_S_NEEDS_RESET))
		abort();
}

static void device_event(uint32_t off, uint64_t val)
{
	struct virtio_pci_queue *q = &vp.q[off % NQ];
	uint64_t v = 1;

	switch (val % 4) {
	case 0:
		virtio_pci_config_changed(&vp);
		break;
	case 1:
		virtio_pci_needs_reset(&vp, "fuzz");
		break;
	case 2:
		if (write(q->relay_fd, &v, sizeof(v)) < 0)
			break;
		evloop_run_once(&vm.loop, 0);
		break;
	default:
		if (read(q->kick_fd, &v, sizeof(v)) < 0)
			break;
		break;
	}
}

static void do_record(const uint8_t *r)
{
	uint8_t op = r[0];
	unsigned int w = r[1];
	uint32_t off = get_le32(r + 2);
	uint8_t buf[16] = { 0 };
	bool wr = op & 1;
	void (*bar)(struct pci_dev *, unsigned int, uint64_t, void *, unsigned int, bool) =
		vp.pci.ops->bar_access;

	memcpy(buf, r + 6, 8);
	switch ((op >> 1) & 7) {
	case 0:
		bar(&vp.pci, VIRTIO_PCI_BAR, off % 0x48, buf, w % 9, wr);
		break;
	case 1:
		bar(&vp.pci, VIRTIO_PCI_BAR, VIRTIO_PCI_ISR_OFF + off % 4, buf, w % 9, wr);
		break;
	case 2:
		bar(&vp.pci, VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_OFF + off % (CFG_SIZE + 8), buf,
		    w % 9, wr);
		break;
	case 3:
		bar(&vp.pci, VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + off % 0x20, buf, w % 9, wr);
		break;
	case 4:
		bar(&vp.pci, off >> 28 & 7, off & 0x3fff, buf, w % 9, wr);
		break;
	case 5:
		pci_cfg_access(&vm.pci, 0, vp.pci.slot << 3, off & 0xff, buf, w % 5, wr);
		break;
	case 6:
		bar(&vp.pci, VIRTIO_PCI_MSIX_BAR, off & 0xfff, buf, w % 9, wr);
		break;
	default:
		device_event(off, get_le64(r + 6));
		break;
	}
	check();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct virtio_pci_params p = {
		.device_id = 2, .class_code = 0x010000, .num_queues = NQ, .queue_max = QMAX,
		.config_size = CFG_SIZE,
	};
	size_t n = MIN(size / REC_SIZE, (size_t)MAX_RECS);

	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = vm.kvm_fd = -1;
	active = false;
	dma_as_identity_init(&vm.dma, &vm.gmem);
	if (gmem_add(&vm.gmem, RAM_BASE, RAM_SIZE, ram, -1, 0) || gsi_init(&vm.gsi, -1) ||
	    pci_bus_init(&vm.pci, &win) || evloop_init(&vm.loop) ||
	    virtio_pci_init(&vp, &vm, &fd_ops, &p, NULL))
		abort();
	for (size_t i = 0; i < n; i++)
		do_record(data + i * REC_SIZE);
	virtio_pci_destroy(&vp);
	evloop_fini(&vm.loop);
	pci_bus_destroy(&vm.pci);
	gsi_destroy(&vm.gsi);
	return 0;
}
