/* Scenario "console": what is typed on isle's stdin reaches the guest's
 * UART. Says "console ready", then reads COM1's receive buffer (polling
 * LSR.DR) until a newline or console_ms milliseconds (default 20000), and
 * reports whether the line equals the command line's expect= value. The
 * host side is tests/integration/isle-console, which pipes a line in (more
 * than the 64-byte FIFO holds, so isle's back-pressure is exercised too). */
#include "guest.h"

#define COM1     0x3f8
#define UART_RBR 0
#define UART_LSR 5
#define LSR_DR   0x01

void test_console_run(void)
{
	static char line[256], expect[256];
	const char *e = cmdline_get("expect");   /* a static buffer: copy it */
	uint64_t deadline;
	size_t n = 0;
	bool newline = false;

	snprintf(expect, sizeof(expect), "%s", e ? e : "");
	deadline = timer_deadline_us(cmdline_get_u64("console_ms", 20000) * 1000);
	report(true, "console ready");
	while (!newline && !timer_expired(deadline)) {
		char c;

		if (!(inb(COM1 + UART_LSR) & LSR_DR)) {
			cpu_relax();
			continue;
		}
		c = (char)inb(COM1 + UART_RBR);
		if (c == '\n' || c == '\r')
			newline = true;
		else if (n < sizeof(line) - 1)
			line[n++] = c;
	}
	line[n] = '\0';
	report(newline, "console: a line arrived (%lu bytes)", (unsigned long)n);
	report(!strcmp(line, expect), "console: the line is the one typed ('%s')", line);
}
