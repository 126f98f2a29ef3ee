/* Scenario "pci": configuration space on bus 0. Finds ECAM through MCFG,
 * enumerates every function, checks 00:00.0 is a host bridge, cross-checks
 * ECAM against the 0xcf8/0xcfc ports, sizes every BAR (decode off while
 * sizing), and checks read-only IDs stay put. On isle, the test device's
 * BARs must be exactly as include/isle/testdev.h declares and BAR0 must
 * answer with its magic; on QEMU q35 (-nodefaults) the chipset functions
 * must be there. */
#include "isle/testdev.h"

#include "guest.h"

#define MAX_DEVS 64

static const char *bar_kind(const struct pci_bar *b)
{
	if (b->io)
		return "io";
	if (b->is64)
		return b->prefetch ? "mem64 pref" : "mem64";
	return b->prefetch ? "mem32 pref" : "mem32";
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The same registers through both access mechanisms must agree. */
static void check_cf8(const struct pci_dev *d)
{
	static const uint16_t regs[] = { PCI_VENDOR_ID, PCI_CLASS_REV, 0x0c, PCI_SUBSYSTEM };
	bool same = true;

	if (!pci_ecam())
		return;
	for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
		uint32_t e = pci_read32(d->bdf, regs[i]);
		uint32_t c = pci_cf8_read32(d->bdf, regs[i]);

		/* 0x0c holds latency timer/cache line size, which are
		 * writable but not written meanwhile, so it compares too. */
		if (e != c) {
			report_info("offset %#x: ECAM %08x, 0xcf8 %08x", regs[i], e, c);
			same = false;
		}
	}
	report(same, "ECAM and 0xcf8 agree (id %04x:%04x class %06x)",
	       d->vendor, d->device, d->class_rev >> 8);
}

static void check_ro_ids(const struct pci_dev *d)
{
	uint32_t id = pci_read32(d->bdf, PCI_VENDOR_ID);
	uint32_t after_ecam, after_cf8;

	pci_write16(d->bdf, PCI_VENDOR_ID, (uint16_t)~id);
	pci_write16(d->bdf, PCI_DEVICE_ID, (uint16_t)~(id >> 16));
	after_ecam = pci_read32(d->bdf, PCI_VENDOR_ID);
	pci_cf8_write32(d->bdf, PCI_VENDOR_ID, ~id);
	after_cf8 = pci_cf8_read32(d->bdf, PCI_VENDOR_ID);
	report(after_ecam == id && after_cf8 == id,
	       "vendor/device id read-only (%08x -> %08x, %08x)", id, after_ecam, after_cf8);
}

/* Sizes every BAR; stores them in bars[] (by slot) for later checks. */
static void check_bars(const struct pci_dev *d, struct pci_bar *bars)
{
	unsigned int nbar = pci_bar_count(d->bdf);
	uint16_t cmd = pci_read16(d->bdf, PCI_COMMAND);
	unsigned int present = 0;

	for (unsigned int i = 0; i < PCI_BAR_MAX; i++)
		bars[i] = (struct pci_bar){ 0 };
	for (unsigned int i = 0; i < nbar;) {
		struct pci_bar *b = &bars[i];
		uint32_t before = pci_read32(d->bdf, (uint16_t)(PCI_BAR0 + 4 * i));
		int used = pci_bar_probe(d->bdf, i, b);
		uint32_t after = pci_read32(d->bdf, (uint16_t)(PCI_BAR0 + 4 * i));
		bool ok;

		if (!b->present) {
			i += (unsigned int)used;
			continue;
		}
		present++;
		ok = is_pow2(b->size) && before == after;
		/* Minimum decode sizes (PCI 3.0 6.2.5.1): 4 bytes for I/O,
		 * 16 for memory; I/O BARs are at most 256 bytes. */
		ok = ok && (b->io ? b->size >= 4 && b->size <= 256 : b->size >= 16);
		/* A programmed BAR is naturally aligned. */
		ok = ok && !(b->addr & (b->size - 1));
		if (b->is64)
			ok = ok && i + 1 < nbar;
		report(ok, "BAR%u %s size %#lx at %#lx%s (readback %#lx)", i, bar_kind(b),
		       b->size, b->addr, b->is64 ? ", pairs with next" : "", b->readback);
		i += (unsigned int)used;
	}
	if (!present)
		report_info("no BARs implemented");
	report(pci_read16(d->bdf, PCI_COMMAND) == cmd, "command register restored after sizing");
}

static bool bar_is(const struct pci_bar *b, bool io, bool is64, uint64_t size)
{
	return b->present && b->io == io && b->is64 == is64 && b->size == size;
}

static void check_testdev(const struct pci_dev *d, const struct pci_bar *bars)
{
	uint64_t base;
	uint32_t count;

	report_prefix_push("testdev");
	report((d->class_rev >> 8) == TESTDEV_CLASS, "class %06x", d->class_rev >> 8);
	report(bar_is(&bars[0], false, false, TESTDEV_BAR0_SIZE) && !bars[0].prefetch,
	       "BAR0 32-bit MMIO, %#x bytes", TESTDEV_BAR0_SIZE);
	report(bar_is(&bars[1], true, false, TESTDEV_BAR1_SIZE),
	       "BAR1 I/O, %#x bytes", TESTDEV_BAR1_SIZE);
	report(bar_is(&bars[2], false, true, TESTDEV_BAR2_SIZE) && bars[2].prefetch,
	       "BAR2 64-bit prefetchable MMIO, %#x bytes (BAR3 is its upper half)",
	       TESTDEV_BAR2_SIZE);
	report(bar_is(&bars[4], false, false, TESTDEV_BAR4_SIZE),
	       "BAR4 32-bit MMIO, %#x bytes", TESTDEV_BAR4_SIZE);
	report(!bars[5].present, "BAR5 not implemented");

	base = pci_bar_map(d->bdf, 0);
	if (!report(base != 0, "BAR0 mapped at %#lx", base)) {
		report_prefix_pop();
		return;
	}
	report(mmio_read32(base + TESTDEV_REG_MAGIC) == TESTDEV_MAGIC, "BAR0 magic %#x",
	       mmio_read32(base + TESTDEV_REG_MAGIC));
	mmio_write32(base + TESTDEV_REG_SCRATCH, 0xa5a51234u);
	report(mmio_read32(base + TESTDEV_REG_SCRATCH) == 0xa5a51234u, "scratch register RW");
	count = mmio_read32(base + TESTDEV_REG_COUNT);
	mmio_write32(base + TESTDEV_REG_MAGIC, 0);
	report(mmio_read32(base + TESTDEV_REG_MAGIC) == TESTDEV_MAGIC &&
	       mmio_read32(base + TESTDEV_REG_COUNT) == count,
	       "magic is read-only, count unchanged (%u)", count);
	report_prefix_pop();
}

static const struct pci_dev *dev_at(const struct pci_dev *devs, int n, uint16_t bdf)
{
	for (int i = 0; i < n; i++) {
		if (devs[i].bdf == bdf)
			return &devs[i];
	}
	return NULL;
}

/* QEMU q35 with -nodefaults: MCH plus the ICH9 LPC, AHCI and SMBus
 * functions that are part of the machine. */
static void check_q35(const struct pci_dev *devs, int n)
{
	static const struct {
		uint16_t bdf, device;
		const char *what;
	} q35[] = {
		{ PCI_BDF(0, 0x1f, 0), 0x2918, "LPC" },
		{ PCI_BDF(0, 0x1f, 2), 0x2922, "SATA" },
		{ PCI_BDF(0, 0x1f, 3), 0x2930, "SMBus" },
	};

	report_prefix_push("q35");
	for (size_t i = 0; i < ARRAY_SIZE(q35); i++) {
		const struct pci_dev *d = dev_at(devs, n, q35[i].bdf);

		report(d && d->vendor == 0x8086 && d->device == q35[i].device,
		       "%s 00:%02x.%x is 8086:%04x", q35[i].what, PCI_DEV(q35[i].bdf),
		       PCI_FN(q35[i].bdf), q35[i].device);
	}
	report_prefix_pop();
}

void test_pci_run(void)
{
	static struct pci_dev devs[MAX_DEVS];
	struct pci_bar bars[PCI_BAR_MAX];
	const struct acpi_ecam *ecam;
	const struct pci_dev *host, *testdev = NULL;
	struct pci_bar testdev_bars[PCI_BAR_MAX];
	int n;

	report_prefix_push("pci");
	ecam = pci_init() ? pci_ecam() : NULL;
	if (!report(ecam != NULL, "ECAM found in MCFG"))
		report_info("continuing with 0xcf8/0xcfc only");
	else
		report(ecam->base == 0xb0000000ull && ecam->bus_start == 0,
		       "ECAM at %#lx (the uncached map starts there), buses %u-%u", ecam->base, ecam->bus_start, ecam->bus_end);

	n = pci_scan_bus0(devs, MAX_DEVS);
	if (n > MAX_DEVS)
		n = MAX_DEVS;
	report(n > 0, "bus 0 has %d functions", n);
	for (int i = 0; i < n; i++)
		report_info("%02x:%02x.%x %04x:%04x class %06x rev %02x header %u",
			    PCI_BUS(devs[i].bdf), PCI_DEV(devs[i].bdf), PCI_FN(devs[i].bdf),
			    devs[i].vendor, devs[i].device, devs[i].class_rev >> 8,
			    devs[i].class_rev & 0xff, devs[i].header_type);

	host = dev_at(devs, n, PCI_BDF(0, 0, 0));
	report(host && (host->class_rev >> 16) == 0x0600, "00:00.0 is a host bridge (class %06x)",
	       host ? host->class_rev >> 8 : 0);

	for (int i = 0; i < n; i++) {
		const struct pci_dev *d = &devs[i];

		report_prefix_pushf("%02x:%02x.%x", PCI_BUS(d->bdf), PCI_DEV(d->bdf), PCI_FN(d->bdf));
		check_cf8(d);
		check_ro_ids(d);
		check_bars(d, bars);
		if (d->vendor == TESTDEV_VENDOR && d->device == TESTDEV_DEVICE && !testdev) {
			testdev = d;
			memcpy(testdev_bars, bars, sizeof(bars));
		}
		report_prefix_pop();
	}

	if (testdev)
		check_testdev(testdev, testdev_bars);
	else if (cpu_on_isle())
		report(false, "isle test device %04x:%04x present", TESTDEV_VENDOR, TESTDEV_DEVICE);
	else {
		report_prefix_push("testdev");
		report_skip("test device %04x:%04x absent (not on isle)",
			    TESTDEV_VENDOR, TESTDEV_DEVICE);
		report_prefix_pop();
	}

	if (host && host->vendor == 0x8086 && host->device == 0x29c0)
		check_q35(devs, n);
	report_prefix_pop();
}
