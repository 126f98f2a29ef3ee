/* Unit tests for vmm/control/api_json.c and api_json_vm.c: cloud-hypervisor's
 * JSON bodies. A Kata-shaped vm.create decoded to the vm_config it means;
 * then, per endpoint, tables of good bodies with what they decode to and bad
 * ones with their error and a piece of the message (malformed JSON, wrong
 * types, unknown fields, features isle refuses). Disk specs are also run
 * through isle-tapdisk's own parser (blkback/diskspec.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/api_json.h"
#include "control/config.h"
#include "core/device.h"
#include "diskspec.h"

#define KATA_VM \
	"{\"payload\": {\"kernel\": \"/opt/kata/vmlinux\", \"initramfs\": \"/opt/kata/initrd\"," \
	" \"cmdline\": \"console=ttyS0 quiet\"}," \
	" \"cpus\": {\"boot_vcpus\": 1, \"max_vcpus\": 8, \"kvm_hyperv\": false," \
	"  \"nested\": true," \
	"  \"topology\": {\"threads_per_core\": 1, \"cores_per_die\": 1, \"dies_per_package\": 1," \
	"  \"packages\": 1}}," \
	" \"memory\": {\"size\": 268435456, \"shared\": true, \"hugepages\": false," \
	"  \"mergeable\": false, \"hotplug_method\": \"Acpi\", \"prefault\": false," \
	"  \"thp\": true, \"hotplug_size\": 2147483648}," \
	" \"rng\": {\"src\": \"/dev/urandom\", \"iommu\": false}," \
	" \"disks\": [{\"path\": \"/opt/kata/kata-containers.img\", \"readonly\": true," \
	"  \"image_type\": \"Raw\", \"direct\": false, \"iommu\": false, \"num_queues\": 1," \
	"  \"queue_size\": 128, \"vhost_user\": false, \"backing_files\": false," \
	"  \"sparse\": true}]," \
	" \"platform\": {\"num_pci_segments\": 2}," \
	" \"serial\": {\"mode\": \"Tty\"}, \"console\": {\"mode\": \"Off\", \"iommu\": false}," \
	" \"balloon\": {\"size\": 0, \"free_page_reporting\": true, \"deflate_on_oom\": false}," \
	" \"iommu\": false, \"watchdog\": false, \"pvpanic\": false, \"landlock_enable\": false}"

static int vm_decode(const char *body, struct vm_config *c, char *err, size_t errlen)
{
	vm_config_init(c);
	return api_json_vm_config(body, strlen(body), c, err, errlen);
}

static void test_kata_vm_config(void)
{
	struct vm_config c;
	struct disk_spec ds;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(vm_decode(KATA_VM, &c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.kernel, "/opt/kata/vmlinux");
	CU_ASSERT_STRING_EQUAL(c.initrd, "/opt/kata/initrd");
	CU_ASSERT_STRING_EQUAL(c.cmdline, "console=ttyS0 quiet");
	CU_ASSERT_EQUAL(c.vcpus, 1);
	CU_ASSERT_EQUAL(c.memory, 268435456ULL);
	CU_ASSERT_EQUAL(c.maxmem, 0);
	CU_ASSERT_PTR_NULL(c.serial_file);           /* Tty: stdio */
	CU_ASSERT_FALSE(c.iommu.enabled);
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 2);
	/* Kata's balloon: empty at boot, free page reporting, no statistics. */
	CU_ASSERT_EQUAL(c.devices[1].kind, DEVICE_BALLOON);
	CU_ASSERT_TRUE(c.devices[1].balloon.free_page_reporting);
	CU_ASSERT_FALSE(c.devices[1].balloon.deflate_on_oom);
	CU_ASSERT_EQUAL(c.devices[1].balloon.size, 0);
	CU_ASSERT_EQUAL(c.devices[1].balloon.stats_s, 0);
	CU_ASSERT_EQUAL(c.devices[0].kind, DEVICE_DISK);
	CU_ASSERT_FALSE(c.devices[0].disk.socket);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.spec,
			       "access=ro,target=/opt/kata/kata-containers.img");
	CU_ASSERT_EQUAL_FATAL(diskspec_parse(c.devices[0].disk.spec, &ds, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ds.path, "/opt/kata/kata-containers.img");
	CU_ASSERT_TRUE(ds.readonly);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	vm_config_free(&c);
}

static void test_vm_config_devices(void)
{
	static const char body[] =
		"{\"payload\": {\"kernel\": \"/k\"},"
		" \"cpus\": {\"boot_vcpus\": 4, \"max_vcpus\": 4},"
		" \"platform\": {\"num_pci_segments\": 2, \"iommu_segments\": [0],"
		"  \"iommu_address_width_bits\": 39},"
		" \"disks\": [{\"path\": \"/img,with,commas\", \"id\": \"root\"},"
		"  {\"vhost_user\": true, \"vhost_socket\": \"/run/blk.sock\","
		"  \"pci_segment\": 1}],"
		" \"net\": [{\"mac\": \"52:54:00:12:34:56\", \"tap\": \"tap0\", \"mtu\": 1500,"
		"  \"num_queues\": 4, \"id\": \"eth0\"}],"
		" \"devices\": [{\"path\": \"/sys/bus/pci/devices/0000:00:04.0/\","
		"  \"id\": \"gpu0\","
		"  \"iommu\": true}],"
		" \"serial\": {\"mode\": \"File\", \"file\": \"/tmp/ser.log\"},"
		" \"fs\": null, \"vsock\": null, \"rng\": null, \"numa\": []}";
	struct vm_config c;
	struct disk_spec ds;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(vm_decode(body, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.vcpus, 4);
	CU_ASSERT_STRING_EQUAL(c.serial_file, "/tmp/ser.log");
	CU_ASSERT_TRUE(c.iommu.enabled);
	CU_ASSERT_EQUAL(c.iommu.aw_bits, 39);
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 4);
	CU_ASSERT_STRING_EQUAL(c.devices[0].id, "root");
	CU_ASSERT_EQUAL_FATAL(diskspec_parse(c.devices[0].disk.spec, &ds, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ds.path, "/img,with,commas");
	CU_ASSERT_FALSE(ds.readonly);
	CU_ASSERT_TRUE(c.devices[1].disk.socket);
	CU_ASSERT_STRING_EQUAL(c.devices[1].disk.spec, "/run/blk.sock");
	CU_ASSERT_EQUAL(c.devices[2].kind, DEVICE_NIC);
	CU_ASSERT_STRING_EQUAL(c.devices[2].id, "eth0");
	CU_ASSERT_STRING_EQUAL(c.devices[2].nic.vifname, "tap0");
	CU_ASSERT_EQUAL(c.devices[2].nic.mtu, 1500);
	CU_ASSERT_EQUAL(c.devices[2].nic.queues, 2);
	CU_ASSERT_EQUAL(c.devices[3].kind, DEVICE_PCI);
	CU_ASSERT_STRING_EQUAL(c.devices[3].pci.host, "0000:00:04.0");
	CU_ASSERT_STRING_EQUAL(c.devices[3].id, "gpu0");
	vm_config_free(&c);
}

struct bad_case {
	const char *body;
	int r;
	const char *msg;     /* a piece of the message */
};

#define VMB(rest) "{\"payload\": {\"kernel\": \"/k\"}" rest "}"
static const struct bad_case vm_bad[] = {
	{ "", -EINVAL, "malformed JSON" },
	{ "{", -EINVAL, "malformed JSON" },
	{ "[1]", -EINVAL, "not a JSON object" },
	{ "{} x", -EINVAL, "malformed JSON" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 1}, \"cpus\": {\"boot_vcpus\": 2}"), -EINVAL,
	  "duplicate" },
	{ VMB(", \"bogus\": 1"), -EINVAL, "unknown field 'bogus'" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 1, \"smt\": true}"), -EINVAL,
	  "cpus: unknown field 'smt'" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": \"1\"}"), -EINVAL,
	  "cpus.boot_vcpus: expected an integer" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 1.0}"), -EINVAL,
	  "cpus.boot_vcpus: expected an integer" },
	{ VMB(", \"cpus\": {\"max_vcpus\": 1}"), -EINVAL, "cpus.boot_vcpus: required" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 0}"), -EINVAL, "cpus.boot_vcpus" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 2, \"max_vcpus\": 1}"), -EINVAL, "below boot_vcpus" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 1, \"kvm_hyperv\": true}"), -ENOTSUP, "Hyper-V" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 1, \"core_scheduling\": \"Vm\"}"), -ENOTSUP,
	  "core scheduling" },
	{ VMB(", \"cpus\": {\"boot_vcpus\": 1, \"topology\": {\"packages\": \"1\"}}"), -EINVAL,
	  "cpus.topology.packages: expected an integer" },
	{ VMB(", \"memory\": {\"size\": 268435456, \"hugepages\": true}"), -ENOTSUP,
	  "memory.hugepages" },
	{ VMB(", \"memory\": {\"size\": 268435457}"), -EINVAL, "multiple of 4K" },
	{ VMB(", \"memory\": {\"size\": 4096}"), -EINVAL, "memory.size: memory: must be between" },
	{ VMB(", \"memory\": {\"shared\": true}"), -EINVAL, "memory.size: required" },
	{ VMB(", \"memory\": {\"size\": 0, \"zones\": [{\"id\": \"mem0\", \"size\": 1}]}"),
	  -ENOTSUP, "memory.zones" },
	{ "{\"cpus\": {\"boot_vcpus\": 1}}", -EINVAL, "payload: required" },
	{ "{\"payload\": {\"cmdline\": \"x\"}}", -EINVAL, "payload.kernel: required" },
	{ "{\"payload\": {\"kernel\": \"/k\", \"firmware\": \"/fw\"}}", -ENOTSUP,
	  "payload.firmware" },
	{ "{\"payload\": {\"kernel\": \"\"}}", -EINVAL, "empty file name" },
	{ "{\"payload\": \"/k\"}", -EINVAL, "payload: expected an object" },
	{ VMB(", \"fs\": [{\"tag\": \"kataShared\", \"socket\": \"/run/vfsd.sock\"}]"), -ENOTSUP,
	  "fs: vhost-user-fs is not supported by isle" },
	{ VMB(", \"vsock\": {\"cid\": 3, \"socket\": \"/run/vsock\"}"), -ENOTSUP,
	  "vsock: virtio-vsock" },
	{ VMB(", \"pmem\": [{\"file\": \"/x\"}]"), -ENOTSUP, "pmem" },
	{ VMB(", \"watchdog\": true"), -ENOTSUP, "watchdog" },
	{ VMB(", \"landlock_enable\": true"), -ENOTSUP, "Landlock" },
	{ VMB(", \"numa\": [{\"guest_numa_id\": 0}]"), -ENOTSUP, "numa" },
	{ VMB(", \"serial\": {\"mode\": \"Pty\"}"), -ENOTSUP, "serial.mode: Pty" },
	{ VMB(", \"serial\": {\"mode\": \"File\"}"), -EINVAL, "serial.file: required" },
	{ VMB(", \"serial\": {\"mode\": \"tty\"}"), -EINVAL, "is not one of" },
	{ VMB(", \"serial\": {}"), -EINVAL, "serial.mode: required" },
	{ VMB(", \"console\": {\"mode\": \"Tty\"}"), -ENOTSUP, "virtio-console" },
	{ VMB(", \"balloon\": {\"size\": -1}"), -EINVAL, "balloon.size" },
	{ VMB(", \"balloon\": {\"size\": 4095}"), -EINVAL, "balloon: size" },
	{ VMB(", \"balloon\": {\"stats_polling_interval_s\": 3601}"), -EINVAL,
	  "stats_polling_interval_s" },
	{ VMB(", \"balloon\": {\"size\": 0, \"bogus\": 1}"), -EINVAL, "balloon: unknown field" },
	{ VMB(", \"platform\": {\"num_pci_segments\": 0}"), -EINVAL,
	  "platform.num_pci_segments: 0 is not between" },
	{ VMB(", \"platform\": {\"iommu_segments\": [1]}"), -EINVAL, "is not a segment" },
	{ VMB(", \"platform\": {\"iommu_address_width_bits\": 52}"), -ENOTSUP, "39 or 48" },
	{ VMB(", \"platform\": {\"uuid\": \"x\"}"), -ENOTSUP, "SMBIOS" },
	{ VMB(", \"platform\": {\"tdx\": true}"), -ENOTSUP, "TDX" },
	{ VMB(", \"disks\": {}"), -EINVAL, "disks: expected an array" },
	{ VMB(", \"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\", \"image_type\": \"Vhdx\"}]"),
	  -ENOTSUP, "disks[1].image_type: Vhdx" },
	{ VMB(", \"disks\": [{\"path\": \"/a\", \"id\": \"d\"},"
	      " {\"path\": \"/b\", \"id\": \"d\"}]"),
	  -EEXIST, "disks[1]: disk:" },
	{ VMB(", \"disks\": [{\"path\": \"/a\", \"pci_segment\": 1}]"), -EINVAL,
	  "num_pci_segments is 1" },
	{ VMB(", \"disks\": [1]"), -EINVAL, "disks[0]: expected an object" },
	{ VMB(", \"net\": [{\"fds\": [3]}]"), -ENOTSUP, "net[0].fds" },
	{ VMB(", \"net\": [{\"mtu\": 9000, \"vhost_user\": true, \"vhost_socket\": \"/s\"}]"),
	  -EINVAL, "net[0]: net: mtu= configures" },
	{ VMB(", \"devices\": [{\"path\": \"/sys/bus/mdev/devices/uuid\"}]"), -ENOTSUP,
	  "mediated devices" },
	{ VMB(", \"iommu\": 1"), -EINVAL, "iommu: expected a boolean" },
};

static void check_bad(const struct bad_case *c, int r, const char *err)
{
	CU_ASSERT_EQUAL(r, c->r);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, c->msg));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	if (r != c->r || !strstr(err, c->msg))
		fprintf(stderr, "\n'%s': %d (%s), wanted %d (%s)\n", c->body, r, err, c->r,
			c->msg);
}

static void test_vm_config_bad(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(vm_bad); i++) {
		struct vm_config c;
		char err[256] = "";

		check_bad(&vm_bad[i], vm_decode(vm_bad[i].body, &c, err, sizeof(err)), err);
		vm_config_free(&c);
	}
}

static void test_vm_config_limits(void)
{
	const size_t size = API_JSON_BODY_MAX + 64, n = 20000;
	char *body = malloc(size), err[256];
	struct vm_config c;
	size_t off;

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	if (!body)
		return;
	/* Nesting deeper than jansson's limit (2048). */
	off = (size_t)snprintf(body, size, VMB(", \"x\": ")) - 1;
	memset(body + off, '[', n);
	memset(body + off + n, ']', n);
	snprintf(body + off + 2 * n, size - off - 2 * n, "}");
	CU_ASSERT_EQUAL(vm_decode(body, &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "malformed JSON"));
	vm_config_free(&c);
	/* 65 disks. */
	off = (size_t)snprintf(body, size, VMB(", \"disks\": [")) - 1;
	for (int i = 0; i < 65; i++)
		off += (size_t)snprintf(body + off, size - off, "%s{\"path\": \"/d\"}",
					i ? "," : "");
	snprintf(body + off, size - off, "]}");
	CU_ASSERT_EQUAL(vm_decode(body, &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "disks: more than 64 elements"));
	vm_config_free(&c);
	/* 9 disks: vm_config's limit, through vm_config_set. */
	off = (size_t)snprintf(body, size, VMB(", \"disks\": [")) - 1;
	for (int i = 0; i < 9; i++)
		off += (size_t)snprintf(body + off, size - off, "%s{\"path\": \"/d%d\"}",
					i ? "," : "", i);
	snprintf(body + off, size - off, "]}");
	CU_ASSERT_EQUAL(vm_decode(body, &c, err, sizeof(err)), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "disks[8]: disk: at most"));
	vm_config_free(&c);
	/* Larger than the body limit (the server cuts such bodies; refused anyway). */
	memset(body, ' ', API_JSON_BODY_MAX + 1);
	CU_ASSERT_EQUAL(api_json_vm_config(body, API_JSON_BODY_MAX + 1, &c, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "larger than"));
	free(body);
	/* A message quoting a key with a newline stays one line. */
	CU_ASSERT_EQUAL(vm_decode("{\"a\\nb\": 1}", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	CU_ASSERT_EQUAL(vm_decode("{\"a\nb\": 1}", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	vm_config_free(&c);
}

/* ---- hot-add bodies ---- */

enum which { DISK, NET, DEVICE };

static int hot_decode(enum which w, const char *body, char *spec, unsigned int *nfds,
		      bool *iommu, char *err, size_t errlen)
{
	json_t *o;
	int r = api_json_parse_object(body, strlen(body), &o, err, errlen);

	if (r)
		return r;
	r = w == DISK ? api_json_disk(o, spec, API_JSON_SPEC_MAX, err, errlen) :
	    w == NET ? api_json_net(o, spec, API_JSON_SPEC_MAX, nfds, err, errlen) :
	    api_json_device(o, spec, API_JSON_SPEC_MAX, iommu, err, errlen);
	json_decref(o);
	return r;
}

struct good_case {
	enum which w;
	const char *body;
	const char *spec;
	unsigned int nfds;
	bool iommu;
};

static const struct good_case hot_good[] = {
	{ DISK, "{\"path\": \"/img\"}", "access=rw,target=/img", 0, false },
	{ DISK, "{\"path\": \"/img\", \"readonly\": true, \"image_type\": \"Raw\", \"id\": \"d1\"}",
	  "access=ro,id=d1,target=/img", 0, false },
	{ DISK, "{\"path\": \"/a,b=c/x.img\", \"num_queues\": 4, \"queue_size\": 1024,"
	  " \"direct\": true, \"iommu\": false, \"vhost_user\": false, \"pci_segment\": 0,"
	  " \"rate_limiter_config\": {\"bandwidth\": {\"size\": 0, \"refill_time\": 1000}},"
	  " \"serial\": null, \"lock_granularity\": \"ByteRange\", \"disable_io_uring\": true}",
	  "access=rw,target=/a,b=c/x.img", 0, false },
	{ DISK, "{\"path\": \"phy:img\"}", "access=rw,target=file:phy:img", 0, false },
	{ DISK, "{\"path\": \"/c.qcow2\", \"image_type\": \"Qcow2\", \"backing_files\": true}",
	  "format=qcow2,access=rw,target=/c.qcow2", 0, false },
	{ DISK, "{\"vhost_user\": true, \"vhost_socket\": \"/run/b,1.sock\", \"id\": \"vb\","
	  " \"image_type\": \"Unknown\"}", "socket=/run/b,1.sock,id=vb", 0, false },
	{ NET, "{\"ip\": \"192.168.249.1\", \"mask\": \"255.255.255.0\","
	  " \"mac\": \"52:54:00:aa:bb:cc\","
	  " \"iommu\": false, \"num_queues\": 2, \"queue_size\": 256, \"vhost_user\": false,"
	  " \"vhost_mode\": \"Client\", \"offload_tso\": true, \"offload_ufo\": true,"
	  " \"offload_csum\": true}", "mac=52:54:00:aa:bb:cc", 0, false },
	{ NET, "{\"tap\": \"tap0\", \"mtu\": 9000, \"num_queues\": 4, \"fds\": [7, 8],"
	  " \"id\": \"n0\"}",
	  "vifname=tap0,mtu=9000,queues=2,id=n0", 2, false },
	{ NET, "{\"vhost_user\": true, \"vhost_socket\": \"/run/nb.sock\"}", "socket=/run/nb.sock",
	  0, false },
	{ NET, "{}", "", 0, false },
	{ DEVICE, "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0/\"}", "0000:00:04.0", 0, false },
	{ DEVICE, "{\"path\": \"/sys/bus/pci/devices/0000:3b:00.1\", \"iommu\": true,"
	  " \"id\": \"gpu0\", \"pci_segment\": 0}", "0000:3b:00.1,name=gpu0", 0, true },
	{ DEVICE, "{\"path\": \"/sys/devices/pci0000:00/0000:00:05.0\", \"pci_device_id\": 12}",
	  "0000:00:05.0@c", 0, false },
};

static void test_hot_good(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(hot_good); i++) {
		const struct good_case *g = &hot_good[i];
		char spec[API_JSON_SPEC_MAX], err[256] = "";
		unsigned int nfds = 99;
		bool iommu = !g->iommu;
		int r = hot_decode(g->w, g->body, spec, &nfds, &iommu, err, sizeof(err));

		CU_ASSERT_EQUAL(r, 0);
		if (r) {
			fprintf(stderr, "\n'%s': %d (%s)\n", g->body, r, err);
			continue;
		}
		CU_ASSERT_STRING_EQUAL(spec, g->spec);
		if (g->w == NET)
			CU_ASSERT_EQUAL(nfds, g->nfds);
		if (g->w == DEVICE)
			CU_ASSERT_EQUAL(iommu, g->iommu);
	}
}

static const struct { enum which w; struct bad_case c; } hot_bad[] = {
	{ DISK, { "{\"path\": \"/img\",}", -EINVAL, "malformed JSON" } },
	{ DISK, { "\"/img\"", -EINVAL, "malformed JSON" } },
	{ DISK, { "[{\"path\": \"/img\"}]", -EINVAL, "not a JSON object" } },
	{ DISK, { "{\"path\": \"/img\", \"cache\": true}", -EINVAL, "unknown field 'cache'" } },
	{ DISK, { "{\"path\": 5}", -EINVAL, "path: expected a string" } },
	{ DISK, { "{\"path\": \"/img\", \"readonly\": \"yes\"}", -EINVAL,
		  "readonly: expected a boolean" } },
	{ DISK, { "{}", -EINVAL, "path: required" } },
	{ DISK, { "{\"path\": \"\"}", -EINVAL, "path: empty" } },
	{ DISK, { "{\"path\": \"/a\\nb\"}", -EINVAL, "control characters" } },
	{ DISK, { "{\"vhost_user\": true, \"vhost_socket\": \"/s\", \"image_type\": \"Qcow2\"}",
		  -EINVAL, "its backend's" } },
	{ DISK, { "{\"path\": \"/img\", \"image_type\": \"Vhdx\"}", -ENOTSUP, "Vhdx" } },
	{ DISK, { "{\"path\": \"/img\", \"image_type\": \"FixedVhd\"}", -ENOTSUP, "FixedVhd" } },
	{ DISK, { "{\"path\": \"/img\", \"image_type\": \"Unknown\"}", -ENOTSUP, "probe" } },
	{ DISK, { "{\"path\": \"/img\", \"image_type\": \"raw\"}", -EINVAL, "is not one of" } },
	{ DISK, { "{\"vhost_user\": true}", -EINVAL, "vhost_socket: required" } },
	{ DISK, { "{\"path\": \"/img\", \"vhost_socket\": \"/s\"}", -EINVAL, "vhost_user: true" } },
	{ DISK, { "{\"vhost_user\": true, \"vhost_socket\": \"/s\", \"readonly\": true}", -ENOTSUP,
		  "readonly" } },
	{ DISK, { "{\"vhost_user\": true, \"vhost_socket\": \"/s,id=x\"}", -EINVAL, "',id='" } },
	{ DISK, { "{\"path\": \"/img\", \"rate_limiter_config\": {\"ops\": {\"size\": 100,"
		  " \"refill_time\": 1000}}}", -ENOTSUP, "rate_limiter_config.ops.size" } },
	{ DISK, { "{\"path\": \"/img\", \"serial\": \"abc\"}", -ENOTSUP, "serial number" } },
	{ DISK, { "{\"path\": \"/img\", \"pci_device_id\": 3}", -ENOTSUP, "pci_device_id" } },
	{ DISK, { "{\"path\": \"/img\", \"id\": \"1disk\"}", -EINVAL,
		  "id: '1disk' is not an id" } },
	{ DISK, { "{\"path\": \"/img\", \"num_queues\": 0}", -EINVAL, "num_queues: 0" } },
	{ NET, { "{\"ip\": \"10.0.0.1\"}", -ENOTSUP, "ip: isle does not give the tap" } },
	{ NET, { "{\"host_mac\": \"52:54:00:00:00:01\"}", -ENOTSUP, "host_mac" } },
	{ NET, { "{\"num_queues\": 3}", -EINVAL, "num_queues: 3 is odd" } },
	{ NET, { "{\"num_queues\": 64}", -EINVAL, "num_queues: 64 is not between" } },
	{ NET, { "{\"mtu\": 10}", -EINVAL, "mtu: 10" } },
	{ NET, { "{\"mtu\": \"1500\"}", -EINVAL, "mtu: expected an integer" } },
	{ NET, { "{\"offload_tso\": false}", -ENOTSUP, "offload_tso" } },
	{ NET, { "{\"vhost_mode\": \"Server\"}", -ENOTSUP, "Client only" } },
	{ NET, { "{\"mac\": \"52:54:00:aa:bb:cc,bridge=x\"}", -EINVAL, "not a MAC" } },
	{ NET, { "{\"mac\": \"01:00:5e:00:00:01\"}", -EINVAL, "net: mac=" } },
	{ NET, { "{\"tap\": \"tap,0\"}", -EINVAL, "tap: 'tap,0' is not an interface name" } },
	{ NET, { "{\"vhost_user\": true, \"vhost_socket\": \"/a,b\"}", -EINVAL, "a comma" } },
	{ NET, { "{\"vhost_user\": true, \"vhost_socket\": \"/s\", \"fds\": [3]}", -EINVAL,
		 "exclude" } },
	{ NET, { "{\"fds\": [\"3\"]}", -EINVAL, "fds[0]: expected an integer" } },
	{ NET, { "{\"vhost_socket\": \"/s\"}", -EINVAL, "vhost_user: true" } },
	{ DEVICE, { "{}", -EINVAL, "path: required" } },
	{ DEVICE, { "{\"path\": \"/tmp/0000:00:04.0\"}", -EINVAL, "sysfs path" } },
	{ DEVICE, { "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0,permissive=1\"}", -EINVAL,
		    "sysfs path" } },
	{ DEVICE, { "{\"path\": \"/sys/bus/pci/devices/0000:00:40.0\"}", -EINVAL, "pci:" } },
	{ DEVICE, { "{\"path\": \"/sys/bus/mdev/devices/83b8f4f2\"}", -ENOTSUP, "mediated" } },
	{ DEVICE, { "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0\", \"fd\": 3}", -ENOTSUP,
		    "cdev" } },
	{ DEVICE, { "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0\", \"pci_device_id\": 0}",
		    -EINVAL, "pci_device_id: 0" } },
	{ DEVICE, { "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0\", \"iommu\": \"on\"}",
		    -EINVAL, "iommu: expected a boolean" } },
	{ DEVICE, { "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0\","
		    " \"x_nv_gpudirect_clique\": 1}",
		    -ENOTSUP, "GPUDirect" } },
};

static void test_hot_bad(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(hot_bad); i++) {
		char spec[API_JSON_SPEC_MAX], err[256] = "";
		unsigned int nfds;
		bool iommu;

		check_bad(&hot_bad[i].c, hot_decode(hot_bad[i].w, hot_bad[i].c.body, spec, &nfds,
						    &iommu, err, sizeof(err)), err);
	}
}

static void test_wants_iommu(void)
{
	json_t *o;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(api_json_parse_object("{\"path\": \"/i\", \"iommu\": true}", 29, &o,
						    err, sizeof(err)), 0);
	CU_ASSERT_TRUE(api_json_wants_iommu(o));
	json_decref(o);
	CU_ASSERT_EQUAL_FATAL(api_json_parse_object("{\"iommu\": false}", 16, &o, err,
						    sizeof(err)), 0);
	CU_ASSERT_FALSE(api_json_wants_iommu(o));
	json_decref(o);
	/* A disk path as long as PATH_MAX is refused before isle-tapdisk sees it. */
	{
		char *body = malloc(PATH_MAX + 32), spec[API_JSON_SPEC_MAX];
		int n;

		CU_ASSERT_PTR_NOT_NULL_FATAL(body);
		if (!body)
			return;
		n = sprintf(body, "{\"path\": \"/");

		memset(body + n, 'a', PATH_MAX);
		strcpy(body + n + PATH_MAX, "\"}");
		CU_ASSERT_EQUAL(hot_decode(DISK, body, spec, NULL, NULL, err, sizeof(err)),
				-EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "path: longer than"));
		free(body);
	}
}

/* ---- vm.remove-device, vm.resize ---- */

static void test_remove_device(void)
{
	static const struct bad_case bad[] = {
		{ "{}", -EINVAL, "id: required" },
		{ "{\"id\": 5}", -EINVAL, "id: expected a string" },
		{ "{\"id\": \"0abc\"}", -EINVAL, "is not an id" },
		{ "{\"id\": \"\"}", -EINVAL, "is not an id" },
		{ "{\"id\": \"disk0\", \"force\": 1}", -EINVAL, "force: expected a boolean" },
		{ "{\"id\": \"disk0\"", -EINVAL, "malformed JSON" },
	};
	char id[DEVICE_ID_MAX], err[256];

	CU_ASSERT_EQUAL(api_json_remove_device("{\"id\": \"_disk0\"}", 16, id, sizeof(id), err,
					       sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(api_json_remove_device("{\"id\": \"disk0\"}", 15, id, sizeof(id),
						     err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(id, "disk0");
	/* isle's force (xl's -f) is read by the endpoint itself. */
	{
		static const char forced[] = "{\"id\": \"net1\", \"force\": true}";

		CU_ASSERT_EQUAL(api_json_remove_device(forced, strlen(forced), id, sizeof(id), err,
						       sizeof(err)), 0);
	}
	CU_ASSERT_STRING_EQUAL(id, "net1");
	CU_ASSERT_EQUAL(api_json_remove_device("{\"id\": \"disk0\"}", 15, id, 3, err,
					       sizeof(err)), -ENOSPC);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		check_bad(&bad[i], api_json_remove_device(bad[i].body, strlen(bad[i].body), id,
							  sizeof(id), err, sizeof(err)), err);
}

static void test_resize(void)
{
	static const struct bad_case bad[] = {
		{ "{\"desired_vcpus\": 0}", -EINVAL, "desired_vcpus: 0 is not between" },
		{ "{\"desired_ram\": -1}", -EINVAL, "desired_ram" },
		{ "{\"desired_balloon\": \"1G\"}", -EINVAL,
		  "desired_balloon: expected an integer" },
		{ "{\"desired_memory\": 1}", -EINVAL, "unknown field 'desired_memory'" },
		{ "[]", -EINVAL, "not a JSON object" },
	};
	int64_t v, ram, bal;
	char err[256];
	const char *b = "{\"desired_vcpus\": 2, \"desired_ram\": 536870912,"
			" \"desired_balloon\": 0}";

	CU_ASSERT_EQUAL_FATAL(api_json_resize(b, strlen(b), &v, &ram, &bal, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(ram, 536870912);
	CU_ASSERT_EQUAL(bal, 0);
	b = "{\"desired_balloon\": 1073741824, \"desired_vcpus\": null}";
	CU_ASSERT_EQUAL_FATAL(api_json_resize(b, strlen(b), &v, &ram, &bal, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, -1);
	CU_ASSERT_EQUAL(ram, -1);
	CU_ASSERT_EQUAL(bal, 1073741824);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		check_bad(&bad[i], api_json_resize(bad[i].body, strlen(bad[i].body), &v, &ram,
						   &bal, err, sizeof(err)), err);
		CU_ASSERT_EQUAL(v, -1);
	}
}

void unit_register(void)
{
	UNIT_SUITE("api_json",
		   UNIT_TEST(test_kata_vm_config), UNIT_TEST(test_vm_config_devices),
		   UNIT_TEST(test_vm_config_bad), UNIT_TEST(test_vm_config_limits),
		   UNIT_TEST(test_hot_good), UNIT_TEST(test_hot_bad), UNIT_TEST(test_wants_iommu),
		   UNIT_TEST(test_remove_device), UNIT_TEST(test_resize));
}
