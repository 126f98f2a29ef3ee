/* libFuzzer target for vmm/pci/msix.c (with gsi.c underneath, vm_fd = -1): the
 * guest programs the MSI-X table, PBA and control word while the device
 * raises vectors.
 *
 * Input: a 2-byte header, nr = 1 + (le16 % 2048) vectors, then 14-byte
 * records in the format of fuzz_pci_cfg.c (op u8, width u8, offset u32,
 * value u64, little-endian), op bit 0 = write, bits 3-1 = target:
 *   0 raw BAR access: bar = offset >> 28 & 7, BAR offset = offset & 0xffff,
 *     length = width % 17
 *   1 table: vector (offset >> 4) % nr, byte offset & 0xf, length width % 9
 *   2 PBA: byte offset % (PBA size + 8), length width % 9
 *   3 config space at the capability: cap + offset % 16, length width % 9
 *   4 config space anywhere in function 0 of slot 1: offset & 0xff
 *   5 msix_notify(offset % (nr + 1))
 *   6 drain vector offset % nr's eventfd (what KVM would do)
 *   7 MMIO window access at the device's BAR0 (decoded only if the guest
 *     enabled memory decoding with target 4), offset & 0xffff
 * The device: slot 1, BAR0 32-bit 64 KiB, table at 0, PBA at 0x8000, MSI-X
 * capability at 0x40. Seeds: corpus/msix (gen_pci_seeds.py).
 *
 * Checks beyond ASan/UBSan (abort on violation): a vector has an irqfd bound
 * exactly when it is live (unless GSIs ran out); a bound vector has no
 * pending bit; PBA bits past nr stay clear; every routed vector's GSI route
 * carries its current address/data and belongs to it alone; the GSI table
 * holds one route per routed vector (split irqchip: no irqchip routes); destroy returns
 * the table to its defaults. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "pci/msix.h"

#define REC_SIZE   14
#define MAX_RECS   1024
#define BAR_SIZE   0x10000
#define TABLE_OFF  0
#define PBA_OFF    0x8000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gsi_table gt;
static struct pci_bus bus;
static struct pci_dev dev;
static struct msix mx;
static int route_owner[GSI_MAX];   /* gsi -> vector, for uniqueness */

static void fd_bar_access(struct pci_dev *d, unsigned int bar, uint64_t offset, void *data,
			  unsigned int len, bool is_write)
{
	if (!msix_bar_access(&mx, bar, offset, data, len, is_write) && !is_write)
		memset(data, 0, len);
}

static void fd_config_write(struct pci_dev *d, unsigned int offset, unsigned int len,
			    uint32_t old)
{
	msix_config_write(&mx, offset, len, old);
}

static const struct pci_dev_ops fd_ops = {
	.name = "fuzz-msix",
	.bar_access = fd_bar_access,
	.config_write = fd_config_write,
};

static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);   /* GSI exhaustion would log per vector */
	return 0;
}

static uint64_t pba_len(unsigned int nr)
{
	return ALIGN_UP((uint64_t)nr, 64) / 8;
}

static bool gsi_left(void)
{
	for (int g = GSI_IRQCHIP_PINS; g < GSI_MAX; g++)
		if (!gt.used[g])
			return true;
	return false;
}

static void check(void)
{
	const struct kvm_irq_routing_entry *byg[GSI_MAX] = { 0 };
	bool spare = gsi_left();
	unsigned int routed = 0;

	for (unsigned int i = 0; i < gt.nr; i++)
		if (gt.entries[i].type == KVM_IRQ_ROUTING_MSI && gt.entries[i].gsi < GSI_MAX)
			byg[gt.entries[i].gsi] = &gt.entries[i];
	memset(route_owner, 0xff, sizeof(route_owner));
	for (unsigned int n = 0; n < mx.nr; n++) {
		const struct msix_vector *v = &mx.vec[n];
		bool live = mx.enabled && !mx.fn_masked && !(v->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
		const struct kvm_irq_routing_entry *e;

		if (v->bound && (!live || v->route.gsi < 0 || v->efd < 0))
			abort();
		if (live && !v->bound && spare)
			abort();
		if (v->bound && (mx.pba[n / 64] >> (n % 64) & 1))
			abort();
		if (v->ctrl & ~PCI_MSIX_ENTRY_CTRL_MASKBIT)
			abort();
		if (v->route.gsi < 0)
			continue;
		if (v->route.gsi < GSI_IRQCHIP_PINS || v->route.gsi >= GSI_MAX || route_owner[v->route.gsi] != -1)
			abort();
		route_owner[v->route.gsi] = (int)n;
		e = byg[v->route.gsi];
		if (!e || e->u.msi.address_lo != v->addr_lo || e->u.msi.address_hi != v->addr_hi ||
		    e->u.msi.data != v->data)
			abort();
		routed++;
	}
	if (gt.nr != routed)
		abort();
	if (mx.nr % 64 && mx.pba[mx.nr / 64] >> (mx.nr % 64))
		abort();
}

static void do_record(const uint8_t *r)
{
	uint8_t op = r[0];
	unsigned int w = r[1];
	uint32_t off = get_le32(r + 2);
	uint8_t buf[16] = { 0 };
	bool wr = op & 1;
	uint64_t c;

	memcpy(buf, r + 6, 8);
	switch ((op >> 1) & 7) {
	case 0:
		msix_bar_access(&mx, off >> 28 & 7, off & 0xffff, buf, w % 17, wr);
		break;
	case 1:
		msix_bar_access(&mx, 0, TABLE_OFF + (uint64_t)((off >> 4) % mx.nr) * 16 + (off & 0xf),
				buf, w % 9, wr);
		break;
	case 2:
		msix_bar_access(&mx, 0, PBA_OFF + off % (pba_len(mx.nr) + 8), buf, w % 9, wr);
		break;
	case 3:
		pci_cfg_access(&bus, 0, 1 << 3, mx.cap + off % 16, buf, w % 9, wr);
		break;
	case 4:
		pci_cfg_access(&bus, 0, 1 << 3, off & 0xff, buf, w % 9, wr);
		break;
	case 5:
		msix_notify(&mx, off % (mx.nr + 1));
		break;
	case 6: {
		int efd = msix_vector_eventfd(&mx, off % mx.nr);

		if (efd >= 0 && read(efd, &c, sizeof(c)) < 0)
			c = 0;
		break;
	}
	default:
		/* BAR0 is the first thing placed in the window: offset 0. */
		pci_mmio32_handler(&bus, off & 0xffff, buf, w % 9, wr);
		break;
	}
	check();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int nr;
	size_t n;

	if (size < 2)
		return 0;
	nr = 1 + get_le16(data) % MSIX_MAX_VECTORS;
	data += 2;
	size -= 2;
	n = MIN(size / REC_SIZE, (size_t)MAX_RECS);

	if (gsi_init(&gt, -1) || pci_bus_init(&bus, &win))
		abort();
	pci_dev_init(&dev, 0x1234, 0x0c0c, 0xff0000, 0, &fd_ops, NULL);
	if (pci_dev_set_bar(&dev, 0, PCI_BAR_MEM32, BAR_SIZE, false) ||
	    msix_init(&mx, &dev, &gt, nr, 0, TABLE_OFF, PBA_OFF) || mx.cap != 0x40 ||
	    pci_register(&bus, &dev))
		abort();
	for (size_t i = 0; i < n; i++)
		do_record(data + i * REC_SIZE);
	msix_destroy(&mx);
	if (gt.nr != 0 || gsi_left() != true || gt.used[GSI_IRQCHIP_PINS])
		abort();
	pci_bus_destroy(&bus);
	gsi_destroy(&gt);
	return 0;
}
