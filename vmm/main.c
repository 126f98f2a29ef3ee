/* isle: parse the command line, build the VM, run it, and say how it ended. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "isle/log.h"
#include "assignable.h"
#include "control/cli.h"
#include "devices/serial.h"
#include "devices/testdev.h"
#include "core/device.h"
#include "core/vm.h"

#ifndef ISLE_VERSION
#define ISLE_VERSION "0.1.0"
#endif

/* A guest that exits 0 after reporting a failure has not passed. */
static int main_check_reports(struct vm *vm, int status)
{
	struct testdev *td = device_priv_of_type(vm, &testdev_type);

	if (!td || !td->reports)
		return status;
	log_info("guest reported %u passed, %u failed, %u skipped", td->passed, td->failed,
		 td->skipped);
	if (status == 0 && td->failed) {
		log_error("guest exited 0 but reported %u failure(s)", td->failed);
		return ISLE_EXIT_ERROR;
	}
	return status;
}

int main(int argc, char **argv)
{
	char err[256];
	struct cli cli;
	struct serial *serial;
	struct vm vm;
	int status;

	log_init("isle");
	/* xl's verbs for host devices (vfio-glue/assignable.c). */
	if (argc > 1 && !strncmp(argv[1], "pci-assignable-", 15))
		return pci_assignable_main(argc - 1, argv + 1);
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
	status = vm_create(&vm, &cli.vm);
	if (status) {
		vm_destroy(&vm);
		vm_config_free(&cli.vm);
		/* Bad files and images are the user's input, like a bad option. */
		return status == -ENOEXEC ? ISLE_EXIT_USAGE : ISLE_EXIT_ERROR;
	}
	status = vm_run(&vm);
	if ((serial = device_priv_of_type(&vm, &serial_type)))
		serial_flush(serial);
	log_info("%s (exit status %d)", vm.exit_msg, status);
	status = main_check_reports(&vm, status);
	vm_destroy(&vm);   /* every device unrealized, newest first */
	vm_config_free(&cli.vm);
	return status;
}
