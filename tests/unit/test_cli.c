/* Unit tests for vmm/control/cli.c: a golden table of command lines, good and bad. */
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/cli.h"
#include "control/config.h"

#define MAXARGS 16

struct cli_case {
	const char *argv[MAXARGS];
	int ok;
	const char *err_has;   /* substring expected in the message when !ok */
};

static const struct cli_case cases[] = {
	{ { "isle", "run", "--kernel", "k" }, 1, NULL },
	{ { "isle", "run", "--kernel=k", "--memory=2G", "--vcpus", "4" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--serial", "file:/tmp/x" }, 1, NULL },
	{ { "isle", "--help" }, 1, NULL },
	{ { "isle", "run", "--help" }, 1, NULL },
	{ { "isle", "--version" }, 1, NULL },
	{ { "isle" }, 0, "no command" },
	{ { "isle", "fly" }, 0, "unknown command" },
	{ { "isle", "run" }, 0, "--kernel FILE is required" },
	{ { "isle", "run", "--kernel" }, 0, "needs a value" },
	{ { "isle", "run", "--kernel", "" }, 0, "empty file name" },
	{ { "isle", "run", "--kernel", "k", "--bogus", "1" }, 0, "unknown option '--bogus'" },
	{ { "isle", "run", "--kernel", "k", "stray" }, 0, "unexpected argument" },
	{ { "isle", "run", "--kernel", "k", "--memory", "12Q" }, 0, "not a size" },
	{ { "isle", "run", "--kernel", "k", "--memory", "1M" }, 0, "between" },
	{ { "isle", "run", "--kernel", "k", "--memory", "4T" }, 0, "between" },
	{ { "isle", "run", "--kernel", "k", "--memory", "99999999999999999999G" }, 0, "not a size" },
	{ { "isle", "run", "--kernel", "k", "--memory", "10000001K" }, 0, "multiple of 4K" },
	{ { "isle", "run", "--kernel", "k", "--vcpus", "0" }, 0, "from 1 to 255" },
	{ { "isle", "run", "--kernel", "k", "--vcpus", "256" }, 0, "from 1 to 255" },
	{ { "isle", "run", "--kernel", "k", "--vcpus", "-1" }, 0, "from 1 to 255" },
	{ { "isle", "run", "--kernel", "k", "--vcpus", "4x" }, 0, "from 1 to 255" },
	{ { "isle", "run", "--kernel", "k", "--serial", "tcp:1" }, 0, "neither" },
	{ { "isle", "run", "--kernel", "k", "--serial", "file:" }, 0, "neither" },
	{ { "isle", "run", "--kernel", "k", "--disk", "file:a.img" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--disk=tap:aio:a.img,vdev=xvdb" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--disk", "socket=/run/qsd.sock" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--disk", "a", "--disk", "b", "--disk", "c" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--disk", "" }, 0, "empty spec" },
	{ { "isle", "run", "--kernel", "k", "--disk", "vdev=xvda" }, 0, "empty spec" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,vdev=xvda,vdev=xvdb" }, 0, "twice" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,vdev=Xvda" }, 0, "not a name" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,vdev=" }, 0, "not a name" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,vdev=xvdaxvdaxvdaxvdax" }, 0, "too long" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,vdev=xvda", "--disk", "b,vdev=xvda" },
	  0, "used twice" },
	{ { "isle", "run", "--kernel", "k", "--disk", "socket=" }, 0, "needs a path" },
	{ { "isle", "run", "--kernel", "k", "--disk", "socket=,vdev=xvda" }, 0, "needs a path" },
	{ { "isle", "run", "--kernel", "k", "--disk",
	    "socket=/a/very/long/path/that/does/not/fit/in/a/sockaddr_un/because/it/is/longer/"
	    "than/one/hundred/and/seven/bytes.sock" }, 0, "socket path longer" },
	{ { "isle", "run", "--kernel", "k", "--disk" }, 0, "needs a value" },
	/* --net: the vif spec (more in test_vif.c) and what NICs must not share. */
	{ { "isle", "run", "--kernel", "k", "--net", "" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--net", "bridge=xenbr0" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--net=mac=00:16:3e:00:00:01,bridge=br0,"
	    "vifname=vif1.0,script=vif-bridge,mtu=9000,queues=2,model=virtio,type=vif" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--net", "socket=/run/nb.sock" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--net", "bridge=a", "--net", "bridge=a" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--net" }, 0, "--net needs a value" },
	{ { "isle", "run", "--kernel", "k", "--net", "xenbr0" }, 0, "--net: 'xenbr0' is not key=value" },
	{ { "isle", "run", "--kernel", "k", "--net", "bridge=br0,colour=red" }, 0,
	  "--net: unknown key 'colour'" },
	{ { "isle", "run", "--kernel", "k", "--net", "model=e1000" }, 0,
	  "--net: model=e1000 is not supported" },
	{ { "isle", "run", "--kernel", "k", "--net", "rate=10Mb/s" }, 0, "--net: rate= is not supported" },
	{ { "isle", "run", "--kernel", "k", "--net", "ip=192.0.2.1" }, 0, "--net: ip= is not supported" },
	{ { "isle", "run", "--kernel", "k", "--net", "backend=0" }, 0,
	  "--net: backend= is not supported" },
	{ { "isle", "run", "--kernel", "k", "--net", "mac=01:02:03:04:05:06" }, 0, "multicast" },
	{ { "isle", "run", "--kernel", "k", "--net", "vifname=waytoolonginterface" }, 0,
	  "not an interface name" },
	{ { "isle", "run", "--kernel", "k", "--net", "mac=00:16:3e:00:00:01", "--net",
	    "mac=00:16:3e:00:00:01" }, 0, "two NICs with mac=00:16:3e:00:00:01" },
	{ { "isle", "run", "--kernel", "k", "--net", "vifname=v0", "--net", "vifname=v0" }, 0,
	  "two NICs with vifname=v0" },
	{ { "isle", "run", "--kernel", "k", "--net", "socket=/s", "--net", "socket=/s" }, 0,
	  "two NICs on socket=/s" },
	{ { "isle", "run", "--kernel", "k", "--net", "socket=/s,bridge=br0" }, 0,
	  "cannot go with socket=" },
	/* --testdev is a flag. */
	{ { "isle", "run", "--kernel", "k", "--testdev" }, 1, NULL },
	{ { "isle", "run", "--testdev", "--kernel", "k" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--testdev=1" }, 0, "--testdev takes no value" },
	{ { "isle", "run", "--kernel", "k", "--edu=1" }, 0, "--edu takes no value" },
	/* --iommu takes its options only after '='. */
	{ { "isle", "run", "--kernel", "k", "--iommu" }, 1, NULL },
	{ { "isle", "run", "--iommu", "--kernel", "k" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--iommu=aw=39,caching_mode=on" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--iommu=aw=40" }, 0, "--iommu: aw must be 39 or 48" },
	{ { "isle", "run", "--kernel", "k", "--iommu=aw" }, 0, "--iommu: aw must be 39 or 48" },
	{ { "isle", "run", "--kernel", "k", "--iommu=caching_mode=maybe" }, 0,
	  "caching_mode must be on or off" },
	{ { "isle", "run", "--kernel", "k", "--iommu=intremap=off" }, 0,
	  "--iommu: unknown option 'intremap'" },
	/* id=: a name, unique across the VM's devices. */
	{ { "isle", "run", "--kernel", "k", "--disk", "a,id=boot", "--net", "id=lan,bridge=b" },
	  1, NULL },
	{ { "isle", "run", "--kernel", "k", "--disk", "socket=/s,id=d1,vdev=xvdb" }, 1, NULL },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,id=1x" }, 0, "--disk: id '1x' is not a name" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,id=" }, 0, "is not a name" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,id=x,id=y" }, 0, "id= given twice" },
	{ { "isle", "run", "--kernel", "k", "--net", "id=a/b" }, 0, "--net: id 'a/b' is not a name" },
	{ { "isle", "run", "--kernel", "k", "--net", "id=abcdefghijabcdefghijabcdefghijabc" }, 0,
	  "id longer than 31" },
	{ { "isle", "run", "--kernel", "k", "--disk", "a,id=x", "--net", "id=x" }, 0,
	  "--net: id 'x' used twice" },
};

static void test_golden_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *argv[MAXARGS];
		char err[256];
		struct cli cli;
		int argc = 0, r;

		while (argc < MAXARGS && cases[i].argv[argc]) {
			argv[argc] = (char *)cases[i].argv[argc];
			argc++;
		}
		r = cli_parse(argc, argv, &cli, err, sizeof(err));
		if (cases[i].ok) {
			CU_ASSERT_EQUAL(r, 0);
			if (r)
				fprintf(stderr, "case %zu: unexpected error '%s'\n", i, err);
			vm_config_free(&cli.vm);
		} else {
			/* A failed parse leaves nothing to free. */
			CU_ASSERT_PTR_NULL(cli.vm.kernel);
			CU_ASSERT_PTR_NULL(cli.vm.devices);
			CU_ASSERT_NOT_EQUAL(r, 0);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].err_has));
			if (!strstr(err, cases[i].err_has))
				fprintf(stderr, "case %zu: got '%s'\n", i, err);
		}
	}
}

static void test_values(void)
{
	char *argv[] = { "isle", "run", "--kernel=vmlinux", "--memory", "3G", "--vcpus=8",
			 "--cmdline", "console=ttyS0", "--serial", "file:out.log",
			 "--console_socket", "/run/isle/x.console" };
	char err[128];
	struct cli cli;

	CU_ASSERT_EQUAL_FATAL(cli_parse(ARRAY_SIZE(argv), argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cli.action, CLI_RUN);
	CU_ASSERT_STRING_EQUAL(cli.vm.kernel, "vmlinux");
	CU_ASSERT_EQUAL(cli.vm.memory, 3 * GiB);
	CU_ASSERT_EQUAL(cli.vm.vcpus, 8);
	CU_ASSERT_STRING_EQUAL(cli.vm.cmdline, "console=ttyS0");
	CU_ASSERT_STRING_EQUAL(cli.vm.serial_file, "out.log");
	CU_ASSERT_STRING_EQUAL(cli.vm.console_socket, "/run/isle/x.console");
	CU_ASSERT_FALSE(cli.vm.testdev);
	/* The config owns copies: argv may go away. */
	CU_ASSERT_PTR_NOT_EQUAL(cli.vm.kernel, argv[2] + 9);
	CU_ASSERT_PTR_NOT_EQUAL(cli.vm.cmdline, argv[7]);
	vm_config_free(&cli.vm);
	CU_ASSERT_PTR_NULL(cli.vm.kernel);
	CU_ASSERT_PTR_NULL(cli.vm.cmdline);
	CU_ASSERT_PTR_NULL(cli.vm.serial_file);
	CU_ASSERT_PTR_NULL(cli.vm.console_socket);
}

/* --edu adds one edu device spec per use, in command-line order. */
static void test_edu(void)
{
	char *argv[] = { "isle", "run", "--kernel", "k", "--edu", "--disk", "file:a", "--edu" };
	char err[128];
	struct cli cli;

	CU_ASSERT_EQUAL_FATAL(cli_parse(ARRAY_SIZE(argv), argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(cli.vm.nr_devices, 3);
	CU_ASSERT_EQUAL(cli.vm.devices[0].kind, DEVICE_EDU);
	CU_ASSERT_STRING_EQUAL(cli.vm.devices[0].id, "edu0");   /* named by the config */
	CU_ASSERT_STRING_EQUAL(cli.vm.devices[1].id, "disk0");
	CU_ASSERT_STRING_EQUAL(cli.vm.devices[2].id, "edu1");
	CU_ASSERT_EQUAL(cli.vm.devices[2].kind, DEVICE_EDU);
	CU_ASSERT_EQUAL(vm_config_count(&cli.vm, DEVICE_EDU), 2);
	CU_ASSERT_FALSE(cli.vm.testdev);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_usage, "--edu"));
	vm_config_free(&cli.vm);
}

/* --iommu: defaults and options land in the config. */
static void test_iommu(void)
{
	char *plain[] = { "isle", "run", "--kernel", "k", "--iommu", "--edu" };
	char *opts[] = { "isle", "run", "--kernel", "k", "--iommu=aw=39,caching_mode=on" };
	char err[128];
	struct cli cli;

	CU_ASSERT_EQUAL_FATAL(cli_parse(ARRAY_SIZE(plain), plain, &cli, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(cli.vm.iommu.enabled);
	CU_ASSERT_EQUAL(cli.vm.iommu.aw_bits, 0);      /* the default, 48 */
	CU_ASSERT_FALSE(cli.vm.iommu.caching_mode);
	CU_ASSERT_EQUAL(cli.vm.nr_devices, 1);        /* the edu; the VT-d is the platform's */
	vm_config_free(&cli.vm);
	CU_ASSERT_EQUAL_FATAL(cli_parse(ARRAY_SIZE(opts), opts, &cli, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(cli.vm.iommu.enabled);
	CU_ASSERT_EQUAL(cli.vm.iommu.aw_bits, 39);
	CU_ASSERT_TRUE(cli.vm.iommu.caching_mode);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_usage, "--iommu"));
	vm_config_free(&cli.vm);
}

static void test_testdev_and_ids(void)
{
	char *argv[] = { "isle", "run", "--kernel", "k", "--testdev", "--disk", "file:a,id=root",
			 "--net", "bridge=br0", "--disk", "socket=/s,id=d2" };
	char err[128];
	struct cli cli;
	const struct device_spec *d;

	CU_ASSERT_EQUAL_FATAL(cli_parse(ARRAY_SIZE(argv), argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(cli.vm.testdev);
	CU_ASSERT_EQUAL_FATAL(cli.vm.nr_devices, 3);
	d = cli.vm.devices;
	CU_ASSERT_EQUAL(d[0].kind, DEVICE_DISK);
	CU_ASSERT_STRING_EQUAL(d[0].id, "root");
	CU_ASSERT_STRING_EQUAL(d[0].disk.spec, "file:a");
	CU_ASSERT_EQUAL(d[1].kind, DEVICE_NIC);
	CU_ASSERT_STRING_EQUAL(d[1].id, "net0");
	CU_ASSERT_STRING_EQUAL(d[1].nic.bridge, "br0");
	CU_ASSERT_STRING_EQUAL(d[2].id, "d2");
	CU_ASSERT_TRUE(d[2].disk.socket);
	CU_ASSERT_STRING_EQUAL(d[2].disk.spec, "/s");
	CU_ASSERT_STRING_EQUAL(d[2].disk.vdev, "xvdb");
	CU_ASSERT_EQUAL(vm_config_count(&cli.vm, DEVICE_DISK), 2);
	CU_ASSERT_EQUAL(vm_config_count(&cli.vm, DEVICE_NIC), 1);
	vm_config_free(&cli.vm);
}

static void test_disks(void)
{
	char *argv[] = { "isle", "run", "--kernel", "k",
			 "--disk", "tap:aio:/img/a,vdev=xvdb",
			 "--disk", "format=raw,vdev=xvdc,access=ro,target=/img/x,vdev=y",
			 "--disk", "socket=/run/a,b.sock,vdev=vdc",
			 "--disk", "phy:/dev/loop0",
			 "--disk", "/img/b,,,ro",
			 "--disk", ",raw,xvde" };
	char err[128];
	static struct cli cli;
	struct vm_config *c = &cli.vm;

	CU_ASSERT_EQUAL_FATAL(cli_parse(ARRAY_SIZE(argv), argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(c->nr_devices, 6);
	CU_ASSERT_STRING_EQUAL(c->devices[0].disk.spec, "tap:aio:/img/a");
	CU_ASSERT_STRING_EQUAL(c->devices[0].disk.vdev, "xvdb");
	CU_ASSERT_FALSE(c->devices[0].disk.socket);
	/* From target= on it is the path, vdev= or not. */
	CU_ASSERT_STRING_EQUAL(c->devices[1].disk.spec, "format=raw,access=ro,target=/img/x,vdev=y");
	CU_ASSERT_STRING_EQUAL(c->devices[1].disk.vdev, "xvdc");
	CU_ASSERT_TRUE(c->devices[2].disk.socket);
	CU_ASSERT_STRING_EQUAL(c->devices[2].disk.spec, "/run/a,b.sock");
	CU_ASSERT_STRING_EQUAL(c->devices[2].disk.vdev, "vdc");
	/* Defaults: the first free xvdX, skipping taken names. */
	CU_ASSERT_STRING_EQUAL(c->devices[3].disk.spec, "phy:/dev/loop0");
	CU_ASSERT_STRING_EQUAL(c->devices[3].disk.vdev, "xvda");
	CU_ASSERT_STRING_EQUAL(c->devices[4].disk.spec, "/img/b,,,ro");
	CU_ASSERT_STRING_EQUAL(c->devices[4].disk.vdev, "xvdd");
	/* Empty positional fields pass through untouched. */
	CU_ASSERT_STRING_EQUAL(c->devices[5].disk.spec, ",raw,xvde");
	CU_ASSERT_STRING_EQUAL(c->devices[5].disk.vdev, "xvde");
	vm_config_free(c);
}

static void test_too_many_disks(void)
{
	char *argv[4 + 2 * (VM_MAX_DISKS + 1)] = { "isle", "run", "--kernel", "k" };
	char err[128];
	static struct cli cli;

	for (int i = 0; i <= VM_MAX_DISKS; i++) {
		argv[4 + 2 * i] = "--disk";
		argv[5 + 2 * i] = "file:x";
	}
	CU_ASSERT_EQUAL_FATAL(cli_parse(ARRAY_SIZE(argv) - 2, argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(cli.vm.nr_devices, VM_MAX_DISKS);
	CU_ASSERT_STRING_EQUAL(cli.vm.devices[VM_MAX_DISKS - 1].disk.vdev, "xvdh");
	vm_config_free(&cli.vm);
	CU_ASSERT_NOT_EQUAL(cli_parse(ARRAY_SIZE(argv), argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most 8 disks"));
}

static void test_nets(void)
{
	char *argv[4 + 2 * (VM_MAX_NICS + 1)] = { "isle", "run", "--kernel", "k" };
	char err[128];
	static struct cli cli;
	struct vm_config *c = &cli.vm;

	argv[4] = "--net";
	argv[5] = "mac=00:16:3e:0a:0b:0c,bridge=xenbr0,vifname=vif3.0,script=vif-bridge";
	argv[6] = "--net=socket=/run/nb.sock,queues=2";
	CU_ASSERT_EQUAL_FATAL(cli_parse(7, argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(c->nr_devices, 2);
	CU_ASSERT(c->devices[0].nic.mac_set && !memcmp(c->devices[0].nic.mac, "\x00\x16\x3e\x0a\x0b\x0c", 6));
	CU_ASSERT_STRING_EQUAL(c->devices[0].nic.bridge, "xenbr0");
	CU_ASSERT_STRING_EQUAL(c->devices[0].nic.vifname, "vif3.0");
	CU_ASSERT_STRING_EQUAL(c->devices[0].nic.script, "vif-bridge");
	CU_ASSERT_STRING_EQUAL(c->devices[1].nic.socket, "/run/nb.sock");
	CU_ASSERT_EQUAL(c->devices[1].nic.queues, 2);
	CU_ASSERT(!c->devices[1].nic.mac_set);
	vm_config_free(c);
	/* Up to eight; NICs with defaults do not clash. */
	for (int i = 0; i <= VM_MAX_NICS; i++) {
		argv[4 + 2 * i] = "--net";
		argv[5 + 2 * i] = "bridge=xenbr0";
	}
	CU_ASSERT_EQUAL(cli_parse(ARRAY_SIZE(argv) - 2, argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->nr_devices, VM_MAX_NICS);
	vm_config_free(c);
	CU_ASSERT_NOT_EQUAL(cli_parse(ARRAY_SIZE(argv), argv, &cli, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most 8 NICs"));
}

static void test_sizes(void)
{
	uint64_t v;

	CU_ASSERT(config_parse_size("512", MiB, &v) == 0 && v == 512 * MiB);
	CU_ASSERT(config_parse_size("512M", MiB, &v) == 0 && v == 512 * MiB);
	CU_ASSERT(config_parse_size("2GiB", MiB, &v) == 0 && v == 2 * GiB);
	CU_ASSERT(config_parse_size("2gb", MiB, &v) != 0 || v == 2 * GiB);
	CU_ASSERT(config_parse_size("64k", MiB, &v) == 0 && v == 64 * KiB);
	CU_ASSERT(config_parse_size("1T", MiB, &v) == 0 && v == 1024 * GiB);
	CU_ASSERT(config_parse_size("", MiB, &v) != 0);
	CU_ASSERT(config_parse_size("M", MiB, &v) != 0);
	CU_ASSERT(config_parse_size("1MM", MiB, &v) != 0);
	CU_ASSERT(config_parse_size("18446744073709551615T", MiB, &v) != 0);
}

void unit_register(void)
{
	UNIT_SUITE("cli", UNIT_TEST(test_golden_table), UNIT_TEST(test_values),
		   UNIT_TEST(test_testdev_and_ids), UNIT_TEST(test_edu), UNIT_TEST(test_iommu),
		   UNIT_TEST(test_disks), UNIT_TEST(test_too_many_disks), UNIT_TEST(test_nets),
		   UNIT_TEST(test_sizes));
}
