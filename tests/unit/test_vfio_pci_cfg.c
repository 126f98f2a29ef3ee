/* Unit tests for vmm/devices/vfio_pci_cfg.c: an assigned function's config
 * space as the guest sees it, against a fake device (tests/unit/fake_vfio.c:
 * a memfd standing in for the VFIO device fd, with the device's config
 * space as region 7), so what isle reads live and writes through can be
 * inspected. KVM is not involved; VFIO's ioctls fail on a memfd, which the
 * interrupt code survives with a warning.
 *
 * Checked: the standard list rebuilt without hidden capabilities and the
 * extended list led on by a null header; the MSI capability emulated
 * without per-vector masking; status and capability bodies read live;
 * command, power state and device control written through in their
 * writable bits only, an FLR bit never; a looping or wild list from the
 * device ends; BAR registers and the multi-function bit are isle's. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "cunit.h"
#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"
#include "fake_vfio.h"

static struct vm vm;
static struct vfio_pci v;
static uint8_t img[PCI_CFG_SIZE];

/* A device: 1234:5678, PM at 0x40 -> MSI (64-bit, 4 vectors, per-vector
 * masking) at 0x50 -> SATA (hidden) at 0x70 -> PCIe at 0x80; extended:
 * SR-IOV (hidden) at 0x100 -> AER at 0x140 -> DSN at 0x180. */
static void image_default(void)
{
	memset(img, 0, sizeof(img));
	put_le16(img + PCI_VENDOR_ID, 0x1234);
	put_le16(img + PCI_DEVICE_ID, 0x5678);
	put_le16(img + PCI_STATUS, PCI_STATUS_CAP_LIST);
	img[PCI_HEADER_TYPE] = 0x80;   /* multi-function on the host */
	put_le32(img + PCI_BASE_ADDRESS_0, 0xfe000000 | PCI_BASE_ADDRESS_MEM_TYPE_64);
	img[PCI_INTERRUPT_PIN] = 1;
	img[PCI_CAPABILITY_LIST] = 0x40;
	img[0x40] = PCI_CAP_ID_PM;
	img[0x41] = 0x50;
	img[0x50] = PCI_CAP_ID_MSI;
	img[0x51] = 0x70;
	put_le16(img + 0x52, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1));
	img[0x70] = 0x12;   /* SATA */
	img[0x71] = 0x80;
	img[0x80] = PCI_CAP_ID_EXP;
	img[0x81] = 0;
	put_le32(img + 0x100, PCI_EXT_CAP_ID_SRIOV | 1 << 16 | 0x140 << 20);
	put_le32(img + 0x140, PCI_EXT_CAP_ID_ERR | 2 << 16 | 0x180 << 20);
	put_le32(img + 0x180, PCI_EXT_CAP_ID_DSN | 1 << 16);
	put_le32(img + 0x184, 0xdeadbeef);
}

static int setup_with_image(bool permissive)
{
	char err[256];
	int r;

	log_set_level(LOG_ERROR);
	r = fake_vfio_open(&vm, &v, img, permissive, 4, 0);
	if (!r)
		r = vfio_cfg_init(&v, err, sizeof(err));
	if (!r)
		r = vfio_irq_init(&v);
	if (!r)
		r = pci_register(&vm.pci, &v.pci);
	return r;
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

static uint8_t dev_byte(unsigned int off)
{
	uint8_t b = 0;

	CU_ASSERT_EQUAL(pread(v.vd.fd, &b, 1, off), 1);
	return b;
}

static void test_lists(void)
{
	image_default();
	CU_ASSERT_EQUAL_FATAL(setup_with_image(false), 0);
	CU_ASSERT_EQUAL(rd(PCI_VENDOR_ID, 4), 0x56781234);
	CU_ASSERT_EQUAL(rd(PCI_HEADER_TYPE, 1), 0);          /* alone in its slot here */
	CU_ASSERT_EQUAL(rd(PCI_BASE_ADDRESS_0, 4), 0);       /* BARs are declared by isle */
	CU_ASSERT_EQUAL(rd(PCI_CAPABILITY_LIST, 1), 0x40);
	CU_ASSERT_EQUAL(rd(0x41, 1), 0x50);
	CU_ASSERT_EQUAL(rd(0x51, 1), 0x80);                  /* SATA skipped */
	CU_ASSERT_EQUAL(rd(0x81, 1), 0);
	CU_ASSERT_EQUAL(v.msi_cap, 0x50);
	CU_ASSERT_EQUAL(v.msi_max, 4);
	CU_ASSERT_EQUAL(v.pcie_cap, 0x80);
	/* MSI without per-vector masking, MMC kept. */
	CU_ASSERT_EQUAL(rd(0x52, 2), PCI_MSI_FLAGS_64BIT | (2 << 1));
	/* Extended: SR-IOV hidden behind a null header that leads on. */
	CU_ASSERT_EQUAL(PCI_EXT_CAP_ID(rd(0x100, 4)), 0);
	CU_ASSERT_EQUAL(PCI_EXT_CAP_NEXT(rd(0x100, 4)), 0x140);
	CU_ASSERT_EQUAL(PCI_EXT_CAP_ID(rd(0x140, 4)), PCI_EXT_CAP_ID_ERR);
	CU_ASSERT_EQUAL(PCI_EXT_CAP_NEXT(rd(0x140, 4)), 0x180);
	CU_ASSERT_EQUAL(rd(0x180, 4), PCI_EXT_CAP_ID_DSN | 1 << 16);
	CU_ASSERT_EQUAL(rd(0x184, 4), 0xdeadbeef);           /* the body reads live */
	teardown();
}

static void test_live_and_writes(void)
{
	uint8_t b;

	image_default();
	CU_ASSERT_EQUAL_FATAL(setup_with_image(false), 0);
	/* Status is the device's. */
	b = PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT;
	CU_ASSERT_EQUAL(pwrite(v.vd.fd, &b, 1, PCI_STATUS), 1);
	CU_ASSERT_EQUAL(rd(PCI_STATUS, 2), PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	/* Command: memory and bus master reach the device. */
	wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CU_ASSERT_EQUAL(dev_byte(PCI_COMMAND), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CU_ASSERT_EQUAL(rd(PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* PMCSR: the power state goes through, the rest of the byte not. */
	wr(0x44, 1, 0xff);
	CU_ASSERT_EQUAL(dev_byte(0x44), PCI_PM_CTRL_STATE_MASK);
	/* Device control goes through; FLR does not (it is a reset). */
	wr(0x88, 2, 0x2810 | PCI_EXP_DEVCTL_BCR_FLR);
	CU_ASSERT_EQUAL(dev_byte(0x89) & 0x80, 0);
	wr(0x88, 2, 0x2810);
	CU_ASSERT_EQUAL(dev_byte(0x88), 0x10);
	CU_ASSERT_EQUAL(dev_byte(0x89), 0x28);
	/* Not the payload size (the link's) nor device control 2 of a
	 * version 1 capability. */
	wr(0x88, 2, 0x00e0);
	CU_ASSERT_EQUAL(dev_byte(0x88) & 0xe0, 0);
	wr(0xa8, 2, 0xffff);
	CU_ASSERT_EQUAL(dev_byte(0xa8), 0);
	/* Link control is not writable without permissive. */
	wr(0x90, 2, 0x0003);
	CU_ASSERT_EQUAL(dev_byte(0x90), 0);
	/* An emulated capability header cannot be rewritten. */
	wr(0x41, 1, 0x70);
	CU_ASSERT_EQUAL(rd(0x41, 1), 0x50);
	/* MSI: the message is isle's, never the device's. */
	wr(0x54, 4, 0xfee00000);
	wr(0x5c, 2, 0x41);
	CU_ASSERT_EQUAL(rd(0x54, 4), 0xfee00000);
	CU_ASSERT_EQUAL(dev_byte(0x54), 0);
	/* Interrupt line is scratch for the guest. */
	wr(PCI_INTERRUPT_LINE, 1, 0x0b);
	CU_ASSERT_EQUAL(rd(PCI_INTERRUPT_LINE, 1), 0x0b);
	teardown();
}

static void test_permissive(void)
{
	image_default();
	CU_ASSERT_EQUAL_FATAL(setup_with_image(true), 0);
	wr(0x90, 2, 0x0003);
	CU_ASSERT_EQUAL(dev_byte(0x90), 3);
	wr(0x44, 1, 0xff);
	CU_ASSERT_EQUAL(dev_byte(0x44), 0xff);
	teardown();
}

static void test_hostile_lists(void)
{
	/* A list that loops onto itself, and one that points past the space. */
	image_default();
	img[0x41] = 0x40;
	put_le32(img + 0x100, PCI_EXT_CAP_ID_ERR | 1 << 16 | 0x100 << 20);
	CU_ASSERT_EQUAL_FATAL(setup_with_image(false), 0);
	CU_ASSERT_EQUAL(rd(PCI_CAPABILITY_LIST, 1), 0x40);
	CU_ASSERT_EQUAL(rd(0x41, 1), 0);
	CU_ASSERT_EQUAL(PCI_EXT_CAP_NEXT(rd(0x100, 4)), 0);
	teardown();

	image_default();
	img[PCI_CAPABILITY_LIST] = 0xfe;
	put_le32(img + 0x100, 0xfff00001);
	CU_ASSERT_EQUAL_FATAL(setup_with_image(false), 0);
	CU_ASSERT_EQUAL(rd(PCI_CAPABILITY_LIST, 1), 0);
	/* Nothing kept: status does not claim a list. */
	CU_ASSERT_EQUAL(rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	teardown();

	/* Capabilities that overlap: the later one is hidden, so emulated
	 * registers never share bytes (MSI inside PM's eight). */
	image_default();
	img[0x41] = 0x44;
	img[0x44] = PCI_CAP_ID_MSI;
	img[0x45] = 0;
	put_le16(img + 0x46, PCI_MSI_FLAGS_64BIT);
	CU_ASSERT_EQUAL_FATAL(setup_with_image(false), 0);
	CU_ASSERT_EQUAL(rd(0x41, 1), 0);
	CU_ASSERT_EQUAL(v.msi_cap, 0);
	teardown();

	/* A bridge cannot be assigned. */
	image_default();
	img[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
	CU_ASSERT_EQUAL(setup_with_image(false), -EINVAL);
	fake_vfio_close(&vm, &v);
}

void unit_register(void)
{
	UNIT_SUITE("vfio_pci_cfg", UNIT_TEST(test_lists), UNIT_TEST(test_live_and_writes),
		   UNIT_TEST(test_permissive), UNIT_TEST(test_hostile_lists));
}
