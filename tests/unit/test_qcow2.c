/* Unit tests for blkback/qcow2*.c against images made and checked by QEMU's
 * own tools (qemu-img, qemu-io: the reference; ./check installs qemu-utils,
 * and without them this program exits 77 saying so).
 *
 * Checked: data qemu-io wrote reads back; writes (in-place, allocating,
 * partial-cluster, across L2 tables) read back through qcow2_rw and through
 * `qemu-io read -P`, and `qemu-img check` finds no error after close, on
 * v3 and v2 images, 512-byte and 64 KiB clusters, 1- and 64-bit refcounts;
 * a 512-byte-cluster image written fully grows the refcount table; zlib
 * and zstd compressed clusters read and can be overwritten in part; a raw <-
 * qcow2 <- qcow2 chain reads through with partial-cluster copy-on-write;
 * write-zeroes reads back as zeros; a raw file is not a qcow2 image; an
 * unknown incompatible bit is refused naming it; the dirty bit allows only
 * read-only; a backing chain loop is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit.h"
#include "qcow2.h"

static char dir[64];
static char err[512];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static struct qcow2 *open_img(const char *name, bool ro, int *fd)
{
	char path[256];
	struct qcow2_opts o = { .readonly = ro };
	struct qcow2 *q = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*fd = open(path, ro ? O_RDONLY : O_RDWR);
	CU_ASSERT_FATAL(*fd >= 0);
	if (qcow2_open(&q, *fd, path, &o, err, sizeof(err))) {
		fprintf(stderr, "open %s: %s\n", path, err);
		close(*fd);
		return NULL;
	}
	return q;
}

static void close_img(struct qcow2 *q, int fd)
{
	qcow2_close(q);
	close(fd);
}

static int64_t wr(struct qcow2 *q, uint64_t off, uint64_t len, int byte)
{
	uint8_t *b = malloc(len);
	struct iovec v = { b, len };
	int64_t r;

	memset(b, byte, len);
	r = qcow2_rw(q, DISK_OP_WRITE, off, &v, 1, len);
	free(b);
	return r;
}

/* True when [off, off + len) reads as byte. */
static bool rd(struct qcow2 *q, uint64_t off, uint64_t len, int byte)
{
	uint8_t *b = malloc(len);
	struct iovec v = { b, len };
	bool ok = qcow2_rw(q, DISK_OP_READ, off, &v, 1, len) == (int64_t)len;

	for (uint64_t i = 0; ok && i < len; i++)
		ok = b[i] == (uint8_t)byte;
	free(b);
	return ok;
}

static int check(const char *name)
{
	return sh("qemu-img check -q %s/%s >/dev/null 2>&1", dir, name);
}

static int pattern(const char *name, uint64_t off, uint64_t len, int byte)
{
	return sh("qemu-io -r -c 'read -P %d %llu %llu' %s/%s | grep -q 'read %llu/%llu'", byte,
		  (unsigned long long)off, (unsigned long long)len, dir, name,
		  (unsigned long long)len, (unsigned long long)len);
}

static void rw_image(const char *opts)
{
	struct qcow2 *q;
	int fd;

	CU_ASSERT_EQUAL_FATAL(sh("qemu-img create -q -f qcow2 -o %s %s/a.qcow2 64M", opts, dir), 0);
	CU_ASSERT_EQUAL_FATAL(sh("qemu-io -c 'write -P 0x11 1M 128k' %s/a.qcow2 >/dev/null", dir),
			      0);
	q = open_img("a.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT(rd(q, 1 << 20, 128 << 10, 0x11));
	CU_ASSERT(rd(q, 0, 4096, 0));
	CU_ASSERT_EQUAL(wr(q, 0, 65536, 0xab), 65536);           /* allocating */
	CU_ASSERT_EQUAL(wr(q, 0x12200, 0x600, 0xcd), 0x600);     /* partial cluster */
	CU_ASSERT_EQUAL(wr(q, (1 << 20) + 512, 1024, 0x22), 1024); /* in place */
	CU_ASSERT_EQUAL(wr(q, (32 << 20) - 4096, 8192, 0xee), 8192); /* across L2 tables (512) */
	CU_ASSERT_EQUAL(wr(q, (64 << 20) - 4096, 8192, 0xee), -EIO);  /* past the end */
	CU_ASSERT(rd(q, 0, 65536, 0xab));
	CU_ASSERT(rd(q, 0x12000, 0x200, 0));
	CU_ASSERT(rd(q, 0x12200, 0x600, 0xcd));
	CU_ASSERT(rd(q, 1 << 20, 512, 0x11));
	CU_ASSERT(rd(q, (1 << 20) + 512, 1024, 0x22));
	CU_ASSERT_EQUAL(qcow2_discard(q, 0x20000, 0x10000, true), 0);
	CU_ASSERT(rd(q, 0x20000, 0x10000, 0));
	CU_ASSERT_EQUAL(qcow2_flush(q), 0);
	close_img(q, fd);
	CU_ASSERT_EQUAL(check("a.qcow2"), 0);
	CU_ASSERT_EQUAL(pattern("a.qcow2", 0, 65536, 0xab), 0);
	CU_ASSERT_EQUAL(pattern("a.qcow2", 0x12200, 0x600, 0xcd), 0);
	CU_ASSERT_EQUAL(pattern("a.qcow2", (1 << 20) + 512, 1024, 0x22), 0);
	CU_ASSERT_EQUAL(pattern("a.qcow2", (32 << 20) - 4096, 8192, 0xee), 0);
}

static void test_v3_64k(void) { rw_image("cluster_size=65536"); }
static void test_v2(void) { rw_image("compat=0.10"); }
static void test_512_refcount1(void) { rw_image("cluster_size=512,refcount_bits=1"); }
static void test_refcount64(void) { rw_image("cluster_size=4096,refcount_bits=64"); }

/* 16 MiB of 512-byte clusters written whole: new refcount blocks and a
 * bigger refcount table. */
static void test_refcount_growth(void)
{
	struct qcow2_info in;
	struct qcow2 *q;
	int fd;

	CU_ASSERT_EQUAL_FATAL(sh("qemu-img create -q -f qcow2 -o cluster_size=512 %s/g.qcow2 16M",
				 dir), 0);
	q = open_img("g.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	for (int i = 0; i < 64; i++)
		CU_ASSERT_EQUAL(wr(q, (uint64_t)i << 18, 1 << 18, i + 1), 1 << 18);
	qcow2_get_info(q, &in);
	CU_ASSERT(in.allocated > 32768);
	close_img(q, fd);
	CU_ASSERT_EQUAL(check("g.qcow2"), 0);
	CU_ASSERT_EQUAL(pattern("g.qcow2", 17 << 18, 1 << 18, 18), 0);
	CU_ASSERT_EQUAL(pattern("g.qcow2", 63 << 18, 1 << 18, 64), 0);
}

static void compressed(const char *type)
{
	struct qcow2 *q;
	int fd;

	CU_ASSERT_EQUAL_FATAL(sh("cd %s && rm -f c.qcow2 && qemu-img convert -c -O qcow2 "
				 "-o compression_type=%s raw.img c.qcow2", dir, type), 0);
	q = open_img("c.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT(rd(q, 0, 4 << 20, 0x5a));
	CU_ASSERT(rd(q, 4 << 20, 1 << 20, 0x33));
	CU_ASSERT(rd(q, 5 << 20, 3 << 20, 0));
	CU_ASSERT_EQUAL(wr(q, 4096, 512, 0x77), 512);
	CU_ASSERT(rd(q, 0, 4096, 0x5a));
	CU_ASSERT(rd(q, 4096, 512, 0x77));
	CU_ASSERT(rd(q, 4608, 65536 - 4608, 0x5a));
	close_img(q, fd);
	CU_ASSERT_EQUAL(check("c.qcow2"), 0);
	CU_ASSERT_EQUAL(pattern("c.qcow2", 4096, 512, 0x77), 0);
	CU_ASSERT_EQUAL(pattern("c.qcow2", 65536, (4 << 20) - 65536, 0x5a), 0);
}

static void test_zlib(void) { compressed("zlib"); }
static void test_zstd(void) { compressed("zstd"); }

static void test_backing_chain(void)
{
	struct qcow2_info in;
	struct qcow2 *q;
	int fd;

	CU_ASSERT_EQUAL_FATAL(sh("cd %s && qemu-img create -q -f qcow2 -b raw.img -F raw mid.qcow2"
				 " && qemu-io -c 'write -P 0x44 1M 64k' mid.qcow2 >/dev/null && "
				 "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2", dir),
			      0);
	q = open_img("top.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	qcow2_get_info(q, &in);
	CU_ASSERT_EQUAL(in.chain, 2);
	CU_ASSERT_STRING_EQUAL(in.backing_format, "qcow2");
	CU_ASSERT(rd(q, 0, 1 << 20, 0x5a));
	CU_ASSERT(rd(q, 1 << 20, 65536, 0x44));
	CU_ASSERT(rd(q, 4 << 20, 1 << 20, 0x33));
	CU_ASSERT_EQUAL(wr(q, (1 << 20) + 2048, 512, 0x66), 512);
	CU_ASSERT(rd(q, 1 << 20, 2048, 0x44));
	CU_ASSERT(rd(q, (1 << 20) + 2560, 65536 - 2560, 0x44));
	CU_ASSERT_EQUAL(qcow2_discard(q, 2 << 20, 128 << 10, true), 0);
	CU_ASSERT(rd(q, 2 << 20, 128 << 10, 0));
	close_img(q, fd);
	CU_ASSERT_EQUAL(check("top.qcow2"), 0);
	CU_ASSERT_EQUAL(pattern("top.qcow2", (1 << 20) + 2048, 512, 0x66), 0);
	CU_ASSERT_EQUAL(pattern("top.qcow2", 1 << 20, 2048, 0x44), 0);
	CU_ASSERT_EQUAL(pattern("top.qcow2", 2 << 20, 128 << 10, 0), 0);
}

static void test_refusals(void)
{
	struct qcow2 *q;
	int fd;

	/* A raw file is not a qcow2 image. */
	q = open_img("raw.img", true, &fd);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a qcow2 image"));
	/* Incompatible bit 9, unknown: refused naming it. */
	CU_ASSERT_EQUAL_FATAL(sh("cd %s && qemu-img create -q -f qcow2 u.qcow2 1M && printf "
				 "'\\002' | dd of=u.qcow2 bs=1 seek=78 conv=notrunc 2>/dev/null",
				 dir), 0);
	q = open_img("u.qcow2", true, &fd);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown incompatible feature bit 9"));
	/* The dirty bit: read-only only. */
	CU_ASSERT_EQUAL_FATAL(sh("cd %s && qemu-img create -q -f qcow2 d.qcow2 1M && printf "
				 "'\\001' | dd of=d.qcow2 bs=1 seek=79 conv=notrunc 2>/dev/null",
				 dir), 0);
	q = open_img("d.qcow2", false, &fd);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "dirty"));
	q = open_img("d.qcow2", true, &fd);
	CU_ASSERT_PTR_NOT_NULL(q);
	if (q)
		close_img(q, fd);
	/* A backing chain loop: A -> B -> A. */
	CU_ASSERT_EQUAL_FATAL(sh("cd %s && qemu-img create -q -f qcow2 lb.qcow2 1M && "
				 "qemu-img create -q -f qcow2 -b lb.qcow2 -F qcow2 la.qcow2 && "
				 "qemu-img rebase -u -q -b la.qcow2 -F qcow2 lb.qcow2", dir), 0);
	q = open_img("la.qcow2", true, &fd);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "loop"));
}

static int suite_init(void)
{
	if (sh("command -v qemu-img >/dev/null && command -v qemu-io >/dev/null")) {
		printf("SKIP: needs qemu-img and qemu-io (apt-get install qemu-utils)\n");
		exit(77);
	}
	snprintf(dir, sizeof(dir), "/var/tmp/isle-qcow2.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	return sh("cd %s && truncate -s 8M raw.img && qemu-io -f raw -c 'write -P 0x5a 0 4M' "
		  "-c 'write -P 0x33 4M 1M' raw.img >/dev/null", dir);
}

static int suite_fini(void)
{
	return sh("rm -rf %s", dir);
}

void unit_register(void)
{
	CU_pSuite s = CU_add_suite("qcow2", suite_init, suite_fini);

	CU_add_test(s, "v3, 64 KiB clusters", test_v3_64k);
	CU_add_test(s, "v2", test_v2);
	CU_add_test(s, "512-byte clusters, 1-bit refcounts", test_512_refcount1);
	CU_add_test(s, "64-bit refcounts", test_refcount64);
	CU_add_test(s, "refcount table growth", test_refcount_growth);
	CU_add_test(s, "zlib", test_zlib);
	CU_add_test(s, "zstd", test_zstd);
	CU_add_test(s, "backing chain", test_backing_chain);
	CU_add_test(s, "refusals", test_refusals);
}
