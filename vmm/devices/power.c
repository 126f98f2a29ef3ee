/* Power and reset controls a guest may use to end the VM:
 * - ACPI hardware-reduced sleep control register (0x3c0): SLP_EN with
 *   SLP_TYP = S5 powers off (what Linux does on poweroff with our FADT);
 * - the reset control register (0xcf9, the FADT RESET_REG): reset;
 * - the i8042 keyboard controller's pulse-reset command (0xfe to 0x64).
 * - the real-mode reset vector F000:FFF0, where a guest that resets "through
 *   the BIOS" jumps: isle has no BIOS, so a stub there writes 0xcf9.
 * A reset ends this VM with status 0 (VM_STOP_RESET); whether a new one
 * starts is the config's on_reboot (vmm/control/instance.c). */
#include <errno.h>
#include <string.h>

#include "isle/log.h"
#include "boot/acpi.h"
#include "boot/layout.h"
#include "devices/power.h"
#include "core/vm.h"

#define SLP_EN           0x20
#define SLP_TYP(v)       (((v) >> 2) & 7)
#define I8042_CMD_PORT   0x64
#define I8042_DATA_PORT  0x60
#define I8042_CMD_RESET  0xfe
#define CF9_RESET_CPU    0x04

void power_reset_control(struct vm *vm, uint8_t val)
{
	if (val & CF9_RESET_CPU)
		vm_stop_why(vm, VM_STOP_RESET, ISLE_EXIT_OK, "guest requested a reset (port 0xcf9)");
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
		vm_stop_why(vm, VM_STOP_RESET, ISLE_EXIT_OK, "guest requested a reset (i8042)");
}

/* Linux's reboot falls back to the BIOS (machine_real_restart: real mode,
 * ljmp F000:FFF0) after its other methods; for hardware-reduced ACPI it
 * picks EFI first, which does nothing without EFI, so that is where a plain
 * `reboot` lands. Without code there it would run zeros forever. */
static const uint8_t power_reset_stub[] = {
	0xb0, 0x06,             /* mov al, SYS_RST | RST_CPU */
	0xba, 0xf9, 0x0c,       /* mov dx, 0xcf9 */
	0xee,                   /* out dx, al */
	0xfa, 0xf4,             /* 1: cli; hlt */
	0xeb, 0xfc,             /* jmp 1b */
};

/* No state of its own: its port ranges stay on the bus with the VM. */
static int power_realize(struct device *dev)
{
	struct vm *vm = dev->vm;
	uint64_t len = sizeof(power_reset_stub);
	uint8_t *vec = gmem_gpa_to_hva(&vm->gmem, LAYOUT_RESET_VECTOR, &len);
	int r;

	if (!vec || len < sizeof(power_reset_stub))
		return -EFAULT;
	memcpy(vec, power_reset_stub, sizeof(power_reset_stub));

	r = bus_register(&vm->pio, ACPI_SLEEP_CONTROL_PORT, 2, power_sleep_access, vm,
			 "acpi-sleep");
	if (!r)
		r = bus_register(&vm->pio, I8042_DATA_PORT, I8042_CMD_PORT - I8042_DATA_PORT + 1,
				 power_i8042_access, vm, "i8042");
	return r;
}

static void power_unrealize(struct device *dev)
{
	(void)dev;
}

const struct device_type power_type = {
	.name = "power",
	.id_prefix = "power",
	.kind = DEVICE_POWER,
	.platform = true,
	.realize = power_realize,
	.unrealize = power_unrealize,
};
