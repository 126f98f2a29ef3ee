/* Xen's vif syntax (xl-network-configuration(5)) for `isle run --net SPEC`:
 * comma-separated key=value pairs describing one guest NIC.
 *
 *   mac=00:16:3e:01:02:03  bridge=xenbr0  vifname=vif1.0  script=vif-bridge
 *   mtu=9000  queues=4  model=virtio  type=vif  socket=/run/nb.sock
 *
 * Pure: no I/O, no globals, so it is unit-tested and fuzzed. The spec is
 * untrusted: every value is checked here, and a problem comes back as one
 * line in err. Defaults that need the outside world (a random MAC, a tap
 * name with isle's pid, where a script name resolves) are the caller's:
 * an unset field is zero/empty here.
 *
 * Differences from xl: `queues=` is ours (Xen has no such key); `model=`
 * only takes virtio; `rate=`, `ip=`, `backend=` and Xen's other keys are
 * refused as not supported rather than ignored; `socket=` (ours) names a
 * vhost-user-net backend that is already running, which excludes the keys
 * that configure a backend isle starts (bridge, vifname, script, mtu).
 * Without bridge= the tap is left unattached (xl would use xenbr0) unless
 * the script attaches it. Values cannot contain commas.
 *
 * Tap fds: a NIC can also be given taps someone else opened (Kata
 * Containers and cloud-hypervisor's `vm.add-net` pass them as SCM_RIGHTS,
 * one per queue pair, IFF_MULTI_QUEUE taps when more than one, often in a
 * network namespace isle is not in). A text spec cannot carry fds:
 * vif_parse leaves nr_tap_fds 0 (none) and every tap_fds[] -1; the control
 * socket that received them fills both after parsing. The spec's fds stay
 * the caller's: the device (vmm/virtio/vhost_user_net.c) duplicates them
 * at realize, so the caller closes its own once device_add returns,
 * whatever it returned. With fds, queues= must equal nr_tap_fds, socket= is
 * refused, vifname= may be absent (the name comes from the fd; if given it
 * must be the fd's), and the isle-netback isle starts gets --tap-fd N per
 * queue instead of --tap. vif_format does not show them. */
#ifndef ISLE_VMM_VIF_H
#define ISLE_VMM_VIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIF_IFNAME_MAX   16      /* IFNAMSIZ: 15 characters and the NUL */
#define VIF_SCRIPT_MAX   1024
#define VIF_SOCKET_MAX   108     /* sockaddr_un.sun_path, NUL included */
#define VIF_MAX_QUEUES   16      /* isle-netback's multi-queue tap limit */
#define VIF_MTU_MIN      68
#define VIF_MTU_MAX      65535
#define VIF_SPEC_MAX     2048
#define VIF_MAC_STRLEN   18      /* "xx:xx:xx:xx:xx:xx" and the NUL */

struct vif {
	uint8_t mac[6];
	bool mac_set;
	char bridge[VIF_IFNAME_MAX];    /* "": none */
	char vifname[VIF_IFNAME_MAX];   /* "": the caller's default */
	char script[VIF_SCRIPT_MAX];    /* "": none; a name or a path with '/' */
	char socket[VIF_SOCKET_MAX];    /* "": isle starts an isle-netback */
	unsigned int mtu;               /* 0: the backend's default */
	unsigned int queues;            /* queue pairs, 1..VIF_MAX_QUEUES */
	/* Open taps for the NIC (see above): [0, nr_tap_fds) are the
	 * caller's fds, nr_tap_fds 0 means none. Never set by vif_parse. */
	int tap_fds[VIF_MAX_QUEUES];
	unsigned int nr_tap_fds;
};

/* Parses spec into *v (zeroed first; queues defaults to 1, no tap fds:
 * tap_fds[] -1, nr_tap_fds 0). Returns 0, or
 * -EINVAL for a malformed spec and -ENOTSUP for a key or value isle does
 * not support, with a one-line message in err (no prefix). */
int vif_parse(const char *spec, struct vif *v, char *err, size_t errlen);

/* A decimal number min..max (digits only: no sign, no spaces): 0 and
 * *out, -EINVAL (not digits) or -ERANGE. Also config.c's vcpus. */
int vif_parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out);

/* A Linux interface name as the bridge scripts accept it: 1-15 of
 * [A-Za-z0-9_.-], not "." or "..". */
bool vif_ifname_ok(const char *name);

/* "xx:xx:xx:xx:xx:xx", hex digits in either case; 0 or -EINVAL. Any
 * address (the unicast check is vif_mac_ok's). */
int vif_parse_mac(const char *s, uint8_t mac[6]);
/* A MAC a guest NIC may have: unicast and not all zeroes. */
bool vif_mac_ok(const uint8_t mac[6]);
void vif_format_mac(const uint8_t mac[6], char buf[VIF_MAC_STRLEN]);
/* The default MAC from three random bytes, as xl makes it: Xen's OUI
 * 00:16:3e, then the bytes with the top bit of the first cleared. */
void vif_default_mac(uint8_t mac[6], const uint8_t rnd[3]);

/* The isle-netback command line for a NIC whose backend isle starts:
 *   EXE --socket SOCK (--tap TAP | --tap-fd FD...) --mac MAC [--bridge BR]
 *       [--script SCRIPT] [--mtu N] [--queues N]
 * TAP and MAC are the caller's (defaults filled in), SCRIPT the resolved
 * path of v->script (NULL: none). With nr_fds (1..VIF_MAX_QUEUES) the tap
 * is fds[], the numbers the child will have them under (the device's
 * copies, inherited), and TAP is not used (may be NULL). Strings are
 * referenced, numbers are written into *a. Returns argc (a->argv is
 * NULL-terminated), or -EINVAL for nr_fds > VIF_MAX_QUEUES or a negative
 * fd. */
#define VIF_NETBACK_ARGS (13 + 2 * VIF_MAX_QUEUES)
struct vif_argv {
	const char *argv[VIF_NETBACK_ARGS + 1];
	char mac[VIF_MAC_STRLEN], mtu[8], queues[8];
	char fds[VIF_MAX_QUEUES][12];
};
int vif_netback_argv(const struct vif *v, const char *exe, const char *sock, const char *tap,
		     const int *fds, unsigned int nr_fds, const uint8_t mac[6],
		     const char *script, struct vif_argv *a);

/* Writes the canonical spec of v (set fields only, in a fixed order);
 * vif_parse of the result gives v back. Returns the length, as snprintf. */
int vif_format(const struct vif *v, char *buf, size_t len);

#endif
