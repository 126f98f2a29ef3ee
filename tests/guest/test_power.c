/* Scenarios "poweroff" and "reset": the guest asks the platform to end the
 * VM, the way an OS would, and the verdict belongs to whoever runs the VM
 * (isle's exit status and log line, QEMU's -no-reboot exit). The guest can
 * only detect the failure case: still running a second later.
 *
 *   test=poweroff                    ACPI S5 via the FADT and \_S5
 *   test=reset [method=cf9|i8042|acpi]   reset control 0xcf9 (default),
 *                                    the keyboard controller's pulse-reset
 *                                    command, or the FADT's RESET_REG */
#include "guest.h"

#define SLP_EN_HW_REDUCED 0x20          /* sleep control register bit 5 */
#define SLP_EN_PM1        (1u << 13)    /* PM1_CNT bit 13 */
#define RESET_CF9_PORT    0xcf9
#define RESET_CF9_VALUE   0x06          /* full reset | reset CPU */
#define I8042_CMD         0x64
#define I8042_STATUS_IBF  0x02
#define I8042_PULSE_RESET 0xfe
#define GRACE_US          1000000

/* Reached only if the request was ignored. */
static void power_still_running(const char *what)
{
	timer_delay_us(GRACE_US);
	report(false, "VM still running %u ms after the %s request", GRACE_US / 1000, what);
}

void test_poweroff_run(void)
{
	struct acpi_s5 s5;

	report_prefix_push("poweroff");
	if (!report(acpi_sleep_s5(&s5), "FADT sleep register and \\_S5 found")) {
		report_prefix_pop();
		return;
	}
	if (s5.hw_reduced) {
		report(true, "entering S5: %#x to sleep control port %#x",
		       (s5.slp_typ & 7) << 2 | SLP_EN_HW_REDUCED, s5.port);
		outb(s5.port, (uint8_t)((s5.slp_typ & 7) << 2 | SLP_EN_HW_REDUCED));
	} else {
		report(true, "entering S5: %#x to PM1a_CNT port %#x",
		       (s5.slp_typ & 7) << 10 | SLP_EN_PM1, s5.port);
		outw(s5.port, (uint16_t)((s5.slp_typ & 7) << 10 | SLP_EN_PM1));
	}
	power_still_running("poweroff");
	report_prefix_pop();
}

static void reset_i8042(void)
{
	uint64_t deadline = timer_deadline_us(100000);

	/* Wait (bounded) for the controller's input buffer to drain. */
	while ((inb(I8042_CMD) & I8042_STATUS_IBF) && !timer_expired(deadline))
		cpu_relax();
	outb(I8042_CMD, I8042_PULSE_RESET);
}

void test_reset_run(void)
{
	const char *method = cmdline_get("method");
	uint16_t port;
	uint8_t value;

	if (!method)
		method = "cf9";
	report_prefix_pushf("reset %s", method);
	if (!strcmp(method, "cf9")) {
		report(true, "writing %#x to port %#x", RESET_CF9_VALUE, RESET_CF9_PORT);
		outb(RESET_CF9_PORT, RESET_CF9_VALUE);
	} else if (!strcmp(method, "i8042")) {
		report(true, "pulse-reset command %#x to port %#x", I8042_PULSE_RESET, I8042_CMD);
		reset_i8042();
	} else if (!strcmp(method, "acpi")) {
		if (!report(acpi_reset_reg(&port, &value), "FADT RESET_REG in I/O space")) {
			report_prefix_pop();
			return;
		}
		report(true, "writing %#x to RESET_REG port %#x", value, port);
		outb(port, value);
	} else {
		report(false, "unknown method (cf9, i8042 or acpi)");
		report_prefix_pop();
		return;
	}
	power_still_running("reset");
	report_prefix_pop();
}
