/* Shared by the vhost-user protocol test drivers (tapdisk-proto.c,
 * netback-proto.c): TAP-style "ok"/"not ok" lines that remember a failure
 * in `failed` (the driver's exit status), and waiting on an eventfd. */
#ifndef ISLE_TESTS_PROTO_CHECK_H
#define ISLE_TESTS_PROTO_CHECK_H

#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/eventfd.h>

static int failed;

static void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf(cond ? "ok - " : "not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failed |= !cond;
}

/* True if fd (an eventfd) fired within ms, consuming its count. */
static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	eventfd_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	return eventfd_read(fd, &v) == 0;
}

#endif
