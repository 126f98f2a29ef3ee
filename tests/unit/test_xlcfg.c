/* Unit tests for vmm/control/xlcfg.c: xl.cfg(5) files and `isle create`
 * overrides. A table of good files with the vm_config they make, a table
 * of bad ones with the error and a piece of the message (FILE:LINE
 * included), then what the tables cannot say: device fields, escapes,
 * replacing and appending, overrides, the size limits and input that is
 * not NUL-terminated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/config.h"
#include "control/xlcfg.h"
#include "core/device.h"

#define D VM_ACTION_DESTROY
#define R VM_ACTION_RESTART
#define P VM_ACTION_PRESERVE

struct good_case {
	const char *text;
	const char *name, *kernel, *initrd, *cmdline;   /* NULL: must be unset */
	unsigned int memory_mib, vcpus;
	enum vm_action on_poweroff, on_reboot, on_crash;
	const char *kinds;   /* the devices in order: d disk, n nic, p pci, e edu */
};

static const struct good_case good[] = {
	{ "", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "" },
	{ "name = \"pvh1\"\ntype = \"pvh\"\nkernel = \"/boot/vmlinuz\"\nmemory = 512\n"
	  "vcpus = 2\n", "pvh1", "/boot/vmlinuz", NULL, NULL, 512, 2, D, R, D, "" },
	{ "builder='hvm'\nkernel='/k';ramdisk='/i'\nroot='/dev/xvda1 ro'\n"
	  "extra='console=ttyS0'\n", NULL, "/k", "/i", "root=/dev/xvda1 ro console=ttyS0",
	  256, 1, D, R, D, "" },
	{ "root = \"/dev/vda\"", NULL, NULL, NULL, "root=/dev/vda", 256, 1, D, R, D, "" },
	{ "extra = \"quiet\"", NULL, NULL, NULL, "quiet", 256, 1, D, R, D, "" },
	{ "root='/dev/vda'\ncmdline='console=ttyS0'\nextra='x'", NULL, NULL, NULL,
	  "console=ttyS0", 256, 1, D, R, D, "" },
	{ "on_poweroff = 'preserve'\non_reboot = 'destroy'\non_crash = 'restart'\n", NULL, NULL,
	  NULL, NULL, 256, 1, P, D, R, "" },
	{ "memory = 0x200", NULL, NULL, NULL, NULL, 512, 1, D, R, D, "" },
	{ "memory = 01000", NULL, NULL, NULL, NULL, 512, 1, D, R, D, "" },
	{ "memory = \"1G\"", NULL, NULL, NULL, NULL, 1024, 1, D, R, D, "" },
	{ "memory = '768'; vcpus = '3'", NULL, NULL, NULL, NULL, 768, 3, D, R, D, "" },
	{ "vcpus = 4\nmaxvcpus = 4\n", NULL, NULL, NULL, NULL, 256, 4, D, R, D, "" },
	{ "disk = [ 'file:/a.img,raw,xvda,w', 'phy:/dev/vg/b,,xvdb,r' ]\n"
	  "vif = [ 'bridge=br0,mac=00:16:3e:00:00:01' ]\npci = [ '00:04.0' ]\n", NULL, NULL,
	  NULL, NULL, 256, 1, D, R, D, "ddnp" },
	/* Applied in a fixed order whatever the file's: disk, vif, pci. */
	{ "pci = ['00:04.0']\nvif = ['bridge=br0']\ndisk = ['file:/a.img']\n", NULL, NULL, NULL,
	  NULL, 256, 1, D, R, D, "dnp" },
	{ "edu = 2\ntestdev = 1\n", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "ee" },
	{ "edu = 0", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "" },
	{ "memory = 256\nmemory = 1024\n", NULL, NULL, NULL, NULL, 1024, 1, D, R, D, "" },
	{ "disk = ['file:/a']\nvif = ['bridge=br0']\ndisk = ['file:/b', 'file:/c']\n", NULL,
	  NULL, NULL, NULL, 256, 1, D, R, D, "ddn" },
	{ "vif = ['bridge=br0']\nvif += ['bridge=br1']\n", NULL, NULL, NULL, NULL, 256, 1, D, R,
	  D, "nn" },
	{ "vif += ['bridge=br0']\n", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "n" },
	{ "extra = \"a\"\nextra += ' b'\n", NULL, NULL, NULL, "a b", 256, 1, D, R, D, "" },
	{ "name += 'solo'", "solo", NULL, NULL, NULL, 256, 1, D, R, D, "" },
	{ "disk = [\n  'file:/a.img',   # the root disk\n  # nothing here\n\n"
	  "  'file:/b.img',\n]\n", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "dd" },
	{ "disk = []\nvif = [\n]\n", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "" },
	{ "memory=512;vcpus=2;name='x';", "x", NULL, NULL, NULL, 512, 2, D, R, D, "" },
	{ "name = 'crlf'\r\nmemory = 300\r\n", "crlf", NULL, NULL, NULL, 300, 1, D, R, D, "" },
	{ "# only a comment", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "" },
	{ "memory = 320 # MiB", NULL, NULL, NULL, NULL, 320, 1, D, R, D, "" },
	{ "\t name\t=\t42 \t", "42", NULL, NULL, NULL, 256, 1, D, R, D, "" },
	{ "type = 'hvm'\nbuilder = \"hvm\"", NULL, NULL, NULL, NULL, 256, 1, D, R, D, "" },
	{ "cmdline = 'a=\"b c\" d'", NULL, NULL, NULL, "a=\"b c\" d", 256, 1, D, R, D, "" },
	{ "kernel = \"/b\\\\k\\x41\\101\\t\"", NULL, "/b\\kAA\t", NULL, NULL, 256, 1, D, R, D,
	  "" },
};

static void config_new(struct vm_config *c)
{
	vm_config_init(c);
	c->on_reboot = VM_ACTION_RESTART;   /* as `isle create` does */
}

static const char *kinds_of(const struct vm_config *c, char *buf)
{
	unsigned int i;

	for (i = 0; i < c->nr_devices && i < 31; i++)
		buf[i] = c->devices[i].kind == DEVICE_DISK ? 'd' :
			 c->devices[i].kind == DEVICE_NIC ? 'n' :
			 c->devices[i].kind == DEVICE_PCI ? 'p' :
			 c->devices[i].kind == DEVICE_EDU ? 'e' : '?';
	buf[i] = '\0';
	return buf;
}

static void check_str(const char *got, const char *want)
{
	if (!want) {
		CU_ASSERT_PTR_NULL(got);
	} else if (!got) {
		CU_FAIL("string unset");
	} else {
		CU_ASSERT_STRING_EQUAL(got, want);
	}
}

static void test_good(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		const struct good_case *g = &good[i];
		struct vm_config c;
		char err[256], kinds[32];
		int r;

		config_new(&c);
		r = xlcfg_parse(g->text, strlen(g->text), "vm.cfg", &c, err, sizeof(err));
		CU_ASSERT_EQUAL(r, 0);
		if (r) {
			fprintf(stderr, "good[%zu]: %d (%s)\n", i, r, err);
			vm_config_free(&c);
			continue;
		}
		check_str(c.name, g->name);
		check_str(c.kernel, g->kernel);
		check_str(c.initrd, g->initrd);
		check_str(c.cmdline, g->cmdline);
		CU_ASSERT_EQUAL(c.memory, (uint64_t)g->memory_mib << 20);
		CU_ASSERT_EQUAL(c.vcpus, g->vcpus);
		CU_ASSERT_EQUAL(c.on_poweroff, g->on_poweroff);
		CU_ASSERT_EQUAL(c.on_reboot, g->on_reboot);
		CU_ASSERT_EQUAL(c.on_crash, g->on_crash);
		CU_ASSERT_STRING_EQUAL(kinds_of(&c, kinds), g->kinds);
		if (strcmp(kinds, g->kinds))
			fprintf(stderr, "good[%zu]: devices %s, not %s\n", i, kinds, g->kinds);
		vm_config_free(&c);
	}
}

struct bad_case {
	const char *text;
	int r;
	const char *msg;     /* a piece of the message */
};

static const struct bad_case bad[] = {
	{ "bootloader = 'pygrub'\n", -ENOTSUP, "vm.cfg:1: bootloader: not supported by isle" },
	{ "name = 'a'\n\nvnc = 1\n", -ENOTSUP, "vm.cfg:3: vnc: not supported by isle" },
	{ "usb = 1", -ENOTSUP, "vm.cfg:1: usb: not supported" },
	{ "cpus = '0-3'", -ENOTSUP, "cpus: not supported" },
	{ "device_model_version = 'qemu-xen'", -ENOTSUP, "device_model_version: not supported" },
	{ "uuid = '8a1e4a6c-0000-4000-8000-000000000001'", -ENOTSUP, "uuid: not supported" },
	{ "\nfoo = 1\n", -EINVAL, "vm.cfg:2: foo: unknown key" },
	{ "initrd = '/i'", -EINVAL, "vm.cfg:1: initrd: unknown key" },
	{ "name = 'x\n", -EINVAL, "vm.cfg:1: syntax error: unterminated string" },
	{ "name = 'x\\\n'", -EINVAL, "vm.cfg:1: syntax error: unterminated string" },
	{ "\n\nname = \"x'", -EINVAL, "vm.cfg:3: syntax error: unterminated string" },
	{ "memory = 512M\n", -EINVAL, "vm.cfg:1: syntax error: '512M' is not a number" },
	{ "memory = 1.5\n", -EINVAL, "'1.5' is not a number" },
	{ "memory = 'abc'", -EINVAL, "vm.cfg:1: memory: 'abc' is not a size" },
	{ "memory = 09", -EINVAL, "memory: '09' is not a number (a leading 0 means octal" },
	{ "memory = 99999999999999999999999", -EINVAL, "not a number in range" },
	{ "memory = 1", -EINVAL, "vm.cfg:1: memory: must be between" },
	{ "maxmem = 'x'", -EINVAL, "maxmem: 'x' is not a size" },
	{ "memory = 512\nmemory += 1\n", -EINVAL, "vm.cfg:2: memory: += cannot be used with numbers" },
	{ "disk = 'file:/a'", -EINVAL, "vm.cfg:1: disk: expected a [list]" },
	{ "memory = [1]", -EINVAL, "vm.cfg:1: memory: expected a single value, not a list" },
	{ "vif = ['bridge=br0']\nvif += 'x'", -EINVAL, "vm.cfg:2: vif: expected a [list]" },
	{ "type = 'pv'", -ENOTSUP, "vm.cfg:1: type: 'pv' (a PV guest) is not supported by isle" },
	{ "type = 'xen'", -EINVAL, "type: 'xen' is not pvh, hvm or pv" },
	{ "builder = 'generic'", -ENOTSUP, "builder: 'generic' (a PV guest) is not supported" },
	{ "builder = 'pvh'", -EINVAL, "builder: 'pvh' is not hvm or generic" },
	{ "vcpus = 2\nmaxvcpus = 4", -ENOTSUP,
	  "vm.cfg:2: maxvcpus: 4 is not vcpus (2): isle cannot hot-add vCPUs" },
	{ "maxvcpus = 'many'", -EINVAL, "maxvcpus: 'many' is not a number" },
	{ "vcpus = 0", -EINVAL, "vcpus: '0' is not a number from 1 to 255" },
	{ "vcpus = 256", -EINVAL, "vcpus: '256' is not a number" },
	{ "on_crash = 'coredump-restart'", -ENOTSUP,
	  "vm.cfg:1: on_crash: coredump-restart is not supported by isle" },
	{ "on_poweroff = 'rename-restart'", -ENOTSUP, "on_poweroff: rename-restart is not" },
	{ "on_reboot = 'soft-reset'", -ENOTSUP, "on_reboot: soft-reset is not supported" },
	{ "on_crash = 'coredump-destroy'", -ENOTSUP, "coredump-destroy is not supported" },
	{ "on_reboot = 'reboot'", -EINVAL, "on_reboot: 'reboot' is not destroy, restart or" },
	{ "vif = [\n 'bridge=br0',\n 'bridge=x y'\n]", -EINVAL,
	  "vm.cfg:3: vif: bridge=x y is not an interface name" },
	{ "vif = ['model=e1000']", -ENOTSUP, "vm.cfg:1: vif: model=e1000 is not supported" },
	{ "vif = ['mac=00:16:3e:00:00:01', 'mac=00:16:3e:00:00:01']", -EEXIST,
	  "vif: two NICs with mac=00:16:3e:00:00:01" },
	{ "pci = [\n'00:04.0',\n'0000:00:04.0']", -EEXIST,
	  "vm.cfg:3: pci: host function 0000:00:04.0 assigned twice" },
	{ "pci = ['00:04.0,msitranslate=1']", -ENOTSUP, "pci: msitranslate=1 is not supported" },
	{ "pci = ['zz']", -EINVAL, "vm.cfg:1: pci: 'zz': not a PCI address" },
	{ "disk = ['']", -EINVAL, "vm.cfg:1: disk: empty spec" },
	{ "disk = ['a','b','c','d','e','f','g','h','i']", -ENOSPC, "disk: at most 8 disks" },
	{ "disk = ['file:/a,vdev=xvda', 'file:/b,vdev=xvda']", -EEXIST,
	  "disk: vdev 'xvda' used twice" },
	{ "edu = 9", -EINVAL, "vm.cfg:1: edu: at most 8 devices" },
	{ "edu = 'x'", -EINVAL, "edu: 'x' is not a number" },
	{ "testdev = 2", -EINVAL, "vm.cfg:1: testdev: '2' is not 1 or 0" },
	{ "iommu = 'aw=40'", -EINVAL, "iommu: aw must be 39 or 48" },
	{ "serial = 'pty'", -EINVAL, "serial: 'pty' is neither 'stdio' nor 'file:PATH'" },
	{ "kernel = ''", -EINVAL, "kernel: empty file name" },
	{ "ramdisk = ''", -EINVAL, "vm.cfg:1: ramdisk: empty file name" },
	{ "name = 'a+b'", -EINVAL, "name: 'a+b' is not a name" },
	{ "root = 'a'\nroot += ['x']", -EINVAL, "vm.cfg:2: root: expected a single value" },
	{ "disk = [ 'a', [ 'b' ] ]", -EINVAL, "vm.cfg:1: syntax error: lists cannot nest" },
	{ "disk = [ 'a' 'b' ]", -EINVAL, "syntax error: expected ',' or ']' in a list" },
	{ "disk = [ , ]", -EINVAL, "syntax error: expected a list element or ']', not ','" },
	{ "disk = [ 'a',, ]", -EINVAL, "expected a list element or ']'" },
	{ "\ndisk = [ 'a',\n\n", -EINVAL, "vm.cfg:2: syntax error: '[' without ']'" },
	{ "disk = [ 'a'", -EINVAL, "vm.cfg:1: syntax error: '[' without ']'" },
	{ "name = x", -EINVAL, "syntax error: expected a value (a number, a \"string\" or a "
	  "[list]), not 'x'" },
	{ "name =", -EINVAL, "syntax error: expected a value" },
	{ "name =\n'x'", -EINVAL, "vm.cfg:1: syntax error: expected a value" },
	{ "name 'x'", -EINVAL, "syntax error: expected '=' or '+=' after the key" },
	{ "name\n= 'x'", -EINVAL, "vm.cfg:1: syntax error: expected '=' or '+='" },
	{ "= 3", -EINVAL, "vm.cfg:1: syntax error: expected KEY = VALUE, not '='" },
	{ "'name' = 3", -EINVAL, "syntax error: expected KEY = VALUE, not a string" },
	{ "name = 'a' 'b'", -EINVAL, "syntax error: expected a new line or ';' after the value" },
	{ "name = 'a\\qb'", -EINVAL, "syntax error: unknown escape '\\q'" },
	{ "name = 'a\\x4'", -EINVAL, "syntax error: \\x needs two hex digits" },
	{ "name = 'a\\0b'", -EINVAL, "a string cannot hold a NUL" },
	{ "name = 'a\\x00'", -EINVAL, "a string cannot hold a NUL" },
	{ "name = 'a\\777'", -EINVAL, "octal escape above \\377" },
	{ "memory = 1 + 2", -EINVAL, "syntax error: '+' without '='" },
	{ "memory = 512\x01", -EINVAL, "vm.cfg:1: syntax error: unexpected byte 0x01" },
	{ "memory = -1", -EINVAL, "syntax error: unexpected '-'" },
	{ "memory = 512\n\xff", -EINVAL, "vm.cfg:2: syntax error: unexpected byte 0xff" },
	{ "import os\n", -EINVAL, "vm.cfg:1: syntax error: expected '=' or '+=' after the key" },
	{ "a_very_long_key_that_goes_on_and_on_and_on_and_on_and_on_and_on_and_on = 1", -EINVAL,
	  "vm.cfg:1: a_very_long_key_that_goes_on_and_on_and_: unknown key" },
};

static void test_bad(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const struct bad_case *b = &bad[i];
		struct vm_config c;
		char err[256];
		int r;

		config_new(&c);
		r = xlcfg_parse(b->text, strlen(b->text), "vm.cfg", &c, err, sizeof(err));
		CU_ASSERT_EQUAL(r, b->r);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, b->msg));
		CU_ASSERT_PTR_NULL(strchr(err, '\n'));
		if (r != b->r || !strstr(err, b->msg))
			fprintf(stderr, "bad[%zu]: %d (%s), expected %d (%s)\n", i, r, err, b->r,
				b->msg);
		vm_config_free(&c);
	}
}

/* Parses text into c (config_new first) and requires success. */
static int parse_ok(const char *text, struct vm_config *c)
{
	char err[256];
	int r;

	config_new(c);
	r = xlcfg_parse(text, strlen(text), "t.cfg", c, err, sizeof(err));
	if (r)
		fprintf(stderr, "'%s': %d (%s)\n", text, r, err);
	return r;
}

static void test_devices(void)
{
	static const char text[] =
		"disk = [ 'format=raw, vdev=xvdb, access=rw, target=/var/lib/img,a.img',\n"
		"         'file:/b.img' ]\n"
		"vif = [ 'mac=00:16:3e:0a:0b:0c,bridge=xenbr0,script=vif-bridge', 'bridge=br1' ]\n"
		"pci = [ '01:00.1@5,permissive=1' ]\n";
	struct vm_config c;
	char mac[VIF_MAC_STRLEN];

	CU_ASSERT_EQUAL_FATAL(parse_ok(text, &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 5);
	CU_ASSERT_EQUAL(c.devices[0].kind, DEVICE_DISK);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.spec,
			       "format=raw, vdev=xvdb, access=rw, target=/var/lib/img,a.img");
	CU_ASSERT_STRING_EQUAL(c.devices[1].disk.spec, "file:/b.img");
	CU_ASSERT_EQUAL(c.devices[2].kind, DEVICE_NIC);
	CU_ASSERT_STRING_EQUAL(c.devices[2].nic.bridge, "xenbr0");
	CU_ASSERT_STRING_EQUAL(c.devices[2].nic.script, "vif-bridge");
	CU_ASSERT_TRUE(c.devices[2].nic.mac_set);
	vif_format_mac(c.devices[2].nic.mac, mac);
	CU_ASSERT_STRING_EQUAL(mac, "00:16:3e:0a:0b:0c");
	CU_ASSERT_STRING_EQUAL(c.devices[3].nic.bridge, "br1");
	CU_ASSERT_FALSE(c.devices[3].nic.mac_set);
	CU_ASSERT_EQUAL(c.devices[4].kind, DEVICE_PCI);
	CU_ASSERT_STRING_EQUAL(c.devices[4].pci.host, "0000:01:00.1");
	CU_ASSERT_EQUAL(c.devices[4].pci.vslot, 5);
	CU_ASSERT_TRUE(c.devices[4].pci.permissive);
	vm_config_free(&c);
}

static void test_isle_keys(void)
{
	struct vm_config c;

	CU_ASSERT_EQUAL_FATAL(parse_ok("serial = 'file:/tmp/con.log'\ntestdev = 1\n"
				       "iommu = 'aw=39,caching_mode=on'\nmaxmem = 2048\n", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.serial_file, "/tmp/con.log");
	CU_ASSERT_TRUE(c.testdev);
	CU_ASSERT_TRUE(c.iommu.enabled);
	CU_ASSERT_EQUAL(c.iommu.aw_bits, 39);
	CU_ASSERT_TRUE(c.iommu.caching_mode);
	CU_ASSERT_EQUAL(c.maxmem, 2048ULL << 20);
	vm_config_free(&c);
	/* The later iommu= replaces the earlier one as a whole. */
	CU_ASSERT_EQUAL_FATAL(parse_ok("iommu = 'aw=39'\niommu = 1\ntestdev = 0\n", &c), 0);
	CU_ASSERT_TRUE(c.iommu.enabled);
	CU_ASSERT_EQUAL(c.iommu.aw_bits, 0);
	CU_ASSERT_FALSE(c.testdev);
	vm_config_free(&c);
	CU_ASSERT_EQUAL_FATAL(parse_ok("iommu = 'aw=39'\niommu = 0\n", &c), 0);
	CU_ASSERT_FALSE(c.iommu.enabled);
	vm_config_free(&c);
}

static void test_escapes(void)
{
	struct vm_config c;

	CU_ASSERT_EQUAL_FATAL(parse_ok("cmdline = \"q=\\\"x\\\" s=\\'y\\' \\a\\b\\f\\v\\r\\n|\"\n"
				       "name = 'n\\x2d\\0561'   # n-.1\n"
				       "kernel = \"# not a comment; not a statement\"\n", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.cmdline, "q=\"x\" s='y' \a\b\f\v\r\n|");
	CU_ASSERT_STRING_EQUAL(c.name, "n-.1");
	CU_ASSERT_STRING_EQUAL(c.kernel, "# not a comment; not a statement");
	vm_config_free(&c);
	/* A quote of the other kind needs no escape; bytes above 0x7f pass. */
	CU_ASSERT_EQUAL_FATAL(parse_ok("kernel = '/a\"b'\ncmdline = \"it's \xc3\xa9\"", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.kernel, "/a\"b");
	CU_ASSERT_STRING_EQUAL(c.cmdline, "it's \xc3\xa9");
	vm_config_free(&c);
}

/* += concatenates strings and appends to lists across the file. */
static void test_append(void)
{
	struct vm_config c;

	CU_ASSERT_EQUAL_FATAL(parse_ok("cmdline = 'console=ttyS0'\ncmdline += ' quiet'\n"
				       "disk += ['file:/a']\ndisk += ['file:/b']\n"
				       "kernel = '/old'\nkernel = '/new'\n", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.cmdline, "console=ttyS0 quiet");
	CU_ASSERT_STRING_EQUAL(c.kernel, "/new");
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 2);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.spec, "file:/a");
	CU_ASSERT_STRING_EQUAL(c.devices[1].disk.spec, "file:/b");
	vm_config_free(&c);
	/* = after += starts the list again. */
	CU_ASSERT_EQUAL_FATAL(parse_ok("disk += ['file:/a']\ndisk = ['file:/c']\n", &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 1);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.spec, "file:/c");
	vm_config_free(&c);
}

static int override(struct vm_config *c, const char *kv, char *err)
{
	int r = xlcfg_override(c, kv, err, 256);

	if (r)
		fprintf(stderr, "override '%s': %d (%s)\n", kv, r, err);
	return r;
}

static void test_override(void)
{
	struct vm_config c;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(parse_ok("name = 'a'\nmemory = 512\nkernel = '/k'\n"
				       "cmdline = 'console=ttyS0'\nedu = 1\niommu = 'aw=39'\n"
				       "disk = ['file:/a', 'file:/b']\nvif = ['bridge=br0']\n",
				       &c), 0);
	CU_ASSERT_EQUAL(override(&c, "memory=1024", err), 0);
	CU_ASSERT_EQUAL(c.memory, 1024ULL << 20);
	CU_ASSERT_EQUAL(override(&c, "name=\"b\"", err), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "b");
	CU_ASSERT_EQUAL(override(&c, "name+='-2'", err), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "b-2");
	CU_ASSERT_EQUAL(override(&c, "cmdline+=' quiet'", err), 0);
	CU_ASSERT_STRING_EQUAL(c.cmdline, "console=ttyS0 quiet");
	CU_ASSERT_EQUAL(override(&c, "vif=['bridge=br1']", err), 0);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_NIC), 1);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_DISK), 2);
	CU_ASSERT_EQUAL(override(&c, "vif += [ 'bridge=br2' ]", err), 0);
	CU_ASSERT_EQUAL_FATAL(vm_config_count(&c, DEVICE_NIC), 2);
	for (unsigned int i = 0, n = 0; i < c.nr_devices; i++)
		if (c.devices[i].kind == DEVICE_NIC)
			CU_ASSERT_STRING_EQUAL(c.devices[i].nic.bridge, n++ ? "br2" : "br1");
	CU_ASSERT_EQUAL(override(&c, "disk=[]", err), 0);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_DISK), 0);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_EDU), 1);
	CU_ASSERT_EQUAL(override(&c, "edu=3", err), 0);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_EDU), 3);
	CU_ASSERT_EQUAL(override(&c, "edu=0", err), 0);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_EDU), 0);
	CU_ASSERT_EQUAL(override(&c, "iommu='caching_mode=on'", err), 0);
	CU_ASSERT_EQUAL(c.iommu.aw_bits, 0);
	CU_ASSERT_TRUE(c.iommu.caching_mode);
	/* Several statements in one argument, as xl's examples have them. */
	CU_ASSERT_EQUAL(override(&c, "vcpus=2; maxvcpus=2", err), 0);
	CU_ASSERT_EQUAL(c.vcpus, 2);
	CU_ASSERT_EQUAL(override(&c, "on_crash='preserve'", err), 0);
	CU_ASSERT_EQUAL(c.on_crash, VM_ACTION_PRESERVE);
	vm_config_free(&c);
}

struct bad_override {
	const char *kv;
	int r;
	const char *msg;
};

static const struct bad_override bad_overrides[] = {
	{ "memory", -EINVAL, "memory: expected KEY=VALUE" },
	{ "", -EINVAL, ": expected KEY=VALUE" },
	{ "memory=abc", -EINVAL, "memory=abc: syntax error: expected a value" },
	{ "memory='abc'", -EINVAL, "memory='abc': memory: 'abc' is not a size" },
	{ "root='/dev/vda'", -EINVAL, "root='/dev/vda': root: cannot be changed after the file" },
	{ "extra='x'", -EINVAL, "extra: cannot be changed" },
	{ "bootloader='pygrub'", -ENOTSUP, "bootloader='pygrub': bootloader: not supported by isle" },
	{ "foo=1", -EINVAL, "foo=1: foo: unknown key" },
	{ "type+='x'", -EINVAL, "type+='x': type: += cannot be used after the file" },
	{ "vcpus+=1", -EINVAL, "vcpus+=1: vcpus: += cannot be used with numbers" },
	{ "maxvcpus=8", -ENOTSUP, "maxvcpus=8: maxvcpus: 8 is not vcpus (1)" },
	{ "vif=['bridge=x y']", -EINVAL, "vif=['bridge=x y']: vif: bridge=x y is not" },
	{ "name='x", -EINVAL, "name='x: syntax error: unterminated string" },
	{ "=1", -EINVAL, "=1: syntax error: expected KEY = VALUE" },
};

static void test_override_bad(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_overrides); i++) {
		const struct bad_override *b = &bad_overrides[i];
		struct vm_config c;
		char err[256];
		int r;

		config_new(&c);
		r = xlcfg_override(&c, b->kv, err, sizeof(err));
		CU_ASSERT_EQUAL(r, b->r);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, b->msg));
		if (r != b->r || !strstr(err, b->msg))
			fprintf(stderr, "bad_overrides[%zu]: %d (%s)\n", i, r, err);
		vm_config_free(&c);
	}
}

/* The input is [text, text+len): nothing past it is read (ASan checks the
 * exact-size copies) and a NUL inside is just a bad byte. */
static void test_unterminated_input(void)
{
	static const char *const texts[] = { "memory = 512", "name = 'abc", "disk = [ 'a',",
					     "# c", "vcpus = 0x", "memory = 5" };
	static const int want[] = { 0, -EINVAL, -EINVAL, 0, -EINVAL, -EINVAL };
	struct vm_config c;
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		size_t len = strlen(texts[i]);
		char *copy = malloc(len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		memcpy(copy, texts[i], len);
		config_new(&c);
		CU_ASSERT_EQUAL(xlcfg_parse(copy, len, "u.cfg", &c, err, sizeof(err)), want[i]);
		if (!i)
			CU_ASSERT_EQUAL(c.memory, 512ULL << 20);
		vm_config_free(&c);
		free(copy);
	}
	/* A shorter len cuts the statement: "memory = 51" of "memory = 512". */
	config_new(&c);
	CU_ASSERT_EQUAL(xlcfg_parse("memory = 512", 11, "u.cfg", &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.memory, 51ULL << 20);
	vm_config_free(&c);
	config_new(&c);
	CU_ASSERT_EQUAL(xlcfg_parse("memory = 512\0vcpus = 2", 22, "u.cfg", &c, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "u.cfg:1: syntax error: unexpected byte 0x00"));
	vm_config_free(&c);
	config_new(&c);
	CU_ASSERT_EQUAL(xlcfg_parse("\nname = 'a\0b'", 13, "u.cfg", &c, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "u.cfg:2: syntax error: a string cannot hold a NUL"));
	CU_ASSERT_EQUAL(xlcfg_parse("name = 'a\\\0b'", 13, "u.cfg", &c, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "u.cfg:1: syntax error: byte 0x00 after a backslash"));
	vm_config_free(&c);
	config_new(&c);
	CU_ASSERT_EQUAL(xlcfg_parse(NULL, 0, NULL, &c, err, sizeof(err)), 0);
	vm_config_free(&c);
}

static void test_limits(void)
{
	static char text[XLCFG_FILE_MAX + 2];
	size_t big = XLCFG_FILE_MAX + 1, n;
	char err[256];
	struct vm_config c;

	memset(text, ' ', big);
	config_new(&c);
	CU_ASSERT_EQUAL(xlcfg_parse(text, big, "big.cfg", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "big.cfg: larger than 1048576 bytes"));
	CU_ASSERT_EQUAL(xlcfg_parse(text, big - 1, "big.cfg", &c, err, sizeof(err)), 0);
	/* A string of 64 KiB is fine (then too long for a command line), one more is not. */
	n = (size_t)sprintf(text, "\n\ncmdline = '");
	memset(text + n, 'a', XLCFG_STRING_MAX + 1);
	strcpy(text + n + XLCFG_STRING_MAX + 1, "'");
	CU_ASSERT_EQUAL(xlcfg_parse(text, strlen(text), "s.cfg", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "s.cfg:3: a string longer than 65536 bytes"));
	strcpy(text + n + XLCFG_STRING_MAX, "'");
	CU_ASSERT_EQUAL(xlcfg_parse(text, strlen(text), "s.cfg", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "s.cfg:3: cmdline: longer than"));
	/* += cannot grow a string past the limit either. */
	n = (size_t)sprintf(text, "extra = '");
	memset(text + n, 'a', XLCFG_STRING_MAX);
	strcpy(text + n + XLCFG_STRING_MAX, "'\nextra += 'b'\n");
	CU_ASSERT_EQUAL(xlcfg_parse(text, strlen(text), "s.cfg", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "s.cfg:2: extra: a string longer than 65536 bytes"));
	/* 64 list elements parse (then too many disks), 65 do not, nor 64 + 1. */
	n = (size_t)sprintf(text, "disk = [");
	for (int i = 0; i < XLCFG_LIST_MAX; i++)
		n += (size_t)sprintf(text + n, "'f%d',\n", i);
	strcpy(text + n, "]");
	CU_ASSERT_EQUAL(xlcfg_parse(text, strlen(text), "l.cfg", &c, err, sizeof(err)), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "l.cfg:9: disk: at most 8 disks"));
	strcpy(text + n, "'x']");
	CU_ASSERT_EQUAL(xlcfg_parse(text, strlen(text), "l.cfg", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "l.cfg:65: a list longer than 64 elements"));
	strcpy(text + n, "]\ndisk += ['x']");
	CU_ASSERT_EQUAL(xlcfg_parse(text, strlen(text), "l.cfg", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "l.cfg:66: disk: a list longer than 64 elements"));
	vm_config_free(&c);
}

/* Messages stay one line whatever the file name or value holds, and a
 * small buffer is still terminated. */
static void test_messages(void)
{
	struct vm_config c;
	char err[256], tiny[8];

	config_new(&c);
	CU_ASSERT_EQUAL(xlcfg_parse("name = 'a\\nb'", 13, "x\ny.cfg", &c, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "x?y.cfg:1: name: 'a?b' is not a name"));
	CU_ASSERT_EQUAL(xlcfg_parse("vnc = 1", 7, "vm.cfg", &c, tiny, sizeof(tiny)), -ENOTSUP);
	CU_ASSERT_STRING_EQUAL(tiny, "vm.cfg:");
	CU_ASSERT_EQUAL(xlcfg_parse("vnc = 1", 7, "vm.cfg", &c, NULL, 0), -ENOTSUP);
	vm_config_free(&c);
}

void unit_register(void)
{
	UNIT_SUITE("xlcfg", UNIT_TEST(test_good), UNIT_TEST(test_bad), UNIT_TEST(test_devices),
		   UNIT_TEST(test_isle_keys), UNIT_TEST(test_escapes), UNIT_TEST(test_append),
		   UNIT_TEST(test_override), UNIT_TEST(test_override_bad),
		   UNIT_TEST(test_unterminated_input), UNIT_TEST(test_limits),
		   UNIT_TEST(test_messages));
}
