/* The platform's devices: one line each. Every device is one .c file with
 * a const struct vm_device_ops; order is initialisation order. */
#include "isle/log.h"
#include "core/vm.h"

extern const struct vm_device_ops serial_device;
extern const struct vm_device_ops power_device;
extern const struct vm_device_ops testdev_device;
extern const struct vm_device_ops vhost_user_blk_device;
extern const struct vm_device_ops vhost_user_net_device;

static const struct vm_device_ops *const vm_devices[] = {
	&serial_device,
	&power_device,
	&testdev_device,
	&vhost_user_blk_device,
	&vhost_user_net_device,
};

int devices_init(struct vm *vm)
{
	for (unsigned int i = 0; i < sizeof(vm_devices) / sizeof(vm_devices[0]); i++) {
		int r = vm_devices[i]->init(vm);

		if (r) {
			log_error("device %s: initialisation failed (%d)", vm_devices[i]->name, r);
			return r;
		}
	}
	return 0;
}

void devices_exit(struct vm *vm)
{
	for (unsigned int i = sizeof(vm_devices) / sizeof(vm_devices[0]); i-- > 0;)
		if (vm_devices[i]->exit)
			vm_devices[i]->exit(vm);
}
