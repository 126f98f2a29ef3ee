/* libFuzzer target for vmm/control/xlcfg.c (`isle create CFG`): the input
 * is an xl.cfg file's bytes, handed over without a terminating NUL (ASan
 * sees any read past the end). Besides crashes and sanitizer reports it
 * checks what callers rely on: a failure has a known error and a non-empty
 * one-line message naming the file; a success leaves a config whose
 * invariants hold (memory and maxmem in range and page-sized, 1..255
 * vCPUs, at most 8 disks and 8 NICs, valid actions, terminated strings).
 * A success's name, if any, is also tried as an override, which must agree. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "control/config.h"
#include "control/xlcfg.h"
#include "core/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(int r, const char *err)
{
	if (r != -EINVAL && r != -ENOTSUP && r != -ENOSPC && r != -EEXIST && r != -ENOMEM)
		abort();
	if (!err[0] || strchr(err, '\n') || strncmp(err, "f.cfg", 5))
		abort();
}

static void check_config(const struct vm_config *c)
{
	if (c->memory < LAYOUT_MIN_RAM || c->memory > CONFIG_MAX_MEMORY || c->memory % 4096)
		abort();
	if (c->maxmem && (c->maxmem < LAYOUT_MIN_RAM || c->maxmem > CONFIG_MAX_MEMORY))
		abort();
	if (c->vcpus < 1 || c->vcpus > CONFIG_MAX_VCPUS)
		abort();
	if (vm_config_count(c, DEVICE_DISK) > VM_MAX_DISKS ||
	    vm_config_count(c, DEVICE_NIC) > VM_MAX_NICS ||
	    vm_config_count(c, DEVICE_EDU) > XLCFG_EDU_MAX ||
	    vm_config_count(c, DEVICE_PCI) > XLCFG_LIST_MAX)
		abort();
	if ((unsigned int)c->on_poweroff > VM_ACTION_PRESERVE ||
	    (unsigned int)c->on_reboot > VM_ACTION_PRESERVE ||
	    (unsigned int)c->on_crash > VM_ACTION_PRESERVE)
		abort();
	if ((c->name && !config_name_ok(c->name)) || (c->kernel && !c->kernel[0]) ||
	    (c->initrd && !c->initrd[0]) || (c->cmdline && strlen(c->cmdline) >= LAYOUT_CMDLINE_MAX))
		abort();
	for (unsigned int i = 0; i < c->nr_devices; i++)
		if (c->devices[i].kind == DEVICE_DISK &&
		    !memchr(c->devices[i].disk.spec, '\0', sizeof(c->devices[i].disk.spec)))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1), err[256], kv[96];
	struct vm_config c;
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	vm_config_init(&c);
	c.on_reboot = VM_ACTION_RESTART;
	err[0] = '\0';
	r = xlcfg_parse(text, size, "f.cfg", &c, err, sizeof(err));
	free(text);
	if (r) {
		check_msg(r, err);
	} else {
		check_config(&c);
		if (c.name) {
			snprintf(kv, sizeof(kv), "name='%s'", c.name);
			if (xlcfg_override(&c, kv, err, sizeof(err)) || !c.name)
				abort();
			check_config(&c);
		}
	}
	vm_config_free(&c);
	return 0;
}
