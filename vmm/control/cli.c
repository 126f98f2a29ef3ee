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
#include "boot/layout.h"

const char cli_usage[] =
	"usage: isle run --kernel FILE [options]\n"
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
	"\n"
	"exit status: the value a test guest writes to port 0xf4; 0 on poweroff or reset;\n"
	"1 on a VMM error; 2 on a bad command line; 3 on a guest triple fault;\n"
	"128+N when ended by signal N.\n";

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
	       OPT_DISK, OPT_NET };

static const struct { const char *name; enum cli_opt opt; } cli_opts[] = {
	{ "kernel", OPT_KERNEL }, { "initrd", OPT_INITRD }, { "cmdline", OPT_CMDLINE },
	{ "memory", OPT_MEMORY }, { "vcpus", OPT_VCPUS }, { "serial", OPT_SERIAL },
	{ "disk", OPT_DISK }, { "net", OPT_NET },
};

/* A socket path must fit a sockaddr_un (108 bytes with the NUL). */
#define CLI_SOCK_MAX 107

static bool cli_vdev_ok(const char *v)
{
	size_t n = strlen(v);

	if (!n || n >= VM_DISK_VDEV_MAX || v[0] < 'a' || v[0] > 'z')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9')))
			return false;
	return true;
}

static int cli_vdev(struct vm_config *c, struct vm_disk *d, const char *v, size_t len,
		    char *err, size_t errlen)
{
	if (d->vdev[0])
		return cli_fail(err, errlen, "--disk: vdev= given twice");
	if (len >= VM_DISK_VDEV_MAX)
		return cli_fail(err, errlen, "--disk: vdev name too long");
	memcpy(d->vdev, v, len);
	d->vdev[len] = '\0';
	if (!cli_vdev_ok(d->vdev))
		return cli_fail(err, errlen, "--disk: vdev '%.16s' is not a name like xvda",
				d->vdev);
	for (unsigned int i = 0; i < c->nr_disks; i++)
		if (!strcmp(c->disks[i].vdev, d->vdev))
			return cli_fail(err, errlen, "--disk: vdev '%s' used twice", d->vdev);
	return 0;
}

/* --disk socket=PATH[,vdev=NAME]: a vdev= can only be the last component
 * (the path may contain commas). */
static int cli_disk_socket(struct vm_config *c, struct vm_disk *d, const char *path,
			   char *err, size_t errlen)
{
	const char *v = strrchr(path, ',');
	size_t plen = strlen(path);

	if (v && !strncmp(v, ",vdev=", 6)) {
		if (cli_vdev(c, d, v + 6, strlen(v + 6), err, errlen))
			return -EINVAL;
		plen = (size_t)(v - path);
	}
	if (!plen)
		return cli_fail(err, errlen, "--disk: socket= needs a path");
	if (plen > CLI_SOCK_MAX)
		return cli_fail(err, errlen, "--disk: socket path longer than %d bytes",
				CLI_SOCK_MAX);
	memcpy(d->spec, path, plen);
	d->spec[plen] = '\0';
	d->socket = d->spec;
	return 0;
}

/* --disk SPEC: isle's own vdev= comes out; the rest goes to isle-tapdisk as
 * it is (it validates the xl syntax). From target= on, everything is the
 * path and is not looked at. */
static int cli_disk(struct vm_config *c, const char *val, char *err, size_t errlen)
{
	struct vm_disk *d;
	const char *p = val;
	size_t out = 0;
	bool first = true;

	if (c->nr_disks == VM_MAX_DISKS)
		return cli_fail(err, errlen, "--disk: at most %d disks", VM_MAX_DISKS);
	if (strlen(val) >= VM_DISK_SPEC_MAX)
		return cli_fail(err, errlen, "--disk: spec longer than %d bytes",
				VM_DISK_SPEC_MAX - 1);
	d = &c->disks[c->nr_disks];
	memset(d, 0, sizeof(*d));
	if (!strncmp(val, "socket=", 7)) {
		if (cli_disk_socket(c, d, val + 7, err, errlen))
			return -EINVAL;
		c->nr_disks++;
		return 0;
	}
	while (*p) {
		const char *end = strncmp(p, "target=", 7) ? strchr(p, ',') : NULL;
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!strncmp(p, "vdev=", 5)) {
			if (cli_vdev(c, d, p + 5, len - 5, err, errlen))
				return -EINVAL;
		} else {
			if (!first)
				d->spec[out++] = ',';
			memcpy(d->spec + out, p, len);
			out += len;
			first = false;
		}
		if (!end)
			break;
		p = end + 1;
	}
	d->spec[out] = '\0';
	if (!d->spec[0])
		return cli_fail(err, errlen, "--disk: empty spec (e.g. file:disk.img)");
	c->nr_disks++;
	return 0;
}

/* --net SPEC: vmm/control/vif.c checks the spec; what must differ between the
 * NICs of one VM is checked here. */
static int cli_net(struct vm_config *c, const char *val, char *err, size_t errlen)
{
	struct vif *v;
	char msg[200];

	if (c->nr_nics == VM_MAX_NICS)
		return cli_fail(err, errlen, "--net: at most %d NICs", VM_MAX_NICS);
	v = &c->nics[c->nr_nics];
	if (vif_parse(val, v, msg, sizeof(msg)))
		return cli_fail(err, errlen, "--net: %s", msg);
	for (unsigned int i = 0; i < c->nr_nics; i++) {
		const struct vif *o = &c->nics[i];

		if (v->mac_set && o->mac_set && !memcmp(v->mac, o->mac, 6)) {
			vif_format_mac(v->mac, msg);
			return cli_fail(err, errlen, "--net: two NICs with mac=%s", msg);
		}
		if (v->vifname[0] && !strcmp(v->vifname, o->vifname))
			return cli_fail(err, errlen, "--net: two NICs with vifname=%s", v->vifname);
		if (v->socket[0] && !strcmp(v->socket, o->socket))
			return cli_fail(err, errlen, "--net: two NICs on socket=%.64s", v->socket);
	}
	c->nr_nics++;
	return 0;
}

/* Disks without vdev= get the first free xvdX, in order. */
static void cli_disk_names(struct vm_config *c)
{
	char name[VM_DISK_VDEV_MAX];
	unsigned int next = 0;

	for (unsigned int i = 0; i < c->nr_disks; i++) {
		bool used;

		if (c->disks[i].vdev[0])
			continue;
		do {
			snprintf(name, sizeof(name), "xvd%c", 'a' + next++);
			used = false;
			for (unsigned int j = 0; j < c->nr_disks; j++)
				used |= !strcmp(c->disks[j].vdev, name);
		} while (used);
		memcpy(c->disks[i].vdev, name, sizeof(name));
	}
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
		*(opt == OPT_KERNEL ? &c->kernel : &c->initrd) = val;
		break;
	case OPT_CMDLINE:
		if (strlen(val) >= LAYOUT_CMDLINE_MAX)
			return cli_fail(err, errlen, "--cmdline: longer than %llu bytes",
					LAYOUT_CMDLINE_MAX - 1);
		c->cmdline = val;
		break;
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
		return cli_disk(c, val, err, errlen);
	case OPT_NET:
		return cli_net(c, val, err, errlen);
	case OPT_SERIAL:
		if (!strcmp(val, "stdio"))
			c->serial_file = NULL;
		else if (!strncmp(val, "file:", 5) && val[5])
			c->serial_file = val + 5;
		else
			return cli_fail(err, errlen,
					"--serial: '%.64s' is neither 'stdio' nor 'file:PATH'", val);
		break;
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
		if (eq) {
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
	cli_disk_names(&cli->vm);
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
		return cli_parse_run(argc - 2, argv + 2, cli, err, errlen);
	}
	return cli_fail(err, errlen, "unknown command '%.64s' (try 'isle --help')", argv[1]);
}
