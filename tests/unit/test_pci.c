/* Unit tests for vmm/pci/pci.c and vmm/pci/pci_dev.c: host bridge identity, BAR
 * sizing and assignment, decode gating, masks (read-only, W1C), the
 * capability list, hostile offsets/widths, CF8/CFC vs ECAM, bar_moved, the
 * expansion ROM (BAR index 6), multi-function slots (pci_register_at, the
 * header type's multi-function bit) and the config_read hook.
 * A fake device records what reaches it. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "pci/pci.h"

#define MOVES_MAX 32

struct fake {
	struct pci_dev pci;
	unsigned int accesses, last_bar, last_len;
	uint64_t last_off;
	bool last_write;
	unsigned int cfg_writes;
	unsigned int moves;
	unsigned int moved_bar[MOVES_MAX];
	uint64_t moved_addr[MOVES_MAX];
};

static void fake_bar_access(struct pci_dev *dev, unsigned int bar, uint64_t offset, void *data,
			    unsigned int len, bool is_write)
{
	struct fake *f = dev->opaque;

	f->accesses++;
	f->last_bar = bar;
	f->last_off = offset;
	f->last_len = len;
	f->last_write = is_write;
	if (!is_write)
		memset(data, 0xa0 + (int)bar, len);
}

static void fake_config_write(struct pci_dev *dev, unsigned int offset, unsigned int len,
			      uint32_t old)
{
	struct fake *f = dev->opaque;

	f->cfg_writes++;
}

static void fake_bar_moved(struct pci_dev *dev, unsigned int bar, uint64_t addr)
{
	struct fake *f = dev->opaque;

	if (f->moves < MOVES_MAX) {
		f->moved_bar[f->moves] = bar;
		f->moved_addr[f->moves] = addr;
	}
	f->moves++;
}

static const struct pci_dev_ops fake_ops = {
	.name = "fake",
	.bar_access = fake_bar_access,
	.config_write = fake_config_write,
	.bar_moved = fake_bar_moved,
};

static const struct pci_windows test_win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.mmio64_base = 8 * GiB,
	.mmio64_size = 64 * GiB,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

static struct pci_bus bus;
static struct fake fa, fb, many[PCI_MAX_DEVS];

/* BAR0 32-bit 4 KiB, BAR1 I/O 32 bytes, BAR2-3 64-bit prefetchable 1 MiB,
 * BAR4-5 64-bit prefetchable 8 GiB. */
static void fake_init(struct fake *f)
{
	pci_dev_init(&f->pci, 0x1234, 0xabcd, 0xff0000, 3, &fake_ops, f);
	CU_ASSERT_EQUAL(pci_dev_set_bar(&f->pci, 0, PCI_BAR_MEM32, 0x1000, false), 0);
	CU_ASSERT_EQUAL(pci_dev_set_bar(&f->pci, 1, PCI_BAR_IO, 0x20, false), 0);
	CU_ASSERT_EQUAL(pci_dev_set_bar(&f->pci, 2, PCI_BAR_MEM64, 1 * MiB, true), 0);
	CU_ASSERT_EQUAL(pci_dev_set_bar(&f->pci, 4, PCI_BAR_MEM64, 8 * GiB, true), 0);
}

static void setup(void)
{
	memset(&fa, 0, sizeof(fa));
	memset(&fb, 0, sizeof(fb));
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &test_win), 0);
	fake_init(&fa);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &fa.pci), 0);
}

static uint32_t rd(unsigned int slot, unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_access(&bus, 0, slot << 3, off, b, len, false);
	return len == 1 ? b[0] : len == 2 ? get_le16(b) : get_le32(b);
}

static void wr(unsigned int slot, unsigned int off, unsigned int len, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cfg_access(&bus, 0, slot << 3, off, b, len, true);
}

static uint64_t bar64(unsigned int slot, unsigned int bar)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * bar;

	return (rd(slot, reg, 4) & ~0xfULL) | (uint64_t)rd(slot, reg + 4, 4) << 32;
}

static void test_pci_host_bridge(void)
{
	setup();
	CU_ASSERT_EQUAL(rd(0, PCI_VENDOR_ID, 2), PCI_HOST_VENDOR);
	CU_ASSERT_EQUAL(rd(0, PCI_DEVICE_ID, 2), PCI_HOST_DEVICE);
	CU_ASSERT_EQUAL(rd(0, PCI_CLASS_REVISION, 4) >> 8, 0x060000u);
	CU_ASSERT_EQUAL(rd(0, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	CU_ASSERT_EQUAL(rd(0, PCI_BASE_ADDRESS_0, 4), 0);
	/* The fake went to slot 1; slot 2, function 1 and bus 1 are absent. */
	CU_ASSERT_EQUAL(fa.pci.slot, 1);
	CU_ASSERT_EQUAL(rd(1, PCI_VENDOR_ID, 4), 0xabcd1234u);
	CU_ASSERT_EQUAL(rd(2, PCI_VENDOR_ID, 4), 0xffffffffu);
	{
		uint8_t b[4];

		pci_cfg_access(&bus, 0, (1 << 3) | 1, 0, b, 4, false);
		CU_ASSERT_EQUAL(get_le32(b), 0xffffffffu);
		pci_cfg_access(&bus, 1, 0, 0, b, 4, false);
		CU_ASSERT_EQUAL(get_le32(b), 0xffffffffu);
	}
	CU_ASSERT_EQUAL(pci_register(&bus, &fa.pci), -EEXIST);
	pci_bus_destroy(&bus);
}

static uint32_t size_bar(unsigned int slot, unsigned int reg)
{
	uint32_t old = rd(slot, reg, 4), sz;

	wr(slot, reg, 4, 0xffffffff);
	sz = rd(slot, reg, 4);
	wr(slot, reg, 4, old);
	CU_ASSERT_EQUAL(rd(slot, reg, 4), old);
	return sz;
}

static void test_pci_bar_sizing(void)
{
	setup();
	CU_ASSERT_EQUAL(size_bar(1, PCI_BASE_ADDRESS_0), 0xfffff000u);
	CU_ASSERT_EQUAL(size_bar(1, PCI_BASE_ADDRESS_1), 0xffffffe0u | PCI_BASE_ADDRESS_SPACE_IO);
	CU_ASSERT_EQUAL(size_bar(1, PCI_BASE_ADDRESS_2),
			0xfff00000u | PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	CU_ASSERT_EQUAL(size_bar(1, PCI_BASE_ADDRESS_3), 0xffffffffu);
	/* 8 GiB: nothing writable in the low dword, bit 0 of the high one fixed. */
	CU_ASSERT_EQUAL(size_bar(1, PCI_BASE_ADDRESS_4),
			PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	CU_ASSERT_EQUAL(size_bar(1, PCI_BASE_ADDRESS_5), 0xfffffffeu);
	/* No ROM: sizing the expansion ROM BAR reads 0. */
	CU_ASSERT_EQUAL(size_bar(1, PCI_ROM_ADDRESS), 0);

	/* Bad declarations. */
	{
		struct pci_dev *d = &fb.pci;

		pci_dev_init(d, 1, 2, 0, 0, &fake_ops, &fb);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 6, PCI_BAR_MEM32, 0x1000, false), -EINVAL);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 0, PCI_BAR_MEM32, 0x1800, false), -EINVAL);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 0, PCI_BAR_MEM32, 8, false), -EINVAL);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 0, PCI_BAR_IO, 2, false), -EINVAL);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 5, PCI_BAR_MEM64, 0x1000, false), -EINVAL);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 0, PCI_BAR_MEM64, 0x1000, false), 0);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 1, PCI_BAR_MEM32, 0x1000, false), -EBUSY);
		CU_ASSERT_EQUAL(pci_dev_set_bar(d, 0, PCI_BAR_MEM32, 0x1000, false), -EBUSY);
	}
	pci_bus_destroy(&bus);
}

static void test_pci_bar_assignment(void)
{
	const struct pci_windows *w = &test_win;
	uint64_t a0, a2, a4, b0;
	uint32_t io;

	setup();
	fake_init(&fb);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &fb.pci), 0);
	CU_ASSERT_EQUAL(fb.pci.slot, 2);

	a0 = rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	io = rd(1, PCI_BASE_ADDRESS_1, 4);
	a2 = bar64(1, 2);
	a4 = bar64(1, 4);
	CU_ASSERT(a0 >= w->mmio32_base && a0 + 0x1000 <= w->mmio32_base + w->mmio32_size);
	CU_ASSERT_EQUAL(a0 % 0x1000, 0);
	CU_ASSERT_EQUAL(io & 3, PCI_BASE_ADDRESS_SPACE_IO);
	io &= ~3u;
	CU_ASSERT(io >= w->pio_base && io + 0x20 <= w->pio_base + w->pio_size);
	CU_ASSERT_EQUAL(io % 0x20, 0);
	/* Prefetchable 64-bit BARs go to the 64-bit window. */
	CU_ASSERT(a2 >= w->mmio64_base && a2 + MiB <= w->mmio64_base + w->mmio64_size);
	CU_ASSERT_EQUAL(a2 % MiB, 0);
	CU_ASSERT(a4 >= w->mmio64_base && a4 + 8 * GiB <= w->mmio64_base + w->mmio64_size);
	CU_ASSERT_EQUAL(a4 % (8 * GiB), 0);
	/* The second device does not overlap the first. */
	b0 = rd(2, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	CU_ASSERT(b0 >= a0 + 0x1000 || b0 + 0x1000 <= a0);
	CU_ASSERT_NOT_EQUAL(rd(2, PCI_BASE_ADDRESS_1, 4) & ~3u, io);
	CU_ASSERT(bar64(2, 4) >= a4 + 8 * GiB || bar64(2, 4) + 8 * GiB <= a4);
	/* Assigned, but not decoding until the guest enables it. */
	CU_ASSERT_EQUAL(rd(1, PCI_COMMAND, 2), 0);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, 0), 0);
	pci_bus_destroy(&bus);

	/* A tight bus: no 64-bit window, 8 KiB of MMIO. */
	{
		struct pci_windows small = test_win;

		small.mmio32_size = 0x2000;
		small.mmio64_size = 0;
		CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &small), 0);
		pci_dev_init(&fa.pci, 1, 2, 0, 0, &fake_ops, &fa);
		pci_dev_set_bar(&fa.pci, 0, PCI_BAR_MEM32, 0x1000, false);
		pci_dev_set_bar(&fa.pci, 2, PCI_BAR_MEM64, 0x1000, true);  /* falls back low */
		CU_ASSERT_EQUAL(pci_register(&bus, &fa.pci), 0);
		CU_ASSERT_EQUAL(bar64(1, 2), small.mmio32_base + 0x1000);
		pci_dev_init(&fb.pci, 1, 2, 0, 0, &fake_ops, &fb);
		pci_dev_set_bar(&fb.pci, 0, PCI_BAR_IO, 0x10, false);
		pci_dev_set_bar(&fb.pci, 1, PCI_BAR_MEM32, 0x1000, false);
		CU_ASSERT_EQUAL(pci_register(&bus, &fb.pci), -ENOSPC);
		CU_ASSERT_EQUAL(rd(2, PCI_VENDOR_ID, 2), 0xffff);
		/* Nothing was consumed by the failed attempt: an I/O BAR
		 * registered next gets the start of the window. */
		pci_dev_init(&fb.pci, 1, 2, 0, 0, &fake_ops, &fb);
		pci_dev_set_bar(&fb.pci, 0, PCI_BAR_IO, 0x10, false);
		CU_ASSERT_EQUAL(pci_register(&bus, &fb.pci), 0);
		CU_ASSERT_EQUAL(rd(2, PCI_BASE_ADDRESS_0, 4) & ~3u, small.pio_base);
		pci_bus_destroy(&bus);
	}
}

static void test_pci_slots_full(void)
{
	unsigned int i;

	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &test_win), 0);
	for (i = 1; i < PCI_MAX_DEVS; i++) {
		pci_dev_init(&many[i].pci, 1, (uint16_t)i, 0, 0, &fake_ops, &many[i]);
		CU_ASSERT_EQUAL(pci_register(&bus, &many[i].pci), 0);
		CU_ASSERT_EQUAL(many[i].pci.slot, i);
	}
	pci_dev_init(&many[0].pci, 1, 0, 0, 0, &fake_ops, &many[0]);
	CU_ASSERT_EQUAL(pci_register(&bus, &many[0].pci), -ENOSPC);
	pci_bus_destroy(&bus);
}

static void mmio(uint64_t addr, void *data, unsigned int len, bool is_write)
{
	if (addr >= test_win.mmio64_base)
		pci_mmio64_handler(&bus, addr - test_win.mmio64_base, data, len, is_write);
	else
		pci_mmio32_handler(&bus, addr - test_win.mmio32_base, data, len, is_write);
}

static void test_pci_decode_gating(void)
{
	uint64_t a0, a2;
	uint32_t io, v;

	setup();
	a0 = rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	a2 = bar64(1, 2);
	io = rd(1, PCI_BASE_ADDRESS_1, 4) & ~3u;

	/* Decoding off: nothing reaches the device. */
	v = 0;
	mmio(a0 + 8, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	mmio(a0 + 8, &v, 4, true);
	pci_pio_handler(&bus, io - test_win.pio_base, &v, 4, false);
	CU_ASSERT_EQUAL(fa.accesses, 0);

	/* Memory on: memory BARs decode, the I/O BAR still does not. */
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	mmio(a0 + 8, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xa0a0a0a0u);
	CU_ASSERT_EQUAL(fa.accesses, 1);
	CU_ASSERT_EQUAL(fa.last_bar, 0);
	CU_ASSERT_EQUAL(fa.last_off, 8);
	mmio(a2 + 0x100, &v, 2, true);
	CU_ASSERT_EQUAL(fa.accesses, 2);
	CU_ASSERT_EQUAL(fa.last_bar, 2);
	CU_ASSERT_EQUAL(fa.last_off, 0x100);
	CU_ASSERT(fa.last_write);
	v = 0;
	pci_pio_handler(&bus, io - test_win.pio_base, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	CU_ASSERT_EQUAL(fa.accesses, 2);
	/* Straddling the end of a BAR, or hitting no BAR: all-ones. */
	mmio(a0 + 0xffe, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	mmio(test_win.mmio32_base + test_win.mmio32_size - 4, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	CU_ASSERT_EQUAL(fa.accesses, 2);

	/* I/O on. */
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	pci_pio_handler(&bus, io + 4 - test_win.pio_base, &v, 1, false);
	CU_ASSERT_EQUAL(v & 0xff, 0xa1);
	CU_ASSERT_EQUAL(fa.last_bar, 1);
	CU_ASSERT_EQUAL(fa.last_off, 4);

	/* Memory off again. */
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
	mmio(a0, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	CU_ASSERT_EQUAL(fa.accesses, 3);
	pci_bus_destroy(&bus);
}

static void test_pci_masks(void)
{
	setup();
	/* Identity, header type, subsystem, capability pointer, interrupt pin
	 * and BIST are read-only. */
	wr(1, PCI_VENDOR_ID, 4, 0);
	wr(1, PCI_CLASS_REVISION, 4, 0);
	wr(1, PCI_CACHE_LINE_SIZE, 4, 0xffffffff);
	wr(1, PCI_SUBSYSTEM_VENDOR_ID, 4, 0xffffffff);
	wr(1, PCI_CAPABILITY_LIST, 1, 0x80);
	wr(1, PCI_INTERRUPT_LINE, 2, 0xffff);
	CU_ASSERT_EQUAL(rd(1, PCI_VENDOR_ID, 4), 0xabcd1234u);
	CU_ASSERT_EQUAL(rd(1, PCI_CLASS_REVISION, 4), 0xff000003u);
	CU_ASSERT_EQUAL(rd(1, PCI_CACHE_LINE_SIZE, 4), 0x0000ffffu);  /* line, latency */
	CU_ASSERT_EQUAL(rd(1, PCI_SUBSYSTEM_VENDOR_ID, 4), 0);
	CU_ASSERT_EQUAL(rd(1, PCI_CAPABILITY_LIST, 1), 0);
	CU_ASSERT_EQUAL(rd(1, PCI_INTERRUPT_LINE, 2), 0x00ff);
	/* Command: only the documented bits stick. */
	wr(1, PCI_COMMAND, 2, 0xffff);
	CU_ASSERT_EQUAL(rd(1, PCI_COMMAND, 2),
			PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	wr(1, PCI_COMMAND, 2, 0);

	/* W1C status: the device latched two errors (tests are single-threaded,
	 * so poking cfg directly is fine here). */
	put_le16(fa.pci.cfg + PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR |
		 PCI_STATUS_CAP_LIST);
	wr(1, PCI_STATUS, 2, 0);
	CU_ASSERT_EQUAL(rd(1, PCI_STATUS, 2), PCI_STATUS_REC_MASTER_ABORT |
			PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_CAP_LIST);
	wr(1, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
	CU_ASSERT_EQUAL(rd(1, PCI_STATUS, 2), PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_CAP_LIST);
	/* A dword write to 0x04 writes command and clears status together. */
	wr(1, PCI_COMMAND, 4, 0xffff0000u | PCI_COMMAND_MASTER);
	CU_ASSERT_EQUAL(rd(1, PCI_COMMAND, 4), (uint32_t)PCI_STATUS_CAP_LIST << 16 |
			PCI_COMMAND_MASTER);
	pci_bus_destroy(&bus);
}

static void test_pci_caps(void)
{
	static const uint8_t ids[] = { PCI_CAP_ID_VNDR, PCI_CAP_ID_MSI, PCI_CAP_ID_EXP };
	static const unsigned int lens[] = { 5, 14, 60 };
	unsigned int p, i, prev_end = PCI_STD_HEADER_SIZEOF;
	struct pci_dev *d = &fb.pci;
	int off, n;

	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &test_win), 0);
	pci_dev_init(d, 1, 2, 0, 0, &fake_ops, &fb);
	CU_ASSERT_EQUAL(pci_dev_add_cap(d, 1, 1), -EINVAL);
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		CU_ASSERT(pci_dev_add_cap(d, ids[i], lens[i]) >= PCI_STD_HEADER_SIZEOF);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, d), 0);

	CU_ASSERT(rd(1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	p = rd(1, PCI_CAPABILITY_LIST, 1);
	for (i = 0; p && i < 64; i++) {
		CU_ASSERT_FATAL(i < ARRAY_SIZE(ids));
		CU_ASSERT_EQUAL(p % 4, 0);
		CU_ASSERT(p >= prev_end);
		CU_ASSERT_EQUAL(rd(1, p, 1), ids[i]);
		prev_end = p + lens[i];
		p = rd(1, p + PCI_CAP_LIST_NEXT, 1);
	}
	CU_ASSERT_EQUAL(i, ARRAY_SIZE(ids));
	CU_ASSERT(prev_end <= PCI_CFG_SPACE_SIZE);
	pci_bus_destroy(&bus);

	/* Fill the standard space exactly, then one more fails. */
	pci_dev_init(d, 1, 2, 0, 0, &fake_ops, &fb);
	for (n = 0; (off = pci_dev_add_cap(d, 0x09, 64)) >= 0; n++)
		CU_ASSERT(off + 64 <= PCI_CFG_SPACE_SIZE);
	CU_ASSERT_EQUAL(off, -ENOSPC);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(pci_dev_add_cap(d, 0x09, 4), -ENOSPC);
	pci_dev_init(d, 1, 2, 0, 0, &fake_ops, &fb);
	CU_ASSERT_EQUAL(pci_dev_add_cap(d, 0x09, 190), 0x40);
	CU_ASSERT_EQUAL(pci_dev_add_cap(d, 0x09, 4), -ENOSPC);
}

static void test_pci_bad_access(void)
{
	static const struct { unsigned int off, len; } bad[] = {
		{ 1, 2 }, { 2, 4 }, { 0, 3 }, { 4, 3 }, { 4095, 4 }, { 4094, 4 },
		{ 4096, 1 }, { 4096, 4 }, { 0x7fffffff, 1 }, { 0xffffffff, 4 }, { 0, 8 },
		{ 0, 0 }, { 0, 16 }, { 0x3f, 2 },
	};
	struct pci_dev snap;
	uint8_t buf[16];

	setup();
	memcpy(&snap, &fa.pci, sizeof(snap));
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(buf, 0, sizeof(buf));
		pci_cfg_access(&bus, 0, 1 << 3, bad[i].off, buf, bad[i].len, false);
		for (unsigned int j = 0; j < bad[i].len; j++)
			CU_ASSERT_EQUAL(buf[j], 0xff);
		memset(buf, 0xff, sizeof(buf));
		pci_cfg_access(&bus, 0, 1 << 3, bad[i].off, buf, bad[i].len, true);
		if (bad[i].off < PCI_CFG_SIZE)
			pci_ecam_handler(&bus, (1 << 15) | bad[i].off, buf, bad[i].len, true);
	}
	/* Odd devfn values: functions, slots past 31. */
	pci_cfg_access(&bus, 0, (1 << 3) | 7, PCI_COMMAND, buf, 2, true);
	pci_cfg_access(&bus, 0, 0x100 | (1 << 3), PCI_COMMAND, buf, 2, true);
	pci_cfg_access(&bus, 0x100, 1 << 3, PCI_COMMAND, buf, 2, true);
	CU_ASSERT_EQUAL(memcmp(&snap, &fa.pci, sizeof(snap)), 0);
	CU_ASSERT_EQUAL(fa.cfg_writes, 0);
	/* Extended space exists and reads 0; the last dword is reachable. */
	CU_ASSERT_EQUAL(rd(1, 4092, 4), 0);
	CU_ASSERT_EQUAL(rd(1, 4095, 1), 0);
	/* ECAM beyond 256 buses. */
	memset(buf, 0, sizeof(buf));
	pci_ecam_handler(&bus, 256ULL << 20, buf, 4, false);
	CU_ASSERT_EQUAL(get_le32(buf), 0xffffffffu);
	pci_bus_destroy(&bus);
}

static uint32_t via_ecam(unsigned int slot, unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_ecam_handler(&bus, (uint64_t)slot << 15 | off, b, len, false);
	return len == 1 ? b[0] : len == 2 ? get_le16(b) : get_le32(b);
}

static void cf8_set(uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cf8_handler(&bus, 0, b, 4, true);
}

static uint32_t via_cf8(unsigned int slot, unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	cf8_set(0x80000000u | slot << 11 | (off & 0xfc));
	pci_cf8_handler(&bus, 4 + (off & 3), b, len, false);
	return len == 1 ? b[0] : len == 2 ? get_le16(b) : get_le32(b);
}

static unsigned int cf9_calls;
static uint8_t cf9_val;

static void cf9_hook(void *opaque, uint8_t val)
{
	cf9_calls++;
	cf9_val = val;
}

static void test_pci_cf8_ecam(void)
{
	uint8_t b[4];

	setup();
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	for (unsigned int slot = 0; slot < 3; slot++)
		for (unsigned int len = 1; len <= 4; len *= 2)
			for (unsigned int off = 0; off < PCI_CFG_SPACE_SIZE; off += len)
				CU_ASSERT_EQUAL(via_cf8(slot, off, len), via_ecam(slot, off, len));

	/* A byte write through 0xcfd lands where ECAM sees it. */
	cf8_set(0x80000000u | 1 << 11 | PCI_INTERRUPT_LINE);
	b[0] = 0x0b;
	pci_cf8_handler(&bus, 4, b, 1, true);
	CU_ASSERT_EQUAL(via_ecam(1, PCI_INTERRUPT_LINE, 1), 0x0b);
	/* CONFIG_ADDRESS reads back (reserved bits dropped). */
	cf8_set(0xff00ff03u);
	pci_cf8_handler(&bus, 0, b, 4, false);
	CU_ASSERT_EQUAL(get_le32(b), 0x8000ff00u);
	/* Enable bit clear, bus 1, function 1, misaligned data: all-ones. */
	cf8_set(1 << 11);
	pci_cf8_handler(&bus, 4, b, 4, false);
	CU_ASSERT_EQUAL(get_le32(b), 0xffffffffu);
	cf8_set(0x80000000u | 1 << 16 | 1 << 11);
	pci_cf8_handler(&bus, 4, b, 4, false);
	CU_ASSERT_EQUAL(get_le32(b), 0xffffffffu);
	cf8_set(0x80000000u | 1 << 11 | 1 << 8);
	pci_cf8_handler(&bus, 4, b, 4, false);
	CU_ASSERT_EQUAL(get_le32(b), 0xffffffffu);
	cf8_set(0x80000000u | 1 << 11);
	pci_cf8_handler(&bus, 5, b, 2, false);
	CU_ASSERT_EQUAL(get_le16(b), 0xffff);
	pci_cf8_handler(&bus, 6, b, 4, false);
	CU_ASSERT_EQUAL(get_le32(b), 0xffffffffu);
	/* Narrow accesses at 0xcf8/0xcfa do not touch CONFIG_ADDRESS. */
	b[0] = 0;
	pci_cf8_handler(&bus, 0, b, 1, true);
	pci_cf8_handler(&bus, 2, b, 2, true);
	CU_ASSERT_EQUAL(bus.cf8, 0x80000000u | 1 << 11);

	/* 0xcf9 goes to the reset hook, or nowhere. */
	b[0] = 0x06;
	pci_cf8_handler(&bus, 1, b, 1, true);
	CU_ASSERT_EQUAL(cf9_calls, 0);
	bus.cf9_write = cf9_hook;
	pci_cf8_handler(&bus, 1, b, 1, true);
	CU_ASSERT_EQUAL(cf9_calls, 1);
	CU_ASSERT_EQUAL(cf9_val, 0x06);
	pci_cf8_handler(&bus, 1, b, 1, false);
	CU_ASSERT_EQUAL(b[0], 0);
	CU_ASSERT_EQUAL(bus.cf8, 0x80000000u | 1 << 11);
	pci_bus_destroy(&bus);
}

static void test_pci_bar_moved(void)
{
	uint64_t a0, a2;

	setup();
	a0 = rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	a2 = bar64(1, 2);
	CU_ASSERT_EQUAL(fa.moves, 0);

	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CU_ASSERT_EQUAL(fa.moves, 3);   /* BARs 0, 2, 4 */
	CU_ASSERT_EQUAL(fa.moved_bar[0], 0);
	CU_ASSERT_EQUAL(fa.moved_addr[0], a0);
	CU_ASSERT_EQUAL(fa.moved_bar[1], 2);
	CU_ASSERT_EQUAL(fa.moved_addr[1], a2);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, 0), a0);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, 1), 0);

	/* The guest moves BAR0 inside the window. */
	fa.moves = 0;
	wr(1, PCI_BASE_ADDRESS_0, 4, (uint32_t)a0 + 0x100000);
	CU_ASSERT_EQUAL(fa.moves, 1);
	CU_ASSERT_EQUAL(fa.moved_addr[0], a0 + 0x100000);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, 0), a0 + 0x100000);
	/* Sizing while decoding: leaves the window (addr 0), then comes back. */
	fa.moves = 0;
	CU_ASSERT_EQUAL(size_bar(1, PCI_BASE_ADDRESS_0), 0xfffff000u);
	CU_ASSERT_EQUAL(fa.moves, 2);
	CU_ASSERT_EQUAL(fa.moved_addr[0], 0);
	CU_ASSERT_EQUAL(fa.moved_addr[1], a0 + 0x100000);
	/* Outside every window: not decoded, so not reported as an address. */
	fa.moves = 0;
	wr(1, PCI_BASE_ADDRESS_0, 4, 0x1000);
	CU_ASSERT_EQUAL(fa.moves, 1);
	CU_ASSERT_EQUAL(fa.moved_addr[0], 0);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, 0), 0);
	/* A write that changes nothing moves nothing. */
	fa.moves = 0;
	wr(1, PCI_BASE_ADDRESS_0, 4, 0x1000);
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CU_ASSERT_EQUAL(fa.moves, 0);
	/* Decode off: every decoded BAR reports 0. */
	wr(1, PCI_COMMAND, 2, 0);
	CU_ASSERT_EQUAL(fa.moves, 2);
	CU_ASSERT_EQUAL(fa.moved_addr[0], 0);
	CU_ASSERT_EQUAL(fa.moved_addr[1], 0);
	CU_ASSERT(fa.cfg_writes > 0);
	pci_bus_destroy(&bus);
}

/* pci_unregister: the slot and the BAR space are free again, decoded BARs
 * report addr 0, accesses no longer reach the device, and a later device
 * (or the same one again) reuses the space. */
static void test_pci_unregister(void)
{
	uint64_t a0, a2, a4;
	uint32_t io;
	uint8_t b[4];

	setup();
	a0 = rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	io = rd(1, PCI_BASE_ADDRESS_1, 4) & ~3u;
	a2 = bar64(1, 2);
	a4 = bar64(1, 4);
	fake_init(&fb);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &fb.pci), 0);
	CU_ASSERT_EQUAL(fb.pci.slot, 2);
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	fa.moves = 0;
	fa.accesses = 0;

	CU_ASSERT_EQUAL(pci_unregister(&bus, &fa.pci), 0);
	CU_ASSERT_EQUAL(fa.moves, 4);   /* every decoded BAR: 0, 1, 2, 4 */
	for (unsigned int i = 0; i < 4 && i < fa.moves; i++)
		CU_ASSERT_EQUAL(fa.moved_addr[i], 0);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, 0), 0);
	CU_ASSERT_EQUAL(rd(1, PCI_VENDOR_ID, 4), 0xffffffffu);
	pci_mmio32_handler(&bus, a0 - test_win.mmio32_base, b, 4, false);
	CU_ASSERT_EQUAL(get_le32(b), 0xffffffffu);
	CU_ASSERT_EQUAL(fa.accesses, 0);
	/* Twice, never registered, or the host bridge: -ENOENT. */
	CU_ASSERT_EQUAL(pci_unregister(&bus, &fa.pci), -ENOENT);
	CU_ASSERT_EQUAL(pci_unregister(&bus, &many[0].pci), -ENOENT);
	CU_ASSERT_EQUAL(pci_unregister(&bus, &bus.host_bridge), -ENOENT);
	CU_ASSERT_EQUAL(rd(0, PCI_VENDOR_ID, 2), PCI_HOST_VENDOR);
	/* fb is untouched. */
	CU_ASSERT_EQUAL(rd(2, PCI_VENDOR_ID, 4), 0xabcd1234u);

	/* A new device takes the freed slot and the freed space. */
	fake_init(&many[1]);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &many[1].pci), 0);
	CU_ASSERT_EQUAL(many[1].pci.slot, 1);
	CU_ASSERT_EQUAL(rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu, a0);
	CU_ASSERT_EQUAL(rd(1, PCI_BASE_ADDRESS_1, 4) & ~3u, io);
	CU_ASSERT_EQUAL(bar64(1, 2), a2);
	CU_ASSERT_EQUAL(bar64(1, 4), a4);
	/* The same struct can come back after it left; it starts clean. */
	CU_ASSERT_EQUAL(pci_unregister(&bus, &many[1].pci), 0);
	CU_ASSERT_EQUAL(pci_unregister(&bus, &fb.pci), 0);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &fa.pci), 0);
	CU_ASSERT_EQUAL(fa.pci.slot, 1);
	CU_ASSERT_EQUAL(rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu, a0);
	CU_ASSERT_EQUAL(bar64(1, 4), a4);
	pci_bus_destroy(&bus);
}

/* First fit: a hole left by an unregistered device in the middle is used
 * by a device that fits in it; one that does not goes after the rest. */
static void test_pci_reuse_hole(void)
{
	uint64_t a[3];

	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &test_win), 0);
	for (unsigned int i = 1; i <= 3; i++) {
		pci_dev_init(&many[i].pci, 1, (uint16_t)i, 0, 0, &fake_ops, &many[i]);
		pci_dev_set_bar(&many[i].pci, 0, PCI_BAR_MEM32, 0x4000, false);
		CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &many[i].pci), 0);
		a[i - 1] = rd(i, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	}
	CU_ASSERT_EQUAL(a[1], a[0] + 0x4000);
	CU_ASSERT_EQUAL(a[2], a[1] + 0x4000);
	CU_ASSERT_EQUAL(pci_unregister(&bus, &many[2].pci), 0);
	pci_dev_init(&many[4].pci, 1, 4, 0, 0, &fake_ops, &many[4]);
	pci_dev_set_bar(&many[4].pci, 0, PCI_BAR_MEM32, 0x8000, false);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &many[4].pci), 0);
	CU_ASSERT_EQUAL(many[4].pci.slot, 2);
	CU_ASSERT(rd(2, PCI_BASE_ADDRESS_0, 4) >= a[2] + 0x4000);
	pci_dev_init(&many[5].pci, 1, 5, 0, 0, &fake_ops, &many[5]);
	pci_dev_set_bar(&many[5].pci, 0, PCI_BAR_MEM32, 0x1000, false);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &many[5].pci), 0);
	CU_ASSERT_EQUAL(rd(4, PCI_BASE_ADDRESS_0, 4) & ~0xfu, a[1]);
	pci_bus_destroy(&bus);
}

/* Config access by devfn (the helpers above take a slot: function 0). */
static uint32_t rdf(unsigned int devfn, unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_access(&bus, 0, devfn, off, b, len, false);
	return len == 1 ? b[0] : len == 2 ? get_le16(b) : get_le32(b);
}

static void wrf(unsigned int devfn, unsigned int off, unsigned int len, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cfg_access(&bus, 0, devfn, off, b, len, true);
}

/* The expansion ROM: declared with pci_dev_set_rom, sized like a BAR (the
 * enable bit is writable, bits 10:1 are not), placed in the 32-bit window
 * clear of the other BARs, decoding only while both its enable bit and
 * COMMAND.MEMORY are set, reported to bar_moved and bar_access as index 6. */
static void test_pci_rom(void)
{
	const struct pci_windows *w = &test_win;
	uint64_t a0, rom;
	uint32_t v;

	/* Bad declarations: under 2 KiB, not a power of two, over 2 GiB, twice. */
	pci_dev_init(&fa.pci, 1, 2, 0, 0, &fake_ops, &fa);
	CU_ASSERT_EQUAL(pci_dev_set_rom(&fa.pci, 1024), -EINVAL);
	CU_ASSERT_EQUAL(pci_dev_set_rom(&fa.pci, 0x3000), -EINVAL);
	CU_ASSERT_EQUAL(pci_dev_set_rom(&fa.pci, 4 * GiB), -EINVAL);
	CU_ASSERT_EQUAL(pci_dev_set_rom(&fa.pci, 0), -EINVAL);
	CU_ASSERT_EQUAL(fa.pci.bars[PCI_ROM_BAR].type, PCI_BAR_NONE);
	CU_ASSERT_EQUAL(pci_dev_set_rom(&fa.pci, 2048), 0);
	CU_ASSERT_EQUAL(pci_dev_set_rom(&fa.pci, 2048), -EBUSY);
	CU_ASSERT_EQUAL(pci_bar_reg(PCI_ROM_BAR), PCI_ROM_ADDRESS);
	CU_ASSERT_EQUAL(pci_bar_reg(2), PCI_BASE_ADDRESS_2);

	/* BAR0 (4 KiB), then a 64 KiB ROM. */
	memset(&fa, 0, sizeof(fa));
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &test_win), 0);
	pci_dev_init(&fa.pci, 0x1234, 0xabcd, 0xff0000, 0, &fake_ops, &fa);
	CU_ASSERT_EQUAL(pci_dev_set_bar(&fa.pci, 0, PCI_BAR_MEM32, 0x1000, false), 0);
	CU_ASSERT_EQUAL(pci_dev_set_rom(&fa.pci, 64 * KiB), 0);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &fa.pci), 0);
	a0 = rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	v = rd(1, PCI_ROM_ADDRESS, 4);
	rom = v & PCI_ROM_ADDRESS_MASK;
	CU_ASSERT_EQUAL(v & ~PCI_ROM_ADDRESS_MASK, 0);        /* placed disabled */
	CU_ASSERT(rom >= w->mmio32_base && rom + 64 * KiB <= w->mmio32_base + w->mmio32_size);
	CU_ASSERT_EQUAL(rom % (64 * KiB), 0);
	CU_ASSERT(rom >= a0 + 0x1000 || rom + 64 * KiB <= a0);
	/* Sizing: all-ones reads back the size mask and the enable bit. */
	CU_ASSERT_EQUAL(size_bar(1, PCI_ROM_ADDRESS), 0xffff0000u | PCI_ROM_ADDRESS_ENABLE);
	wr(1, PCI_ROM_ADDRESS, 4, 0xfffffffeu);
	CU_ASSERT_EQUAL(rd(1, PCI_ROM_ADDRESS, 4), 0xffff0000u);
	wr(1, PCI_ROM_ADDRESS, 4, (uint32_t)rom);
	CU_ASSERT_EQUAL(fa.moves, 0);

	/* Memory on, ROM disabled: BAR0 decodes, the ROM does not. */
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CU_ASSERT_EQUAL(fa.moves, 1);
	CU_ASSERT_EQUAL(fa.moved_bar[0], 0);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, PCI_ROM_BAR), 0);
	v = 0;
	mmio(rom + 0x10, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	CU_ASSERT_EQUAL(fa.accesses, 0);
	/* Enable bit set: decodes, bar_moved(6, rom), accesses reach bar 6. */
	fa.moves = 0;
	wr(1, PCI_ROM_ADDRESS, 4, (uint32_t)rom | PCI_ROM_ADDRESS_ENABLE);
	CU_ASSERT_EQUAL(rd(1, PCI_ROM_ADDRESS, 4), (uint32_t)rom | PCI_ROM_ADDRESS_ENABLE);
	CU_ASSERT_EQUAL(fa.moves, 1);
	CU_ASSERT_EQUAL(fa.moved_bar[0], PCI_ROM_BAR);
	CU_ASSERT_EQUAL(fa.moved_addr[0], rom);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, PCI_ROM_BAR), rom);
	mmio(rom + 0x10, &v, 4, false);
	CU_ASSERT_EQUAL(fa.accesses, 1);
	CU_ASSERT_EQUAL(fa.last_bar, PCI_ROM_BAR);
	CU_ASSERT_EQUAL(fa.last_off, 0x10);
	CU_ASSERT_EQUAL(v, 0xa6a6a6a6u);
	mmio(rom + 64 * KiB - 4, &v, 4, false);
	CU_ASSERT_EQUAL(fa.last_bar, PCI_ROM_BAR);
	CU_ASSERT_EQUAL(fa.last_off, 64 * KiB - 4);
	/* Memory off with the enable bit still set: stops decoding. */
	fa.moves = 0;
	wr(1, PCI_COMMAND, 2, 0);
	CU_ASSERT_EQUAL(fa.moves, 2);
	CU_ASSERT_EQUAL(fa.moved_bar[1], PCI_ROM_BAR);
	CU_ASSERT_EQUAL(fa.moved_addr[1], 0);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, PCI_ROM_BAR), 0);
	fa.accesses = 0;
	mmio(rom, &v, 4, false);
	CU_ASSERT_EQUAL(fa.accesses, 0);
	/* Memory on again, then the enable bit cleared alone. */
	wr(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, PCI_ROM_BAR), rom);
	fa.moves = 0;
	wr(1, PCI_ROM_ADDRESS, 4, (uint32_t)rom);
	CU_ASSERT_EQUAL(fa.moves, 1);
	CU_ASSERT_EQUAL(fa.moved_bar[0], PCI_ROM_BAR);
	CU_ASSERT_EQUAL(fa.moved_addr[0], 0);
	mmio(rom, &v, 4, false);
	CU_ASSERT_EQUAL(fa.accesses, 0);

	/* A second device's BARs stay clear of the ROM's space. */
	pci_dev_init(&fb.pci, 1, 2, 0, 0, &fake_ops, &fb);
	pci_dev_set_bar(&fb.pci, 0, PCI_BAR_MEM32, 64 * KiB, false);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &fb.pci), 0);
	{
		uint64_t b0 = rd(2, PCI_BASE_ADDRESS_0, 4) & ~0xfu;

		CU_ASSERT(b0 >= rom + 64 * KiB || b0 + 64 * KiB <= rom);
	}
	/* Unregistering a decoding ROM reports it gone and clears it. */
	wr(1, PCI_ROM_ADDRESS, 4, (uint32_t)rom | PCI_ROM_ADDRESS_ENABLE);
	fa.moves = 0;
	CU_ASSERT_EQUAL(pci_unregister(&bus, &fa.pci), 0);
	CU_ASSERT_EQUAL(fa.moves, 2);
	CU_ASSERT_EQUAL(fa.moved_bar[1], PCI_ROM_BAR);
	CU_ASSERT_EQUAL(fa.moved_addr[1], 0);
	CU_ASSERT_EQUAL(get_le32(fa.pci.cfg + PCI_ROM_ADDRESS), 0);
	pci_bus_destroy(&bus);
}

/* Multi-function: bus->devs by devfn, pci_register takes a whole free
 * slot, pci_register_at places a function, function 0 reads the
 * multi-function bit exactly while another function of its slot is there,
 * and every access path reaches functions 1-7. */
static void test_pci_multifunction(void)
{
	const unsigned int fn2 = 1 << 3 | 2;
	uint64_t a0, b0;
	uint32_t v;

	setup();   /* fa: slot 1, function 0 */
	CU_ASSERT_EQUAL(fa.pci.devfn, 1 << 3);
	CU_ASSERT_EQUAL(pci_dev_rid(&fa.pci), 1 << 3);
	/* Alone in its slot: no multi-function bit, whatever its cfg says. */
	fa.pci.cfg[PCI_HEADER_TYPE] = 0x80;
	CU_ASSERT_EQUAL(rd(1, PCI_HEADER_TYPE, 1), 0);
	CU_ASSERT_EQUAL(via_ecam(1, PCI_HEADER_TYPE, 1), 0);
	CU_ASSERT_EQUAL(via_cf8(1, PCI_HEADER_TYPE, 1), 0);
	fa.pci.cfg[PCI_HEADER_TYPE] = 0;
	CU_ASSERT_EQUAL(rdf(fn2, PCI_VENDOR_ID, 4), 0xffffffffu);

	/* Bad places. */
	fake_init(&fb);
	CU_ASSERT_EQUAL(pci_register_at(&bus, &fb.pci, 1 << 3), -EBUSY);
	CU_ASSERT_EQUAL(pci_register_at(&bus, &fb.pci, 0), -EINVAL);
	CU_ASSERT_EQUAL(pci_register_at(&bus, &fb.pci, 5), -EINVAL);
	CU_ASSERT_EQUAL(pci_register_at(&bus, &fb.pci, PCI_MAX_FNS), -EINVAL);
	CU_ASSERT_EQUAL(pci_register_at(&bus, &fb.pci, ~0u), -EINVAL);
	CU_ASSERT_EQUAL(pci_register_at(&bus, &fa.pci, fn2), -EEXIST);
	CU_ASSERT_EQUAL(rdf(fn2, PCI_VENDOR_ID, 4), 0xffffffffu);

	/* Function 2 of slot 1. */
	put_le16(fb.pci.cfg + PCI_DEVICE_ID, 0xbeef);
	CU_ASSERT_EQUAL_FATAL(pci_register_at(&bus, &fb.pci, fn2), 0);
	CU_ASSERT_EQUAL(fb.pci.devfn, fn2);
	CU_ASSERT_EQUAL(fb.pci.slot, 1);
	CU_ASSERT_EQUAL(pci_dev_rid(&fb.pci), fn2);
	CU_ASSERT_EQUAL(pci_register_at(&bus, &many[1].pci, fn2), -EBUSY);
	/* Function 0 now says so, on every path and width; function 2 not. */
	CU_ASSERT_EQUAL(rd(1, PCI_HEADER_TYPE, 1), 0x80);
	CU_ASSERT_EQUAL((rd(1, PCI_CACHE_LINE_SIZE, 4) >> 16) & 0xff, 0x80);
	CU_ASSERT_EQUAL(rd(1, PCI_HEADER_TYPE, 2), 0x0080);
	CU_ASSERT_EQUAL(via_ecam(1, PCI_HEADER_TYPE, 1), 0x80);
	CU_ASSERT_EQUAL(via_cf8(1, PCI_HEADER_TYPE, 1), 0x80);
	CU_ASSERT_EQUAL(fa.pci.cfg[PCI_HEADER_TYPE], 0);   /* not written into cfg */
	CU_ASSERT_EQUAL(rdf(fn2, PCI_HEADER_TYPE, 1), 0);
	/* Identity of function 2 through ECAM and 0xcf8/0xcfc. */
	CU_ASSERT_EQUAL(rdf(fn2, PCI_VENDOR_ID, 4), 0xbeef1234u);
	{
		uint8_t b[4] = { 0 };

		pci_ecam_handler(&bus, (uint64_t)fn2 << 12, b, 4, false);
		CU_ASSERT_EQUAL(get_le32(b), 0xbeef1234u);
		cf8_set(0x80000000u | fn2 << 8 | PCI_VENDOR_ID);
		memset(b, 0, sizeof(b));
		pci_cf8_handler(&bus, 4, b, 4, false);
		CU_ASSERT_EQUAL(get_le32(b), 0xbeef1234u);
		/* A byte written through 0xcfc lands in function 2 only. */
		cf8_set(0x80000000u | fn2 << 8 | PCI_INTERRUPT_LINE);
		b[0] = 0x0a;
		pci_cf8_handler(&bus, 4, b, 1, true);
		CU_ASSERT_EQUAL(fb.pci.cfg[PCI_INTERRUPT_LINE], 0x0a);
		CU_ASSERT_EQUAL(fa.pci.cfg[PCI_INTERRUPT_LINE], 0);
		b[0] = 0x0c;
		pci_ecam_handler(&bus, (uint64_t)fn2 << 12 | PCI_INTERRUPT_LINE, b, 1, true);
		CU_ASSERT_EQUAL(fb.pci.cfg[PCI_INTERRUPT_LINE], 0x0c);
		CU_ASSERT_EQUAL(fa.pci.cfg[PCI_INTERRUPT_LINE], 0);
	}
	/* Its BARs are placed clear of function 0's and decode for it. */
	a0 = rd(1, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	b0 = rdf(fn2, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	CU_ASSERT(b0 >= a0 + 0x1000 || b0 + 0x1000 <= a0);
	CU_ASSERT_NOT_EQUAL(rdf(fn2, PCI_BASE_ADDRESS_1, 4), rd(1, PCI_BASE_ADDRESS_1, 4));
	wrf(fn2, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CU_ASSERT_EQUAL(rd(1, PCI_COMMAND, 2), 0);
	CU_ASSERT_EQUAL(pci_bar_address(&fb.pci, 0), b0);
	CU_ASSERT_EQUAL(pci_bar_address(&fa.pci, 0), 0);
	mmio(b0 + 4, &v, 4, false);
	CU_ASSERT_EQUAL(fb.accesses, 1);
	CU_ASSERT_EQUAL(fb.last_off, 4);
	CU_ASSERT_EQUAL(fa.accesses, 0);

	/* pci_register wants a whole free slot: a slot holding only
	 * function 5 is not free either. */
	pci_dev_init(&many[1].pci, 1, 1, 0, 0, &fake_ops, &many[1]);
	CU_ASSERT_EQUAL_FATAL(pci_register_at(&bus, &many[1].pci, 3 << 3 | 5), 0);
	CU_ASSERT_EQUAL(rd(3, PCI_VENDOR_ID, 4), 0xffffffffu);   /* no function 0 */
	pci_dev_init(&many[2].pci, 1, 2, 0, 0, &fake_ops, &many[2]);
	pci_dev_init(&many[3].pci, 1, 3, 0, 0, &fake_ops, &many[3]);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &many[2].pci), 0);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &many[3].pci), 0);
	CU_ASSERT_EQUAL(many[2].pci.devfn, 2 << 3);
	CU_ASSERT_EQUAL(many[3].pci.devfn, 4 << 3);
	CU_ASSERT_EQUAL(rd(2, PCI_HEADER_TYPE, 1), 0);
	/* Function 0 placed after the others: it reads the bit at once. */
	pci_dev_init(&many[4].pci, 1, 4, 0, 0, &fake_ops, &many[4]);
	CU_ASSERT_EQUAL_FATAL(pci_register_at(&bus, &many[4].pci, 3 << 3), 0);
	CU_ASSERT_EQUAL(rd(3, PCI_HEADER_TYPE, 1), 0x80);

	/* Unregistering a function frees just it. */
	CU_ASSERT_EQUAL(pci_unregister(&bus, &fb.pci), 0);
	CU_ASSERT_EQUAL(rdf(fn2, PCI_VENDOR_ID, 4), 0xffffffffu);
	CU_ASSERT_EQUAL(rd(1, PCI_VENDOR_ID, 4), 0xabcd1234u);
	CU_ASSERT_EQUAL(rd(1, PCI_HEADER_TYPE, 1), 0);
	CU_ASSERT_EQUAL(pci_unregister(&bus, &fb.pci), -ENOENT);
	fb.accesses = 0;
	mmio(b0 + 4, &v, 4, false);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	CU_ASSERT_EQUAL(fb.accesses, 0);
	/* Function 0 leaves while function 5 stays. */
	CU_ASSERT_EQUAL(pci_unregister(&bus, &many[4].pci), 0);
	CU_ASSERT_EQUAL(rd(3, PCI_VENDOR_ID, 4), 0xffffffffu);
	CU_ASSERT_EQUAL(rdf(3 << 3 | 5, PCI_DEVICE_ID, 2), 1);
	CU_ASSERT_EQUAL(pci_unregister(&bus, &many[1].pci), 0);
	CU_ASSERT_EQUAL(rdf(3 << 3 | 5, PCI_VENDOR_ID, 4), 0xffffffffu);
	/* Slot 3 is whole again: the next pci_register takes it. */
	pci_dev_init(&many[5].pci, 1, 5, 0, 0, &fake_ops, &many[5]);
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &many[5].pci), 0);
	CU_ASSERT_EQUAL(many[5].pci.devfn, 3 << 3);
	pci_bus_destroy(&bus);
}

/* The config_read hook: runs after data was filled from cfg, sees the
 * access as made (offset and width, on every path), may overwrite bytes;
 * not called for writes, rejected accesses or absent functions. */
struct hook_log {
	unsigned int calls;
	unsigned int offset, len;
	uint8_t seen[4];
};

static struct hook_log hook;

static void hook_config_read(struct pci_dev *dev, unsigned int offset, unsigned int len,
			     void *data)
{
	uint8_t *b = data;

	hook.calls++;
	hook.offset = offset;
	hook.len = len;
	memcpy(hook.seen, data, len);
	/* The "device" owns config byte 0x42 and claims multi-function. */
	for (unsigned int i = 0; i < len; i++) {
		if (offset + i == 0x42)
			b[i] = 0x5a;
		if (offset + i == PCI_HEADER_TYPE)
			b[i] = 0x80;
	}
}

static const struct pci_dev_ops hook_ops = {
	.name = "hook",
	.config_read = hook_config_read,
};

static void test_pci_config_read_hook(void)
{
	memset(&hook, 0, sizeof(hook));
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&bus, &test_win), 0);
	pci_dev_init(&fa.pci, 0x1234, 0xabcd, 0, 0, &hook_ops, &fa);
	put_le32(fa.pci.cfg + 0x40, 0x44332211);
	fa.pci.wmask[0x40] = 0xff;
	CU_ASSERT_EQUAL_FATAL(pci_register(&bus, &fa.pci), 0);

	CU_ASSERT_EQUAL(rd(1, 0x40, 4), 0x445a2211u);
	CU_ASSERT_EQUAL(hook.calls, 1);
	CU_ASSERT_EQUAL(hook.offset, 0x40);
	CU_ASSERT_EQUAL(hook.len, 4);
	CU_ASSERT_EQUAL(get_le32(hook.seen), 0x44332211u);   /* filled from cfg first */
	CU_ASSERT_EQUAL(rd(1, 0x42, 1), 0x5a);
	CU_ASSERT_EQUAL(hook.offset, 0x42);
	CU_ASSERT_EQUAL(hook.len, 1);
	CU_ASSERT_EQUAL(rd(1, 0x40, 2), 0x2211);
	CU_ASSERT_EQUAL(hook.calls, 3);
	/* Through 0xcfe and ECAM: the real offset and width. */
	CU_ASSERT_EQUAL(via_cf8(1, 0x42, 2), 0x445a);
	CU_ASSERT_EQUAL(hook.offset, 0x42);
	CU_ASSERT_EQUAL(hook.len, 2);
	CU_ASSERT_EQUAL(via_ecam(1, 0x40, 4), 0x445a2211u);
	CU_ASSERT_EQUAL(hook.calls, 5);
	/* The bus decides the multi-function bit after the hook. */
	CU_ASSERT_EQUAL(rd(1, PCI_HEADER_TYPE, 1), 0);
	CU_ASSERT_EQUAL(hook.calls, 6);
	/* Not for writes, rejected accesses or absent functions. */
	hook.calls = 0;
	wr(1, 0x40, 1, 0x99);
	CU_ASSERT_EQUAL(fa.pci.cfg[0x40], 0x99);
	CU_ASSERT_EQUAL(rd(1, 0x41, 2), 0xffff);   /* misaligned */
	CU_ASSERT_EQUAL(rd(1, 0x40, 3), 0xffffffu);
	CU_ASSERT_EQUAL(rd(2, 0x40, 4), 0xffffffffu);
	CU_ASSERT_EQUAL(rdf(1 << 3 | 1, 0x40, 4), 0xffffffffu);
	CU_ASSERT_EQUAL(hook.calls, 0);
	pci_bus_destroy(&bus);
}

void unit_register(void)
{
	UNIT_SUITE("pci",
		   UNIT_TEST(test_pci_host_bridge),
		   UNIT_TEST(test_pci_bar_sizing),
		   UNIT_TEST(test_pci_bar_assignment),
		   UNIT_TEST(test_pci_slots_full),
		   UNIT_TEST(test_pci_decode_gating),
		   UNIT_TEST(test_pci_masks),
		   UNIT_TEST(test_pci_caps),
		   UNIT_TEST(test_pci_bad_access),
		   UNIT_TEST(test_pci_cf8_ecam),
		   UNIT_TEST(test_pci_bar_moved),
		   UNIT_TEST(test_pci_unregister),
		   UNIT_TEST(test_pci_reuse_hole),
		   UNIT_TEST(test_pci_rom),
		   UNIT_TEST(test_pci_multifunction),
		   UNIT_TEST(test_pci_config_read_hook));
}
