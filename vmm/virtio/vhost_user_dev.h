/* The vhost-user frontend plumbing every vhost-user device of isle shares
 * (vhost_user_blk.c, vhost_user_net.c): the backend connection (a socket=
 * server, or a backend process started with vmm/control/backend.h), the common
 * part of the handshake (reply timeouts, features, protocol features,
 * owner, queue count), the driver session and its rings (features, memory
 * table, num/base/addr/call/kick/enable, stop via GET_VRING_BASE), and
 * reconnection: when the socket closes, a timerfd in vm->loop retries every
 * VUD_RETRY_MS, replays the device's handshake and the session with each
 * ring based at the used index in guest memory, and kicks every ring once.
 *
 * A device embeds a struct vud, describes itself with a const struct
 * vud_ops and passes &d as the priv of its virtio_pci (vud_priv() gets the
 * device back), so vud_get_features, vud_config_read and vud_call_changed
 * serve as its virtio_dev_ops. It fills d->offered and the config cache
 * (d->config under d->cfg_lock, so guest config reads never wait on a
 * backend) in its handshake, and keeps anything else device-specific.
 *
 * DMA: ring addresses are IOVAs of the function's DMA address space
 * (virtio_queue.dma). Without VIRTIO_F_ACCESS_PLATFORM that is the
 * identity: they are translated here and sent as isle's host addresses,
 * which the memory table (the VM's RAM) describes, and the backend
 * translates buffers as guest-physical. With it (behind --iommu, a backend
 * with the device IOTLB) rings and buffers are the guest's IOVAs, and
 * vhost_user_iotlb.c answers the backend's misses and forwards the guest's
 * invalidations.
 *
 * Contract: d->lock serializes all vhost-user traffic and the session
 * state (lock order vp->lock -> d->lock -> msix). Functions marked
 * "d->lock held" expect the caller to hold it; socket and reconnect-timer
 * events run on the main thread and take it themselves. */
#ifndef ISLE_VMM_VHOST_USER_DEV_H
#define ISLE_VMM_VHOST_USER_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "isle/vhost_user.h"
#include "control/backend.h"
#include "virtio/virtio_pci.h"

#define VUD_TIMEOUT_S    5         /* a backend reply; then we reconnect */
#define VUD_RETRY_MS     100
#define VUD_START_MS     10000     /* a backend isle started */
#define VUD_EXTERNAL_MS  3000      /* a socket= backend (started alongside us) */
#define VUD_CONFIG_MAX   64        /* the largest device config space cached */

struct vm;
struct vud;

struct vud_ops {
	uint64_t protocol;           /* protocol features isle may use */
	/* Protocol features a backend must have, and what to call them in
	 * the error if it lacks them (0: none). */
	uint64_t protocol_need;
	const char *protocol_need_what;
	/* The device's whole handshake (vud_hello, then its own part); first
	 * on the first connection. d->lock held. */
	int (*handshake)(struct vud *d, bool first);
	/* Optional: the driver's features as sent in SET_FEATURES (without
	 * PROTOCOL_FEATURES, which vud adds); NULL: d->features. */
	uint64_t (*features)(const struct vud *d);
	/* Optional: after the memory table, before the rings (blk: the
	 * inflight buffer). d->lock held. */
	int (*start)(struct vud *d);
	/* Optional: false for session rings isle serves itself (net's
	 * control queue); NULL: all are the backend's. */
	bool (*backend_ring)(const struct vud *d, unsigned int i);
	/* Optional: whether a started ring is enabled; NULL: all. */
	bool (*ring_enabled)(const struct vud *d, const struct virtio_queue *q);
	/* Optional: called with up = false when the backend is gone and
	 * after each failed reconnect attempt (the device's handshake
	 * brings it back up). d->lock held. */
	void (*link)(struct vud *d, bool up);
	/* For the log: what the guest sees while disconnected ("guest I/O
	 * waits") and a suffix for a reconnect ("; link up" or ""). */
	const char *while_away;
	const char *on_return;
};

struct vud {
	struct vm *vm;
	const struct vud_ops *ops;
	void *priv;                      /* the device */
	char name[48];                   /* "disk xvda", "net0 (isle123.0)" */
	char path[BACKEND_SOCK_MAX];     /* the backend's socket */
	struct backend proc;             /* the backend we started, if any */

	pthread_mutex_t cfg_lock;
	uint8_t config[VUD_CONFIG_MAX];  /* what the guest reads */

	pthread_mutex_t lock;
	struct vhu_front f;              /* f.sock < 0 while disconnected */
	uint64_t backend_features, offered, protocol;
	int timer_fd;
	unsigned int attempts;           /* reconnect attempts so far */
	/* The driver session (from activate), replayed on reconnect. */
	bool active, resume;
	uint64_t features;
	unsigned int nr_q;
	struct virtio_queue q[VIRTIO_PCI_MAX_QUEUES];

	/* Device IOTLB (vhost_user_iotlb.c): the back-end channel's read end
	 * (-1: none), the function's VT-d address space and our notifier on
	 * it, and counters. */
	int req_fd;
	struct dma_as *iotlb_as;
	struct dma_notifier iotlb_notifier;
	uint64_t iotlb_misses, iotlb_updates, iotlb_invalidations, iotlb_fails;
};

/* Before anything else: fds -1, the locks. */
void vud_init(struct vud *d, struct vm *vm, const struct vud_ops *ops, void *priv);
/* A socket= backend: sets d->path and connects (VUD_EXTERNAL_MS). Returns
 * the socket or -errno (logged). */
int vud_connect_socket(struct vud *d, const char *path);
/* Starts a backend process in d->proc (backend_start_fds, VUD_START_MS:
 * the child inherits fds[0, nr_fds) at every start) and sets d->path.
 * Returns the socket or -errno. */
int vud_start_backend(struct vud *d, const char *const argv[], const char *sockname,
		      const int *fds, unsigned int nr_fds);
/* Takes the connected socket s: first handshake, the reconnect timer, the
 * socket and backend watch in vm->loop. Returns 0 or -errno (logged). */
int vud_connect(struct vud *d, int s);
/* Closes the socket, the timer and the backend process. */
void vud_close(struct vud *d);
void vud_destroy(struct vud *d);

/* vhost_user_iotlb.c. Whether the session negotiated ACCESS_PLATFORM. */
bool vud_platform(const struct vud *d);
/* BIT(VIRTIO_F_ACCESS_PLATFORM) if the guest may be offered it: the VM has
 * the VT-d and the backend has the feature and BACKEND_REQ (pf). */
uint64_t vud_platform_offer(const struct vud *d, uint64_t feat, uint64_t pf);
/* Per connection (main thread, d->lock held): the back-end channel when pf
 * has BACKEND_REQ; and its end. */
int vud_iotlb_connect(struct vud *d, uint64_t pf);
void vud_iotlb_disconnect(struct vud *d);
/* Sends the pages of q's rings as updates (d->lock held). */
int vud_iotlb_map_ring(struct vud *d, const struct virtio_queue *q);
/* At realize / teardown (not under d->lock): the invalidation notifier on
 * the function's VT-d address space (NULL: none). */
void vud_iotlb_attach(struct vud *d, struct dma_as *as);
void vud_iotlb_detach(struct vud *d);

/* The common start of every handshake: reply timeouts, GET_FEATURES,
 * protocol features (& ops->protocol, plus BACKEND_REQ behind --iommu;
 * checked against ops->protocol_need), SET_OWNER, GET_QUEUE_NUM (if MQ;
 * else *nq = 1), the back-end channel (BACKEND_REQ). d->lock held. */
int vud_hello(struct vud *d, uint64_t *feat, uint64_t *pf, uint64_t *nq);

/* A new driver session: remembers its features and queues. d->lock held. */
void vud_set_session(struct vud *d, uint64_t features, const struct virtio_queue *q,
		     unsigned int nr);
/* Hands the session to the backend if connected; an error ends the
 * session (the guest must reset). d->lock held. */
int vud_activate(struct vud *d);
/* Stops the backend's rings (GET_VRING_BASE waits for their requests) and
 * ends the session. d->lock held. */
void vud_stop(struct vud *d);
/* Enables or disables each of the backend's rings as ops->ring_enabled
 * now says, if connected and with PROTOCOL_FEATURES (else 0, nothing to
 * do). Stops at the first error. d->lock held. */
int vud_enable_rings(struct vud *d);
/* virtio_dev_ops for a virtio_pci whose priv is the struct vud:
 * d->offered, the config cache, and a queue's new call fd (takes d->lock). */
uint64_t vud_get_features(struct virtio_pci *vp);
void vud_config_read(struct virtio_pci *vp, uint32_t offset, void *data, unsigned int len);
void vud_call_changed(struct virtio_pci *vp, unsigned int index, int call_fd);

/* The device of a virtio_pci whose priv is its struct vud. */
static inline void *vud_priv(struct virtio_pci *vp)
{
	return ((struct vud *)vp->priv)->priv;
}

/* A request failed: shut the socket so the main loop reconnects. Returns
 * -EIO for a nack (the device needs a reset), else 0. d->lock held. */
int vud_failed(struct vud *d, const char *what, int r);

#endif
