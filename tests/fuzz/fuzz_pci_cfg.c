/* libFuzzer target for vmm/pci/pci.c + pci_cfg.c (and msix.c behind a BAR):
 * the guest's whole PCI surface — ECAM, ports 0xcf8-0xcff, the MMIO/PIO
 * windows — driven by a sequence of access records.
 *
 * Input: 14-byte records, little-endian:
 *   op u8      bit 0 = write; bits 3-1 = target:
 *              0 ECAM (offset & 0x0fffffff)   1 ports 0xcf8-0xcff (offset & 7)
 *              2 pci_cfg_access(bus = offset >> 28 & 1, devfn = offset >> 12 & 0xff,
 *                reg = offset & 0x1fff)       3 slot/reg shortcut (slot = offset >> 8
 *                & 0x1f, reg = offset & 0xff)  4 MMIO32 window  5 MMIO64 window
 *              6 PIO window (window offsets are offset modulo the window size)
 *   width u8   access length = width % 9 (0-8, so illegal widths are exercised)
 *   offset u32
 *   value u64  written bytes (little-endian), ignored for reads
 * The bus is fresh for every input: host bridge; slot 1 = device A (BAR0
 * 32-bit 4 KiB @ mmio32+0, BAR1 I/O 32 B @ pio+0, BAR2 64-bit prefetchable
 * 1 MiB @ mmio64+0, BAR4 32-bit 4 KiB @ mmio32+0x1000 holding MSI-X with 8
 * vectors (table 0, PBA 0x800); a vendor capability at 0x40 and MSI-X at
 * 0x48); slot 2 = device B (BAR0 64-bit non-prefetchable 16 KiB @
 * mmio32+0x4000, BAR2 I/O 256 B @ pio+0x100, BAR4 32-bit 64 MiB @
 * mmio32+0x4000000 — large enough to be moved across the end of the
 * window, which no smaller BAR can straddle). Seeds: corpus/pci_cfg,
 * written by corpus/gen_pci_seeds.py, which relies on this layout.
 *
 * Checks beyond ASan/UBSan: a device only ever sees BAR accesses inside the
 * BAR; the decode cache (bar_addr) equals an independent decode of the BAR
 * registers and command word (after every record); bytes with no write/W1C
 * mask never change and W1C bits only clear; the masks themselves never
 * change; CONFIG_ADDRESS keeps no reserved bits; MSI-X state is consistent
 * with the GSI table. Any violation aborts. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "isle/log.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "pci/msix.h"

#define REC_SIZE    14
#define MAX_RECS    1024
#define MSIX_NR     8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fdev {
	struct pci_dev pci;
	struct msix msix;
	bool has_msix;
	uint8_t init_cfg[PCI_CFG_SIZE];
	uint8_t init_wmask[PCI_CFG_SIZE];
	uint8_t init_w1cmask[PCI_CFG_SIZE];
};

static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.mmio64_base = 16 * GiB,
	.mmio64_size = LAYOUT_MMIO64_SIZE,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

static struct gsi_table gt;
static struct pci_bus bus;
static struct fdev da, db;

static void fdev_bar_access(struct pci_dev *dev, unsigned int bar, uint64_t offset, void *data,
			    unsigned int len, bool is_write)
{
	struct fdev *f = dev->opaque;

	if (bar >= PCI_NUM_BARS || dev->bars[bar].type == PCI_BAR_NONE ||
	    !range_ok(offset, len, dev->bars[bar].size) || len == 0 || len > 8)
		abort();
	if (f->has_msix && msix_bar_access(&f->msix, bar, offset, data, len, is_write))
		return;
	if (!is_write)
		memset(data, 0x3c, len);
}

static void fdev_config_write(struct pci_dev *dev, unsigned int offset, unsigned int len,
			      uint32_t old)
{
	struct fdev *f = dev->opaque;

	if (len != 1 && len != 2 && len != 4)
		abort();
	if (f->has_msix)
		msix_config_write(&f->msix, offset, len, old);
}

static void fdev_bar_moved(struct pci_dev *dev, unsigned int bar, uint64_t addr)
{
	if (bar >= PCI_NUM_BARS || dev->bars[bar].type == PCI_BAR_NONE ||
	    (addr && addr % dev->bars[bar].size))
		abort();
}

static const struct pci_dev_ops fdev_ops = {
	.name = "fuzz",
	.bar_access = fdev_bar_access,
	.config_write = fdev_config_write,
	.bar_moved = fdev_bar_moved,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	return 0;
}

static void snapshot(struct fdev *f)
{
	memcpy(f->init_cfg, f->pci.cfg, PCI_CFG_SIZE);
	memcpy(f->init_wmask, f->pci.wmask, PCI_CFG_SIZE);
	memcpy(f->init_w1cmask, f->pci.w1cmask, PCI_CFG_SIZE);
}

static void setup(void)
{
	if (gsi_init(&gt, -1) || pci_bus_init(&bus, &win))
		abort();
	pci_dev_init(&da.pci, 0x1234, 0x0a0a, 0xff0000, 1, &fdev_ops, &da);
	if (pci_dev_set_bar(&da.pci, 0, PCI_BAR_MEM32, 0x1000, false) ||
	    pci_dev_set_bar(&da.pci, 1, PCI_BAR_IO, 0x20, false) ||
	    pci_dev_set_bar(&da.pci, 2, PCI_BAR_MEM64, 1 * MiB, true) ||
	    pci_dev_set_bar(&da.pci, 4, PCI_BAR_MEM32, 0x1000, false) ||
	    pci_dev_add_cap(&da.pci, PCI_CAP_ID_VNDR, 8) != 0x40 ||
	    msix_init(&da.msix, &da.pci, &gt, MSIX_NR, 4, 0, 0x800) ||
	    da.msix.cap != 0x48)
		abort();
	da.has_msix = true;
	/* Exercise W1C: the device has latched some errors. */
	put_le16(da.pci.cfg + PCI_STATUS, get_le16(da.pci.cfg + PCI_STATUS) |
		 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY);
	pci_dev_init(&db.pci, 0x1234, 0x0b0b, 0x020000, 2, &fdev_ops, &db);
	db.has_msix = false;
	if (pci_dev_set_bar(&db.pci, 0, PCI_BAR_MEM64, 0x4000, false) ||
	    pci_dev_set_bar(&db.pci, 2, PCI_BAR_IO, 0x100, false) ||
	    pci_dev_set_bar(&db.pci, 4, PCI_BAR_MEM32, 64 * MiB, false) ||
	    pci_register(&bus, &da.pci) || pci_register(&bus, &db.pci))
		abort();
	snapshot(&da);
	snapshot(&db);
}

static void teardown(void)
{
	msix_destroy(&da.msix);
	pci_bus_destroy(&bus);
	gsi_destroy(&gt);
}

static bool in_win(uint64_t a, uint64_t size, uint64_t base, uint64_t wsize)
{
	return a >= base && a - base < wsize && size <= wsize - (a - base);
}

/* An independent decode of BAR b, to check the bus's cache against. */
static uint64_t oracle_decode(const struct pci_dev *d, unsigned int b)
{
	const struct pci_bar *bar = &d->bars[b];
	uint16_t cmd = get_le16(d->cfg + PCI_COMMAND);
	uint32_t lo = get_le32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * b);
	uint64_t a;

	if (bar->type == PCI_BAR_IO) {
		a = lo & ~3u;
		return (cmd & PCI_COMMAND_IO) && a &&
		       in_win(a, bar->size, win.pio_base, win.pio_size) ? a : 0;
	}
	if (bar->type == PCI_BAR_NONE || !(cmd & PCI_COMMAND_MEMORY))
		return 0;
	a = lo & ~0xfu;
	if (bar->type == PCI_BAR_MEM64)
		a |= (uint64_t)get_le32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * b + 4) << 32;
	if (a && (in_win(a, bar->size, win.mmio32_base, win.mmio32_size) ||
		  in_win(a, bar->size, win.mmio64_base, win.mmio64_size)))
		return a;
	return 0;
}

static void check_dev(const struct fdev *f)
{
	const struct pci_dev *d = &f->pci;

	for (unsigned int i = 0; i < PCI_CFG_SIZE; i++) {
		uint8_t fixed = (uint8_t)~(d->wmask[i] | d->w1cmask[i]);

		if ((d->cfg[i] ^ f->init_cfg[i]) & fixed)
			abort();   /* a read-only bit changed */
		if (d->cfg[i] & d->w1cmask[i] & ~f->init_cfg[i])
			abort();   /* a W1C bit got set by the guest */
	}
	if (memcmp(d->wmask, f->init_wmask, PCI_CFG_SIZE) ||
	    memcmp(d->w1cmask, f->init_w1cmask, PCI_CFG_SIZE))
		abort();   /* something wrote past cfg[] */
}

/* Cheap enough for every record: a wrong decode is caught before the input
 * can undo it. */
static void check_bars(const struct pci_dev *d)
{
	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		uint32_t lo = get_le32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * b);

		if (d->bar_addr[b] != oracle_decode(d, b))
			abort();
		if (d->bars[b].type == PCI_BAR_IO && lo % d->bars[b].size != 1)
			abort();   /* I/O BAR alignment or type bit lost */
	}
}

static void check_msix(const struct msix *m)
{
	unsigned int routed = 0;

	for (unsigned int n = 0; n < m->nr; n++) {
		const struct msix_vector *v = &m->vec[n];
		bool live = m->enabled && !m->fn_masked && !(v->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);

		if (v->bound != live || (v->bound && (v->route.gsi < 0 || v->efd < 0)))
			abort();
		if (v->bound && (m->pba[n / 64] >> (n % 64) & 1))
			abort();   /* pending while deliverable */
		if (v->route.gsi >= 0)
			routed++;
	}
	if (gt.nr != routed)
		abort();
}

static void do_record(const uint8_t *r)
{
	uint8_t op = r[0];
	unsigned int len = r[1] % 9;
	uint32_t off = get_le32(r + 2);
	uint8_t buf[8];
	bool wr = op & 1;

	memcpy(buf, r + 6, 8);
	switch ((op >> 1) & 7) {
	case 0:
		pci_ecam_handler(&bus, off & (LAYOUT_ECAM_SIZE - 1), buf, len, wr);
		break;
	case 1:
		pci_cf8_handler(&bus, off & 7, buf, len, wr);
		break;
	case 2:
		pci_cfg_access(&bus, off >> 28 & 1, off >> 12 & 0xff, off & 0x1fff, buf, len, wr);
		break;
	case 3:
		pci_cfg_access(&bus, 0, (off >> 8 & 0x1f) << 3, off & 0xff, buf, len, wr);
		break;
	case 4:
		pci_mmio32_handler(&bus, off % win.mmio32_size, buf, len, wr);
		break;
	case 5:
		pci_mmio64_handler(&bus, off, buf, len, wr);
		break;
	case 6:
		pci_pio_handler(&bus, off % win.pio_size, buf, len, wr);
		break;
	default:
		/* Raise an MSI-X vector, as the device would. */
		msix_notify(&da.msix, off % (MSIX_NR + 1));
		break;
	}
	if (bus.cf8 & ~0x80fffffcu)
		abort();
	check_bars(&da.pci);
	check_bars(&db.pci);
	check_msix(&da.msix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = MIN(size / REC_SIZE, (size_t)MAX_RECS);

	setup();
	for (size_t i = 0; i < n; i++)
		do_record(data + i * REC_SIZE);
	check_dev(&da);
	check_dev(&db);
	teardown();
	return 0;
}
