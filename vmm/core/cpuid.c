/* CPUID for each vCPU: KVM_GET_SUPPORTED_CPUID, adjusted.
 *
 * - Leaf 1 and the topology leaves (4, 0xB, 0x1F) carry this vCPU's APIC id
 *   and a one-thread-per-core, one-package topology of nr_vcpus cores.
 * - 0x40000000 is isle's own hypervisor leaf ("isleisleisle"), and KVM's
 *   paravirt leaves move to 0x40000100, where both Linux and KVM look for
 *   them (hypervisor bases are scanned in steps of 0x100), so guests keep
 *   kvm-clock and friends while test guests can tell they run on isle.
 * - 0x40000010 is the timing leaf other hypervisors also offer: EAX = TSC
 *   kHz, EBX = LAPIC timer kHz, so a guest needs no PIT calibration (slow
 *   here: every port read is a VM exit). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"

#define CPUID_MAX_ENTRIES 256
#define CPUID_ISLE_BASE   0x40000000u
#define CPUID_ISLE_TIMING 0x40000010u
#define CPUID_KVM_BASE    0x40000100u
#define KVM_LAPIC_KHZ     1000000u   /* KVM's APIC timer runs at 1 GHz */

static unsigned int cpuid_order(unsigned int n)
{
	unsigned int shift = 0;

	while ((1u << shift) < n)
		shift++;
	return shift;
}

static void cpuid_fix_entry(struct kvm_cpuid_entry2 *e, unsigned int id, unsigned int nr)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((nr & 0xff) << 16);
		e->ecx |= 1u << 31;                   /* hypervisor present */
		if (nr > 1)
			e->edx |= 1u << 28;           /* HTT: ebx[23:16] is valid */
		break;
	case 4:
		/* Cores per package - 1 in six bits; no cache is shared by
		 * threads. Above 64 vCPUs it saturates at 63 rather than
		 * wrapping (65 vCPUs would otherwise claim one core). */
		e->eax = (e->eax & 0x3fff) | (uint32_t)MIN(nr - 1, 63u) << 26;
		break;
	case 0xb:
	case 0x1f:
		e->edx = id;
		if (e->index == 0) {          /* SMT level: one thread */
			e->eax = 0;
			e->ebx = 1;
			e->ecx = 1u << 8;
		} else if (e->index == 1) {   /* core level: nr cores */
			e->eax = cpuid_order(nr);
			e->ebx = nr;
			e->ecx = 2u << 8 | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	}
}

static struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	size_t sz = sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]);

	c = calloc(1, sz);
	if (!c)
		return NULL;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		log_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return NULL;
	}
	return c;
}

int cpuid_adjust(struct kvm_cpuid2 *c, unsigned int max, unsigned int id, unsigned int nr,
		 uint32_t tsc_khz)
{
	static const char sig[12] = "isleisleisle";
	struct kvm_cpuid_entry2 *isle;

	if (c->nent > max || max - c->nent < 2)
		return -ENOSPC;
	/* Move KVM's leaves up by 0x100 and make room for ours. */
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function >= CPUID_ISLE_BASE && e->function < CPUID_ISLE_BASE + 0x100) {
			e->function += CPUID_KVM_BASE - CPUID_ISLE_BASE;
			if (e->function == CPUID_KVM_BASE)
				e->eax = CPUID_KVM_BASE + 1;
		}
		cpuid_fix_entry(e, id, nr);
	}
	isle = &c->entries[c->nent++];
	memset(isle, 0, sizeof(*isle));
	isle->function = CPUID_ISLE_TIMING;
	isle->eax = tsc_khz;
	isle->ebx = KVM_LAPIC_KHZ;

	isle = &c->entries[c->nent++];
	memset(isle, 0, sizeof(*isle));
	isle->function = CPUID_ISLE_BASE;
	isle->eax = CPUID_ISLE_TIMING;   /* highest isle leaf */
	memcpy(&isle->ebx, &sig[0], 4);
	memcpy(&isle->ecx, &sig[4], 4);
	memcpy(&isle->edx, &sig[8], 4);
	return 0;
}

int cpuid_setup(struct vm *vm, struct vcpu *vcpu)
{
	struct kvm_cpuid2 *c = cpuid_get_supported(vm->kvm_fd);
	int ret, tsc_khz;

	if (!c)
		return -EIO;
	tsc_khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	ret = cpuid_adjust(c, CPUID_MAX_ENTRIES, vcpu->id, vm->nr_vcpus,
			   tsc_khz > 0 ? (uint32_t)tsc_khz : 0);
	if (!ret && ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0) {
		ret = -errno;
		log_error("vCPU %u: KVM_SET_CPUID2: %s", vcpu->id, strerror(errno));
	}
	free(c);
	return ret;
}
