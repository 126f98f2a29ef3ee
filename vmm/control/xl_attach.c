/* xl's verbs that change a running VM's devices and memory (contract in
 * xl.h; the HTTP client and the other verbs are in xl.c):
 *
 *   block-attach NAME SPEC     PUT vm.add-disk   DiskConfig from xl's disk spec
 *   network-attach NAME [SPEC] PUT vm.add-net    NetConfig from xl's vif spec
 *   pci-attach NAME SPEC       PUT vm.add-device DeviceConfig from xl's PCI spec
 *   *-detach [-f] [-t S] NAME REF   PUT vm.remove-device {id[, force]}, then
 *                              vm.info until the guest let the device go
 *   *-list NAME                from vm.info (config and device_tree)
 *   mem-set NAME SIZE          PUT vm.resize {desired_balloon}
 *
 * The spec mappers are pure (tests/unit/test_xl.c): the vif and PCI specs
 * go through isle's own validator (device_spec_parse) first; the disk spec
 * is mapped here, in diskspec.c's model, since isle-tapdisk's parser is not
 * part of the VMM: DiskConfig has a path, readonly and an id, so the
 * target's prefixes are taken off (a qcow2 one, or format=qcow2, becomes
 * image_type Qcow2; raw and qcow2 only, as vm.add-disk) and the vdev
 * becomes the id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/config.h"
#include "core/device.h"
#include "core/vm.h"
#include "vfio.h"
#include "control/xl_priv.h"

#define XL_DETACH_S 10

/* ---- xl disk spec -> DiskConfig ---- */

enum { XD_TARGET, XD_FORMAT, XD_VDEV, XD_ACCESS, XD_N };

struct xl_disk {
	const char *v[XD_N];      /* what each positional parameter got */
	bool pfx_format;          /* the target's prefix took the format's place */
	int tfmt, kfmt;           /* XL_FMT_*: what the target's prefix, format= said */
	bool ro;
	const char *id;
};

enum { XL_FMT_NONE, XL_FMT_RAW, XL_FMT_QCOW2 };
static const char *const xl_fmt_name[] = { "", "raw", "qcow2" };

/* raw and qcow2 are served (*fmt says which; an empty name says nothing). */
static int xl_format_ok(const char *f, size_t n, int *fmt, char *err, size_t errlen)
{
	static const char *const other[] = { "qcow", "vhd", "qed" };

	if (!n)
		return 0;
	for (int i = XL_FMT_RAW; i <= XL_FMT_QCOW2; i++)
		if (n == strlen(xl_fmt_name[i]) && !memcmp(f, xl_fmt_name[i], n)) {
			*fmt = i;
			return 0;
		}
	for (size_t i = 0; i < ARRAY_SIZE(other); i++)
		if (n == strlen(other[i]) && !memcmp(f, other[i], n))
			return err_msg(err, errlen, -ENOTSUP, "%s images cannot be hot-added (raw "
				       "and qcow2 images only)", other[i]);
	return err_msg(err, errlen, -EINVAL, "unknown format '%.*s'", (int)MIN(n, 32), f);
}

static bool xl_word_in(const char *w, size_t n, const char *const *list, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (n == strlen(list[i]) && !memcmp(w, list[i], n))
			return true;
	return false;
}

/* The target without xl's prefix: phy: file: raw: aio: (isle's sync: uring:)
 * or tap:[DRIVER:], as isle-tapdisk reads them. */
static int xl_disk_target(struct xl_disk *d, const char *t, char *err, size_t errlen)
{
	static const char *const first[] = { "phy", "file", "raw", "aio", "sync", "uring",
					     "tap", "tap2" };
	static const char *const driver[] = { "raw", "aio", "sync", "uring" };
	size_t n = config_disk_prefix(t);
	int r;

	for (int word = 0; n; word++) {
		bool tap = word == 0 && xl_word_in(t, n, first + 6, 2);
		bool known = word ? xl_word_in(t, n, driver, 4) : xl_word_in(t, n, first, 8);

		/* Otherwise a format's name: qcow2, or a refused vhd: etc.; raw:
		 * is both a prefix and a format. */
		r = known && !(n == 3 && !memcmp(t, "raw", 3)) ? 0 :
			xl_format_ok(t, n, &d->tfmt, err, errlen);
		if (r == -EINVAL)
			return err_msg(err, errlen, -EINVAL, "unknown %s '%.*s:' (write file:PATH "
				       "for a file name with ':')",
				       word ? "tap driver" : "target prefix", (int)n, t);
		if (r)
			return r;
		d->pfx_format = true;
		t += n + 1;
		n = tap ? config_disk_prefix(t) : 0;
	}
	if (!*t)
		return err_msg(err, errlen, -EINVAL, "empty target");
	d->v[XD_TARGET] = t;
	return 0;
}

static int xl_disk_param(struct xl_disk *d, int p, const char *v, char *err, size_t errlen)
{
	static const char *const names[XD_N] = { "target", "format", "vdev", "access" };

	if (d->v[p])
		return err_msg(err, errlen, -EINVAL, "%s given twice", names[p]);
	switch (p) {
	case XD_TARGET:
		return xl_disk_target(d, v, err, errlen);
	case XD_FORMAT:
		d->v[p] = v;
		return xl_format_ok(v, strlen(v), &d->kfmt, err, errlen);
	case XD_ACCESS:
		if (!strcmp(v, "r") || !strcmp(v, "ro"))
			d->ro = true;
		else if (*v && strcmp(v, "w") && strcmp(v, "rw"))
			return err_msg(err, errlen, -EINVAL, "access '%.16s' is not r, ro, w or rw",
				       v);
		break;
	}
	d->v[p] = v;
	return 0;
}

static int xl_disk_key(struct xl_disk *d, char *item, char *err, size_t errlen)
{
	char *val = strchr(item, '=');

	*val++ = '\0';
	if (!strcmp(item, "target"))
		return xl_disk_param(d, XD_TARGET, val, err, errlen);
	if (!strcmp(item, "format"))
		return xl_disk_param(d, XD_FORMAT, val, err, errlen);
	if (!strcmp(item, "vdev"))
		return xl_disk_param(d, XD_VDEV, val, err, errlen);
	if (!strcmp(item, "access"))
		return xl_disk_param(d, XD_ACCESS, val, err, errlen);
	if (!strcmp(item, "devtype")) {
		if (*val && strcmp(val, "cdrom") && strcmp(val, "disk"))
			return err_msg(err, errlen, -EINVAL, "devtype '%.16s' is not disk or cdrom",
				       val);
		d->ro |= !strcmp(val, "cdrom");
		return 0;
	}
	if (!strcmp(item, "backendtype")) {   /* isle-tapdisk serves them all */
		if (*val && strcmp(val, "phy") && strcmp(val, "tap") && strcmp(val, "qdisk"))
			return err_msg(err, errlen, -EINVAL,
				       "backendtype '%.16s' is not phy, tap or qdisk", val);
		return 0;
	}
	if (!strcmp(item, "id"))
		return d->id = val, 0;
	if (!strcmp(item, "script") || !strcmp(item, "backend"))
		return err_msg(err, errlen, -ENOTSUP, "%s= is not supported by isle", item);
	return err_msg(err, errlen, -EINVAL, "unknown key '%.32s' (target, format, vdev, access, "
		       "devtype, backendtype, id)", item);
}

/* socket=PATH[,vdev=NAME][,id=NAME]: a running vhost-user-blk backend. */
static int xl_disk_socket(const char *spec, json_t **out, char *err, size_t errlen)
{
	struct device_spec *s = malloc(sizeof(*s));
	int r = s ? device_spec_parse(DEVICE_DISK, spec, s, err, errlen) : -ENOMEM;

	if (!r) {
		const char *id = s->id[0] ? s->id : s->disk.vdev[0] ? s->disk.vdev : NULL;

		*out = json_pack("{s:b, s:s}", "vhost_user", 1, "vhost_socket", s->disk.spec);
		if (id)
			json_object_set_new(*out, "id", json_string(id));
	}
	free(s);
	return r;
}

int xl_disk_config(const char *spec, json_t **out, char *err, size_t errlen)
{
	struct xl_disk d = { { NULL } };
	char *buf, *p, *item;
	int r = 0;

	*out = NULL;
	if (strlen(spec) >= VM_DISK_SPEC_MAX)
		return err_msg(err, errlen, -EINVAL, "the spec is too long");
	if (!strncmp(spec, "socket=", 7))
		return xl_disk_socket(spec, out, err, errlen);
	if (!(p = buf = strdup(spec)))
		return err_msg(err, errlen, -ENOMEM, "out of memory");
	while (p && !r) {
		item = p + strspn(p, " \t");
		if (!strncmp(item, "target=", 7)) {
			p = NULL;   /* the rest is the path, commas and all */
		} else if ((p = strchr(item, ',')))
			*p++ = '\0';
		if (strchr(item, '=')) {
			r = xl_disk_key(&d, item, err, errlen);
		} else if (!strcmp(item, "cdrom")) {
			d.ro = true;
		} else if (!strcmp(item, "no-discard")) {
			r = err_msg(err, errlen, -ENOTSUP,
				    "no-discard cannot be asked through vm.add-disk");
		} else if (strcmp(item, "discard")) {
			int slot = 0;

			/* The next free positional; a prefixed target fills format. */
			while (slot < XD_N && (d.v[slot] || (slot == XD_FORMAT && d.pfx_format)))
				slot++;
			if (slot == XD_N)
				r = err_msg(err, errlen, -EINVAL, "unexpected parameter '%.32s' "
					    "(target, format, vdev and access are all given)", item);
			else
				r = xl_disk_param(&d, slot, item, err, errlen);
		}
	}
	if (!r && d.tfmt && d.kfmt && d.tfmt != d.kfmt)
		r = err_msg(err, errlen, -EINVAL, "the target says %s, format= says %s",
			    xl_fmt_name[d.tfmt], xl_fmt_name[d.kfmt]);
	if (!r && !d.v[XD_TARGET])
		r = err_msg(err, errlen, -EINVAL, "no target: give a path, e.g. phy:/dev/vg/disk "
			    "or file:/img,xvdb,w");
	if (!d.id && d.v[XD_VDEV] && *d.v[XD_VDEV])
		d.id = d.v[XD_VDEV];
	if (!r && d.id && !device_id_ok(d.id))
		r = err_msg(err, errlen, -EINVAL, "'%.32s' cannot be the disk's id (a letter, then "
			    "up to 30 letters, digits, _ . -)", d.id);
	if (!r) {
		*out = json_pack("{s:s, s:b}", "path", d.v[XD_TARGET], "readonly", d.ro);
		if ((d.tfmt ? d.tfmt : d.kfmt) == XL_FMT_QCOW2)
			json_object_set_new(*out, "image_type", json_string("Qcow2"));
		if (d.id)
			json_object_set_new(*out, "id", json_string(d.id));
	}
	free(buf);
	return r;
}

/* ---- xl vif spec -> NetConfig; PCI spec -> DeviceConfig ---- */

int xl_net_config(const char *spec, json_t **out, char *err, size_t errlen)
{
	struct device_spec *s = malloc(sizeof(*s));
	char mac[VIF_MAC_STRLEN];
	const struct vif *v;
	int r = s ? device_spec_parse(DEVICE_NIC, spec, s, err, errlen) : -ENOMEM;

	*out = NULL;
	if (r) {
		free(s);
		return r;
	}
	v = &s->nic;
	*out = json_object();
	if (v->mac_set) {
		vif_format_mac(v->mac, mac);
		json_object_set_new(*out, "mac", json_string(mac));
	}
	if (v->vifname[0])
		json_object_set_new(*out, "tap", json_string(v->vifname));
	if (v->mtu)
		json_object_set_new(*out, "mtu", json_integer(v->mtu));
	if (v->queues > 1)
		json_object_set_new(*out, "num_queues", json_integer(2 * v->queues));
	if (v->socket[0]) {
		json_object_set_new(*out, "vhost_user", json_true());
		json_object_set_new(*out, "vhost_socket", json_string(v->socket));
	}
	/* isle's additions to NetConfig: the backend isle starts for it. */
	if (v->bridge[0])
		json_object_set_new(*out, "bridge", json_string(v->bridge));
	if (v->script[0])
		json_object_set_new(*out, "script", json_string(v->script));
	if (s->id[0])
		json_object_set_new(*out, "id", json_string(s->id));
	free(s);
	return 0;
}

int xl_pci_config(const char *spec, json_t **out, char *err, size_t errlen)
{
	struct device_spec *s = malloc(sizeof(*s));
	char path[64];
	int r = s ? device_spec_parse(DEVICE_PCI, spec, s, err, errlen) : -ENOMEM;

	*out = NULL;
	if (!r && (s->pci.permissive || s->pci.seize || s->pci.msix_relocation))
		r = err_msg(err, errlen, -ENOTSUP, "%s cannot be asked through vm.add-device (%s)",
			    s->pci.seize ? "seize=1" : s->pci.permissive ? "permissive=1" :
			    "msix_relocation", s->pci.seize ? "run isle pci-assignable-add first" :
			    "put the device in the VM's config");
	if (!r) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/", s->pci.host);
		*out = json_pack("{s:s}", "path", path);
		if (s->pci.vslot >= 0)
			json_object_set_new(*out, "pci_device_id", json_integer(s->pci.vslot));
		if (s->id[0])
			json_object_set_new(*out, "id", json_string(s->id));
	}
	free(s);
	return r;
}

/* ---- attach ---- */

static int xl_attach(int argc, char **argv, int (*map)(const char *, json_t **, char *, size_t),
		     const char *endpoint, int min)
{
	char err[512], *spec;
	size_t len = 1;
	json_t *body, *reply;
	int r;

	if ((r = xl_operands(argc, argv, min, -1)))
		return r;
	for (int i = optind + 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (!(spec = calloc(1, len)))
		return 1;
	/* xl joins a spec given in several words with commas. */
	for (int i = optind + 1; i < argc; i++)
		strcat(strcat(spec, i > optind + 1 ? "," : ""), argv[i]);
	r = map(spec, &body, err, sizeof(err));
	if (r) {
		fprintf(stderr, "isle: %s: '%.200s': %s\n", argv[0], spec, err);
		free(spec);
		return ISLE_EXIT_USAGE;
	}
	free(spec);
	if (xl_find(argv[0], argv[optind]) < 0) {
		json_decref(body);
		return 1;
	}
	if (xl_call(argv[0], argv[optind], "PUT", endpoint, body, &reply))
		return 1;
	if (json_string_value(json_object_get(reply, "id")))   /* the new device */
		printf("%s %s\n", json_string_value(json_object_get(reply, "id")),
		       json_string_value(json_object_get(reply, "bdf")) ?: "");
	json_decref(reply);
	return 0;
}

int xl_block_attach(int argc, char **argv)
{
	return xl_attach(argc, argv, xl_disk_config, "vm.add-disk", 2);
}

int xl_network_attach(int argc, char **argv)
{
	return xl_attach(argc, argv, xl_net_config, "vm.add-net", 1);
}

int xl_pci_attach(int argc, char **argv)
{
	return xl_attach(argc, argv, xl_pci_config, "vm.add-device", 2);
}

/* ---- detach ---- */

static const char *xl_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

/* The config's list of one kind: disks, net, devices. */
static json_t *xl_config_list(json_t *info, const char *kind)
{
	json_t *cfg = json_object_get(info, "config");

	return json_object_get(cfg, !strcmp(kind, "disk") ? "disks" :
				    !strcmp(kind, "net") ? "net" : "devices");
}

/* What REF names: a MAC or a devid (the index in config.net) for a NIC, a
 * host BDF for a PCI device, or an id. */
static const char *xl_resolve(json_t *info, const char *kind, const char *ref)
{
	json_t *list = xl_config_list(info, kind), *e;
	char bdf[VFIO_BDF_MAX];
	size_t i;

	if (!strcmp(kind, "net") && ref[0] && strspn(ref, "0123456789") == strlen(ref) &&
	    (e = json_array_get(list, strtoul(ref, NULL, 10))))
		return xl_str(e, "id");
	json_array_foreach(list, i, e)
		if ((!strcmp(kind, "net") && strchr(ref, ':') && !strcasecmp(xl_str(e, "mac"), ref)) ||
		    (!strcmp(kind, "pci") && !vfio_bdf_canon(ref, bdf) &&
		     !strcmp(xl_str(e, "path"), bdf)))
			return xl_str(e, "id");
	return ref;
}

static bool xl_in_tree(const char *name, const char *id)
{
	char err[256];
	json_t *info;
	long st = xl_http(name, "GET", "vm.info", NULL, &info, err, sizeof(err));
	bool in = st == 200 && json_object_get(json_object_get(info, "device_tree"), id);

	json_decref(info);
	return in;   /* a process that no longer answers holds nothing */
}

static int xl_detach(int argc, char **argv, const char *kind)
{
	const char *verb = argv[0], *name, *id;
	long timeout = XL_DETACH_S;
	bool force = false;
	json_t *info, *node, *body;
	long long deadline;
	char *end;
	int o, r = 1;

	while ((o = getopt(argc, argv, ":ft:")) != -1) {
		if (o == 'f') {
			force = true;
		} else if (o == 't') {
			timeout = strtol(optarg, &end, 10);
			if (*end || end == optarg || timeout < 1 || timeout > 3600)
				return xl_usage(verb, "-t: 1 to 3600 seconds");
		} else {
			return xl_bad_option(verb, o);
		}
	}
	if (argc - optind != 2)
		return xl_usage(verb, NULL);
	name = argv[optind];
	if (xl_find(verb, name) < 0 || xl_call(verb, name, "GET", "vm.info", NULL, &info))
		return 1;
	/* id points into info (or argv), which stays until the end: no copy,
	 * so nothing is cut short; the server checks it is an id. */
	id = xl_resolve(info, kind, argv[optind + 1]);
	node = json_object_get(json_object_get(info, "device_tree"), id);
	if (node && strcmp(xl_str(node, "kind"), kind)) {
		fprintf(stderr, "isle: %s: %s: %s is a %s device, not a %s\n", verb, name, id,
			xl_str(node, "kind"), kind);
		goto out;
	}
	body = json_pack("{s:s}", "id", id);
	if (force)   /* isle's addition to VmRemoveDevice */
		json_object_set_new(body, "force", json_true());
	if (xl_call(verb, name, "PUT", "vm.remove-device", body, NULL))
		goto out;
	deadline = xl_now_ms() + timeout * 1000;
	while (xl_in_tree(name, id)) {
		if (xl_now_ms() >= deadline) {
			fprintf(stderr, "isle: %s: %s: the guest did not release %s in %ld s "
				"(use -f)\n", verb, name, id, timeout);
			goto out;
		}
		xl_sleep_ms(100);
	}
	r = 0;
out:
	json_decref(info);
	return r;
}

int xl_block_detach(int argc, char **argv)
{
	return xl_detach(argc, argv, "disk");
}

int xl_network_detach(int argc, char **argv)
{
	return xl_detach(argc, argv, "net");
}

int xl_pci_detach(int argc, char **argv)
{
	return xl_detach(argc, argv, "pci");
}

/* ---- list ---- */

/* One row per device of kind: the config's (hot-added ones included), then
 * those the guest has not released yet (already gone from the config). */
static int xl_devices(int argc, char **argv, const char *kind, const char *header)
{
	json_t *info, *tree, *list, *e, *node;
	const char *name, *id;
	size_t i;
	int r;

	if ((r = xl_operands(argc, argv, 1, 1)))
		return r;
	name = argv[optind];
	if (xl_find(argv[0], name) < 0 || xl_call(argv[0], name, "GET", "vm.info", NULL, &info))
		return 1;
	tree = json_object_get(info, "device_tree");
	list = xl_config_list(info, kind);
	printf("Idx %-16s %-13s %s\n", "ID", "BDF", header);
	json_array_foreach(list, i, e) {
		char detail[4400];

		node = json_object_get(tree, xl_str(e, "id"));
		if (!strcmp(kind, "disk"))
			snprintf(detail, sizeof(detail), "%s", node ? xl_str(node, "spec") :
				 xl_str(e, "path"));
		else if (!strcmp(kind, "net"))
			snprintf(detail, sizeof(detail), "%-17s %s", xl_str(e, "mac")[0] ?
				 xl_str(e, "mac") : "-", xl_str(e, "tap")[0] ? xl_str(e, "tap") : "-");
		else
			snprintf(detail, sizeof(detail), "%s", xl_str(e, "path"));
		printf("%-3zu %-16s %-13s %s%s\n", i, xl_str(e, "id"),
		       node && xl_str(node, "pci_bdf")[0] ? xl_str(node, "pci_bdf") : "-", detail,
		       json_is_true(json_object_get(node, "eject_pending")) ? "  (detaching)" : "");
	}
	json_object_foreach(tree, id, node) {
		bool listed = false;

		json_array_foreach(list, i, e)
			listed |= !strcmp(xl_str(e, "id"), id);
		if (!listed && !strcmp(xl_str(node, "kind"), kind))
			printf("%-3s %-16s %-13s %s  (detaching)\n", "-", id,
			       xl_str(node, "pci_bdf")[0] ? xl_str(node, "pci_bdf") : "-",
			       !strcmp(kind, "disk") ? xl_str(node, "spec") : "");
	}
	json_decref(info);
	return 0;
}

int xl_block_list(int argc, char **argv)
{
	return xl_devices(argc, argv, "disk", "Spec");
}

int xl_network_list(int argc, char **argv)
{
	return xl_devices(argc, argv, "net", "MAC               Tap");
}

int xl_pci_list(int argc, char **argv)
{
	return xl_devices(argc, argv, "pci", "Host");
}

/* ---- mem-set ---- */

/* SIZE in xl's units (a bare number is KiB) -> the balloon that leaves that
 * much to a guest of memory bytes. */
int xl_mem_target(const char *arg, uint64_t memory, int64_t *balloon, char *err,
		  size_t errlen)
{
	uint64_t bytes;

	if (config_parse_size(arg, 1024, &bytes))
		return err_msg(err, errlen, -EINVAL, "'%.64s' is not a size (e.g. 524288, 512m, 2g; "
			       "a bare number is KiB)", arg);
	if (bytes > memory)
		return err_msg(err, errlen, -ERANGE, "%lluk is more than the VM's memory (%lluk)",
			       (unsigned long long)(bytes >> 10), (unsigned long long)(memory >> 10));
	*balloon = (int64_t)(memory - bytes);
	return 0;
}

int xl_mem_set(int argc, char **argv)
{
	char err[256];
	int64_t balloon;
	json_t *info;
	const char *name;
	int r;

	if ((r = xl_operands(argc, argv, 2, 2)))
		return r;
	name = argv[optind];
	if (xl_mem_target(argv[optind + 1], UINT64_MAX, &balloon, err, sizeof(err)))
		return xl_usage("mem-set", err);
	if (xl_find("mem-set", name) < 0 || xl_call("mem-set", name, "GET", "vm.info", NULL, &info))
		return 1;
	r = xl_mem_target(argv[optind + 1], (uint64_t)json_integer_value(json_object_get(
			  json_object_get(json_object_get(info, "config"), "memory"), "size")),
			  &balloon, err, sizeof(err));
	json_decref(info);
	if (r) {
		fprintf(stderr, "isle: mem-set: %s: %s\n", name, err);
		return 1;
	}
	return xl_call("mem-set", name, "PUT", "vm.resize",
		       json_pack("{s:I}", "desired_balloon", (json_int_t)balloon), NULL);
}
