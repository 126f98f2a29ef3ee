/* Scenario "triplefault": deliberately shuts the vCPU down, so the VMM's
 * handling of a guest triple fault can be tested (isle ends with status 3;
 * QEMU with -no-reboot exits). In ring 0 the IDT is replaced by an empty
 * one and an instruction that faults is executed: the #UD cannot be
 * delivered, nor the #GP about that, nor the #DF; the CPU shuts down.
 * Reaching the report at the end means the shutdown was not honoured. */
#include "guest.h"

/* Ring 0 (via r0call). UD2 rather than INT3: some emulators fail INT3 at
 * CPL 0 outright instead of raising the exception. */
static uint64_t triplefault_ring0(uint64_t arg)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty_idt = { 0, 0 };

	(void)arg;
	__asm__ volatile("lidt %0\n\t"
			 "ud2"
			 : : "m"(empty_idt) : "memory");
	return 0;
}

void test_triplefault_run(void)
{
	report_prefix_push("triplefault");
	report(true, "loading an empty IDT and faulting in ring 0");
	r0call(triplefault_ring0, 0);
	/* Should be unreachable. The handler table is gone, so nothing
	 * below may fault. */
	timer_delay_us(1000000);
	report(false, "VM still running after a triple fault");
	report_prefix_pop();
}
