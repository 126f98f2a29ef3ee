/* Unit tests for vfio-glue/vfio.c, vfio_dma.c and vfio_sysfs.c, without
 * VFIO: a golden table of host BDFs; IOMMU groups and viability against a
 * fake sysfs under a mkdtemp directory; the refusals of vfio_device_open
 * that come before /dev/vfio; the capability-chain walk and sparse-mmap
 * parsing on crafted buffers (good, clipped, out of bounds, looping);
 * region accesses and mmap bounds on a file standing in for the device fd;
 * interrupt argument checks; the DMA mapping limit; the memlock verdict
 * and message (and the real check in a child without CAP_IPC_LOCK). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/util.h"
#include "vfio_internal.h"

/* ---- BDFs ---- */

struct bdf_case {
	const char *in;
	const char *want;    /* NULL: -EINVAL */
};

static const struct bdf_case bdf_cases[] = {
	{ "0000:00:03.0", "0000:00:03.0" },
	{ "00:03.0", "0000:00:03.0" },
	{ "0:0:3.0", "0000:00:03.0" },
	{ "1:2.3", "0000:01:02.3" },
	{ "ABCD:EF:1F.7", "abcd:ef:1f.7" },
	{ "0001:ff:00.1", "0001:ff:00.1" },
	{ "0000:00:03", NULL },
	{ "00:03", NULL },
	{ "zz", NULL },
	{ "", NULL },
	{ "0000:00:03.8", NULL },
	{ "0000:00:20.0", NULL },
	{ "00000:00:03.0", NULL },
	{ "0000:100:03.0", NULL },
	{ "100:03.0", NULL },
	{ "0000:00:003.0", NULL },
	{ "0000:00:03.00", NULL },
	{ "0000:00:03.0 ", NULL },
	{ " 0000:00:03.0", NULL },
	{ "00:03.0\n", NULL },
	{ "0000:00:03.0.1", NULL },
	{ "0000-00-03.0", NULL },
	{ "0000:00:03.", NULL },
	{ "0000:00:.0", NULL },
	{ "+0:00:03.0", NULL },
	{ "0x0:00:03.0", NULL },
	{ "ffffffffffffffff:00:03.0", NULL },
	{ "99999999999999999999:00:03.0", NULL },
	{ "0000:00:99999999999999999999.0", NULL },
	{ "0000:00:03.99999999999999999999", NULL },
	{ "../../../etc:00:03.0", NULL },
};

static void test_bdf_canon(void)
{
	char out[VFIO_BDF_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(bdf_cases); i++) {
		const struct bdf_case *c = &bdf_cases[i];
		int r = vfio_bdf_canon(c->in, out);
		if (c->want) {
			CU_ASSERT_EQUAL(r, 0);
			CU_ASSERT_STRING_EQUAL(out, c->want);
		} else {
			CU_ASSERT_EQUAL(r, -EINVAL);
		}
		if ((r == 0) != (c->want != NULL))
			fprintf(stderr, "bdf case '%s': %d\n", c->in, r);
	}
	CU_ASSERT_EQUAL(vfio_bdf_canon(NULL, out), -EINVAL);
}

/* ---- a fake sysfs ---- */

static char root[256];

static void mkdirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void link_at(const char *target, const char *fmt, const char *a, const char *b)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), fmt, root, a, b);
	unlink(path);
	CU_ASSERT_EQUAL(symlink(target, path), 0);
}

/* A function under SYS/devices/pci0000:00, with a driver ("" none) and
 * an IOMMU group (< 0 none). */
static void fake_dev(const char *bdf, const char *drv, int group)
{
	char path[PATH_MAX], target[PATH_MAX], g[16];

	snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s", root, bdf);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/sys/bus/pci/devices", root);
	mkdirs(path);
	snprintf(target, sizeof(target), "../../../devices/pci0000:00/%s", bdf);
	link_at(target, "%s/sys/bus/pci/devices/%s%s", bdf, "");
	if (drv[0]) {
		snprintf(path, sizeof(path), "%s/sys/bus/pci/drivers/%s", root, drv);
		mkdirs(path);
		snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", drv);
		link_at(target, "%s/sys/devices/pci0000:00/%s%s", bdf, "/driver");
	}
	if (group >= 0) {
		snprintf(g, sizeof(g), "%d", group);
		snprintf(path, sizeof(path), "%s/sys/kernel/iommu_groups/%d/devices", root, group);
		mkdirs(path);
		snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%d", group);
		link_at(target, "%s/sys/devices/pci0000:00/%s%s", bdf, "/iommu_group");
		snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", bdf);
		snprintf(path, sizeof(path), "%s/sys/kernel/iommu_groups/%d/devices/%s", root,
			 group, bdf);
		CU_ASSERT_EQUAL(symlink(target, path), 0);
	}
}

static const char *sys(void)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/sys", root);
	return p;
}

static void tree_begin(void)
{
	snprintf(root, sizeof(root), "/tmp/isle-test-vfio-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(root));
}

static void tree_end(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_device_group(void)
{
	char err[256];

	tree_begin();
	fake_dev("0000:00:04.0", "vfio-pci", 7);
	fake_dev("0000:00:05.0", "vfio-pci", -1);
	fake_dev("0000:00:06.0", "", -1);
	CU_ASSERT_EQUAL(vfio_device_group(sys(), "00:04.0", err, sizeof(err)), 7);
	CU_ASSERT_EQUAL(vfio_device_group(sys(), "0000:00:09.0", err, sizeof(err)), -ENOENT);
	CU_ASSERT_STRING_EQUAL(err, "no PCI device 0000:00:09.0");
	CU_ASSERT_EQUAL(vfio_device_group(sys(), "0000:00:05.0", err, sizeof(err)), -ENODEV);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is the IOMMU on?"));
	CU_ASSERT_EQUAL(vfio_device_group(sys(), "zz", err, sizeof(err)), -EINVAL);
	/* A link that does not end in a number. */
	link_at("../../../kernel/iommu_groups/7x", "%s/sys/devices/pci0000:00/%s%s",
		"0000:00:06.0", "/iommu_group");
	CU_ASSERT_EQUAL(vfio_device_group(sys(), "0000:00:06.0", err, sizeof(err)), -EINVAL);
	link_at("../../../kernel/iommu_groups/99999999999", "%s/sys/devices/pci0000:00/%s%s",
		"0000:00:06.0", "/iommu_group");
	CU_ASSERT_EQUAL(vfio_device_group(sys(), "0000:00:06.0", err, sizeof(err)), -EINVAL);
	tree_end();
}

static void test_group_viable(void)
{
	char err[256];

	tree_begin();
	fake_dev("0000:01:00.0", "vfio-pci", 11);
	fake_dev("0000:01:00.1", "", 11);
	fake_dev("0000:00:01.0", "pcieport", 11);
	CU_ASSERT_EQUAL(vfio_group_viable(sys(), 11, err, sizeof(err)), 0);
	fake_dev("0000:01:00.2", "pci-stub", 11);
	CU_ASSERT_EQUAL(vfio_group_viable(sys(), 11, err, sizeof(err)), 0);
	fake_dev("0000:01:00.3", "snd_hda_intel", 11);
	CU_ASSERT_EQUAL(vfio_group_viable(sys(), 11, err, sizeof(err)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "IOMMU group 11 is not viable: 0000:01:00.3 is bound "
					  "to snd_hda_intel"));
	CU_ASSERT_EQUAL(vfio_group_viable(sys(), 12, err, sizeof(err)), -ENOENT);
	CU_ASSERT_STRING_EQUAL(err, "IOMMU group 12 does not exist");
	CU_ASSERT_EQUAL(vfio_group_viable(sys(), -1, err, sizeof(err)), -EINVAL);
	tree_end();
}

static void test_device_open_refusals(void)
{
	struct vfio_container c = { .fd = -1 };
	struct vfio_device d;
	char err[256];

	tree_begin();
	fake_dev("0000:00:0a.0", "nvme", 20);
	fake_dev("0000:00:0b.0", "vfio-pci", 21);
	fake_dev("0000:00:0b.1", "e1000e", 21);
	fake_dev("0000:00:0c.0", "vfio-pci", 22);
	fake_dev("0000:00:0d.0", "", 23);

	CU_ASSERT_EQUAL(vfio_device_open(&c, sys(), "00:0a.0", &d, err, sizeof(err)), -EBUSY);
	CU_ASSERT_STRING_EQUAL(err, "0000:00:0a.0 is bound to nvme, not vfio-pci: run `isle "
			       "pci-assignable-add 0000:00:0a.0`");
	CU_ASSERT_EQUAL(d.fd, -1);
	CU_ASSERT_EQUAL(vfio_device_open(&c, sys(), "00:0d.0", &d, err, sizeof(err)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bound to no driver, not vfio-pci"));
	CU_ASSERT_EQUAL(vfio_device_open(&c, sys(), "0000:00:1e.0", &d, err, sizeof(err)), -ENOENT);
	CU_ASSERT_STRING_EQUAL(err, "no PCI device 0000:00:1e.0");
	CU_ASSERT_EQUAL(vfio_device_open(&c, sys(), "00:0b.0", &d, err, sizeof(err)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0000:00:0b.1 is bound to e1000e"));
	CU_ASSERT_EQUAL(vfio_device_open(&c, sys(), "bogus", &d, err, sizeof(err)), -EINVAL);
	/* Everything checks out up to the container, which is not open. */
	CU_ASSERT_EQUAL(vfio_device_open(&c, sys(), "00:0c.0", &d, err, sizeof(err)), -EBADF);
	CU_ASSERT_EQUAL(d.fd, -1);
	CU_ASSERT_EQUAL(c.nr_groups, 0);
	tree_end();
}

static void test_container_open_without_vfio(void)
{
	struct vfio_container c;
	char err[256];

	if (access("/dev/vfio/vfio", F_OK) == 0)
		return;           /* a host with VFIO: the lab tests the real thing */
	CU_ASSERT_EQUAL(vfio_container_open(&c, err, sizeof(err)), -ENOENT);
	CU_ASSERT_EQUAL(c.fd, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "modprobe vfio-pci"));
	vfio_container_close(&c);
	CU_ASSERT_EQUAL(c.fd, -1);
}

/* ---- capability chains ---- */

#define RSZ  sizeof(struct vfio_region_info)
#define HSZ  sizeof(struct vfio_info_cap_header)
#define SSZ  sizeof(struct vfio_region_info_cap_sparse_mmap)
#define ASZ  sizeof(struct vfio_region_sparse_mmap_area)

static uint64_t bufw[512];
#define BUF ((uint8_t *)bufw)

static void put_info(uint32_t flags, uint64_t size, uint32_t cap_offset)
{
	struct vfio_region_info info = { .argsz = sizeof(bufw), .flags = flags, .index = 0,
					 .cap_offset = cap_offset, .size = size,
					 .offset = 0x10000000000ull };

	memset(bufw, 0, sizeof(bufw));
	memcpy(BUF, &info, sizeof(info));
}

static void put_hdr(size_t at, uint16_t id, uint32_t next)
{
	struct vfio_info_cap_header h = { .id = id, .version = 1, .next = next };

	memcpy(BUF + at, &h, sizeof(h));
}

/* A sparse cap at `at` with n areas from a[]: its end. */
static size_t put_sparse(size_t at, uint32_t next, uint32_t n, const uint64_t (*a)[2])
{
	struct vfio_region_info_cap_sparse_mmap cap = {
		.header = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1, .next = next },
		.nr_areas = n,
	};

	memcpy(BUF + at, &cap, sizeof(cap));
	for (uint32_t i = 0; a && i < n; i++) {
		struct vfio_region_sparse_mmap_area area = { .offset = a[i][0], .size = a[i][1] };
		memcpy(BUF + at + SSZ + i * ASZ, &area, sizeof(area));
	}
	return at + SSZ + n * ASZ;
}

#define MMAP_CAPS (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | \
		   VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS)

static void test_sparse_good_chain(void)
{
	static const uint64_t areas[][2] = { { 0, 0x1000 }, { 0x3000, 0x1000 } };
	struct vfio_region r;
	size_t end;

	/* A type cap first, then the sparse one. */
	put_info(MMAP_CAPS, 0x4000, RSZ);
	put_hdr(RSZ, VFIO_REGION_INFO_CAP_TYPE, RSZ + 16);
	end = put_sparse(RSZ + 16, 0, 2, areas);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end), 0);
	CU_ASSERT_EQUAL(r.size, 0x4000);
	CU_ASSERT_EQUAL(r.offset, 0x10000000000ull);
	CU_ASSERT_EQUAL(r.flags, MMAP_CAPS);
	CU_ASSERT_EQUAL(r.nr_areas, 2);
	CU_ASSERT_EQUAL(r.areas[0].offset, 0);
	CU_ASSERT_EQUAL(r.areas[0].size, 0x1000);
	CU_ASSERT_EQUAL(r.areas[1].offset, 0x3000);
	CU_ASSERT_EQUAL(r.areas[1].size, 0x1000);
	/* One byte short of the last area: malformed. */
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end - 1), -EINVAL);
	CU_ASSERT_EQUAL(r.nr_areas, 0);

	/* A sparse cap with no areas: nothing is mmappable. */
	put_info(MMAP_CAPS, 0x4000, RSZ);
	end = put_sparse(RSZ, 0, 0, NULL);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end), 0);
	CU_ASSERT_EQUAL(r.nr_areas, 0);
}

static void test_sparse_whole_or_none(void)
{
	static const uint64_t areas[][2] = { { 0, 0x1000 } };
	struct vfio_region r;
	size_t end;

	/* MMAP without caps: the whole region. */
	put_info(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP, 0x8000, 0);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, RSZ), 0);
	CU_ASSERT_EQUAL(r.nr_areas, 1);
	CU_ASSERT_EQUAL(r.areas[0].offset, 0);
	CU_ASSERT_EQUAL(r.areas[0].size, 0x8000);
	/* Caps without a sparse one: the whole region. */
	put_info(MMAP_CAPS, 0x8000, RSZ);
	put_hdr(RSZ, VFIO_REGION_INFO_CAP_TYPE, 0);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, RSZ + 16), 0);
	CU_ASSERT_EQUAL(r.nr_areas, 1);
	/* No MMAP: no areas, whatever the caps say. */
	put_info(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_CAPS, 0x8000, RSZ);
	end = put_sparse(RSZ, 0, 1, areas);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end), 0);
	CU_ASSERT_EQUAL(r.nr_areas, 0);
	/* A region that does not exist. */
	put_info(0, 0, 0);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, RSZ), 0);
	CU_ASSERT_EQUAL(r.size, 0);
	CU_ASSERT_EQUAL(r.nr_areas, 0);
	/* Shorter than the info struct. */
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, RSZ - 1), -EINVAL);
}

static void test_sparse_clip(void)
{
	static const uint64_t areas[][2] = {
		{ 0x3000, 0x2000 },           /* past the end: clipped to 0x1000 */
		{ 0x5000, 0x1000 },           /* starts past the end: dropped */
		{ 0x4000, 0x1000 },           /* starts at the end: dropped */
		{ 0x1000, 0 },                /* empty: dropped */
		{ 0x1000, UINT64_MAX },       /* end overflows: dropped */
		{ UINT64_MAX, 2 },            /* dropped */
		{ 0x1000, 0x1000 },           /* kept */
	};
	static uint64_t many[24][2];
	struct vfio_region r;
	size_t end;

	put_info(MMAP_CAPS, 0x4000, RSZ);
	end = put_sparse(RSZ, 0, ARRAY_SIZE(areas), areas);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end), 0);
	CU_ASSERT_EQUAL(r.nr_areas, 2);
	CU_ASSERT_EQUAL(r.areas[0].offset, 0x3000);
	CU_ASSERT_EQUAL(r.areas[0].size, 0x1000);
	CU_ASSERT_EQUAL(r.areas[1].offset, 0x1000);
	CU_ASSERT_EQUAL(r.areas[1].size, 0x1000);

	/* More areas than VFIO_MAX_SPARSE: the first ones are kept. */
	for (unsigned int i = 0; i < ARRAY_SIZE(many); i++) {
		many[i][0] = i * 0x1000ull;
		many[i][1] = 0x1000;
	}
	put_info(MMAP_CAPS, 0x100000, RSZ);
	end = put_sparse(RSZ, 0, ARRAY_SIZE(many), many);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end), 0);
	CU_ASSERT_EQUAL(r.nr_areas, VFIO_MAX_SPARSE);
	CU_ASSERT_EQUAL(r.areas[VFIO_MAX_SPARSE - 1].offset, (VFIO_MAX_SPARSE - 1) * 0x1000ull);
}

static void test_sparse_malformed(void)
{
	static const uint64_t areas[][2] = { { 0, 0x1000 } };
	struct vfio_region r;
	size_t end, at;

	/* First cap outside the buffer, straddling its end, inside the header. */
	put_info(MMAP_CAPS, 0x4000, 4096);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, 64), -EINVAL);
	CU_ASSERT_EQUAL(r.nr_areas, 0);
	put_info(MMAP_CAPS, 0x4000, 60);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, 64), -EINVAL);
	put_info(MMAP_CAPS, 0x4000, 8);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, 64), -EINVAL);
	put_info(MMAP_CAPS, 0x4000, UINT32_MAX);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, sizeof(bufw)), -EINVAL);
	/* next pointing outside. */
	put_info(MMAP_CAPS, 0x4000, RSZ);
	put_hdr(RSZ, VFIO_REGION_INFO_CAP_TYPE, 100000);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, sizeof(bufw)), -EINVAL);
	/* Loops: to itself, and back to an earlier cap. */
	put_info(MMAP_CAPS, 0x4000, RSZ);
	put_hdr(RSZ, VFIO_REGION_INFO_CAP_TYPE, RSZ);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, sizeof(bufw)), -EINVAL);
	put_info(MMAP_CAPS, 0x4000, RSZ);
	put_hdr(RSZ, VFIO_REGION_INFO_CAP_TYPE, RSZ + 16);
	put_hdr(RSZ + 16, VFIO_REGION_INFO_CAP_TYPE, RSZ);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, sizeof(bufw)), -EINVAL);
	/* A sparse cap whose area count runs past the buffer, or overflows. */
	put_info(MMAP_CAPS, 0x4000, RSZ);
	end = put_sparse(RSZ, 0, 1, areas);
	put_sparse(RSZ, 0, 1000, NULL);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end), -EINVAL);
	put_sparse(RSZ, 0, UINT32_MAX, NULL);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, end), -EINVAL);
	/* A sparse header that fits but not its body. */
	put_info(MMAP_CAPS, 0x4000, RSZ);
	put_sparse(RSZ, 0, 0, NULL);
	CU_ASSERT_EQUAL(vfio_region_parse(&r, BUF, RSZ + HSZ), -EINVAL);

	/* A long but increasing chain ends at the walk bound. */
	memset(bufw, 0, sizeof(bufw));
	for (at = RSZ; at + HSZ <= sizeof(bufw) - HSZ; at += HSZ)
		put_hdr(at, 0x7777, (uint32_t)(at + HSZ));
	put_hdr(at, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0);
	CU_ASSERT(sizeof(bufw) / HSZ > VFIO_CAP_WALK);
	CU_ASSERT_EQUAL(vfio_cap_find(BUF, sizeof(bufw), RSZ, RSZ, VFIO_REGION_INFO_CAP_SPARSE_MMAP,
				      HSZ, &end), -EINVAL);
	/* ... and a short one finds its cap or says it is absent. */
	put_hdr(RSZ + HSZ, 0x5555, 0);
	CU_ASSERT_EQUAL(vfio_cap_find(BUF, sizeof(bufw), RSZ, RSZ, 0x5555, HSZ, &end), 0);
	CU_ASSERT_EQUAL(end, RSZ + HSZ);
	CU_ASSERT_EQUAL(vfio_cap_find(BUF, sizeof(bufw), RSZ, RSZ, 0x6666, HSZ, &end), -ENOENT);
	CU_ASSERT_EQUAL(vfio_cap_find(BUF, sizeof(bufw), RSZ, 0, 0x5555, HSZ, &end), -ENOENT);
}

/* ---- regions and interrupts on a stand-in fd ---- */

static int fake_device(struct vfio_device *d)
{
	uint8_t data[0x4000];
	char path[] = "/tmp/isle-test-vfio-dev-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	if (pwrite(fd, data, sizeof(data), 0) != (ssize_t)sizeof(data)) {
		close(fd);
		return -1;
	}
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->group_id = -1;
	d->nr_regions = 3;
	d->regions[0] = (struct vfio_region){
		.index = 0, .size = 0x2000, .offset = 0x1000, .nr_areas = 1,
		.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			 VFIO_REGION_INFO_FLAG_MMAP,
		.areas = { { .offset = 0x1000, .size = 0x1000 } },
	};
	d->regions[1] = (struct vfio_region){ .index = 1, .size = 0x100, .offset = 0x3000,
					      .flags = VFIO_REGION_INFO_FLAG_READ };
	d->regions[2] = (struct vfio_region){ .index = 2, .size = 0x10000, .offset = 0x3f00,
					      .flags = VFIO_REGION_INFO_FLAG_READ };
	d->nr_irqs = 3;
	d->irqs[0] = (struct vfio_irq_info){ .index = 0, .count = 1 };
	d->irqs[2] = (struct vfio_irq_info){ .index = 2, .count = 4 };
	return 0;
}

static void test_region_rw(void)
{
	struct vfio_device d;
	uint8_t b[8], want[8];
	uint32_t v = 0xdeadbeef, got;

	CU_ASSERT_FATAL(fake_device(&d) == 0);
	CU_ASSERT_EQUAL(vfio_region_read(&d, 0, 0x10, b, 4), 0);
	CU_ASSERT_EQUAL(pread(d.fd, want, 4, 0x1010), 4);
	CU_ASSERT_EQUAL(memcmp(b, want, 4), 0);
	CU_ASSERT_EQUAL(vfio_region_read(&d, 0, 0x1ffc, b, 8), -EINVAL);
	CU_ASSERT_EQUAL(vfio_region_read(&d, 0, 0x1ff8, b, 8), 0);
	CU_ASSERT_EQUAL(vfio_region_read(&d, 0, UINT64_MAX, b, 1), -EINVAL);
	CU_ASSERT_EQUAL(vfio_region_read(&d, 3, 0, b, 1), -EINVAL);
	CU_ASSERT_EQUAL(vfio_region_read(&d, 99, 0, b, 1), -EINVAL);
	CU_ASSERT_EQUAL(vfio_region_write(&d, 1, 0, &v, 4), -EINVAL);    /* read-only */
	CU_ASSERT_EQUAL(vfio_region_write(&d, 0, 0x20, &v, 4), 0);
	CU_ASSERT_EQUAL(pread(d.fd, &got, 4, 0x1020), 4);
	CU_ASSERT_EQUAL(got, v);
	/* The file ends inside region 2: a short read. */
	CU_ASSERT_EQUAL(vfio_region_read(&d, 2, 0, bufw, 0x200), -EIO);
	close(d.fd);
}

static void test_region_mmap(void)
{
	struct vfio_device d;
	uint8_t want[16];
	void *p;

	CU_ASSERT_FATAL(fake_device(&d) == 0);
	p = vfio_region_mmap(&d, 0, 0x1000, 0x1000);
	CU_ASSERT_NOT_EQUAL(p, MAP_FAILED);
	if (p != MAP_FAILED) {
		CU_ASSERT_EQUAL(pread(d.fd, want, sizeof(want), 0x2000), (ssize_t)sizeof(want));
		CU_ASSERT_EQUAL(memcmp(p, want, sizeof(want)), 0);
		munmap(p, 0x1000);
	}
	CU_ASSERT_EQUAL(vfio_region_mmap(&d, 0, 0, 0x1000), MAP_FAILED);      /* not an area */
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(vfio_region_mmap(&d, 0, 0x1800, 0x800), MAP_FAILED);  /* unaligned */
	CU_ASSERT_EQUAL(vfio_region_mmap(&d, 0, 0x1000, 0x2000), MAP_FAILED); /* past the end */
	CU_ASSERT_EQUAL(vfio_region_mmap(&d, 0, 0x1000, 0), MAP_FAILED);
	CU_ASSERT_EQUAL(vfio_region_mmap(&d, 1, 0, 0x1000), MAP_FAILED);      /* no areas */
	CU_ASSERT_EQUAL(vfio_region_mmap(&d, 7, 0, 0x1000), MAP_FAILED);
	close(d.fd);
}

static void test_irq_args(void)
{
	struct vfio_device d;
	int fds[4] = { 3, 4, 5, 6 };

	CU_ASSERT_FATAL(fake_device(&d) == 0);
	CU_ASSERT_EQUAL(vfio_irq_set_eventfds(&d, 3, 0, 1, fds), -EINVAL);
	CU_ASSERT_EQUAL(vfio_irq_set_eventfds(&d, 2, 2, 3, fds), -EINVAL);
	CU_ASSERT_EQUAL(vfio_irq_set_eventfds(&d, 2, 5, 1, fds), -EINVAL);
	CU_ASSERT_EQUAL(vfio_irq_set_eventfds(&d, 2, 1, UINT32_MAX, fds), -EINVAL);
	CU_ASSERT_EQUAL(vfio_irq_set_eventfds(&d, 2, 0, 1, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vfio_irq_set_unmask_eventfd(&d, 1, 3), -EINVAL);   /* count 0 */
	CU_ASSERT_EQUAL(vfio_irq_mask(&d, 1, true), -EINVAL);
	/* Valid arguments reach the ioctl, which a regular file refuses. */
	CU_ASSERT_EQUAL(vfio_irq_set_eventfds(&d, 2, 0, 4, fds), -ENOTTY);
	CU_ASSERT_EQUAL(vfio_irq_set_eventfds(&d, 2, 0, 0, NULL), -ENOTTY);
	CU_ASSERT_EQUAL(vfio_irq_set_unmask_eventfd(&d, 0, 3), -ENOTTY);
	CU_ASSERT_EQUAL(vfio_irq_mask(&d, 0, false), -ENOTTY);
	close(d.fd);
	d.fd = -1;
	CU_ASSERT_EQUAL(vfio_irq_mask(&d, 0, true), -EBADF);
}

/* ---- DMA and memlock ---- */

static void test_dma_limit(void)
{
	struct vfio_container c = { .fd = -1, .nr_maps = VFIO_TYPE1_DMA_LIMIT };
	static uint8_t page[4096];
	char err[256];
	uint64_t un = 1;

	CU_ASSERT_EQUAL(vfio_dma_map(&c, 0, 4096, page, true, err, sizeof(err)), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "65535 VFIO DMA mappings"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "dma_entry_limit"));
	CU_ASSERT_EQUAL(c.nr_maps, VFIO_TYPE1_DMA_LIMIT);
	c.nr_maps = VFIO_TYPE1_DMA_LIMIT - 1;       /* one more fits: on to the ioctl */
	CU_ASSERT_EQUAL(vfio_dma_map(&c, 0, 4096, page, true, err, sizeof(err)), -EBADF);
	CU_ASSERT_EQUAL(c.nr_maps, VFIO_TYPE1_DMA_LIMIT - 1);
	CU_ASSERT_EQUAL(c.mapped_bytes, 0);
	CU_ASSERT_EQUAL(vfio_dma_map(&c, 0, 0, page, true, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(vfio_dma_map(&c, UINT64_MAX - 0xfff, 0x2000, page, false, err,
				     sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(vfio_dma_unmap(&c, 0, 4096, &un), -EBADF);
	CU_ASSERT_EQUAL(un, 0);
	CU_ASSERT_EQUAL(vfio_dma_unmap(&c, 0, 0, NULL), -EINVAL);
}

static void test_memlock_judge(void)
{
	char err[512];

	CU_ASSERT_EQUAL(vfio_memlock_judge(GiB, false, 64 * MiB, err, sizeof(err)), -ENOMEM);
	CU_ASSERT_STRING_EQUAL(err, "assigning a device pins all guest memory: 1024 MiB needed, "
			       "RLIMIT_MEMLOCK is 64 MiB (raise it: ulimit -l 1048576, or "
			       "LimitMEMLOCK= in a systemd unit)");
	CU_ASSERT_EQUAL(vfio_memlock_judge(GiB + 1, false, 0, err, sizeof(err)), -ENOMEM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "1025 MiB needed, RLIMIT_MEMLOCK is 0 MiB"));
	CU_ASSERT_EQUAL(vfio_memlock_judge(GiB, true, 64 * MiB, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vfio_memlock_judge(GiB, false, UINT64_MAX, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vfio_memlock_judge(GiB, false, GiB, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vfio_memlock_judge(GiB, false, GiB, NULL, 0), 0);
	CU_ASSERT_EQUAL(vfio_memlock_judge(2 * GiB, false, GiB, NULL, 0), -ENOMEM);
}

/* The real check, in a child that drops CAP_IPC_LOCK from its effective
 * set and lowers its soft RLIMIT_MEMLOCK. */
static void test_memlock_check(void)
{
	int status = -1;
	pid_t pid = fork();

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
		struct rlimit rl;
		char err[512];

		if (syscall(SYS_capget, &hdr, data) < 0)
			_exit(10);
		data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
		if (syscall(SYS_capset, &hdr, data) < 0)
			_exit(11);
		if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
			_exit(12);
		rl.rlim_cur = 64 * MiB;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
			_exit(13);
		if (vfio_memlock_check(rl.rlim_cur + GiB, err, sizeof(err)) != -ENOMEM ||
		    !strstr(err, "RLIMIT_MEMLOCK is"))
			_exit(14);
		if (vfio_memlock_check(rl.rlim_cur, err, sizeof(err)) != 0)
			_exit(15);
		_exit(0);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

void unit_register(void)
{
	UNIT_SUITE("vfio_bdf", UNIT_TEST(test_bdf_canon));
	UNIT_SUITE("vfio_sysfs", UNIT_TEST(test_device_group), UNIT_TEST(test_group_viable),
		   UNIT_TEST(test_device_open_refusals), UNIT_TEST(test_container_open_without_vfio));
	UNIT_SUITE("vfio_caps", UNIT_TEST(test_sparse_good_chain),
		   UNIT_TEST(test_sparse_whole_or_none), UNIT_TEST(test_sparse_clip),
		   UNIT_TEST(test_sparse_malformed));
	UNIT_SUITE("vfio_region", UNIT_TEST(test_region_rw), UNIT_TEST(test_region_mmap),
		   UNIT_TEST(test_irq_args));
	UNIT_SUITE("vfio_dma", UNIT_TEST(test_dma_limit), UNIT_TEST(test_memlock_judge),
		   UNIT_TEST(test_memlock_check));
}
