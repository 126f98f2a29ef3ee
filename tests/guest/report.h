/* Test reporting in the style of kvm-unit-tests: TAP lines on the serial
 * console, each also sent as a struct testdev_report to port 0xf8. */
#ifndef GUEST_REPORT_H
#define GUEST_REPORT_H

#include <stdbool.h>

/* Reports one check: "ok N - <prefixes><msg>" or "not ok N - ...".
 * Returns cond so callers can bail out of dependent checks. */
bool report(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a check that could not run: "ok N - <prefixes> # SKIP <why>". */
void report_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A diagnostic line ("# <prefixes>...") that is not a test point. */
void report_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefixes nest, joined by ": ". */
void report_prefix_push(const char *prefix);
void report_prefix_pushf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_prefix_pop(void);

/* Prints the plan and the SUMMARY line, sends the summary report, and
 * returns the exit code: 1 if anything failed, 77 if everything was
 * skipped, else 0. */
int report_summary(void);

unsigned int report_failed(void);

#endif
