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
#include "isle/gmem.h"
#include "core/bus.h"
#include "irq/gsi.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "pci/pci.h"
#include "control/vif.h"

/* Exit statuses isle itself produces (an exit-port value passes through). */
enum isle_exit {
	ISLE_EXIT_OK = 0,            /* poweroff, reset, exit port 0 */
	ISLE_EXIT_ERROR = 1,         /* VMM or KVM failure */
	ISLE_EXIT_USAGE = 2,         /* bad command line or config */
	ISLE_EXIT_TRIPLE_FAULT = 3,  /* KVM_EXIT_SHUTDOWN */
	ISLE_EXIT_SIGNAL = 128,      /* + signal number */
};

#define VM_MAX_DISKS      8
#define VM_DISK_SPEC_MAX  4352       /* PATH_MAX + 256, as isle-tapdisk's */
#define VM_DISK_VDEV_MAX  16
#define VM_MAX_NICS       8

/* One --disk: either a spec for an isle-tapdisk that isle starts, or the
 * socket of a vhost-user-blk backend that is already running. */
struct vm_disk {
	char spec[VM_DISK_SPEC_MAX];   /* without isle's vdev=; "" with socket */
	const char *socket;            /* socket=PATH, or NULL */
	char vdev[VM_DISK_VDEV_MAX];   /* guest-facing name, e.g. xvda */
};

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t memory;             /* bytes */
	unsigned int vcpus;
	const char *serial_file;     /* NULL: stdio */
	unsigned int nr_disks;
	struct vm_disk disks[VM_MAX_DISKS];
	unsigned int nr_nics;        /* --net, Xen vif syntax (vmm/control/vif.h) */
	struct vif nics[VM_MAX_NICS];
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct serial;
struct testdev;
struct vublk;
struct vunet;

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	size_t run_size;

	struct layout layout;
	struct gmem gmem;
	int mem_fd;
	uint8_t *mem;

	struct bus pio, mmio;
	struct gsi_table gsi;
	struct pci_bus pci;
	uint64_t rsdp;
	struct boot_info boot;

	unsigned int nr_vcpus;
	struct vcpu *vcpus;

	struct serial *serial;
	struct testdev *testdev;
	struct vublk *disks[VM_MAX_DISKS];   /* vhost_user_blk.c */
	struct vunet *nics[VM_MAX_NICS];     /* vhost_user_net.c */

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
	char exit_msg[256];
	int stop_efd;
};

/* Returns 0, -ENOEXEC when the kernel or initrd cannot be used (the user's
 * input: reported, exit status 2), or another -errno. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
/* Runs until the VM stops; returns its exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Turns coalescing of guest writes to [port, port+len) on or off: such
 * writes then wait in KVM's ring instead of exiting, and isle replays them
 * (in order, before any other exit is handled) from vm_coalesced_drain(). */
int vm_coalesce_pio(struct vm *vm, uint16_t port, uint32_t len, bool on);
void vm_coalesced_drain(struct vm *vm);
/* Drives an IOAPIC/PIC input (ISA IRQs). */
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

/* devices.c: the table of platform devices, each a const ops struct. */
struct vm_device_ops {
	const char *name;
	int (*init)(struct vm *vm);
	void (*exit)(struct vm *vm);
};
int devices_init(struct vm *vm);
void devices_exit(struct vm *vm);

#endif
