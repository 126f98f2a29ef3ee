/* The test guest's ring-3 main: captures the boot information, parses the
 * command line, picks the scenario from the table below, runs it and leaves
 * through the exit port with the verdict.
 *
 * Adding a scenario: write tests/guest/test_<name>.c with a
 * test_<name>_run(void) that reports through report.h, declare it in
 * guest.h, list it in `scenarios` here and in meson.build's source list. */
#include "isle/testdev.h"

#include "guest.h"

_Static_assert(XEN_ELFNOTE_PHYS32_ENTRY == 18,
	       "crt0.S hard-codes the PHYS32_ENTRY note type");

struct scenario {
	const char *name;
	void (*run)(void);
	const char *what;
};

void test_blk_run(void);   /* test_blk.c (declared with its glue in virtio_glue.h) */
void test_hotplug_run(void);   /* test_hotplug.c (likewise) */
void test_blkbench_run(void);   /* test_blkbench.c */
void test_net_run(void);   /* test_net.c */
void test_vtd_dma_run(void);   /* test_vtd_dma.c */
void test_balloon_run(void);   /* test_balloon.c */
void test_balloon_idle_run(void);   /* test_balloon.c */

static const struct scenario scenarios[] = {
	{ "selftest", test_selftest_run, "boot environment, exceptions, ACPI, printf" },
	{ "pci",      test_pci_run,      "bus 0 via ECAM and 0xcf8, BAR sizing" },
	{ "msix",     test_msix_run,     "isle test device MSI-X delivery (isle only)" },
	{ "smp",      test_smp_run,      "start every AP from the MADT" },
	{ "ioapic",   test_ioapic_run,   "IOAPIC edge/level/EOI/mask/per-CPU via pc-testdev IRQ ports" },
	{ "edu",      test_edu_run,      "edu device (1234:11e8): DMA, MSI, INTx via the IOAPIC" },
	{ "vtd",      test_vtd_run,      "Intel VT-d: edu's DMA and interrupts remapped, faults, QI" },
	{ "vtd-dma",  test_vtd_dma_run,  "Intel VT-d: edu's DMA through mappings made and revoked (QEMU, isle, assigned edu)" },
	{ "nvme",     test_nvme_run,     "NVMe controller (frontends/nvme.c): admin + I/O queue, MSI-X" },
	{ "ivshmem",  test_ivshmem_run,  "ivshmem-plain BAR2: placement, size, pattern (ivshmem_high= ivshmem_size= ivshmem_pattern=)" },
	{ "console",  test_console_run,  "a line typed on isle's stdin arrives on COM1 (expect=, console_ms=)" },
	{ "idle",     test_idle_run,     "spin idle_ms milliseconds for benchmarks" },
	{ "vfiobench", test_vfiobench_run, "edu BAR read time and MSI latency for bench/vfio (reads= irqs=)" },
	{ "poweroff", test_poweroff_run, "ACPI S5; the VMM must end the VM" },
	{ "reset",    test_reset_run,    "reset via method=cf9|i8042|acpi; the VMM must end the VM" },
	{ "triplefault", test_triplefault_run, "shut the vCPU down; the VMM must notice" },
	{ "blk",      test_blk_run,      "virtio-blk driver (frontends/blkfront.c); blk=ro for a read-only disk" },
	{ "blkbench", test_blkbench_run, "virtio-blk load generator for bench/blk (rw=, bs=, qd=, ms=)" },
	{ "hotplug",  test_hotplug_run,  "ACPI PCI hotplug of a disk and its eject, the power button (isle only; hp_ms=)" },
	{ "net",      test_net_run,      "virtio-net driver (frontends/netfront.c, inet.c): ARP, pings; ip= peer= pings= bulk= serve_ms=" },
	{ "balloon",  test_balloon_run,  "virtio-balloon driver (frontends/balloon.c): follow the host's targets, zero-fill, stats, free page reporting; balloon_wait= balloon_zero= balloon_stats=" },
	{ "balloon-idle", test_balloon_idle_run, "touch all RAM, then serve the balloon (targets, stats) until the host ends the VM" },
};

struct boot_info boot;

void guest_main(void);

/* Everything the loader left in low memory is copied out first: the SMP
 * scenario overwrites 0x8000 with its trampoline. */
static void boot_capture(void)
{
	const struct hvm_start_info *si;

	boot.start_paddr = boot_start_info;
	if (!boot_start_info || boot_start_info >= 0x100000000ull)
		return;
	si = phys_ptr(boot_start_info);
	boot.start = *si;
	if (boot.start.magic != HVM_START_MAGIC_VALUE)
		return;
	if (boot.start.cmdline_paddr && boot.start.cmdline_paddr < 0x100000000ull) {
		const char *src = phys_ptr(boot.start.cmdline_paddr);
		size_t n = strnlen(src, sizeof(boot.cmdline));

		boot.cmdline_truncated = n == sizeof(boot.cmdline);
		if (boot.cmdline_truncated)
			n--;
		memcpy(boot.cmdline, src, n);
		boot.cmdline[n] = '\0';
	}
	if (boot.start.version >= 1 && boot.start.memmap_paddr &&
	    boot.start.memmap_paddr < 0x100000000ull) {
		uint32_t n = MIN(boot.start.memmap_entries, (uint32_t)BOOT_MEMMAP_MAX);

		memcpy(boot.memmap, phys_ptr(boot.start.memmap_paddr),
		       n * sizeof(boot.memmap[0]));
		boot.memmap_nr = n;
	}
}

const char *cmdline_get(const char *key)
{
	static char value[BOOT_CMDLINE_MAX];
	size_t klen = strlen(key);
	const char *p = boot.cmdline;

	while (*p) {
		const char *end;

		while (*p == ' ' || *p == '\t')
			p++;
		end = p;
		while (*end && *end != ' ' && *end != '\t')
			end++;
		if ((size_t)(end - p) >= klen && !strncmp(p, key, klen) &&
		    (p + klen == end || p[klen] == '=')) {
			const char *v = p + klen + (p + klen < end);
			size_t vlen = (size_t)(end - v);

			memcpy(value, v, vlen);
			value[vlen] = '\0';
			return value;
		}
		p = end;
	}
	return NULL;
}

uint64_t cmdline_get_u64(const char *key, uint64_t dflt)
{
	const char *v = cmdline_get(key);
	uint64_t n;

	if (!v)
		return dflt;
	if (!str_to_u64(v, &n)) {
		report_info("ignoring %s=%s: not a number", key, v);
		return dflt;
	}
	return n;
}

bool cpu_on_isle(void)
{
	/* Cached: CPUID costs a ring-0 round trip (see irq.c). */
	static int on_isle = -1;

	if (on_isle < 0) {
		struct cpuid_regs r = cpuid(0x40000000);
		char sig[12];

		memcpy(sig, &r.ebx, 4);
		memcpy(sig + 4, &r.ecx, 4);
		memcpy(sig + 8, &r.edx, 4);
		on_isle = !memcmp(sig, "isleisleisle", 12);
	}
	return on_isle;
}

void guest_exit(int code)
{
	outl(TESTDEV_EXIT_PORT, (uint32_t)code);
	/* Still here: nothing listens on the exit port. Ring 3 may not HLT,
	 * so ask the chipset for a reset (QEMU -no-reboot then exits) and
	 * spin if even that is ignored. */
	timer_delay_us(100000);
	printf("# exit port 0x%x ignored (code %d); resetting\n", TESTDEV_EXIT_PORT, code);
	outb(0xcf9, 0x06);
	outb(0x64, 0xfe);
	for (;;)
		cpu_relax();
}

static void scenarios_list(void)
{
	printf("# scenarios (test=NAME):\n");
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
		printf("#   %-12s %s\n", scenarios[i].name, scenarios[i].what);
}

void guest_main(void)
{
	const struct scenario *sc = NULL;
	const char *name;

	serial_init();
	boot_capture();
	printf("TAP version 13\n");
	printf("# isle test guest, cmdline \"%s\"\n", boot.cmdline);

	name = cmdline_get("test");
	if (!name || !*name) {
		printf("Bail out! no test=NAME on the command line\n");
		scenarios_list();
		guest_exit(EXIT_FAIL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
		if (!strcmp(scenarios[i].name, name))
			sc = &scenarios[i];
	}
	if (!sc) {
		printf("Bail out! unknown test \"%s\"\n", name);
		scenarios_list();
		guest_exit(EXIT_FAIL);
	}

	irq_init();
	timer_calibrate();
	paging_init();
	report_info("scenario %s: %s", sc->name, sc->what);
	report_info("tsc %lu kHz (%s)%s", timer_tsc_khz(), timer_source(),
		    cpu_on_isle() ? ", on isle" : "");
	sc->run();
	guest_exit(report_summary());
}
