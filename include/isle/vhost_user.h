/* vhost-user: the control protocol between a VMM (front-end) and a device
 * process (back-end) over an AF_UNIX stream socket, with file descriptors in
 * SCM_RIGHTS. Spec: QEMU docs/interop/vhost-user.rst ("Vhost-user Protocol").
 *
 * Three parts share this header:
 *   lib/vhost_user.c           framing (vu_msg_recv/vu_msg_send) and mapping
 *                              what a peer sends (vu_mem_map, vu_map_fd);
 *   lib/vhost_user_backend.c   back-end: struct vu_dev, vu_dispatch() handles
 *                              exactly one message per call;
 *   lib/vhost_user_frontend.c  front-end for the VMM: vhu_front_*(), one
 *                              request (and its reply) per call.
 * No event loop and no threads in the library: the caller owns the loop and
 * calls vu_dispatch() when the socket is readable. Sockets are blocking: a
 * call returns once a whole message has been read or sent.
 *
 * Every function returns 0 (or a documented positive value) or -errno, and
 * closes every file descriptor it received but did not keep, on every path.
 * Nothing a peer sends makes the library assert or exit. */
#ifndef ISLE_VHOST_USER_H
#define ISLE_VHOST_USER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhost_types.h>

#include "isle/dma.h"
#include "isle/gmem.h"
#include "isle/vu_iotlb.h"

/* Front-end request codes, from the spec's "Front-end message types" (the
 * kernel headers only have the ioctl equivalents). */
#define VHOST_USER_GET_FEATURES          1
#define VHOST_USER_SET_FEATURES          2
#define VHOST_USER_SET_OWNER             3
#define VHOST_USER_RESET_OWNER           4
#define VHOST_USER_SET_MEM_TABLE         5
#define VHOST_USER_SET_LOG_BASE          6
#define VHOST_USER_SET_LOG_FD            7
#define VHOST_USER_SET_VRING_NUM         8
#define VHOST_USER_SET_VRING_ADDR        9
#define VHOST_USER_SET_VRING_BASE        10
#define VHOST_USER_GET_VRING_BASE        11
#define VHOST_USER_SET_VRING_KICK        12
#define VHOST_USER_SET_VRING_CALL        13
#define VHOST_USER_SET_VRING_ERR         14
#define VHOST_USER_GET_PROTOCOL_FEATURES 15
#define VHOST_USER_SET_PROTOCOL_FEATURES 16
#define VHOST_USER_GET_QUEUE_NUM         17
#define VHOST_USER_SET_VRING_ENABLE      18
#define VHOST_USER_SEND_RARP             19
#define VHOST_USER_NET_SET_MTU           20
#define VHOST_USER_SET_BACKEND_REQ_FD    21
#define VHOST_USER_IOTLB_MSG             22
#define VHOST_USER_SET_VRING_ENDIAN      23
#define VHOST_USER_GET_CONFIG            24
#define VHOST_USER_SET_CONFIG            25
#define VHOST_USER_GET_INFLIGHT_FD       31
#define VHOST_USER_SET_INFLIGHT_FD       32
#define VHOST_USER_RESET_DEVICE          34
#define VHOST_USER_VRING_KICK            35
#define VHOST_USER_GET_MAX_MEM_SLOTS     36
#define VHOST_USER_ADD_MEM_REG           37
#define VHOST_USER_REM_MEM_REG           38

/* Back-end request codes (on the channel SET_BACKEND_REQ_FD hands over). */
#define VHOST_USER_BACKEND_IOTLB_MSG     1

/* Header flags: bits 1..0 version, bit 2 reply, bit 3 need_reply. */
#define VHOST_USER_VERSION_MASK    0x3u
#define VHOST_USER_VERSION         0x1u
#define VHOST_USER_REPLY_MASK      (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

/* Virtio feature bit 30 (reserved by virtio) reused by vhost-user to say the
 * back-end speaks GET/SET_PROTOCOL_FEATURES. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits (spec, "Protocol features"). */
#define VHOST_USER_PROTOCOL_F_MQ                  0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD           1
#define VHOST_USER_PROTOCOL_F_RARP                2
#define VHOST_USER_PROTOCOL_F_REPLY_ACK           3
#define VHOST_USER_PROTOCOL_F_MTU                 4
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ         5
#define VHOST_USER_PROTOCOL_F_CONFIG              9
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD      12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE        13
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15

/* SET_VRING_KICK/CALL/ERR u64 payload: bits 7..0 ring index, bit 8 "no fd
 * attached" (poll instead). */
#define VHOST_USER_VRING_IDX_MASK  0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

#define VHOST_USER_MAX_FDS         8    /* fds per message (= RAM slots) */
#define VHOST_USER_MAX_RAM_SLOTS   8
#define VHOST_USER_MAX_CONFIG_SIZE 256
#define VHOST_USER_CONFIG_HDR_SIZE 12   /* offset, size, flags */
#define VHOST_USER_CONFIG_TYPE_FRONTEND  0  /* SET_CONFIG flags */
#define VHOST_USER_CONFIG_TYPE_MIGRATION 1

struct vhost_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;  /* front-end's address of guest_phys_addr */
	uint64_t mmap_offset;     /* where the region starts in the fd */
};

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MAX_RAM_SLOTS];
};

struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHOST_USER_MAX_CONFIG_SIZE];
};

struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};
/* Bytes of vhost_user_inflight that carry data (the struct has tail padding,
 * which QEMU sends; we accept either). */
#define VHOST_USER_INFLIGHT_SIZE 20

union vhost_user_payload {
	uint64_t u64;
	struct vhost_vring_state state;   /* index, num */
	struct vhost_vring_addr addr;     /* index, flags, desc, used, avail, log */
	struct vhost_user_memory memory;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
	struct vhost_iotlb_msg iotlb;     /* IOTLB_MSG, BACKEND_IOTLB_MSG */
};

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;    /* payload bytes that follow the header */
};

/* In memory the payload is naturally aligned after the header; on the wire it
 * follows the 12-byte header directly (the framing code handles the gap). */
struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union vhost_user_payload payload;
};

#define VHOST_USER_HDR_SIZE    sizeof(struct vhost_user_hdr)
#define VHOST_USER_PAYLOAD_MAX sizeof(union vhost_user_payload)

/* ---- framing (lib/vhost_user.c) ---- */

/* Reads one message. fds has room for VHOST_USER_MAX_FDS; on success *nfds
 * of them are open (O_CLOEXEC) and owned by the caller, and the payload bytes
 * past hdr.size are zeroed. Errors (all received fds closed, *nfds = 0):
 * -ECONNRESET EOF before the first byte; -EBADMSG EOF inside a message;
 * -EPROTO wrong version; -EMSGSIZE size > VHOST_USER_PAYLOAD_MAX;
 * -ETOOMANYREFS more fds than VHOST_USER_MAX_FDS (control data truncated).
 * After any error the stream is out of step: close the connection. */
int vu_msg_recv(int fd, struct vhost_user_msg *msg, int *fds, unsigned int *nfds);

/* Sends hdr + hdr.size payload bytes with nfds (≤ VHOST_USER_MAX_FDS) fds
 * attached; never raises SIGPIPE. The caller keeps its fds. */
int vu_msg_send(int fd, const struct vhost_user_msg *msg, const int *fds,
		unsigned int nfds);

/* Maps [offset, offset+len) of an fd from the peer, shared read/write, after
 * checking it lies inside the file (fstat); offset needs no alignment.
 * Unmap *base, *maplen bytes; *hva is the address of offset. */
int vu_map_fd(int fd, uint64_t offset, uint64_t len, void **base, size_t *maplen,
	      void **hva);

/* A region table from SET_MEM_TABLE, mapped: maps[i] belongs to
 * gm->regions[i]. */
struct vu_map {
	void *base;       /* mapping, for munmap */
	size_t len;
	uint64_t uva;     /* the front-end's userspace_addr */
};

/* Validates a peer's region table (count = nfds ≤ 8, sizes non-zero, no
 * wrap, no overlapping guest or user ranges, each inside its fd) and maps
 * it into gm/maps, recording fds[i] in gm (not duplicated). On error
 * nothing stays mapped and the fds are untouched. The size check is as of
 * now: a peer can still shrink an unsealed file (then accesses SIGBUS). */
int vu_mem_map(const struct vhost_user_memory *m, const int *fds, unsigned int nfds,
	       struct gmem *gm, struct vu_map *maps);
/* Unmaps the table and closes its fds. */
void vu_mem_unmap(struct gmem *gm, struct vu_map *maps);
/* Front-end user address → guest-physical; -EFAULT outside every region. */
int vu_mem_uva_to_gpa(const struct gmem *gm, const struct vu_map *maps, uint64_t uva,
		      uint64_t *gpa);

/* Closes the valid fds in fds[0..n) and sets them to -1. */
void vu_close_fds(int *fds, unsigned int n);

/* Name of a request code for log lines ("?" when unknown). */
const char *vu_request_name(uint32_t request);

/* What the spec says a request carries, and whether vu_dispatch() handles
 * it (0 for codes we do not know). */
#define VU_REQ_FDS     1u   /* may carry fds */
#define VU_REQ_REPLY   2u   /* always answered with a reply body */
#define VU_REQ_BACKEND 4u   /* implemented by vu_dispatch() */
unsigned int vu_request_kind(uint32_t request);

/* ---- back-end (lib/vhost_user_backend.c) ---- */

#define VU_MAX_QUEUES     64
#define VU_MAX_QUEUE_SIZE 32768
/* The split inflight region of one queue (spec, "Inflight I/O tracking"):
 * a 16-byte header (features u64, version u16, desc_num u16,
 * last_batch_head u16, used_idx u16) then desc_num 16-byte DescStateSplit,
 * rounded up to a cache line so queues served by different threads do not
 * share lines. Only this back-end reads the layout back, so it only has to be
 * self-consistent. */
#define VU_INFLIGHT_ALIGN 64
uint64_t vu_inflight_queue_size(uint16_t queue_size);

/* Per-ring state as the front-end configured it. Ring addresses are in the
 * ring's address space (dma): guest-physical, translated from the
 * front-end's user addresses through the region table; or, with
 * VIRTIO_F_ACCESS_PLATFORM, I/O virtual addresses as sent, translated
 * through the device IOTLB. The library owns the fds; -1 means none (kick
 * -1 = poll). */
struct vu_vring {
	struct dma_as *dma;      /* &dev->dma, or &dev->iotlb_dma.as */
	uint32_t num;            /* ring size, 0 until SET_VRING_NUM */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint64_t log_gpa;        /* as sent: already a guest address */
	uint32_t addr_flags;     /* 1 << VHOST_VRING_F_LOG */
	uint16_t base;           /* next avail index to process */
	int kick_fd, call_fd, err_fd;
	void *inflight;          /* this queue's inflight region, or NULL */
	uint64_t inflight_size;
	bool has_addr, has_kick, enabled, started;
	/* Device IOTLB: the ring parts' host addresses when it started, and
	 * whether an invalidation covered them since (it keeps running on
	 * them until updates show they moved, then restarts). */
	void *hva[3];
	bool stale;
};

/* The shared inflight buffer, for vu_dev_ops.inflight_changed. The front-end
 * can rewrite it at any time: treat every field in it as untrusted. */
struct vu_inflight_info {
	void *addr;
	uint64_t queue_region_size;   /* vu_inflight_queue_size(queue_size) */
	uint16_t num_queues, queue_size;
	bool fresh;                   /* GET_INFLIGHT_FD (new) vs SET (restored) */
};

struct vu_dev;

/* Device callbacks, all optional. They run inside vu_dispatch() on the
 * caller's thread. */
struct vu_dev_ops {
	/* Device feature bits. The library adds VIRTIO_F_VERSION_1 and
	 * VHOST_USER_F_PROTOCOL_FEATURES, adds VIRTIO_F_ACCESS_PLATFORM when
	 * the device has a device IOTLB (vu_dev_params.iotlb) and removes it
	 * otherwise, and removes VHOST_F_LOG_ALL (no dirty log here). */
	uint64_t (*get_features)(struct vu_dev *dev);
	/* What the driver acked, without the vhost-user-only bit 30. */
	int (*set_features)(struct vu_dev *dev, uint64_t features);
	/* Mask over what the library supports (MQ, REPLY_ACK, CONFIG,
	 * INFLIGHT_SHMFD); NULL = all of it. */
	uint64_t (*get_protocol_features)(struct vu_dev *dev);
	/* [offset, offset+len) is already checked against config_size. */
	int (*get_config)(struct vu_dev *dev, uint32_t offset, void *buf, uint32_t len);
	int (*set_config)(struct vu_dev *dev, uint32_t offset, const void *buf,
			  uint32_t len, uint32_t flags);
	/* Start processing ring index; vr stays valid (and is updated in
	 * place) until queue_stop. An error leaves the ring stopped. */
	int (*queue_start)(struct vu_dev *dev, unsigned int index, const struct vu_vring *vr);
	/* Stop and drain ring index; returns the next avail index to process
	 * (what GET_VRING_BASE reports). NULL: the stored base is reported. */
	uint16_t (*queue_stop)(struct vu_dev *dev, unsigned int index);
	/* call_fd/err_fd of a started ring changed (vr already updated; the
	 * old fds are closed after this returns). NULL: stop + restart. */
	void (*queue_notifiers_changed)(struct vu_dev *dev, unsigned int index,
					const struct vu_vring *vr);
	/* A new region table is in dev->gm; the old mappings go away after
	 * this returns, so drop any host pointers into guest memory. */
	void (*mem_table_changed)(struct vu_dev *dev, const struct gmem *gm);
	/* A new inflight buffer (offered only when set). */
	int (*inflight_changed)(struct vu_dev *dev, const struct vu_inflight_info *inf);
};

struct vu_dev_params {
	unsigned int num_queues;      /* 1..VU_MAX_QUEUES */
	unsigned int max_queue_size;  /* power of two ≤ VU_MAX_QUEUE_SIZE */
	uint32_t config_size;         /* bytes of device config space */
	/* The device translates its DMA through dev->iotlb_dma (or address
	 * spaces of its own over dev->iotlb): the library then offers
	 * VIRTIO_F_ACCESS_PLATFORM and BACKEND_REQ and handles IOTLB_MSG. */
	bool iotlb;
};

struct vu_dev {
	int sock;                     /* not owned */
	const struct vu_dev_ops *ops;
	void *priv;
	struct vu_dev_params p;
	uint64_t features;            /* acked by SET_FEATURES */
	uint64_t protocol_features;   /* acked by SET_PROTOCOL_FEATURES */
	bool owned;
	struct gmem gm;               /* region fds owned here */
	/* Identity over gm: what vrings[].dma points to. Every memory-table
	 * change (and cleanup) announces an invalidation of everything on it,
	 * after mem_table_changed and before the old mappings go. */
	struct dma_as dma;
	struct vu_map maps[GMEM_MAX_REGIONS];
	/* Device IOTLB (params.iotlb), per connection: updates and
	 * invalidations from IOTLB_MSG (uaddr converted through maps), misses
	 * sent on backend_fd (SET_BACKEND_REQ_FD, under backend_lock).
	 * iotlb_dma translates through it and gm; a queue thread with its own
	 * copy of the table makes its own vu_iotlb_as over &iotlb. */
	struct vu_iotlb iotlb;
	struct vu_iotlb_as iotlb_dma;
	int backend_fd;
	pthread_mutex_t backend_lock;
	struct {
		int fd;
		void *base;           /* mapping (page-aligned) */
		size_t len;
		struct vu_inflight_info info;
	} inflight;
	struct vu_vring vrings[VU_MAX_QUEUES];
};

int vu_dev_init(struct vu_dev *dev, int sock, const struct vu_dev_ops *ops,
		const struct vu_dev_params *p, void *priv);

/* Reads and handles exactly one message (blocking until it is whole).
 * 0: handled, or an unknown request ignored/nacked. -errno: transport or
 * framing failure (see vu_msg_recv) or a rejected request; for a rejected
 * request the whole message was consumed, a NEED_REPLY nack (or GET_CONFIG /
 * GET_INFLIGHT_FD error reply) was sent and the device state is unchanged,
 * but the front-end's view may now differ: the caller should close the
 * connection (then vu_dev_cleanup, and vu_dev_init for a reconnect). */
int vu_dispatch(struct vu_dev *dev);

/* Whether the driver negotiated VIRTIO_F_ACCESS_PLATFORM: ring and buffer
 * addresses are then IOVAs for the device IOTLB. */
bool vu_dev_platform(const struct vu_dev *dev);

/* Stops started rings, unmaps guest memory and the inflight buffer, closes
 * every fd the device holds (not dev->sock). */
void vu_dev_cleanup(struct vu_dev *dev);

/* Signals the front-end that ring vr used buffers (writes its call eventfd;
 * 0 without one). */
int vu_vring_notify(const struct vu_vring *vr);

/* ---- front-end (lib/vhost_user_frontend.c) ----
 *
 * Address convention: the VMM describes each region with userspace_addr =
 * the region's host address in the VMM (gmem_region.hva) and sends ring
 * addresses as those host addresses, translated from the guest-physical
 * addresses with the same gmem (as QEMU does). A back-end maps them back to
 * guest-physical through the region table, so any back-end works. Pass the
 * same gmem to set_mem_table and set_vring_addr. Replies are read blocking:
 * set SO_RCVTIMEO on the socket to bound the wait. */
struct vhu_front {
	int sock;
	uint64_t protocol_features;   /* as sent by set_protocol_features */
};

struct vhu_inflight {
	int fd;
	uint64_t mmap_size, mmap_offset;
	uint16_t num_queues, queue_size;
};

int vhu_front_connect(struct vhu_front *f, const char *path);
void vhu_front_init(struct vhu_front *f, int sock);   /* takes sock */
void vhu_front_close(struct vhu_front *f);

int vhu_front_get_features(struct vhu_front *f, uint64_t *features);
int vhu_front_set_features(struct vhu_front *f, uint64_t features);
int vhu_front_get_protocol_features(struct vhu_front *f, uint64_t *features);
int vhu_front_set_protocol_features(struct vhu_front *f, uint64_t features);
int vhu_front_set_owner(struct vhu_front *f);
int vhu_front_get_queue_num(struct vhu_front *f, uint64_t *num);
/* Every region of gm must have an fd. */
int vhu_front_set_mem_table(struct vhu_front *f, const struct gmem *gm);
int vhu_front_set_vring_num(struct vhu_front *f, unsigned int index, unsigned int num);
int vhu_front_set_vring_addr(struct vhu_front *f, const struct gmem *gm, unsigned int index,
			     uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa);
/* The same with ring addresses already in the memory table's user address
 * space (host addresses in this process), e.g. translated from a device's
 * IOVAs through its DMA address space (isle/dma.h); 0 in any is -EFAULT. */
int vhu_front_set_vring_uva(struct vhu_front *f, unsigned int index, uint64_t desc_uva,
			    uint64_t avail_uva, uint64_t used_uva, uint64_t log_addr);
/* With VIRTIO_F_ACCESS_PLATFORM: ring addresses are the device's I/O
 * virtual addresses, sent as they are (the back-end's IOTLB translates). */
int vhu_front_set_vring_iova(struct vhu_front *f, unsigned int index, uint64_t desc,
			     uint64_t avail, uint64_t used);
int vhu_front_set_vring_base(struct vhu_front *f, unsigned int index, uint16_t base);
int vhu_front_get_vring_base(struct vhu_front *f, unsigned int index, uint16_t *base);
/* fd < 0 sends the no-fd flag (the back-end polls / does not signal). */
int vhu_front_set_vring_kick(struct vhu_front *f, unsigned int index, int fd);
int vhu_front_set_vring_call(struct vhu_front *f, unsigned int index, int fd);
int vhu_front_set_vring_err(struct vhu_front *f, unsigned int index, int fd);
int vhu_front_set_vring_enable(struct vhu_front *f, unsigned int index, bool enable);
int vhu_front_get_config(struct vhu_front *f, uint32_t offset, void *buf, uint32_t len);
int vhu_front_set_config(struct vhu_front *f, uint32_t offset, const void *buf, uint32_t len);
/* On success inf->fd is a new fd owned by the caller. */
int vhu_front_get_inflight_fd(struct vhu_front *f, uint16_t num_queues, uint16_t queue_size,
			      struct vhu_inflight *inf);
int vhu_front_set_inflight_fd(struct vhu_front *f, const struct vhu_inflight *inf);
/* The back-end channel: the back-end sends its requests (IOTLB misses) on
 * fd, the other end of a socketpair the caller keeps reading. */
int vhu_front_set_backend_req_fd(struct vhu_front *f, int fd);
/* Device IOTLB (VIRTIO_F_ACCESS_PLATFORM negotiated): type
 * VHOST_IOTLB_UPDATE ([iova, iova + size) is at uaddr in the memory
 * table's user address space, perm VHOST_ACCESS_*) or
 * VHOST_IOTLB_INVALIDATE; returns once the back-end answered (-EIO: it
 * refused). */
int vhu_front_iotlb(struct vhu_front *f, uint8_t type, uint64_t iova, uint64_t size,
		    uint64_t uaddr, uint8_t perm);

#endif
