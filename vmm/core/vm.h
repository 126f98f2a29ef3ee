/* The VM: KVM handles, guest memory, buses, interrupt routing, PCI, devices
 * and vCPUs, and how it stops.
 *
 * Contract: vm_create() builds everything from a checked vm_config and loads
 * the kernel; vm_run() starts the vCPU threads and returns the exit status
 * once something ended the VM (vm_stop: guest poweroff/reset/exit port,
 * triple fault, a signal, a fatal error). The first vm_stop() wins. */
#ifndef ISLE_VMM_VM_H
#define ISLE_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "isle/evloop.h"
#include "isle/dma.h"
#include "isle/gmem.h"
#include "core/bus.h"
#include "irq/gsi.h"
#include "irq/ioapic.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "pci/pci.h"
#include "core/device.h"

/* Exit statuses isle itself produces (an exit-port value passes through). */
enum isle_exit {
	ISLE_EXIT_OK = 0,            /* poweroff, reset, exit port 0 */
	ISLE_EXIT_ERROR = 1,         /* VMM or KVM failure */
	ISLE_EXIT_USAGE = 2,         /* bad command line or config */
	ISLE_EXIT_TRIPLE_FAULT = 3,  /* KVM_EXIT_SHUTDOWN */
	ISLE_EXIT_SIGNAL = 128,      /* + signal number */
};

/* `--iommu[=aw=39|48,caching_mode=on|off]`: the emulated VT-d. */
struct vm_iommu {
	bool enabled;
	unsigned int aw_bits;        /* 39 or 48; 0: 48 */
	bool caching_mode;           /* CAP.CM: the guest reports every map too */
	bool caching_mode_off;       /* caching_mode=off given (refused with --pci) */
};

/* What to do when the guest powers off, resets or crashes (xl's on_*). */
enum vm_action {
	VM_ACTION_DESTROY = 0,       /* the VM ends (isle run's behaviour) */
	VM_ACTION_RESTART,           /* a new VM from the same config, same process */
	VM_ACTION_PRESERVE,          /* kept (paused) for inspection until destroyed */
};

/* What a VM is made of. Everything here is owned (copies of the command
 * line's strings, a list of validated device specs); vm_config_free()
 * releases it. Platform devices (serial, power, the test device when
 * asked for) are not in the list: vm_create adds them itself. */
struct vm_config {
	char *name;                  /* xl's name=; NULL for isle run */
	char *kernel;
	char *initrd;
	char *cmdline;
	uint64_t memory;             /* bytes */
	uint64_t maxmem;             /* bytes; 0: memory (no room to balloon up) */
	enum vm_action on_poweroff, on_reboot, on_crash;
	unsigned int vcpus;
	char *serial_file;           /* NULL: stdio */
	char *console_socket;        /* COM1 also served here (console_sock.h); NULL: not */
	bool testdev;                /* --testdev: ports 0xf4/0xf8 and the PCI test device */
	struct vm_iommu iommu;       /* every PCI device behind one VT-d unit */
	unsigned int nr_devices;     /* disks and NICs, in command-line order */
	struct device_spec *devices;
};

/* Appends a copy of a validated spec: -ENOSPC past the per-kind limits
 * (VM_MAX_DISKS, VM_MAX_NICS), -EEXIST when it conflicts with a spec already
 * there (device_spec_conflict), -ENOMEM; a message in err (no prefix). */
int vm_config_add(struct vm_config *c, const struct device_spec *spec, char *err,
		  size_t errlen);
unsigned int vm_config_count(const struct vm_config *c, enum device_kind kind);
/* Removes (and closes the fds of) every spec of a kind: a list given again
 * replaces the old one. */
void vm_config_drop(struct vm_config *c, enum device_kind kind);
/* Guest RAM: maxmem when above memory (the balloon holds the difference). */
static inline uint64_t vm_config_ram(const struct vm_config *c)
{
	return c->maxmem > c->memory ? c->maxmem : c->memory;
}
/* Disks without a vdev get the first free xvdX, in order. */
void vm_config_name_disks(struct vm_config *c);
/* Devices without an id get the first free PREFIXn of their type (disk0,
 * net1, ...), so the config and the VM call a device the same. */
void vm_config_name_devices(struct vm_config *c);
/* Replaces *field with a copy of s (NULL clears it): 0 or -ENOMEM. */
int vm_config_set_str(char **field, const char *s);
void vm_config_free(struct vm_config *c);

/* Why a VM stopped: what the process does next depends on it (xl's on_*). */
enum vm_stop_why {
	VM_STOP_POWEROFF = 0,        /* the guest powered off, or exited through the test port */
	VM_STOP_RESET,               /* the guest reset (or vm.reboot) */
	VM_STOP_CRASH,               /* the guest triple-faulted */
	VM_STOP_ERROR,               /* the VMM or KVM failed (KVM internal errors too) */
	VM_STOP_SIGNAL,              /* SIGTERM and friends */
	VM_STOP_REQUEST,             /* the control socket (destroy, vm.shutdown) */
};

struct vm;
struct vtd_dev;
struct hotplug;
struct vfio_vm;

#define VM_MAX_MEMSLOTS 512

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	size_t run_size;

	struct layout layout;
	struct gmem gmem;
	/* Identity over gmem (isle/dma.h): every emulated PCI device's DMA
	 * address space unless an IOMMU gives it its own (pci_dev.dma). The
	 * CPU's accesses (loaders, ACPI, the test device's reports) use gmem. */
	struct dma_as dma;
	int mem_fd;
	uint8_t *mem;

	struct bus pio, mmio;
	struct gsi_table gsi;
	struct ioapic ioapic;        /* split irqchip: the IOAPIC is isle's */
	struct pci_bus pci;
	/* The emulated VT-d (vmm/devices/vtd_dev.c) when cfg->iommu.enabled:
	 * it gives every requester id its own DMA address space and is the
	 * GSI table's interrupt-remapping hook. NULL without. */
	struct vtd_dev *vtd;
	uint64_t rsdp;
	struct boot_info boot;

	unsigned int nr_vcpus;
	struct vcpu *vcpus;

	/* Every device instance, in the order added (vmm/core/device.h):
	 * "the" serial port or test device is found there by type. */
	struct device_list devices;

	/* KVM memory slots: RAM's first, then device memory (memslot.c). */
	unsigned int nr_ram_slots;
	unsigned int nr_memslots;    /* KVM_CAP_NR_MEMSLOTS, capped at VM_MAX_MEMSLOTS */
	pthread_mutex_t memslot_lock;
	uint64_t memslot_used[VM_MAX_MEMSLOTS / 64];
	/* Assigned PCI functions' shared VFIO state (vmm/devices/vfio_pci.c),
	 * NULL while none is assigned. vfio_lock guards the pointer and its
	 * list of containers for the balloon's thread, which asks what they
	 * map (vfio_vm_discard_unmapped); the main thread changes them. */
	struct vfio_vm *vfio;
	pthread_mutex_t vfio_lock;

	/* The main thread's event loop (vm_run): devices add their fds
	 * (backend sockets, timers, interrupt relays) from init on. */
	struct evloop loop;

	/* KVM's coalesced-write ring (in vCPU 0's run mapping), or NULL. */
	struct kvm_coalesced_mmio_ring *coalesced;
	pthread_mutex_t coalesced_lock;

	/* Stopping: first vm_stop() records status and message and wakes the
	 * main thread through stop_efd. */
	pthread_mutex_t stop_lock;
	atomic_bool stopping;
	int exit_status;
	enum vm_stop_why stop_why;
	char exit_msg[256];
	int stop_efd;

	/* Pausing (vm_pause/vm_resume): vCPU threads park while paused. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool paused;
	unsigned int parked, running_vcpus;

	/* ACPI PCI hotplug and the power button (vmm/devices/hotplug.c). */
	struct hotplug *hotplug;
};

/* Builds the VM; every device (the platform's, then cfg's disks and NICs)
 * comes through device_add. cfg must outlive the VM. Returns 0, -ENOEXEC
 * when the kernel or initrd cannot be used (the user's input: reported,
 * exit status 2), or another -errno; call vm_destroy() either way. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
/* Blocks SIGTERM, SIGINT, SIGHUP (and SIGUSR1, which vCPU threads unblock
 * for kicks) in the calling thread and returns a signalfd for the first
 * three, or -1. */
int vm_signalfd(void);
/* Runs until the VM stops; returns its exit status. */
int vm_run(struct vm *vm);
/* Unrealizes every device instance, newest first, then frees the rest. */
void vm_destroy(struct vm *vm);

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* vm_stop with the reason said (vm_stop: poweroff for status 0, else error). */
void vm_stop_why(struct vm *vm, enum vm_stop_why why, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Parks every vCPU between runs (0, or -ETIMEDOUT if one did not park in
 * 5 s); vm_resume lets them go. Main thread. */
int vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* Turns coalescing of guest writes to [port, port+len) on or off: such
 * writes then wait in KVM's ring instead of exiting, and isle replays them
 * (in order, before any other exit is handled) from vm_coalesced_drain(). */
int vm_coalesce_pio(struct vm *vm, uint16_t port, uint32_t len, bool on);
void vm_coalesced_drain(struct vm *vm);
/* The DMA address space of a PCI function with requester id rid: its own
 * behind the VT-d, else the VM's identity AS (vm->dma). Devices that bypass
 * the IOMMU by contract (virtio without VIRTIO_F_ACCESS_PLATFORM) use
 * vm->dma directly. NULL (no DMA at all) only when out of memory. */
struct dma_as *vm_dma_as(struct vm *vm, uint16_t rid);
/* memslot.c: maps [gpa, gpa+size) of guest-physical space to hva (all page
 * aligned) in a free KVM slot: the slot number, -ENOSPC, -EINVAL or KVM's
 * -errno. vm_memslot_del takes it back. Thread-safe. */
int vm_memslot_add(struct vm *vm, uint64_t gpa, uint64_t size, void *hva);
int vm_memslot_del(struct vm *vm, int slot);
/* Drives an ISA IRQ line (the IOAPIC's input; IRQ 0 is pin 2). Thread-safe. */
int vm_irq_line(struct vm *vm, unsigned int irq, int level);

/* vcpu.c */
int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);
int vcpu_boot_setup(struct vcpu *vcpu, const struct boot_info *bi);
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
/* Waits for a kicked vCPU thread to end. */
void vcpu_join(struct vcpu *vcpu);
/* Logs the vCPU's registers at the given level (for hangs and crashes). */
void vcpu_dump(struct vcpu *vcpu, int level);
void vcpu_destroy(struct vcpu *vcpu);

/* cpuid.c: installs the adjusted CPUID table on one vCPU. cpuid_adjust()
 * is the pure part: it rewrites KVM's supported table C (nent entries, room
 * for MAX) for vCPU ID of NR and appends isle's leaves; -ENOSPC if no room. */
int cpuid_setup(struct vm *vm, struct vcpu *vcpu);
struct kvm_cpuid2;
int cpuid_adjust(struct kvm_cpuid2 *c, unsigned int max, unsigned int id, unsigned int nr,
		 uint32_t tsc_khz);

#endif
