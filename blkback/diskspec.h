/* Disk specifications as Xen users write them (xl-disk-configuration(5)),
 * parsed into a struct disk_spec for isle-tapdisk. Pure: no I/O, no globals,
 * so it is unit-tested and fuzzed. The spec is untrusted input; every length
 * is bounded and a problem comes back as one line in err.
 *
 * Accepted forms, combinable as in xl:
 *   [prefix:]PATH                          e.g. phy:/dev/vg/a, tap:aio:/img
 *   PATH,FORMAT,VDEV,ACCESS                positional, any may be empty
 *   key=value,...,target=[prefix:]PATH     target= last, taken verbatim
 *   flags: cdrom, discard, no-discard
 * Prefixes: phy: file: raw: aio: tap:[aio:|sync:|uring:|raw:] (raw images);
 * qcow2: and tap:qcow2: (qcow2 images, also format=qcow2 or positional);
 * qcow:, vhd:, qed: and tap:<those>: parse but give -ENOTSUP. A file is
 * never probed: without a qcow2 prefix or format it is raw. */
#ifndef ISLE_BLKBACK_DISKSPEC_H
#define ISLE_BLKBACK_DISKSPEC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum disk_format {
	DISK_FORMAT_RAW,
	DISK_FORMAT_QCOW,
	DISK_FORMAT_QCOW2,
	DISK_FORMAT_VHD,
	DISK_FORMAT_QED,
};

/* Which I/O engine the spec asks for; DEFAULT lets disk_open choose. */
enum disk_engine_hint {
	DISK_ENGINE_DEFAULT,
	DISK_ENGINE_SYNC,
	DISK_ENGINE_AIO,
	DISK_ENGINE_URING,
};

/* Xen's backendtype; informational for isle-tapdisk, which serves them all. */
enum disk_backendtype {
	DISK_BACKEND_AUTO,
	DISK_BACKEND_PHY,
	DISK_BACKEND_TAP,
	DISK_BACKEND_QDISK,
};

#define DISKSPEC_VDEV_MAX 16
/* Longest spec accepted: a full path plus room for every key. */
#define DISKSPEC_MAX_LEN (PATH_MAX + 256)

struct disk_spec {
	char path[PATH_MAX];             /* never empty, NUL-terminated */
	enum disk_format format;
	enum disk_engine_hint engine;
	enum disk_backendtype backendtype;
	bool readonly;                   /* access=ro/r, or cdrom */
	bool cdrom;                      /* devtype=cdrom or the cdrom flag */
	bool no_discard;                 /* the no-discard flag */
	char vdev[DISKSPEC_VDEV_MAX];    /* "" when not given */
};

/* Parses the NUL-terminated spec s. Returns 0 and fills *spec, -EINVAL for
 * a malformed spec or -ENOTSUP for a valid one isle cannot serve (image
 * formats other than raw, script=), with a one-line message in err. */
int diskspec_parse(const char *s, struct disk_spec *spec, char *err, size_t errlen);

/* Same for a counted buffer (from a socket or a fuzzer): an embedded NUL
 * byte is an error rather than a silent truncation. */
int diskspec_parse_buf(const char *buf, size_t len, struct disk_spec *spec,
		       char *err, size_t errlen);

/* True for xvdX, sdX, vdX (X: 1-3 letters) and hda-hdt, with an optional
 * partition number 1-99 except on vd. */
bool diskspec_vdev_valid(const char *name);

const char *diskspec_format_name(enum disk_format format);
const char *diskspec_engine_name(enum disk_engine_hint engine);
const char *diskspec_backendtype_name(enum disk_backendtype type);

#endif
