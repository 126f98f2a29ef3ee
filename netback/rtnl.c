/* rtnetlink requests for isle-netback (contract in netback/rtnl.h): one
 * RTM_NEWLINK that sets MTU, MAC, master and up-state together, and an
 * RTM_GETLINK that tells a bridge from other devices so "not a bridge" can
 * be said clearly instead of the kernel's EOPNOTSUPP. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "rtnl.h"

/* MNL_SOCKET_BUFFER_SIZE is min(page size, 8 KiB), computed at run time. */
#define RTNL_BUF_SIZE 8192

/* Sends nlh (NLM_F_ACK is added) and runs cb over the answer until the
 * kernel's ack or error. */
static int rtnl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[RTNL_BUF_SIZE];
	struct mnl_socket *nl;
	unsigned int portid, seq = (unsigned int)time(NULL);
	ssize_t n;
	int r;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			r = -errno;
			goto out;
		}
		/* 0 at the ack, -1 with errno from an NLMSG_ERROR. */
		r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
	} while (r > 0);
	r = r < 0 ? -errno : 0;
out:
	mnl_socket_close(nl);
	return r;
}

int rtnl_link_set(unsigned int ifindex, const struct rtnl_link_set *s)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if (s->up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = s->up ? IFF_UP : 0;
	}
	if (s->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, s->mtu);
	if (s->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, s->mac);
	if (s->master >= 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)s->master);
	return rtnl_talk(nlh, NULL, NULL);
}

struct rtnl_kind {
	char *kind;
	size_t len;
	bool found;
};

static int rtnl_linkinfo_cb(const struct nlattr *a, void *data)
{
	struct rtnl_kind *k = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND && !mnl_attr_validate(a, MNL_TYPE_STRING)) {
		size_t n = strnlen(mnl_attr_get_str(a), mnl_attr_get_payload_len(a));

		if (n >= k->len)
			n = k->len - 1;
		memcpy(k->kind, mnl_attr_get_str(a), n);
		k->kind[n] = '\0';
	}
	return MNL_CB_OK;
}

static int rtnl_link_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == IFLA_LINKINFO && !mnl_attr_validate(a, MNL_TYPE_NESTED))
		mnl_attr_parse_nested(a, rtnl_linkinfo_cb, data);
	return MNL_CB_OK;
}

static int rtnl_link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_kind *k = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	k->found = true;
	return mnl_attr_parse(nlh, sizeof(struct ifinfomsg), rtnl_link_attr_cb, data);
}

int rtnl_link_kind(const char *name, char *kind, size_t len)
{
	char buf[RTNL_BUF_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtnl_kind k = { .kind = kind, .len = len };
	struct ifinfomsg *ifi;
	int r;

	if (!len || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	kind[0] = '\0';
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	r = rtnl_talk(nlh, rtnl_link_cb, &k);
	if (r)
		return r;
	return k.found ? 0 : -ENODEV;
}
