/* isle-tapdisk: command line of the per-disk vhost-user-blk server.
 *
 *   isle-tapdisk --socket PATH --disk SPEC [--queues N]
 *                [--engine sync|aio|uring] [--direct] [--readonly]
 *
 * Exit status: 0 after SIGTERM/SIGINT, 2 for a usage error or a disk spec
 * we cannot serve (one line on stderr), 1 when the image or the socket
 * cannot be opened (a locked image names its holder). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskspec.h"
#include "tapdisk.h"
#include "isle/log.h"
#include "isle/vhost_user.h"

#define PROG "isle-tapdisk"

static const char usage[] =
	"usage: " PROG " --socket PATH --disk SPEC [options]\n"
	"Serves one disk image to a vhost-user-blk frontend (e.g. QEMU's\n"
	"vhost-user-blk-pci) listening on the AF_UNIX socket PATH.\n"
	"\n"
	"  --socket PATH        socket to listen on (a stale one is replaced)\n"
	"  --disk SPEC          Xen xl disk spec: phy:/dev/X, file:/img, tap:aio:/img,\n"
	"                       /img,raw,xvda,rw or key=value,...,target=/img\n"
	"  --queues N           virtqueues, 1-64 (default 1)\n"
	"  --engine E           I/O engine: sync, aio or uring (default: from the\n"
	"                       spec, else uring, then aio, then sync)\n"
	"  --direct             O_DIRECT: bypass the host page cache\n"
	"  --readonly           serve read-only (also access=ro in the spec)\n"
	"  --help               this text\n"
	"Environment: ISLE_LOG=debug|info|warn|error.\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

static int parse_engine(const char *s, enum disk_engine_hint *e)
{
	static const struct { const char *name; enum disk_engine_hint e; } names[] = {
		{ "sync", DISK_ENGINE_SYNC }, { "aio", DISK_ENGINE_AIO },
		{ "uring", DISK_ENGINE_URING }, { "io_uring", DISK_ENGINE_URING },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i].name)) {
			*e = names[i].e;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_queues(const char *s, unsigned int *q)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > VU_MAX_QUEUES)
		return -EINVAL;
	*q = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_SOCKET = 256, OPT_DISK, OPT_QUEUES, OPT_ENGINE, OPT_DIRECT,
	       OPT_READONLY, OPT_HELP };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "queues", required_argument, NULL, OPT_QUEUES },
		{ "engine", required_argument, NULL, OPT_ENGINE },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		{ "readonly", no_argument, NULL, OPT_READONLY },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct tapdisk_opts o = { .engine = DISK_ENGINE_DEFAULT, .queues = 1 };
	const char *disk = NULL;
	struct disk_spec spec;
	struct tapdisk *td;
	char err[PATH_MAX + 256];
	int c, r;

	log_init(PROG);
	opterr = 0;   /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			o.socket_path = optarg;
			break;
		case OPT_DISK:
			disk = optarg;
			break;
		case OPT_QUEUES:
			if (parse_queues(optarg, &o.queues))
				return usage_error("--queues wants a number from 1 to 64, not '%s'",
						   optarg);
			break;
		case OPT_ENGINE:
			if (parse_engine(optarg, &o.engine))
				return usage_error("--engine wants sync, aio or uring, not '%s'",
						   optarg);
			break;
		case OPT_DIRECT:
			o.direct = true;
			break;
		case OPT_READONLY:
			o.readonly = true;
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			return 0;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o.socket_path || !o.socket_path[0])
		return usage_error("%s", "--socket PATH is required");
	if (!disk)
		return usage_error("%s", "--disk SPEC is required");
	r = diskspec_parse(disk, &spec, err, sizeof(err));
	if (r) {
		fprintf(stderr, PROG ": --disk %s: %s\n", disk, err);
		return 2;
	}
	o.spec = &spec;
	r = tapdisk_open(&td, &o, err, sizeof(err));
	if (r) {
		fprintf(stderr, PROG ": %s\n", err[0] ? err : strerror(-r));
		return r == -ENOTSUP ? 2 : 1;
	}
	r = tapdisk_run(td);
	tapdisk_close(td);
	if (r) {
		fprintf(stderr, PROG ": %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
