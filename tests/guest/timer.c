/* Time for the test guest: the TSC, calibrated once at startup.
 *
 * RDTSC is legal in ring 3, so every delay and timeout is a TSC spin with
 * PAUSE; ring 3 must never HLT, and there is no timer interrupt. The TSC
 * frequency comes from the hypervisor's timing leaf (CPUID 0x40000010,
 * which isle offers) when there is one, else from PIT channel 2 (gated
 * through port 0x61, its output readable there; KVM's in-kernel PIT with
 * the speaker port and QEMU both emulate it; no interrupt needed), else
 * from CPUID 0x15/0x16. The leaf comes first because under a PVM-style
 * hypervisor every ring-3 port read is a trap costing tens of
 * microseconds, which makes PIT polling slow and coarse. */
#include "guest.h"

#define PIT_HZ        1193182u
#define PIT_CH2       0x42
#define PIT_CMD       0x43
#define PIT_PORT_B    0x61
#define PORTB_GATE2   0x01
#define PORTB_SPEAKER 0x02
#define PORTB_OUT2    0x20
#define CAL_MS        10
#define CAL_ROUNDS    3
/* Bounds the OUT2 poll in TSC ticks: 0.1 s even at 10 GHz, far more than
 * the 10 ms window at any plausible frequency. */
#define CAL_MAX_TICKS 1000000000ull

static uint64_t tsc_khz;
static const char *tsc_source = "uncalibrated";
static const char *pit_problem;

/* TSC ticks across one CAL_MS countdown of channel 2, 0 if the PIT does
 * not behave (pit_problem says why). */
static uint64_t pit_measure(void)
{
	uint32_t latch = PIT_HZ * CAL_MS / 1000;
	uint8_t portb = inb(PIT_PORT_B);
	uint64_t t0, t1;
	unsigned int polls = 0;

	if (portb == 0xff) {
		pit_problem = "port 0x61 floats (0xff)";
		return 0;
	}
	/* Gate on, speaker off; mode 0 drives OUT2 low until the count
	 * reaches zero. */
	outb(PIT_PORT_B, (uint8_t)((portb & ~PORTB_SPEAKER) | PORTB_GATE2));
	if (!(inb(PIT_PORT_B) & PORTB_GATE2)) {
		pit_problem = "port 0x61 does not keep the channel 2 gate bit";
		return 0;
	}
	outb(PIT_CMD, 0xb0);    /* channel 2, lo/hi byte, mode 0, binary */
	outb(PIT_CH2, (uint8_t)latch);
	outb(PIT_CH2, (uint8_t)(latch >> 8));
	t0 = rdtsc();
	while (!(inb(PIT_PORT_B) & PORTB_OUT2)) {
		polls++;
		if (rdtsc() - t0 > CAL_MAX_TICKS) {
			pit_problem = "channel 2 OUT never went high";
			return 0;
		}
	}
	t1 = rdtsc();
	/* OUT2 high right away means it never went low: not a real PIT. */
	if (polls == 0) {
		pit_problem = "channel 2 OUT did not go low in mode 0";
		return 0;
	}
	return t1 - t0;
}

static bool khz_plausible(uint64_t khz)
{
	return khz >= 100000 && khz <= 20000000;   /* 100 MHz .. 20 GHz */
}

uint64_t timer_hv_tsc_khz(void)
{
	struct cpuid_regs r = cpuid(0x40000000);

	/* Hypervisor timing leaf (VMware convention, isle): EAX = TSC kHz. */
	if (r.eax >= 0x40000010 && r.eax < 0x40010000) {
		struct cpuid_regs t = cpuid(0x40000010);

		if (khz_plausible(t.eax))
			return t.eax;
	}
	return 0;
}

static uint64_t cpuid_tsc_khz(const char **src)
{
	struct cpuid_regs r = cpuid(0);

	if (r.eax >= 0x15) {
		struct cpuid_regs t = cpuid(0x15);

		if (t.eax && t.ebx && t.ecx) {
			uint64_t khz = (uint64_t)t.ecx * t.ebx / t.eax / 1000;

			if (khz_plausible(khz)) {
				*src = "cpuid 0x15";
				return khz;
			}
		}
	}
	if (r.eax >= 0x16) {
		struct cpuid_regs t = cpuid(0x16);

		if (khz_plausible((uint64_t)(t.eax & 0xffff) * 1000)) {
			*src = "cpuid 0x16";
			return (uint64_t)(t.eax & 0xffff) * 1000;
		}
	}
	return 0;
}

uint64_t timer_pit_tsc_khz(void)
{
	uint64_t best = 0;

	pit_problem = NULL;
	/* The shortest window is the least disturbed by preemption of the
	 * vCPU or slow port exits. */
	for (int i = 0; i < CAL_ROUNDS; i++) {
		uint64_t ticks = pit_measure();

		if (!ticks)
			return 0;
		if (!best || ticks < best)
			best = ticks;
	}
	if (!khz_plausible(best / CAL_MS)) {
		pit_problem = "implausible frequency";
		return 0;
	}
	return best / CAL_MS;
}

const char *timer_pit_problem(void)
{
	return pit_problem ? pit_problem : "none";
}

void timer_calibrate(void)
{
	tsc_khz = timer_hv_tsc_khz();
	if (tsc_khz) {
		tsc_source = "cpuid 0x40000010";
		return;
	}
	tsc_khz = timer_pit_tsc_khz();
	if (tsc_khz) {
		tsc_source = "pit channel 2";
		return;
	}
	tsc_khz = cpuid_tsc_khz(&tsc_source);
	if (tsc_khz)
		return;
	/* Last resort: timeouts stay bounded, just not accurate. */
	tsc_khz = 1000000;
	tsc_source = "guessed 1 GHz";
}

uint64_t timer_tsc_khz(void)
{
	return tsc_khz;
}

const char *timer_source(void)
{
	return tsc_source;
}

uint64_t timer_deadline_us(uint64_t us)
{
	return rdtsc() + us * tsc_khz / 1000;
}

bool timer_expired(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}

void timer_delay_us(uint64_t us)
{
	uint64_t deadline = timer_deadline_us(us);

	while (!timer_expired(deadline))
		cpu_relax();
}

uint64_t timer_elapsed_us(uint64_t tsc_start)
{
	return (rdtsc() - tsc_start) * 1000 / tsc_khz;
}
