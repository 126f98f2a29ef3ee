/* `isle run --balloon[=OPTIONS]`, xl.cfg's `balloon = 1` or `balloon =
 * "OPTIONS"`, and the control socket's balloon object: one virtio-balloon.
 *
 *   deflate_on_oom=on|off      the guest may take pages back when it runs out
 *                              (VIRTIO_BALLOON_F_DEFLATE_ON_OOM; default off)
 *   stats=SECONDS              offer the statistics queue and ask for fresh
 *                              figures this often (1-3600; 0, the default: no
 *                              statistics queue)
 *   free_page_reporting=on|off the guest reports free pages, which go back to
 *                              the host (VIRTIO_BALLOON_F_REPORTING; default off)
 *   vfio=refuse|allow          with an assigned device: refuse (default) gives
 *                              back no page while VFIO pins guest RAM; allow is
 *                              for mediated devices that pin on demand only
 *   size=SIZE                  the balloon at boot (a bare number is MiB);
 *                              maxmem above memory sets it too
 *   id=NAME                    the device's id (default balloon0)
 * "", "1" and "on" mean the defaults. Pure: no I/O; the text is untrusted and
 * a problem comes back as one line in err. */
#ifndef ISLE_VMM_BALLOON_SPEC_H
#define ISLE_VMM_BALLOON_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BALLOON_STATS_MAX_S 3600

struct vm_balloon {
	bool deflate_on_oom;
	bool free_page_reporting;
	bool vfio_allow;
	unsigned int stats_s;          /* 0: no statistics queue */
	uint64_t size;                 /* bytes in the balloon at boot */
	char id[32];                   /* "": none given */
};

/* 0, or -EINVAL with one line in err. */
int balloon_spec_parse(const char *text, struct vm_balloon *out, char *err, size_t errlen);

#endif
