/* libFuzzer target for the test device's report port: the first 8 bytes
 * are the address the guest writes, the rest is guest RAM at 1 MiB. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "devices/testdev.h"
#include "core/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[8192];
	struct vm vm;
	struct testdev td;
	uint64_t gpa = 0;

	if (size < 8)
		return 0;
	memcpy(&gpa, data, 8);
	memset(&vm, 0, sizeof(vm));
	memset(&td, 0, sizeof(td));
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 8, size - 8 < sizeof(ram) ? size - 8 : sizeof(ram));
	gmem_add(&vm.gmem, 0x100000, sizeof(ram), ram, -1, 0);
	td.vm = &vm;
	pthread_mutex_init(&td.lock, NULL);
	testdev_report(&td, gpa);
	pthread_mutex_destroy(&td.lock);
	return 0;
}
