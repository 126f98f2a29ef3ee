/* `isle` command line: `isle run --kernel FILE [options]`, `isle --help`,
 * `isle --version`. Both "--opt value" and "--opt=value" are accepted. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/util.h"
#include "vmm/cli.h"
#include "vmm/layout.h"

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

enum cli_opt { OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_MEMORY, OPT_VCPUS, OPT_SERIAL };

static const struct { const char *name; enum cli_opt opt; } cli_opts[] = {
	{ "kernel", OPT_KERNEL }, { "initrd", OPT_INITRD }, { "cmdline", OPT_CMDLINE },
	{ "memory", OPT_MEMORY }, { "vcpus", OPT_VCPUS }, { "serial", OPT_SERIAL },
};

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
