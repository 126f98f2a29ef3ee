/* Unit tests for vmm/core/memslot.c: KVM slots for device memory after the
 * RAM slots (a VM without KVM: vm_fd -1 keeps the bookkeeping only): slots
 * are handed out above RAM's, reused after a delete, bounded by
 * KVM_CAP_NR_MEMSLOTS, and misaligned or empty ranges are refused. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "core/vm.h"

static struct vm vm;

static void vm_fake(unsigned int ram_slots, unsigned int nr)
{
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	vm.nr_ram_slots = ram_slots;
	vm.nr_memslots = nr;
	pthread_mutex_init(&vm.memslot_lock, NULL);
}

static void test_alloc(void)
{
	static char page[3 * 4096] __attribute__((aligned(4096)));
	int a, b, c;

	vm_fake(2, 5);
	a = vm_memslot_add(&vm, 0x100000000ULL, 4096, page);
	b = vm_memslot_add(&vm, 0x100001000ULL, 8192, page + 4096);
	c = vm_memslot_add(&vm, 0x100003000ULL, 4096, page);
	CU_ASSERT_EQUAL(a, 2);
	CU_ASSERT_EQUAL(b, 3);
	CU_ASSERT_EQUAL(c, 4);
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0x200000000ULL, 4096, page), -ENOSPC);
	CU_ASSERT_EQUAL(vm_memslot_del(&vm, b), 0);
	CU_ASSERT_EQUAL(vm_memslot_del(&vm, b), -ENOENT);
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0x200000000ULL, 4096, page), 3);
	/* RAM's slots are not ours to delete. */
	CU_ASSERT_EQUAL(vm_memslot_del(&vm, 1), -EINVAL);
	CU_ASSERT_EQUAL(vm_memslot_del(&vm, VM_MAX_MEMSLOTS), -EINVAL);
	pthread_mutex_destroy(&vm.memslot_lock);
}

static void test_refuse(void)
{
	static char page[4096] __attribute__((aligned(4096)));

	vm_fake(1, 0);   /* 0: KVM did not say; VM_MAX_MEMSLOTS */
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0x1000, 0, page), -EINVAL);
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0x1800, 4096, page), -EINVAL);
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0x1000, 100, page), -EINVAL);
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0x1000, 4096, page + 1), -EINVAL);
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0xfffffffffffff000ULL, 0x2000, page), -EINVAL);
	CU_ASSERT_EQUAL(vm_memslot_add(&vm, 0x1000, 4096, page), 1);
	pthread_mutex_destroy(&vm.memslot_lock);
}

void unit_register(void)
{
	UNIT_SUITE("memslot", UNIT_TEST(test_alloc), UNIT_TEST(test_refuse));
}
