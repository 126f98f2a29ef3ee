/* `isle` command line: `isle run --kernel FILE [options]`, `isle --help`,
 * `isle --version`. Both "--opt value" and "--opt=value" are accepted. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/util.h"
#include "control/cli.h"
#include "core/device.h"
#include "boot/layout.h"

const char cli_usage[] =
	"usage: isle run --kernel FILE [options]\n"
	"       isle pci-assignable-add BDF | pci-assignable-remove [-r] BDF |\n"
	"            pci-assignable-list\n"
	"       isle --help | --version\n"
	"\n"
	"run options:\n"
	"  --kernel FILE        bzImage or PVH ELF (vmlinux, test guest)\n"
	"  --initrd FILE        initial ramdisk\n"
	"  --cmdline STR        kernel command line\n"
	"  --memory SIZE        guest RAM, e.g. 512M or 2G; a bare number is MiB (default 256M)\n"
	"  --vcpus N            virtual CPUs, 1-255 (default 1)\n"
	"  --serial stdio|file:PATH   where COM1 goes (default stdio)\n"
	"  --disk SPEC[,vdev=NAME]    a virtio-blk disk (up to 8): isle starts an\n"
	"                       isle-tapdisk serving SPEC (xl disk syntax, e.g.\n"
	"                       file:IMG, phy:/dev/vg/lv, tap:aio:IMG, access=ro,target=IMG),\n"
	"                       restarted if it dies; or socket=PATH: connect to a running\n"
	"                       vhost-user-blk backend. NAME defaults to xvda, xvdb, ...\n"
	"  --net SPEC           a virtio-net NIC (up to 8), SPEC in xl's vif syntax:\n"
	"                       mac=MAC,bridge=BR,vifname=TAP,script=vif-bridge,mtu=N,\n"
	"                       queues=N (isle's), model=virtio, type=vif; isle starts an\n"
	"                       isle-netback with a tap on BR, restarted if it dies (MAC\n"
	"                       default: random 00:16:3e:xx:xx:xx; TAP: isle<pid>.<n>); or\n"
	"                       socket=PATH: connect to a running vhost-user-net backend\n"
	"  --testdev            add isle's test device (for test guests): the guest may end\n"
	"                       the VM with a status of its choice (port 0xf4), report\n"
	"                       results (port 0xf8), and has a PCI test function\n"
	"  --edu                add a QEMU-compatible edu PCI device (1234:11e8: DMA,\n"
	"                       MSI, INTx; for DMA and IOMMU tests); may be repeated\n"
	"  --iommu[=aw=39|48,caching_mode=on|off]\n"
	"                       put every PCI device behind an emulated Intel VT-d (DMA and\n"
	"                       interrupt remapping, an ACPI DMAR table); aw: address width\n"
	"                       (default 48)\n"
	"  --pci BDF[@VSLOT][,KEY=VALUE...]\n"
	"                       assign a host PCI function bound to vfio-pci (see\n"
	"                       isle pci-assignable-add), in xl's syntax: keys permissive,\n"
	"                       seize, msitranslate=0, power_mgmt=0, rdm_policy, name, and\n"
	"                       isle's msix_relocation=auto|on|off; may be repeated. Guest\n"
	"                       RAM is pinned: RLIMIT_MEMLOCK must allow it (or run as root)\n"
	"\n"
	"exit status: 0 on poweroff or reset; 1 on a VMM error; 2 on a bad command line;\n"
	"3 on a guest triple fault; 128+N when ended by signal N; with --testdev, also the\n"
	"value the guest writes to port 0xf4.\n";

static int cli_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = MiB;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -EINVAL;
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = KiB;
		p++;
		break;
	case 'm': case 'M':
		mult = MiB;
		p++;
		break;
	case 'g': case 'G':
		mult = GiB;
		p++;
		break;
	case 't': case 'T':
		mult = 1024 * GiB;
		p++;
		break;
	default:
		return -EINVAL;
	}
	if (*p == 'i' && p[1] == 'B')
		p += 2;
	else if (*p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

static int cli_parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (unsigned int)v;
	return 0;
}

enum cli_opt { OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_MEMORY, OPT_VCPUS, OPT_SERIAL,
	       OPT_DISK, OPT_NET, OPT_TESTDEV, OPT_EDU, OPT_IOMMU, OPT_PCI };

/* What an option takes: a value (--name VAL or --name=VAL), none, or an
 * optional one (only as --name=VAL). */
enum cli_arg { ARG_VALUE, ARG_NONE, ARG_OPTIONAL };

static const struct { const char *name; enum cli_opt opt; enum cli_arg arg; } cli_opts[] = {
	{ "kernel", OPT_KERNEL, ARG_VALUE }, { "initrd", OPT_INITRD, ARG_VALUE },
	{ "cmdline", OPT_CMDLINE, ARG_VALUE }, { "memory", OPT_MEMORY, ARG_VALUE },
	{ "vcpus", OPT_VCPUS, ARG_VALUE }, { "serial", OPT_SERIAL, ARG_VALUE },
	{ "disk", OPT_DISK, ARG_VALUE }, { "net", OPT_NET, ARG_VALUE },
	{ "testdev", OPT_TESTDEV, ARG_NONE }, { "edu", OPT_EDU, ARG_NONE },
	{ "iommu", OPT_IOMMU, ARG_OPTIONAL }, { "pci", OPT_PCI, ARG_VALUE },
};

static int cli_onoff(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* --iommu's KEY=VALUE list. */
static int cli_iommu(struct vm_iommu *io, const char *val, char *err, size_t errlen)
{
	char buf[128], *save = NULL, *kv;

	io->enabled = true;
	if (strlen(val) >= sizeof(buf))
		return cli_fail(err, errlen, "--iommu: options too long");
	strcpy(buf, val);
	for (kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "";

		if (eq)
			*eq = '\0';
		if (!strcmp(kv, "aw")) {
			if (strcmp(v, "39") && strcmp(v, "48"))
				return cli_fail(err, errlen, "--iommu: aw must be 39 or 48, not '%.16s'",
						v);
			io->aw_bits = (unsigned int)atoi(v);
		} else if (!strcmp(kv, "caching_mode")) {
			if (cli_onoff(v, &io->caching_mode))
				return cli_fail(err, errlen,
						"--iommu: caching_mode must be on or off, not '%.16s'", v);
			io->caching_mode_off = !io->caching_mode;
		} else {
			return cli_fail(err, errlen, "--iommu: unknown option '%.32s' (aw, caching_mode)",
					kv);
		}
	}
	return 0;
}

/* --disk / --net: the one spec validator (vmm/core/device.c) checks the
 * text, vm_config_add what must differ between devices of one VM and the
 * limits; messages get the option as prefix. */
static int cli_device(struct vm_config *c, enum device_kind kind, const char *name,
		      const char *val, char *err, size_t errlen)
{
	struct device_spec *spec = malloc(sizeof(*spec));   /* ~6 KiB */
	char msg[200];
	int r;

	if (!spec)
		return cli_fail(err, errlen, "--%s: out of memory", name);
	r = device_spec_parse(kind, val, spec, msg, sizeof(msg));
	if (!r)
		r = vm_config_add(c, spec, msg, sizeof(msg));
	free(spec);
	if (r)
		return cli_fail(err, errlen, "--%s: %s", name, msg);
	return 0;
}

/* Keeps a copy of a command-line string: the config owns what it holds. */
static int cli_str(char **field, const char *name, const char *val, char *err, size_t errlen)
{
	if (vm_config_set_str(field, val))
		return cli_fail(err, errlen, "--%s: out of memory", name);
	return 0;
}

static int cli_apply(struct cli *cli, enum cli_opt opt, const char *name, const char *val,
		     char *err, size_t errlen)
{
	struct vm_config *c = &cli->vm;
	int r;

	switch (opt) {
	case OPT_KERNEL:
	case OPT_INITRD:
		if (!*val)
			return cli_fail(err, errlen, "--%s: empty file name", name);
		return cli_str(opt == OPT_KERNEL ? &c->kernel : &c->initrd, name, val, err, errlen);
	case OPT_CMDLINE:
		if (strlen(val) >= LAYOUT_CMDLINE_MAX)
			return cli_fail(err, errlen, "--cmdline: longer than %llu bytes",
					LAYOUT_CMDLINE_MAX - 1);
		return cli_str(&c->cmdline, name, val, err, errlen);
	case OPT_MEMORY:
		r = cli_parse_size(val, &c->memory);
		if (r)
			return cli_fail(err, errlen, "--memory: '%.64s' is not a size (e.g. 512M, 2G)",
					val);
		if (c->memory < LAYOUT_MIN_RAM || c->memory > CLI_MAX_MEMORY)
			return cli_fail(err, errlen, "--memory: must be between %lluM and %lluG",
					LAYOUT_MIN_RAM >> 20, CLI_MAX_MEMORY >> 30);
		if (c->memory % (4 * KiB))
			return cli_fail(err, errlen, "--memory: must be a multiple of 4K");
		break;
	case OPT_VCPUS:
		r = cli_parse_uint(val, CLI_MAX_VCPUS, &c->vcpus);
		if (r || c->vcpus == 0)
			return cli_fail(err, errlen, "--vcpus: '%.64s' is not a number from 1 to %d",
					val, CLI_MAX_VCPUS);
		break;
	case OPT_DISK:
		return cli_device(c, DEVICE_DISK, name, val, err, errlen);
	case OPT_NET:
		return cli_device(c, DEVICE_NIC, name, val, err, errlen);
	case OPT_SERIAL:
		if (!strcmp(val, "stdio"))
			return cli_str(&c->serial_file, name, NULL, err, errlen);
		if (!strncmp(val, "file:", 5) && val[5])
			return cli_str(&c->serial_file, name, val + 5, err, errlen);
		return cli_fail(err, errlen, "--serial: '%.64s' is neither 'stdio' nor 'file:PATH'",
				val);
	case OPT_TESTDEV:
		c->testdev = true;
		break;
	case OPT_EDU:
		return cli_device(c, DEVICE_EDU, name, "", err, errlen);
	case OPT_IOMMU:
		return cli_iommu(&c->iommu, val, err, errlen);
	case OPT_PCI:
		return cli_device(c, DEVICE_PCI, name, val, err, errlen);
	}
	return 0;
}

static int cli_parse_run(int argc, char *const argv[], struct cli *cli, char *err,
			 size_t errlen)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *val, *eq;
		size_t nlen;
		size_t k;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			cli->action = CLI_HELP;
			return 0;
		}
		if (strncmp(arg, "--", 2))
			return cli_fail(err, errlen, "unexpected argument '%.64s'", arg);
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		for (k = 0; k < ARRAY_SIZE(cli_opts); k++)
			if (strlen(cli_opts[k].name) == nlen && !strncmp(cli_opts[k].name, arg, nlen))
				break;
		if (k == ARRAY_SIZE(cli_opts))
			return cli_fail(err, errlen, "unknown option '--%.*s'", (int)MIN(nlen, 64),
					arg);
		if (cli_opts[k].arg == ARG_NONE) {
			if (eq)
				return cli_fail(err, errlen, "--%s takes no value", cli_opts[k].name);
			val = "";
		} else if (cli_opts[k].arg == ARG_OPTIONAL) {
			val = eq ? eq + 1 : "";
		} else if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return cli_fail(err, errlen, "--%s needs a value", cli_opts[k].name);
			val = argv[++i];
		}
		if (cli_apply(cli, cli_opts[k].opt, cli_opts[k].name, val, err, errlen))
			return -EINVAL;
	}
	if (!cli->vm.kernel)
		return cli_fail(err, errlen, "run: --kernel FILE is required");
	if (cli->vm.iommu.caching_mode_off && vm_config_count(&cli->vm, DEVICE_PCI))
		return cli_fail(err, errlen, "--iommu: caching_mode=off cannot be used with --pci "
				"(the host IOMMU learns the guest's mappings from its invalidations)");
	vm_config_name_disks(&cli->vm);
	return 0;
}

int cli_parse(int argc, char *const argv[], struct cli *cli, char *err, size_t errlen)
{
	memset(cli, 0, sizeof(*cli));
	cli->vm.memory = CLI_DEFAULT_MEMORY;
	cli->vm.vcpus = 1;
	if (errlen)
		err[0] = '\0';

	if (argc < 2)
		return cli_fail(err, errlen, "no command given (try 'isle --help')");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		cli->action = CLI_HELP;
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		cli->action = CLI_VERSION;
		return 0;
	}
	if (!strcmp(argv[1], "run")) {
		cli->action = CLI_RUN;
		if (cli_parse_run(argc - 2, argv + 2, cli, err, errlen)) {
			vm_config_free(&cli->vm);
			return -EINVAL;
		}
		return 0;
	}
	return cli_fail(err, errlen, "unknown command '%.64s' (try 'isle --help')", argv[1]);
}
