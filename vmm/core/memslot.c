/* KVM memory slots beyond guest RAM (owner: memslot.c; API in core/vm.h):
 * device memory mapped straight into the guest, such as the mmapped BARs of
 * an assigned PCI function, so its registers are accessed without exits.
 *
 * RAM takes slots 0..nr_ram_slots-1 at start-up (vm.c); this allocator
 * hands out the rest, up to KVM_CAP_NR_MEMSLOTS, and takes them back.
 * Slots are added and removed from BAR moves (under the PCI bus lock, on
 * vCPU threads) and from device teardown (main thread): memslot_lock
 * guards the bitmap. The ranges are the caller's to keep disjoint from RAM
 * and from each other (KVM refuses an overlap with -EEXIST, passed back). */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "isle/log.h"
#include "core/vm.h"

static int memslot_set(struct vm *vm, unsigned int slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region mr = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (vm->vm_fd < 0)
		return 0;   /* unit tests: the bookkeeping only */
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0 ? -errno : 0;
}

int vm_memslot_add(struct vm *vm, uint64_t gpa, uint64_t size, void *hva)
{
	unsigned int max = vm->nr_memslots ? vm->nr_memslots : VM_MAX_MEMSLOTS;
	int r = -ENOSPC;

	if (!size || (gpa | size | (uintptr_t)hva) & 0xfff || gpa + size < gpa)
		return -EINVAL;
	if (max > VM_MAX_MEMSLOTS)
		max = VM_MAX_MEMSLOTS;
	pthread_mutex_lock(&vm->memslot_lock);
	for (unsigned int s = vm->nr_ram_slots; s < max; s++) {
		if (vm->memslot_used[s / 64] & (1ULL << (s % 64)))
			continue;
		r = memslot_set(vm, s, gpa, size, hva);
		if (!r) {
			vm->memslot_used[s / 64] |= 1ULL << (s % 64);
			r = (int)s;
		}
		break;
	}
	pthread_mutex_unlock(&vm->memslot_lock);
	return r;
}

int vm_memslot_del(struct vm *vm, int slot)
{
	int r;

	if (slot < (int)vm->nr_ram_slots || slot >= VM_MAX_MEMSLOTS)
		return -EINVAL;
	pthread_mutex_lock(&vm->memslot_lock);
	if (!(vm->memslot_used[slot / 64] & (1ULL << (slot % 64)))) {
		pthread_mutex_unlock(&vm->memslot_lock);
		return -ENOENT;
	}
	/* Size 0 deletes the slot. */
	r = memslot_set(vm, (unsigned int)slot, 0, 0, NULL);
	if (!r)
		vm->memslot_used[slot / 64] &= ~(1ULL << (slot % 64));
	else
		log_warn("memslot %d: delete: %s", slot, strerror(-r));
	pthread_mutex_unlock(&vm->memslot_lock);
	return r;
}
