/* The virtio PCI transport's kick and call plumbing (part of the transport:
 * API in vmm/virtio/virtio_pci.h; register file in virtio_pci.c).
 *
 * Kicks: each queue's notify address is a KVM ioeventfd (any length where
 * KVM allows it, else the 16-bit write drivers make) on the queue's kick
 * eventfd, moved with the BAR by bar_moved. A notify write that still
 * reaches isle (no KVM, or a width KVM did not match) kicks the same
 * eventfd from virtio_pci.c, so a backend sees one path.
 *
 * Calls: a queue's call fd is its MSI-X vector's irqfd when the vector is
 * routed at activation, so the backend interrupts the guest without waking
 * isle. A vector is routed the first time it is unmasked; until then the
 * backend gets the queue's relay eventfd, which sits in the VM's event loop
 * from init on (the loop is single-threaded: nothing is added from vCPU
 * threads). The relay calls msix_notify, which latches the PBA bit while
 * the vector is masked, and once the vector is routed hands the device the
 * irqfd instead (call_changed).
 *
 * Locking: ioev_lock guards the ioeventfd addresses (bar_moved runs under
 * the PCI bus lock); the relay takes vp->lock to swap a call fd, as
 * activation does, so the device sees fd changes in order. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/virtio_pci.h>

#include "isle/evloop.h"
#include "isle/log.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"

static int vpn_ioeventfd(struct virtio_pci *vp, uint64_t addr, int fd, bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr, .len = vp->ioev_len, .fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (vp->vm->vm_fd < 0)
		return -ENODEV;   /* unit tests: notify writes reach the BAR handler */
	return ioctl(vp->vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

void virtio_pci_notify_move(struct virtio_pci *vp, uint64_t base)
{
	pthread_mutex_lock(&vp->ioev_lock);
	for (unsigned int i = 0; i < vp->p.num_queues; i++) {
		struct virtio_pci_queue *q = &vp->q[i];
		uint64_t addr = base ? base + VIRTIO_PCI_NOTIFY_OFF + i * VIRTIO_PCI_NOTIFY_MULT : 0;
		int r;

		if (q->ioev_addr == addr)
			continue;
		if (q->ioev_addr && (r = vpn_ioeventfd(vp, q->ioev_addr, q->kick_fd, false)))
			log_warn("%s: queue %u: ioeventfd removal: %s", vp->ops->name, i,
				 strerror(-r));
		q->ioev_addr = 0;
		if (addr && !(r = vpn_ioeventfd(vp, addr, q->kick_fd, true)))
			q->ioev_addr = addr;
		else if (addr && r != -ENODEV)
			log_warn("%s: queue %u: ioeventfd at %#llx: %s (notifies will exit)",
				 vp->ops->name, i, (unsigned long long)addr, strerror(-r));
	}
	pthread_mutex_unlock(&vp->ioev_lock);
}

int virtio_pci_call_fd(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	int efd;

	if (q->msix_vector == VIRTIO_MSI_NO_VECTOR) {
		/* No interrupt wanted (a polling driver), but backends still
		 * signal completions, and libvhost-user-based ones (such as
		 * qemu-storage-daemon) treat a missing call fd as fatal. The
		 * relay takes the signal and, with no vector, drops it. */
		__atomic_store_n(&q->irq_vector, -1, __ATOMIC_RELEASE);
		return q->relay_fd;
	}
	__atomic_store_n(&q->irq_vector, q->msix_vector, __ATOMIC_RELEASE);
	efd = msix_vector_eventfd(&vp->msix, q->msix_vector);
	return efd >= 0 ? efd : q->relay_fd;
}

/* Event loop: a backend signalled a queue whose vector was not routed. */
static void vpn_relay(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct virtio_pci_queue *q = opaque;
	struct virtio_pci *vp = q->vp;
	uint64_t n;
	int v, efd;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	v = __atomic_load_n(&q->irq_vector, __ATOMIC_ACQUIRE);
	if (v < 0)
		return;   /* reset since */
	__atomic_fetch_or(&vp->isr, 1, __ATOMIC_ACQ_REL);
	msix_notify(&vp->msix, (unsigned int)v);
	/* Routed by now? Then the backend can raise it without us. */
	efd = msix_vector_eventfd(&vp->msix, (unsigned int)v);
	if (efd < 0 || !vp->ops->call_changed)
		return;
	pthread_mutex_lock(&vp->lock);
	if (vp->activated && q->call_fd == q->relay_fd && q->irq_vector == v) {
		q->call_fd = efd;
		vp->ops->call_changed(vp, (unsigned int)(q - vp->q), efd);
	}
	pthread_mutex_unlock(&vp->lock);
}

int virtio_pci_notify_init(struct virtio_pci *vp)
{
	struct vm *vm = vp->vm;

	vp->ioev_len = vm->vm_fd >= 0 &&
		       ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0 ?
		       0 : 2;
	for (unsigned int i = 0; i < vp->p.num_queues; i++) {
		struct virtio_pci_queue *q = &vp->q[i];

		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->relay_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0 || q->relay_fd < 0)
			return -errno;
		if (evloop_add(&vm->loop, q->relay_fd, EPOLLIN, vpn_relay, q)) {
			close(q->relay_fd);   /* not in the loop: destroy must not del it */
			q->relay_fd = -1;
			return -EIO;
		}
	}
	return 0;
}

void virtio_pci_notify_destroy(struct virtio_pci *vp)
{
	virtio_pci_notify_move(vp, 0);
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++) {
		struct virtio_pci_queue *q = &vp->q[i];

		if (q->relay_fd >= 0) {
			evloop_del(&vp->vm->loop, q->relay_fd);
			close(q->relay_fd);
		}
		if (q->kick_fd >= 0)
			close(q->kick_fd);
		q->relay_fd = q->kick_fd = -1;
	}
}
