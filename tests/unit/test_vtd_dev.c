/* Unit tests for vmm/devices/vtd_dev.c, the VT-d in a VM, realized through
 * device_add_type on a VM with guest memory, an MMIO bus, the GSI table
 * (vm_fd = -1: no KVM), the IOAPIC and PCI bus 0: its register page on the
 * bus, one DMA address space per requester id (identity while translation
 * is off, the guest's tables once on, faults recorded, not-RAM refused),
 * invalidations reaching the address spaces' notifiers, and interrupt
 * remapping as the GSI table's hook (IRTEs installed as KVM entries,
 * re-translated when the guest changes the table, masked routes left
 * alone, everything back to identity once the device is gone). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/vtd_dev.h"

#define RAM_SIZE  0x100000          /* 1 MiB at guest-physical 0 */
#define ROOT      0x10000
#define CTX       0x11000
#define PT4       0x12000
#define PT3       0x13000
#define PT2       0x14000
#define PT1       0x15000
#define IRT       0x16000
#define DATA      0x20000           /* the page IOVA 0x40000000 maps */
#define IOVA      0x40000000ULL
#define RID       0x0010            /* 00:02.0 */

#define REG_GCMD   0x18
#define REG_GSTS   0x1c
#define REG_RTADDR 0x20
#define REG_FSTS   0x34
#define REG_IRTA   0xb8
#define GCMD_TE    (1u << 31)
#define GCMD_SRTP  (1u << 30)
#define GCMD_IRE   (1u << 25)
#define GCMD_SIRTP (1u << 24)

static uint8_t *ram;
static struct vm vm;
static struct vm_config cfg;
static struct device *dev;

/* A VM with the VT-d at address width aw (0: the default). */
static void setup_aw(unsigned int aw)
{
	struct device_spec spec = { .kind = DEVICE_VTD };

	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	cfg.iommu.enabled = true;
	cfg.iommu.aw_bits = aw;
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;
	ram = calloc(1, RAM_SIZE);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&vm.gmem, 0, RAM_SIZE, ram, -1, 0), 0);
	dma_as_identity_init(&vm.dma, &vm.gmem);
	bus_init(&vm.mmio, "mmio");
	CU_ASSERT_EQUAL_FATAL(gsi_init(&vm.gsi, -1), 0);
	CU_ASSERT_EQUAL_FATAL(ioapic_init(&vm.ioapic, &vm.gsi, NULL, 1), 0);
	CU_ASSERT_EQUAL_FATAL(device_add_type(&vm, &vtd_type, &spec, &dev), 0);
}

static void setup(void)
{
	setup_aw(0);
}

static void teardown(void)
{
	device_del_all(&vm);
	CU_ASSERT_PTR_NULL(vm.vtd);
	ioapic_destroy(&vm.ioapic);
	gsi_destroy(&vm.gsi);
	dma_as_destroy(&vm.dma);
	free(ram);
}

static uint64_t reg_rd(unsigned int off, unsigned int len)
{
	uint64_t v = 0;

	CU_ASSERT_EQUAL(bus_dispatch(&vm.mmio, LAYOUT_VTD + off, &v, len, false), 0);
	return v;
}

static void reg_wr(unsigned int off, uint64_t v, unsigned int len)
{
	CU_ASSERT_EQUAL(bus_dispatch(&vm.mmio, LAYOUT_VTD + off, &v, len, true), 0);
}

static void gcmd(uint32_t bit)
{
	uint32_t keep = (uint32_t)reg_rd(REG_GSTS, 4) & (GCMD_TE | GCMD_IRE);

	reg_wr(REG_GCMD, keep | bit, 4);
}

static void put64(uint64_t gpa, uint64_t v)
{
	put_le64(ram + gpa, v);
}

static void test_vtd_dev_realize(void)
{
	uint64_t cap;

	setup();
	CU_ASSERT_PTR_NOT_NULL(vm.vtd);
	CU_ASSERT_EQUAL(reg_rd(0x00, 4), 0x10);                  /* VER 1.0 */
	cap = reg_rd(0x08, 8);
	CU_ASSERT_EQUAL((cap >> 16 & 0x3f) + 1, 48);             /* MGAW: the default */
	CU_ASSERT(cap >> 8 & 4);                                 /* 4-level tables */
	CU_ASSERT((reg_rd(0x10, 8) & 0xa) == 0xa);               /* ECAP: QI, IR */
	CU_ASSERT_FALSE(reg_rd(0x10, 8) & 0x10);                 /* no EIM without KVM */
	/* The same address space for a requester id every time. */
	CU_ASSERT_PTR_NOT_NULL(vm_dma_as(&vm, RID));
	CU_ASSERT_PTR_EQUAL(vm_dma_as(&vm, RID), vm_dma_as(&vm, RID));
	CU_ASSERT_PTR_NOT_EQUAL(vm_dma_as(&vm, RID), vm_dma_as(&vm, RID + 1));
	CU_ASSERT_PTR_NOT_EQUAL(vm_dma_as(&vm, RID), &vm.dma);
	teardown();

	/* aw=39 reaches the model. */
	setup_aw(39);
	CU_ASSERT_EQUAL((reg_rd(0x08, 8) >> 16 & 0x3f) + 1, 39);
	CU_ASSERT_FALSE(reg_rd(0x08, 8) >> 8 & 4);
	teardown();
}

static unsigned int inval_calls;
static uint64_t inval_iova, inval_len;

static void on_inval(void *opaque, unsigned int event, uint64_t iova, uint64_t len)
{
	inval_calls++;
	inval_iova = iova;
	inval_len = len;
}

static void test_vtd_dev_dma(void)
{
	struct dma_notifier n = { .events = DMA_EV_UNMAP, .notify = on_inval };
	struct dma_as *as;
	uint64_t len;
	void *hva;
	uint8_t b[4];

	setup();
	as = vm_dma_as(&vm, RID);
	CU_ASSERT_PTR_NOT_NULL_FATAL(as);
	dma_notifier_register(as, &n);
	/* Translation off: IOVA = guest-physical, as far as RAM goes. */
	len = 0x3000;
	CU_ASSERT_EQUAL(dma_translate(as, DATA, &len, DMA_RW, &hva), 0);
	CU_ASSERT_PTR_EQUAL(hva, ram + DATA);
	CU_ASSERT_EQUAL(len, 0x3000);
	len = 16;
	CU_ASSERT_EQUAL(dma_translate(as, RAM_SIZE, &len, DMA_READ, &hva), -EFAULT);
	CU_ASSERT_EQUAL(len, 0);

	/* Tables: bus 0 -> context for RID (4-level, DID 1) -> IOVA's 4K page
	 * at DATA, read-only; IOVA + 4K maps past RAM. */
	put64(ROOT, CTX | 1);
	put64(CTX + 16 * (RID & 0xff), PT4 | 1);
	put64(CTX + 16 * (RID & 0xff) + 8, 1u << 8 | 2);
	put64(PT4, PT3 | 3);
	put64(PT3 + 8 * 1, PT2 | 3);                     /* IOVA bits 38:30 = 1 */
	put64(PT2, PT1 | 3);
	put64(PT1, DATA | 1);
	put64(PT1 + 8, 0x40000000ULL | 3);              /* not RAM */
	reg_wr(REG_RTADDR, ROOT, 8);
	gcmd(GCMD_SRTP);
	inval_calls = 0;
	gcmd(GCMD_TE);
	CU_ASSERT(reg_rd(REG_GSTS, 4) & GCMD_TE);
	/* Turning translation on invalidates every address space. */
	CU_ASSERT(inval_calls >= 1);
	CU_ASSERT_EQUAL(inval_len, UINT64_MAX);

	ram[DATA + 0x123] = 0x5a;
	CU_ASSERT_EQUAL(dma_read(as, IOVA + 0x123, b, 1), 0);
	CU_ASSERT_EQUAL(b[0], 0x5a);
	len = 0x2000;                                    /* cut at the page end */
	CU_ASSERT_EQUAL(dma_translate(as, IOVA + 0x800, &len, DMA_READ, &hva), 0);
	CU_ASSERT_PTR_EQUAL(hva, ram + DATA + 0x800);
	CU_ASSERT_EQUAL(len, 0x800);
	CU_ASSERT_EQUAL(dma_write(as, IOVA, b, 1), -EPERM);   /* read-only */
	CU_ASSERT(reg_rd(REG_FSTS, 4) & 2);              /* PPF: recorded */
	len = 16;
	CU_ASSERT_EQUAL(dma_translate(as, IOVA + 0x1000, &len, DMA_READ, &hva), -EFAULT);
	CU_ASSERT_EQUAL(dma_read(as, IOVA + 0x2000, b, 1), -EFAULT);   /* not present */
	/* Another requester id has no context: refused. */
	CU_ASSERT_EQUAL(dma_read(vm_dma_as(&vm, RID + 8), IOVA, b, 1), -EFAULT);

	/* A register-based global IOTLB invalidation reaches the notifier. */
	inval_calls = 0;
	reg_wr((unsigned int)((reg_rd(0x10, 8) >> 8 & 0x3ff) * 16 + 8),   /* ECAP.IRO + 8 */
	       1ULL << 63 | 1ULL << 60, 8);
	CU_ASSERT_EQUAL(inval_calls, 1);
	CU_ASSERT_EQUAL(inval_iova, 0);
	dma_notifier_unregister(as, &n);
	teardown();
}

static void irte(unsigned int index, uint8_t vector, uint16_t sid)
{
	put64(IRT + 16 * index + 8, 1ULL << 18 | sid);  /* SVT 1 */
	put64(IRT + 16 * index, 1 | (uint64_t)vector << 16 | 3ULL << 40);
}

static const struct kvm_irq_routing_entry *entry(int gsi)
{
	for (unsigned int i = 0; i < vm.gsi.nr; i++)
		if ((int)vm.gsi.entries[i].gsi == gsi)
			return &vm.gsi.entries[i];
	return NULL;
}

static void test_vtd_dev_ir(void)
{
	struct msi_route r, masked;
	struct msi_msg m = { .addr = 0xfee00000ULL | 4u << 5 | 1u << 4 };   /* handle 4 */
	const struct kvm_irq_routing_entry *e;

	setup();
	CU_ASSERT_EQUAL(gsi_route_add(&vm.gsi, &r, -1, RID, &m), 24);
	CU_ASSERT_EQUAL(gsi_route_add(&vm.gsi, &masked, -1, RID, &m), 25);
	CU_ASSERT_EQUAL(gsi_route_mask(&vm.gsi, &masked, true), 0);
	/* Remapping off: the message passes unchanged. */
	e = entry(24);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, (uint32_t)m.addr);

	irte(4, 0x61, RID);
	reg_wr(REG_IRTA, IRT | 7, 8);
	gcmd(GCMD_SIRTP);
	gcmd(GCMD_IRE);                  /* the IEC notifier: every route again */
	CU_ASSERT(reg_rd(REG_GSTS, 4) & GCMD_IRE);
	e = entry(24);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee03000u);   /* APIC id 3 */
	CU_ASSERT_EQUAL(e->u.msi.data & 0xff, 0x61);
	CU_ASSERT_PTR_NULL(entry(25));   /* masked: not translated, no entry */
	CU_ASSERT_EQUAL(reg_rd(REG_FSTS, 4) & 2, 0);   /* and no fault */

	/* The guest changes the IRTE and re-latches the table: new vector. */
	irte(4, 0x62, RID);
	gcmd(GCMD_SIRTP);
	CU_ASSERT_EQUAL(entry(24)->u.msi.data & 0xff, 0x62);
	/* Another requester id in the entry: blocked, fault recorded. */
	irte(4, 0x62, RID + 8);
	gcmd(GCMD_SIRTP);
	CU_ASSERT_PTR_NULL(entry(24));
	CU_ASSERT(reg_rd(REG_FSTS, 4) & 2);
	irte(4, 0x63, RID);
	gcmd(GCMD_SIRTP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(entry(24));
	CU_ASSERT_EQUAL(entry(24)->u.msi.data & 0xff, 0x63);
	CU_ASSERT_EQUAL(gsi_route_mask(&vm.gsi, &masked, false), 0);
	CU_ASSERT_PTR_NOT_NULL(entry(25));

	/* Once the device is gone the hook is too: identity again. */
	device_del_all(&vm);
	CU_ASSERT_EQUAL(entry(24)->u.msi.address_lo, (uint32_t)m.addr);
	gsi_route_del(&vm.gsi, &r);
	gsi_route_del(&vm.gsi, &masked);
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("vtd_dev",
		   UNIT_TEST(test_vtd_dev_realize),
		   UNIT_TEST(test_vtd_dev_dma),
		   UNIT_TEST(test_vtd_dev_ir));
}
