/* Unit tests for vmm/control/config.c: the one grammar of VM configuration
 * values. A table of sizes (every unit, the bare unit MiB or KiB, overflow),
 * names and actions; a table of (key, value) pairs applied to a fresh
 * config with the field they set or the error and a piece of the message
 * behind its "--KEY: " prefix; the iommu option strings; flags with and
 * without values; disks, NICs and PCI functions through device_spec_parse
 * and vm_config_add (counts, conflicts, the 8-disk limit); and
 * vm_config_finish's whole-config checks and disk naming. Every config is
 * freed (the ASan build checks for leaks). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/config.h"
#include "core/device.h"

/* --- config_parse_size --- */

struct size_case {
	const char *text;
	uint64_t bare;       /* the unit of a bare number */
	int r;
	uint64_t bytes;      /* r == 0 */
};

static const struct size_case sizes[] = {
	{ "512", MiB, 0, 512 * MiB },
	{ "512", KiB, 0, 512 * KiB },
	{ "0", MiB, 0, 0 },
	{ "7B", MiB, 0, 7 },
	{ "7b", KiB, 0, 7 },
	{ "3K", MiB, 0, 3 * KiB },
	{ "3k", MiB, 0, 3 * KiB },
	{ "3KB", MiB, 0, 3 * KiB },
	{ "3KiB", MiB, 0, 3 * KiB },
	{ "512M", KiB, 0, 512 * MiB },
	{ "512m", MiB, 0, 512 * MiB },
	{ "512MB", MiB, 0, 512 * MiB },
	{ "512MiB", MiB, 0, 512 * MiB },
	{ "2G", MiB, 0, 2 * GiB },
	{ "2g", KiB, 0, 2 * GiB },
	{ "2GiB", MiB, 0, 2 * GiB },
	{ "1T", MiB, 0, 1024 * GiB },
	{ "1t", MiB, 0, 1024 * GiB },
	{ "1TB", MiB, 0, 1024 * GiB },
	{ "1048576K", MiB, 0, 1024 * MiB },
	{ "007", MiB, 0, 7 * MiB },
	{ "18446744073709551609B", MiB, 0, 18446744073709551609ULL },
	{ "17179869183G", MiB, 0, 17179869183ULL * GiB },
	{ "16777215T", MiB, 0, 16777215ULL * 1024 * GiB },
	/* Too big for 64 bits: the digits, or the digits times the unit. */
	{ "99999999999999999999", MiB, -ERANGE, 0 },
	{ "184467440737095516160B", MiB, -ERANGE, 0 },
	{ "17179869184G", MiB, -ERANGE, 0 },
	{ "16777216T", MiB, -ERANGE, 0 },
	{ "17592186044416", MiB, -ERANGE, 0 },      /* 2^44 MiB = 2^64 bytes */
	{ "17592186044415", MiB, 0, 17592186044415ULL * MiB },
	{ "18014398509481984", KiB, -ERANGE, 0 },   /* 2^54 KiB */
	{ "", MiB, -EINVAL, 0 },
	{ "M", MiB, -EINVAL, 0 },
	{ "-1", MiB, -EINVAL, 0 },
	{ "+1", MiB, -EINVAL, 0 },
	{ " 1", MiB, -EINVAL, 0 },
	{ "1 ", MiB, -EINVAL, 0 },
	{ "1 M", MiB, -EINVAL, 0 },
	{ "1.5G", MiB, -EINVAL, 0 },
	{ "1P", MiB, -EINVAL, 0 },
	{ "1Ki", MiB, -EINVAL, 0 },
	{ "1kb", MiB, -EINVAL, 0 },
	{ "1MBB", MiB, -EINVAL, 0 },
	{ "1BB", MiB, -EINVAL, 0 },
	{ "1BiB", MiB, -EINVAL, 0 },
	{ "0x10", MiB, -EINVAL, 0 },
};

static void test_parse_size(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		const struct size_case *c = &sizes[i];
		uint64_t out = 0xdeadbeef;
		int r = config_parse_size(c->text, c->bare, &out);

		CU_ASSERT_EQUAL(r, c->r);
		/* out is untouched on error */
		CU_ASSERT_EQUAL(out, c->r ? 0xdeadbeef : c->bytes);
		if (r != c->r || (!r && out != c->bytes))
			fprintf(stderr, "size '%s' (bare %llu): %d, %llu\n", c->text,
				(unsigned long long)c->bare, r, (unsigned long long)out);
	}
}

/* --- names and actions --- */

static void test_names(void)
{
	static const char *const good[] = {
		"a", "vm1", "A.b-c_D9", "9lives", "a..b", "a-", "x.",
	};
	static const char *const bad[] = {
		"", "-a", ".a", "..", "a b", "a/b", "../x", "a\tb", "é", "a:b", "a,b", "a\n",
	};
	char name[CONFIG_NAME_MAX + 1];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		CU_ASSERT_TRUE(config_name_ok(good[i]));
		if (!config_name_ok(good[i]))
			fprintf(stderr, "name '%s' refused\n", good[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CU_ASSERT_FALSE(config_name_ok(bad[i]));
		if (config_name_ok(bad[i]))
			fprintf(stderr, "name '%s' accepted\n", bad[i]);
	}
	/* 63 characters is the longest name. */
	memset(name, 'n', sizeof(name));
	name[CONFIG_NAME_MAX - 1] = '\0';
	CU_ASSERT_TRUE(config_name_ok(name));
	name[CONFIG_NAME_MAX - 1] = 'n';
	name[CONFIG_NAME_MAX] = '\0';
	CU_ASSERT_FALSE(config_name_ok(name));
}

static void test_actions(void)
{
	static const struct { const char *text; int r; enum vm_action a; } cases[] = {
		{ "destroy", 0, VM_ACTION_DESTROY },
		{ "restart", 0, VM_ACTION_RESTART },
		{ "preserve", 0, VM_ACTION_PRESERVE },
		{ "Destroy", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "rename-restart", -EINVAL, 0 },
		{ "coredump-destroy", -EINVAL, 0 },
		{ "restart ", -EINVAL, 0 },
		{ "destroyx", -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum vm_action a = (enum vm_action)77;

		CU_ASSERT_EQUAL(config_parse_action(cases[i].text, &a), cases[i].r);
		CU_ASSERT_EQUAL(a, cases[i].r ? (enum vm_action)77 : cases[i].a);
	}
	CU_ASSERT_STRING_EQUAL(config_action_name(VM_ACTION_DESTROY), "destroy");
	CU_ASSERT_STRING_EQUAL(config_action_name(VM_ACTION_RESTART), "restart");
	CU_ASSERT_STRING_EQUAL(config_action_name(VM_ACTION_PRESERVE), "preserve");
	CU_ASSERT_STRING_EQUAL(config_action_name((enum vm_action)3), "?");
	CU_ASSERT_STRING_EQUAL(config_action_name((enum vm_action)-1), "?");
}

static void test_init(void)
{
	struct vm_config c;

	memset(&c, 0x5a, sizeof(c));
	vm_config_init(&c);
	CU_ASSERT_EQUAL(c.memory, 256 * MiB);
	CU_ASSERT_EQUAL(c.maxmem, 0);
	CU_ASSERT_EQUAL(c.vcpus, 1);
	CU_ASSERT_EQUAL(c.on_poweroff, VM_ACTION_DESTROY);
	CU_ASSERT_EQUAL(c.on_reboot, VM_ACTION_DESTROY);
	CU_ASSERT_EQUAL(c.on_crash, VM_ACTION_DESTROY);
	CU_ASSERT_PTR_NULL(c.kernel);
	CU_ASSERT_PTR_NULL(c.name);
	CU_ASSERT_PTR_NULL(c.serial_file);
	CU_ASSERT_PTR_NULL(c.console_socket);
	CU_ASSERT_FALSE(c.testdev);
	CU_ASSERT_FALSE(c.iommu.enabled);
	CU_ASSERT_EQUAL(c.nr_devices, 0);
	CU_ASSERT_PTR_NULL(c.devices);
	vm_config_free(&c);
}

/* --- vm_config_set: one key on a fresh config --- */

enum field {
	F_MEMORY, F_MAXMEM, F_VCPUS, F_KERNEL, F_INITRD, F_CMDLINE, F_SERIAL, F_NAME, F_CONSOLE,
	F_TESTDEV, F_POWEROFF, F_REBOOT, F_CRASH,
	F_IOMMU,     /* enabled | caching_mode << 1 | caching_mode_off << 2 | aw_bits << 8 */
	F_DEVICES,   /* the kinds in order, one letter each: d disk, n nic, p pci, e edu */
};

struct set_case {
	const char *key, *val;
	int r;
	enum field f;
	uint64_t num;        /* numeric fields */
	const char *str;     /* string fields (NULL: unset); with r != 0, a piece of err */
};

#define IO(en, cm, cmoff, aw) ((uint64_t)(en) | (uint64_t)(cm) << 1 | \
			       (uint64_t)(cmoff) << 2 | (uint64_t)(aw) << 8)

static const struct set_case set_cases[] = {
	{ "kernel", "/boot/vmlinuz", 0, F_KERNEL, 0, "/boot/vmlinuz" },
	{ "kernel", "", -EINVAL, F_KERNEL, 0, "empty file name" },
	{ "initrd", "initrd.img", 0, F_INITRD, 0, "initrd.img" },
	{ "initrd", "", -EINVAL, F_INITRD, 0, "empty file name" },
	{ "cmdline", "console=ttyS0 root=/dev/vda", 0, F_CMDLINE, 0,
	  "console=ttyS0 root=/dev/vda" },
	{ "cmdline", "", 0, F_CMDLINE, 0, "" },
	/* Sizes: a bare number is MiB; the range is 8M..1T, in 4K steps. */
	{ "memory", "512", 0, F_MEMORY, 512 * MiB, NULL },
	{ "memory", "512M", 0, F_MEMORY, 512 * MiB, NULL },
	{ "memory", "2G", 0, F_MEMORY, 2 * GiB, NULL },
	{ "memory", "1T", 0, F_MEMORY, 1024 * GiB, NULL },
	{ "memory", "8", 0, F_MEMORY, 8 * MiB, NULL },
	{ "memory", "8196K", 0, F_MEMORY, 8196 * KiB, NULL },
	{ "memory", "8388608B", 0, F_MEMORY, 8 * MiB, NULL },
	{ "memory", "7", -EINVAL, F_MEMORY, 0, "must be between 8M and 1024G" },
	{ "memory", "8388607B", -EINVAL, F_MEMORY, 0, "must be between 8M and 1024G" },
	{ "memory", "1025G", -EINVAL, F_MEMORY, 0, "must be between 8M and 1024G" },
	{ "memory", "0", -EINVAL, F_MEMORY, 0, "must be between" },
	{ "memory", "8193K", -EINVAL, F_MEMORY, 0, "must be a multiple of 4K" },
	{ "memory", "lots", -EINVAL, F_MEMORY, 0, "'lots' is not a size (e.g. 512M, 2G)" },
	{ "memory", "", -EINVAL, F_MEMORY, 0, "'' is not a size" },
	{ "memory", "99999999999999999999", -EINVAL, F_MEMORY, 0, "is not a size" },
	{ "memory", "17592186044416", -EINVAL, F_MEMORY, 0, "is not a size" },
	{ "maxmem", "1G", 0, F_MAXMEM, GiB, NULL },
	{ "maxmem", "4", -EINVAL, F_MAXMEM, 0, "must be between 8M" },
	{ "maxmem", "1x", -EINVAL, F_MAXMEM, 0, "'1x' is not a size" },
	{ "vcpus", "1", 0, F_VCPUS, 1, NULL },
	{ "vcpus", "4", 0, F_VCPUS, 4, NULL },
	{ "vcpus", "255", 0, F_VCPUS, 255, NULL },
	{ "vcpus", "0255", 0, F_VCPUS, 255, NULL },
	{ "vcpus", "0", -EINVAL, F_VCPUS, 0, "'0' is not a number from 1 to 255" },
	{ "vcpus", "256", -EINVAL, F_VCPUS, 0, "'256' is not a number from 1 to 255" },
	{ "vcpus", "99999999999999999999999", -EINVAL, F_VCPUS, 0, "not a number from 1" },
	{ "vcpus", "", -EINVAL, F_VCPUS, 0, "not a number from 1 to 255" },
	{ "vcpus", "-1", -EINVAL, F_VCPUS, 0, "not a number" },
	{ "vcpus", "2x", -EINVAL, F_VCPUS, 0, "'2x' is not a number" },
	{ "serial", "stdio", 0, F_SERIAL, 0, NULL },
	{ "serial", "file:/tmp/console.log", 0, F_SERIAL, 0, "/tmp/console.log" },
	{ "serial", "file:", -EINVAL, F_SERIAL, 0, "'file:' is neither 'stdio' nor 'file:PATH'" },
	{ "serial", "pty", -EINVAL, F_SERIAL, 0, "'pty' is neither" },
	{ "serial", "", -EINVAL, F_SERIAL, 0, "is neither 'stdio'" },
	/* A unix socket's path: sun_path's 107 bytes at most. */
	{ "console_socket", "/run/isle/vm1.console", 0, F_CONSOLE, 0, "/run/isle/vm1.console" },
	{ "console_socket", "c", 0, F_CONSOLE, 0, "c" },
	{ "console_socket", "", -EINVAL, F_CONSOLE, 0, "a socket path of 1-107 bytes" },
	{ "console_socket", "/0123456789012345678901234567890123456789012345678901234567890"
	  "123456789012345678901234567890123456789012345", 0, F_CONSOLE, 0,
	  "/0123456789012345678901234567890123456789012345678901234567890"
	  "123456789012345678901234567890123456789012345" },
	{ "console_socket", "/0123456789012345678901234567890123456789012345678901234567890"
	  "1234567890123456789012345678901234567890123456", -EINVAL, F_CONSOLE, 0,
	  "a socket path of 1-107 bytes" },
	{ "name", "web-1", 0, F_NAME, 0, "web-1" },
	{ "name", "a.b_c", 0, F_NAME, 0, "a.b_c" },
	{ "name", "-x", -EINVAL, F_NAME, 0, "'-x' is not a name" },
	{ "name", ".x", -EINVAL, F_NAME, 0, "is not a name" },
	{ "name", "a/b", -EINVAL, F_NAME, 0, "'a/b' is not a name" },
	{ "name", "", -EINVAL, F_NAME, 0, "'' is not a name" },
	{ "on_poweroff", "preserve", 0, F_POWEROFF, VM_ACTION_PRESERVE, NULL },
	{ "on_reboot", "restart", 0, F_REBOOT, VM_ACTION_RESTART, NULL },
	{ "on_reboot", "destroy", 0, F_REBOOT, VM_ACTION_DESTROY, NULL },
	{ "on_crash", "preserve", 0, F_CRASH, VM_ACTION_PRESERVE, NULL },
	{ "on_crash", "coredump-restart", -EINVAL, F_CRASH, 0,
	  "'coredump-restart' is not destroy, restart or preserve" },
	{ "on_poweroff", "", -EINVAL, F_POWEROFF, 0, "is not destroy, restart or preserve" },
	/* Flags: no value is on. */
	{ "testdev", "", 0, F_TESTDEV, 1, NULL },
	{ "testdev", "1", 0, F_TESTDEV, 1, NULL },
	{ "testdev", "on", 0, F_TESTDEV, 1, NULL },
	{ "testdev", "yes", 0, F_TESTDEV, 1, NULL },
	{ "testdev", "true", 0, F_TESTDEV, 1, NULL },
	{ "testdev", "0", 0, F_TESTDEV, 0, NULL },
	{ "testdev", "off", 0, F_TESTDEV, 0, NULL },
	{ "testdev", "no", 0, F_TESTDEV, 0, NULL },
	{ "testdev", "false", 0, F_TESTDEV, 0, NULL },
	{ "testdev", "2", -EINVAL, F_TESTDEV, 0, "'2' is not 1 or 0" },
	{ "testdev", "ON", -EINVAL, F_TESTDEV, 0, "'ON' is not 1 or 0" },
	{ "edu", "", 0, F_DEVICES, 0, "e" },
	{ "edu", "1", 0, F_DEVICES, 0, "e" },
	{ "edu", "0", 0, F_DEVICES, 0, "" },
	{ "edu", "off", 0, F_DEVICES, 0, "" },
	{ "edu", "x", -EINVAL, F_DEVICES, 0, "'x' is not 1 or 0" },
	/* The IOMMU: "", 1, on are the defaults; 0, off none. */
	{ "iommu", "", 0, F_IOMMU, IO(1, 0, 0, 0), NULL },
	{ "iommu", "1", 0, F_IOMMU, IO(1, 0, 0, 0), NULL },
	{ "iommu", "on", 0, F_IOMMU, IO(1, 0, 0, 0), NULL },
	{ "iommu", "0", 0, F_IOMMU, IO(0, 0, 0, 0), NULL },
	{ "iommu", "off", 0, F_IOMMU, IO(0, 0, 0, 0), NULL },
	{ "iommu", "aw=39,caching_mode=on", 0, F_IOMMU, IO(1, 1, 0, 39), NULL },
	{ "iommu", "aw=48", 0, F_IOMMU, IO(1, 0, 0, 48), NULL },
	{ "iommu", "caching_mode=off", 0, F_IOMMU, IO(1, 0, 1, 0), NULL },
	{ "iommu", "caching_mode=1,aw=48", 0, F_IOMMU, IO(1, 1, 0, 48), NULL },
	{ "iommu", ",aw=39,", 0, F_IOMMU, IO(1, 0, 0, 39), NULL },
	{ "iommu", "aw=40", -EINVAL, F_IOMMU, 0, "aw must be 39 or 48, not '40'" },
	{ "iommu", "aw=", -EINVAL, F_IOMMU, 0, "aw must be 39 or 48, not ''" },
	{ "iommu", "aw", -EINVAL, F_IOMMU, 0, "aw must be 39 or 48" },
	{ "iommu", "aw=039", -EINVAL, F_IOMMU, 0, "aw must be 39 or 48, not '039'" },
	{ "iommu", "caching_mode=maybe", -EINVAL, F_IOMMU, 0,
	  "caching_mode must be on or off, not 'maybe'" },
	{ "iommu", "2", -EINVAL, F_IOMMU, 0, "unknown option '2' (aw, caching_mode)" },
	{ "iommu", "aw=39,intremap=on", -EINVAL, F_IOMMU, 0, "unknown option 'intremap'" },
	/* Devices: the one validator, then the config's list. */
	{ "disk", "file:/var/lib/a.img", 0, F_DEVICES, 0, "d" },
	{ "disk", "socket=/run/blk.sock,vdev=xvdc", 0, F_DEVICES, 0, "d" },
	{ "disk", "", -EINVAL, F_DEVICES, 0, "empty spec" },
	{ "disk", "vdev=XVDA,file:a", -EINVAL, F_DEVICES, 0, "vdev 'XVDA' is not a name" },
	{ "disk", "socket=", -EINVAL, F_DEVICES, 0, "socket= needs a path" },
	{ "net", "mac=00:16:3e:01:02:03,bridge=br0", 0, F_DEVICES, 0, "n" },
	{ "net", "", 0, F_DEVICES, 0, "n" },
	{ "net", "bogus=1", -EINVAL, F_DEVICES, 0, "unknown key 'bogus'" },
	{ "net", "id=9x", -EINVAL, F_DEVICES, 0, "id '9x' is not a name" },
	{ "pci", "00:04.0", 0, F_DEVICES, 0, "p" },
	{ "pci", "0000:03:00.1@5,name=gpu", 0, F_DEVICES, 0, "p" },
	{ "pci", "00:20.0", -EINVAL, F_DEVICES, 0, "not a PCI address" },
	/* pci_spec_parse's -ENOTSUP passes through. */
	{ "pci", "00:04.0,msitranslate=1", -ENOTSUP, F_DEVICES, 0, "msitranslate=1" },
	/* Keys are exact. */
	{ "Memory", "512", -EINVAL, F_MEMORY, 0, "unknown key" },
	{ "mem", "512", -EINVAL, F_MEMORY, 0, "unknown key" },
	{ "", "x", -EINVAL, F_MEMORY, 0, "unknown key" },
};

static const char *config_str_field(const struct vm_config *c, enum field f)
{
	switch (f) {
	case F_KERNEL: return c->kernel;
	case F_INITRD: return c->initrd;
	case F_CMDLINE: return c->cmdline;
	case F_SERIAL: return c->serial_file;
	case F_CONSOLE: return c->console_socket;
	case F_NAME: return c->name;
	default: return NULL;
	}
}

static uint64_t config_num_field(const struct vm_config *c, enum field f)
{
	switch (f) {
	case F_MEMORY: return c->memory;
	case F_MAXMEM: return c->maxmem;
	case F_VCPUS: return c->vcpus;
	case F_TESTDEV: return c->testdev;
	case F_POWEROFF: return c->on_poweroff;
	case F_REBOOT: return c->on_reboot;
	case F_CRASH: return c->on_crash;
	case F_IOMMU: return IO(c->iommu.enabled, c->iommu.caching_mode,
				c->iommu.caching_mode_off, c->iommu.aw_bits);
	default: return 0;
	}
}

/* The device kinds in order, one letter each. */
static void config_kinds(const struct vm_config *c, char *out, size_t len)
{
	size_t n = 0;

	for (unsigned int i = 0; i < c->nr_devices && n + 1 < len; i++) {
		switch (c->devices[i].kind) {
		case DEVICE_DISK: out[n++] = 'd'; break;
		case DEVICE_NIC: out[n++] = 'n'; break;
		case DEVICE_PCI: out[n++] = 'p'; break;
		case DEVICE_EDU: out[n++] = 'e'; break;
		default: out[n++] = '?'; break;
		}
	}
	out[n] = '\0';
}

static void check_set_case(const struct set_case *t, const char *pfx)
{
	struct vm_config c;
	char err[512] = "", want_pfx[64], kinds[16];
	int r;

	vm_config_init(&c);
	r = vm_config_set(&c, pfx, t->key, t->val, err, sizeof(err));
	CU_ASSERT_EQUAL(r, t->r);
	if (r != t->r)
		fprintf(stderr, "%s%s '%s': %d (%s)\n", pfx, t->key, t->val, r, err);
	if (t->r) {
		/* "PREFIXKEY: why" on one line. */
		snprintf(want_pfx, sizeof(want_pfx), "%s%s: ", pfx, t->key);
		CU_ASSERT_EQUAL(strncmp(err, want_pfx, strlen(want_pfx)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, t->str));
		CU_ASSERT_PTR_NULL(strchr(err, '\n'));
		if (strncmp(err, want_pfx, strlen(want_pfx)) || !strstr(err, t->str))
			fprintf(stderr, "%s%s '%s': message '%s', wanted '%s'...'%s'\n", pfx,
				t->key, t->val, err, want_pfx, t->str);
		vm_config_free(&c);
		return;
	}
	switch (t->f) {
	case F_KERNEL: case F_INITRD: case F_CMDLINE: case F_SERIAL: case F_NAME:
	case F_CONSOLE: {
		const char *s = config_str_field(&c, t->f);

		if (!t->str) {
			CU_ASSERT_PTR_NULL(s);
		} else {
			CU_ASSERT_PTR_NOT_NULL(s);
			if (s)
				CU_ASSERT_STRING_EQUAL(s, t->str);
		}
		break;
	}
	case F_DEVICES:
		config_kinds(&c, kinds, sizeof(kinds));
		CU_ASSERT_STRING_EQUAL(kinds, t->str);
		break;
	default:
		CU_ASSERT_EQUAL(config_num_field(&c, t->f), t->num);
		if (config_num_field(&c, t->f) != t->num)
			fprintf(stderr, "%s '%s': %llu, wanted %llu\n", t->key, t->val,
				(unsigned long long)config_num_field(&c, t->f),
				(unsigned long long)t->num);
		break;
	}
	/* Nothing else moved off its default. */
	if (t->f != F_MEMORY)
		CU_ASSERT_EQUAL(c.memory, CONFIG_DEFAULT_MEMORY);
	if (t->f != F_VCPUS)
		CU_ASSERT_EQUAL(c.vcpus, 1);
	if (t->f != F_DEVICES)
		CU_ASSERT_EQUAL(c.nr_devices, 0);
	vm_config_free(&c);
}

static void test_set_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(set_cases); i++) {
		check_set_case(&set_cases[i], "--");
		check_set_case(&set_cases[i], "");
		check_set_case(&set_cases[i], "disks[0]: ");
	}
}

static void test_keys(void)
{
	static const char *const keys[] = {
		"kernel", "initrd", "cmdline", "memory", "maxmem", "vcpus", "serial", "disk",
		"net", "pci", "testdev", "edu", "iommu", "name", "on_poweroff", "on_reboot",
		"on_crash", "console_socket",
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		CU_ASSERT_TRUE(vm_config_key_known(keys[i]));
		CU_ASSERT_EQUAL(vm_config_key_flag(keys[i]),
				!strcmp(keys[i], "edu") || !strcmp(keys[i], "testdev"));
	}
	CU_ASSERT_FALSE(vm_config_key_known(""));
	CU_ASSERT_FALSE(vm_config_key_known("Memory"));
	CU_ASSERT_FALSE(vm_config_key_known("kernel "));
	CU_ASSERT_FALSE(vm_config_key_known("api-socket"));
	CU_ASSERT_FALSE(vm_config_key_flag("bogus"));
	CU_ASSERT_FALSE(vm_config_key_flag(""));
}

/* Replacing and appending: strings are replaced (and the old copy freed),
 * stdio clears a file, flags and iommu can be turned back off. */
static void test_set_sequences(void)
{
	struct vm_config c;
	char err[256];

	vm_config_init(&c);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "kernel", "/a", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "kernel", "/b", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.kernel, "/b");
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "serial", "file:/log", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.serial_file, "/log");
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "serial", "stdio", err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(c.serial_file);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "name", "one", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "name", "two", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "two");
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "testdev", "", err, sizeof(err)), 0);
	CU_ASSERT_TRUE(c.testdev);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "testdev", "0", err, sizeof(err)), 0);
	CU_ASSERT_FALSE(c.testdev);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "iommu", "aw=39,caching_mode=off", err,
				      sizeof(err)), 0);
	CU_ASSERT_TRUE(c.iommu.caching_mode_off);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "iommu", "caching_mode=on", err, sizeof(err)),
			0);
	CU_ASSERT_TRUE(c.iommu.caching_mode);
	CU_ASSERT_FALSE(c.iommu.caching_mode_off);
	CU_ASSERT_EQUAL(c.iommu.aw_bits, 39);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "iommu", "off", err, sizeof(err)), 0);
	CU_ASSERT_FALSE(c.iommu.enabled);
	CU_ASSERT_EQUAL(c.iommu.aw_bits, 0);
	CU_ASSERT_FALSE(c.iommu.caching_mode);
	/* edu adds one device each time. */
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "edu", "", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "edu", "on", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_EDU), 2);
	CU_ASSERT_EQUAL(c.nr_devices, 2);
	vm_config_free(&c);
	CU_ASSERT_PTR_NULL(c.kernel);
	CU_ASSERT_EQUAL(c.nr_devices, 0);
}

static void test_cmdline_limit(void)
{
	char *s = malloc(LAYOUT_CMDLINE_MAX + 1), err[256];
	struct vm_config c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	vm_config_init(&c);
	memset(s, 'x', LAYOUT_CMDLINE_MAX);
	s[LAYOUT_CMDLINE_MAX - 1] = '\0';   /* 65535 characters: fits */
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "cmdline", s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(strlen(c.cmdline), LAYOUT_CMDLINE_MAX - 1);
	s[LAYOUT_CMDLINE_MAX - 1] = 'x';
	s[LAYOUT_CMDLINE_MAX] = '\0';       /* one more */
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "cmdline", s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--cmdline: longer than 65535 bytes");
	/* The earlier value stays. */
	CU_ASSERT_EQUAL(strlen(c.cmdline), LAYOUT_CMDLINE_MAX - 1);
	/* iommu option strings have a limit of their own. */
	memset(s, 'a', 200);
	s[200] = '\0';
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "iommu", s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--iommu: options too long");
	vm_config_free(&c);
	free(s);
}

/* The message is cut to errlen, still NUL-terminated. */
static void test_short_err(void)
{
	struct vm_config c;
	char err[8];

	vm_config_init(&c);
	memset(err, 'z', sizeof(err));
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "vcpus", "0", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(memchr(err, '\0', sizeof(err)) != NULL, 1);
	CU_ASSERT_EQUAL(strncmp(err, "--vcpus", 7), 0);
	vm_config_free(&c);
}

/* --- devices --- */

static int set(struct vm_config *c, const char *key, const char *val, char *err, size_t len)
{
	return vm_config_set(c, "--", key, val, err, len);
}

static void test_disks(void)
{
	struct vm_config c;
	char err[256], spec[64];

	vm_config_init(&c);
	for (int i = 0; i < VM_MAX_DISKS; i++) {
		snprintf(spec, sizeof(spec), "file:/img/%d.img", i);
		CU_ASSERT_EQUAL(set(&c, "disk", spec, err, sizeof(err)), 0);
	}
	CU_ASSERT_EQUAL(c.nr_devices, 8);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_DISK), 8);
	CU_ASSERT_STRING_EQUAL(c.devices[3].disk.spec, "file:/img/3.img");
	CU_ASSERT_FALSE(c.devices[3].disk.socket);
	/* The ninth. */
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/img/8.img", err, sizeof(err)), -ENOSPC);
	CU_ASSERT_STRING_EQUAL(err, "--disk: at most 8 disks");
	CU_ASSERT_EQUAL(c.nr_devices, 8);
	/* NICs have their own limit. */
	CU_ASSERT_EQUAL(set(&c, "net", "", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.nr_devices, 9);
	vm_config_free(&c);

	/* Fields come through; conflicts are refused and nothing is added. */
	vm_config_init(&c);
	CU_ASSERT_EQUAL(set(&c, "disk", "format=raw,vdev=xvdb,id=root,target=/a,b.img", err,
			    sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 1);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.spec, "format=raw,target=/a,b.img");
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.vdev, "xvdb");
	CU_ASSERT_STRING_EQUAL(c.devices[0].id, "root");
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/c.img,vdev=xvdb", err, sizeof(err)), -EEXIST);
	CU_ASSERT_STRING_EQUAL(err, "--disk: vdev 'xvdb' used twice");
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/c.img,id=root", err, sizeof(err)), -EEXIST);
	CU_ASSERT_STRING_EQUAL(err, "--disk: id 'root' used twice");
	/* An id is unique across kinds. */
	CU_ASSERT_EQUAL(set(&c, "net", "id=root", err, sizeof(err)), -EEXIST);
	CU_ASSERT_STRING_EQUAL(err, "--net: id 'root' used twice");
	CU_ASSERT_EQUAL(c.nr_devices, 1);
	CU_ASSERT_EQUAL(set(&c, "disk", "socket=/run/b.sock,id=sock", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 2);
	CU_ASSERT_TRUE(c.devices[1].disk.socket);
	CU_ASSERT_STRING_EQUAL(c.devices[1].disk.spec, "/run/b.sock");
	CU_ASSERT_STRING_EQUAL(c.devices[1].id, "sock");
	vm_config_free(&c);
}

static void test_nics_and_pci(void)
{
	struct vm_config c;
	char err[256], spec[64];

	vm_config_init(&c);
	CU_ASSERT_EQUAL(set(&c, "net", "mac=00:16:3e:01:02:03,bridge=br0", err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL_FATAL(c.nr_devices, 1);
	CU_ASSERT_EQUAL(c.devices[0].kind, DEVICE_NIC);
	CU_ASSERT_TRUE(c.devices[0].nic.mac_set);
	CU_ASSERT_EQUAL(c.devices[0].nic.mac[5], 0x03);
	CU_ASSERT_STRING_EQUAL(c.devices[0].nic.bridge, "br0");
	CU_ASSERT_EQUAL(set(&c, "net", "mac=00:16:3e:01:02:03", err, sizeof(err)), -EEXIST);
	CU_ASSERT_STRING_EQUAL(err, "--net: two NICs with mac=00:16:3e:01:02:03");
	for (int i = 1; i < VM_MAX_NICS; i++) {
		snprintf(spec, sizeof(spec), "mac=00:16:3e:00:00:%02x", i);
		CU_ASSERT_EQUAL(set(&c, "net", spec, err, sizeof(err)), 0);
	}
	CU_ASSERT_EQUAL(set(&c, "net", "", err, sizeof(err)), -ENOSPC);
	CU_ASSERT_STRING_EQUAL(err, "--net: at most 8 NICs");
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_NIC), 8);

	/* PCI: no count limit here, but one host function and one slot each. */
	CU_ASSERT_EQUAL(set(&c, "pci", "00:04.0", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "pci", "0000:00:04.0", err, sizeof(err)), -EEXIST);
	CU_ASSERT_STRING_EQUAL(err, "--pci: host function 0000:00:04.0 assigned twice");
	CU_ASSERT_EQUAL(set(&c, "pci", "00:05.0@3", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "pci", "00:06.0@3", err, sizeof(err)), -EEXIST);
	CU_ASSERT_STRING_EQUAL(err, "--pci: virtual slot 03 used twice");
	/* Functions of one device share a slot. */
	CU_ASSERT_EQUAL(set(&c, "pci", "00:05.1@3", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "pci", "00:07.0,name=gpu", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_count(&c, DEVICE_PCI), 4);
	CU_ASSERT_STRING_EQUAL(c.devices[c.nr_devices - 1].id, "gpu");
	CU_ASSERT_STRING_EQUAL(c.devices[c.nr_devices - 1].pci.host, "0000:00:07.0");
	CU_ASSERT_EQUAL(set(&c, "pci", "00:08.0,name=gpu", err, sizeof(err)), -EEXIST);
	CU_ASSERT_STRING_EQUAL(err, "--pci: id 'gpu' used twice");
	CU_ASSERT_EQUAL(c.nr_devices, 12);
	vm_config_free(&c);
}

/* --- vm_config_finish --- */

static void test_finish(void)
{
	struct vm_config c;
	char err[256];

	vm_config_init(&c);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "a kernel is required");
	CU_ASSERT_EQUAL(set(&c, "kernel", "/k", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);

	CU_ASSERT_EQUAL(set(&c, "memory", "512M", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "maxmem", "256M", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "maxmem (256M) is below memory (512M)");
	CU_ASSERT_EQUAL(set(&c, "maxmem", "512M", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "maxmem", "1G", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);

	/* With an assigned function a ballooned start is refused (balloon_spec's test). */
	CU_ASSERT_EQUAL(set(&c, "maxmem", "512M", err, sizeof(err)), 0);
	/* caching_mode=off is refused with an assigned function only. */
	CU_ASSERT_EQUAL(set(&c, "iommu", "caching_mode=off", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "pci", "00:04.0", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "iommu: caching_mode=off cannot be used with pci"));
	CU_ASSERT_EQUAL(set(&c, "iommu", "caching_mode=on", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	/* Defaults (no caching_mode given) are fine with pci too. */
	CU_ASSERT_EQUAL(set(&c, "iommu", "0", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "iommu", "1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	vm_config_free(&c);
}

static void test_finish_names_disks(void)
{
	struct vm_config c;
	char err[256];

	vm_config_init(&c);
	CU_ASSERT_EQUAL(set(&c, "kernel", "/k", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/a", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "net", "", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/b", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.vdev, "");   /* not yet */
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.vdev, "xvda");
	CU_ASSERT_STRING_EQUAL(c.devices[2].disk.vdev, "xvdb");
	vm_config_free(&c);

	/* A name given by the user is skipped over, wherever it is. */
	vm_config_init(&c);
	CU_ASSERT_EQUAL(set(&c, "kernel", "/k", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/a", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/b", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/c,vdev=xvda", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/d,vdev=xvdc", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(set(&c, "disk", "file:/e", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.vdev, "xvdb");
	CU_ASSERT_STRING_EQUAL(c.devices[1].disk.vdev, "xvdd");
	CU_ASSERT_STRING_EQUAL(c.devices[2].disk.vdev, "xvda");
	CU_ASSERT_STRING_EQUAL(c.devices[3].disk.vdev, "xvdc");
	CU_ASSERT_STRING_EQUAL(c.devices[4].disk.vdev, "xvde");
	/* Finishing twice changes nothing. */
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.devices[0].disk.vdev, "xvdb");
	CU_ASSERT_STRING_EQUAL(c.devices[4].disk.vdev, "xvde");
	vm_config_free(&c);
}

void unit_register(void)
{
	UNIT_SUITE("config", UNIT_TEST(test_parse_size), UNIT_TEST(test_names),
		   UNIT_TEST(test_actions), UNIT_TEST(test_init), UNIT_TEST(test_set_table),
		   UNIT_TEST(test_keys), UNIT_TEST(test_set_sequences),
		   UNIT_TEST(test_cmdline_limit), UNIT_TEST(test_short_err),
		   UNIT_TEST(test_disks), UNIT_TEST(test_nics_and_pci), UNIT_TEST(test_finish),
		   UNIT_TEST(test_finish_names_disks));
}
