/* Disk spec parser (see diskspec.h for the accepted grammar). Works on
 * counted slices of the input, never writing into it, so every length is
 * explicit and nothing depends on a NUL the attacker controls.
 *
 * The model follows xl: a comma-separated list of items; an item with '=' is
 * key=value, a bare flag word is a flag, anything else fills the next
 * still-unspecified positional parameter (target, format, vdev, access).
 * "target=" swallows the rest of the string, commas and all. A target prefix
 * such as phy: or tap:aio: implies a format (and maybe an engine and a
 * backendtype); an explicit setting that disagrees with it is an error. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diskspec.h"
#include "isle/util.h"

struct slice {
	const char *p;
	size_t n;
};

/* Parameters that may be given once each. The first four are positional. */
enum ds_param {
	P_TARGET, P_FORMAT, P_VDEV, P_ACCESS,
	P_BACKENDTYPE, P_DEVTYPE, P_DISCARD,
	P_COUNT,
};
#define DS_NPOSITIONAL 4

static const char *const ds_param_names[P_COUNT] = {
	[P_TARGET] = "target", [P_FORMAT] = "format", [P_VDEV] = "vdev",
	[P_ACCESS] = "access", [P_BACKENDTYPE] = "backendtype",
	[P_DEVTYPE] = "devtype", [P_DISCARD] = "discard",
};

struct ds {
	struct disk_spec *spec;
	char *err;
	size_t errlen;
	bool given[P_COUNT];
	bool access_rw;                 /* access explicitly rw (clashes with cdrom) */
	/* What the target's prefix implied, reconciled at the end. */
	bool pfx_has_format, pfx_has_backend;
	enum disk_format pfx_format;
	enum disk_backendtype pfx_backend;
	struct slice pfx;               /* the prefix text, for messages */
};

/* Shown slices are clipped so a hostile spec cannot flood a log line. */
#define SHOW(sl) (int)MIN((sl).n, (size_t)64), (sl).p

static int ds_fail(struct ds *ds, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ds_fail(struct ds *ds, int rc, const char *fmt, ...)
{
	va_list ap;

	if (ds->err && ds->errlen) {
		va_start(ap, fmt);
		vsnprintf(ds->err, ds->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool slice_is(struct slice s, const char *word)
{
	size_t n = strlen(word);

	return s.n == n && !memcmp(s.p, word, n);
}

static int ds_claim(struct ds *ds, enum ds_param p)
{
	if (ds->given[p])
		return ds_fail(ds, -EINVAL, "%s given twice", ds_param_names[p]);
	ds->given[p] = true;
	return 0;
}

static int ds_set_format(struct ds *ds, struct slice v)
{
	static const struct { const char *name; enum disk_format f; } fmts[] = {
		{ "raw", DISK_FORMAT_RAW }, { "qcow", DISK_FORMAT_QCOW },
		{ "qcow2", DISK_FORMAT_QCOW2 }, { "vhd", DISK_FORMAT_VHD },
		{ "qed", DISK_FORMAT_QED },
	};

	if (v.n == 0) {                 /* empty: the default, as in xl */
		ds->spec->format = DISK_FORMAT_RAW;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
		if (slice_is(v, fmts[i].name)) {
			ds->spec->format = fmts[i].f;
			return 0;
		}
	}
	return ds_fail(ds, -EINVAL, "unknown format '%.*s' (raw, qcow, qcow2, vhd, qed; "
		       "positional order is target,format,vdev,access)", SHOW(v));
}

static int ds_set_vdev(struct ds *ds, struct slice v)
{
	char name[DISKSPEC_VDEV_MAX];

	if (v.n == 0)
		return 0;
	if (v.n >= sizeof(name))
		return ds_fail(ds, -EINVAL, "vdev '%.*s' is too long", SHOW(v));
	memcpy(name, v.p, v.n);
	name[v.n] = '\0';
	if (!diskspec_vdev_valid(name))
		return ds_fail(ds, -EINVAL, "invalid vdev '%s' (xvdX, sdX, vdX or hda-hdt)", name);
	memcpy(ds->spec->vdev, name, v.n + 1);
	return 0;
}

static int ds_set_access(struct ds *ds, struct slice v)
{
	if (v.n == 0 || slice_is(v, "rw") || slice_is(v, "w")) {
		ds->spec->readonly = false;
		ds->access_rw = v.n != 0;
		return 0;
	}
	if (slice_is(v, "ro") || slice_is(v, "r")) {
		ds->spec->readonly = true;
		return 0;
	}
	return ds_fail(ds, -EINVAL, "unknown access '%.*s' (ro, r, rw, w)", SHOW(v));
}

static int ds_set_backendtype(struct ds *ds, struct slice v)
{
	if (v.n == 0)
		ds->spec->backendtype = DISK_BACKEND_AUTO;
	else if (slice_is(v, "phy"))
		ds->spec->backendtype = DISK_BACKEND_PHY;
	else if (slice_is(v, "tap"))
		ds->spec->backendtype = DISK_BACKEND_TAP;
	else if (slice_is(v, "qdisk"))
		ds->spec->backendtype = DISK_BACKEND_QDISK;
	else
		return ds_fail(ds, -EINVAL, "unknown backendtype '%.*s' (phy, tap, qdisk)", SHOW(v));
	return 0;
}

/* A prefix word: 1-16 of [a-z0-9] followed by ':'. Anything else (a '/', a
 * '.', upper case) means the text is a path that happens to contain ':'. */
static bool ds_take_prefix(struct slice *rest, struct slice *word)
{
	size_t i;

	for (i = 0; i < rest->n && i <= 16; i++) {
		char c = rest->p[i];

		if (c == ':')
			break;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	if (i == 0 || i > 16 || i == rest->n)
		return false;
	word->p = rest->p;
	word->n = i;
	rest->p += i + 1;
	rest->n -= i + 1;
	return true;
}

/* Image-format prefixes, valid alone or after tap:. */
static bool ds_format_prefix(struct ds *ds, struct slice w)
{
	static const struct { const char *name; enum disk_format f; } fp[] = {
		{ "raw", DISK_FORMAT_RAW }, { "qcow", DISK_FORMAT_QCOW },
		{ "qcow2", DISK_FORMAT_QCOW2 }, { "vhd", DISK_FORMAT_VHD },
		{ "qed", DISK_FORMAT_QED },
	};

	for (size_t i = 0; i < ARRAY_SIZE(fp); i++) {
		if (slice_is(w, fp[i].name)) {
			ds->pfx_has_format = true;
			ds->pfx_format = fp[i].f;
			return true;
		}
	}
	return false;
}

/* Engine prefixes (raw images): aio is xl's, sync and uring are isle's. */
static bool ds_engine_prefix(struct ds *ds, struct slice w)
{
	if (slice_is(w, "aio"))
		ds->spec->engine = DISK_ENGINE_AIO;
	else if (slice_is(w, "sync"))
		ds->spec->engine = DISK_ENGINE_SYNC;
	else if (slice_is(w, "uring"))
		ds->spec->engine = DISK_ENGINE_URING;
	else
		return false;
	ds->pfx_has_format = true;
	ds->pfx_format = DISK_FORMAT_RAW;
	return true;
}

static int ds_set_target(struct ds *ds, struct slice v)
{
	struct slice rest = v, w, w2;
	const char *hint = "(write file:PATH or ./PATH for a file name with ':')";

	if (v.n == 0)
		return ds_fail(ds, -EINVAL, "empty target");
	if (ds_take_prefix(&rest, &w)) {
		ds->pfx = w;
		if (slice_is(w, "phy")) {
			ds->pfx_has_backend = true;
			ds->pfx_backend = DISK_BACKEND_PHY;
			ds->pfx_has_format = true;
			ds->pfx_format = DISK_FORMAT_RAW;
		} else if (slice_is(w, "file")) {
			ds->pfx_has_format = true;
			ds->pfx_format = DISK_FORMAT_RAW;
		} else if (slice_is(w, "tap") || slice_is(w, "tap2")) {
			ds->pfx_has_backend = true;
			ds->pfx_backend = DISK_BACKEND_TAP;
			ds->pfx_has_format = true;
			ds->pfx_format = DISK_FORMAT_RAW;
			/* tap:PATH is a raw image; tap:DRIVER:PATH names the driver. */
			if (ds_take_prefix(&rest, &w2) && !ds_format_prefix(ds, w2) &&
			    !ds_engine_prefix(ds, w2))
				return ds_fail(ds, -EINVAL, "unknown tap driver '%.*s:' "
					       "(aio, sync, uring, raw, qcow2, vhd)", SHOW(w2));
		} else if (!ds_format_prefix(ds, w) && !ds_engine_prefix(ds, w)) {
			return ds_fail(ds, -EINVAL, "unknown target prefix '%.*s:' %s",
				       SHOW(w), hint);
		}
		if (rest.n == 0)
			return ds_fail(ds, -EINVAL, "empty path after '%.*s'",
				       (int)MIN((size_t)(rest.p - v.p), (size_t)64), v.p);
	}
	if (rest.n > sizeof(ds->spec->path) - 1)
		return ds_fail(ds, -EINVAL, "path is too long (%zu bytes, at most %zu)",
			       rest.n, sizeof(ds->spec->path) - 1);
	memcpy(ds->spec->path, rest.p, rest.n);
	ds->spec->path[rest.n] = '\0';
	return 0;
}

static int ds_set_param(struct ds *ds, enum ds_param p, struct slice v)
{
	int r = ds_claim(ds, p);

	if (r)
		return r;
	switch (p) {
	case P_TARGET:
		return ds_set_target(ds, v);
	case P_FORMAT:
		return ds_set_format(ds, v);
	case P_VDEV:
		return ds_set_vdev(ds, v);
	case P_ACCESS:
		return ds_set_access(ds, v);
	case P_BACKENDTYPE:
		return ds_set_backendtype(ds, v);
	case P_DEVTYPE:
		if (v.n && !slice_is(v, "cdrom"))
			return ds_fail(ds, -EINVAL, "unknown devtype '%.*s' (only cdrom)", SHOW(v));
		ds->spec->cdrom = v.n != 0;
		return 0;
	case P_DISCARD:
	case P_COUNT:
		break;
	}
	return 0;
}

static int ds_key(struct ds *ds, struct slice key, struct slice val)
{
	for (int p = 0; p < P_COUNT; p++) {
		if (p != P_DISCARD && slice_is(key, ds_param_names[p]))
			return ds_set_param(ds, (enum ds_param)p, val);
	}
	if (slice_is(key, "script"))
		return ds_fail(ds, -ENOTSUP, "script= is not supported "
			       "(isle-tapdisk opens the target itself)");
	return ds_fail(ds, -EINVAL, "unknown key '%.*s' (target, format, vdev, access, "
		       "backendtype, devtype)", SHOW(key));
}

/* Returns 1 when the item was a flag, 0 when it was not, or -errno. */
static int ds_flag(struct ds *ds, struct slice item)
{
	int r;

	if (slice_is(item, "cdrom")) {
		r = ds_claim(ds, P_DEVTYPE);
		ds->spec->cdrom = true;
	} else if (slice_is(item, "discard") || slice_is(item, "no-discard")) {
		r = ds_claim(ds, P_DISCARD);
		ds->spec->no_discard = item.n != strlen("discard");
	} else {
		return 0;
	}
	return r ? r : 1;
}

static int ds_positional(struct ds *ds, struct slice item)
{
	for (int p = 0; p < DS_NPOSITIONAL; p++) {
		/* A format prefix on the target fills the format slot, which is
		 * why xl's "phy:/dev/x,xvda,w" means vdev=xvda,access=w. */
		if (ds->given[p] || (p == P_FORMAT && ds->pfx_has_format))
			continue;
		return ds_set_param(ds, (enum ds_param)p, item);
	}
	return ds_fail(ds, -EINVAL, "unexpected parameter '%.*s' "
		       "(target, format, vdev and access are all given)", SHOW(item));
}

/* Checks the whole spec and reconciles the prefix with explicit settings. */
static int ds_finish(struct ds *ds)
{
	struct disk_spec *spec = ds->spec;

	if (!ds->given[P_TARGET] || !spec->path[0])
		return ds_fail(ds, -EINVAL, "no target: give a path, e.g. phy:/dev/vg/disk "
			       "or target=/images/disk.img");
	if (ds->pfx_has_format) {
		if (ds->given[P_FORMAT] && spec->format != ds->pfx_format)
			return ds_fail(ds, -EINVAL, "format=%s conflicts with target prefix '%.*s:'",
				       diskspec_format_name(spec->format), SHOW(ds->pfx));
		spec->format = ds->pfx_format;
	}
	if (ds->pfx_has_backend) {
		if (ds->given[P_BACKENDTYPE] && spec->backendtype != ds->pfx_backend)
			return ds_fail(ds, -EINVAL, "backendtype=%s conflicts with target prefix '%.*s:'",
				       diskspec_backendtype_name(spec->backendtype), SHOW(ds->pfx));
		spec->backendtype = ds->pfx_backend;
	}
	if (spec->cdrom) {
		if (ds->access_rw)
			return ds_fail(ds, -EINVAL, "a cdrom is read-only; access=rw is not allowed");
		spec->readonly = true;
	}
	if (spec->format != DISK_FORMAT_RAW && spec->format != DISK_FORMAT_QCOW2)
		return ds_fail(ds, -ENOTSUP, "format %s not supported yet (raw and qcow2 images)",
			       diskspec_format_name(spec->format));
	return 0;
}

int diskspec_parse_buf(const char *buf, size_t len, struct disk_spec *spec,
		       char *err, size_t errlen)
{
	struct ds ds = { .spec = spec, .err = err, .errlen = errlen };
	size_t pos = 0;
	int r;

	memset(spec, 0, sizeof(*spec));
	if (err && errlen)
		err[0] = '\0';
	if (len > DISKSPEC_MAX_LEN)
		return ds_fail(&ds, -EINVAL, "disk spec is too long (%zu bytes, at most %d)",
			       len, DISKSPEC_MAX_LEN);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\0')
			return ds_fail(&ds, -EINVAL, "NUL byte at offset %zu of the disk spec", i);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return ds_fail(&ds, -EINVAL, "control character 0x%02x at offset %zu "
				       "of the disk spec", c, i);
	}
	if (len == 0)
		return ds_fail(&ds, -EINVAL, "empty disk spec");

	while (pos < len) {
		struct slice item;
		const char *comma, *eq;

		while (pos < len && (buf[pos] == ' ' || buf[pos] == '\t'))
			pos++;              /* xl ignores whitespace before items */
		item.p = buf + pos;
		if (len - pos >= 7 && !memcmp(item.p, "target=", 7)) {
			/* Verbatim to the end: a path may hold ',' and '='. */
			struct slice v = { item.p + 7, len - pos - 7 };

			r = ds_set_param(&ds, P_TARGET, v);
			if (r)
				return r;
			break;
		}
		comma = memchr(item.p, ',', len - pos);
		item.n = comma ? (size_t)(comma - item.p) : len - pos;
		pos += item.n + 1;      /* past the comma; > len only at the end */

		eq = memchr(item.p, '=', item.n);
		if (eq) {
			struct slice key = { item.p, (size_t)(eq - item.p) };
			struct slice val = { eq + 1, item.n - key.n - 1 };

			r = ds_key(&ds, key, val);
		} else {
			r = ds_flag(&ds, item);
			if (r == 0)
				r = ds_positional(&ds, item);
		}
		if (r < 0)
			return r;
	}
	return ds_finish(&ds);
}

int diskspec_parse(const char *s, struct disk_spec *spec, char *err, size_t errlen)
{
	/* strnlen bounds the scan; an over-long spec is then refused. */
	return diskspec_parse_buf(s, strnlen(s, DISKSPEC_MAX_LEN + 1), spec, err, errlen);
}

bool diskspec_vdev_valid(const char *name)
{
	const char *p;
	size_t letters = 0, max_letters = 3;
	bool partitions = true;

	if (!strncmp(name, "xvd", 3)) {
		p = name + 3;
	} else if (!strncmp(name, "sd", 2)) {
		p = name + 2;
	} else if (!strncmp(name, "vd", 2)) {
		p = name + 2;
		partitions = false;     /* virtio-blk exports whole disks */
	} else if (!strncmp(name, "hd", 2)) {
		p = name + 2;
		if (*p > 't')
			return false;   /* IDE: 20 disks at most, as in libxl */
		max_letters = 1;
	} else {
		return false;
	}
	while (letters < max_letters && *p >= 'a' && *p <= 'z') {
		p++;
		letters++;
	}
	if (!letters)
		return false;
	if (!*p)
		return true;
	if (!partitions || *p < '1' || *p > '9')
		return false;
	p++;
	if (*p >= '0' && *p <= '9')
		p++;
	return !*p;
}

const char *diskspec_format_name(enum disk_format format)
{
	switch (format) {
	case DISK_FORMAT_RAW: return "raw";
	case DISK_FORMAT_QCOW: return "qcow";
	case DISK_FORMAT_QCOW2: return "qcow2";
	case DISK_FORMAT_VHD: return "vhd";
	case DISK_FORMAT_QED: return "qed";
	}
	return "?";
}

const char *diskspec_engine_name(enum disk_engine_hint engine)
{
	switch (engine) {
	case DISK_ENGINE_DEFAULT: return "default";
	case DISK_ENGINE_SYNC: return "sync";
	case DISK_ENGINE_AIO: return "aio";
	case DISK_ENGINE_URING: return "uring";
	}
	return "?";
}

const char *diskspec_backendtype_name(enum disk_backendtype type)
{
	switch (type) {
	case DISK_BACKEND_AUTO: return "auto";
	case DISK_BACKEND_PHY: return "phy";
	case DISK_BACKEND_TAP: return "tap";
	case DISK_BACKEND_QDISK: return "qdisk";
	}
	return "?";
}
