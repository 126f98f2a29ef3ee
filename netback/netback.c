/* isle-netback's vhost-user-net device (contract in netback/netback.h):
 * features and config space, ring start/stop routed to the queue pairs
 * (netback/qp.c), the control queue, and the counters.
 *
 * Ring index i is queue pair i / 2, receive queue when even, transmit queue
 * when odd; the control queue, when negotiated, comes after the pairs (index
 * 2 without MQ) and is served here, on the main thread, since it is rare and
 * only changes device state. */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/virtio_net.h>

#include "isle/log.h"
#include "isle/util.h"
#include "net.h"
#include "netback.h"
#include "qp.h"
#include "tap.h"


struct netback {
	char ifname[IFNAMSIZ];
	unsigned int queues, mtu;
	uint8_t mac[6];
	struct evloop *loop;          /* main thread's */
	uint64_t features;
	bool connected;
	/* Control queue, main thread. */
	struct net_ctrl ctrl;
	struct vq ctrlvq;
	struct vq_config ctrl_cfg;
	bool ctrl_running;
	unsigned int ctrl_index;      /* its ring, while running */
	int ctrl_kick, ctrl_call, ctrl_err;
	struct iovec ctrl_iov[VQ_ELEM_MAX_IOV];
	unsigned int nqp;             /* initialized (for clean-up) */
	struct nb_qp qp[TAP_MAX_QUEUES];
};

/* Features, MTU and the pairs in use, to every pair. */
static void nb_configure(struct netback *nb)
{
	for (unsigned int i = 0; i < nb->queues; i++)
		qp_configure(&nb->qp[i], nb->features, nb->mtu, i < nb->ctrl.pairs);
}

/* ---- control queue, main thread ---- */

static int nb_ctrl_index(const struct netback *nb)
{
	if (!(nb->features & BIT(VIRTIO_NET_F_CTRL_VQ)))
		return -1;
	return nb->features & BIT(VIRTIO_NET_F_MQ) ? (int)(2 * nb->queues) : 2;
}

static void nb_on_ctrl_kick(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct netback *nb = opaque;
	unsigned int pairs = nb->ctrl.pairs;
	struct vq_elem e;
	eventfd_t v;
	int r;

	eventfd_read(fd, &v);
	vq_elem_init(&e, nb->ctrl_iov, ARRAY_SIZE(nb->ctrl_iov));
	while ((r = vq_pop(&nb->ctrlvq, &e)) > 0) {
		r = net_ctrl_handle(&nb->ctrl, &e);
		vq_push(&nb->ctrlvq, e.head, r > 0 ? (uint32_t)r : 0);
	}
	net_notify(&nb->ctrlvq, nb->ctrl_call);
	if (r < 0) {
		log_warn("%s: control queue broken (%s)", nb->ifname,
			 vq_broken_reason(&nb->ctrlvq));
		evloop_del(nb->loop, fd);
		if (nb->ctrl_err >= 0)
			eventfd_write(nb->ctrl_err, 1);
	}
	if (nb->ctrl.pairs != pairs) {
		log_info("%s: %u queue pair%s in use", nb->ifname, nb->ctrl.pairs,
			 nb->ctrl.pairs > 1 ? "s" : "");
		nb_configure(nb);
	}
}

static int nb_ctrl_start(struct netback *nb, const struct vu_vring *vr)
{
	struct vq_config cfg = {
		.num = vr->num, .max_num = NETBACK_MAX_QUEUE_SIZE, .desc_gpa = vr->desc_gpa,
		.avail_gpa = vr->avail_gpa, .used_gpa = vr->used_gpa,
		.flags = vq_flags_from_features(nb->features),
	};
	int r;

	if (vr->kick_fd < 0)
		return -EOPNOTSUPP;
	r = vq_init(&nb->ctrlvq, vr->dma, &cfg);
	if (r)
		return r;
	vq_set_last_avail(&nb->ctrlvq, vr->base);
	vq_sync_used_idx(&nb->ctrlvq);
	r = evloop_add(nb->loop, vr->kick_fd, EPOLLIN, nb_on_ctrl_kick, nb);
	if (r)
		return r;
	nb->ctrl_cfg = cfg;
	nb->ctrl_kick = vr->kick_fd;
	nb->ctrl_call = vr->call_fd;
	nb->ctrl_err = vr->err_fd;
	nb->ctrl_running = true;
	return 0;
}

static uint16_t nb_ctrl_stop(struct netback *nb)
{
	uint16_t base = vq_get_last_avail(&nb->ctrlvq);

	evloop_del(nb->loop, nb->ctrl_kick);
	memset(&nb->ctrlvq, 0, sizeof(nb->ctrlvq));
	nb->ctrl_running = false;
	nb->ctrl_kick = nb->ctrl_call = nb->ctrl_err = -1;
	return base;
}

/* ---- vhost-user device ops ---- */

static uint64_t nb_get_features(struct vu_dev *dev)
{
	struct netback *nb = dev->priv;
	uint64_t f = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MTU) |
		     BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		     BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
		     BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		     BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) |
		     BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) |
		     BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
		     BIT(VIRTIO_F_VERSION_1);

	if (nb->queues > 1)
		f |= BIT(VIRTIO_NET_F_MQ);
	return f;
}

static int nb_set_features(struct vu_dev *dev, uint64_t f)
{
	struct netback *nb = dev->priv;
	int fd = nb->qp[0].tap_fd, r;

	nb->features = f;
	nb->ctrl.features = f;
	/* Device-wide: the header the tap reads and writes, and which
	 * offloaded packets it may give the guest. */
	r = tap_set_vnet_hdr_len(fd, net_hdr_len(f));
	if (!r)
		r = tap_set_offload(fd, tap_offload_for(f));
	if (r)
		log_warn("%s: cannot apply the guest's offloads to the tap: %s", nb->ifname,
			 strerror(-r));
	nb_configure(nb);
	log_info("%s: features 0x%llx (%s, %u-byte header, tap offloads 0x%x)", nb->ifname,
		 (unsigned long long)f, f & BIT(VIRTIO_NET_F_MRG_RXBUF) ? "mergeable" : "big",
		 net_hdr_len(f), tap_offload_for(f));
	return 0;
}

static int nb_get_config(struct vu_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	struct netback *nb = dev->priv;
	struct virtio_net_config c;

	memset(&c, 0, sizeof(c));
	memcpy(c.mac, nb->ctrl.mac, 6);
	c.status = htole16(VIRTIO_NET_S_LINK_UP);
	c.max_virtqueue_pairs = htole16((uint16_t)nb->queues);
	c.mtu = htole16((uint16_t)nb->mtu);
	c.speed = htole32(UINT32_MAX);   /* unknown */
	c.duplex = 0xff;                 /* unknown */
	memcpy(buf, (uint8_t *)&c + offset, len);   /* range checked by the library */
	return 0;
}

/* Legacy drivers write the MAC into the config space. */
static int nb_set_config(struct vu_dev *dev, uint32_t offset, const void *buf, uint32_t len,
			 uint32_t flags)
{
	struct netback *nb = dev->priv;

	if (offset < 6)
		memcpy(nb->ctrl.mac + offset, buf, MIN(len, 6 - offset));
	return 0;
}

static int nb_queue_start(struct vu_dev *dev, unsigned int index, const struct vu_vring *vr)
{
	struct netback *nb = dev->priv;
	int dir = index % 2 ? QP_TX : QP_RX, r;

	if ((int)index == nb_ctrl_index(nb)) {
		r = nb_ctrl_start(nb, vr);
		if (!r)
			nb->ctrl_index = index;
		return r;
	}
	if (index >= 2 * nb->queues)
		return -EINVAL;
	if (vr->kick_fd < 0) {
		log_warn("%s: ring %u: no kick eventfd (polling) is not supported", nb->ifname,
			 index);
		return -EOPNOTSUPP;
	}
	r = qp_start(&nb->qp[index / 2], dir, vr, &dev->gm,
		     vu_dev_platform(dev) ? &dev->iotlb : NULL);
	if (r)
		log_warn("%s: ring %u: cannot start: %s", nb->ifname, index, strerror(-r));
	else
		log_debug("%s: ring %u started (size %u, base %u)", nb->ifname, index, vr->num,
			  vr->base);
	return r;
}

static uint16_t nb_queue_stop(struct vu_dev *dev, unsigned int index)
{
	struct netback *nb = dev->priv;
	uint16_t base;

	if (nb->ctrl_running && index == nb->ctrl_index)
		return nb_ctrl_stop(nb);
	if (index >= 2 * nb->queues)
		return 0;
	base = qp_stop(&nb->qp[index / 2], index % 2 ? QP_TX : QP_RX);
	log_debug("%s: ring %u stopped at %u", nb->ifname, index, base);
	return base;
}

static void nb_notifiers_changed(struct vu_dev *dev, unsigned int index,
				 const struct vu_vring *vr)
{
	struct netback *nb = dev->priv;

	if (nb->ctrl_running && index == nb->ctrl_index) {
		nb->ctrl_call = vr->call_fd;
		nb->ctrl_err = vr->err_fd;
		return;
	}
	if (index < 2 * nb->queues)
		qp_notifiers(&nb->qp[index / 2], index % 2 ? QP_TX : QP_RX, vr);
}

static void nb_mem_table_changed(struct vu_dev *dev, const struct gmem *gm)
{
	struct netback *nb = dev->priv;

	for (unsigned int i = 0; i < nb->queues; i++)
		qp_remap(&nb->qp[i], gm);
	if (nb->ctrl_running) {
		uint16_t last = vq_get_last_avail(&nb->ctrlvq);

		/* Over the new table (dev->gm): the identity, or the device
		 * IOTLB (flushed with the old table). */
		if (vq_init(&nb->ctrlvq, vu_dev_platform(dev) ? &dev->iotlb_dma.as : &dev->dma,
			    &nb->ctrl_cfg)) {
			log_warn("%s: control queue outside the new memory table", nb->ifname);
			nb_ctrl_stop(nb);
			return;
		}
		vq_set_last_avail(&nb->ctrlvq, last);
		vq_sync_used_idx(&nb->ctrlvq);
	}
}

const struct vu_dev_ops netback_vu_ops = {
	.get_features = nb_get_features,
	.set_features = nb_set_features,
	.get_config = nb_get_config,
	.set_config = nb_set_config,
	.queue_start = nb_queue_start,
	.queue_stop = nb_queue_stop,
	.queue_notifiers_changed = nb_notifiers_changed,
	.mem_table_changed = nb_mem_table_changed,
};

/* ---- set-up, counters ---- */

void netback_params(const struct netback *nb, struct vu_dev_params *p)
{
	p->num_queues = 2 * nb->queues + 1;   /* + the control queue */
	p->max_queue_size = NETBACK_MAX_QUEUE_SIZE;
	p->config_size = sizeof(struct virtio_net_config);
	/* VIRTIO_F_ACCESS_PLATFORM: the queue pairs translate IOVAs through the
	 * device IOTLB and wait for its misses on their own threads. The
	 * control queue runs on the main thread, which never waits: a command
	 * whose buffer misses fails (isle serves its control queue itself). */
	p->iotlb = true;
}

void netback_set_connected(struct netback *nb, bool connected)
{
	int r = tap_set_carrier(nb->qp[0].tap_fd, connected);

	nb->connected = connected;
	if (r && r != -EINVAL)
		log_warn("%s: cannot set the carrier: %s", nb->ifname, strerror(-r));
	if (!connected) {
		/* The next guest negotiates afresh. */
		nb->features = 0;
		net_ctrl_init(&nb->ctrl, 0, nb->queues, nb->mac);
	}
}

int netback_create(struct netback **nbp, const struct netback_opts *o, struct evloop *main_loop)
{
	struct netback *nb;
	int r = 0;

	if (!o->queues || o->queues > TAP_MAX_QUEUES)
		return -EINVAL;
	nb = calloc(1, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	snprintf(nb->ifname, sizeof(nb->ifname), "%s", o->ifname);
	nb->queues = o->queues;
	nb->mtu = o->mtu;
	nb->loop = main_loop;
	memcpy(nb->mac, o->mac, 6);
	nb->ctrl_kick = nb->ctrl_call = nb->ctrl_err = -1;
	net_ctrl_init(&nb->ctrl, 0, nb->queues, nb->mac);
	for (; nb->nqp < nb->queues && !r; nb->nqp++)
		r = qp_init(&nb->qp[nb->nqp], nb->ifname, nb->nqp, o->tap_fds[nb->nqp],
			    nb->queues > 1 && nb->nqp > 0, nb->mtu);
	if (r) {
		netback_destroy(nb);
		return r;
	}
	netback_set_connected(nb, false);
	*nbp = nb;
	return 0;
}

void netback_destroy(struct netback *nb)
{
	if (!nb)
		return;
	for (unsigned int i = 0; i < nb->nqp; i++)
		qp_fini(&nb->qp[i]);
	free(nb);
}

/* Appends to buf at *pos; false once it is full. */
static bool nb_put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool nb_put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos) {
		*pos = len;
		return false;
	}
	*pos += (size_t)n;
	return true;
}

static void nb_put_stats(char *buf, size_t len, size_t *pos, const struct net_stats *s)
{
	const char *sep = "";

#define NB_PUT_STAT(n)                                                        \
	nb_put(buf, len, pos, "%s\"" #n "\":%llu", sep, (unsigned long long)s->n); \
	sep = ",";
	NET_STATS(NB_PUT_STAT)
#undef NB_PUT_STAT
}

static void nb_stats_sum(struct net_stats *t, const struct net_stats *s)
{
#define NB_SUM_STAT(n) t->n += s->n;
	NET_STATS(NB_SUM_STAT)
#undef NB_SUM_STAT
}

int netback_stats_json(struct netback *nb, char *buf, size_t len)
{
	struct net_stats total = { 0 }, s;
	size_t pos = 0;

	/* Interface names cannot hold '"' or '\\' worth escaping here:
	 * the kernel allows them, so they are replaced. */
	nb_put(buf, len, &pos, "{\"tap\":\"");
	for (const char *c = nb->ifname; *c; c++)
		nb_put(buf, len, &pos, "%c", *c == '"' || *c == '\\' ? '_' : *c);
	nb_put(buf, len, &pos, "\",\"connected\":%s,\"features\":\"0x%llx\",\"queues\":[",
	       nb->connected ? "true" : "false", (unsigned long long)nb->features);
	for (unsigned int i = 0; i < nb->queues; i++) {
		net_stats_read(&nb->qp[i].q->stats, &s);
		nb_stats_sum(&total, &s);
		nb_put(buf, len, &pos, "%s{\"queue\":%u,", i ? "," : "", i);
		nb_put_stats(buf, len, &pos, &s);
		nb_put(buf, len, &pos, "}");
	}
	nb_put(buf, len, &pos, "],\"total\":{");
	nb_put_stats(buf, len, &pos, &total);
	if (!nb_put(buf, len, &pos, "}}\n"))
		return -ENOSPC;
	return (int)pos;
}

void netback_stats_log(struct netback *nb)
{
	struct net_stats s;

	for (unsigned int i = 0; i < nb->queues; i++) {
		net_stats_read(&nb->qp[i].q->stats, &s);
		log_info("%s: queue %u: tx %llu packets %llu bytes %llu drops %llu errors "
			 "(desc %llu short %llu oversize %llu hdr %llu); rx %llu packets "
			 "%llu bytes %llu drops %llu errors (desc %llu) %llu stalls",
			 nb->ifname, i, (unsigned long long)s.tx_packets,
			 (unsigned long long)s.tx_bytes, (unsigned long long)s.tx_drops,
			 (unsigned long long)s.tx_errors, (unsigned long long)s.tx_bad_desc,
			 (unsigned long long)s.tx_short, (unsigned long long)s.tx_oversize,
			 (unsigned long long)s.tx_bad_hdr, (unsigned long long)s.rx_packets,
			 (unsigned long long)s.rx_bytes, (unsigned long long)s.rx_drops,
			 (unsigned long long)s.rx_errors, (unsigned long long)s.rx_bad_desc,
			 (unsigned long long)s.rx_stalls);
	}
}
