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
 * read-only; a backing chain loop is refused. Malformed images (truncated
 * tables, tables and clusters past the end, on the header or on another
 * table, an undecodable compressed cluster, refcount underflow and a
 * refcount at its maximum, a chain deeper than QCOW2_MAX_CHAIN): a clear
 * refusal at open or -EIO for the request, the image marked corrupt when
 * its metadata is, and the file not grown. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/util.h"
#include "qcow2.h"

#define QCOW2_COPIED (1ULL << 63)

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

/* Malformed images, each made from m.qcow2 (4 KiB clusters, 1 MiB, 8 KiB
 * written by qemu-io): header 0, refcount table 0x1000, refcount block
 * 0x2000, L1 0x3000, L2 0x4000, data 0x5000 and 0x6000 (checked below, so
 * a change in qemu-img's layout fails loudly instead of testing nothing).
 * Each gets a clear refusal at open or -EIO for the request that meets the
 * damage; nothing crashes and the file does not grow. */
static const char *img_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void put_be(const char *name, uint64_t off, uint64_t v, int bytes)
{
	uint8_t b[8];
	int fd;

	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	fd = open(img_path(name), O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, b, (size_t)bytes, (off_t)off) == bytes);
	close(fd);
}

static uint64_t get_be(const char *name, uint64_t off)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	int fd;

	fd = open(img_path(name), O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(pread(fd, b, 8, (off_t)off) == 8);
	close(fd);
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static off_t file_size(const char *name)
{
	struct stat st;

	return stat(img_path(name), &st) ? -1 : st.st_size;
}

/* The 16-bit refcount of the first data cluster (cluster 5). */
#define RC_DATA0 (0x2000 + 5 * 2)

static void mk_small(const char *name)
{
	CU_ASSERT_EQUAL_FATAL(sh("cd %s && rm -f %s && qemu-img create -q -f qcow2 -o "
				 "cluster_size=4096 %s 1M && qemu-io -c 'write -P 0x21 0 8k' %s "
				 ">/dev/null", dir, name, name, name), 0);
	CU_ASSERT_EQUAL_FATAL(get_be(name, 40), 0x3000);                 /* L1 */
	CU_ASSERT_EQUAL_FATAL(get_be(name, 48), 0x1000);                 /* refcount table */
	CU_ASSERT_EQUAL_FATAL(get_be(name, 0x1000), 0x2000);             /* refcount block */
	CU_ASSERT_EQUAL_FATAL(get_be(name, 0x3000), QCOW2_COPIED | 0x4000); /* L2 */
	CU_ASSERT_EQUAL_FATAL(get_be(name, 0x4000), QCOW2_COPIED | 0x5000); /* data */
}

/* Header fields that make open refuse the image; up to two patches each
 * (a zero width: none). */
static const struct {
	uint64_t off, val;
	int bytes;
	uint64_t off2, val2;
	int bytes2;
	const char *want;
} bad_headers[] = {
	/* The refcount table past the end. */
	{ 48, 0x100000, 8, 0, 0, 0, "refcount table" },
	/* The L1 table on the header. */
	{ 40, 0, 8, 0, 0, 0, "L1 table at 0x0" },
	/* An L1 table far too large for the disk (and for memory). */
	{ 36, 0x10000000, 4, 0, 0, 0, "l1_size" },
	/* refcount_order 7: 128-bit refcounts do not exist. */
	{ 96, 7, 4, 0, 0, 0, "refcount_order 7" },
	{ 20, 31, 4, 0, 0, 0, "cluster_bits 31" },
	/* A backing file name past the end of the file. */
	{ 8, 0x100000, 8, 16, 16, 4, "backing file name" },
};

static void open_refused(const char *name, const char *want)
{
	int fd;
	struct qcow2 *q = open_img(name, false, &fd);

	CU_ASSERT_PTR_NULL(q);
	if (q)
		close_img(q, fd);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static void test_malformed_open(void)
{
	/* Truncated: the L1 table is past the end of the file. */
	mk_small("t.qcow2");
	CU_ASSERT_EQUAL_FATAL(sh("truncate -s 8192 %s", img_path("t.qcow2")), 0);
	open_refused("t.qcow2", "L1 table at 0x3000 is not inside");
	for (size_t i = 0; i < ARRAY_SIZE(bad_headers); i++) {
		mk_small("t.qcow2");
		put_be("t.qcow2", bad_headers[i].off, bad_headers[i].val, bad_headers[i].bytes);
		if (bad_headers[i].bytes2)
			put_be("t.qcow2", bad_headers[i].off2, bad_headers[i].val2,
			       bad_headers[i].bytes2);
		open_refused("t.qcow2", bad_headers[i].want);
	}
}

/* One request meets the damage: -EIO, the image is marked corrupt (no
 * more writes; reopening for writing is refused), reads elsewhere work. */
static void damaged(const char *what, uint64_t off, uint64_t val, bool write_hits)
{
	struct qcow2 *q;
	off_t before;
	int fd;

	mk_small("c.qcow2");
	put_be("c.qcow2", off, val, 8);
	before = file_size("c.qcow2");
	q = open_img("c.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	if (write_hits) {
		CU_ASSERT_EQUAL(wr(q, 16384, 4096, 0x99), -EIO);  /* allocates */
	} else {
		uint8_t b[4096];
		struct iovec v = { b, sizeof(b) };

		CU_ASSERT_EQUAL(qcow2_rw(q, DISK_OP_READ, 0, &v, 1, sizeof(b)), -EIO);
		CU_ASSERT_EQUAL(wr(q, 8192, 4096, 0x99), -EIO);  /* corrupt: no writes */
	}
	close_img(q, fd);
	CU_ASSERT(file_size("c.qcow2") <= before + 4096);
	q = open_img("c.qcow2", false, &fd);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "marked corrupt"));
	if (!q)
		printf("  %s: refused as marked corrupt\n", what);
	else
		close_img(q, fd);
}

static void test_malformed_tables(void)
{
	/* An L1 entry past the end of the file. */
	damaged("L1 entry past EOF", 0x3000, QCOW2_COPIED | 0x100000, false);
	/* The L2 table on the header. */
	damaged("L2 table on the header", 0x3000, QCOW2_COPIED | 0x0200, false);
	/* A data cluster on the header's cluster (0 would read as unallocated:
	 * 0x800 is inside it and misaligned too). */
	damaged("data on the header", 0x4000, QCOW2_COPIED | 0x800, false);
	/* A data cluster on the L1 table. */
	damaged("data on the L1 table", 0x4000, QCOW2_COPIED | 0x3000, false);
	/* A data cluster past the end of the file. */
	damaged("data past EOF", 0x4000, QCOW2_COPIED | 0x200000, false);
	/* A compressed cluster whose bytes run past the end of the file. */
	damaged("compressed past EOF", 0x4000, (1ULL << 62) | 0x10000, false);
	/* The refcount block past the end: the first allocation finds it. */
	damaged("refcount block past EOF", 0x1000, 0x100000, true);
}

/* A compressed cluster that holds no deflate stream: that read gets -EIO
 * (the data is lost, not the metadata: the image stays writable). */
static void test_bad_compressed(void)
{
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };
	struct qcow2 *q;
	int fd;

	mk_small("z.qcow2");
	put_be("z.qcow2", 0x4000, (1ULL << 62) | (7ULL << 58) | 0x5000, 8);
	q = open_img("z.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(qcow2_rw(q, DISK_OP_READ, 0, &v, 1, sizeof(b)), -EIO);
	CU_ASSERT(rd(q, 4096, 4096, 0x21));
	CU_ASSERT_EQUAL(wr(q, 0, 4096, 0x42), 4096);   /* a new cluster replaces it */
	CU_ASSERT(rd(q, 0, 4096, 0x42));
	close_img(q, fd);
}

/* Refcounts at their limits: a data cluster whose refcount is already 0
 * (discarding it would underflow) gives -EIO, never a wrap to the maximum;
 * one at 65535 (the 16-bit maximum) is neither freed nor wrapped. */
static void test_malformed_refcounts(void)
{
	struct qcow2 *q;
	int r, fd;

	mk_small("r.qcow2");
	put_be("r.qcow2", RC_DATA0, 0, 2);
	q = open_img("r.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	r = qcow2_discard(q, 0, 4096, false);
	if (!r)
		r = qcow2_flush(q);
	CU_ASSERT_EQUAL(r, -EIO);
	close_img(q, fd);
	CU_ASSERT_EQUAL(get_be("r.qcow2", RC_DATA0) >> 48, 0);

	mk_small("r.qcow2");
	put_be("r.qcow2", RC_DATA0, 0xffff, 2);
	q = open_img("r.qcow2", false, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(qcow2_discard(q, 0, 4096, false), 0);
	CU_ASSERT_EQUAL(qcow2_flush(q), 0);
	CU_ASSERT(rd(q, 0, 4096, 0));
	CU_ASSERT(rd(q, 4096, 4096, 0x21));
	close_img(q, fd);
	CU_ASSERT_EQUAL(get_be("r.qcow2", RC_DATA0) >> 48, 0xfffe);
}

/* A chain deeper than QCOW2_MAX_CHAIN images is refused. */
static void test_chain_depth(void)
{
	struct qcow2 *q;
	int fd;

	CU_ASSERT_EQUAL_FATAL(sh("cd %s && qemu-img create -q -f qcow2 d0.qcow2 1M && "
				 "for i in $(seq 1 %d); do qemu-img create -q -f qcow2 -u "
				 "-b d$((i - 1)).qcow2 -F qcow2 d$i.qcow2 1M || exit 1; done",
				 dir, QCOW2_MAX_CHAIN), 0);
	q = open_img("d15.qcow2", true, &fd);
	CU_ASSERT_PTR_NOT_NULL(q);
	if (q)
		close_img(q, fd);
	q = open_img("d16.qcow2", true, &fd);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "deeper than 16"));
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
	CU_add_test(s, "malformed headers", test_malformed_open);
	CU_add_test(s, "malformed tables", test_malformed_tables);
	CU_add_test(s, "undecodable compressed cluster", test_bad_compressed);
	CU_add_test(s, "refcounts at their limits", test_malformed_refcounts);
	CU_add_test(s, "backing chain depth", test_chain_depth);
}
