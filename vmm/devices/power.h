/* Power/reset controls (vmm/devices/power.c). */
#ifndef ISLE_VMM_POWER_H
#define ISLE_VMM_POWER_H

#include <stdint.h>

struct vm;

/* A write to the reset control register (0xcf9), routed here by the PCI
 * config-port handler, which owns 0xcf8-0xcff. */
void power_reset_control(struct vm *vm, uint8_t val);

#endif
