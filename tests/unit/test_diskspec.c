/* Unit tests for blkback/diskspec.c: a golden table of Xen-style disk specs,
 * good and bad, plus the length, NUL and vdev edge cases. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskspec.h"
#include "cunit.h"
#include "isle/util.h"

struct ds_case {
	const char *spec;
	int rc;                         /* 0, -EINVAL or -ENOTSUP */
	const char *path;               /* when rc == 0 */
	enum disk_engine_hint engine;
	enum disk_backendtype backend;
	bool ro;
	const char *vdev;               /* NULL: "" expected */
	bool cdrom;
	enum disk_format format;        /* DISK_FORMAT_RAW unless given */
	const char *err_has;            /* when rc != 0 */
};

#define OK(s, p, ...) { .spec = s, .rc = 0, .path = p, __VA_ARGS__ }
#define BAD(s, e, msg) { .spec = s, .rc = e, .err_has = msg }

static const struct ds_case cases[] = {
	/* prefix form */
	OK("/images/a.img", "/images/a.img"),
	OK("phy:/dev/vg/guest", "/dev/vg/guest", .backend = DISK_BACKEND_PHY),
	OK("file:/var/lib/a.img", "/var/lib/a.img"),
	OK("raw:/x.img", "/x.img"),
	OK("aio:/x.img", "/x.img", .engine = DISK_ENGINE_AIO),
	OK("tap:aio:/img/a.raw", "/img/a.raw", .engine = DISK_ENGINE_AIO,
	   .backend = DISK_BACKEND_TAP),
	OK("tap:sync:/x", "/x", .engine = DISK_ENGINE_SYNC, .backend = DISK_BACKEND_TAP),
	OK("tap:uring:/x", "/x", .engine = DISK_ENGINE_URING, .backend = DISK_BACKEND_TAP),
	OK("tap:raw:/x", "/x", .backend = DISK_BACKEND_TAP),
	OK("tap:/x", "/x", .backend = DISK_BACKEND_TAP),
	OK("tap2:aio:/x", "/x", .engine = DISK_ENGINE_AIO, .backend = DISK_BACKEND_TAP),
	OK("/images/a:b.img", "/images/a:b.img"),
	OK("file:disk:1.img", "disk:1.img"),
	OK("Phy:/x", "Phy:/x"),         /* not a prefix: a relative path */
	OK("relative.img", "relative.img"),
	/* the examples of xl-disk-configuration(5) */
	OK("/dev/vg/guest-volume,,hda", "/dev/vg/guest-volume", .vdev = "hda"),
	OK("/dev/vg/guest-volume,raw,hda,rw", "/dev/vg/guest-volume", .vdev = "hda"),
	OK("format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
	   "/dev/vg/guest-volume", .vdev = "hda"),
	OK("raw:/dev/vg/guest-volume,hda,w", "/dev/vg/guest-volume", .vdev = "hda"),
	OK("/root/image.iso,,hdc,cdrom", "/root/image.iso", .vdev = "hdc", .ro = true,
	   .cdrom = true),
	OK("/root/image.iso,,hdc,,cdrom", "/root/image.iso", .vdev = "hdc", .ro = true,
	   .cdrom = true),
	OK("/root/image.iso,raw,hdc,devtype=cdrom", "/root/image.iso", .vdev = "hdc",
	   .ro = true, .cdrom = true),
	OK("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
	   "/root/image.iso", .vdev = "hdc", .ro = true, .cdrom = true),
	/* xm-era positional form after a prefix */
	OK("phy:/dev/sdb,xvda,w", "/dev/sdb", .backend = DISK_BACKEND_PHY, .vdev = "xvda"),
	OK("phy:/dev/sdb,xvdb,r", "/dev/sdb", .backend = DISK_BACKEND_PHY, .vdev = "xvdb",
	   .ro = true),
	/* target= last, verbatim */
	OK("vdev=xvda,access=ro,target=/a,b=c,d", "/a,b=c,d", .vdev = "xvda", .ro = true),
	OK("target=tap:aio:/x,y", "/x,y", .engine = DISK_ENGINE_AIO,
	   .backend = DISK_BACKEND_TAP),
	OK("target=/path with space", "/path with space"),
	OK("access=r,/x", "/x", .ro = true),
	OK("vdev=sdaa,target=/x", "/x", .vdev = "sdaa"),
	OK("vdev=xvda1,target=/x", "/x", .vdev = "xvda1"),
	OK("vdev=vda,target=/x", "/x", .vdev = "vda"),
	OK("vdev=hdt,target=/x", "/x", .vdev = "hdt"),
	OK("backendtype=qdisk,target=/x", "/x", .backend = DISK_BACKEND_QDISK),
	OK("backendtype=phy,target=phy:/dev/x", "/dev/x", .backend = DISK_BACKEND_PHY),
	OK("format=raw,target=phy:/dev/x", "/dev/x", .backend = DISK_BACKEND_PHY),
	OK("phy:/dev/x,format=raw", "/dev/x", .backend = DISK_BACKEND_PHY),
	OK("/x,no-discard", "/x"),
	OK("/x,", "/x"),
	OK("format=,vdev=,access=,target=/x", "/x"),

	/* errors */
	BAD("", -EINVAL, "empty disk spec"),
	OK("qcow2:/x", "/x", .format = DISK_FORMAT_QCOW2),
	BAD("vhd:/x", -ENOTSUP, "format vhd not supported yet"),
	OK("tap:qcow2:/x", "/x", .format = DISK_FORMAT_QCOW2, .backend = DISK_BACKEND_TAP),
	BAD("tap:vhd:/x", -ENOTSUP, "format vhd not supported yet"),
	OK("format=qcow2,target=/x", "/x", .format = DISK_FORMAT_QCOW2),
	OK("/x,qcow2,xvda,rw", "/x", .format = DISK_FORMAT_QCOW2, .vdev = "xvda"),
	BAD("qcow:/x", -ENOTSUP, "format qcow not supported yet"),
	BAD("/x,qed", -ENOTSUP, "format qed"),
	BAD("nbd:host:1234", -EINVAL, "unknown target prefix 'nbd:'"),
	BAD("disk2:a.img", -EINVAL, "unknown target prefix 'disk2:'"),
	BAD("tap:foo:/x", -EINVAL, "unknown tap driver 'foo:'"),
	BAD("phy:", -EINVAL, "empty path after 'phy:'"),
	BAD("tap:aio:", -EINVAL, "empty path after 'tap:aio:'"),
	BAD("tap:", -EINVAL, "empty path after 'tap:'"),
	BAD("target=", -EINVAL, "empty target"),
	BAD(",/x", -EINVAL, "empty target"),
	BAD("vdev=xvda", -EINVAL, "no target"),
	BAD("format=raw,format=raw,target=/x", -EINVAL, "format given twice"),
	BAD("/x,vdev=xvda,vdev=xvdb", -EINVAL, "vdev given twice"),
	BAD("access=ro,access=rw,target=/x", -EINVAL, "access given twice"),
	BAD("/x,target=/y", -EINVAL, "target given twice"),
	BAD("/x,,,,cdrom,cdrom", -EINVAL, "devtype given twice"),
	BAD("/x,,xvda,rw,extra", -EINVAL, "unexpected parameter 'extra'"),
	BAD("/x,bogus=1", -EINVAL, "unknown key 'bogus'"),
	BAD("=x,target=/x", -EINVAL, "unknown key ''"),
	BAD("script=block-drbd,target=/x", -ENOTSUP, "script= is not supported"),
	BAD("vdev=xyz,target=/x", -EINVAL, "invalid vdev 'xyz'"),
	BAD("vdev=hdz,target=/x", -EINVAL, "invalid vdev 'hdz'"),
	BAD("vdev=vda1,target=/x", -EINVAL, "invalid vdev 'vda1'"),
	BAD("vdev=xvdabcd,target=/x", -EINVAL, "invalid vdev"),
	BAD("vdev=xvda0,target=/x", -EINVAL, "invalid vdev"),
	BAD("vdev=xvda123456789012,target=/x", -EINVAL, "too long"),
	BAD("access=rx,target=/x", -EINVAL, "unknown access 'rx'"),
	BAD("backendtype=blktap,target=/x", -EINVAL, "unknown backendtype 'blktap'"),
	BAD("devtype=disk,target=/x", -EINVAL, "unknown devtype 'disk'"),
	BAD("/x,xvda", -EINVAL, "unknown format 'xvda'"),
	BAD("format=raw,target=qcow2:/x", -EINVAL, "conflicts with target prefix 'qcow2:'"),
	BAD("backendtype=phy,target=tap:aio:/x", -EINVAL, "conflicts with target prefix 'tap:'"),
	BAD("cdrom,access=rw,target=/x", -EINVAL, "cdrom is read-only"),
	BAD("/x\n", -EINVAL, "control character 0x0a at offset 2"),
	BAD("/x\x7f", -EINVAL, "control character 0x7f"),
	BAD("discard=1,target=/x", -EINVAL, "unknown key 'discard'"),
	BAD("/x,discard,no-discard", -EINVAL, "discard given twice"),
};

static void test_golden_table(void)
{
	unsigned int good = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct ds_case *c = &cases[i];
		struct disk_spec spec;
		char err[256];
		int r = diskspec_parse(c->spec, &spec, err, sizeof(err));

		CU_ASSERT_EQUAL(r, c->rc);
		if (r != c->rc) {
			fprintf(stderr, "case %zu '%s': got %d (%s), want %d\n", i, c->spec, r,
				err, c->rc);
			continue;
		}
		if (r) {
			CU_ASSERT_PTR_NOT_NULL(strstr(err, c->err_has));
			if (!strstr(err, c->err_has))
				fprintf(stderr, "case %zu '%s': message '%s' lacks '%s'\n", i,
					c->spec, err, c->err_has);
			continue;
		}
		good++;
		CU_ASSERT_STRING_EQUAL(spec.path, c->path);
		CU_ASSERT_EQUAL(spec.engine, c->engine);
		CU_ASSERT_EQUAL(spec.backendtype, c->backend);
		CU_ASSERT_EQUAL(spec.format, c->format);
		CU_ASSERT_EQUAL(spec.readonly, c->ro);
		CU_ASSERT_EQUAL(spec.cdrom, c->cdrom);
		CU_ASSERT_STRING_EQUAL(spec.vdev, c->vdev ? c->vdev : "");
		if (strcmp(spec.path, c->path) || spec.engine != c->engine ||
		    spec.backendtype != c->backend || spec.readonly != c->ro)
			fprintf(stderr, "case %zu '%s': path '%s' engine %s backend %s ro %d\n",
				i, c->spec, spec.path, diskspec_engine_name(spec.engine),
				diskspec_backendtype_name(spec.backendtype), spec.readonly);
	}
	CU_ASSERT(ARRAY_SIZE(cases) >= 40);
	CU_ASSERT(good >= 20);
}

static void test_flags(void)
{
	struct disk_spec spec;
	char err[128];

	CU_ASSERT_EQUAL(diskspec_parse("/x,no-discard", &spec, err, sizeof(err)), 0);
	CU_ASSERT(spec.no_discard);
	CU_ASSERT_EQUAL(diskspec_parse("/x,discard", &spec, err, sizeof(err)), 0);
	CU_ASSERT(!spec.no_discard);
	CU_ASSERT_EQUAL(diskspec_parse("cdrom,target=/x", &spec, err, sizeof(err)), 0);
	CU_ASSERT(spec.cdrom && spec.readonly);
}

/* Paths up to PATH_MAX-1 bytes pass, one more fails; the whole spec is
 * bounded too, even without a terminating NUL in sight. */
static void test_lengths(void)
{
	/* Static, not malloc'd: GCC's -Warray-bounds under ASan cannot see
	 * through the FATAL assert that a malloc'd buffer is non-NULL. */
	static char s[DISKSPEC_MAX_LEN + 16 + 1];
	const size_t max = sizeof(s) - 1;
	struct disk_spec spec;
	char err[256];

	memset(s, 'a', PATH_MAX - 1);
	s[0] = '/';
	s[PATH_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(diskspec_parse(s, &spec, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(strlen(spec.path), (size_t)PATH_MAX - 1);

	memset(s, 'a', PATH_MAX);
	s[0] = '/';
	s[PATH_MAX] = '\0';
	CU_ASSERT_EQUAL(diskspec_parse(s, &spec, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "path is too long"));

	memcpy(s, "target=phy:", 11);   /* the prefix does not count */
	memset(s + 11, 'b', PATH_MAX - 1);
	s[11 + PATH_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(diskspec_parse(s, &spec, err, sizeof(err)), 0);

	memset(s, 'a', max);
	s[max] = '\0';
	CU_ASSERT_EQUAL(diskspec_parse(s, &spec, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "disk spec is too long"));
}

static void test_nul_in_buffer(void)
{
	static const char buf[] = "/x\0/etc/shadow";
	struct disk_spec spec;
	char err[128];

	CU_ASSERT_EQUAL(diskspec_parse_buf(buf, sizeof(buf) - 1, &spec, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NUL byte at offset 2"));
	CU_ASSERT_EQUAL(diskspec_parse_buf(buf, 2, &spec, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(spec.path, "/x");
	CU_ASSERT_EQUAL(diskspec_parse_buf("", 0, &spec, err, sizeof(err)), -EINVAL);
}

/* A tiny or absent message buffer must not be overrun. */
static void test_small_err_buffer(void)
{
	struct disk_spec spec;
	char err[8];

	memset(err, 'x', sizeof(err));
	CU_ASSERT_EQUAL(diskspec_parse("bogus=1,target=/x", &spec, err, 4), -EINVAL);
	CU_ASSERT_EQUAL(err[3], '\0');
	CU_ASSERT_EQUAL(err[4], 'x');
	CU_ASSERT_EQUAL(diskspec_parse("bogus=1,target=/x", &spec, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(diskspec_parse("/ok", &spec, NULL, 0), 0);
}

static void test_vdev_names(void)
{
	static const char *const good[] = {
		"xvda", "xvdz", "xvdaa", "xvdzzz", "xvda1", "xvdb15", "sda", "sdab3",
		"vda", "vdzz", "hda", "hdt", "hdb2",
	};
	static const char *const bad[] = {
		"", "xvd", "xvdA", "xvdaaaa", "xvda0", "xvda100", "xvda1a", "sd", "hdu",
		"hdaa", "vda1", "nvme0n1", "da", "xvda-1", "xvda ",
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		CU_ASSERT(diskspec_vdev_valid(good[i]));
		if (!diskspec_vdev_valid(good[i]))
			fprintf(stderr, "vdev '%s' should be valid\n", good[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CU_ASSERT(!diskspec_vdev_valid(bad[i]));
		if (diskspec_vdev_valid(bad[i]))
			fprintf(stderr, "vdev '%s' should be invalid\n", bad[i]);
	}
}

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(diskspec_format_name(DISK_FORMAT_QCOW2), "qcow2");
	CU_ASSERT_STRING_EQUAL(diskspec_engine_name(DISK_ENGINE_URING), "uring");
	CU_ASSERT_STRING_EQUAL(diskspec_backendtype_name(DISK_BACKEND_QDISK), "qdisk");
}

void unit_register(void)
{
	UNIT_SUITE("diskspec",
		UNIT_TEST(test_golden_table),
		UNIT_TEST(test_flags),
		UNIT_TEST(test_lengths),
		UNIT_TEST(test_nul_in_buffer),
		UNIT_TEST(test_small_err_buffer),
		UNIT_TEST(test_vdev_names),
		UNIT_TEST(test_names));
}
