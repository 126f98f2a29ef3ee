/* Internals shared by the back-end's two files: lib/vhost_user_backend.c
 * (dispatch, features, rings) and lib/vhost_user_backend_mem.c (what the
 * back-end maps or is told about memory: the region table, the inflight
 * buffer, the device IOTLB). Not an interface. */
#ifndef ISLE_LIB_VHOST_USER_BACKEND_H
#define ISLE_LIB_VHOST_USER_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "isle/util.h"
#include "isle/vhost_user.h"

#define VU_LIB_PROTOCOL_FEATURES                                              \
	(BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |     \
	 BIT(VHOST_USER_PROTOCOL_F_CONFIG) | BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
/* Handler results besides 0 / -errno. */
#define VU_REPLY   1   /* rq->msg holds a reply */
#define VU_UNKNOWN 2   /* not a request this back-end implements */

struct vu_req {
	struct vhost_user_msg msg;   /* request in, reply out */
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds;
	int reply_fd;                /* attached to the reply, not owned */
	bool err_reply;              /* on error, send rq->msg anyway */
};

static inline bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* vhost_user_backend.c */
int vu_vring_update(struct vu_dev *dev, unsigned int i);
void vu_vring_stop(struct vu_dev *dev, unsigned int i);
/* The host addresses of ring vr's three parts through vr->dma (NULL where
 * one is not a single mapping with the access it needs): true if all are. */
bool vu_vring_map(struct vu_vring *vr, void *hva[3]);

/* vhost_user_backend_mem.c */
int vu_set_mem_table(struct vu_dev *dev, struct vu_req *rq);
void vu_inflight_drop(struct vu_dev *dev);
/* GET_INFLIGHT_FD (fd < 0: make a new buffer) or SET_INFLIGHT_FD. */
int vu_inflight(struct vu_dev *dev, struct vu_req *rq, int fd);
/* SET_BACKEND_REQ_FD and IOTLB_MSG. */
int vu_backend_req_fd(struct vu_dev *dev, struct vu_req *rq);
int vu_iotlb_msg(struct vu_dev *dev, struct vu_req *rq);
/* Per connection: the IOTLB (params.iotlb) and the back-end channel. */
int vu_dev_iotlb_init(struct vu_dev *dev);
void vu_dev_iotlb_cleanup(struct vu_dev *dev);

#endif
