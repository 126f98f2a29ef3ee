/* Scenario "selftest": checks the environment every other scenario relies
 * on. The PVH start info and what it points to (command line, memory map),
 * that the body really runs in ring 3 with IOPL 3, that exceptions make the
 * round trip through the ring-0 handlers and back, that the ACPI tables are
 * there and sum correctly, that printf formats as expected, and, on isle,
 * the isle-specific bits. */
#include "guest.h"

static void check_start_info(void)
{
	report_prefix_push("start_info");
	report(boot.start_paddr != 0, "pointer passed in %%ebx (%#lx)", boot.start_paddr);
	report(boot.start.magic == HVM_START_MAGIC_VALUE, "magic %#x", boot.start.magic);
	report(boot.start.version >= 1, "version %u >= 1", boot.start.version);
	report_prefix_pop();
}

static void check_cmdline(void)
{
	const char *t;

	report_prefix_push("cmdline");
	report(boot.cmdline[0] != '\0' && !boot.cmdline_truncated,
	       "present (%zu bytes)", strlen(boot.cmdline));
	t = cmdline_get("test");
	report(t && !strcmp(t, "selftest"), "test=%s parsed", t ? t : "(none)");
	report(!cmdline_get("te") && !cmdline_get("tests") && !cmdline_get("selftest"),
	       "no partial-key or value matches");
	report_prefix_pop();
}

static bool memmap_covers(uint64_t start, uint64_t end)
{
	for (uint32_t i = 0; i < boot.memmap_nr; i++) {
		const struct hvm_memmap_table_entry *e = &boot.memmap[i];

		if (e->type == 1 && e->addr <= start && end <= e->addr + e->size)
			return true;
	}
	return false;
}

static void check_memmap(void)
{
	bool sorted = true, disjoint = true, sizes = true;
	uint64_t ram = 0;

	report_prefix_push("memmap");
	if (!report(boot.memmap_nr > 0, "%u entries", boot.start.memmap_entries)) {
		report_prefix_pop();
		return;
	}
	for (uint32_t i = 0; i < boot.memmap_nr; i++) {
		const struct hvm_memmap_table_entry *e = &boot.memmap[i];

		report_info("0x%012lx-0x%012lx type %u", e->addr, e->addr + e->size - 1, e->type);
		if (!e->size || e->addr + e->size < e->addr)
			sizes = false;
		if (e->type == 1)
			ram += e->size;
		if (i == 0)
			continue;
		if (e->addr < boot.memmap[i - 1].addr)
			sorted = false;
		if (e->addr < boot.memmap[i - 1].addr + boot.memmap[i - 1].size)
			disjoint = false;
	}
	report(sizes, "entry sizes non-zero, no wrap-around");
	report(sorted, "sorted by address");
	report(disjoint, "entries do not overlap");
	report(memmap_covers(0x100000, 0x100000 + 4096), "RAM at 1 MiB");
	report(memmap_covers((uintptr_t)__image_start, (uintptr_t)__image_end),
	       "image %p-%p inside RAM", (void *)__image_start, (void *)__image_end);
	report_info("%lu MiB RAM in total", ram >> 20);
	report_prefix_pop();
}

/* When the hypervisor's timing leaf was used, PIT channel 2 (if it
 * works) must agree with it: that checks the leaf and the PIT at once. */
static void check_timer_sources(void)
{
	uint64_t hv = timer_hv_tsc_khz(), pit;

	if (!hv)
		return;
	pit = timer_pit_tsc_khz();
	if (!pit) {
		report_info("PIT channel 2 unusable (%s); nothing to cross-check", timer_pit_problem());
		return;
	}
	/* 2%: ring-3 port reads may trap, which coarsens the PIT window. */
	report(pit * 50 > hv * 49 && pit * 50 < hv * 51,
	       "PIT channel 2 (%lu kHz) agrees with CPUID 0x40000010 (%lu kHz)", pit, hv);
}

static void check_cpu(void)
{
	uint64_t flags = read_rflags();

	report_prefix_push("cpu");
	report((read_cs() & 3) == 3, "running in ring 3 (cs %#x)", read_cs());
	/* irq_init() masked the PIC: reading the mask back shows ring-3
	 * port I/O reaches devices (the console alone shows only writes). */
	report(inb(0x21) == 0xff && inb(0xa1) == 0xff, "port I/O from ring 3 (PIC masks read back)");
	if (cpu_iopl3()) {
		report(true, "IOPL 3 (rflags %#lx)", flags);
		report(!(flags & RFLAGS_IF), "interrupts off at entry");
	} else {
		/* PVM runs ring 3 on the hardware: IOPL stays 0 (I/O is
		 * emulated against the TSS bitmap) and IF stays 1. */
		report_prefix_push("IOPL 3");
		report_skip("hypervisor keeps ring-3 IOPL at %lu, IF at %lu (PVM-style)",
			    (flags >> 12) & 3, (flags >> 9) & 1);
		report_prefix_pop();
	}
	report(timer_tsc_khz() >= 100000, "TSC calibrated: %lu kHz via %s",
	       timer_tsc_khz(), timer_source());
	check_timer_sources();
	report_prefix_pop();
}

/* `int $n` from ring 3 through a DPL-0 gate raises #GP with the IDT bit
 * (bit 1) set and the vector in the selector index field. */
static int probe_int(uint64_t *error)
{
	exc_vector = -1;
	__asm__ volatile("1: int $0x40\n\t"
			 "2:\n\t"
			 EXTABLE("1b", "2b")
			 ::: "memory");
	*error = exc_error;
	return exc_vector;
}

static void check_exceptions(void)
{
	volatile uint64_t canary = 0x5a5a5a5a12345678ull;
	uint64_t err;
	int v;

	report_prefix_push("exceptions");
	v = exc_probe_ud();
	report(v == 6, "ud2 in ring 3 -> #UD, resumed (vector %d)", v);
	v = exc_probe_gp(&err);
	report(v == 13 && err == 0, "rdmsr in ring 3 -> #GP(0), resumed (vector %d, error %#lx)",
	       v, err);
	if (cpu_iopl3()) {
		v = probe_int(&err);
		/* Hardware puts the vector in bits 15:3; QEMU's TCG puts it
		 * in 15:4 (it scales by the 16-byte gate size). Either
		 * shows the IDT path. */
		report(v == 13 && (err == (0x40 << 3 | 2) || err == (0x40 << 4 | 2)),
		       "int $0x40 in ring 3 -> #GP(idt), resumed (vector %d, error %#lx)", v, err);
	} else {
		/* A PVM-style hypervisor traps `int n` from ring 3 and its
		 * emulator cannot deliver it (the guest sees #UD). */
		report_prefix_push("int $0x40 in ring 3");
		report_skip("not emulated faithfully under a PVM-style hypervisor");
		report_prefix_pop();
	}
	report(canary == 0x5a5a5a5a12345678ull && (read_cs() & 3) == 3,
	       "state intact after the round trips");
	report(irq_counts[0x40] == 0, "no stray interrupt counted");
	report_prefix_pop();
}

/* An interrupt (not an exception) round trip: a self-IPI through the
 * LAPIC, taken by the ring-0 handler, EOIed there. */
static void check_self_ipi(void)
{
	const unsigned int vec = 0x50;
	uint32_t before = irq_counts[vec], wakeups = irq_counts[IRQ_WAKEUP_VECTOR], isr;
	uint64_t t0;
	bool sent;

	report_prefix_push("interrupts");
	apic_enable();
	/* Ring 3 runs with interrupts off (or, under PVM, never gets
	 * them): the IPI stays pending until irq_wait_count(). */
	sent = apic_send_ipi(0, APIC_ICR_SELF | vec);
	report(sent && irq_counts[vec] == before, "self-IPI sent, held off in ring 3");
	t0 = rdtsc();
	irq_wait_count(vec, before, 100000);
	report(irq_counts[vec] == before + 1, "taken once in ring 0 (after %lu us)",
	       timer_elapsed_us(t0));
	isr = apic_read(APIC_ISR + 0x10 * (vec / 32));
	report(!(isr & (1u << (vec % 32))), "EOI cleared its ISR bit");
	t0 = rdtsc();
	irq_wait_us(5000);
	report(irq_counts[IRQ_WAKEUP_VECTOR] > wakeups,
	       "LAPIC timer wakes an idle wait (5 ms wait took %lu us)", timer_elapsed_us(t0));
	report_prefix_pop();
}

static void check_acpi(void)
{
	const struct acpi_rsdp *r;
	const struct acpi_header *root;
	unsigned int n, bad = 0;

	report_prefix_push("acpi");
	r = acpi_rsdp();
	if (!report(r != NULL, "RSDP found (start_info says %#lx)", boot.start.rsdp_paddr)) {
		report_prefix_pop();
		return;
	}
	report_info("RSDP at %p, revision %u, OEM %.6s", (const void *)r, r->revision, r->oem_id);
	report(acpi_checksum_ok(r, 20), "RSDP checksum");
	if (r->revision >= 2)
		report(r->length >= 36 && r->length <= 4096 && acpi_checksum_ok(r, r->length),
		       "RSDP extended checksum (length %u)", r->length);
	root = acpi_root();
	if (!report(root != NULL, "%s present", r->revision >= 2 && r->xsdt ? "XSDT" : "RSDT")) {
		report_prefix_pop();
		return;
	}
	report(!memcmp(root->signature, r->revision >= 2 && r->xsdt ? "XSDT" : "RSDT", 4),
	       "root signature %.4s", root->signature);
	report(acpi_checksum_ok(root, root->length), "%.4s checksum (length %u)",
	       root->signature, root->length);
	n = acpi_table_count();
	for (unsigned int i = 0; i < n; i++) {
		const struct acpi_header *h = acpi_table(i);

		if (!h || !acpi_checksum_ok(h, h->length)) {
			bad++;
			report_info("table %u (%.4s) bad", i, h ? h->signature : "????");
			continue;
		}
		report_info("%.4s at %p, %u bytes, OEM %.6s", h->signature, (const void *)h,
			    h->length, h->oem_id);
	}
	report(n > 0 && bad == 0, "all %u tables have valid checksums", n);
	report(acpi_find("APIC") != NULL, "MADT present");
	report_prefix_pop();
}

static void fmt_check(const char *fmt_shown, const char *expect, const char *got, int ret)
{
	report(!strcmp(expect, got) && ret == (int)strlen(expect),
	       "%s -> \"%s\" (expected \"%s\")", fmt_shown, got, expect);
}

#define FMT_CHECK(expect, ...)                                          \
	do {                                                            \
		char got_[64];                                          \
		int ret_ = snprintf(got_, sizeof(got_), __VA_ARGS__);   \
		fmt_check(#__VA_ARGS__, expect, got_, ret_);            \
	} while (0)

static void check_printf(void)
{
	char small[4];
	int ret;

	report_prefix_push("printf");
	FMT_CHECK("-42", "%d", -42);
	FMT_CHECK("-2147483648", "%d", -2147483647 - 1);
	FMT_CHECK("4294967295", "%u", 4294967295u);
	FMT_CHECK("deadbeef", "%x", 0xdeadbeefu);
	FMT_CHECK("BEEF", "%X", 0xbeefu);
	FMT_CHECK("123456789abcdef", "%lx", 0x123456789abcdeful);
	FMT_CHECK("fedcba9876543210", "%llx", 0xfedcba9876543210ull);
	FMT_CHECK("-9223372036854775808", "%ld", (long)(-9223372036854775807L - 1));
	FMT_CHECK("18446744073709551615", "%llu", 18446744073709551615ull);
	FMT_CHECK("   42|42   |00042", "%5d|%-5d|%05d", 42, 42, 42);
	FMT_CHECK("00000abc|  -7", "%08x|%4d", 0xabcu, -7);
	FMT_CHECK("str/c/ x", "%s/%c/%2c", "str", 'c', 'x');
	FMT_CHECK("  ab|ab  |abc", "%4s|%-4s|%.3s", "ab", "ab", "abcdef");
	FMT_CHECK("0x1000", "%p", (void *)0x1000);
	FMT_CHECK("0xff 0", "%#x %#x", 255u, 0u);
	FMT_CHECK("100%", "%d%%", 100);
	FMT_CHECK("    17", "%*d", 6, 17);
	ret = snprintf(small, sizeof(small), "%s", "abcdef");
	report(ret == 6 && !strcmp(small, "abc"), "truncation: returns 6, keeps \"%s\"", small);
	report_prefix_pop();
}

static void check_isle(void)
{
	struct cpuid_regs r1 = cpuid(1), hv = cpuid(0x40000000);
	char sig[13];

	memcpy(sig, &hv.ebx, 4);
	memcpy(sig + 4, &hv.ecx, 4);
	memcpy(sig + 8, &hv.edx, 4);
	sig[12] = '\0';
	for (int i = 0; i < 12; i++) {
		if (sig[i] && (sig[i] < 0x20 || sig[i] > 0x7e))
			sig[i] = '?';
	}
	if (!cpu_on_isle()) {
		report_info("not on isle (hypervisor leaf signature \"%s\")", sig);
		return;
	}
	report_prefix_push("isle");
	report(true, "on isle (signature \"%s\")", sig);
	report(r1.ecx & (1u << 31), "CPUID.1:ECX hypervisor bit set");
	report(hv.eax >= 0x40000000 && hv.eax < 0x40010000,
	       "hypervisor leaf present (max leaf %#x)", hv.eax);
	/* Port 0xf8 has nothing to read back; that isle received these
	 * reports is checked from the host side. */
	report(true, "reports sent to port 0xf8");
	report_prefix_pop();
}

void test_selftest_run(void)
{
	report_prefix_push("selftest");
	check_start_info();
	check_cmdline();
	check_memmap();
	check_cpu();
	check_exceptions();
	check_self_ipi();
	check_acpi();
	check_printf();
	check_isle();
	report_prefix_pop();
}
