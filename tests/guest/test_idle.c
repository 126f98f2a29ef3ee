/* Scenario "idle": reports readiness, then spins for idle_ms milliseconds
 * (default 1000) on the calibrated TSC so a benchmark can sample the VMM's
 * memory while the guest does nothing. A PAUSE loop in ring 3, as ring 3
 * must not HLT; the vCPU stays busy, but touches no new memory. */
#include "guest.h"

void test_idle_run(void)
{
	uint64_t ms = cmdline_get_u64("idle_ms", 1000);
	uint64_t t0, elapsed;

	/* The benchmark waits for exactly this line; no prefix. */
	report(true, "idle ready");
	t0 = rdtsc();
	timer_delay_us(ms * 1000);
	elapsed = timer_elapsed_us(t0);
	report(elapsed >= ms * 1000, "idle: spun %lu ms (asked for %lu)", elapsed / 1000, ms);
}
