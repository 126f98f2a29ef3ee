/* isle: parse the command line, build the VM, run it, and say how it ended. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "isle/log.h"
#include "control/cli.h"
#include "devices/serial.h"
#include "devices/testdev.h"
#include "core/vm.h"

#ifndef ISLE_VERSION
#define ISLE_VERSION "0.1.0"
#endif

/* A guest that exits 0 after reporting a failure has not passed. */
static int main_check_reports(struct vm *vm, int status)
{
	struct testdev *td = vm->testdev;

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
	struct vm vm;
	int status;

	log_init("isle");
	if (cli_parse(argc, argv, &cli, err, sizeof(err))) {
		fprintf(stderr, "isle: %s\n", err);
		return ISLE_EXIT_USAGE;
	}
	if (cli.action == CLI_HELP) {
		fputs(cli_usage, stdout);
		return 0;
	}
	if (cli.action == CLI_VERSION) {
		printf("isle %s\n", ISLE_VERSION);
		return 0;
	}
	status = vm_create(&vm, &cli.vm);
	if (status) {
		vm_destroy(&vm);
		/* Bad files and images are the user's input, like a bad option. */
		return status == -ENOEXEC ? ISLE_EXIT_USAGE : ISLE_EXIT_ERROR;
	}
	status = vm_run(&vm);
	if (vm.serial)
		serial_flush(vm.serial);
	log_info("%s (exit status %d)", vm.exit_msg, status);
	status = main_check_reports(&vm, status);
	vm_destroy(&vm);
	return status;
}
