/* Scenario "smp": starts every other enabled CPU listed in the MADT with
 * INIT / SIPI / SIPI. Each AP runs the real-mode trampoline (copied to
 * SMP_TRAMPOLINE), enters long mode on the BSP's page tables in crt0.S,
 * takes a stack slot, records its APIC id, counts itself in and idles in
 * ring 0 with its LAPIC enabled and interrupts on (sti; hlt). The BSP reports one line per AP and checks the
 * count against the MADT. One vCPU means nothing to start, which passes.
 * Every wait is bounded. */
#include "guest.h"

#define MAX_CPUS      (SMP_MAX_APS + 1)
#define INIT_DELAY_US 10000
#define SIPI_DELAY_US 200
#define AP_TIMEOUT_US 1000000

bool smp_tramp_install(void)
{
	size_t len = (size_t)(smp_tramp_end - smp_tramp_start);

	/* The SIPI vector addresses 4 KiB pages; the code must fit one. */
	if (len > 0x1000)
		return false;
	memcpy(phys_ptr(SMP_TRAMPOLINE), smp_tramp_start, len);
	return !memcmp(phys_ptr(SMP_TRAMPOLINE), smp_tramp_start, len);
}

/* Waits until more than `before` APs have checked in. */
static bool ap_wait(uint32_t before, uint64_t us)
{
	uint64_t deadline = timer_deadline_us(us);

	while (smp_ap_count == before) {
		if (timer_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

/* The universal startup algorithm (Intel SDM vol. 3, 9.4.4.1): INIT, wait
 * 10 ms, SIPI, 200 us, and a second SIPI only if the AP is not up yet (a
 * running AP ignores it anyway). */
bool smp_ap_start(uint32_t id, uint32_t before)
{
	uint32_t sipi = APIC_ICR_STARTUP | APIC_ICR_ASSERT | (SMP_TRAMPOLINE >> 12);

	apic_write(APIC_ESR, 0);
	if (!apic_send_ipi(id, APIC_ICR_INIT | APIC_ICR_ASSERT)) {
		report_info("INIT to %u stuck in the ICR", id);
		return false;
	}
	timer_delay_us(INIT_DELAY_US);
	if (!apic_send_ipi(id, sipi)) {
		report_info("SIPI to %u stuck in the ICR", id);
		return false;
	}
	if (ap_wait(before, SIPI_DELAY_US))
		return true;
	if (!apic_send_ipi(id, sipi)) {
		report_info("second SIPI to %u stuck in the ICR", id);
		return false;
	}
	return ap_wait(before, AP_TIMEOUT_US);
}

static bool id_recorded_once(uint32_t id, uint32_t count)
{
	unsigned int seen = 0;

	for (uint32_t i = 0; i < count && i < SMP_MAX_APS; i++) {
		if (smp_ap_apic_ids[i] == id)
			seen++;
	}
	return seen == 1;
}

void test_smp_run(void)
{
	static struct acpi_cpu cpus[MAX_CPUS];
	uint32_t lapic_addr = 0, bsp, expected = 0, started = 0;
	bool bsp_listed = false;
	int n, enabled = 0;

	report_prefix_push("smp");
	n = acpi_madt_cpus(cpus, MAX_CPUS, &lapic_addr);
	if (!report(n > 0, "MADT lists %d CPUs", n)) {
		report_prefix_pop();
		return;
	}
	if (n > MAX_CPUS) {
		report_info("only the first %d CPUs are considered", MAX_CPUS);
		n = MAX_CPUS;
	}
	report(lapic_addr == APIC_BASE, "MADT LAPIC address %#x", lapic_addr);

	apic_enable();
	bsp = apic_id();
	for (int i = 0; i < n; i++) {
		report_info("MADT CPU uid %u apic id %u%s%s", cpus[i].uid, cpus[i].apic_id,
			    cpus[i].enabled ? "" : " (disabled)", cpus[i].x2apic ? " (x2apic)" : "");
		if (!cpus[i].enabled)
			continue;
		enabled++;
		if (cpus[i].apic_id == bsp)
			bsp_listed = true;
	}
	report(bsp_listed, "BSP (apic id %u) is an enabled MADT CPU", bsp);
	if (enabled == 1)
		report_info("single CPU: no APs to start");

	if (enabled > 1 && !report(smp_tramp_install(), "trampoline installed at %#x (%zu bytes)",
				   SMP_TRAMPOLINE, (size_t)(smp_tramp_end - smp_tramp_start))) {
		report_prefix_pop();
		return;
	}

	for (int i = 0; i < n; i++) {
		uint32_t id = cpus[i].apic_id, before = smp_ap_count;
		uint64_t t0;
		bool up;

		if (!cpus[i].enabled || id == bsp)
			continue;
		if (id > 0xfe) {
			/* xAPIC ICR destinations are 8 bits (0xff broadcasts). */
			report_prefix_pushf("apic id %u", id);
			report_skip("needs x2APIC to address");
			report_prefix_pop();
			continue;
		}
		expected++;
		t0 = rdtsc();
		up = smp_ap_start(id, before);
		report(up && before < SMP_MAX_APS && smp_ap_apic_ids[before] == id,
		       "AP apic id %u came up (%s after %lu us, recorded id %u)", id,
		       up ? "running" : "timed out", timer_elapsed_us(t0),
		       before < SMP_MAX_APS ? smp_ap_apic_ids[before] : 0);
		if (up)
			started++;
	}

	/* A late AP from a timed-out start would show up here. */
	timer_delay_us(expected ? 10000 : 0);
	report(smp_ap_count == expected && started == expected,
	       "%u of %u APs running (MADT has %d enabled CPUs)", smp_ap_count, expected, enabled);
	if (expected) {
		bool unique = true;

		for (int i = 0; i < n; i++) {
			if (cpus[i].enabled && cpus[i].apic_id != bsp && cpus[i].apic_id <= 0xfe)
				unique = unique && id_recorded_once(cpus[i].apic_id, smp_ap_count);
		}
		report(unique, "each AP recorded its own APIC id exactly once");
	}
	report_prefix_pop();
}
