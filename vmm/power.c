/* Power and reset controls a guest may use to end the VM:
 * - ACPI hardware-reduced sleep control register (0x3c0): SLP_EN with
 *   SLP_TYP = S5 powers off (what Linux does on poweroff with our FADT);
 * - the reset control register (0xcf9, the FADT RESET_REG): reset;
 * - the i8042 keyboard controller's pulse-reset command (0xfe to 0x64).
 * isle does not reboot: a reset ends the VM with status 0 and says so. */
#include <string.h>

#include "isle/log.h"
#include "vmm/acpi.h"
#include "vmm/power.h"
#include "vmm/vm.h"

#define SLP_EN           0x20
#define SLP_TYP(v)       (((v) >> 2) & 7)
#define I8042_CMD_PORT   0x64
#define I8042_DATA_PORT  0x60
#define I8042_CMD_RESET  0xfe
#define CF9_RESET_CPU    0x04

void power_reset_control(struct vm *vm, uint8_t val)
{
	if (val & CF9_RESET_CPU)
		vm_stop(vm, ISLE_EXIT_OK, "guest requested a reset (port 0xcf9); isle does not reboot");
}

static void power_sleep_access(void *opaque, uint64_t offset, void *data, unsigned int len,
			       bool is_write)
{
	struct vm *vm = opaque;
	uint8_t v = *(uint8_t *)data;

	if (!is_write) {
		memset(data, 0, len);   /* no wake events ever pending */
		return;
	}
	if (offset == 0 && (v & SLP_EN) && SLP_TYP(v) == ACPI_S5_SLP_TYP)
		vm_stop(vm, ISLE_EXIT_OK, "guest powered off");
	else if (offset == 0 && (v & SLP_EN))
		log_warn("guest asked for sleep type %u, which isle does not offer", SLP_TYP(v));
}

static void power_i8042_access(void *opaque, uint64_t offset, void *data, unsigned int len,
			       bool is_write)
{
	struct vm *vm = opaque;

	if (!is_write) {
		/* Status: output buffer empty, input buffer empty: no keyboard. */
		memset(data, 0, len);
		return;
	}
	if (offset == I8042_CMD_PORT - I8042_DATA_PORT && *(uint8_t *)data == I8042_CMD_RESET)
		vm_stop(vm, ISLE_EXIT_OK, "guest requested a reset (i8042); isle does not reboot");
}

static int power_init(struct vm *vm)
{
	int r;

	r = bus_register(&vm->pio, ACPI_SLEEP_CONTROL_PORT, 2, power_sleep_access, vm,
			 "acpi-sleep");
	if (!r)
		r = bus_register(&vm->pio, I8042_DATA_PORT, I8042_CMD_PORT - I8042_DATA_PORT + 1,
				 power_i8042_access, vm, "i8042");
	return r;
}

const struct vm_device_ops power_device = {
	.name = "power",
	.init = power_init,
};
