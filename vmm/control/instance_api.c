/* The control socket's endpoints (cloud-hypervisor's names, replies and
 * status codes), run on the main thread for an isle process (instance.h).
 *
 * Every configuration value goes through api_json.c into vm_config_set and
 * device_spec_parse, the command line's validators. A request that cannot
 * be done in the current state is refused with 405 (as cloud-hypervisor
 * does for pause/resume), one that is malformed with 400, an unknown device
 * with 404; nothing changes on a refusal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "isle/log.h"
#include "control/api_json.h"
#include "control/config.h"
#include "control/instance.h"
#include "control/instance_priv.h"
#include "core/device.h"
#include "devices/hotplug.h"
#include "pci/pci.h"
#include "virtio/balloon.h"

#ifndef ISLE_VERSION
#define ISLE_VERSION "0.1.0"
#endif

void inst_reply(struct api_req *req, unsigned int status, json_t *o)
{
	if (!o) {
		api_reply_error(req, 500, "out of memory");
		return;
	}
	api_reply_json(req, status, json_dumps(o, JSON_COMPACT));
	json_decref(o);
}

static bool inst_has_vm(const struct inst *in)
{
	return in->state == INST_RUNNING || in->state == INST_PAUSED;
}

/* A request the current state does not allow: 404 without a VM, else 405. */
static void inst_refuse(const struct inst *in, struct api_req *req, const char *why)
{
	api_reply_error(req, in->state == INST_NONE ? 404 : 405, "the VM is %s", why);
}

static void inst_bdf(const struct device *d, char *buf, size_t len)
{
	if (d && d->pci)
		snprintf(buf, len, "0000:00:%02x.%x", d->pci->slot, d->pci->devfn & 7);
	else
		snprintf(buf, len, "%s", "");
}

static json_t *inst_device_json(const struct device *d)
{
	char bdf[16];
	json_t *o;

	inst_bdf(d, bdf, sizeof(bdf));
	o = json_pack("{s:s, s:s, s:[], s:[]}", "id", d->id, "kind",
		      device_kind_name(d->type->kind) ?: "?", "resources", "children");
	if (o && bdf[0])
		json_object_set_new(o, "pci_bdf", json_string(bdf));
	if (o && d->type->kind == DEVICE_DISK)
		json_object_set_new(o, "spec", json_string(d->spec.disk.spec));
	if (o && d->vm->hotplug && hotplug_eject_pending(d->vm, d))
		json_object_set_new(o, "eject_pending", json_true());
	return o;
}

/* A config spec as vm.info's config shows it. */
static json_t *inst_spec_json(const struct device_spec *s)
{
	char mac[VIF_MAC_STRLEN];

	switch (s->kind) {
	case DEVICE_DISK:
		return json_pack("{s:s, s:s, s:b}", "id", s->id, "path", s->disk.spec,
				 "vhost_user", s->disk.socket);
	case DEVICE_NIC:
		vif_format_mac(s->nic.mac, mac);
		return json_pack("{s:s, s:s, s:s, s:i}", "id", s->id, "mac",
				 s->nic.mac_set ? mac : "", "tap", s->nic.vifname, "num_queues",
				 (int)s->nic.queues * 2);
	case DEVICE_PCI:
		return json_pack("{s:s, s:s}", "id", s->id[0] ? s->id : s->pci.name, "path",
				 s->pci.host);
	default:
		return json_pack("{s:s, s:s}", "id", s->id, "kind", device_kind_name(s->kind) ?: "?");
	}
}

static json_t *inst_info(struct inst *in)
{
	const struct vm_config *c = &in->cfg;
	json_t *disks = json_array(), *net = json_array(), *devs = json_array();
	json_t *tree = json_object(), *o, *b;
	json_int_t uptime_ms = 0;

	if (in->vm_live) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		uptime_ms = (now.tv_sec - in->booted.tv_sec) * 1000 +
			    (now.tv_nsec - in->booted.tv_nsec) / 1000000;
	}
	for (unsigned int i = 0; i < c->nr_devices; i++) {
		json_t *a = c->devices[i].kind == DEVICE_DISK ? disks :
			    c->devices[i].kind == DEVICE_NIC ? net :
			    c->devices[i].kind == DEVICE_PCI ? devs : NULL;

		if (a)
			json_array_append_new(a, inst_spec_json(&c->devices[i]));
	}
	if (in->vm_live)
		for (struct device *d = in->vm.devices.first; d; d = d->next)
			json_object_set_new(tree, d->id, inst_device_json(d));
	o = json_pack("{s:{s:{s:s?, s:s?, s:s?}, s:{s:i, s:i}, s:{s:I}, s:o, s:o, s:o, s:b},"
		      " s:s, s:I, s:o, s:{s:s?, s:i, s:s, s:s, s:s, s:I, s:i}}",
		      "config",
		      "payload", "kernel", c->kernel, "initramfs", c->initrd, "cmdline", c->cmdline,
		      "cpus", "boot_vcpus", (int)c->vcpus, "max_vcpus", (int)c->vcpus,
		      "memory", "size", (json_int_t)vm_config_ram(c),
		      "disks", disks, "net", net, "devices", devs, "iommu", c->iommu.enabled,
		      "state", inst_state_name(in->state),
		      "memory_actual_size", (json_int_t)inst_memory_actual(in),
		      "device_tree", tree,
		      "isle", "name", c->name, "pid", (int)getpid(),
		      "on_poweroff", config_action_name(c->on_poweroff),
		      "on_reboot", config_action_name(c->on_reboot),
		      "on_crash", config_action_name(c->on_crash),
		      "uptime_ms", uptime_ms,
		      "boots", (int)in->boots);
	if (o && in->api_on)
		json_object_set_new(json_object_get(o, "isle"), "api_socket",
				    json_string(in->api.path));
	if (o && (b = inst_balloon_json(in)))
		json_object_set_new(json_object_get(o, "isle"), "balloon", b);
	return o;
}

static void inst_counters(struct inst *in, struct api_req *req)
{
	json_t *o = json_object();

	json_object_set_new(o, "vmm", json_pack("{s:I, s:i}", "api_requests",
						(json_int_t)__atomic_load_n(&in->api.served,
									    __ATOMIC_RELAXED),
						"boots", (int)in->boots));
	if (in->vm_live)
		for (struct device *d = in->vm.devices.first; d; d = d->next)
			if (d->pci)
				json_object_set_new(o, d->id, json_pack("{s:i}", "pci_slot",
									(int)d->pci->slot));
	inst_reply(req, 200, o);
}

/* vm.add-disk / add-net / add-device: a spec through the one validator,
 * into the config (before boot) or into the running VM (hotplug). */
static void inst_add(struct inst *in, struct api_req *req, enum device_kind kind)
{
	struct device_spec *spec = calloc(1, sizeof(*spec));
	char text[API_JSON_SPEC_MAX], err[256] = "", msg[300], bdf[16] = "";
	unsigned int nfds = 0;
	struct device *dev = NULL;
	bool iommu = false;
	json_t *obj = NULL;
	int r;

	if (!spec) {
		api_reply_error(req, 500, "out of memory");
		return;
	}
	if (in->state == INST_NONE || in->state == INST_SHUTDOWN) {
		inst_refuse(in, req, in->state == INST_NONE ? "not created" : "shut down");
		goto out;
	}
	if ((r = api_json_parse_object(req->body, req->len, &obj, err, sizeof(err))))
		goto bad;
	r = kind == DEVICE_DISK ? api_json_disk(obj, text, sizeof(text), err, sizeof(err)) :
	    kind == DEVICE_NIC ? api_json_net(obj, text, sizeof(text), &nfds, err, sizeof(err)) :
	    api_json_device(obj, text, sizeof(text), &iommu, err, sizeof(err));
	if (r)
		goto bad;
	if ((r = device_spec_parse(kind, text, spec, err, sizeof(err))))
		goto bad;
	iommu |= api_json_wants_iommu(obj);
	if (iommu && !in->cfg.iommu.enabled) {
		r = err_msg(err, sizeof(err), -EINVAL, "iommu: the VM has no IOMMU (create it "
			    "with iommu)");
		goto bad;
	}
	/* Kata sends the tap fds without a "fds" array (cloud-hypervisor
	 * takes what arrives); a body that has one must match. */
	if (kind == DEVICE_NIC && nfds && nfds != req->nr_fds) {
		r = err_msg(err, sizeof(err), -EINVAL, "net: %u tap fd(s) announced, %u received",
			    nfds, req->nr_fds);
		goto bad;
	}
	if (kind == DEVICE_NIC && req->nr_fds) {
		if (req->nr_fds > VIF_MAX_QUEUES) {
			r = err_msg(err, sizeof(err), -EINVAL, "net: at most %d tap fds",
				    VIF_MAX_QUEUES);
			goto bad;
		}
		if (spec->nic.queues > 1 && spec->nic.queues != req->nr_fds) {
			r = err_msg(err, sizeof(err), -EINVAL, "net: %u queue pair(s) but %u tap "
				    "fd(s)", spec->nic.queues, req->nr_fds);
			goto bad;
		}
		/* The config owns copies for the VM's life (a restart needs
		 * them again); the request closes its own. */
		for (unsigned int i = 0; i < req->nr_fds; i++) {
			spec->nic.tap_fds[i] = fcntl(req->fds[i], F_DUPFD_CLOEXEC, 3);
			if (spec->nic.tap_fds[i] < 0) {
				r = -errno;
				spec->nic.nr_tap_fds = i;
				device_spec_close_fds(spec);
				err_msg(err, sizeof(err), r, "net: tap fd %u: %s", i, strerror(-r));
				goto bad;
			}
		}
		spec->nic.nr_tap_fds = req->nr_fds;
		spec->nic.queues = req->nr_fds;
	}
	/* The balloon's policy, with its reason (realize would only log it). */
	if (kind == DEVICE_PCI && inst_has_vm(in) &&
	    (r = balloon_vfio_check(&in->vm, err, sizeof(err)))) {
		api_reply_error(req, 409, "%s", err);
		goto out;
	}
	/* The config keeps what it has, hot-added devices included, so a
	 * restart brings them back; the fds stay with the running device. */
	if ((r = vm_config_add(&in->cfg, spec, msg, sizeof(msg)))) {
		device_spec_close_fds(spec);
		api_reply_error(req, 400, "%s", msg);
		goto out;
	}
	if (kind == DEVICE_DISK)
		vm_config_name_disks(&in->cfg);
	vm_config_name_devices(&in->cfg);
	if (inst_has_vm(in)) {
		/* The config's copy (named, fds and all): realize dups the fds. */
		struct device_spec *kept = &in->cfg.devices[in->cfg.nr_devices - 1];

		r = device_add(&in->vm, kept, &dev);
		if (r) {
			device_spec_close_fds(kept);
			in->cfg.nr_devices--;
			api_reply_error(req, 500, "the device could not be added: %s", strerror(-r));
			goto out;
		}
		hotplug_plugged(&in->vm, dev);
		inst_bdf(dev, bdf, sizeof(bdf));
		log_info("%s hot-added at %s", dev->id, bdf);
	}
	inst_reply(req, 200, json_pack("{s:s, s:s}", "id",
				       dev ? dev->id : in->cfg.devices[in->cfg.nr_devices - 1].id,
				       "bdf", bdf));
	goto out;
bad:
	api_reply_error(req, 400, "%s", err[0] ? err : strerror(-r));
out:
	json_decref(obj);
	free(spec);
}

/* What the command line gave (cloud-hypervisor's config has no such keys)
 * moves from old into c: the name, the test device, where the serial port
 * and its console socket go unless c says. */
static void inst_keep_cmdline(struct vm_config *c, struct vm_config *old)
{
	free(c->name);
	c->name = old->name;
	old->name = NULL;
	c->testdev |= old->testdev;
	if (!c->serial_file) {
		c->serial_file = old->serial_file;
		old->serial_file = NULL;
	}
	if (!c->console_socket) {
		c->console_socket = old->console_socket;
		old->console_socket = NULL;
	}
}

void inst_config_reset(struct vm_config *c)
{
	struct vm_config fresh;

	vm_config_init(&fresh);
	inst_keep_cmdline(&fresh, c);
	vm_config_free(c);   /* and the tap fds it held */
	*c = fresh;
}

void inst_device_gone(void *opaque, const char *id)
{
	inst_config_forget(&((struct inst *)opaque)->cfg, id);
}

void inst_config_forget(struct vm_config *c, const char *id)
{
	for (unsigned int i = 0; i < c->nr_devices; i++)
		if (!strcmp(c->devices[i].id, id)) {
			device_spec_close_fds(&c->devices[i]);
			memmove(&c->devices[i], &c->devices[i + 1],
				(c->nr_devices - i - 1) * sizeof(c->devices[0]));
			c->nr_devices--;
			return;
		}
}

static void inst_remove(struct inst *in, struct api_req *req)
{
	char id[DEVICE_ID_MAX], err[256];
	struct device *d;
	json_t *body;
	bool force;
	int r;

	if ((r = api_json_remove_device(req->body, req->len, id, sizeof(id), err,
					sizeof(err)))) {
		api_reply_error(req, 400, "%s", err);
		return;
	}
	/* isle's own addition to VmRemoveDevice, checked above: "force": true
	 * removes the device without waiting for the guest (xl's -f). */
	force = !api_json_parse_object(req->body, req->len, &body, NULL, 0) &&
		json_is_true(json_object_get(body, "force"));
	json_decref(body);
	if (!inst_has_vm(in)) {
		if (in->state == INST_CREATED) {
			unsigned int n = in->cfg.nr_devices;

			inst_config_forget(&in->cfg, id);
			if (n == in->cfg.nr_devices)
				api_reply_error(req, 404, "no device '%s'", id);
			else
				api_reply_json(req, 204, NULL);
			return;
		}
		api_reply_error(req, 404, "the VM is not running");
		return;
	}
	if (!(d = device_find(&in->vm, id))) {
		api_reply_error(req, 404, "no device '%s'", id);
		return;
	}
	if (d->type->platform || !d->pci) {
		api_reply_error(req, 400, "'%s' is part of the platform and cannot be removed", id);
		return;
	}
	if (force) {
		log_info("%s removed by force", id);
		device_del(&in->vm, id);
		inst_config_forget(&in->cfg, id);
		api_reply_json(req, 204, NULL);
		return;
	}
	r = hotplug_request_eject(&in->vm, d);
	if (r && r != -EALREADY) {
		api_reply_error(req, 400, "'%s' cannot be ejected: %s", id, strerror(-r));
		return;
	}
	/* cloud-hypervisor's semantics: asked; the device leaves when the
	 * guest ejects it (vm.info shows eject_pending until then), and
	 * inst_device_gone takes it out of the config then. */
	api_reply_json(req, 204, NULL);
}

static void inst_create(struct inst *in, struct api_req *req)
{
	struct vm_config c;
	char err[256];

	if (in->state != INST_NONE) {
		api_reply_error(req, 405, "a VM is already created");
		return;
	}
	vm_config_init(&c);
	if (api_json_vm_config(req->body, req->len, &c, err, sizeof(err)) ||
	    vm_config_finish(&c, err, sizeof(err))) {
		vm_config_free(&c);
		api_reply_error(req, 400, "%s", err);
		return;
	}
	inst_keep_cmdline(&c, &in->cfg);
	vm_config_free(&in->cfg);
	in->cfg = c;
	in->state = INST_CREATED;
	api_reply_json(req, 204, NULL);
}

static void inst_resize(struct inst *in, struct api_req *req)
{
	int64_t vcpus, ram, balloon;
	char err[256];

	if (api_json_resize(req->body, req->len, &vcpus, &ram, &balloon, err, sizeof(err))) {
		api_reply_error(req, 400, "%s", err);
		return;
	}
	if (!inst_has_vm(in)) {
		api_reply_error(req, 404, "the VM is not running");
		return;
	}
	if (vcpus >= 0 && (uint64_t)vcpus != in->cfg.vcpus) {
		api_reply_error(req, 400, "isle cannot hot-plug vCPUs");
		return;
	}
	if (ram >= 0 && (uint64_t)ram != vm_config_ram(&in->cfg)) {
		api_reply_error(req, 400, "isle cannot hot-plug memory (use the balloon)");
		return;
	}
	if (balloon >= 0) {
		inst_balloon_resize(in, req, balloon);
		return;
	}
	api_reply_json(req, 204, NULL);
}

/* Stops the running VM (vm_stop wakes paused vCPUs to see it). */
static void inst_stop_vm(struct inst *in, enum vm_stop_why why, const char *what)
{
	vm_stop_why(&in->vm, why, ISLE_EXIT_OK, "%s", what);
}

/* vm.shutdown / vm.delete of a running VM: answered once the VM is gone
 * (instance.c), so what follows sees no VM. */
static void inst_stop_to_created(struct inst *in, struct api_req *req)
{
	if (in->to_created) {
		api_reply_error(req, 405, "the VM is stopping");
		return;
	}
	in->to_created = req;
	req->deferred = true;
	inst_stop_vm(in, VM_STOP_REQUEST, req->endpoint);
}

/* A VM kept by on_*=preserve goes (vm.shutdown, vm.delete). */
static void inst_unpreserve(struct inst *in)
{
	inst_destroy_vm(in);
	in->preserved = false;
}

void inst_api(void *opaque, struct api_req *req)
{
	struct inst *in = opaque;

	switch (req->op) {
	case API_VMM_PING:
		inst_reply(req, 200, json_pack("{s:s, s:s, s:i, s:[]}", "build_version",
					       "isle-" ISLE_VERSION, "version", ISLE_VERSION,
					       "pid", (int)getpid(), "features"));
		return;
	case API_VMM_SHUTDOWN:
		in->quit = true;
		if (inst_has_vm(in))
			inst_stop_vm(in, VM_STOP_REQUEST, "vmm.shutdown");
		evloop_stop(&in->idle);
		api_reply_json(req, 204, NULL);
		return;
	case API_VM_CREATE:
		inst_create(in, req);
		return;
	case API_VM_BOOT:
		if (in->state != INST_CREATED) {
			inst_refuse(in, req, in->state == INST_NONE ? "not created" : "already booted");
			return;
		}
		if (inst_boot(in)) {
			api_reply_error(req, 500, "the VM could not boot (see isle's log)");
			return;
		}
		evloop_stop(&in->idle);
		api_reply_json(req, 204, NULL);
		return;
	case API_VM_DELETE:
		if (inst_has_vm(in)) {
			inst_stop_to_created(in, req);
			return;
		}
		if (in->preserved)
			inst_unpreserve(in);
		inst_config_reset(&in->cfg);
		in->state = INST_NONE;
		api_reply_json(req, 204, NULL);
		return;
	case API_VM_INFO:
		if (in->state == INST_NONE) {
			api_reply_error(req, 404, "no VM is created");
			return;
		}
		inst_reply(req, 200, inst_info(in));
		return;
	case API_VM_COUNTERS:
		inst_counters(in, req);
		return;
	case API_VM_PAUSE:
		if (in->state != INST_RUNNING) {
			inst_refuse(in, req, inst_state_name(in->state));
			return;
		}
		if (vm_pause(&in->vm)) {
			vm_resume(&in->vm);
			api_reply_error(req, 500, "a vCPU did not stop within 5 s");
			return;
		}
		in->state = INST_PAUSED;
		api_reply_json(req, 204, NULL);
		return;
	case API_VM_RESUME:
		if (in->state != INST_PAUSED) {
			inst_refuse(in, req, inst_state_name(in->state));
			return;
		}
		vm_resume(&in->vm);
		in->state = INST_RUNNING;
		api_reply_json(req, 204, NULL);
		return;
	case API_VM_SHUTDOWN:
		if (in->preserved) {
			inst_unpreserve(in);
			in->state = INST_CREATED;
			api_reply_json(req, 204, NULL);
		} else if (inst_has_vm(in)) {
			inst_stop_to_created(in, req);
		} else {
			api_reply_error(req, 405, "the VM is not running");
		}
		return;
	case API_VM_REBOOT:
		if (!inst_has_vm(in)) {
			api_reply_error(req, 405, "the VM is not running");
			return;
		}
		in->force_restart = true;
		inst_stop_vm(in, VM_STOP_RESET, "vm.reboot");
		api_reply_json(req, 204, NULL);
		return;
	case API_VM_POWER_BUTTON:
		if (in->state != INST_RUNNING) {
			api_reply_error(req, 405, "the VM is not running");
			return;
		}
		hotplug_power_button(&in->vm);
		api_reply_json(req, 204, NULL);
		return;
	case API_VM_RESIZE:
		inst_resize(in, req);
		return;
	case API_VM_ADD_DISK:
		inst_add(in, req, DEVICE_DISK);
		return;
	case API_VM_ADD_NET:
		inst_add(in, req, DEVICE_NIC);
		return;
	case API_VM_ADD_DEVICE:
		inst_add(in, req, DEVICE_PCI);
		return;
	case API_VM_REMOVE_DEVICE:
		inst_remove(in, req);
		return;
	case API_VM_BALLOON:
	case API_VM_BALLOON_SET:
	case API_VM_BALLOON_STATS:
	case API_VM_BALLOON_STATS_SET:
		inst_balloon_api(in, req);
		return;
	default:
		api_reply_error(req, 404, "%s is not implemented", req->endpoint);
	}
}
