/* ACPI PCI hotplug and the power button: the registers the DSDT's GED and
 * slot objects use (contract in hotplug.h), the edge on the GED's IOAPIC
 * input, and the removal of a device once the guest has ejected it.
 *
 * A B0EJ write comes from a vCPU thread, but devices come and go on the
 * main thread only (core/device.h): the write records the slots and wakes
 * the main thread through an eventfd, which deletes the devices there. A
 * slot's eject is honoured only for a removable device the host asked
 * back (the guest cannot remove the test device, the VT-d or a disk it
 * was not asked for); other bits are logged and dropped. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "isle/log.h"
#include "boot/acpi_dsdt.h"
#include "core/device.h"
#include "core/vm.h"
#include "devices/hotplug.h"
#include "pci/pci.h"

struct hotplug {
	struct vm *vm;
	_Atomic uint32_t pciu, pcid, gevt;
	_Atomic uint32_t ejected;       /* B0EJ bits the main thread has not seen */
	uint32_t asked;                 /* slots whose device the host asked back */
	bool eject_warned;              /* an eject of a slot not asked back was logged */
	int efd;
	void (*gone)(void *opaque, const char *id);
	void *gone_opaque;
};

static void hotplug_raise(struct hotplug *h, uint32_t evt)
{
	atomic_fetch_or(&h->gevt, evt);
	/* An edge: the GED's interrupt is edge-triggered, so every new event
	 * is a new edge, and events that come while the guest is in _EVT are
	 * in GEVT for its next read. */
	vm_irq_line(h->vm, DSDT_GED_IRQ, 1);
	vm_irq_line(h->vm, DSDT_GED_IRQ, 0);
}

static void hotplug_access(void *opaque, uint64_t offset, void *data, unsigned int len,
			   bool is_write)
{
	struct hotplug *h = opaque;
	uint32_t v = 0;
	uint64_t one = 1;

	if (len != 4 || offset % 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		if (offset == 8 && v) {
			atomic_fetch_or(&h->ejected, v);
			if (write(h->efd, &one, sizeof(one)) < 0)
				log_warn("hotplug: waking the main thread: %s", strerror(errno));
		}
		return;
	}
	switch (offset) {
	case 0: v = atomic_exchange(&h->pciu, 0); break;
	case 4: v = atomic_exchange(&h->pcid, 0); break;
	case 12: v = atomic_exchange(&h->gevt, 0); break;
	default: v = 0; break;
	}
	memcpy(data, &v, 4);
}

/* The newest device in the slot: an eject takes the whole slot (ACPI's
 * granularity), functions newest first. */
static struct device *hotplug_device_at(struct vm *vm, unsigned int slot)
{
	for (struct device *d = vm->devices.last; d; d = d->prev)
		if (d->pci && d->pci->slot == slot && !d->type->platform)
			return d;
	return NULL;
}

/* Main thread: the guest let go of this slot (1-31). Only a slot the host
 * asked back loses its devices; a guest writing other bits is told of once
 * (it could otherwise fill the log one B0EJ write at a time). */
static void hotplug_eject_slot(struct hotplug *h, unsigned int slot)
{
	char id[DEVICE_ID_MAX];
	struct device *d;

	if (!(h->asked & (1u << slot)) || !hotplug_device_at(h->vm, slot)) {
		if (h->eject_warned) {
			log_debug("hotplug: the guest ejected slot %u, which was not asked back "
				  "(ignored)", slot);
		} else {
			log_warn("hotplug: the guest ejected slot %u, which was not asked back "
				 "(ignored; further ones are logged at debug level)", slot);
			h->eject_warned = true;
		}
		return;
	}
	h->asked &= ~(1u << slot);
	while ((d = hotplug_device_at(h->vm, slot))) {
		memcpy(id, d->id, sizeof(id));
		log_info("hotplug: the guest released %s (slot %u); removing it", id, slot);
		if (h->gone)
			h->gone(h->gone_opaque, id);
		device_del(h->vm, id);
	}
}

/* Main thread: the guest let go of these slots. */
static void hotplug_ejected(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct hotplug *h = opaque;
	uint32_t bits;
	uint64_t v;

	(void)loop, (void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	/* Slot 0 is the host bridge: never a device to eject. */
	bits = atomic_exchange(&h->ejected, 0) & ~1u;
	for (; bits; bits &= bits - 1)
		hotplug_eject_slot(h, (unsigned int)__builtin_ctz(bits));
}

int hotplug_plugged(struct vm *vm, struct device *dev)
{
	struct hotplug *h = vm->hotplug;

	if (!h || !dev->pci || dev->type->platform || !dev->pci->slot)
		return -EINVAL;
	h->asked &= ~(1u << dev->pci->slot);
	atomic_fetch_or(&h->pciu, 1u << dev->pci->slot);
	hotplug_raise(h, HOTPLUG_EVT_PCI);
	return 0;
}

int hotplug_request_eject(struct vm *vm, struct device *dev)
{
	struct hotplug *h = vm->hotplug;

	if (!h || !dev->pci || dev->type->platform || !dev->pci->slot)
		return -EINVAL;
	if (h->asked & (1u << dev->pci->slot))
		return -EALREADY;
	h->asked |= 1u << dev->pci->slot;
	atomic_fetch_or(&h->pcid, 1u << dev->pci->slot);
	hotplug_raise(h, HOTPLUG_EVT_PCI);
	return 0;
}

bool hotplug_eject_pending(struct vm *vm, const struct device *dev)
{
	struct hotplug *h = vm->hotplug;

	return h && dev->pci && (h->asked & (1u << dev->pci->slot));
}

void hotplug_on_removal(struct vm *vm, void (*gone)(void *opaque, const char *id),
			void *opaque)
{
	if (vm->hotplug) {
		vm->hotplug->gone = gone;
		vm->hotplug->gone_opaque = opaque;
	}
}

int hotplug_power_button(struct vm *vm)
{
	if (!vm->hotplug)
		return -ENODEV;
	hotplug_raise(vm->hotplug, HOTPLUG_EVT_POWER);
	return 0;
}

static int hotplug_realize(struct device *dev)
{
	struct vm *vm = dev->vm;
	struct hotplug *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->vm = vm;
	h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->efd < 0) {
		r = -errno;
		free(h);
		return r;
	}
	/* The loop first: a bus range cannot be taken back, so once it is
	 * registered nothing may fail. */
	r = evloop_add(&vm->loop, h->efd, EPOLLIN, hotplug_ejected, h);
	if (!r && (r = bus_register(&vm->pio, DSDT_HOTPLUG_PORT, DSDT_HOTPLUG_LEN,
				    hotplug_access, h, "acpi-hotplug")))
		evloop_del(&vm->loop, h->efd);
	if (r) {
		close(h->efd);
		free(h);
		return r;
	}
	vm->hotplug = h;
	dev->priv = h;
	return 0;
}

/* A platform device: it leaves with the VM, after every PCI device and
 * after the vCPUs are gone, so nothing reaches its port range again. */
static void hotplug_unrealize(struct device *dev)
{
	struct hotplug *h = dev->priv;

	if (!h)
		return;
	evloop_del(&dev->vm->loop, h->efd);
	close(h->efd);
	dev->vm->hotplug = NULL;
	free(h);
	dev->priv = NULL;
}

const struct device_type hotplug_type = {
	.name = "acpi-hotplug",
	.id_prefix = "hotplug",
	.kind = DEVICE_HOTPLUG,
	.platform = true,
	.realize = hotplug_realize,
	.unrealize = hotplug_unrealize,
};
