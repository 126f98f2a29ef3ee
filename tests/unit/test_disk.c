/* Unit tests for blkback/disk.c, the three engines and lock.c.
 *
 * Every engine runs the same checks against a temporary image under /var/tmp
 * (not /tmp, which may be tmpfs and refuse O_DIRECT): patterned writes and
 * reads through multi-entry iovecs at many offsets, flush, discard,
 * write-zeroes, direct I/O, range and read-only refusals, queue-full
 * backpressure, an image that shrinks under us, and callbacks that submit.
 * Contents are cross-checked with plain pread() on a separate descriptor.
 * The phy: suite attaches a loop device (root only, skipped otherwise), and
 * the lock suite checks OFD image locking, including a holder in another
 * process that must be named in the message. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "lock.h"
#include "cunit.h"
#include "isle/util.h"

#define IMG_SIZE (16 * MiB)

struct treq {
	struct disk_req req;
	int64_t result;
	int done;
	struct iovec iov[8];
	uint8_t *buf;
};

static unsigned int completions;

static void treq_done(struct disk_req *r, int64_t result)
{
	struct treq *t = r->opaque;

	t->result = result;
	t->done++;
	completions++;
}

static void treq_init(struct treq *t, enum disk_op op, uint64_t off, uint64_t len)
{
	memset(&t->req, 0, sizeof(t->req));
	t->req.op = op;
	t->req.offset = off;
	t->req.len = len;
	t->req.done = treq_done;
	t->req.opaque = t;
	t->result = 0;
	t->done = 0;
}

/* Splits buf[0..len) into up to n iovecs of uneven sizes, multiples of unit
 * except for the last. */
static void treq_split(struct treq *t, uint8_t *buf, uint64_t len, unsigned int n,
		       uint64_t unit)
{
	uint64_t off = 0, part;

	if (n > len / unit)
		n = len / unit ? (unsigned int)(len / unit) : 1;
	part = len / n / unit * unit;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t size = (i & 1) && part > unit ? part - unit : part;

		if (i == n - 1)
			size = len - off;
		t->iov[i].iov_base = buf + off;
		t->iov[i].iov_len = size;
		off += size;
	}
	t->req.iov = t->iov;
	t->req.iovcnt = n;
}

/* Polls the disk's eventfd and reaps until `target` completions in total. */
static bool wait_completions(struct disk *d, unsigned int target)
{
	struct pollfd p = { .fd = disk_event_fd(d), .events = POLLIN };

	while (completions < target) {
		if (poll(&p, 1, 10000) <= 0)
			return false;
		if (disk_reap(d) < 0)
			return false;
	}
	return true;
}

/* Submits one request and waits for it; returns submit's error or 0. */
static int run1(struct disk *d, struct treq *t)
{
	int r = disk_submit(d, &t->req);

	if (r)
		return r;
	CU_ASSERT(wait_completions(d, completions + 1));
	CU_ASSERT_EQUAL(t->done, 1);
	return 0;
}

static uint8_t pat(uint64_t off, unsigned int seed)
{
	return (uint8_t)(((off * 2654435761u) >> 13) ^ (off >> 9) ^ seed);
}

static void fill(uint8_t *buf, uint64_t off, uint64_t len, unsigned int seed)
{
	for (uint64_t i = 0; i < len; i++)
		buf[i] = pat(off + i, seed);
}

static bool check_pat(const uint8_t *buf, uint64_t off, uint64_t len, unsigned int seed)
{
	for (uint64_t i = 0; i < len; i++) {
		if (buf[i] != pat(off + i, seed)) {
			fprintf(stderr, "mismatch at %llu\n", (unsigned long long)(off + i));
			return false;
		}
	}
	return true;
}

static bool all_zero(const uint8_t *buf, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++) {
		if (buf[i])
			return false;
	}
	return true;
}

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void temp_image(char *path, size_t len, uint64_t size)
{
	int fd;

	snprintf(path, len, "/var/tmp/isle-disk-XXXXXX");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, (off_t)size) == 0);
	close(fd);
}

static int open_img(struct disk *d, const char *path, enum disk_engine_hint e,
		    bool ro, bool direct, unsigned int depth, char *err, size_t errlen)
{
	char s[PATH_MAX + 16];
	struct disk_spec spec;
	struct disk_flags f = { .direct = direct, .readonly = ro, .queue_depth = depth };
	int r;

	snprintf(s, sizeof(s), "file:%s", path);
	r = diskspec_parse(s, &spec, err, errlen);
	CU_ASSERT_EQUAL(r, 0);
	if (r)
		return r;
	return disk_open(d, &spec, e, &f, err, errlen);
}

/* Opens a fresh image with engine e; false (with a note) when the engine
 * cannot run here, e.g. io_uring disabled by sysctl or seccomp. */
static bool setup(struct disk *d, char *path, enum disk_engine_hint e, bool direct,
		  unsigned int depth)
{
	char err[256];
	int r;

	temp_image(path, PATH_MAX, IMG_SIZE);
	r = open_img(d, path, e, false, direct, depth, err, sizeof(err));
	if (r && e == DISK_ENGINE_URING && (r == -ENOSYS || r == -EPERM)) {
		printf("[skipped: io_uring unavailable: %s] ", err);
		unlink(path);
		return false;
	}
	if (r && direct && r == -EINVAL) {
		printf("[skipped: %s] ", err);
		unlink(path);
		return false;
	}
	CU_ASSERT_EQUAL(r, 0);
	if (r) {
		fprintf(stderr, "disk_open: %s\n", err);
		unlink(path);
		return false;
	}
	CU_ASSERT_EQUAL(d->engine->kind, e);
	CU_ASSERT_EQUAL(d->size, IMG_SIZE);
	return true;
}

static void teardown(struct disk *d, const char *path)
{
	disk_close(d);
	unlink(path);
}

/* Rounds of concurrent, non-overlapping writes then reads at random offsets
 * and lengths, each split into several iovecs (differently for the read). */
static void check_rw(enum disk_engine_hint e)
{
	enum { N = 12 };
	static struct treq w[N], rd[N];
	uint64_t slot = IMG_SIZE / N;
	char path[PATH_MAX];
	struct disk d;
	int pfd;

	if (!setup(&d, path, e, false, 0))
		return;
	pfd = open(path, O_RDONLY);
	CU_ASSERT_FATAL(pfd >= 0);
	for (unsigned int round = 0; round < 6; round++) {
		unsigned int base = completions;

		for (unsigned int i = 0; i < N; i++) {
			uint64_t len = 1 + rnd() % (slot / 2);
			uint64_t off = i * slot + rnd() % (slot - len);

			if (i == N - 1 && round == 0) {         /* up to the last byte */
				len = 4097;
				off = IMG_SIZE - len;
			}
			w[i].buf = malloc(len);
			rd[i].buf = calloc(1, len);
			CU_ASSERT_FATAL(w[i].buf && rd[i].buf);
			fill(w[i].buf, off, len, round);
			treq_init(&w[i], DISK_OP_WRITE, off, 0);
			treq_split(&w[i], w[i].buf, len, 1 + rnd() % 8, 1);
			CU_ASSERT_EQUAL(disk_submit(&d, &w[i].req), 0);
		}
		CU_ASSERT(wait_completions(&d, base + N));
		for (unsigned int i = 0; i < N; i++) {
			uint64_t len = w[i].req.len;

			CU_ASSERT_EQUAL(w[i].done, 1);
			CU_ASSERT_EQUAL(w[i].result, (int64_t)len);
			treq_init(&rd[i], DISK_OP_READ, w[i].req.offset, 0);
			treq_split(&rd[i], rd[i].buf, len, 1 + rnd() % 8, 1);
			CU_ASSERT_EQUAL(disk_submit(&d, &rd[i].req), 0);
		}
		CU_ASSERT(wait_completions(&d, base + 2 * N));
		for (unsigned int i = 0; i < N; i++) {
			uint64_t len = rd[i].req.len, off = rd[i].req.offset;

			CU_ASSERT_EQUAL(rd[i].result, (int64_t)len);
			CU_ASSERT(check_pat(rd[i].buf, off, len, round));
			memset(rd[i].buf, 0, len);
			CU_ASSERT_EQUAL(pread(pfd, rd[i].buf, len, (off_t)off), (ssize_t)len);
			CU_ASSERT(check_pat(rd[i].buf, off, len, round));
			free(w[i].buf);
			free(rd[i].buf);
		}
	}
	close(pfd);
	teardown(&d, path);
}

static void check_flush(enum disk_engine_hint e)
{
	static uint8_t buf[8192];
	struct treq t;
	char path[PATH_MAX];
	struct disk d;

	if (!setup(&d, path, e, false, 0))
		return;
	fill(buf, 65536, sizeof(buf), 7);
	treq_init(&t, DISK_OP_WRITE, 65536, 0);
	treq_split(&t, buf, sizeof(buf), 3, 512);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	CU_ASSERT_EQUAL(t.result, (int64_t)sizeof(buf));
	treq_init(&t, DISK_OP_FLUSH, 0, 0);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	CU_ASSERT_EQUAL(t.result, 0);
	teardown(&d, path);
}

/* Writes a pattern over [off0, off0+span), applies op to [off, off+len)
 * inside it, and checks zeros there and the pattern around it. */
static void zero_op(struct disk *d, enum disk_op op, uint64_t off0, uint64_t span,
		    uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(span);
	struct treq t;

	CU_ASSERT_FATAL(buf != NULL);
	fill(buf, off0, span, 3);
	treq_init(&t, DISK_OP_WRITE, off0, 0);
	treq_split(&t, buf, span, 4, 4096);
	CU_ASSERT_EQUAL(run1(d, &t), 0);
	treq_init(&t, op, off, len);
	CU_ASSERT_EQUAL(run1(d, &t), 0);
	CU_ASSERT_EQUAL(t.result, 0);
	memset(buf, 0xaa, span);
	treq_init(&t, DISK_OP_READ, off0, 0);
	treq_split(&t, buf, span, 2, 4096);
	CU_ASSERT_EQUAL(run1(d, &t), 0);
	CU_ASSERT_EQUAL(t.result, (int64_t)span);
	CU_ASSERT(check_pat(buf, off0, off - off0, 3));
	CU_ASSERT(all_zero(buf + (off - off0), len));
	CU_ASSERT(check_pat(buf + (off - off0) + len, off + len, off0 + span - off - len, 3));
	free(buf);
}

static void check_discard(enum disk_engine_hint e)
{
	char path[PATH_MAX];
	struct disk d;

	if (!setup(&d, path, e, false, 0))
		return;
	CU_ASSERT(d.can_discard);       /* ext4 under /var/tmp punches holes */
	if (d.can_discard)
		zero_op(&d, DISK_OP_DISCARD, 1 * MiB, 2 * MiB, 1 * MiB + 64 * KiB, 1 * MiB);
	teardown(&d, path);
}

static void check_write_zeroes(enum disk_engine_hint e)
{
	char path[PATH_MAX];
	struct disk d;

	if (!setup(&d, path, e, false, 0))
		return;
	zero_op(&d, DISK_OP_WRITE_ZEROES, 4 * MiB, 1 * MiB, 4 * MiB + 100, 5000);
	zero_op(&d, DISK_OP_WRITE_ZEROES, 6 * MiB, 1 * MiB, 6 * MiB + 4096, 256 * KiB);
	/* Once ZERO_RANGE is known to be missing, the fallbacks still zero. */
	d.zero_range_ok = false;
	zero_op(&d, DISK_OP_WRITE_ZEROES, 8 * MiB, 1 * MiB, 8 * MiB + 512, 8192);
	teardown(&d, path);
}

static void check_direct(enum disk_engine_hint e)
{
	const uint64_t len = 64 * KiB;
	char path[PATH_MAX];
	struct disk d;
	uint8_t *wbuf = NULL, *rbuf = NULL;
	struct treq t;

	if (!setup(&d, path, e, true, 0))
		return;
	CU_ASSERT(d.direct);
	CU_ASSERT(d.logical_block_size == 512 || d.logical_block_size == 4096);
	CU_ASSERT_FATAL(!posix_memalign((void **)&wbuf, 4096, len));
	CU_ASSERT_FATAL(!posix_memalign((void **)&rbuf, 4096, len));
	for (uint64_t off = 0; off < IMG_SIZE; off += 3 * MiB + 4096) {
		fill(wbuf, off, len, 9);
		treq_init(&t, DISK_OP_WRITE, off, 0);
		treq_split(&t, wbuf, len, 5, 4096);
		CU_ASSERT_EQUAL(run1(&d, &t), 0);
		CU_ASSERT_EQUAL(t.result, (int64_t)len);
		memset(rbuf, 0, len);
		treq_init(&t, DISK_OP_READ, off, 0);
		treq_split(&t, rbuf, len, 3, 4096);
		CU_ASSERT_EQUAL(run1(&d, &t), 0);
		CU_ASSERT_EQUAL(t.result, (int64_t)len);
		CU_ASSERT(check_pat(rbuf, off, len, 9));
	}
	treq_init(&t, DISK_OP_FLUSH, 0, 0);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	CU_ASSERT_EQUAL(t.result, 0);
	/* A misaligned buffer is the kernel's to refuse: an error, not data. */
	treq_init(&t, DISK_OP_READ, 0, 0);
	treq_split(&t, rbuf + 1, 4096, 1, 4096);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	CU_ASSERT_EQUAL(t.result, -EINVAL);
	free(wbuf);
	free(rbuf);
	teardown(&d, path);
}

/* Nothing outside [0, size) is ever issued, whatever the request says. */
static void check_out_of_range(enum disk_engine_hint e)
{
	static uint8_t buf[1024];
	char path[PATH_MAX];
	struct disk d;
	struct treq t;

	if (!setup(&d, path, e, false, 0))
		return;
	treq_init(&t, DISK_OP_READ, IMG_SIZE - 512, 0);
	treq_split(&t, buf, sizeof(buf), 2, 512);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EIO);
	treq_init(&t, DISK_OP_WRITE, IMG_SIZE, 0);
	treq_split(&t, buf, 512, 1, 512);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EIO);
	treq_init(&t, DISK_OP_WRITE, UINT64_MAX - 100, 0);
	treq_split(&t, buf, 512, 1, 512);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EIO);
	treq_init(&t, DISK_OP_DISCARD, IMG_SIZE - 4096, 8192);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EIO);
	treq_init(&t, DISK_OP_WRITE_ZEROES, 4096, UINT64_MAX);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EIO);
	/* Malformed requests are refused before any I/O too. */
	treq_init(&t, DISK_OP_WRITE_ZEROES, 0, 0);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EINVAL);
	treq_init(&t, DISK_OP_READ, 0, 0);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EINVAL);    /* no iovec */
	treq_init(&t, (enum disk_op)42, 0, 0);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EINVAL);
	CU_ASSERT_EQUAL(t.done, 0);
	CU_ASSERT_EQUAL(d.inflight, 0);
	/* The disk's last byte itself is fine. */
	treq_init(&t, DISK_OP_WRITE, IMG_SIZE - 1, 0);
	treq_split(&t, buf, 1, 1, 1);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	CU_ASSERT_EQUAL(t.result, 1);
	teardown(&d, path);
}

static void check_readonly(enum disk_engine_hint e)
{
	static uint8_t buf[4096];
	char path[PATH_MAX], err[256];
	struct disk d;
	struct treq t;
	int r;

	temp_image(path, sizeof(path), IMG_SIZE);
	r = open_img(&d, path, e, true, false, 0, err, sizeof(err));
	if (r == -ENOSYS || r == -EPERM) {
		printf("[skipped: %s] ", err);
		unlink(path);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(r, 0);
	CU_ASSERT(d.readonly);
	CU_ASSERT(!d.can_discard);
	treq_init(&t, DISK_OP_WRITE, 0, 0);
	treq_split(&t, buf, sizeof(buf), 1, 512);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EROFS);
	treq_init(&t, DISK_OP_DISCARD, 0, 4096);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EROFS);
	treq_init(&t, DISK_OP_WRITE_ZEROES, 0, 4096);
	CU_ASSERT_EQUAL(disk_submit(&d, &t.req), -EROFS);
	treq_init(&t, DISK_OP_READ, 0, 0);
	treq_split(&t, buf, sizeof(buf), 2, 512);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	CU_ASSERT_EQUAL(t.result, (int64_t)sizeof(buf));
	treq_init(&t, DISK_OP_FLUSH, 0, 0);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	teardown(&d, path);
}

/* With depth 4, a fifth request is refused with -EAGAIN until a reap. */
static void check_queue_full(enum disk_engine_hint e)
{
	static uint8_t buf[5][4096];
	struct treq t[5];
	char path[PATH_MAX];
	struct disk d;
	unsigned int base = completions;

	if (!setup(&d, path, e, false, 4))
		return;
	for (int i = 0; i < 5; i++) {
		treq_init(&t[i], DISK_OP_READ, (uint64_t)i * 4096, 0);
		treq_split(&t[i], buf[i], 4096, 1, 4096);
	}
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(disk_submit(&d, &t[i].req), 0);
	CU_ASSERT_EQUAL(disk_submit(&d, &t[4].req), -EAGAIN);
	CU_ASSERT(wait_completions(&d, base + 4));
	CU_ASSERT_EQUAL(d.inflight, 0);
	CU_ASSERT_EQUAL(run1(&d, &t[4]), 0);
	CU_ASSERT_EQUAL(t[4].result, 4096);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(t[i].done, 1);
	teardown(&d, path);
}

/* An image truncated behind our back: a read of the vanished tail must fail
 * with -EIO, never succeed short or with stale bytes. */
static void check_shrunk(enum disk_engine_hint e)
{
	static uint8_t buf[64 * 1024];
	char path[PATH_MAX];
	struct disk d;
	struct treq t;

	if (!setup(&d, path, e, false, 0))
		return;
	CU_ASSERT_FATAL(truncate(path, IMG_SIZE - 16 * KiB) == 0);
	treq_init(&t, DISK_OP_READ, IMG_SIZE - sizeof(buf), 0);
	treq_split(&t, buf, sizeof(buf), 4, 4096);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	CU_ASSERT_EQUAL(t.result, -EIO);
	teardown(&d, path);
}

/* Finishing a transfer part-way through its iovec: the continuation every
 * engine uses for short completions must pick up at the right byte. */
static void check_sync_continue(enum disk_engine_hint e)
{
	static uint8_t buf[3 * 4096];
	char path[PATH_MAX];
	struct disk d;
	struct treq t;

	if (!setup(&d, path, e, false, 0))
		return;
	fill(buf, 8192, sizeof(buf), 5);
	treq_init(&t, DISK_OP_WRITE, 8192, 0);
	treq_split(&t, buf, sizeof(buf), 3, 4096);
	CU_ASSERT_EQUAL(run1(&d, &t), 0);
	memset(buf, 0xee, sizeof(buf));
	treq_init(&t, DISK_OP_READ, 8192, sizeof(buf));
	treq_split(&t, buf, sizeof(buf), 3, 4096);
	CU_ASSERT_EQUAL(disk_sync_rw(&d, &t.req, 5000), (int64_t)sizeof(buf));
	CU_ASSERT_EQUAL(buf[4999], 0xee);
	CU_ASSERT(check_pat(buf + 5000, 8192 + 5000, sizeof(buf) - 5000, 5));
	teardown(&d, path);
}

/* Callbacks may submit: a chain of writes, each issued by the previous
 * one's completion, all land. */
static struct {
	struct disk *d;
	struct treq t[16];
	uint8_t buf[16][4096];
	int next;
} chain;

static void chain_done(struct disk_req *r, int64_t result)
{
	struct treq *t = r->opaque;

	t->result = result;
	t->done++;
	completions++;
	if (chain.next < 16)
		CU_ASSERT_EQUAL(disk_submit(chain.d, &chain.t[chain.next++].req), 0);
}

static void check_chain(enum disk_engine_hint e)
{
	static uint8_t rbuf[16 * 4096];
	char path[PATH_MAX];
	struct disk d;
	struct treq rd;
	unsigned int base = completions;

	if (!setup(&d, path, e, false, 0))
		return;
	chain.d = &d;
	chain.next = 1;
	for (int i = 0; i < 16; i++) {
		fill(chain.buf[i], (uint64_t)i * 4096, 4096, 11);
		treq_init(&chain.t[i], DISK_OP_WRITE, (uint64_t)i * 4096, 0);
		treq_split(&chain.t[i], chain.buf[i], 4096, 2, 512);
		chain.t[i].req.done = chain_done;
	}
	CU_ASSERT_EQUAL(disk_submit(&d, &chain.t[0].req), 0);
	/* Nothing completes inside submit, whatever the engine. */
	CU_ASSERT_EQUAL(chain.t[0].done, 0);
	CU_ASSERT(wait_completions(&d, base + 16));
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(chain.t[i].result, 4096);
	treq_init(&rd, DISK_OP_READ, 0, 0);
	treq_split(&rd, rbuf, sizeof(rbuf), 7, 512);
	CU_ASSERT_EQUAL(run1(&d, &rd), 0);
	CU_ASSERT(check_pat(rbuf, 0, sizeof(rbuf), 11));
	teardown(&d, path);
}

#define ENGINE_TESTS(fn)                                                  \
	static void fn##_sync(void) { fn(DISK_ENGINE_SYNC); }             \
	static void fn##_aio(void) { fn(DISK_ENGINE_AIO); }               \
	static void fn##_uring(void) { fn(DISK_ENGINE_URING); }

ENGINE_TESTS(check_rw)
ENGINE_TESTS(check_flush)
ENGINE_TESTS(check_discard)
ENGINE_TESTS(check_write_zeroes)
ENGINE_TESTS(check_direct)
ENGINE_TESTS(check_out_of_range)
ENGINE_TESTS(check_readonly)
ENGINE_TESTS(check_queue_full)
ENGINE_TESTS(check_shrunk)
ENGINE_TESTS(check_sync_continue)
ENGINE_TESTS(check_chain)

#define ENGINE_SUITE(name, e)                                             \
	UNIT_SUITE(name,                                                  \
		UNIT_TEST(check_rw_##e), UNIT_TEST(check_flush_##e),      \
		UNIT_TEST(check_discard_##e), UNIT_TEST(check_write_zeroes_##e), \
		UNIT_TEST(check_direct_##e), UNIT_TEST(check_out_of_range_##e), \
		UNIT_TEST(check_readonly_##e), UNIT_TEST(check_queue_full_##e), \
		UNIT_TEST(check_shrunk_##e), UNIT_TEST(check_sync_continue_##e), \
		UNIT_TEST(check_chain_##e))


/* --- phy: on a loop device --------------------------------------------- */

/* Attaches file to a free loop device; false (with a note) when we are not
 * root or the kernel has no loop support. */
static bool loop_attach(const char *file, bool sector4k, char *dev, size_t len)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int status;

	if (geteuid() != 0) {
		printf("[skipped: loop devices need root] ");
		return false;
	}
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s%s 2>&1",
		 sector4k ? "-b 4096 " : "", file);
	p = popen(cmd, "r");
	if (!p || !fgets(dev, (int)len, p))
		dev[0] = '\0';
	status = p ? pclose(p) : -1;
	dev[strcspn(dev, "\n")] = '\0';
	if (status != 0 || strncmp(dev, "/dev/loop", 9)) {
		printf("[skipped: losetup: %s] ", dev[0] ? dev : "failed");
		return false;
	}
	return true;
}

static void loop_detach(const char *dev)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static int open_phy(struct disk *d, const char *dev, enum disk_engine_hint e, bool direct)
{
	char s[128], err[256];
	struct disk_spec spec;
	struct disk_flags f = { .direct = direct };
	int r;

	snprintf(s, sizeof(s), "phy:%s", dev);
	CU_ASSERT_EQUAL_FATAL(diskspec_parse(s, &spec, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(spec.backendtype, DISK_BACKEND_PHY);
	r = disk_open(d, &spec, e, &f, err, sizeof(err));
	if (r)
		fprintf(stderr, "disk_open %s: %s\n", dev, err);
	return r;
}

static void phy_rw(struct disk *d, uint64_t off, unsigned int seed)
{
	const uint64_t len = 256 * KiB;
	uint8_t *buf = NULL;
	struct treq t;

	CU_ASSERT_FATAL(!posix_memalign((void **)&buf, 4096, len));
	fill(buf, off, len, seed);
	treq_init(&t, DISK_OP_WRITE, off, 0);
	treq_split(&t, buf, len, 4, 4096);
	CU_ASSERT_EQUAL(run1(d, &t), 0);
	CU_ASSERT_EQUAL(t.result, (int64_t)len);
	memset(buf, 0, len);
	treq_init(&t, DISK_OP_READ, off, 0);
	treq_split(&t, buf, len, 3, 4096);
	CU_ASSERT_EQUAL(run1(d, &t), 0);
	CU_ASSERT_EQUAL(t.result, (int64_t)len);
	CU_ASSERT(check_pat(buf, off, len, seed));
	treq_init(&t, DISK_OP_FLUSH, 0, 0);
	CU_ASSERT_EQUAL(run1(d, &t), 0);
	CU_ASSERT_EQUAL(t.result, 0);
	free(buf);
}

static void check_phy(enum disk_engine_hint e)
{
	char file[PATH_MAX], dev[64];
	struct disk d;
	int r;

	temp_image(file, sizeof(file), 32 * MiB);
	if (!loop_attach(file, false, dev, sizeof(dev))) {
		unlink(file);
		return;
	}
	r = open_phy(&d, dev, e, false);
	if (r == -ENOSYS || r == -EPERM) {
		printf("[skipped: engine unavailable] ");
	} else if (r == 0) {
		CU_ASSERT(d.is_blockdev);
		CU_ASSERT_EQUAL(d.size, 32 * MiB);          /* BLKGETSIZE64 */
		CU_ASSERT_EQUAL(d.logical_block_size, 512); /* BLKSSZGET */
		CU_ASSERT(d.physical_block_size >= 512);
		phy_rw(&d, 3 * MiB, 21);
		/* loop discards by punching the backing file: zeros. */
		CU_ASSERT(d.can_discard);
		if (d.can_discard)
			zero_op(&d, DISK_OP_DISCARD, 8 * MiB, 1 * MiB, 8 * MiB + 64 * KiB, 512 * KiB);
		zero_op(&d, DISK_OP_WRITE_ZEROES, 12 * MiB, 1 * MiB, 12 * MiB + 4096, 64 * KiB);
		disk_close(&d);
		/* O_DIRECT on the device itself. */
		CU_ASSERT_EQUAL(open_phy(&d, dev, e, true), 0);
		if (d.fd >= 0) {
			CU_ASSERT(d.direct);
			phy_rw(&d, 5 * MiB, 22);
			disk_close(&d);
		}
	} else {
		CU_FAIL("disk_open on a loop device");
	}
	loop_detach(dev);
	unlink(file);
}

static void check_phy_4k(void)
{
	char file[PATH_MAX], dev[64];
	struct disk d;

	temp_image(file, sizeof(file), 8 * MiB);
	if (!loop_attach(file, true, dev, sizeof(dev))) {
		unlink(file);
		return;
	}
	CU_ASSERT_EQUAL(open_phy(&d, dev, DISK_ENGINE_SYNC, true), 0);
	if (d.fd >= 0) {
		CU_ASSERT_EQUAL(d.logical_block_size, 4096);
		CU_ASSERT(d.physical_block_size >= 4096);
		phy_rw(&d, 1 * MiB, 23);
		disk_close(&d);
	}
	loop_detach(dev);
	unlink(file);
}

ENGINE_TESTS(check_phy)

/* --- image locking -------------------------------------------------------- */

static void self_comm(char *comm, size_t len)
{
	FILE *f = fopen("/proc/self/comm", "r");

	if (!f || !fgets(comm, (int)len, f))
		comm[0] = '\0';
	if (f)
		fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
}

/* Two opens in one process are two open file descriptions: they conflict. */
static void test_lock_rw_rw(void)
{
	char path[PATH_MAX], err[512], want[PATH_MAX + 128], comm[32];
	struct disk a, b;

	temp_image(path, sizeof(path), 1 * MiB);
	self_comm(comm, sizeof(comm));
	CU_ASSERT_EQUAL_FATAL(open_img(&a, path, DISK_ENGINE_SYNC, false, false, 0,
				       err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(open_img(&b, path, DISK_ENGINE_SYNC, false, false, 0, err,
				 sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "image %s is locked for writing by %s (pid %d)",
		 path, comm, (int)getpid());
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want))
		fprintf(stderr, "got '%s'\nwant '%s'\n", err, want);
	CU_ASSERT_EQUAL(open_img(&b, path, DISK_ENGINE_SYNC, true, false, 0, err,
				 sizeof(err)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "locked for writing"));
	disk_close(&a);
	CU_ASSERT_EQUAL(open_img(&b, path, DISK_ENGINE_SYNC, false, false, 0, err,
				 sizeof(err)), 0);
	disk_close(&b);
	unlink(path);
}

static void test_lock_ro_ro_then_rw(void)
{
	char path[PATH_MAX], err[512];
	struct disk a, b, c;

	temp_image(path, sizeof(path), 1 * MiB);
	CU_ASSERT_EQUAL_FATAL(open_img(&a, path, DISK_ENGINE_SYNC, true, false, 0,
				       err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(open_img(&b, path, DISK_ENGINE_AIO, true, false, 0,
				       err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(open_img(&c, path, DISK_ENGINE_SYNC, false, false, 0, err,
				 sizeof(err)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is locked for reading by"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	disk_close(&a);
	CU_ASSERT_EQUAL(open_img(&c, path, DISK_ENGINE_SYNC, false, false, 0, err,
				 sizeof(err)), -EBUSY);
	disk_close(&b);
	CU_ASSERT_EQUAL(open_img(&c, path, DISK_ENGINE_SYNC, false, false, 0, err,
				 sizeof(err)), 0);
	disk_close(&c);
	unlink(path);
}

/* A holder in another process is found through /proc and named. */
static void test_lock_other_process(void)
{
	char path[PATH_MAX], err[512], want[PATH_MAX + 128], c;
	int ready[2], go[2], fd;
	struct disk d;
	short type;
	pid_t child, holder;

	temp_image(path, sizeof(path), 1 * MiB);
	CU_ASSERT_FATAL(pipe(ready) == 0 && pipe(go) == 0);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		prctl(PR_SET_NAME, "isle-tapdisk");
		fd = open(path, O_RDWR);
		if (fd < 0 || lock_acquire(fd, true, path, NULL, 0))
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	CU_ASSERT_EQUAL_FATAL(read(ready[0], &c, 1), 1);
	CU_ASSERT_EQUAL(open_img(&d, path, DISK_ENGINE_AIO, false, false, 0, err,
				 sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "image %s is locked for writing by isle-tapdisk (pid %d)",
		 path, (int)child);
	CU_ASSERT_STRING_EQUAL(err, want);
	fd = open(path, O_RDONLY);
	CU_ASSERT_EQUAL(lock_find_holder(fd, F_RDLCK, &holder, &type), 0);
	CU_ASSERT_EQUAL(holder, child);
	CU_ASSERT_EQUAL(type, F_WRLCK);
	close(fd);
	CU_ASSERT_EQUAL(write(go[1], "g", 1), 1);
	waitpid(child, NULL, 0);
	CU_ASSERT_EQUAL(open_img(&d, path, DISK_ENGINE_AIO, false, false, 0, err,
				 sizeof(err)), 0);
	disk_close(&d);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	unlink(path);
}

/* --- opening ---------------------------------------------------------- */

static void test_open_errors(void)
{
	struct disk_spec spec;
	struct disk d;
	char err[512];

	CU_ASSERT_EQUAL(diskspec_parse("/var/tmp/isle-no-such-image", &spec, err,
				       sizeof(err)), 0);
	CU_ASSERT_EQUAL(disk_open(&d, &spec, DISK_ENGINE_SYNC, NULL, err, sizeof(err)),
			-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open /var/tmp/isle-no-such-image"));
	CU_ASSERT_EQUAL(diskspec_parse("/dev/null", &spec, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(disk_open(&d, &spec, DISK_ENGINE_SYNC, NULL, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "neither a regular file nor a block device"));
	spec.format = DISK_FORMAT_VHD;
	CU_ASSERT_EQUAL(disk_open(&d, &spec, DISK_ENGINE_SYNC, NULL, err, sizeof(err)),
			-ENOTSUP);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "format vhd not supported"));
	/* qcow2 is served, but never with O_DIRECT. */
	spec.format = DISK_FORMAT_QCOW2;
	CU_ASSERT_EQUAL(disk_open(&d, &spec, DISK_ENGINE_SYNC,
				  &(struct disk_flags){ .direct = true }, err, sizeof(err)),
			-ENOTSUP);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--direct is not supported for qcow2"));
}

/* DEFAULT takes the spec's engine, else the best available. */
static void test_open_engine_choice(void)
{
	char path[PATH_MAX], s[PATH_MAX + 16], err[256];
	struct disk_spec spec;
	struct disk d;

	temp_image(path, sizeof(path), 1 * MiB);
	snprintf(s, sizeof(s), "tap:aio:%s", path);
	CU_ASSERT_EQUAL_FATAL(diskspec_parse(s, &spec, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(disk_open(&d, &spec, DISK_ENGINE_DEFAULT, NULL, err,
					sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(disk_engine_name(&d), "aio");
	CU_ASSERT(disk_event_fd(&d) >= 0);
	CU_ASSERT_EQUAL(d.queue_depth, DISK_DEFAULT_DEPTH);
	disk_close(&d);
	snprintf(s, sizeof(s), "%s", path);
	CU_ASSERT_EQUAL_FATAL(diskspec_parse(s, &spec, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(disk_open(&d, &spec, DISK_ENGINE_DEFAULT, NULL, err,
					sizeof(err)), 0);
	printf("[default engine: %s] ", disk_engine_name(&d));
	CU_ASSERT(d.engine->kind == DISK_ENGINE_URING || d.engine->kind == DISK_ENGINE_AIO);
	CU_ASSERT_EQUAL(d.logical_block_size, 512);
	CU_ASSERT(!d.is_blockdev && d.can_discard && !d.readonly);
	/* An explicit engine overrides the spec's. */
	disk_close(&d);
	snprintf(s, sizeof(s), "tap:aio:%s", path);
	CU_ASSERT_EQUAL_FATAL(diskspec_parse(s, &spec, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(disk_open(&d, &spec, DISK_ENGINE_SYNC, NULL, err,
					sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(disk_engine_name(&d), "sync");
	disk_close(&d);
	unlink(path);
}

void unit_register(void)
{
	ENGINE_SUITE("disk_sync", sync);
	ENGINE_SUITE("disk_aio", aio);
	ENGINE_SUITE("disk_uring", uring);
	UNIT_SUITE("disk_phy",
		UNIT_TEST(check_phy_sync),
		UNIT_TEST(check_phy_aio),
		UNIT_TEST(check_phy_uring),
		UNIT_TEST(check_phy_4k));
	UNIT_SUITE("disk_lock",
		UNIT_TEST(test_lock_rw_rw),
		UNIT_TEST(test_lock_ro_ro_then_rw),
		UNIT_TEST(test_lock_other_process));
	UNIT_SUITE("disk_open",
		UNIT_TEST(test_open_errors),
		UNIT_TEST(test_open_engine_choice));
}
