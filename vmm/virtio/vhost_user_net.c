/* vhost-user-net: one virtio-net PCI function (1af4:1041, class 0x020000)
 * per --net (Xen vif syntax, vmm/control/vif.h), whose queue pairs a backend process
 * serves from guest memory over vhost-user: an isle-netback isle starts on
 * the spec's bridge (vmm/control/backend.h), or any vhost-user-net server given as
 * socket=PATH (isle-netback, DPDK's vhost PMD).
 *
 * isle owns, as QEMU does, the MAC (the spec's: --mac to the isle-netback
 * it starts, SET_CONFIG to a socket= one; else xl's random default, or a
 * socket= backend's own), the link status (down while no backend is
 * connected) and the control queue, answered here with lib/net_ctrl.c:
 * RX mode and MAC tables acknowledged (the guest filters), VQ_PAIRS_SET
 * switching pairs with SET_VRING_ENABLE. Backends never see CTRL_VQ or its
 * ring, so those that leave it to the frontend work. Offered: backend ∩
 * transport ∩ VUNET_PASS/CTRL; MTU and pairs from the backend's GET_CONFIG.
 *
 * Tap fds (struct vif's tap_fds, from the control socket: taps someone
 * else opened, maybe in a network namespace isle is not in): realize
 * checks them (open, taps with IFF_VNET_HDR, one device, multi-queue when
 * more than one, as many as queues=; isle-netback checks the rest) and
 * duplicates them close-on-exec into the device; every isle-netback it
 * starts, first and restarted, inherits the copies and gets them as
 * --tap-fd; unrealize closes them. The spec's own fds stay the caller's.
 *
 * The connection, the rings and reconnecting are vmm/virtio/vhost_user_dev.c's,
 * as for blk: the guest runs on (link down) while a timerfd retries every
 * 100 ms; a new backend gets the memory table and the rings based at the
 * used index in guest memory (backends complete in order) and a kick, and
 * the link comes up. Frames in a dead backend are lost, as on a wire.
 *
 * Locks: vp->lock -> b->d.lock -> msix; activate/reset/call_changed on vCPU
 * threads, socket, timer and control-queue events on the main thread, whose
 * event loop is its own: the control queue's candidate kick fds (rings 2
 * and 2 * pairs) join it at init, edge-triggered, so that when ring 2 is a
 * data ring (MQ) its kicks are left unread for the backend at the cost of a
 * wasted wake-up (an RX ring: kicked only when buffers come after a stall). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "isle/virtq.h"
#include "isle/net_ctrl.h"
#include "control/backend.h"
#include "virtio/vhost_user_dev.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"

_Static_assert(VIF_NETBACK_ARGS <= BACKEND_MAX_ARGS, "isle-netback's command line fits");
_Static_assert(VIF_MAX_QUEUES <= BACKEND_MAX_FDS, "a tap fd per queue can be passed");
_Static_assert(VIF_IFNAME_MAX == IFNAMSIZ, "a tap's name fits vifname");
#define VUNET_CONFIG_SIZE  ((uint32_t)sizeof(struct virtio_net_config))
#define VUNET_CONFIG_MIN   12        /* mac, status, max_virtqueue_pairs, mtu */
_Static_assert(VUNET_CONFIG_SIZE <= VUD_CONFIG_MAX, "the config fits the cache");
#define VUNET_QUEUE_MAX    256
#define VUNET_CLASS        0x020000  /* network controller, Ethernet */
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
	struct vud d;                    /* d.priv = this; the session, d.lock */
	const struct vif *spec;
	unsigned int idx;
	char vifname[VIF_IFNAME_MAX];    /* the tap of a backend we start */
	int tap_fds[VIF_MAX_QUEUES];     /* [0, nr_tap_fds): our copies of the spec's */
	unsigned int nr_tap_fds;
	struct virtio_pci vp;
	uint8_t mac[6];
	bool mac_own;                    /* mac is the spec's or ours, not the backend's */

	/* Under d.lock: */
	unsigned int pairs;              /* offered: max_virtqueue_pairs */
	unsigned int cur_pairs;          /* pairs in use (VQ_PAIRS_SET) */
	/* The control queue, d.q[ctrl] (-1: none this session). */
	int ctrl;
	bool ctrl_broken;
	struct vq ctrlvq;
	struct net_ctrl nc;
	int ctrl_fds[2];                 /* kick fds of rings 2 and 2 * pairs, in vm->loop */
	struct iovec ctrl_iov[VQ_ELEM_MAX_IOV];
};

/* Link up or down in the guest's config, with a config interrupt (the
 * ops->link of vhost_user_dev.c: down while no backend is connected). */
static void vunet_set_link(struct vud *d, bool up)
{
	struct vunet *b = d->priv;
	const uint32_t off = offsetof(struct virtio_net_config, status);
	uint16_t old, st;

	pthread_mutex_lock(&b->d.cfg_lock);
	old = get_le16(b->d.config + off);
	st = up ? old | VIRTIO_NET_S_LINK_UP : old & ~VIRTIO_NET_S_LINK_UP;
	put_le16(b->d.config + off, st);
	pthread_mutex_unlock(&b->d.cfg_lock);
	if (st != old)
		virtio_pci_config_changed(&b->vp);
}

/* The first connection decides what the guest is offered. */
static void vunet_offer(struct vunet *b, uint64_t feat, uint64_t pf, uint64_t nq,
			const uint8_t *cfg)
{
	uint64_t o = (feat & (VUNET_PASS | VUNET_CTRL)) | VUNET_OWN |
		     vud_platform_offer(&b->d, feat, pf);
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
		log_warn("%s: queues=%u, but the backend serves %u pair(s)", b->d.name,
			 b->spec->queues, pairs);
	b->d.offered = o;
	b->pairs = pairs;
}

/* What every connection starts with. Called with d->lock held. */
static int vunet_handshake(struct vud *d, bool first)
{
	struct vunet *b = d->priv;
	uint8_t cfg[VUNET_CONFIG_SIZE] = { 0 };
	struct virtio_net_config *c = (struct virtio_net_config *)cfg;
	uint64_t feat, pf, nq, need;
	int r;

	if ((r = vud_hello(d, &feat, &pf, &nq)))
		return r;
	if (pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) {
		r = vhu_front_get_config(&b->d.f, 0, cfg, VUNET_CONFIG_SIZE);
		if (r == -EIO)   /* a backend with a shorter config space */
			r = vhu_front_get_config(&b->d.f, 0, cfg, VUNET_CONFIG_MIN);
		if (r)
			return r;
	}
	if (first) {
		if (!b->mac_own && (pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) && vif_mac_ok(c->mac))
			memcpy(b->mac, c->mac, 6);
		vunet_offer(b, feat, pf, nq, cfg);
	}
	need = b->d.offered & VUNET_PASS;
	if (need & ~feat || (b->pairs > 1 && nq < b->pairs) ||
	    ((b->d.offered & BIT(VIRTIO_NET_F_MTU)) && !(pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)))) {
		log_error("%s: the backend lacks features %#llx or queues the guest was offered",
			  b->d.name, (unsigned long long)(need & ~feat));
		return -ENOTSUP;
	}
	b->d.backend_features = feat;
	b->d.protocol = pf;
	/* The spec's MAC for a backend we did not start (it may filter on it). */
	if (b->spec->mac_set && b->spec->socket[0] && (pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) &&
	    (r = vhu_front_set_config(&b->d.f, 0, b->mac, 6)))
		log_debug("%s: the backend refused the MAC (%s)", b->d.name, strerror(-r));
	memcpy(c->mac, b->mac, 6);
	/* Connected: up, unless the backend's own status says down. */
	if (!(pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)) || !(feat & BIT(VIRTIO_NET_F_STATUS)))
		c->status = htole16(VIRTIO_NET_S_LINK_UP);
	c->status &= htole16(VIRTIO_NET_S_LINK_UP);
	c->max_virtqueue_pairs = htole16((uint16_t)b->pairs);
	if (!(b->d.offered & BIT(VIRTIO_NET_F_MTU)))
		c->mtu = 0;
	pthread_mutex_lock(&b->d.cfg_lock);
	memcpy(b->d.config, cfg, sizeof(cfg));
	pthread_mutex_unlock(&b->d.cfg_lock);
	if (!first)
		virtio_pci_config_changed(&b->vp);   /* the link is back */
	return 0;
}

static bool vunet_is_ctrl(const struct vunet *b, unsigned int i)
{
	return b->ctrl >= 0 && i == (unsigned int)b->ctrl;
}

/* Backends never see the control queue. */
static bool vunet_backend_ring(const struct vud *d, unsigned int i)
{
	return !vunet_is_ctrl(d->priv, i);
}

/* Rings of pairs past cur_pairs stay disabled. */
static bool vunet_ring_enabled(const struct vud *d, const struct virtio_queue *q)
{
	return q->index / 2 < ((const struct vunet *)d->priv)->cur_pairs;
}

/* The backend gets the driver's features but those served here. */
static uint64_t vunet_features(const struct vud *d)
{
	return d->features & d->backend_features & ~(VUNET_CTRL | VUNET_OWN);
}

static const struct vud_ops vunet_vud_ops = {
	.protocol = VUNET_PROTOCOL,
	.handshake = vunet_handshake,
	.features = vunet_features,
	.backend_ring = vunet_backend_ring,
	.ring_enabled = vunet_ring_enabled,
	.link = vunet_set_link,
	.while_away = "link down",
	.on_return = "; link up",
};

/* VQ_PAIRS_SET: rings of pairs beyond n stop, the others run. */
static void vunet_set_pairs(struct vunet *b, unsigned int n)
{
	int r;

	log_info("%s: %u queue pair(s) in use", b->d.name, n);
	b->cur_pairs = n;
	if ((r = vud_enable_rings(&b->d)))
		vud_failed(&b->d, "switching queue pairs", r);
}

/* The control queue's chains, on the main thread with b->d.lock held. */
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
	vq_notify_eventfd(&b->ctrlvq, b->d.q[b->ctrl].call_fd);
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

	pthread_mutex_lock(&b->d.lock);
	if (b->ctrl >= 0 && fd == b->d.q[b->ctrl].kick_fd) {
		eventfd_read(fd, &v);
		if (!b->ctrl_broken)
			vunet_ctrl_run(b);
		goto out;
	}
	/* A data ring this session: its kicks are the backend's. */
	for (unsigned int i = 0; b->d.active && i < b->d.nr_q; i++)
		if (b->d.q[i].kick_fd == fd)
			goto out;
	eventfd_read(fd, &v);   /* no session uses it: a stray kick */
out:
	pthread_mutex_unlock(&b->d.lock);
}

/* The control queue of this session, if the driver took one. */
static void vunet_ctrl_setup(struct vunet *b, uint64_t features)
{
	unsigned int want = features & BIT(VIRTIO_NET_F_MQ) ? 2 * b->pairs : 2;
	struct vq_config cfg;

	b->ctrl = -1;
	b->ctrl_broken = false;
	for (unsigned int i = 0; (features & BIT(VIRTIO_NET_F_CTRL_VQ)) && i < b->d.nr_q; i++) {
		if (b->d.q[i].index != want)
			continue;
		cfg = (struct vq_config){
			.num = b->d.q[i].size, .max_num = VUNET_QUEUE_MAX,
			.desc_gpa = b->d.q[i].desc_gpa, .avail_gpa = b->d.q[i].avail_gpa,
			.used_gpa = b->d.q[i].used_gpa, .flags = vq_flags_from_features(features),
		};
		/* Through the device's DMA address space, as the rings'
		 * check in the transport. */
		if (vq_init(&b->ctrlvq, b->vp.pci.dma, &cfg))
			return;   /* the transport checked the ring: cannot happen */
		net_ctrl_init(&b->nc, features, b->pairs, b->mac);
		b->nc.pairs = 1;   /* one pair until VQ_PAIRS_SET */
		b->ctrl = (int)i;
	}
}

static int vunet_activate(struct virtio_pci *vp, uint64_t features, const struct virtio_queue *q,
			  unsigned int nr)
{
	struct vunet *b = vud_priv(vp);
	int r;

	pthread_mutex_lock(&b->d.lock);
	vud_set_session(&b->d, features, q, nr);
	b->cur_pairs = 1;
	vunet_ctrl_setup(b, features);
	r = vud_activate(&b->d);
	pthread_mutex_unlock(&b->d.lock);
	return r;
}

static void vunet_reset(struct virtio_pci *vp)
{
	struct vunet *b = vud_priv(vp);

	pthread_mutex_lock(&b->d.lock);
	vud_stop(&b->d);
	b->ctrl = -1;
	pthread_mutex_unlock(&b->d.lock);
}

static const struct virtio_dev_ops vunet_ops = {
	.name = "vhost-user-net",
	.get_features = vud_get_features,
	.config_read = vud_config_read,
	/* no config_write: every net config field is read-only */
	.activate = vunet_activate,
	.reset = vunet_reset,
	.call_changed = vud_call_changed,
};

/* One tap fd of the spec: its name (TUNGETIFF); -EINVAL with a message
 * when it is no tap isle-netback can serve. IFF_NO_PI is isle-netback's
 * check: TUNGETIFF reports the same bit as IFF_NOFILTER while the tap has
 * no socket filter, so asking means attaching one (netback/tap.c). */
static int vunet_check_tap_fd(struct vunet *b, int fd, unsigned int i, char name[IFNAMSIZ])
{
	const unsigned int need = IFF_TAP | IFF_VNET_HDR;
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		log_error("net%u: tap fd %u (%d) is not a tap device fd", b->idx, i, fd);
		return -EINVAL;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ - 1);
	name[IFNAMSIZ - 1] = '\0';
	if (((unsigned short)ifr.ifr_flags & (need | IFF_TUN)) != need) {
		log_error("net%u: tap fd %u is %s, which is not a tap opened with IFF_TAP | "
			  "IFF_NO_PI | IFF_VNET_HDR", b->idx, i, name);
		return -EINVAL;
	}
	if (b->spec->nr_tap_fds > 1 && !(ifr.ifr_flags & IFF_MULTI_QUEUE)) {
		log_error("net%u: %u tap fds of %s, which is not multi-queue (IFF_MULTI_QUEUE)",
			  b->idx, b->spec->nr_tap_fds, name);
		return -EINVAL;
	}
	return 0;
}

/* The spec's tap fds (at least one), checked and duplicated into b (closed
 * by vunet_exit_one); the tap's name becomes b->vifname. */
static int vunet_take_tap_fds(struct vunet *b)
{
	const struct vif *v = b->spec;
	char name[IFNAMSIZ], first[IFNAMSIZ] = "";
	int fd, r;

	if (v->nr_tap_fds > VIF_MAX_QUEUES || v->queues != v->nr_tap_fds) {
		log_error("net%u: %u tap fds for queues=%u: one fd per queue pair", b->idx,
			  v->nr_tap_fds, v->queues);
		return -EINVAL;
	}
	if (v->socket[0]) {
		log_error("net%u: tap fds go to the isle-netback isle starts, not to a socket= "
			  "backend", b->idx);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < v->nr_tap_fds; i++) {
		fd = v->tap_fds[i] < 0 ? -1 : fcntl(v->tap_fds[i], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			r = v->tap_fds[i] < 0 ? -EBADF : -errno;
			log_error("net%u: tap fd %u (%d): %s", b->idx, i, v->tap_fds[i],
				  strerror(-r));
			return r;
		}
		b->tap_fds[b->nr_tap_fds++] = fd;
		if ((r = vunet_check_tap_fd(b, fd, i, name)))
			return r;
		if (i && strcmp(name, first)) {
			log_error("net%u: tap fds of two taps (%s and %s): they must be queues of "
				  "one", b->idx, first, name);
			return -EINVAL;
		}
		memcpy(first, name, sizeof(first));
	}
	if (v->vifname[0] && strcmp(v->vifname, first)) {
		log_error("net%u: vifname=%s, but the tap fds are %s's", b->idx, v->vifname, first);
		return -EINVAL;
	}
	snprintf(b->vifname, sizeof(b->vifname), "%s", first);
	return 0;
}

/* Starts the isle-netback (or finds the socket= backend) and connects.
 * Returns the socket, -ENOEXEC for the user's mistakes (exit status 2). */
static int vunet_backend(struct vunet *b)
{
	const struct vif *v = b->spec;
	char exe[PATH_MAX], script[PATH_MAX], sock[16];
	struct vif_argv a;
	int r;

	if (v->socket[0])
		return vud_connect_socket(&b->d, v->socket);
	if ((r = backend_exe_path("ISLE_NETBACK", "netback", "isle-netback", exe, sizeof(exe)))) {
		log_error("%s: isle-netback not found at %s (set ISLE_NETBACK)", b->d.name, exe);
		return r;
	}
	if (v->script[0] && backend_script_path(v->script, script, sizeof(script))) {
		log_error("%s: script=%s: no such executable (names are looked up in "
			  "$ISLE_SCRIPT_DIR, libexec/isle, bridge-scripts/)", b->d.name, v->script);
		return -ENOEXEC;
	}
	if ((r = vif_netback_argv(v, exe, "%s", b->vifname, b->tap_fds, b->nr_tap_fds, b->mac,
				  v->script[0] ? script : NULL, &a)) < 0)
		return r;
	snprintf(sock, sizeof(sock), "net%u.sock", b->idx % 100);
	return vud_start_backend(&b->d, a.argv, sock, b->tap_fds, b->nr_tap_fds);
}

static int vunet_init_one(struct vm *vm, struct vunet *b, const struct vif *v, unsigned int idx)
{
	struct virtio_pci_params p;
	char mac[VIF_MAC_STRLEN];
	uint8_t rnd[3];
	int s, r;

	vud_init(&b->d, vm, &vunet_vud_ops, b);
	b->spec = v;
	b->idx = idx;
	b->ctrl = -1;
	b->ctrl_fds[0] = b->ctrl_fds[1] = -1;
	/* With tap fds, the tap's own name; else the spec's or isle's default. */
	if (v->nr_tap_fds) {
		if ((r = vunet_take_tap_fds(b)))
			return r;
	} else if (v->vifname[0]) {
		snprintf(b->vifname, sizeof(b->vifname), "%s", v->vifname);
	} else {
		snprintf(b->vifname, sizeof(b->vifname), "isle%d.%u", getpid() % 10000000, idx);
	}
	snprintf(b->d.name, sizeof(b->d.name), "net%u (%s)", idx,
		 v->socket[0] ? "socket" : b->vifname);
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
	if ((r = vud_connect(&b->d, s)))
		return r;
	p = (struct virtio_pci_params){
		.device_id = VIRTIO_ID_NET, .class_code = VUNET_CLASS,
		.num_queues = 2 * b->pairs + !!(b->d.offered & BIT(VIRTIO_NET_F_CTRL_VQ)),
		.queue_max = VUNET_QUEUE_MAX, .config_size = VUNET_CONFIG_SIZE,
	};
	if ((r = virtio_pci_init(&b->vp, vm, &vunet_ops, &p, &b->d)))
		return r;
	vud_iotlb_attach(&b->d, b->vp.dma_platform);
	for (unsigned int i = 0; (b->d.offered & BIT(VIRTIO_NET_F_CTRL_VQ)) && i < 2; i++) {
		int fd = b->vp.q[i ? 2 * b->pairs : 2].kick_fd;

		if (i && b->pairs == 1)
			break;
		if ((r = evloop_add(&vm->loop, fd, EPOLLIN | EPOLLET, vunet_ctrl_kick, b)))
			return r;
		b->ctrl_fds[i] = fd;
	}
	vif_format_mac(b->mac, mac);
	log_info("%s: virtio-net %s via %s, %u pair(s), features %#llx, PCI slot %u", b->d.name,
		 mac, b->d.path, b->pairs, (unsigned long long)b->vp.host_features, b->vp.pci.slot);
	return 0;
}

static void vunet_exit_one(struct vunet *b)
{
	/* Off the bus first: no guest access reaches it from here on, and
	 * its BARs are free for a later device. */
	pci_unregister(&b->d.vm->pci, &b->vp.pci);
	for (unsigned int i = 0; i < 2; i++)
		if (b->ctrl_fds[i] >= 0)
			evloop_del(&b->d.vm->loop, b->ctrl_fds[i]);
	vud_close(&b->d);   /* the backend is gone: the tap fds are ours alone */
	for (unsigned int i = 0; i < b->nr_tap_fds; i++)
		close(b->tap_fds[i]);
	virtio_pci_destroy(&b->vp);
	vud_destroy(&b->d);
	free(b);
}

static void vunet_unrealize(struct device *dev)
{
	if (dev->priv)
		vunet_exit_one(dev->priv);
	dev->priv = NULL;
}

/* The lowest index no other NIC of the VM has: it names the default tap
 * (isle<pid>.<idx>) and the backend socket, which must stay unique when
 * NICs come and go. */
static unsigned int vunet_free_idx(struct vm *vm)
{
	/* Bounded: with n devices in the list, one of 0..n is free. */
	for (unsigned int idx = 0;; idx++) {
		bool used = false;

		for (struct device *d = vm->devices.first; d && !used; d = d->next)
			used = d->type == &vhost_user_net_type &&
			       ((const struct vunet *)d->priv)->idx == idx;
		if (!used)
			return idx;
	}
}

static int vunet_realize(struct device *dev)
{
	struct vunet *b = calloc(1, sizeof(*b));
	unsigned int idx = vunet_free_idx(dev->vm);
	int r;

	if (!b)
		return -ENOMEM;
	dev->priv = b;
	r = vunet_init_one(dev->vm, b, &dev->spec.nic, idx);
	if (r)
		vunet_unrealize(dev);
	else
		dev->pci = &b->vp.pci;
	return r;
}

const struct device_type vhost_user_net_type = {
	.name = "vhost-user-net",
	.id_prefix = "net",
	.kind = DEVICE_NIC,
	.realize = vunet_realize,
	.unrealize = vunet_unrealize,
};
