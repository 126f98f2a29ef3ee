/* Unit tests for vfio-glue/assignable.c and assignable_host.c against a fake
 * sysfs and proc under a mkdtemp directory. Regular files stand in for
 * driver_override, bind, unbind and drivers_probe; the env's `written` hook
 * logs every write and plays the kernel (unbind drops the driver link,
 * drivers_probe binds the override or the device's native driver, bind
 * binds). Covers: add (remembers the driver, writes override + unbind +
 * probe, idempotent, modprobe hook, failed bind undone, group warning),
 * the refusals for the root disk (direct, dm, md partition) and the
 * default-route NIC (IPv4, IPv6 through a bridge), remove with and without
 * -r (rebinding the remembered driver), refusing a group some process
 * holds, list output with names from a private pci.ids, and the
 * command-line usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit.h"
#include "assignable_internal.h"

static char root[256];

struct kern {
	char log[4096];
	const char *native;     /* the driver drivers_probe binds without an override */
	bool probe_noop;        /* drivers_probe binds nothing */
	bool bind_noop;         /* DRIVER/bind binds nothing */
	int modprobes;
};

static struct kern kern;
static struct pa_env env;
static char sys_dir[300], proc_dir[300], state_dir[300], ids_path[300];

/* ---- the fake tree ---- */

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

static void put_file(const char *path, const char *text)
{
	FILE *f;
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/'))) {
		*slash = '\0';
		mkdirs(dir);
	}
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static const char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void put_link(const char *target, const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/'))) {
		*slash = '\0';
		mkdirs(dir);
	}
	unlink(path);
	CU_ASSERT_EQUAL(symlink(target, path), 0);
}

static void mkdrv(const char *drv)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/bind", sys_dir, drv);
	put_file(path, "");
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/unbind", sys_dir, drv);
	put_file(path, "");
}

static void bind_to(const char *bdf, const char *drv)
{
	char path[PATH_MAX], target[PATH_MAX];

	mkdrv(drv);
	snprintf(path, sizeof(path), "%s/devices/pci0000:00/%s/driver", sys_dir, bdf);
	snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", drv);
	put_link(target, path);
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/%s", sys_dir, drv, bdf);
	snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", bdf);
	put_link(target, path);
}

static void unbind(const char *bdf)
{
	char path[PATH_MAX], drv[64];

	snprintf(path, sizeof(path), "%s/devices/pci0000:00/%s/driver", sys_dir, bdf);
	if (vfio_link_base(path, drv, sizeof(drv)))
		return;
	unlink(path);
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/%s", sys_dir, drv, bdf);
	unlink(path);
}

/* A function with ids, a driver ("" none) and an IOMMU group (< 0 none). */
static void fake_dev(const char *bdf, const char *drv, int group, unsigned int ven,
		     unsigned int dev)
{
	char path[PATH_MAX], target[PATH_MAX], id[16];

	snprintf(path, sizeof(path), "%s/devices/pci0000:00/%s/vendor", sys_dir, bdf);
	snprintf(id, sizeof(id), "0x%04x\n", ven);
	put_file(path, id);
	snprintf(path, sizeof(path), "%s/devices/pci0000:00/%s/device", sys_dir, bdf);
	snprintf(id, sizeof(id), "0x%04x\n", dev);
	put_file(path, id);
	snprintf(path, sizeof(path), "%s/devices/pci0000:00/%s/driver_override", sys_dir, bdf);
	put_file(path, "(null)\n");
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sys_dir, bdf);
	snprintf(target, sizeof(target), "../../../devices/pci0000:00/%s", bdf);
	put_link(target, path);
	if (drv[0])
		bind_to(bdf, drv);
	if (group >= 0) {
		snprintf(path, sizeof(path), "%s/devices/pci0000:00/%s/iommu_group", sys_dir, bdf);
		snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%d", group);
		put_link(target, path);
		snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices/%s", sys_dir, group,
			 bdf);
		snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", bdf);
		put_link(target, path);
	}
}

static const char *driver_of(const char *bdf)
{
	static char drv[64];
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", sys_dir, bdf);
	if (vfio_link_base(path, drv, sizeof(drv)))
		drv[0] = '\0';
	return drv;
}

static const char *state_of(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", state_dir, bdf);
	return slurp(path);
}

/* The kernel's side of each write. */
static void kernel(const struct pa_env *e, const char *path, const char *value)
{
	struct kern *k = e->priv;
	size_t n = strlen(k->log), skip = strlen(e->sysfs) + 1;
	const char *tail = strrchr(path, '/'), *start;
	char drv[64], p[PATH_MAX];

	snprintf(k->log + n, sizeof(k->log) - n, "%s=%s\n", path + skip,
		 strcmp(value, "\n") ? value : "\\n");
	if (!strcmp(tail, "/unbind")) {
		unbind(value);
	} else if (!strcmp(tail, "/drivers_probe") && !k->probe_noop) {
		snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/driver_override", e->sysfs, value);
		if (vfio_read_small(p, drv, sizeof(drv)) || !drv[0] || !strcmp(drv, "(null)"))
			snprintf(drv, sizeof(drv), "%s", k->native ? k->native : "");
		snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s", e->sysfs, drv);
		if (drv[0] && !access(p, F_OK))
			bind_to(value, drv);
	} else if (!strcmp(tail, "/bind") && !k->bind_noop) {
		for (start = tail - 1; start > path && *start != '/'; start--)
			;
		snprintf(drv, sizeof(drv), "%.*s", (int)(tail - start - 1), start + 1);
		bind_to(value, drv);
	}
}

static int modprobe_hook(const struct pa_env *e, const char *module)
{
	kern.modprobes++;
	mkdrv(module);
	return 0;
}

static void tree_begin(void)
{
	snprintf(root, sizeof(root), "/tmp/isle-test-assignable-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(root));
	snprintf(sys_dir, sizeof(sys_dir), "%s/sys", root);
	snprintf(proc_dir, sizeof(proc_dir), "%s/proc", root);
	snprintf(state_dir, sizeof(state_dir), "%s/run/isle/pci-assignable", root);
	snprintf(ids_path, sizeof(ids_path), "%s/pci.ids", root);
	mkdirs(proc_dir);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/bus/pci/drivers_probe", sys_dir);
	put_file(p, "");
	memset(&kern, 0, sizeof(kern));
	env = (struct pa_env){ .sysfs = sys_dir, .state_dir = state_dir, .proc = proc_dir,
			       .pci_ids = ids_path, .written = kernel, .priv = &kern };
}

static void tree_end(void)
{
	char cmd[PATH_MAX];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static void proc_file(const char *rel, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", proc_dir, rel);
	put_file(p, text);
}

/* ---- add ---- */

static void test_add(void)
{
	struct pa_out o;
	struct stat st;
	char p[PATH_MAX];

	tree_begin();
	fake_dev("0000:00:04.0", "nvme", 3, 0x8086, 0x0953);
	mkdrv("vfio-pci");
	kern.native = "nvme";
	CU_ASSERT_EQUAL(pa_add(&env, "00:04.0", &o), 0);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:04.0 is assignable (was nvme)");
	CU_ASSERT_STRING_EQUAL(o.warn, "");
	CU_ASSERT_STRING_EQUAL(kern.log,
			       "bus/pci/devices/0000:00:04.0/driver_override=vfio-pci\n"
			       "bus/pci/devices/0000:00:04.0/driver/unbind=0000:00:04.0\n"
			       "bus/pci/drivers_probe=0000:00:04.0\n");
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "vfio-pci");
	CU_ASSERT_STRING_EQUAL(state_of("0000:00:04.0"), "nvme\n");
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/nvme/unbind", sys_dir);
	CU_ASSERT_STRING_EQUAL(slurp(p), "0000:00:04.0");
	snprintf(p, sizeof(p), "%s/bus/pci/devices/0000:00:04.0/driver_override", sys_dir);
	CU_ASSERT_STRING_EQUAL(slurp(p), "vfio-pci");
	CU_ASSERT_EQUAL(stat(state_dir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);

	/* Again: nothing written, the remembered driver kept. */
	kern.log[0] = '\0';
	CU_ASSERT_EQUAL(pa_add(&env, "0000:00:04.0", &o), 0);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:04.0 is already assignable (bound to vfio-pci)");
	CU_ASSERT_STRING_EQUAL(kern.log, "");
	CU_ASSERT_STRING_EQUAL(state_of("0000:00:04.0"), "nvme\n");

	/* Refusals before anything is written. */
	CU_ASSERT_EQUAL(pa_add(&env, "0000:00:09.0", &o), -ENOENT);
	CU_ASSERT_STRING_EQUAL(o.msg, "no PCI device 0000:00:09.0");
	CU_ASSERT_EQUAL(pa_add(&env, "0000:00:04", &o), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "is not a PCI address"));
	CU_ASSERT_STRING_EQUAL(kern.log, "");
	tree_end();
}

static void test_add_group_warning(void)
{
	struct pa_out o;

	tree_begin();
	fake_dev("0000:00:1f.3", "snd_hda_intel", 9, 0x8086, 0xa170);
	fake_dev("0000:00:1f.4", "i801_smbus", 9, 0x8086, 0xa123);
	fake_dev("0000:00:1f.5", "", 9, 0x8086, 0xa124);
	mkdrv("vfio-pci");
	CU_ASSERT_EQUAL(pa_add(&env, "00:1f.3", &o), 0);
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:1f.3"), "vfio-pci");
	CU_ASSERT_PTR_NOT_NULL(strstr(o.warn, "IOMMU group 9 is not viable: 0000:00:1f.4 is "
					      "bound to i801_smbus"));
	/* No IOMMU group at all: a warning too. */
	fake_dev("0000:00:02.0", "i915", -1, 0x8086, 0x3e92);
	CU_ASSERT_EQUAL(pa_add(&env, "00:02.0", &o), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.warn, "is the IOMMU on?"));
	tree_end();
}

static void test_add_modprobe_and_undo(void)
{
	struct pa_out o;
	char p[PATH_MAX];

	tree_begin();
	fake_dev("0000:00:04.0", "nvme", 3, 0x8086, 0x0953);
	/* vfio-pci missing, no modprobe hook. */
	CU_ASSERT_EQUAL(pa_add(&env, "00:04.0", &o), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "vfio-pci driver is not loaded"));
	CU_ASSERT_STRING_EQUAL(kern.log, "");
	CU_ASSERT_PTR_NULL(state_of("0000:00:04.0"));
	/* The hook loads it. */
	env.modprobe = modprobe_hook;
	CU_ASSERT_EQUAL(pa_add(&env, "00:04.0", &o), 0);
	CU_ASSERT_EQUAL(kern.modprobes, 1);
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "vfio-pci");

	/* vfio-pci does not take the device: the add is undone. */
	fake_dev("0000:00:05.0", "nvme", 4, 0x8086, 0x0953);
	kern.probe_noop = true;
	kern.log[0] = '\0';
	CU_ASSERT_EQUAL(pa_add(&env, "00:05.0", &o), -EIO);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:05.0 did not bind to vfio-pci (its driver is now "
			       "none): see dmesg");
	CU_ASSERT_STRING_EQUAL(kern.log,
			       "bus/pci/devices/0000:00:05.0/driver_override=vfio-pci\n"
			       "bus/pci/devices/0000:00:05.0/driver/unbind=0000:00:05.0\n"
			       "bus/pci/drivers_probe=0000:00:05.0\n"
			       "bus/pci/devices/0000:00:05.0/driver_override=\\n\n"
			       "bus/pci/drivers/nvme/bind=0000:00:05.0\n");
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:05.0"), "nvme");
	CU_ASSERT_PTR_NULL(state_of("0000:00:05.0"));
	snprintf(p, sizeof(p), "%s/bus/pci/devices/0000:00:05.0/driver_override", sys_dir);
	CU_ASSERT_STRING_EQUAL(slurp(p), "\n");

	/* remove -r loads the remembered driver when it is missing. */
	snprintf(p, sizeof(p), "rm -rf '%s/bus/pci/drivers/nvme'", sys_dir);
	CU_ASSERT_EQUAL(system(p), 0);
	kern.modprobes = 0;
	CU_ASSERT_EQUAL(pa_remove(&env, "00:04.0", true, &o), 0);
	CU_ASSERT_EQUAL(kern.modprobes, 1);
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "nvme");
	tree_end();
}

/* ---- what the host needs ---- */

static void test_refuse_root_disk(void)
{
	char p[PATH_MAX], t[PATH_MAX];
	struct pa_out o;

	tree_begin();
	mkdrv("vfio-pci");
	fake_dev("0000:00:04.0", "nvme", 3, 0x8086, 0x0953);
	fake_dev("0000:00:05.0", "nvme", 4, 0x8086, 0x0953);
	snprintf(p, sizeof(p), "%s/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2",
		 sys_dir);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/dev/block/259:2", sys_dir);
	put_link("../../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2", p);
	/* The first "/" is shadowed by the last. */
	proc_file("self/mountinfo",
		  "1 0 0:1 / / rw - rootfs rootfs rw\n"
		  "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
		  "23 22 0:21 / /proc rw - proc proc rw\n");
	CU_ASSERT_EQUAL(pa_add(&env, "00:04.0", &o), -EBUSY);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:04.0 holds the host's root filesystem (block device "
			       "259:2): refusing to take it from the host");
	CU_ASSERT_STRING_EQUAL(kern.log, "");
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "nvme");
	CU_ASSERT_PTR_NULL(state_of("0000:00:04.0"));
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:05.0", o.msg, sizeof(o.msg)), 0);

	/* Root on dm-0 over a partition of the second disk. */
	snprintf(p, sizeof(p), "%s/devices/pci0000:00/0000:00:05.0/nvme/nvme1/nvme1n1/nvme1n1p3",
		 sys_dir);
	mkdirs(p);
	snprintf(t, sizeof(t), "%s", p);
	snprintf(p, sizeof(p), "%s/devices/virtual/block/dm-0/slaves/nvme1n1p3", sys_dir);
	put_link(t, p);
	snprintf(p, sizeof(p), "%s/dev/block/254:0", sys_dir);
	put_link("../../devices/virtual/block/dm-0", p);
	proc_file("self/mountinfo", "22 1 254:0 / / rw - ext4 /dev/mapper/root rw\n");
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:05.0", o.msg, sizeof(o.msg)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "block device 254:0"));
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:04.0", o.msg, sizeof(o.msg)), 0);

	/* Root on md0p1, md0 built on a SATA disk behind 0000:00:17.0. */
	snprintf(p, sizeof(p), "%s/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/"
		 "0:0:0:0/block/sda", sys_dir);
	mkdirs(p);
	snprintf(t, sizeof(t), "%s", p);
	snprintf(p, sizeof(p), "%s/devices/virtual/block/md0/slaves/sda", sys_dir);
	put_link(t, p);
	snprintf(p, sizeof(p), "%s/devices/virtual/block/md0/md0p1/partition", sys_dir);
	put_file(p, "1\n");
	snprintf(p, sizeof(p), "%s/dev/block/9:1", sys_dir);
	put_link("../../devices/virtual/block/md0/md0p1", p);
	proc_file("self/mountinfo", "22 1 9:1 / / rw - ext4 /dev/md0p1 rw\n");
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:17.0", o.msg, sizeof(o.msg)), -EBUSY);
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:05.0", o.msg, sizeof(o.msg)), 0);

	/* Root on a filesystem without a device, or no mountinfo at all. */
	proc_file("self/mountinfo", "22 1 0:31 / / rw - overlay overlay rw\n");
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:17.0", o.msg, sizeof(o.msg)), 0);
	snprintf(p, sizeof(p), "%s/self/mountinfo", proc_dir);
	unlink(p);
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:17.0", o.msg, sizeof(o.msg)), 0);
	tree_end();
}

static void test_refuse_default_route(void)
{
	char p[PATH_MAX], t[PATH_MAX], longline[2048];
	struct pa_out o;

	tree_begin();
	mkdrv("vfio-pci");
	fake_dev("0000:00:03.0", "virtio-pci", 2, 0x1af4, 0x1041);
	snprintf(p, sizeof(p), "%s/devices/pci0000:00/0000:00:03.0/virtio0", sys_dir);
	mkdirs(p);
	snprintf(t, sizeof(t), "%s", p);
	snprintf(p, sizeof(p), "%s/class/net/eth0/device", sys_dir);
	put_link(t, p);
	proc_file("net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
		  "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
	CU_ASSERT_EQUAL(pa_add(&env, "00:03.0", &o), -EBUSY);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:03.0 carries the host's default route (eth0): "
			       "refusing to take it from the host");
	CU_ASSERT_STRING_EQUAL(kern.log, "");
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:03.0"), "virtio-pci");

	/* IPv6 only, through a bridge over eth1; lo's reject route ignored. */
	fake_dev("0000:00:08.0", "e1000e", 5, 0x8086, 0x10d3);
	snprintf(t, sizeof(t), "%s/devices/pci0000:00/0000:00:08.0", sys_dir);
	snprintf(p, sizeof(p), "%s/class/net/eth1/device", sys_dir);
	put_link(t, p);
	snprintf(t, sizeof(t), "%s/class/net/eth1", sys_dir);
	snprintf(p, sizeof(p), "%s/class/net/br0/lower_eth1", sys_dir);
	put_link(t, p);
	proc_file("net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
	memset(longline, 'x', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	snprintf(p, sizeof(p), "%s/net/ipv6_route", proc_dir);
	put_file(p, "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
		 "00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n"
		 "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		 "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n");
	FILE *f = fopen(p, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(longline, f);
	fputs("00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
	      "fd000000000000000000000000000001 00000400 00000003 00000000 00000003      br0\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:08.0", o.msg, sizeof(o.msg)), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "default route (br0)"));
	CU_ASSERT_EQUAL(pa_host_use(&env, "0000:00:03.0", o.msg, sizeof(o.msg)), 0);
	CU_ASSERT_EQUAL(pa_add(&env, "00:03.0", &o), 0);
	tree_end();
}

/* ---- remove ---- */

static void test_remove_rebinds(void)
{
	struct pa_out o;
	char p[PATH_MAX];

	tree_begin();
	mkdrv("vfio-pci");
	fake_dev("0000:00:04.0", "nvme", 3, 0x8086, 0x0953);
	kern.native = "nvme";
	CU_ASSERT_EQUAL_FATAL(pa_add(&env, "00:04.0", &o), 0);
	kern.log[0] = '\0';
	kern.native = "some_other";      /* -r binds the remembered driver, not a probe's */
	CU_ASSERT_EQUAL(pa_remove(&env, "00:04.0", true, &o), 0);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:04.0 is back on nvme");
	CU_ASSERT_STRING_EQUAL(kern.log,
			       "bus/pci/devices/0000:00:04.0/driver/unbind=0000:00:04.0\n"
			       "bus/pci/devices/0000:00:04.0/driver_override=\\n\n"
			       "bus/pci/drivers/nvme/bind=0000:00:04.0\n");
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "nvme");
	CU_ASSERT_PTR_NULL(state_of("0000:00:04.0"));
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci/unbind", sys_dir);
	CU_ASSERT_STRING_EQUAL(slurp(p), "0000:00:04.0");

	/* Without -r: no driver, and the state is gone. */
	CU_ASSERT_EQUAL_FATAL(pa_add(&env, "00:04.0", &o), 0);
	CU_ASSERT_EQUAL(pa_remove(&env, "00:04.0", false, &o), 0);
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "");
	CU_ASSERT_PTR_NULL(state_of("0000:00:04.0"));

	/* Added while without a driver: -r leaves it so. */
	CU_ASSERT_EQUAL_FATAL(pa_add(&env, "00:04.0", &o), 0);
	CU_ASSERT_STRING_EQUAL(state_of("0000:00:04.0"), "none\n");
	CU_ASSERT_EQUAL(pa_remove(&env, "00:04.0", true, &o), 0);
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "had no driver before"));

	/* Nothing remembered: -r lets the kernel probe, with a warning. */
	fake_dev("0000:00:06.0", "vfio-pci", 6, 0x8086, 0x10d3);
	kern.native = "e1000e";
	mkdrv("e1000e");
	CU_ASSERT_EQUAL(pa_remove(&env, "00:06.0", true, &o), 0);
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:06.0"), "e1000e");
	CU_ASSERT_PTR_NOT_NULL(strstr(o.warn, "no driver remembered"));

	/* The remembered driver does not take it back: an error saying what to do. */
	CU_ASSERT_EQUAL_FATAL(pa_add(&env, "00:06.0", &o), 0);
	CU_ASSERT_STRING_EQUAL(state_of("0000:00:06.0"), "e1000e\n");
	kern.bind_noop = true;
	CU_ASSERT_EQUAL(pa_remove(&env, "00:06.0", true, &o), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "did not rebind to e1000e (its driver is now none)"));
	CU_ASSERT_STRING_EQUAL(state_of("0000:00:06.0"), "e1000e\n");
	tree_end();
}

static void test_remove_refusals(void)
{
	struct pa_out o;

	tree_begin();
	mkdrv("vfio-pci");
	fake_dev("0000:00:04.0", "vfio-pci", 3, 0x8086, 0x0953);
	fake_dev("0000:00:05.0", "nvme", 4, 0x8086, 0x0953);
	proc_file("4242/comm", "qemu-system-x86\n");
	proc_file("1/comm", "init\n");
	proc_file("self/comm", "self\n");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/1/fd/0", proc_dir);
	put_link("/dev/null", p);
	snprintf(p, sizeof(p), "%s/1/fd/1", proc_dir);
	put_link("/dev/vfio/30", p);
	snprintf(p, sizeof(p), "%s/4242/fd/7", proc_dir);
	put_link("/dev/vfio/3", p);
	CU_ASSERT_EQUAL(pa_remove(&env, "00:04.0", true, &o), -EBUSY);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:04.0 is in use: pid 4242 (qemu-system-x86) holds "
			       "/dev/vfio/3");
	CU_ASSERT_STRING_EQUAL(kern.log, "");
	CU_ASSERT_STRING_EQUAL(driver_of("0000:00:04.0"), "vfio-pci");
	CU_ASSERT_EQUAL(pa_group_user(&env, 30, p, 16), 1);
	CU_ASSERT_STRING_EQUAL(p, "init");
	CU_ASSERT_EQUAL(pa_group_user(&env, 31, p, 16), 0);

	CU_ASSERT_EQUAL(pa_remove(&env, "00:05.0", false, &o), -EINVAL);
	CU_ASSERT_STRING_EQUAL(o.msg, "0000:00:05.0 is not assignable: it is bound to nvme, not "
			       "vfio-pci");
	CU_ASSERT_EQUAL(pa_remove(&env, "00:07.0", false, &o), -ENOENT);
	CU_ASSERT_EQUAL(pa_remove(&env, "7", false, &o), -EINVAL);
	CU_ASSERT_STRING_EQUAL(kern.log, "");
	tree_end();
}

/* ---- list ---- */

static void test_list(void)
{
	struct pa_out o;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	tree_begin();
	mkdrv("vfio-pci");
	fake_dev("0000:00:04.0", "nvme", 3, 0x8086, 0x0953);
	fake_dev("0000:00:02.0", "vfio-pci", -1, 0x1af4, 0x1041);
	fake_dev("0000:00:05.0", "nvme", 4, 0x8086, 0x0953);
	kern.native = "nvme";
	CU_ASSERT_EQUAL_FATAL(pa_add(&env, "00:04.0", &o), 0);
	put_file(ids_path, "# a private pci.ids\n"
			   "8086  Intel Corporation\n"
			   "\t0953  PCIe Data Center SSD\n");
	f = open_memstream(&text, &len);
	CU_ASSERT_EQUAL(pa_list(&env, f, &o), 0);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(text,
			       "0000:00:02.0  1af4:1041  Device 1af4:1041  group=none  was=-\n"
			       "0000:00:04.0  8086:0953  Intel Corporation PCIe Data Center SSD  "
			       "group=3  was=nvme\n");
	free(text);

	/* No pci.ids: the ids stand in for the names. */
	unlink(ids_path);
	text = NULL;
	f = open_memstream(&text, &len);
	CU_ASSERT_EQUAL(pa_list(&env, f, &o), 0);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "0000:00:04.0  8086:0953  Device 8086:0953  group=3"));
	free(text);

	/* vfio-pci not loaded: an empty list. */
	env.sysfs = proc_dir;
	text = NULL;
	f = open_memstream(&text, &len);
	CU_ASSERT_EQUAL(pa_list(&env, f, &o), 0);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(text, "");
	free(text);
	tree_end();
}

/* ---- the command line ---- */

static int run(int argc, const char *a0, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { (char *)a0, (char *)a1, (char *)a2, (char *)a3, NULL };

	return pci_assignable_main(argc, argv);
}

static void test_main_usage(void)
{
	CU_ASSERT_EQUAL(run(0, NULL, NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(run(1, "pci-assignable-frob", NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(run(1, "pci-assignable-add", NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(run(2, "pci-assignable-add", "zz", NULL, NULL), 2);
	CU_ASSERT_EQUAL(run(2, "pci-assignable-add", "0000:00:03", NULL, NULL), 2);
	CU_ASSERT_EQUAL(run(3, "pci-assignable-add", "00:03.0", "00:04.0", NULL), 2);
	CU_ASSERT_EQUAL(run(3, "pci-assignable-add", "-r", "00:03.0", NULL), 2);
	CU_ASSERT_EQUAL(run(3, "pci-assignable-remove", "-x", "00:03.0", NULL), 2);
	CU_ASSERT_EQUAL(run(4, "pci-assignable-remove", "-r", "-r", "00:03.0"), 2);
	CU_ASSERT_EQUAL(run(2, "pci-assignable-remove", "-r", NULL, NULL), 2);
	CU_ASSERT_EQUAL(run(2, "pci-assignable-list", "00:03.0", NULL, NULL), 2);
	CU_ASSERT_EQUAL(run(2, "pci-assignable-add", "-h", NULL, NULL), 0);
}

void unit_register(void)
{
	UNIT_SUITE("assignable_add", UNIT_TEST(test_add), UNIT_TEST(test_add_group_warning),
		   UNIT_TEST(test_add_modprobe_and_undo));
	UNIT_SUITE("assignable_host", UNIT_TEST(test_refuse_root_disk),
		   UNIT_TEST(test_refuse_default_route));
	UNIT_SUITE("assignable_remove", UNIT_TEST(test_remove_rebinds),
		   UNIT_TEST(test_remove_refusals));
	UNIT_SUITE("assignable_list", UNIT_TEST(test_list), UNIT_TEST(test_main_usage));
}
