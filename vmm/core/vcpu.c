/* vCPU threads: creation, boot register state, and the KVM_RUN loop that
 * dispatches port I/O and MMIO exits to the buses.
 *
 * Stopping: vcpu_kick() sets kvm_run.immediate_exit and sends SIGUSR1 to the
 * thread, so a vCPU inside KVM_RUN (or about to enter it) returns -EINTR and
 * sees vm->stopping. With the split irqchip, EOIs of level-triggered IOAPIC
 * vectors exit here (KVM_EXIT_IOAPIC_EOI) and go to the userspace IOAPIC. Application processors start in KVM's wait-for-SIPI
 * state (in-kernel LAPIC) and are woken by the guest's INIT/SIPI. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "isle/log.h"
#include "core/vm.h"

#define X86_CR0_PE   (1ULL << 0)
#define X86_CR0_ET   (1ULL << 4)
#define X86_CR0_PG   (1ULL << 31)
#define X86_CR4_PAE  (1ULL << 5)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id)
{
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_error("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return ret;
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		vcpu->run = NULL;
		log_error("mmap kvm_run of vCPU %u: %s", id, strerror(errno));
		return ret;
	}
	return cpuid_setup(vm, vcpu);
}

static void vcpu_flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool l, bool db)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = 1, .l = l, .g = 1,
	};
}

int vcpu_boot_setup(struct vcpu *vcpu, const struct boot_info *bi)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = bi->entry;

	if (bi->mode == BOOT_PVH32) {
		/* PVH: 32-bit protected mode, flat segments, paging off. */
		vcpu_flat_seg(&sregs.cs, 0x8, 0xb, false, true);
		vcpu_flat_seg(&sregs.ds, 0x10, 0x3, false, true);
		sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
		regs.rbx = bi->arg;
	} else {
		/* Linux 64-bit boot protocol: long mode, the GDT and identity
		 * page tables written by loader_write_boot_tables(). */
		vcpu_flat_seg(&sregs.cs, 0x10, 0xb, true, false);
		vcpu_flat_seg(&sregs.ds, 0x18, 0x3, false, true);
		sregs.gdt.base = LAYOUT_GDT;
		sregs.gdt.limit = 4 * 8 - 1;
		sregs.cr3 = LAYOUT_PAGE_TABLES;
		sregs.cr4 = X86_CR4_PAE;
		sregs.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
		sregs.efer = X86_EFER_LME | X86_EFER_LMA;
		regs.rsi = bi->arg;
	}
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	/* A valid busy TSS and an unusable LDT, as VMX entry demands. */
	sregs.tr = (struct kvm_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	sregs.ldt = (struct kvm_segment){ .type = 0x2, .present = 1, .unusable = 1 };

	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* data_offset and count come from KVM and stay inside the run page. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_dispatch(&vcpu->vm->pio, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
}

static void vcpu_report_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;
	char extra[160] = "";
	size_t n = 0;

	for (uint32_t i = 0; i < run->internal.ndata && i < 4; i++)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, " 0x%llx",
				      (unsigned long long)run->internal.data[i]);
	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		memset(&regs, 0, sizeof(regs));
	vm_stop(vcpu->vm, ISLE_EXIT_ERROR,
		"vCPU %u: KVM internal error, suberror %u (data%s) at rip 0x%llx",
		vcpu->id, run->internal.suberror, extra, (unsigned long long)regs.rip);
}

static void vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	/* Writes KVM held back happened before this exit: replay them first. */
	vm_coalesced_drain(vm);

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(vcpu);
		break;
	case KVM_EXIT_MMIO:
		bus_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
			     run->mmio.len, run->mmio.is_write);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_IOAPIC_EOI:
		/* Split irqchip: a level-triggered IOAPIC vector was EOIed. */
		ioapic_eoi(&vm->ioapic, run->eoi.vector);
		break;
	case KVM_EXIT_SHUTDOWN:
		vm_stop_why(vm, VM_STOP_CRASH, ISLE_EXIT_TRIPLE_FAULT,
			    "vCPU %u: guest triple fault (shutdown)", vcpu->id);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_stop_why(vm, VM_STOP_RESET, ISLE_EXIT_OK, "guest requested a reset");
		else
			vm_stop(vm, ISLE_EXIT_OK, "guest powered off");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_report_internal_error(vcpu);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vm_stop(vm, ISLE_EXIT_ERROR, "vCPU %u: VM entry failed, reason 0x%llx",
			vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		vm_stop(vm, ISLE_EXIT_ERROR, "vCPU %u: unexpected KVM exit reason %u",
			vcpu->id, run->exit_reason);
		break;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	pthread_mutex_lock(&vm->pause_lock);
	vm->running_vcpus++;
	pthread_mutex_unlock(&vm->pause_lock);
	while (!atomic_load(&vm->stopping)) {
		if (__atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE)) {
			pthread_mutex_lock(&vm->pause_lock);
			vm->parked++;
			pthread_cond_broadcast(&vm->pause_cond);
			while (vm->paused && !atomic_load(&vm->stopping))
				pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
			vm->parked--;
			pthread_mutex_unlock(&vm->pause_lock);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			vm_stop(vm, ISLE_EXIT_ERROR, "vCPU %u: KVM_RUN: %s", vcpu->id,
				strerror(errno));
			break;
		}
		vcpu_handle_exit(vcpu);
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->running_vcpus--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return NULL;
}

static void vcpu_sigusr1(int sig)
{
	(void)sig;   /* only there to interrupt KVM_RUN */
}

int vcpu_start(struct vcpu *vcpu)
{
	static bool handler_installed;
	int ret;

	if (!handler_installed) {
		struct sigaction sa = { .sa_handler = vcpu_sigusr1, .sa_flags = SA_RESTART };

		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGUSR1, &sa, NULL) < 0)
			return -errno;
		handler_installed = true;
	}
	ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (ret)
		return -ret;
	vcpu->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, SIGUSR1);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->started) {
		pthread_join(vcpu->thread, NULL);
		vcpu->started = false;
	}
}

void vcpu_dump(struct vcpu *vcpu, int level)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_mp_state mp = { 0 };

	if (log_get_level() > (enum log_level)level || vcpu->fd < 0 ||
	    ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return;
	ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp);
	log_msg((enum log_level)level,
		"vCPU %u: mp_state %u rip 0x%llx rsp 0x%llx rflags 0x%llx cs 0x%x cr0 0x%llx "
		"cr3 0x%llx cr4 0x%llx efer 0x%llx rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx",
		vcpu->id, mp.mp_state, (unsigned long long)r.rip, (unsigned long long)r.rsp,
		(unsigned long long)r.rflags, s.cs.selector, (unsigned long long)s.cr0,
		(unsigned long long)s.cr3, (unsigned long long)s.cr4,
		(unsigned long long)s.efer, (unsigned long long)r.rax,
		(unsigned long long)r.rbx, (unsigned long long)r.rcx, (unsigned long long)r.rdx);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	vcpu_join(vcpu);
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
