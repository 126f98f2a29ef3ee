/* ACPI PCI hotplug and the ACPI power button (vmm/devices/hotplug.c).
 *
 * The guest sees four dword registers at DSDT_HOTPLUG_PORT that the DSDT's
 * GED and slot objects use (see dsdt.asl), and an edge on DSDT_GED_IRQ for
 * every new event:
 *   +0x0 PCIU  R   slots that got a device since the last read (read clears)
 *   +0x4 PCID  R   slots whose device the host wants back (read clears)
 *   +0x8 B0EJ  W   slots the guest has let go of: their devices leave
 *   +0xc GEVT  R   events since the last read: bit 0 hotplug, bit 1 power
 *                  button (read clears)
 * Linux handles these through acpiphp and the button driver; the test guest
 * reads the registers itself (tests/guest/hotplug.c).
 *
 * Threads: the register accesses come from vCPU threads; everything else
 * from the main thread, which also removes a device the guest ejected
 * (a B0EJ write only queues the slot and wakes it). */
#ifndef ISLE_VMM_HOTPLUG_H
#define ISLE_VMM_HOTPLUG_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct device;

#define HOTPLUG_EVT_PCI    1u
#define HOTPLUG_EVT_POWER  2u

/* A device was added at run time: tell the guest its slot has something. */
int hotplug_plugged(struct vm *vm, struct device *dev);
/* Ask the guest to give the device back (its whole slot: ACPI ejects
 * slots); 0, -EINVAL for a device that is not a hot-removable PCI device,
 * -EALREADY when asked already. */
int hotplug_request_eject(struct vm *vm, struct device *dev);
/* Whether an eject was asked for and the guest has not yet answered. */
bool hotplug_eject_pending(struct vm *vm, const struct device *dev);
/* Called (main thread) with each device's id just before a guest's eject
 * removes it, so the owner can forget it too (the control socket's config). */
void hotplug_on_removal(struct vm *vm, void (*gone)(void *opaque, const char *id),
			void *opaque);
/* The ACPI power button: xl shutdown's request to the guest. */
int hotplug_power_button(struct vm *vm);

#endif
