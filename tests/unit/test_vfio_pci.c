/* Unit tests for vmm/devices/vfio_pci.c: how an assigned function's BARs
 * are laid out for the guest, over the fake device of fake_vfio.c with its
 * BAR regions in the same memfd (mmappable, as VFIO's are). Checked: an
 * NVMe-like BAR0 keeps its registers mapped and traps only the MSI-X table
 * and PBA pages; a table that shares a page with registers is relocated
 * into a doubled BAR (auto, forced on, forced off); VFIO's sparse areas are
 * honoured; I/O BARs, sub-page BARs, the ROM and regions without MMAP are
 * trapped; ISLE_VFIO_NO_MMAP traps everything; a BAR whose size is not a
 * power of two is refused; the KVM slots follow the BAR's decode state and
 * moves (a VM without KVM keeps the slot bookkeeping). The real device
 * side (VFIO's mmap of a BAR as a KVM slot) runs in the lab: vfio-assign. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "cunit.h"
#include "isle/log.h"
#include "isle/util.h"
#include "fake_vfio.h"

#define BAR_BASE 0x100000ULL     /* where the BAR regions start in the memfd */
#define MSIX_CAP 0x40

static struct vm vm;
static struct vfio_pci v;
static uint8_t img[PCI_CFG_SIZE];

/* A device with BAR0 (type bits bar0) and, if nr, MSI-X of nr vectors
 * whose table and PBA are at table / pba in BAR0. */
static void image(uint32_t bar0, unsigned int nr, uint32_t table, uint32_t pba)
{
	memset(img, 0, sizeof(img));
	put_le16(img + PCI_VENDOR_ID, 0x1b36);
	put_le16(img + PCI_DEVICE_ID, 0x0010);
	put_le32(img + PCI_BASE_ADDRESS_0, bar0);
	if (!nr)
		return;
	put_le16(img + PCI_STATUS, PCI_STATUS_CAP_LIST);
	img[PCI_CAPABILITY_LIST] = MSIX_CAP;
	img[MSIX_CAP] = PCI_CAP_ID_MSIX;
	put_le16(img + MSIX_CAP + PCI_MSIX_FLAGS, (uint16_t)(nr - 1));
	put_le32(img + MSIX_CAP + PCI_MSIX_TABLE, table);
	put_le32(img + MSIX_CAP + PCI_MSIX_PBA, pba);
}

static void open_dev(unsigned int msix_count)
{
	char err[256];

	log_set_level(LOG_ERROR);
	CU_ASSERT_EQUAL_FATAL(fake_vfio_open(&vm, &v, img, false, 1, msix_count), 0);
	CU_ASSERT_EQUAL_FATAL(ftruncate(v.vd.fd, 16 << 20), 0);
	CU_ASSERT_EQUAL_FATAL(vfio_cfg_init(&v, err, sizeof(err)), 0);
	/* A VM without KVM: memory slots are bookkeeping only. */
	vm.vm_fd = -1;
	vm.nr_ram_slots = 2;
	vm.nr_memslots = 16;
	pthread_mutex_init(&vm.memslot_lock, NULL);
}

/* Region b: size bytes, mmappable (flag) in the given areas (none: whole). */
static void region(unsigned int b, uint64_t size, bool mmap, unsigned int nareas,
		   const struct vfio_area *areas)
{
	struct vfio_region *r = &v.vd.regions[b];

	*r = (struct vfio_region){ .index = b, .size = size, .offset = BAR_BASE + b * 0x100000ULL,
				   .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE };
	if (!mmap)
		return;
	r->flags |= VFIO_REGION_INFO_FLAG_MMAP;
	if (!nareas) {
		r->nr_areas = 1;
		r->areas[0] = (struct vfio_area){ 0, size };
		return;
	}
	r->nr_areas = nareas;
	memcpy(r->areas, areas, nareas * sizeof(*areas));
}

static void close_dev(void)
{
	vfio_bars_fini(&v);
	fake_vfio_close(&vm, &v);
	pthread_mutex_destroy(&vm.memslot_lock);
}

static bool map_is(unsigned int b, unsigned int i, uint64_t off, uint64_t size)
{
	return i < v.bars[b].nr_maps && v.bars[b].maps[i].off == off &&
	       v.bars[b].maps[i].size == size;
}

static void test_nvme_layout(void)
{
	char err[256];

	/* QEMU's nvme: 16 KiB, 65 vectors, table at 0x2000, PBA at 0x3000. */
	image(PCI_BASE_ADDRESS_MEM_TYPE_64, 65, 0x2000, 0x3000);
	open_dev(65);
	region(0, 0x4000, true, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v.pci.bars[0].type, PCI_BAR_MEM64);
	CU_ASSERT_EQUAL(v.pci.bars[0].size, 0x4000);
	CU_ASSERT_FALSE(v.bars[0].relocated);
	CU_ASSERT_EQUAL(v.msix_table_off, 0x2000);
	CU_ASSERT_EQUAL(v.msix_pba_off, 0x3000);
	CU_ASSERT_EQUAL(v.bars[0].nr_maps, 1);
	CU_ASSERT(map_is(0, 0, 0, 0x2000));   /* registers and doorbells */
	close_dev();

	/* Forced relocation: the whole BAR mapped, table and PBA above it. */
	image(PCI_BASE_ADDRESS_MEM_TYPE_64, 65, 0x2000, 0x3000);
	open_dev(65);
	v.reloc = VFIO_MSIX_RELOC_ALWAYS;
	region(0, 0x4000, true, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(v.bars[0].relocated);
	CU_ASSERT_EQUAL(v.pci.bars[0].size, 0x8000);
	CU_ASSERT_EQUAL(v.msix_table_off, 0x4000);
	CU_ASSERT_EQUAL(v.msix_pba_off, 0x5000);
	CU_ASSERT(map_is(0, 0, 0, 0x4000));
	close_dev();
}

static void test_relocation_auto(void)
{
	char err[256];

	/* A 4 KiB BAR whose table starts mid-page: registers share its page. */
	image(0, 8, 0x800, 0xc00);
	open_dev(8);
	region(0, 0x1000, true, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(v.bars[0].relocated);
	CU_ASSERT_EQUAL(v.pci.bars[0].size, 0x4000);
	CU_ASSERT_EQUAL(v.msix_table_off, 0x1000);
	CU_ASSERT(map_is(0, 0, 0, 0x1000));
	CU_ASSERT_EQUAL(vfio_irq_init(&v), 0);
	close_dev();

	/* msix_relocation=off: the page is trapped, registers and all. */
	image(0, 8, 0x800, 0xc00);
	open_dev(8);
	v.reloc = VFIO_MSIX_RELOC_NEVER;
	region(0, 0x1000, true, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(v.bars[0].relocated);
	CU_ASSERT_EQUAL(v.pci.bars[0].size, 0x1000);
	CU_ASSERT_EQUAL(v.bars[0].nr_maps, 0);
	close_dev();

	/* A PBA in another BAR moves next to the table, whatever the mode. */
	image(0, 8, 0x0, 0x1);   /* table BAR0 at 0, PBA in BAR1 at 0 */
	put_le32(img + PCI_BASE_ADDRESS_1, 0);
	open_dev(8);
	v.reloc = VFIO_MSIX_RELOC_NEVER;
	region(0, 0x1000, true, 0, NULL);
	region(1, 0x1000, true, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(v.bars[0].relocated);
	CU_ASSERT(map_is(1, 0, 0, 0x1000));
	close_dev();
}

static void test_trapped_kinds(void)
{
	const struct vfio_area sparse[2] = { { 0, 0x1000 }, { 0x3000, 0xd000 } };
	char err[256];

	image(PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH, 0, 0, 0);
	put_le32(img + PCI_BASE_ADDRESS_2, PCI_BASE_ADDRESS_SPACE_IO);
	put_le32(img + PCI_BASE_ADDRESS_3, 0);
	put_le32(img + PCI_BASE_ADDRESS_4, 0);
	open_dev(0);
	region(0, 0x10000, true, 2, sparse);    /* VFIO's sparse areas */
	region(2, 0x20, false, 0, NULL);        /* I/O ports */
	region(3, 0x100, true, 0, NULL);        /* sub-page memory */
	region(4, 0x1000, false, 0, NULL);      /* no MMAP flag */
	region(6, 0x8000, false, 0, NULL);      /* expansion ROM */
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v.pci.bars[0].type, PCI_BAR_MEM64);
	CU_ASSERT_TRUE(v.pci.bars[0].prefetch);
	CU_ASSERT_EQUAL(v.bars[0].nr_maps, 2);
	CU_ASSERT(map_is(0, 0, 0, 0x1000) && map_is(0, 1, 0x3000, 0xd000));
	CU_ASSERT_EQUAL(v.pci.bars[2].type, PCI_BAR_IO);
	CU_ASSERT_EQUAL(v.pci.bars[2].size, 0x20);
	CU_ASSERT_EQUAL(v.bars[2].nr_maps, 0);
	CU_ASSERT_EQUAL(v.pci.bars[3].size, 0x1000);   /* a page, so it could be mapped */
	CU_ASSERT_EQUAL(v.bars[3].nr_maps, 0);
	CU_ASSERT_EQUAL(v.bars[4].nr_maps, 0);
	CU_ASSERT_EQUAL(v.pci.bars[PCI_ROM_BAR].size, 0x8000);
	CU_ASSERT_EQUAL(v.bars[PCI_ROM_BAR].nr_maps, 0);
	close_dev();

	/* The bench knob traps everything. */
	image(0, 0, 0, 0);
	open_dev(0);
	region(0, 0x4000, true, 0, NULL);
	setenv("ISLE_VFIO_NO_MMAP", "1", 1);
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	unsetenv("ISLE_VFIO_NO_MMAP");
	CU_ASSERT_EQUAL(v.bars[0].nr_maps, 0);
	close_dev();

	/* Not a power of two: refused with a message. */
	image(0, 0, 0, 0);
	open_dev(0);
	region(0, 0x3000, true, 0, NULL);
	CU_ASSERT_EQUAL(vfio_bars_init(&v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "power of two"));
	close_dev();
}

static void test_slots_follow(void)
{
	char err[256];
	uint64_t addr;
	int slot;

	image(0, 0, 0, 0);
	open_dev(0);
	region(0, 0x4000, true, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(vfio_bars_init(&v, err, sizeof(err)), 0);
	v.pci.ops = &(const struct pci_dev_ops){ .config_read = vfio_cfg_read,
						 .config_write = vfio_cfg_write,
						 .bar_moved = vfio_pci_bar_moved };
	CU_ASSERT_EQUAL_FATAL(pci_register(&vm.pci, &v.pci), 0);
	CU_ASSERT_EQUAL(v.bars[0].maps[0].slot, -1);      /* decoding off */
	fake_vfio_wr(&vm, &v, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	slot = v.bars[0].maps[0].slot;
	CU_ASSERT(slot >= 2);
	addr = pci_bar_address(&v.pci, 0);
	CU_ASSERT(addr != 0);
	/* The guest moves the BAR: the slot is replaced. */
	fake_vfio_wr(&vm, &v, PCI_BASE_ADDRESS_0, 4, (uint32_t)addr + 0x100000);
	CU_ASSERT_EQUAL(pci_bar_address(&v.pci, 0), addr + 0x100000);
	CU_ASSERT(v.bars[0].maps[0].slot >= 2);
	CU_ASSERT(vm.memslot_used[0] == 1ULL << v.bars[0].maps[0].slot);
	fake_vfio_wr(&vm, &v, PCI_COMMAND, 2, 0);
	CU_ASSERT_EQUAL(v.bars[0].maps[0].slot, -1);
	CU_ASSERT_EQUAL(vm.memslot_used[0], 0);
	close_dev();
}

void unit_register(void)
{
	UNIT_SUITE("vfio_pci", UNIT_TEST(test_nvme_layout), UNIT_TEST(test_relocation_auto),
		   UNIT_TEST(test_trapped_kinds), UNIT_TEST(test_slots_follow));
}
