/* libFuzzer target for vmm/control/api_json.c and api_json_vm.c: the
 * control socket's JSON bodies. The first input byte picks the decoder
 * (mod 6: vm.create, vm.add-disk, vm.add-net, vm.add-device,
 * vm.remove-device, vm.resize), the rest is the body. Besides crashes and
 * sanitizer reports it checks what callers rely on: a failure is a known
 * -errno with a non-empty one-line message; a success gives specs that are
 * NUL-terminated and accepted by device_spec_parse of their kind, disk
 * specs that isle-tapdisk's own parser (blkback/diskspec.c) reads back to
 * the body's path and access, and outputs in their documented ranges. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/api_json.h"
#include "control/config.h"
#include "core/device.h"
#include "diskspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int r, const char *err)
{
	if (r != -EINVAL && r != -ENOTSUP && r != -ENOSPC && r != -EEXIST && r != -ENOMEM)
		abort();
	if (!err[0] || strchr(err, '\n') || strchr(err, '\r'))
		abort();
}

/* A disk spec isle-tapdisk will be given reads back to what the body said. */
static void check_disk(const struct vm_disk *d, const char *path, const char *sock, bool ro)
{
	static struct disk_spec ds;
	char err[256];

	if (d->socket) {
		if (!sock || strcmp(d->spec, sock))
			abort();
		return;
	}
	if (diskspec_parse(d->spec, &ds, err, sizeof(err)))
		abort();
	if ((path && strcmp(ds.path, path)) || ds.readonly != ro)
		abort();
}

static void check_spec(enum device_kind kind, const char *spec, size_t speclen,
		       const json_t *o)
{
	static struct device_spec ds;
	char err[256];

	if (!memchr(spec, '\0', speclen) || device_spec_parse(kind, spec, &ds, err, sizeof(err)))
		abort();
	if (json_string_value(json_object_get(o, "id")) &&
	    strcmp(ds.id, json_string_value(json_object_get(o, "id"))))
		abort();
	if (kind == DEVICE_DISK)
		check_disk(&ds.disk, json_string_value(json_object_get(o, "path")),
			   json_string_value(json_object_get(o, "vhost_socket")),
			   json_is_true(json_object_get(o, "readonly")));
	if (kind == DEVICE_NIC && json_is_integer(json_object_get(o, "num_queues")) &&
	    (json_int_t)ds.nic.queues * 2 != json_integer_value(json_object_get(o, "num_queues")))
		abort();
}

static void fuzz_vm_config(const char *body, size_t len)
{
	struct vm_config c;
	char err[256] = "";
	int r;

	vm_config_init(&c);
	r = api_json_vm_config(body, len, &c, err, sizeof(err));
	if (r) {
		check_err(r, err);
	} else {
		if (!c.kernel || c.vcpus < 1 || c.vcpus > CONFIG_MAX_VCPUS ||
		    c.memory > CONFIG_MAX_MEMORY || c.memory % 4096)
			abort();
		for (unsigned int i = 0; i < c.nr_devices; i++)
			if (c.devices[i].kind == DEVICE_DISK && !c.devices[i].disk.socket)
				check_disk(&c.devices[i].disk, NULL, NULL,
					   strstr(c.devices[i].disk.spec, "access=ro") ==
					   c.devices[i].disk.spec);
	}
	vm_config_free(&c);
}

static void fuzz_hot_add(unsigned int which, const char *body, size_t len)
{
	static char spec[API_JSON_SPEC_MAX];
	static const enum device_kind kinds[] = { DEVICE_DISK, DEVICE_NIC, DEVICE_PCI };
	char err[256] = "";
	unsigned int nfds = 12345;
	bool iommu = false;
	json_t *o;
	int r = api_json_parse_object(body, len, &o, err, sizeof(err));

	if (r) {
		check_err(r, err);
		if (o)
			abort();
		return;
	}
	memset(spec, 0x55, sizeof(spec));
	r = which == 0 ? api_json_disk(o, spec, sizeof(spec), err, sizeof(err)) :
	    which == 1 ? api_json_net(o, spec, sizeof(spec), &nfds, err, sizeof(err)) :
	    api_json_device(o, spec, sizeof(spec), &iommu, err, sizeof(err));
	if (r) {
		check_err(r, err);
	} else {
		check_spec(kinds[which], spec, sizeof(spec), o);
		if (which == 1 && nfds != json_array_size(json_object_get(o, "fds")))
			abort();
		if (which == 2 && iommu != api_json_wants_iommu(o))
			abort();
	}
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + 1;
	char err[256] = "", id[DEVICE_ID_MAX];
	int64_t v, ram, bal;
	int r;

	if (size < 1)
		return 0;
	size--;
	switch (data[0] % 6) {
	case 0:
		fuzz_vm_config(body, size);
		break;
	case 1: case 2: case 3:
		fuzz_hot_add(data[0] % 6 - 1u, body, size);
		break;
	case 4:
		r = api_json_remove_device(body, size, id, sizeof(id), err, sizeof(err));
		if (r)
			check_err(r, err);
		else if (!memchr(id, '\0', sizeof(id)) || !device_id_ok(id))
			abort();
		break;
	case 5:
		r = api_json_resize(body, size, &v, &ram, &bal, err, sizeof(err));
		if (r)
			check_err(r, err);
		else if (v == 0 || v < -1 || ram < -1 || bal < -1)
			abort();
		break;
	}
	return 0;
}
