/* Unit tests for netback/nb_opts.c: isle-netback's command line as a golden
 * table (accepted lines and what they set; refused ones and a piece of the
 * message), then the --tap-fd checks on real fds: taps made by
 * tap_fixture.c in a namespace of their own (skipped with a note where the
 * sandbox allows none), a pipe, a closed fd, an unbound /dev/net/tun fd. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "cunit.h"
#include "isle/util.h"
#include "nb_opts.h"
#include "tap_fixture.h"

#define TAPF (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

struct opts_case {
	const char *line;    /* after argv[0], split on spaces */
	int r;               /* 0, NB_OPTS_HELP or -EINVAL */
	const char *want;    /* r == -EINVAL: in the message */
};

static const struct opts_case cases[] = {
	{ "--socket s --tap t0", 0, NULL },
	{ "--socket s --tap-fd 3", 0, NULL },
	{ "--socket s --tap-fd 3 --tap-fd 10 --queues 2", 0, NULL },
	{ "--queues 3 --tap-fd 5 --socket s --tap-fd 4 --tap-fd 2147483647", 0, NULL },
	{ "--socket s --tap-fd 3 --bridge br0 --script /x --mtu 1400 --mac 02:00:00:00:00:01",
	  0, NULL },
	{ "--help", NB_OPTS_HELP, NULL },
	{ "--socket s --tap-fd 3 --help", NB_OPTS_HELP, NULL },
	/* Required, exclusive, counted. */
	{ "", -EINVAL, "--socket and --tap or --tap-fd are required" },
	{ "--tap-fd 3", -EINVAL, "are required" },
	{ "--socket s", -EINVAL, "are required" },
	{ "--socket s --tap t0 --tap-fd 3", -EINVAL, "--tap and --tap-fd exclude each other" },
	{ "--socket s --tap-fd 3 --queues 2", -EINVAL, "1 --tap-fd for 2 queue pairs" },
	{ "--socket s --tap-fd 3 --tap-fd 4", -EINVAL, "2 --tap-fd for 1 queue pair " },
	{ "--socket s --tap-fd 3 --tap-fd 3 --queues 2", -EINVAL, "--tap-fd 3 given twice" },
	{ "--socket s --tap-fd 3 --tap-fd 4 --tap-fd 5 --tap-fd 6 --tap-fd 7 --tap-fd 8 "
	  "--tap-fd 9 --tap-fd 10 --tap-fd 11 --tap-fd 12 --tap-fd 13 --tap-fd 14 --tap-fd 15 "
	  "--tap-fd 16 --tap-fd 17 --tap-fd 18 --tap-fd 19", -EINVAL, "more than 16 --tap-fd" },
	/* Bad fd numbers. */
	{ "--socket s --tap-fd 2", -EINVAL, "bad --tap-fd 2 (an open fd number, 3 or more)" },
	{ "--socket s --tap-fd 0", -EINVAL, "bad --tap-fd 0" },
	{ "--socket s --tap-fd -3", -EINVAL, "bad --tap-fd -3" },
	{ "--socket s --tap-fd +3", -EINVAL, "bad --tap-fd +3" },
	{ "--socket s --tap-fd 3x", -EINVAL, "bad --tap-fd 3x" },
	{ "--socket s --tap-fd x", -EINVAL, "bad --tap-fd x" },
	{ "--socket s --tap-fd 2147483648", -EINVAL, "bad --tap-fd 2147483648" },
	{ "--socket s --tap-fd 99999999999999999999999", -EINVAL, "bad --tap-fd" },
	{ "--socket s --tap-fd", -EINVAL, "--tap-fd needs a value" },
	/* The rest of the line, as before --tap-fd. */
	{ "--socket s --tap t0 --bogus", -EINVAL, "unrecognized option --bogus" },
	{ "--socket s --tap t0 extra", -EINVAL, "unexpected argument extra" },
	{ "--socket s --tap t0 --mac 01:00:5e:00:00:01", -EINVAL, "bad --mac" },
	{ "--socket s --tap t0 --mac 00:00:00:00:00:00", -EINVAL, "bad --mac" },
	{ "--socket s --tap t0 --queues 0", -EINVAL, "bad --queues 0 (1-16)" },
	{ "--socket s --tap t0 --queues 17", -EINVAL, "bad --queues 17" },
	{ "--socket s --tap t0 --mtu 67", -EINVAL, "bad --mtu 67" },
	{ "--socket s --tap t0 --mtu 65536", -EINVAL, "bad --mtu 65536" },
	{ "--socket s --tap 0123456789abcdefg", -EINVAL, "interface names are 1-15" },
	{ "--socket s --tap a/b", -EINVAL, "interface names" },
	{ "--socket s --tap-fd 3 --bridge 0123456789abcdefg", -EINVAL, "interface names" },
};

/* Splits line into a writable argv (argv[0] "isle-netback") and parses.
 * The options point into argv's strings, as in main(): they live in a
 * static buffer so the caller can read o until the next parse (on this
 * function's stack they were gone once it returned, which ASan's
 * MALLOC_PERTURB_ runs showed as a flaky socket name). */
static int parse(const char *line, struct nb_opts *o, char *err, size_t errlen)
{
	static char buf[1024];
	static char *argv[64];
	char *tok, *save;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	argv[argc++] = "isle-netback";
	for (tok = strtok_r(buf, " ", &save); tok && argc < 63; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return nb_opts_parse(argc, argv, o, err, errlen);
}

static void test_golden(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct nb_opts o;
		char err[256];
		int r = parse(cases[i].line, &o, err, sizeof(err));

		if (r != cases[i].r || (cases[i].want && !strstr(err, cases[i].want)))
			printf("\n  case '%s': %d '%s'\n", cases[i].line, r, err);
		CU_ASSERT_EQUAL(r, cases[i].r);
		if (cases[i].want)
			CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].want));
		if (!r)
			CU_ASSERT_EQUAL(err[0], '\0');
	}
}

static void test_fields(void)
{
	struct nb_opts o;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(parse("--queues 3 --tap-fd 5 --socket s --tap-fd 4 --tap-fd 9 "
				    "--mtu 1400", &o, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(o.socket, "s");
	CU_ASSERT_PTR_NULL(o.tap);
	CU_ASSERT_EQUAL(o.queues, 3);
	CU_ASSERT_EQUAL(o.mtu, 1400);
	CU_ASSERT_EQUAL(o.nr_tap_fds, 3);
	CU_ASSERT(o.tap_fds[0] == 5 && o.tap_fds[1] == 4 && o.tap_fds[2] == 9);
	CU_ASSERT_EQUAL(o.tap_fds[3], -1);
	CU_ASSERT_EQUAL(o.tap_fds[TAP_MAX_QUEUES - 1], -1);
	/* Parsing again starts afresh (getopt reset, fields zeroed). */
	CU_ASSERT_EQUAL_FATAL(parse("--socket t --tap x0 --mac 02:00:00:00:00:07", &o, err,
				    sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(o.tap, "x0");
	CU_ASSERT_EQUAL(o.nr_tap_fds, 0);
	CU_ASSERT_EQUAL(o.queues, 1);
	CU_ASSERT_EQUAL(o.mtu, 0);
	CU_ASSERT(o.mac_set && o.mac[5] == 7);
}

/* --- the fds --- */

static int take(const int *fds, unsigned int n, char ifname[IFNAMSIZ], bool *local, char *err,
		size_t errlen)
{
	struct nb_opts o = { .queues = n, .nr_tap_fds = n };

	memcpy(o.tap_fds, fds, n * sizeof(int));
	return nb_opts_take_fds(&o, ifname, local, err, errlen);
}

static void close_all(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

/* Whether the taps can be made here; says so once when not. */
static bool taps_ok(void)
{
	static int ok = -1;
	int fd, r;

	if (ok < 0) {
		r = tap_fixture_open("probe0", TAPF, 1, &fd);
		ok = !r;
		if (r)
			printf("\n  skipped: no tap in a namespace of our own (%s)\n", strerror(-r));
		else
			close(fd);
	}
	return ok;
}

static void test_fd_not_tap(void)
{
	char ifname[IFNAMSIZ], err[256];
	int p[2], fd, tun;
	bool local;

	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL(take(&p[0], 1, ifname, &local, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a tap device fd"));
	fd = p[0];
	close_all(p, 2);
	CU_ASSERT_EQUAL(take(&fd, 1, ifname, &local, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no such open fd"));
	tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun >= 0) {
		CU_ASSERT_EQUAL(take(&tun, 1, ifname, &local, err, sizeof(err)), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "not bound to a device"));
		close(tun);
	}
}

static void test_fd_good(void)
{
	char ifname[IFNAMSIZ], err[256];
	int fd, hdr = 0;
	bool local = true;

	if (!taps_ok())
		return;
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("kata0", TAPF, 1, &fd), 0);
	/* As a caller may hand it over: inheritable, blocking. */
	CU_ASSERT_EQUAL(fcntl(fd, F_SETFD, 0), 0);
	CU_ASSERT_EQUAL(take(&fd, 1, ifname, &local, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ifname, "kata0");
	CU_ASSERT_FALSE(local);   /* the fixture's namespace is not ours */
	CU_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CU_ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CU_ASSERT(ioctl(fd, TUNGETVNETHDRSZ, &hdr) == 0 && hdr == 12);
	close(fd);
}

static void test_fd_mq(void)
{
	char ifname[IFNAMSIZ], err[256];
	struct ifreq ifr = { .ifr_flags = IFF_DETACH_QUEUE };
	int fds[3];
	bool local;

	if (!taps_ok())
		return;
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("mq0", TAPF | IFF_MULTI_QUEUE, 3, fds), 0);
	/* A queue an earlier netback left detached is attached again. */
	CU_ASSERT_EQUAL_FATAL(ioctl(fds[2], TUNSETQUEUE, &ifr), 0);
	CU_ASSERT_EQUAL(take(fds, 3, ifname, &local, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ifname, "mq0");
	CU_ASSERT_EQUAL(ioctl(fds[2], TUNSETQUEUE, &ifr), 0);   /* only an attached one detaches */
	/* Fewer fds than the tap has queues is fine: queues is what counts. */
	CU_ASSERT_EQUAL(take(fds, 2, ifname, &local, err, sizeof(err)), 0);
	close_all(fds, 3);
}

static void test_fd_refused(void)
{
	char ifname[IFNAMSIZ] = "", err[256];
	int fd, mq[2], other, pair[2];
	bool local;

	if (!taps_ok())
		return;
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("novnet0", IFF_TAP | IFF_NO_PI, 1, &fd), 0);
	CU_ASSERT_EQUAL(take(&fd, 1, ifname, &local, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--tap-fd "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tap novnet0 has no vnet headers (open it with "
					   "IFF_VNET_HDR"));
	/* Nothing was changed on a refused fd. */
	CU_ASSERT_EQUAL(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("pi0", IFF_TAP | IFF_VNET_HDR, 1, &fd), 0);
	CU_ASSERT_EQUAL(take(&fd, 1, ifname, &local, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "packet information headers"));
	close(fd);
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("tun0", IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, 1,
					       &fd), 0);
	CU_ASSERT_EQUAL(take(&fd, 1, ifname, &local, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tun0 is a tun (layer 3), not a tap"));
	close(fd);

	/* Two fds: a tap that is not multi-queue; fds of two taps; one queue
	 * twice (dup). */
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("sq0", TAPF, 1, &fd), 0);
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("mq1", TAPF | IFF_MULTI_QUEUE, 2, mq), 0);
	CU_ASSERT_EQUAL_FATAL(tap_fixture_open("mq2", TAPF | IFF_MULTI_QUEUE, 1, &other), 0);
	CU_ASSERT_EQUAL(take((int[]){ fd, mq[0] }, 2, ifname, &local, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tap sq0 is not multi-queue"));
	CU_ASSERT_EQUAL(take((int[]){ mq[0], other }, 2, ifname, &local, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "the fds must be queues of one tap"));
	pair[0] = mq[1];
	pair[1] = dup(mq[1]);
	CU_ASSERT_EQUAL(take(pair, 2, ifname, &local, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "are the same queue of mq1"));
	CU_ASSERT_EQUAL(take(mq, 2, ifname, &local, err, sizeof(err)), 0);
	close(pair[1]);
	close_all(mq, 2);
	close(other);
	close(fd);
}

void unit_register(void)
{
	UNIT_SUITE("nb_opts", UNIT_TEST(test_golden), UNIT_TEST(test_fields),
		   UNIT_TEST(test_fd_not_tap), UNIT_TEST(test_fd_good), UNIT_TEST(test_fd_mq),
		   UNIT_TEST(test_fd_refused));
}
