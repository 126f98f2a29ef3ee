/* isle: parse the command line and hand over to the verb: `run` (a VM in
 * this process, instance.c), xl's verbs (xl.c), pci-assignable-*. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "isle/log.h"
#include "assignable.h"
#include "control/cli.h"
#include "control/instance.h"
#include "control/rundir.h"
#include "control/xl.h"
#include "core/vm.h"

#ifndef ISLE_VERSION
#define ISLE_VERSION "0.1.0"
#endif

int main(int argc, char **argv)
{
	struct cli cli;
	char err[256];

	log_init("isle");
	/* xl's verbs for host devices (vfio-glue/assignable.c). */
	if (argc > 1 && !strncmp(argv[1], "pci-assignable-", 15))
		return pci_assignable_main(argc - 1, argv + 1);
	/* xl's verbs for VMs (vmm/control/xl.c). */
	if (argc > 1 && xl_is_verb(argv[1]))
		return xl_main(argc - 1, argv + 1);
	if (cli_parse(argc, argv, &cli, err, sizeof(err))) {
		fprintf(stderr, "isle: %s\n", err);
		return ISLE_EXIT_USAGE;
	}
	if (cli.action != CLI_RUN) {
		if (cli.action == CLI_HELP)
			fputs(cli_usage, stdout);
		else
			printf("isle %s\n", ISLE_VERSION);
		vm_config_free(&cli.vm);
		return 0;
	}
	/* A named VM answers on its run directory's socket unless told where
	 * (none when that path would be too long). */
	if (!cli.api_socket[0] && cli.vm.name &&
	    rundir_path(cli.api_socket, sizeof(cli.api_socket), cli.vm.name, "sock"))
		cli.api_socket[0] = '\0';
	return inst_run(&cli.vm, cli.vm.kernel != NULL, cli.api_socket);
}
