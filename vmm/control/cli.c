/* `isle` command line: `isle run --kernel FILE [options]`, `isle --help`,
 * `isle --version`. Both "--opt value" and "--opt=value" are accepted. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "isle/log.h"
#include "control/cli.h"
#include "control/config.h"

const char cli_usage[] =
	"usage: isle run --kernel FILE [options]\n"
	"       isle pci-assignable-add BDF | pci-assignable-remove [-r] BDF |\n"
	"            pci-assignable-list\n"
	"       isle run --api-socket PATH   (waits for vm.create and vm.boot)\n"
	"       isle --help | --version\n"
	"\n"
	"run options:\n"
	"  --kernel FILE        bzImage or PVH ELF (vmlinux, test guest)\n"
	"  --api-socket PATH    serve the JSON control API (cloud-hypervisor's /api/v1/)\n"
	"                       on a unix socket\n"
	"  --name NAME          the VM's name (isle list, /run/isle/NAME.*)\n"
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
	"  --maxmem SIZE        above --memory: RAM is maxmem and\n"
	"                       the guest starts with a balloon of the difference (as xl)\n"
	"  --balloon[=deflate_on_oom=on,stats=SECONDS,free_page_reporting=on,vfio=allow]\n"
	"                       a virtio-balloon: the guest gives RAM back to the host on\n"
	"                       request (isle mem-set, vm.resize, vm.balloon); with an\n"
	"                       assigned device inflating is refused unless vfio=allow\n"
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

static int cli_parse_run(int argc, char *const argv[], struct cli *cli, char *err,
			 size_t errlen)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *val, *eq;
		char name[32];
		size_t nlen;
		bool flag;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			cli->action = CLI_HELP;
			return 0;
		}
		if (strncmp(arg, "--", 2))
			return err_msg(err, errlen, -EINVAL, "unexpected argument '%.64s'", arg);
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		if (nlen >= sizeof(name))
			return err_msg(err, errlen, -EINVAL, "unknown option '--%.*s'", 64, arg);
		memcpy(name, arg, nlen);
		name[nlen] = '\0';
		/* --iommu and --balloon alone mean their defaults; --edu and
		 * --testdev take no value. */
		flag = vm_config_key_flag(name);
		if (flag || !strcmp(name, "iommu") || !strcmp(name, "balloon")) {
			if (eq && flag)
				return err_msg(err, errlen, -EINVAL, "--%s takes no value", name);
			val = eq ? eq + 1 : "";
		} else if (strcmp(name, "api-socket") && !vm_config_key_known(name)) {
			return err_msg(err, errlen, -EINVAL, "unknown option '--%s'", name);
		} else if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return err_msg(err, errlen, -EINVAL, "--%s needs a value", name);
			val = argv[++i];
		}
		if (!strcmp(name, "api-socket")) {
			if (!*val || strlen(val) >= sizeof(cli->api_socket))
				return err_msg(err, errlen, -EINVAL, "--api-socket: a socket path of "
					       "1-%zu bytes", sizeof(cli->api_socket) - 1);
			strcpy(cli->api_socket, val);
		} else if (vm_config_set(&cli->vm, "--", name, val, err, errlen)) {
			return -EINVAL;
		}
	}
	/* With only --api-socket, isle waits for vm.create and vm.boot. */
	if (!cli->vm.kernel && cli->api_socket[0] && cli->vm.nr_devices == 0)
		return 0;
	if (!cli->vm.kernel)
		return err_msg(err, errlen, -EINVAL, "run: --kernel FILE is required");
	if (vm_config_finish(&cli->vm, err, errlen))
		return -EINVAL;
	return 0;
}

int cli_parse(int argc, char *const argv[], struct cli *cli, char *err, size_t errlen)
{
	memset(cli, 0, sizeof(*cli));
	vm_config_init(&cli->vm);
	if (errlen)
		err[0] = '\0';

	if (argc < 2)
		return err_msg(err, errlen, -EINVAL, "no command given (try 'isle --help')");
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
	return err_msg(err, errlen, -EINVAL, "unknown command '%.64s' (try 'isle --help')",
		       argv[1]);
}
