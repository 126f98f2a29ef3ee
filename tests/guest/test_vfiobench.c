/* Scenario "vfiobench": what an edu device costs the guest, for bench/vfio:
 * the mean time of a 32-bit read of its BAR0 (an assigned device's BAR is
 * a KVM memory slot unless isle traps it; isle's emulated edu always
 * exits), and the latency from the write that raises its interrupt to the
 * guest taking the MSI (VFIO's eventfd into a KVM irqfd for an assigned
 * edu; isle's device thread for the emulated one). Options: reads=N
 * (default 200000), irqs=N (default 200). Prints "bench: KEY VALUE" lines
 * the benchmark parses, and reports that each measurement ran. */
#include "guest.h"
#include "edu.h"

#define VEC_MSI 0x49

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void sort_u64(uint64_t *v, unsigned int n)
{
	/* Insertion sort: n is a few hundred. */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j && cmp_u64(&v[j - 1], &v[j]) > 0; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

static uint64_t ns_of(uint64_t cycles)
{
	return cycles * 1000000 / timer_tsc_khz();
}

void test_vfiobench_run(void)
{
	static uint64_t lat[1000];
	unsigned int reads = (unsigned int)cmdline_get_u64("reads", 200000);
	unsigned int irqs = (unsigned int)cmdline_get_u64("irqs", 200);
	struct edu edu;
	bool absent;
	uint64_t t0, sum = 0;
	unsigned int got = 0;

	report_prefix_push("vfiobench");
	if (!edu_open(&edu, &absent)) {
		if (absent)
			report_skip("edu device absent");
		else
			report(false, "BAR0 mapped");
		report_prefix_pop();
		return;
	}
	if (irqs > ARRAY_SIZE(lat))
		irqs = ARRAY_SIZE(lat);
	/* MMIO reads: the identification register, which every edu has. */
	t0 = rdtsc();
	for (unsigned int i = 0; i < reads; i++)
		sum += edu_rd(&edu, EDU_IDENT);
	t0 = rdtsc() - t0;
	report(sum == (uint64_t)reads * 0x010000ed, "%u reads of BAR0 returned the ident", reads);
	printf("bench: mmio_read_ns %llu.%03llu\n",
	       (unsigned long long)(ns_of(t0) / reads),
	       (unsigned long long)(ns_of(t0) * 1000 / reads % 1000));

	/* MSI latency: raise, wait for the vector, acknowledge. */
	apic_enable();
	edu_msi_enable(&edu, APIC_BASE | apic_id() << 12, VEC_MSI);
	for (unsigned int i = 0; i < irqs; i++) {
		uint32_t c = irq_counts[VEC_MSI];
		uint64_t t;

		t = rdtsc();
		edu_wr(&edu, EDU_IRQ_RAISE, 0x1000);
		if (irq_wait_count(VEC_MSI, c, 500000) != c + 1)
			break;
		lat[got++] = rdtsc() - t;
		edu_wr(&edu, EDU_IRQ_ACK, 0x1000);
	}
	edu_msi_disable(&edu);
	report(got == irqs, "%u of %u interrupts taken", got, irqs);
	if (got) {
		sort_u64(lat, got);
		printf("bench: msi_latency_us_median %llu.%03llu\n",
		       (unsigned long long)(ns_of(lat[got / 2]) / 1000),
		       (unsigned long long)(ns_of(lat[got / 2]) % 1000));
	}
	report_prefix_pop();
}
