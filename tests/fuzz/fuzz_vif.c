/* libFuzzer target for vmm/control/vif.c: the input is one --net spec as bytes (cut
 * at the first NUL). Besides crashes and sanitizer reports it checks what
 * callers rely on: a success has terminated fields that pass their own
 * validators (unicast MAC, interface names, ranges, no backend keys beside
 * socket=), its canonical form parses back to the same struct, and the
 * isle-netback command line built from it fits (with a tap fd per queue
 * too), it holds no tap fds; a failure is -EINVAL or
 * -ENOTSUP with a one-line printable message. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/vif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void vif_check(const struct vif *v)
{
	if (!memchr(v->bridge, '\0', sizeof(v->bridge)) ||
	    !memchr(v->vifname, '\0', sizeof(v->vifname)) ||
	    !memchr(v->script, '\0', sizeof(v->script)) ||
	    !memchr(v->socket, '\0', sizeof(v->socket)))
		abort();
	if ((v->mac_set && !vif_mac_ok(v->mac)) || (v->bridge[0] && !vif_ifname_ok(v->bridge)) ||
	    (v->vifname[0] && !vif_ifname_ok(v->vifname)) ||
	    (v->mtu && (v->mtu < VIF_MTU_MIN || v->mtu > VIF_MTU_MAX)) ||
	    v->queues < 1 || v->queues > VIF_MAX_QUEUES)
		abort();
	if (v->socket[0] && (v->bridge[0] || v->vifname[0] || v->script[0] || v->mtu))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char spec[VIF_SPEC_MAX + 64], out[VIF_SPEC_MAX + 64];
	static struct vif a, b;
	static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0, 0, 1 };
	static const int fds[VIF_MAX_QUEUES] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
						 17, 2147483647 };
	struct vif_argv av;
	char err[160];
	int r, n;

	if (size >= sizeof(spec))
		size = sizeof(spec) - 1;
	memcpy(spec, data, size);
	spec[size] = '\0';
	r = vif_parse(spec, &a, err, sizeof(err));
	if (r) {
		if ((r != -EINVAL && r != -ENOTSUP) || !err[0])
			abort();
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		return 0;
	}
	vif_check(&a);
	n = vif_format(&a, out, sizeof(out));
	if (n < 0 || (size_t)n >= sizeof(out) || vif_parse(out, &b, err, sizeof(err)) ||
	    memcmp(&a, &b, sizeof(a)))
		abort();
	if (a.nr_tap_fds)
		abort();   /* text never carries fds */
	for (unsigned int i = 0; i < VIF_MAX_QUEUES; i++)
		if (a.tap_fds[i] != -1)
			abort();
	n = vif_netback_argv(&a, "isle-netback", "%s", "t0", NULL, 0, mac,
			     a.script[0] ? a.script : NULL, &av);
	if (n < 7 || n > VIF_NETBACK_ARGS || av.argv[n])
		abort();
	/* The longest line: a tap fd per queue. */
	n = vif_netback_argv(&a, "isle-netback", "%s", NULL, fds, VIF_MAX_QUEUES, mac,
			     a.script[0] ? a.script : NULL, &av);
	if (n < 7 + 2 * VIF_MAX_QUEUES - 2 || n > VIF_NETBACK_ARGS || av.argv[n])
		abort();
	return 0;
}
