/* vhost-user-net: one virtio-net PCI function (1af4:1041, class 0x020000)
 * per --net (Xen vif syntax, vmm/vif.h), whose queue pairs a backend process
 * serves from guest memory over vhost-user: an isle-netback isle starts on
 * the spec's bridge (vmm/backend.h), or any vhost-user-net server given as
 * socket=PATH (isle-netback, DPDK's vhost PMD).
 *
 * isle owns, as QEMU does, the MAC (the spec's: --mac to the isle-netback
 * it starts, SET_CONFIG to a socket= one; else xl's random default, or a
 * socket= backend's own), the link status (down while no backend is
 * connected) and the control queue, answered here with netback/net_ctrl.c:
 * RX mode and MAC tables acknowledged (the guest filters), VQ_PAIRS_SET
 * switching pairs with SET_VRING_ENABLE. Backends never see CTRL_VQ or its
 * ring, so those that leave it to the frontend work. Offered: backend ∩
 * transport ∩ VUNET_PASS/CTRL; MTU and pairs from the backend's GET_CONFIG.
 *
 * Reconnect as in vhost_user_blk.c: the guest runs on while a timerfd
 * retries every 100 ms; a new backend gets the memory table and the rings
 * based at the used index in guest memory (backends complete in order) and
 * a kick. Frames in a dead backend are lost, as on a wire.
 *
 * Locks: vp->lock -> b->lock -> msix; activate/reset/call_changed on vCPU
 * threads, socket, timer and control-queue events on the main thread, whose
 * event loop is its own: the control queue's candidate kick fds (rings 2
 * and 2 * pairs) join it at init, edge-triggered, so that when ring 2 is a
 * data ring (MQ) its kicks are left unread for the backend at the cost of a
 * wasted wake-up (an RX ring: kicked only when buffers come after a stall). */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "isle/virtq.h"
#include "netback/net.h"
#include "vmm/backend.h"
#include "vmm/virtio_pci.h"
#include "vmm/vm.h"

#define BIT(n) (1ULL << (n))
_Static_assert(VIF_NETBACK_ARGS <= BACKEND_MAX_ARGS, "isle-netback's command line fits");
#define VUNET_CONFIG_SIZE  ((uint32_t)sizeof(struct virtio_net_config))
#define VUNET_CONFIG_MIN   12        /* mac, status, max_virtqueue_pairs, mtu */
#define VUNET_QUEUE_MAX    256
#define VUNET_CLASS        0x020000  /* network controller, Ethernet */
#define VUNET_TIMEOUT_S    5
#define VUNET_RETRY_MS     100
#define VUNET_START_MS     10000     /* an isle-netback we started */
#define VUNET_EXTERNAL_MS  3000      /* a socket= backend */
#define VUNET_PROTOCOL (BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
			BIT(VHOST_USER_PROTOCOL_F_CONFIG))
/* Backend bits the guest may get, the ring ones included. */
#define VUNET_PASS (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |                \
		    BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_HOST_TSO4) |                  \
		    BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO4) |           \
		    BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_MRG_RXBUF) |           \
		    BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_F_VERSION_1) |                       \
		    BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC))
/* Offered when the backend offers them, but served here. */
#define VUNET_CTRL (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX))
/* Always offered: isle's own config fields. */
#define VUNET_OWN  (BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS))

struct vunet {
	struct vm *vm;
	const struct vif *spec;
	unsigned int idx;
	char name[48];                   /* "net0 (isle123.0)" */
	char vifname[VIF_IFNAME_MAX];    /* the tap of a backend we start */
	char path[BACKEND_SOCK_MAX];     /* the backend's socket */
	struct backend proc;             /* the isle-netback we started, if any */
	struct virtio_pci vp;
	uint8_t mac[6];
	bool mac_own;                    /* mac is the spec's or ours, not the backend's */

	pthread_mutex_t cfg_lock;
	uint8_t config[VUNET_CONFIG_SIZE];

	pthread_mutex_t lock;
	struct vhu_front f;              /* f.sock < 0 while disconnected */
	uint64_t backend_features, offered, protocol;
	unsigned int pairs;              /* offered: max_virtqueue_pairs */
	int timer_fd;
	unsigned int attempts;
	/* The driver session, replayed on reconnect. */
	bool active, resume;
	uint64_t features;
	unsigned int nr_q, cur_pairs;    /* cur_pairs: pairs in use (VQ_PAIRS_SET) */
	struct virtio_queue q[VIRTIO_PCI_MAX_QUEUES];
	/* The control queue, q[ctrl] (-1: none this session). */
	int ctrl;
	bool ctrl_broken;
	struct vq ctrlvq;
	struct net_ctrl nc;
	int ctrl_fds[2];                 /* kick fds of rings 2 and 2 * pairs, in vm->loop */
	struct iovec ctrl_iov[VQ_ELEM_MAX_IOV];
};

/* Link up or down in the guest's config, with a config interrupt. */
static void vunet_set_link(struct vunet *b, bool up)
{
	const uint32_t off = offsetof(struct virtio_net_config, status);
	uint16_t old, st;

	pthread_mutex_lock(&b->cfg_lock);
	old = get_le16(b->config + off);
	st = up ? old | VIRTIO_NET_S_LINK_UP : old & ~VIRTIO_NET_S_LINK_UP;
	put_le16(b->config + off, st);
	pthread_mutex_unlock(&b->cfg_lock);
	if (st != old)
		virtio_pci_config_changed(&b->vp);
}

/* The first connection decides what the guest is offered. */
static void vunet_offer(struct vunet *b, uint64_t feat, uint64_t pf, uint64_t nq,
			const uint8_t *cfg)
{
	uint64_t o = (feat & (VUNET_PASS | VUNET_CTRL)) | VUNET_OWN;
	unsigned int pairs = b->spec->queues;

	if (!(pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)))
		o &= ~BIT(VIRTIO_NET_F_MTU);   /* it would be in the config we cannot read */
	if (!(o & BIT(VIRTIO_NET_F_CSUM)))
		o &= ~(BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6));
	if (!(o & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		o &= ~(BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6));
	if (pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) {
		const struct virtio_net_config *c = (const void *)cfg;

		pairs = MIN(pairs, MAX(le16toh(c->max_virtqueue_pairs), 1u));
	}
	/* More than one pair needs MQ, a control queue to switch pairs and
	 * SET_VRING_ENABLE to do it with; nq is QEMU's reading of QUEUE_NUM. */
	if (!(o & BIT(VIRTIO_NET_F_MQ)) || !(o & BIT(VIRTIO_NET_F_CTRL_VQ)) ||
	    !(pf & BIT(VHOST_USER_PROTOCOL_F_MQ)) ||
	    !(feat & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		pairs = 1;
	pairs = (unsigned int)MIN((uint64_t)pairs, MAX(nq, 1));
	pairs = MIN(pairs, (VIRTIO_PCI_MAX_QUEUES - 1) / 2u);
	if (pairs == 1)
		o &= ~BIT(VIRTIO_NET_F_MQ);
	if (!(o & BIT(VIRTIO_NET_F_CTRL_VQ)))
		o &= ~BIT(VIRTIO_NET_F_CTRL_RX);
	if (pairs < b->spec->queues)
		log_warn("%s: queues=%u, but the backend serves %u pair(s)", b->name,
			 b->spec->queues, pairs);
	b->offered = o;
	b->pairs = pairs;
}

/* What every connection starts with. Called with b->lock held. */
static int vunet_handshake(struct vunet *b, bool first)
{
	uint8_t cfg[VUNET_CONFIG_SIZE] = { 0 };
	struct virtio_net_config *c = (struct virtio_net_config *)cfg;
	struct timeval tv = { .tv_sec = VUNET_TIMEOUT_S };   /* a reply; then we reconnect */
	uint64_t feat, pf = 0, nq = 1, need;
	int r;

	setsockopt(b->f.sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(b->f.sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((r = vhu_front_get_features(&b->f, &feat)))
		return r;
	if (feat & BIT(VHOST_USER_F_PROTOCOL_FEATURES)) {
		if ((r = vhu_front_get_protocol_features(&b->f, &pf)))
			return r;
		pf &= VUNET_PROTOCOL;
		if ((r = vhu_front_set_protocol_features(&b->f, pf)))
			return r;
	}
	if ((r = vhu_front_set_owner(&b->f)) ||
	    ((pf & BIT(VHOST_USER_PROTOCOL_F_MQ)) && (r = vhu_front_get_queue_num(&b->f, &nq))))
		return r;
	if (pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) {
		r = vhu_front_get_config(&b->f, 0, cfg, VUNET_CONFIG_SIZE);
		if (r == -EIO)   /* a backend with a shorter config space */
			r = vhu_front_get_config(&b->f, 0, cfg, VUNET_CONFIG_MIN);
		if (r)
			return r;
	}
	if (first) {
		if (!b->mac_own && (pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) && vif_mac_ok(c->mac))
			memcpy(b->mac, c->mac, 6);
		vunet_offer(b, feat, pf, nq, cfg);
	}
	need = b->offered & VUNET_PASS;
	if (need & ~feat || (b->pairs > 1 && nq < b->pairs) ||
	    ((b->offered & BIT(VIRTIO_NET_F_MTU)) && !(pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)))) {
		log_error("%s: the backend lacks features %#llx or queues the guest was offered",
			  b->name, (unsigned long long)(need & ~feat));
		return -ENOTSUP;
	}
	b->backend_features = feat;
	b->protocol = pf;
	/* The spec's MAC for a backend we did not start (it may filter on it). */
	if (b->spec->mac_set && b->spec->socket[0] && (pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) &&
	    (r = vhu_front_set_config(&b->f, 0, b->mac, 6)))
		log_debug("%s: the backend refused the MAC (%s)", b->name, strerror(-r));
	memcpy(c->mac, b->mac, 6);
	/* Connected: up, unless the backend's own status says down. */
	if (!(pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) || !(feat & BIT(VIRTIO_NET_F_STATUS)))
		c->status = htole16(VIRTIO_NET_S_LINK_UP);
	c->status &= htole16(VIRTIO_NET_S_LINK_UP);
	c->max_virtqueue_pairs = htole16((uint16_t)b->pairs);
	if (!(b->offered & BIT(VIRTIO_NET_F_MTU)))
		c->mtu = 0;
	pthread_mutex_lock(&b->cfg_lock);
	memcpy(b->config, cfg, sizeof(cfg));
	pthread_mutex_unlock(&b->cfg_lock);
	if (!first)
		virtio_pci_config_changed(&b->vp);   /* the link is back */
	return 0;
}

static bool vunet_is_ctrl(const struct vunet *b, unsigned int i)
{
	return b->ctrl >= 0 && i == (unsigned int)b->ctrl;
}

static int vunet_start_ring(struct vunet *b, const struct virtio_queue *q)
{
	uint8_t idx[2] = { 0 };
	uint16_t base = 0;
	int r;

	/* A new backend continues where the used ring is (in-order backends:
	 * everything after it is unprocessed). */
	if (b->resume && gmem_read(&b->vm->gmem, q->used_gpa + 2, idx, sizeof(idx)) == 0)
		base = get_le16(idx);
	if ((r = vhu_front_set_vring_num(&b->f, q->index, q->size)) ||
	    (r = vhu_front_set_vring_base(&b->f, q->index, base)) ||
	    (r = vhu_front_set_vring_addr(&b->f, &b->vm->gmem, q->index, q->desc_gpa,
					  q->avail_gpa, q->used_gpa)) ||
	    (r = vhu_front_set_vring_call(&b->f, q->index, q->call_fd)) ||
	    (r = vhu_front_set_vring_kick(&b->f, q->index, q->kick_fd)))
		return r;
	if (b->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		r = vhu_front_set_vring_enable(&b->f, q->index, q->index / 2 < b->cur_pairs);
	return r;
}

/* Hands the session to a connected backend. Called with b->lock held. */
static int vunet_start(struct vunet *b)
{
	uint64_t feat = (b->features & b->backend_features & ~(VUNET_CTRL | VUNET_OWN)) |
			(b->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	bool resumed = b->resume;
	int r;

	if ((r = vhu_front_set_features(&b->f, feat)) ||
	    (r = vhu_front_set_mem_table(&b->f, &b->vm->gmem)))
		return r;
	b->resume = true;   /* from here on a backend may have used the rings */
	for (unsigned int i = 0; i < b->nr_q; i++)
		if (!vunet_is_ctrl(b, i) && (r = vunet_start_ring(b, &b->q[i])))
			return r;
	/* Frames the guest queued while no backend was there wait for a kick. */
	for (unsigned int i = 0; resumed && i < b->nr_q; i++)
		if (!vunet_is_ctrl(b, i) && eventfd_write(b->q[i].kick_fd, 1) < 0)
			log_debug("%s: ring %u: kick: %s", b->name, b->q[i].index, strerror(errno));
	return 0;
}

static void vunet_arm(struct vunet *b, bool on)
{
	struct itimerspec its = { 0 };

	if (on)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = VUNET_RETRY_MS * 1000000L;
	timerfd_settime(b->timer_fd, 0, &its, NULL);
}

/* Drops the connection; the timer reconnects. b->lock held, main thread. */
static void vunet_disconnect(struct vunet *b, const char *why)
{
	evloop_del(&b->vm->loop, b->f.sock);
	vhu_front_close(&b->f);
	b->attempts = 0;
	log_warn("%s: backend %s (%s); link down, reconnecting every %d ms", b->name, b->path,
		 why, VUNET_RETRY_MS);
	vunet_set_link(b, false);
	vunet_arm(b, true);
}

/* A request failed: shut the socket, so the main loop sees it close and
 * reconnects with a clean backend. A nack (-EIO) is the backend refusing
 * what the guest set up: the device then needs a reset. b->lock held. */
static int vunet_failed(struct vunet *b, const char *what, int r)
{
	log_warn("%s: %s: %s", b->name, what, strerror(-r));
	if (b->f.sock >= 0)
		shutdown(b->f.sock, SHUT_RDWR);
	return r == -EIO ? r : 0;
}

static void vunet_sock_event(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vunet *b = opaque;
	char c;
	ssize_t n;

	pthread_mutex_lock(&b->lock);
	if (fd == b->f.sock) {
		/* Replies are read by their requester: anything here is EOF,
		 * an error or an unasked-for message. */
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN) ||
		    (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
			vunet_disconnect(b, "closed");
		else if (n > 0)
			vunet_disconnect(b, "sent an unexpected message");
	}
	pthread_mutex_unlock(&b->lock);
}

static void vunet_retry(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vunet *b = opaque;
	uint64_t ticks;
	int s, r;

	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	pthread_mutex_lock(&b->lock);
	if (b->f.sock >= 0)
		goto disarm;
	b->attempts++;
	s = backend_connect(b->path, NULL, 0);
	if (s < 0)
		goto out;
	vhu_front_init(&b->f, s);
	r = vunet_handshake(b, false);
	if (!r && b->active)
		r = vunet_start(b);
	if (!r)
		r = evloop_add(loop, s, EPOLLIN | EPOLLRDHUP, vunet_sock_event, b);
	if (r) {
		if (b->attempts <= 3 || !(b->attempts % 100))
			log_warn("%s: reconnect attempt %u failed: %s", b->name, b->attempts,
				 strerror(-r));
		vhu_front_close(&b->f);
		vunet_set_link(b, false);
		goto out;
	}
	log_info("%s: backend reconnected after %u attempt(s)%s; link up", b->name, b->attempts,
		 b->active ? ", rings resumed" : "");
disarm:
	vunet_arm(b, false);
out:
	pthread_mutex_unlock(&b->lock);
}

/* VQ_PAIRS_SET: rings of pairs beyond n stop, the others run. */
static void vunet_set_pairs(struct vunet *b, unsigned int n)
{
	int r;

	log_info("%s: %u queue pair(s) in use", b->name, n);
	b->cur_pairs = n;
	if (b->f.sock < 0 || !(b->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		return;
	for (unsigned int i = 0; i < b->nr_q; i++) {
		if (vunet_is_ctrl(b, i))
			continue;
		r = vhu_front_set_vring_enable(&b->f, b->q[i].index, b->q[i].index / 2 < n);
		if (r) {
			vunet_failed(b, "switching queue pairs", r);
			return;
		}
	}
}

/* The control queue's chains, on the main thread with b->lock held. */
static void vunet_ctrl_run(struct vunet *b)
{
	unsigned int pairs = b->nc.pairs;
	struct vq_elem e;
	int r;

	vq_elem_init(&e, b->ctrl_iov, ARRAY_SIZE(b->ctrl_iov));
	while ((r = vq_pop(&b->ctrlvq, &e)) > 0) {
		r = net_ctrl_handle(&b->nc, &e);
		vq_push(&b->ctrlvq, e.head, r > 0 ? (uint32_t)r : 0);
	}
	net_notify(&b->ctrlvq, b->q[b->ctrl].call_fd);
	if (r < 0) {
		b->ctrl_broken = true;
		virtio_pci_needs_reset(&b->vp, vq_broken_reason(&b->ctrlvq));
	}
	if (b->nc.pairs != pairs)
		vunet_set_pairs(b, b->nc.pairs);
}

static void vunet_ctrl_kick(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vunet *b = opaque;
	eventfd_t v;

	pthread_mutex_lock(&b->lock);
	if (b->ctrl >= 0 && fd == b->q[b->ctrl].kick_fd) {
		eventfd_read(fd, &v);
		if (!b->ctrl_broken)
			vunet_ctrl_run(b);
		goto out;
	}
	/* A data ring this session: its kicks are the backend's. */
	for (unsigned int i = 0; b->active && i < b->nr_q; i++)
		if (b->q[i].kick_fd == fd)
			goto out;
	eventfd_read(fd, &v);   /* no session uses it: a stray kick */
out:
	pthread_mutex_unlock(&b->lock);
}

/* The control queue of this session, if the driver took one. */
static void vunet_ctrl_setup(struct vunet *b, uint64_t features)
{
	unsigned int want = features & BIT(VIRTIO_NET_F_MQ) ? 2 * b->pairs : 2;
	struct vq_config cfg;

	b->ctrl = -1;
	b->ctrl_broken = false;
	for (unsigned int i = 0; (features & BIT(VIRTIO_NET_F_CTRL_VQ)) && i < b->nr_q; i++) {
		if (b->q[i].index != want)
			continue;
		cfg = (struct vq_config){
			.num = b->q[i].size, .max_num = VUNET_QUEUE_MAX,
			.desc_gpa = b->q[i].desc_gpa, .avail_gpa = b->q[i].avail_gpa,
			.used_gpa = b->q[i].used_gpa, .flags = vq_flags_from_features(features),
		};
		if (vq_init(&b->ctrlvq, &b->vm->gmem, &cfg))
			return;   /* the transport checked the ring: cannot happen */
		net_ctrl_init(&b->nc, features, b->pairs, b->mac);
		b->nc.pairs = 1;   /* one pair until VQ_PAIRS_SET */
		b->ctrl = (int)i;
	}
}

static uint64_t vunet_get_features(struct virtio_pci *vp)
{
	return ((struct vunet *)vp->priv)->offered;
}

static void vunet_config_read(struct virtio_pci *vp, uint32_t offset, void *data,
			      unsigned int len)
{
	struct vunet *b = vp->priv;

	pthread_mutex_lock(&b->cfg_lock);
	memcpy(data, b->config + offset, len);
	pthread_mutex_unlock(&b->cfg_lock);
}

static int vunet_activate(struct virtio_pci *vp, uint64_t features, const struct virtio_queue *q,
			  unsigned int nr)
{
	struct vunet *b = vp->priv;
	int r = 0;

	pthread_mutex_lock(&b->lock);
	b->features = features;
	b->nr_q = nr;
	memcpy(b->q, q, nr * sizeof(*q));
	b->active = true;
	b->resume = false;
	b->cur_pairs = 1;
	vunet_ctrl_setup(b, features);
	if (b->f.sock >= 0 && (r = vunet_start(b)))
		r = vunet_failed(b, "starting the rings", r);
	if (r)
		b->active = false;
	pthread_mutex_unlock(&b->lock);
	return r;
}

static void vunet_reset(struct virtio_pci *vp)
{
	struct vunet *b = vp->priv;
	uint16_t base;
	int r = 0;

	pthread_mutex_lock(&b->lock);
	for (unsigned int i = 0; b->active && b->f.sock >= 0 && !r && i < b->nr_q; i++) {
		if (vunet_is_ctrl(b, i))
			continue;
		if (b->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
			r = vhu_front_set_vring_enable(&b->f, b->q[i].index, false);
		if (!r)
			r = vhu_front_get_vring_base(&b->f, b->q[i].index, &base);
		if (r)
			vunet_failed(b, "stopping the rings", r);
	}
	b->active = b->resume = false;
	b->nr_q = 0;
	b->ctrl = -1;
	pthread_mutex_unlock(&b->lock);
}

static void vunet_call_changed(struct virtio_pci *vp, unsigned int index, int call_fd)
{
	struct vunet *b = vp->priv;
	int r;

	pthread_mutex_lock(&b->lock);
	for (unsigned int i = 0; i < b->nr_q; i++) {
		if (b->q[i].index != index)
			continue;
		b->q[i].call_fd = call_fd;
		if (!vunet_is_ctrl(b, i) && b->active && b->f.sock >= 0 &&
		    (r = vhu_front_set_vring_call(&b->f, index, call_fd)))
			vunet_failed(b, "new call fd", r);
	}
	pthread_mutex_unlock(&b->lock);
}

static const struct virtio_dev_ops vunet_ops = {
	.name = "vhost-user-net",
	.get_features = vunet_get_features,
	.config_read = vunet_config_read,
	/* no config_write: every net config field is read-only */
	.activate = vunet_activate,
	.reset = vunet_reset,
	.call_changed = vunet_call_changed,
};

/* Starts the isle-netback (or finds the socket= backend) and connects.
 * Returns the socket, -ENOEXEC for the user's mistakes (exit status 2). */
static int vunet_backend(struct vunet *b)
{
	const struct vif *v = b->spec;
	char exe[PATH_MAX], script[PATH_MAX], sock[16];
	struct vif_argv a;
	int r;

	if (v->socket[0]) {
		snprintf(b->path, sizeof(b->path), "%s", v->socket);
		r = backend_connect(b->path, NULL, VUNET_EXTERNAL_MS);
		if (r < 0)
			log_error("%s: cannot connect to %s: %s", b->name, b->path, strerror(-r));
		return r;
	}
	if ((r = backend_exe_path("ISLE_NETBACK", "netback", "isle-netback", exe, sizeof(exe)))) {
		log_error("%s: isle-netback not found at %s (set ISLE_NETBACK)", b->name, exe);
		return r;
	}
	if (v->script[0] && backend_script_path(v->script, script, sizeof(script))) {
		log_error("%s: script=%s: no such executable (names are looked up in "
			  "$ISLE_SCRIPT_DIR, libexec/isle, bridge-scripts/)", b->name, v->script);
		return -ENOEXEC;
	}
	vif_netback_argv(v, exe, "%s", b->vifname, b->mac, v->script[0] ? script : NULL, &a);
	snprintf(sock, sizeof(sock), "net%u.sock", b->idx % 100);
	r = backend_start(&b->proc, b->vm, b->name, a.argv, sock, VUNET_START_MS);
	if (r >= 0)
		snprintf(b->path, sizeof(b->path), "%s", b->proc.sock);
	return r;
}

static int vunet_init_one(struct vm *vm, struct vunet *b, const struct vif *v, unsigned int idx)
{
	struct virtio_pci_params p;
	char mac[VIF_MAC_STRLEN];
	uint8_t rnd[3];
	int s, r;

	b->vm = vm;
	b->spec = v;
	b->idx = idx;
	b->ctrl = -1;
	b->f.sock = b->timer_fd = b->proc.pidfd = b->proc.timer_fd = -1;
	b->ctrl_fds[0] = b->ctrl_fds[1] = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->cfg_lock, NULL);
	if (v->vifname[0])
		snprintf(b->vifname, sizeof(b->vifname), "%s", v->vifname);
	else
		snprintf(b->vifname, sizeof(b->vifname), "isle%d.%u", getpid() % 10000000, idx);
	snprintf(b->name, sizeof(b->name), "net%u (%s)", idx, v->socket[0] ? "socket" : b->vifname);
	/* The spec's MAC, else xl's default: ours for a backend we start, the
	 * backend's (if it has one) for a socket= backend. */
	b->mac_own = v->mac_set || !v->socket[0];
	if (v->mac_set) {
		memcpy(b->mac, v->mac, 6);
	} else {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -errno;
		vif_default_mac(b->mac, rnd);
	}
	s = vunet_backend(b);
	if (s < 0)
		return s;
	vhu_front_init(&b->f, s);
	pthread_mutex_lock(&b->lock);
	r = vunet_handshake(b, true);
	pthread_mutex_unlock(&b->lock);
	if (r) {
		log_error("%s: vhost-user handshake with %s: %s", b->name, b->path, strerror(-r));
		return r;
	}
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0)
		return -errno;
	if ((r = evloop_add(&vm->loop, b->timer_fd, EPOLLIN, vunet_retry, b)) ||
	    (r = evloop_add(&vm->loop, s, EPOLLIN | EPOLLRDHUP, vunet_sock_event, b)) ||
	    (b->proc.pid && (r = backend_watch(&b->proc))))
		return r;
	p = (struct virtio_pci_params){
		.device_id = VIRTIO_ID_NET, .class_code = VUNET_CLASS,
		.num_queues = 2 * b->pairs + !!(b->offered & BIT(VIRTIO_NET_F_CTRL_VQ)),
		.queue_max = VUNET_QUEUE_MAX, .config_size = VUNET_CONFIG_SIZE,
	};
	if ((r = virtio_pci_init(&b->vp, vm, &vunet_ops, &p, b)))
		return r;
	for (unsigned int i = 0; (b->offered & BIT(VIRTIO_NET_F_CTRL_VQ)) && i < 2; i++) {
		int fd = b->vp.q[i ? 2 * b->pairs : 2].kick_fd;

		if (i && b->pairs == 1)
			break;
		if ((r = evloop_add(&vm->loop, fd, EPOLLIN | EPOLLET, vunet_ctrl_kick, b)))
			return r;
		b->ctrl_fds[i] = fd;
	}
	vif_format_mac(b->mac, mac);
	log_info("%s: virtio-net %s via %s, %u pair(s), features %#llx, PCI slot %u", b->name,
		 mac, b->path, b->pairs, (unsigned long long)b->vp.host_features, b->vp.pci.slot);
	return 0;
}

static void vunet_exit_one(struct vunet *b)
{
	if (b->f.sock >= 0) {
		evloop_del(&b->vm->loop, b->f.sock);
		vhu_front_close(&b->f);
	}
	for (unsigned int i = 0; i < 2; i++)
		if (b->ctrl_fds[i] >= 0)
			evloop_del(&b->vm->loop, b->ctrl_fds[i]);
	if (b->timer_fd >= 0) {
		evloop_del(&b->vm->loop, b->timer_fd);
		close(b->timer_fd);
	}
	backend_stop(&b->proc);
	virtio_pci_destroy(&b->vp);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->cfg_lock);
	free(b);
}

static void vunet_exit(struct vm *vm)
{
	for (unsigned int i = 0; i < VM_MAX_NICS; i++) {
		if (vm->nics[i])
			vunet_exit_one(vm->nics[i]);
		vm->nics[i] = NULL;
	}
}

static int vunet_init(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->cfg->nr_nics && i < VM_MAX_NICS; i++) {
		int r;

		vm->nics[i] = calloc(1, sizeof(*vm->nics[i]));
		if (!vm->nics[i])
			return -ENOMEM;
		r = vunet_init_one(vm, vm->nics[i], &vm->cfg->nics[i], i);
		if (r)
			return r;
	}
	return 0;
}

const struct vm_device_ops vhost_user_net_device = {
	.name = "vhost-user-net",
	.init = vunet_init,
	.exit = vunet_exit,
};
