/* Link settings over rtnetlink (libmnl) for isle-netback: what `ip link set`
 * does for a tap, so the backend needs neither iproute2 nor brctl.
 *
 * Contract: each call opens its own NETLINK_ROUTE socket, sends one request,
 * waits for the kernel's answer and returns 0 or the kernel's -errno
 * (nothing is logged). Interfaces are named in the caller's network
 * namespace. */
#ifndef ISLE_NETBACK_RTNL_H
#define ISLE_NETBACK_RTNL_H

#include <stddef.h>
#include <stdint.h>

struct rtnl_link_set {
	unsigned int mtu;          /* 0: leave */
	const uint8_t *mac;        /* 6 bytes, NULL: leave */
	int master;                /* bridge ifindex, 0: none (detach), -1: leave */
	int up;                    /* 1 up, 0 down, -1: leave */
};

/* Applies s to the link ifindex in one RTM_NEWLINK. */
int rtnl_link_set(unsigned int ifindex, const struct rtnl_link_set *s);

/* The link's kind ("bridge", "veth", "tun"; "" for plain devices). -ENODEV
 * when there is no such link. */
int rtnl_link_kind(const char *name, char *kind, size_t len);

#endif
