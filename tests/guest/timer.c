/* Time for the test guest: the TSC, calibrated once against PIT channel 2.
 *
 * RDTSC is legal in ring 3, so every delay and timeout is a TSC spin with
 * PAUSE; ring 3 must never HLT, and there is no timer interrupt. Channel 2
 * (gated through port 0x61, its output readable there) is used because both
 * KVM's in-kernel PIT and QEMU emulate it and it needs no interrupt. */
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
/* Bounds the OUT2 poll: a port read costs well over 10 ns even when it
 * does not exit, so this is far more than a 10 ms window, yet finite. */
#define CAL_MAX_POLLS 5000000u

static uint64_t tsc_khz;
static const char *tsc_source = "uncalibrated";

/* TSC ticks across one CAL_MS countdown of channel 2, 0 if the PIT does
 * not behave. */
static uint64_t pit_measure(void)
{
	uint32_t latch = PIT_HZ * CAL_MS / 1000;
	uint8_t portb = inb(PIT_PORT_B);
	uint64_t t0, t1;
	unsigned int polls = 0;

	if (portb == 0xff)
		return 0;       /* nothing decodes port 0x61 */
	/* Gate on, speaker off; mode 0 drives OUT2 low until the count
	 * reaches zero. */
	outb(PIT_PORT_B, (uint8_t)((portb & ~PORTB_SPEAKER) | PORTB_GATE2));
	outb(PIT_CMD, 0xb0);    /* channel 2, lo/hi byte, mode 0, binary */
	outb(PIT_CH2, (uint8_t)latch);
	outb(PIT_CH2, (uint8_t)(latch >> 8));
	t0 = rdtsc();
	while (!(inb(PIT_PORT_B) & PORTB_OUT2)) {
		if (++polls > CAL_MAX_POLLS)
			return 0;
	}
	t1 = rdtsc();
	/* OUT2 high right away means it never went low: not a real PIT. */
	if (polls == 0)
		return 0;
	return t1 - t0;
}

static bool khz_plausible(uint64_t khz)
{
	return khz >= 100000 && khz <= 20000000;   /* 100 MHz .. 20 GHz */
}

static uint64_t cpuid_tsc_khz(const char **src)
{
	struct cpuid_regs r = cpuid(0x40000000);

	/* Hypervisor timing leaf (KVM/VMware convention): EAX = TSC kHz. */
	if (r.eax >= 0x40000010 && r.eax < 0x40010000) {
		struct cpuid_regs t = cpuid(0x40000010);

		if (khz_plausible(t.eax)) {
			*src = "cpuid 0x40000010";
			return t.eax;
		}
	}
	r = cpuid(0);
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

void timer_calibrate(void)
{
	uint64_t best = 0;

	/* The shortest window is the least disturbed by preemption of the
	 * vCPU or slow port exits. */
	for (int i = 0; i < CAL_ROUNDS; i++) {
		uint64_t ticks = pit_measure();

		if (!ticks) {
			best = 0;
			break;
		}
		if (!best || ticks < best)
			best = ticks;
	}
	tsc_khz = best / CAL_MS;
	if (khz_plausible(tsc_khz)) {
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
