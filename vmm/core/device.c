/* Device specs, the type table and each VM's list of instances (contract
 * in vmm/core/device.h).
 *
 * Owns: the one validator of device text (device_spec_parse: the command
 * line now, the JSON control socket and xl.cfg later), the checks between
 * specs of one VM, vm_config's owned spec list, and device_add/device_del,
 * the only way an instance is realized or unrealized. Spec text is
 * untrusted: every length is checked before a copy, and errors are one
 * line in err. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/device.h"
#include "core/vm.h"

/* One registration line per type; a kind has at most one type. */
static const struct device_type *const device_types[DEVICE_NR_KINDS] = {
	[DEVICE_SERIAL] = &serial_type,
	[DEVICE_POWER] = &power_type,
	[DEVICE_TESTDEV] = &testdev_type,
	[DEVICE_DISK] = &vhost_user_blk_type,
	[DEVICE_NIC] = &vhost_user_net_type,
	[DEVICE_EDU] = &edu_type,
	[DEVICE_VTD] = &vtd_type,
	[DEVICE_PCI] = &vfio_pci_type,
	[DEVICE_HOTPLUG] = &hotplug_type,
	[DEVICE_BALLOON] = &balloon_type,
};

static const char *const device_kind_names[DEVICE_NR_KINDS] = {
	[DEVICE_SERIAL] = "serial",
	[DEVICE_POWER] = "power",
	[DEVICE_TESTDEV] = "testdev",
	[DEVICE_DISK] = "disk",
	[DEVICE_NIC] = "net",
	[DEVICE_EDU] = "edu",
	[DEVICE_VTD] = "iommu",
	[DEVICE_PCI] = "pci",
	[DEVICE_HOTPLUG] = "hotplug",
	[DEVICE_BALLOON] = "balloon",
};

/* A socket path must fit a sockaddr_un (108 bytes with the NUL). */
#define DEVICE_SOCK_MAX 107

const char *device_kind_name(enum device_kind kind)
{
	return (unsigned int)kind < DEVICE_NR_KINDS ? device_kind_names[kind] : NULL;
}

int device_kind_parse(const char *name, enum device_kind *kind)
{
	for (unsigned int k = 0; k < DEVICE_NR_KINDS; k++) {
		if (!strcmp(name, device_kind_names[k])) {
			*kind = (enum device_kind)k;
			return 0;
		}
	}
	return -EINVAL;
}

const struct device_type *device_type_of(enum device_kind kind)
{
	return (unsigned int)kind < DEVICE_NR_KINDS ? device_types[kind] : NULL;
}

bool device_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= DEVICE_ID_MAX ||
	    !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* id=NAME, len bytes of it at v. */
static int device_spec_id(struct device_spec *s, const char *v, size_t len, char *err,
			  size_t errlen)
{
	if (s->id[0])
		return err_msg(err, errlen, -EINVAL, "id= given twice");
	if (len >= DEVICE_ID_MAX)
		return err_msg(err, errlen, -EINVAL, "id longer than %d characters",
				   DEVICE_ID_MAX - 1);
	memcpy(s->id, v, len);
	s->id[len] = '\0';
	if (!device_id_ok(s->id))
		return err_msg(err, errlen, -EINVAL,
				   "id '%s' is not a name (a letter, then letters, digits, _ . -)",
				   s->id);
	return 0;
}

static bool device_vdev_ok(const char *v)
{
	size_t n = strlen(v);

	if (!n || n >= VM_DISK_VDEV_MAX || v[0] < 'a' || v[0] > 'z')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9')))
			return false;
	return true;
}

static int device_disk_vdev(struct vm_disk *d, const char *v, size_t len, char *err,
			    size_t errlen)
{
	if (d->vdev[0])
		return err_msg(err, errlen, -EINVAL, "vdev= given twice");
	if (len >= VM_DISK_VDEV_MAX)
		return err_msg(err, errlen, -EINVAL, "vdev name too long");
	memcpy(d->vdev, v, len);
	d->vdev[len] = '\0';
	if (!device_vdev_ok(d->vdev))
		return err_msg(err, errlen, -EINVAL, "vdev '%.16s' is not a name like xvda",
				   d->vdev);
	return 0;
}

/* socket=PATH[,vdev=NAME][,id=NAME]: isle's keys can only come last (the
 * path may contain commas). */
static int device_disk_socket(struct device_spec *s, const char *path, char *err,
			      size_t errlen)
{
	struct vm_disk *d = &s->disk;
	size_t plen = strlen(path);

	for (;;) {
		const char *c = memrchr(path, ',', plen);
		size_t clen = c ? plen - (size_t)(c - path) : 0;
		int r;

		if (c && clen >= 6 && !strncmp(c, ",vdev=", 6))
			r = device_disk_vdev(d, c + 6, clen - 6, err, errlen);
		else if (c && clen >= 4 && !strncmp(c, ",id=", 4))
			r = device_spec_id(s, c + 4, clen - 4, err, errlen);
		else
			break;
		if (r)
			return r;
		plen = (size_t)(c - path);
	}
	if (!plen)
		return err_msg(err, errlen, -EINVAL, "socket= needs a path");
	if (plen > DEVICE_SOCK_MAX)
		return err_msg(err, errlen, -EINVAL, "socket path longer than %d bytes",
				   DEVICE_SOCK_MAX);
	memcpy(d->spec, path, plen);
	d->spec[plen] = '\0';
	d->socket = true;
	return 0;
}

/* SPEC: isle's own vdev= and id= come out; the rest goes to isle-tapdisk as
 * it is (it validates the xl syntax). From target= on, everything is the
 * path and is not looked at. */
static int device_disk_parse(struct device_spec *s, const char *text, char *err, size_t errlen)
{
	struct vm_disk *d = &s->disk;
	const char *p = text;
	size_t out = 0;
	bool first = true;
	int r;

	if (strlen(text) >= VM_DISK_SPEC_MAX)
		return err_msg(err, errlen, -EINVAL, "spec longer than %d bytes",
				   VM_DISK_SPEC_MAX - 1);
	if (!strncmp(text, "socket=", 7))
		return device_disk_socket(s, text + 7, err, errlen);
	while (*p) {
		const char *end = strncmp(p, "target=", 7) ? strchr(p, ',') : NULL;
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!strncmp(p, "vdev=", 5) && len >= 5) {
			if ((r = device_disk_vdev(d, p + 5, len - 5, err, errlen)))
				return r;
		} else if (!strncmp(p, "id=", 3) && len >= 3) {
			if ((r = device_spec_id(s, p + 3, len - 3, err, errlen)))
				return r;
		} else {
			/* out + len + 1 <= strlen(text) < VM_DISK_SPEC_MAX */
			if (!first)
				d->spec[out++] = ',';
			memcpy(d->spec + out, p, len);
			out += len;
			first = false;
		}
		if (!end)
			break;
		p = end + 1;
	}
	d->spec[out] = '\0';
	if (!d->spec[0])
		return err_msg(err, errlen, -EINVAL, "empty spec (e.g. file:disk.img)");
	return 0;
}

/* Xen vif syntax (values have no commas): id= comes out, vif.c checks the rest. */
static int device_nic_parse(struct device_spec *s, const char *text, char *err, size_t errlen)
{
	size_t n = strlen(text), out = 0;
	char *rest = malloc(n + 1);
	const char *p = text;
	int r = 0;

	if (!rest)
		return err_msg(err, errlen, -ENOMEM, "out of memory");
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!strncmp(p, "id=", 3) && len >= 3) {
			if ((r = device_spec_id(s, p + 3, len - 3, err, errlen)))
				goto out;
		} else {
			if (out)
				rest[out++] = ',';
			memcpy(rest + out, p, len);
			out += len;
		}
		if (!end)
			break;
		p = end + 1;
	}
	rest[out] = '\0';
	r = vif_parse(rest, &s->nic, err, errlen);
out:
	free(rest);
	return r;
}

/* A kind whose own parser (result r) took the name: it becomes the id. */
static int device_spec_named(struct device_spec *s, int r, const char *name, char *err,
			     size_t errlen)
{
	if (r || !name[0])
		return r;
	return device_spec_id(s, name, strlen(name), err, errlen);
}

/* Devices with no configuration of their own take only id=. */
static int device_plain_parse(struct device_spec *s, const char *text, char *err, size_t errlen)
{
	if (!*text)
		return 0;
	if (strncmp(text, "id=", 3))
		return err_msg(err, errlen, -EINVAL, "'%.64s': only id=NAME is accepted", text);
	return device_spec_id(s, text + 3, strlen(text + 3), err, errlen);
}

int device_spec_parse(enum device_kind kind, const char *text, struct device_spec *spec,
		      char *err, size_t errlen)
{
	memset(spec, 0, sizeof(*spec));
	spec->kind = kind;
	if (errlen)
		err[0] = '\0';
	switch (kind) {
	case DEVICE_DISK:
		return device_disk_parse(spec, text, err, errlen);
	case DEVICE_NIC:
		return device_nic_parse(spec, text, err, errlen);
	case DEVICE_PCI:
		return device_spec_named(spec, pci_spec_parse(text, &spec->pci, err, errlen),
					 spec->pci.name, err, errlen);
	case DEVICE_BALLOON:
		return device_spec_named(spec,
					 balloon_spec_parse(text, &spec->balloon, err, errlen),
					 spec->balloon.id, err, errlen);
	case DEVICE_SERIAL:
	case DEVICE_POWER:
	case DEVICE_HOTPLUG:
	case DEVICE_TESTDEV:
	case DEVICE_EDU:
	case DEVICE_VTD:
		return device_plain_parse(spec, text, err, errlen);
	default:
		return err_msg(err, errlen, -EINVAL, "unknown device kind %d", (int)kind);
	}
}

int device_spec_conflict(const struct device_spec *a, const struct device_spec *b, char *err,
			 size_t errlen)
{
	char mac[VIF_MAC_STRLEN];

	if (a->id[0] && !strcmp(a->id, b->id))
		return err_msg(err, errlen, -EEXIST, "id '%s' used twice", a->id);
	if (a->kind != b->kind)
		return 0;
	if (a->kind == DEVICE_DISK && a->disk.vdev[0] && !strcmp(a->disk.vdev, b->disk.vdev))
		return err_msg(err, errlen, -EEXIST, "vdev '%s' used twice", a->disk.vdev);
	if (a->kind == DEVICE_PCI && !strcmp(a->pci.host, b->pci.host))
		return err_msg(err, errlen, -EEXIST, "host function %s assigned twice",
				   a->pci.host);
	if (a->kind == DEVICE_PCI && a->pci.vslot >= 0 && a->pci.vslot == b->pci.vslot &&
	    !strncmp(a->pci.host, b->pci.host, 10))
		return 0;   /* functions of one device share the slot */
	if (a->kind == DEVICE_PCI && a->pci.vslot >= 0 && a->pci.vslot == b->pci.vslot)
		return err_msg(err, errlen, -EEXIST, "virtual slot %02x used twice",
				   a->pci.vslot);
	if (a->kind != DEVICE_NIC)
		return 0;
	if (a->nic.mac_set && b->nic.mac_set && !memcmp(a->nic.mac, b->nic.mac, 6)) {
		vif_format_mac(a->nic.mac, mac);
		return err_msg(err, errlen, -EEXIST, "two NICs with mac=%s", mac);
	}
	if (a->nic.vifname[0] && !strcmp(a->nic.vifname, b->nic.vifname))
		return err_msg(err, errlen, -EEXIST, "two NICs with vifname=%s", a->nic.vifname);
	if (a->nic.socket[0] && !strcmp(a->nic.socket, b->nic.socket))
		return err_msg(err, errlen, -EEXIST, "two NICs on socket=%.64s", a->nic.socket);
	return 0;
}

/* --- vm_config: an owned list of specs --- */

unsigned int vm_config_count(const struct vm_config *c, enum device_kind kind)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->nr_devices; i++)
		n += c->devices[i].kind == kind;
	return n;
}

int vm_config_add(struct vm_config *c, const struct device_spec *spec, char *err, size_t errlen)
{
	struct device_spec *grown;
	int r;

	if (spec->kind == DEVICE_DISK && vm_config_count(c, DEVICE_DISK) >= VM_MAX_DISKS)
		return err_msg(err, errlen, -ENOSPC, "at most %d disks", VM_MAX_DISKS);
	if (spec->kind == DEVICE_NIC && vm_config_count(c, DEVICE_NIC) >= VM_MAX_NICS)
		return err_msg(err, errlen, -ENOSPC, "at most %d NICs", VM_MAX_NICS);
	if (spec->kind == DEVICE_BALLOON && vm_config_count(c, DEVICE_BALLOON))
		return err_msg(err, errlen, -ENOSPC, "one balloon per VM");
	for (unsigned int i = 0; i < c->nr_devices; i++)
		if ((r = device_spec_conflict(spec, &c->devices[i], err, errlen)))
			return r;
	grown = realloc(c->devices, (c->nr_devices + 1) * sizeof(*grown));
	if (!grown)
		return err_msg(err, errlen, -ENOMEM, "out of memory");
	c->devices = grown;
	c->devices[c->nr_devices++] = *spec;
	return 0;
}

void vm_config_name_disks(struct vm_config *c)
{
	char name[VM_DISK_VDEV_MAX];
	unsigned int next = 0;

	for (unsigned int i = 0; i < c->nr_devices; i++) {
		bool used;

		if (c->devices[i].kind != DEVICE_DISK || c->devices[i].disk.vdev[0])
			continue;
		do {
			snprintf(name, sizeof(name), "xvd%c", 'a' + next++);
			used = false;
			for (unsigned int j = 0; j < c->nr_devices; j++)
				used |= c->devices[j].kind == DEVICE_DISK &&
					!strcmp(c->devices[j].disk.vdev, name);
		} while (used);
		memcpy(c->devices[i].disk.vdev, name, sizeof(name));
	}
}

void vm_config_name_devices(struct vm_config *c)
{
	for (unsigned int i = 0; i < c->nr_devices; i++) {
		const struct device_type *t = device_type_of(c->devices[i].kind);
		char id[DEVICE_ID_MAX];
		bool used;

		if (c->devices[i].id[0] || !t || !t->id_prefix)
			continue;
		for (unsigned int n = 0;; n++) {
			snprintf(id, sizeof(id), "%s%u", t->id_prefix, n);
			used = false;
			for (unsigned int j = 0; j < c->nr_devices && !used; j++)
				used = !strcmp(c->devices[j].id, id);
			if (!used)
				break;
		}
		memcpy(c->devices[i].id, id, sizeof(id));
	}
}

int vm_config_set_str(char **field, const char *s)
{
	char *copy = NULL;

	if (s && !(copy = strdup(s)))
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

void device_spec_close_fds(struct device_spec *s)
{
	if (s->kind != DEVICE_NIC)
		return;
	for (unsigned int i = 0; i < s->nic.nr_tap_fds; i++)
		if (s->nic.tap_fds[i] >= 0)
			close(s->nic.tap_fds[i]);
	s->nic.nr_tap_fds = 0;
}

void vm_config_drop(struct vm_config *c, enum device_kind kind)
{
	unsigned int j = 0;

	for (unsigned int i = 0; i < c->nr_devices; i++) {
		if (c->devices[i].kind == kind) {
			device_spec_close_fds(&c->devices[i]);
			continue;
		}
		if (i != j)
			c->devices[j] = c->devices[i];
		j++;
	}
	c->nr_devices = j;
}

void vm_config_free(struct vm_config *c)
{
	for (unsigned int i = 0; i < c->nr_devices; i++)
		device_spec_close_fds(&c->devices[i]);
	free(c->name);
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->serial_file);
	free(c->console_socket);
	free(c->devices);
	c->name = c->kernel = c->initrd = c->cmdline = c->serial_file = c->console_socket = NULL;
	c->devices = NULL;
	c->nr_devices = 0;
}

/* --- instances --- */

struct device *device_find(struct vm *vm, const char *id)
{
	for (struct device *d = vm->devices.first; d; d = d->next)
		if (!strcmp(d->id, id))
			return d;
	return NULL;
}

struct device *device_find_type(struct vm *vm, const struct device_type *type)
{
	for (struct device *d = vm->devices.first; d; d = d->next)
		if (d->type == type)
			return d;
	return NULL;
}

void *device_priv_of_type(struct vm *vm, const struct device_type *type)
{
	struct device *d = device_find_type(vm, type);

	return d ? d->priv : NULL;
}

/* PREFIX followed by the lowest number no instance uses. Bounded: with n
 * instances, one of PREFIX0..PREFIXn is free. */
static void device_auto_id(struct vm *vm, const char *prefix, char id[DEVICE_ID_MAX])
{
	for (unsigned int n = 0; n <= vm->devices.count; n++) {
		snprintf(id, DEVICE_ID_MAX, "%s%u", prefix, n);
		if (!device_find(vm, id))
			return;
	}
}

int device_add_type(struct vm *vm, const struct device_type *type,
		    const struct device_spec *spec, struct device **out)
{
	struct device *dev;
	int r;

	if (!type || !type->realize || !type->unrealize || !type->id_prefix)
		return -EINVAL;
	if (spec->id[0] && !device_id_ok(spec->id)) {
		log_error("device id '%.32s' is not a name", spec->id);
		return -EINVAL;
	}
	if (spec->id[0] && device_find(vm, spec->id)) {
		log_error("device id '%s' is already in use", spec->id);
		return -EEXIST;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->type = type;
	dev->vm = vm;
	dev->spec = *spec;
	if (spec->id[0])
		memcpy(dev->id, spec->id, sizeof(dev->id));
	else
		device_auto_id(vm, type->id_prefix, dev->id);
	r = type->realize(dev);
	if (r) {
		if (!type->realize_logs)
			log_error("device %s (%s): %s", dev->id, type->name, strerror(-r));
		free(dev);
		return r;
	}
	dev->prev = vm->devices.last;
	if (vm->devices.last)
		vm->devices.last->next = dev;
	else
		vm->devices.first = dev;
	vm->devices.last = dev;
	vm->devices.count++;
	if (out)
		*out = dev;
	return 0;
}

int device_add(struct vm *vm, const struct device_spec *spec, struct device **out)
{
	const struct device_type *type = device_type_of(spec->kind);

	if (!type) {
		log_error("no device type for kind %d", (int)spec->kind);
		return -EINVAL;
	}
	return device_add_type(vm, type, spec, out);
}

static void device_unlink_free(struct vm *vm, struct device *dev)
{
	if (dev->prev)
		dev->prev->next = dev->next;
	else
		vm->devices.first = dev->next;
	if (dev->next)
		dev->next->prev = dev->prev;
	else
		vm->devices.last = dev->prev;
	vm->devices.count--;
	/* Out of the list before unrealize: nothing finds a half-gone device. */
	dev->type->unrealize(dev);
	free(dev);
}

int device_del(struct vm *vm, const char *id)
{
	struct device *dev = device_find(vm, id);

	if (!dev)
		return -ENOENT;
	if (dev->type->platform)
		return -EPERM;
	device_unlink_free(vm, dev);
	return 0;
}

void device_del_all(struct vm *vm)
{
	while (vm->devices.last)
		device_unlink_free(vm, vm->devices.last);
}
