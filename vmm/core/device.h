/* Device instances: how devices come and go (vmm/core/device.c).
 *
 * A device *type* is one const struct device_type per .c file (one
 * registration line each in device.c's table). A device *instance* is what
 * device_add() makes of a validated struct device_spec: the type, a unique
 * id ("disk0", "net1", or the spec's id=), the owning VM, a copy of the spec
 * and the type's private state. Each VM keeps ONE list of instances, in
 * the order they were added; device_add()/device_del() are the only way an
 * instance enters or leaves it, at start-up, at run time and at teardown
 * (device_del_all: unrealize in reverse order).
 *
 * A spec comes from untrusted text (command line now; a JSON control
 * socket and xl.cfg later) through ONE validator, device_spec_parse(); it
 * owns everything it holds (no pointers into the caller's strings).
 *
 * Threads: the list belongs to the main thread (start-up, the event loop,
 * teardown); vCPU threads never walk it. */
#ifndef ISLE_VMM_DEVICE_H
#define ISLE_VMM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "control/balloon_spec.h"
#include "control/pci_spec.h"
#include "control/vif.h"

#define VM_MAX_DISKS      8
#define VM_DISK_SPEC_MAX  4352       /* PATH_MAX + 256, as isle-tapdisk's */
#define VM_DISK_VDEV_MAX  16
#define VM_MAX_NICS       8
#define DEVICE_ID_MAX     32         /* [A-Za-z][A-Za-z0-9_.-]*, NUL included */

/* One disk: either a spec for an isle-tapdisk that isle starts, or the
 * socket of a vhost-user-blk backend that is already running. */
struct vm_disk {
	char spec[VM_DISK_SPEC_MAX];   /* without isle's keys; the path with socket */
	bool socket;                   /* spec is socket=PATH's PATH */
	char vdev[VM_DISK_VDEV_MAX];   /* guest-facing name, e.g. xvda */
};

enum device_kind {
	DEVICE_SERIAL,
	DEVICE_POWER,
	DEVICE_TESTDEV,
	DEVICE_DISK,      /* vhost-user-blk: struct vm_disk */
	DEVICE_NIC,       /* vhost-user-net: struct vif (vmm/control/vif.h) */
	DEVICE_EDU,       /* QEMU's edu PCI device (vmm/devices/edu.c) */
	DEVICE_VTD,       /* the emulated Intel VT-d (vmm/devices/vtd_dev.c) */
	DEVICE_PCI,       /* an assigned host PCI function (vmm/devices/vfio_pci.c) */
	DEVICE_HOTPLUG,   /* ACPI PCI hotplug and power button (vmm/devices/hotplug.c) */
	DEVICE_BALLOON,   /* virtio-balloon (vmm/virtio/balloon.c): struct vm_balloon */
	DEVICE_NR_KINDS,
};

struct device_spec {
	enum device_kind kind;
	char id[DEVICE_ID_MAX];        /* "": the VM picks one (disk0, net1, ...) */
	union {
		struct vm_disk disk;
		struct vif nic;
		struct vm_pci pci;
		struct vm_balloon balloon;
	};
};

/* "serial", "power", "testdev", "disk", "net", "edu", "iommu", "pci",
 * "hotplug", "balloon"; NULL for an
 * unknown kind. */
const char *device_kind_name(enum device_kind kind);
/* 0, or -EINVAL for a name that is no kind. */
int device_kind_parse(const char *name, enum device_kind *kind);
/* A user-given id: 1-31 of [A-Za-z0-9_.-], starting with a letter. */
bool device_id_ok(const char *id);

/* The one validator. text is the kind's syntax plus an optional id=NAME:
 *   disk  xl disk syntax for isle-tapdisk plus isle's vdev=NAME, or
 *         socket=PATH[,vdev=NAME][,id=NAME]; from target= on it is the path
 *   net   xl vif syntax (vmm/control/vif.h)
 *   pci   xl PCI syntax (vmm/control/pci_spec.h); name= is the id
 *   balloon  vmm/control/balloon_spec.h's options (id= among them)
 *   serial, power, testdev, edu, iommu: only id= (or nothing)
 * Fills *spec (zeroed first) and returns 0, or -EINVAL / -ENOTSUP with one
 * line in err, without a prefix. */
int device_spec_parse(enum device_kind kind, const char *text, struct device_spec *spec,
		      char *err, size_t errlen);
/* Closes the fds a spec holds (a NIC's tap fds, which only the control
 * socket gives) and forgets them. A config owns its specs' fds:
 * vm_config_free() closes them; a device's realize takes copies. */
void device_spec_close_fds(struct device_spec *s);
/* Whether two specs may not belong to one VM (same id, vdev, MAC, vifname
 * or socket): -EEXIST with a message, else 0. */
int device_spec_conflict(const struct device_spec *a, const struct device_spec *b,
			 char *err, size_t errlen);

struct vm;
struct device;
struct snapshot;   /* save/load: a later issue */
struct pci_dev;

struct device_type {
	const char *name;           /* for messages, e.g. "vhost-user-blk" */
	const char *id_prefix;      /* automatic ids: PREFIX0, PREFIX1, ... */
	enum device_kind kind;
	/* Fixed to the platform (bus ranges that cannot be taken back): such
	 * an instance leaves only with the VM (device_del_all). */
	bool platform;
	/* realize() logs its own one-line error naming the device: device_add
	 * adds none (a refused assignment says why once). */
	bool realize_logs;
	/* Builds the device from dev->spec for dev->vm and sets dev->priv.
	 * On failure it leaves nothing behind and returns -errno. */
	int (*realize)(struct device *dev);
	/* Undoes realize: a PCI device unregisters from the bus first. */
	void (*unrealize)(struct device *dev);
	void (*reset)(struct device *dev);                       /* may be NULL */
	int (*save)(struct device *dev, struct snapshot *s);     /* NULL for now */
	int (*load)(struct device *dev, struct snapshot *s);     /* NULL for now */
};

struct device {
	const struct device_type *type;
	char id[DEVICE_ID_MAX];
	struct vm *vm;
	struct device_spec spec;    /* what it was made from (a copy) */
	void *priv;                 /* the type's state */
	struct pci_dev *pci;        /* its PCI function (set by realize), or NULL */
	struct device *prev, *next;
};

/* struct vm's list of instances, in the order they were added. */
struct device_list {
	struct device *first, *last;
	unsigned int count;
};

/* The types, one per device file. */
extern const struct device_type serial_type;
extern const struct device_type power_type;
extern const struct device_type testdev_type;
extern const struct device_type vhost_user_blk_type;
extern const struct device_type vhost_user_net_type;
extern const struct device_type edu_type;
extern const struct device_type vtd_type;
extern const struct device_type vfio_pci_type;
extern const struct device_type hotplug_type;
extern const struct device_type balloon_type;

/* The registered type for a kind, or NULL. */
const struct device_type *device_type_of(enum device_kind kind);

/* Realizes an instance of the spec's kind and appends it to vm's list.
 * Returns 0 (and *out if out is not NULL), -EEXIST for an id already in
 * use, -EINVAL for a bad id or kind, or realize's error. Logs why. */
int device_add(struct vm *vm, const struct device_spec *spec, struct device **out);
/* The same with an explicit type (device_add's core; tests use fake types). */
int device_add_type(struct vm *vm, const struct device_type *type,
		    const struct device_spec *spec, struct device **out);
/* Unrealizes the instance with this id and frees it: 0, -ENOENT for no
 * such id, -EPERM for a platform device. */
int device_del(struct vm *vm, const char *id);
/* Teardown: every instance, platform ones included, newest first. */
void device_del_all(struct vm *vm);

struct device *device_find(struct vm *vm, const char *id);
/* The first instance of a type, or NULL (e.g. "the" serial port). */
struct device *device_find_type(struct vm *vm, const struct device_type *type);
/* Its private state, or NULL when there is no such instance. */
void *device_priv_of_type(struct vm *vm, const struct device_type *type);

#endif
