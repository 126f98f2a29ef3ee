/* Unit tests for vmm/control/instance_api.c, the control socket's endpoints
 * as the main thread runs them: a struct inst made by hand (no VM: this
 * machine may have no /dev/kvm) and hand-made struct api_req values given
 * to inst_api(), the replies parsed with jansson.
 *
 * Checked: vmm.ping; every endpoint's refusal in every state that has no
 * VM (NotCreated, Created, a preserved Shutdown without a live VM) with its
 * exact status; vm.create (malformed bodies change nothing; what the
 * command line gave -- the name, --testdev, the serial file -- survives
 * into the new config; twice is 405); vm.info's shape in Created; the
 * hot-plug endpoints before boot write the config (disks named xvdX,
 * conflicts and limits 400, tap fds taken into the config only when as
 * many arrived as were announced, an assigned device not opened, iommu
 * refused without an IOMMU); vm.remove-device before boot; vm.boot fails
 * cleanly with 500 and leaves Created (no /dev/kvm, or no kernel "/k");
 * vm.delete keeps only the name; vmm.shutdown; an unknown op;
 * inst_state_name; inst_config_forget / inst_device_gone. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cunit.h"
#include "control/api.h"
#include "control/config.h"
#include "control/instance.h"
#include "core/device.h"

static struct inst in;   /* big (struct vm) */

/* A zeroed instance with the command line's base config and its idle loop. */
static void setup(void)
{
	memset(&in, 0, sizeof(in));
	vm_config_init(&in.cfg);
	in.state = INST_NONE;
	in.lock_fd = in.sfd = -1;
	CU_ASSERT_EQUAL_FATAL(evloop_init(&in.idle), 0);
}

static void teardown(void)
{
	inst_destroy_vm(&in);
	evloop_fini(&in.idle);
	vm_config_free(&in.cfg);
}

/* One request with nr_fds of fds: its status; *out gets the parsed reply
 * (NULL for none) when out is not NULL. fds[] is updated (-1 for taken). */
static unsigned int call_fds(enum api_op op, const char *endpoint, const char *body,
			     int *fds, unsigned int nr_fds, json_t **out)
{
	struct api_req req = { .op = op, .endpoint = endpoint };
	json_error_t je;
	unsigned int st;

	req.body = strdup(body ? body : "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(req.body);
	req.len = strlen(req.body);
	for (unsigned int i = 0; i < API_MAX_FDS; i++)
		req.fds[i] = i < nr_fds ? fds[i] : -1;
	req.nr_fds = nr_fds;
	inst_api(&in, &req);
	for (unsigned int i = 0; i < nr_fds; i++)
		fds[i] = req.fds[i];
	for (unsigned int i = nr_fds; i < API_MAX_FDS; i++)
		CU_ASSERT_EQUAL(req.fds[i], -1);
	st = req.status;
	if (out) {
		*out = req.reply ? json_loads(req.reply, 0, &je) : NULL;
		if (req.reply)
			CU_ASSERT_PTR_NOT_NULL(*out);
	}
	free(req.reply);
	free(req.body);
	return st;
}

static unsigned int call(enum api_op op, const char *endpoint, const char *body, json_t **out)
{
	return call_fds(op, endpoint, body, NULL, 0, out);
}

/* The status, and that the reply is {"error": msg} with want in msg. */
static unsigned int call_err(enum api_op op, const char *endpoint, const char *body,
			     const char *want)
{
	json_t *o = NULL;
	unsigned int st = call(op, endpoint, body, &o);
	const char *msg = json_string_value(json_object_get(o, "error"));

	CU_ASSERT_PTR_NOT_NULL(msg);
	CU_ASSERT_EQUAL(json_object_size(o), 1);
	if (msg && want && !strstr(msg, want)) {
		fprintf(stderr, "\n%s: error '%s' lacks '%s'\n", endpoint, msg, want);
		CU_FAIL("error message");
	}
	json_decref(o);
	return st;
}

/* The status, and that there is no reply body. */
static unsigned int call_none(enum api_op op, const char *endpoint, const char *body)
{
	json_t *o = NULL;
	unsigned int st = call(op, endpoint, body, &o);

	CU_ASSERT_PTR_NULL(o);
	json_decref(o);
	return st;
}

static const char *jstr(json_t *o, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	CU_ASSERT_TRUE(json_is_integer(v));
	return json_integer_value(v);
}

#define CREATE_BODY "{\"payload\": {\"kernel\": \"/k\"}, \"memory\": {\"size\": 268435456}}"

/* The base as `isle run --api-socket P --name base --testdev` leaves it,
 * then vm.create. */
static void setup_created(void)
{
	setup();
	in.cfg.name = strdup("base");
	in.cfg.testdev = true;
	CU_ASSERT_EQUAL_FATAL(call_none(API_VM_CREATE, "vm.create", CREATE_BODY), 204);
	CU_ASSERT_EQUAL_FATAL(in.state, INST_CREATED);
}

static struct device_spec *cfg_find(const char *id)
{
	for (unsigned int i = 0; i < in.cfg.nr_devices; i++)
		if (!strcmp(in.cfg.devices[i].id, id))
			return &in.cfg.devices[i];
	return NULL;
}

/* --- states, config bookkeeping --- */

static void test_state_names(void)
{
	CU_ASSERT_STRING_EQUAL(inst_state_name(INST_NONE), "NotCreated");
	CU_ASSERT_STRING_EQUAL(inst_state_name(INST_CREATED), "Created");
	CU_ASSERT_STRING_EQUAL(inst_state_name(INST_RUNNING), "Running");
	CU_ASSERT_STRING_EQUAL(inst_state_name(INST_PAUSED), "Paused");
	CU_ASSERT_STRING_EQUAL(inst_state_name(INST_SHUTDOWN), "Shutdown");
	CU_ASSERT_STRING_EQUAL(inst_state_name((enum inst_state)99), "NotCreated");
}

static void add_spec(struct vm_config *c, enum device_kind kind, const char *text)
{
	struct device_spec s;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(device_spec_parse(kind, text, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(vm_config_add(c, &s, err, sizeof(err)), 0);
}

static void expect_ids(const struct vm_config *c, const char *const *ids, unsigned int n)
{
	CU_ASSERT_EQUAL_FATAL(c->nr_devices, n);
	for (unsigned int i = 0; i < n; i++)
		CU_ASSERT_STRING_EQUAL(c->devices[i].id, ids[i]);
}

static void test_config_forget(void)
{
	static const char *const all[] = { "a", "b", "c", "d" };
	static const char *const no_b[] = { "a", "c", "d" };
	static const char *const no_bd[] = { "a", "c" };
	static const char *const only_c[] = { "c" };
	struct vm_config c;

	vm_config_init(&c);
	add_spec(&c, DEVICE_DISK, "access=rw,id=a,target=/a");
	add_spec(&c, DEVICE_NIC, "mac=00:16:3e:00:00:01,id=b");
	add_spec(&c, DEVICE_DISK, "access=ro,id=c,target=/c");
	add_spec(&c, DEVICE_PCI, "0000:00:04.0,name=d");
	expect_ids(&c, all, 4);
	inst_config_forget(&c, "nope");
	expect_ids(&c, all, 4);
	inst_config_forget(&c, "b");   /* the middle */
	expect_ids(&c, no_b, 3);
	/* The others are moved whole, not just their ids. */
	CU_ASSERT_EQUAL(c.devices[1].kind, DEVICE_DISK);
	CU_ASSERT_PTR_NOT_NULL(strstr(c.devices[1].disk.spec, "/c"));
	CU_ASSERT_EQUAL(c.devices[2].kind, DEVICE_PCI);
	CU_ASSERT_STRING_EQUAL(c.devices[2].pci.host, "0000:00:04.0");
	inst_config_forget(&c, "d");   /* the last */
	expect_ids(&c, no_bd, 2);
	inst_config_forget(&c, "d");
	expect_ids(&c, no_bd, 2);
	inst_config_forget(&c, "a");   /* the first */
	expect_ids(&c, only_c, 1);
	CU_ASSERT_EQUAL(c.devices[0].kind, DEVICE_DISK);
	inst_config_forget(&c, "c");
	CU_ASSERT_EQUAL(c.nr_devices, 0);
	inst_config_forget(&c, "c");   /* empty: nothing happens */
	CU_ASSERT_EQUAL(c.nr_devices, 0);
	vm_config_free(&c);

	/* hotplug's removal callback forgets in the instance's config. */
	setup();
	add_spec(&in.cfg, DEVICE_DISK, "access=rw,id=x,target=/x");
	add_spec(&in.cfg, DEVICE_DISK, "access=rw,id=y,target=/y");
	inst_device_gone(&in, "x");
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	CU_ASSERT_STRING_EQUAL(in.cfg.devices[0].id, "y");
	teardown();
}

/* --- endpoints --- */

static void test_ping(void)
{
	json_t *o = NULL;
	const char *v, *bv;

	setup();
	CU_ASSERT_EQUAL(call(API_VMM_PING, "vmm.ping", "", &o), 200);
	v = jstr(o, "version", NULL, NULL);
	bv = jstr(o, "build_version", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT_PTR_NOT_NULL(bv);
	if (v && bv) {
		CU_ASSERT_TRUE(v[0] != '\0');
		CU_ASSERT_EQUAL(strncmp(bv, "isle-", 5), 0);
		CU_ASSERT_STRING_EQUAL(bv + 5, v);
	}
	CU_ASSERT_EQUAL(jint(o, "pid", NULL, NULL), getpid());
	CU_ASSERT_TRUE(json_is_array(json_object_get(o, "features")));
	json_decref(o);
	CU_ASSERT_EQUAL(in.state, INST_NONE);
	CU_ASSERT_FALSE(in.quit);
	teardown();
}

static void test_not_created(void)
{
	json_t *o = NULL;

	setup();
	CU_ASSERT_EQUAL(call_err(API_VM_INFO, "vm.info", "", "no VM"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_BOOT, "vm.boot", "", "not created"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_PAUSE, "vm.pause", "", "NotCreated"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_RESUME, "vm.resume", "", "NotCreated"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_SHUTDOWN, "vm.shutdown", "", "not running"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_REBOOT, "vm.reboot", "", "not running"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_POWER_BUTTON, "vm.power-button", "", "not running"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_RESIZE, "vm.resize", "{\"desired_vcpus\": 1}",
				 "not running"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": \"/img\"}",
				 "not created"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_NET, "vm.add-net", "{}", "not created"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DEVICE, "vm.add-device",
				 "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0\"}",
				 "not created"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": \"d1\"}",
				 "not running"), 404);
	/* A body that cannot be read is 400 whatever the state. */
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device", "{", NULL), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_RESIZE, "vm.resize", "{\"desired_vcpus\": 0}", NULL), 400);
	/* vm.counters has no state to refuse. */
	CU_ASSERT_EQUAL(call(API_VM_COUNTERS, "vm.counters", "", &o), 200);
	CU_ASSERT_EQUAL(jint(o, "vmm", "api_requests", NULL), 0);
	CU_ASSERT_EQUAL(jint(o, "vmm", "boots", NULL), 0);
	CU_ASSERT_EQUAL(json_object_size(o), 1);
	json_decref(o);
	/* Deleting nothing is fine. */
	CU_ASSERT_EQUAL(call_none(API_VM_DELETE, "vm.delete", ""), 204);
	CU_ASSERT_EQUAL(in.state, INST_NONE);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 0);
	CU_ASSERT_PTR_NULL(in.cfg.kernel);
	CU_ASSERT_FALSE(in.quit);
	teardown();
}

static void test_create(void)
{
	static const char *const bad[] = {
		"",                                               /* no body */
		"{",                                              /* malformed */
		"[]",                                             /* not an object */
		"{\"payload\": {}}",                              /* no kernel */
		"{\"payload\": {\"kernel\": \"/k\"}, \"nope\": 1}", /* unknown field */
		"{\"payload\": {\"kernel\": \"/k\"}, \"memory\": {\"size\": \"1G\"}}",
		"{\"payload\": {\"kernel\": \"/k\"}, \"cpus\": {\"boot_vcpus\": 0}}",
		/* the same id twice */
		"{\"payload\": {\"kernel\": \"/k\"}, \"disks\": [{\"path\": \"/a\", \"id\": \"x\"}, {\"path\": \"/b\", \"id\": \"x\"}]}",
	};

	setup();
	in.cfg.name = strdup("base");
	in.cfg.testdev = true;
	in.cfg.serial_file = strdup("/tmp/serial.log");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned int st = call_err(API_VM_CREATE, "vm.create", bad[i], NULL);

		if (st != 400)
			fprintf(stderr, "\nvm.create '%s': %u\n", bad[i], st);
		CU_ASSERT_EQUAL(st, 400);
		CU_ASSERT_EQUAL(in.state, INST_NONE);
		/* The base is untouched. */
		CU_ASSERT_STRING_EQUAL(in.cfg.name, "base");
		CU_ASSERT_TRUE(in.cfg.testdev);
		CU_ASSERT_STRING_EQUAL(in.cfg.serial_file, "/tmp/serial.log");
		CU_ASSERT_PTR_NULL(in.cfg.kernel);
		CU_ASSERT_EQUAL(in.cfg.nr_devices, 0);
	}
	CU_ASSERT_EQUAL(call_none(API_VM_CREATE, "vm.create",
				  "{\"payload\": {\"kernel\": \"/k\", \"cmdline\": \"console=ttyS0\"},"
				  " \"memory\": {\"size\": 268435456}, \"cpus\": {\"boot_vcpus\": 2,"
				  " \"max_vcpus\": 2}, \"disks\": [{\"path\": \"/img\"}]}"), 204);
	CU_ASSERT_EQUAL(in.state, INST_CREATED);
	CU_ASSERT_STRING_EQUAL(in.cfg.kernel, "/k");
	CU_ASSERT_STRING_EQUAL(in.cfg.cmdline, "console=ttyS0");
	CU_ASSERT_EQUAL(in.cfg.memory, 268435456ULL);
	CU_ASSERT_EQUAL(in.cfg.vcpus, 2);
	/* The command line's part survives. */
	CU_ASSERT_STRING_EQUAL(in.cfg.name, "base");
	CU_ASSERT_TRUE(in.cfg.testdev);
	CU_ASSERT_STRING_EQUAL(in.cfg.serial_file, "/tmp/serial.log");
	/* vm_config_finish ran: the disk is named. */
	CU_ASSERT_EQUAL_FATAL(in.cfg.nr_devices, 1);
	CU_ASSERT_EQUAL(in.cfg.devices[0].kind, DEVICE_DISK);
	CU_ASSERT_STRING_EQUAL(in.cfg.devices[0].disk.vdev, "xvda");
	/* Twice: 405, and nothing changes. */
	CU_ASSERT_EQUAL(call_err(API_VM_CREATE, "vm.create",
				 "{\"payload\": {\"kernel\": \"/other\"}}", "already created"), 405);
	CU_ASSERT_EQUAL(in.state, INST_CREATED);
	CU_ASSERT_STRING_EQUAL(in.cfg.kernel, "/k");
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	teardown();

	/* No base at all: nothing to keep. */
	setup();
	CU_ASSERT_EQUAL(call_none(API_VM_CREATE, "vm.create", CREATE_BODY), 204);
	CU_ASSERT_PTR_NULL(in.cfg.name);
	CU_ASSERT_FALSE(in.cfg.testdev);
	CU_ASSERT_PTR_NULL(in.cfg.serial_file);
	CU_ASSERT_EQUAL(in.cfg.memory, 268435456ULL);
	teardown();
}

static void test_info_created(void)
{
	json_t *o = NULL;

	setup_created();
	CU_ASSERT_TRUE(in.cfg.testdev);
	CU_ASSERT_EQUAL(call(API_VM_INFO, "vm.info", "", &o), 200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "state", NULL, NULL), "Created");
	CU_ASSERT_STRING_EQUAL(jstr(o, "config", "payload", "kernel"), "/k");
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_object_get(json_object_get(o, "config"),
								     "payload"), "initramfs")));
	CU_ASSERT_EQUAL(jint(o, "config", "memory", "size"), 268435456);
	CU_ASSERT_EQUAL(jint(o, "memory_actual_size", NULL, NULL), 268435456);
	CU_ASSERT_EQUAL(jint(o, "config", "cpus", "boot_vcpus"), 1);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(json_object_get(o, "config"), "disks")), 0);
	CU_ASSERT_TRUE(json_is_false(json_object_get(json_object_get(o, "config"), "iommu")));
	CU_ASSERT_EQUAL(json_object_size(json_object_get(o, "device_tree")), 0);
	CU_ASSERT_STRING_EQUAL(jstr(o, "isle", "name", NULL), "base");
	CU_ASSERT_EQUAL(jint(o, "isle", "pid", NULL), getpid());
	CU_ASSERT_EQUAL(jint(o, "isle", "boots", NULL), 0);
	CU_ASSERT_EQUAL(jint(o, "isle", "uptime_ms", NULL), 0);
	CU_ASSERT_STRING_EQUAL(jstr(o, "isle", "on_poweroff", NULL), "destroy");
	CU_ASSERT_PTR_NULL(json_object_get(json_object_get(o, "isle"), "api_socket"));
	json_decref(o);
	teardown();
}

static void test_add_disk_created(void)
{
	json_t *o = NULL;
	struct device_spec *s;

	setup_created();
	CU_ASSERT_EQUAL(call(API_VM_ADD_DISK, "vm.add-disk",
			     "{\"path\": \"/img/a.raw\", \"id\": \"d1\"}", &o), 200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "id", NULL, NULL), "d1");
	CU_ASSERT_STRING_EQUAL(jstr(o, "bdf", NULL, NULL), "");   /* no VM, no slot */
	CU_ASSERT_EQUAL(json_object_size(o), 2);
	json_decref(o);
	CU_ASSERT_EQUAL_FATAL(in.cfg.nr_devices, 1);
	s = cfg_find("d1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->kind, DEVICE_DISK);
	CU_ASSERT_PTR_NOT_NULL(strstr(s->disk.spec, "/img/a.raw"));
	CU_ASSERT_FALSE(s->disk.socket);
	CU_ASSERT_STRING_EQUAL(s->disk.vdev, "xvda");   /* named at once */
	CU_ASSERT_EQUAL(in.state, INST_CREATED);

	/* The same id again: a conflict, nothing added. */
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk",
				 "{\"path\": \"/img/b.raw\", \"id\": \"d1\"}", "d1"), 400);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	/* Bad bodies: nothing added. */
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk", "{", "malformed"), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk", "[1]", "not a JSON object"), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": 5}", "path"), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk",
				 "{\"path\": \"/x\", \"bogus\": true}", "bogus"), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk",
				 "{\"path\": \"/x\", \"id\": \"9bad\"}", NULL), 400);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);

	/* A second disk gets the next name; vm.info lists both, in order. */
	CU_ASSERT_EQUAL(call(API_VM_ADD_DISK, "vm.add-disk",
			     "{\"path\": \"/img/c.raw\", \"readonly\": true, \"id\": \"d2\"}", &o),
			200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "id", NULL, NULL), "d2");
	json_decref(o);
	CU_ASSERT_STRING_EQUAL(cfg_find("d2")->disk.vdev, "xvdb");
	CU_ASSERT_EQUAL(call(API_VM_INFO, "vm.info", "", &o), 200);
	{
		json_t *disks = json_object_get(json_object_get(o, "config"), "disks");

		CU_ASSERT_EQUAL(json_array_size(disks), 2);
		CU_ASSERT_STRING_EQUAL(jstr(json_array_get(disks, 0), "id", NULL, NULL), "d1");
		CU_ASSERT_PTR_NOT_NULL(strstr(jstr(json_array_get(disks, 0), "path", NULL, NULL),
					      "/img/a.raw"));
		CU_ASSERT_TRUE(json_is_false(json_object_get(json_array_get(disks, 0),
							     "vhost_user")));
		CU_ASSERT_STRING_EQUAL(jstr(json_array_get(disks, 1), "id", NULL, NULL), "d2");
	}
	json_decref(o);

	/* Up to VM_MAX_DISKS, then 400 and nothing added. */
	for (unsigned int i = 2; i < VM_MAX_DISKS; i++) {
		char body[96];

		snprintf(body, sizeof(body), "{\"path\": \"/img/%u\", \"id\": \"m%u\"}", i, i);
		CU_ASSERT_EQUAL(call(API_VM_ADD_DISK, "vm.add-disk", body, NULL), 200);
	}
	CU_ASSERT_EQUAL(in.cfg.nr_devices, VM_MAX_DISKS);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk",
				 "{\"path\": \"/img/more\", \"id\": \"more\"}", "at most"), 400);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, VM_MAX_DISKS);
	teardown();
}

static void test_add_net_created(void)
{
	json_t *o = NULL;
	struct device_spec *s;
	int p[2], fds[2];
	char body[128];

	setup_created();
	/* fds announced in the body but none received: 400, nothing added. */
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_NET, "vm.add-net", "{\"fds\": [3]}", "announced"),
			400);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 0);

	/* Two fds received, one announced: 400 and both stay the request's. */
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	snprintf(body, sizeof(body), "{\"fds\": [%d], \"id\": \"n0\"}", p[0]);
	CU_ASSERT_EQUAL(call_fds(API_VM_ADD_NET, "vm.add-net", body, fds, 2, &o), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(o, "error", NULL, NULL), "1 tap fd(s) announced, 2"));
	json_decref(o);
	CU_ASSERT_EQUAL(fds[0], p[0]);
	CU_ASSERT_EQUAL(fds[1], p[1]);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 0);
	close(p[1]);

	/* One announced, one received: the config keeps its own copy (the
	 * request closes its own), one queue pair per fd. No tap is checked
	 * before boot: a pipe stands in for one. */
	fds[0] = p[0];
	CU_ASSERT_EQUAL(call_fds(API_VM_ADD_NET, "vm.add-net", body, fds, 1, &o), 200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "id", NULL, NULL), "n0");
	CU_ASSERT_STRING_EQUAL(jstr(o, "bdf", NULL, NULL), "");
	json_decref(o);
	CU_ASSERT_EQUAL(fds[0], p[0]);
	s = cfg_find("n0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->kind, DEVICE_NIC);
	CU_ASSERT_EQUAL(s->nic.nr_tap_fds, 1);
	{
		struct stat a, b;

		CU_ASSERT_NOT_EQUAL(s->nic.tap_fds[0], p[0]);
		CU_ASSERT(fstat(s->nic.tap_fds[0], &a) == 0 && fstat(p[0], &b) == 0 &&
			  a.st_ino == b.st_ino);
		CU_ASSERT_EQUAL(fcntl(s->nic.tap_fds[0], F_GETFD), FD_CLOEXEC);
	}
	CU_ASSERT_EQUAL(s->nic.queues, 1);
	CU_ASSERT_EQUAL(fcntl(p[0], F_GETFD), FD_CLOEXEC);   /* still open */

	/* Without fds: a tap isle opens by name; the same id is a conflict. */
	CU_ASSERT_EQUAL(call(API_VM_ADD_NET, "vm.add-net",
			     "{\"tap\": \"tap7\", \"mac\": \"52:54:00:aa:bb:cc\", \"id\": \"n1\"}",
			     &o), 200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "id", NULL, NULL), "n1");
	json_decref(o);
	s = cfg_find("n1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_STRING_EQUAL(s->nic.vifname, "tap7");
	CU_ASSERT_EQUAL(s->nic.nr_tap_fds, 0);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_NET, "vm.add-net", "{\"id\": \"n1\"}", "n1"), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_NET, "vm.add-net", "{\"num_queues\": 3}", "odd"), 400);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 2);
	CU_ASSERT_EQUAL(call(API_VM_INFO, "vm.info", "", &o), 200);
	{
		json_t *net = json_object_get(json_object_get(o, "config"), "net");

		CU_ASSERT_EQUAL(json_array_size(net), 2);
		CU_ASSERT_STRING_EQUAL(jstr(json_array_get(net, 1), "mac", NULL, NULL),
				       "52:54:00:aa:bb:cc");
		CU_ASSERT_STRING_EQUAL(jstr(json_array_get(net, 1), "tap", NULL, NULL), "tap7");
		CU_ASSERT_EQUAL(jint(json_array_get(net, 0), "num_queues", NULL, NULL), 2);
	}
	json_decref(o);

	/* The fd is in the config until the device goes. instance_api.c
	 * never closes a config's tap fds (not on vm.remove-device, vm.delete
	 * or vm_config_free), so the test closes its own. */
	CU_ASSERT_EQUAL(call_none(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": \"n0\"}"),
			204);
	CU_ASSERT_PTR_NULL(cfg_find("n0"));
	close(p[0]);
	teardown();
}

static void test_add_device_created(void)
{
	json_t *o = NULL;
	struct device_spec *s;

	setup_created();
	/* Not opened before boot: no such host device is needed. */
	CU_ASSERT_EQUAL(call(API_VM_ADD_DEVICE, "vm.add-device",
			     "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0/\", \"id\": \"gpu\"}",
			     &o), 200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "id", NULL, NULL), "gpu");
	CU_ASSERT_STRING_EQUAL(jstr(o, "bdf", NULL, NULL), "");
	json_decref(o);
	s = cfg_find("gpu");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->kind, DEVICE_PCI);
	CU_ASSERT_STRING_EQUAL(s->pci.host, "0000:00:04.0");
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	/* The same host function twice, a bad path, iommu without an IOMMU. */
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DEVICE, "vm.add-device",
				 "{\"path\": \"/sys/bus/pci/devices/0000:00:04.0\", \"id\": \"g2\"}",
				 NULL), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DEVICE, "vm.add-device",
				 "{\"path\": \"/sys/bus/mdev/devices/83b8f4f2\"}", "mediated"), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DEVICE, "vm.add-device", "{}", NULL), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DEVICE, "vm.add-device",
				 "{\"path\": \"/sys/bus/pci/devices/0000:00:05.0\", \"iommu\": true}",
				 "no IOMMU"), 400);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	CU_ASSERT_EQUAL(call(API_VM_INFO, "vm.info", "", &o), 200);
	{
		json_t *d = json_array_get(json_object_get(json_object_get(o, "config"), "devices"),
					   0);

		CU_ASSERT_STRING_EQUAL(jstr(d, "id", NULL, NULL), "gpu");
		CU_ASSERT_STRING_EQUAL(jstr(d, "path", NULL, NULL), "0000:00:04.0");
	}
	json_decref(o);
	teardown();

	/* With an IOMMU, "iommu": true is accepted. */
	setup();
	CU_ASSERT_EQUAL(call_none(API_VM_CREATE, "vm.create",
				  "{\"payload\": {\"kernel\": \"/k\"}, \"iommu\": true}"), 204);
	CU_ASSERT_TRUE(in.cfg.iommu.enabled);
	CU_ASSERT_EQUAL(call(API_VM_ADD_DEVICE, "vm.add-device",
			     "{\"path\": \"/sys/bus/pci/devices/0000:00:05.0\", \"iommu\": true}",
			     NULL), 200);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	teardown();
}

static void test_remove_created(void)
{
	static const char *const left[] = { "a", "c" };

	setup_created();
	CU_ASSERT_EQUAL(call(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": \"/a\", \"id\": \"a\"}",
			     NULL), 200);
	CU_ASSERT_EQUAL(call(API_VM_ADD_NET, "vm.add-net", "{\"id\": \"b\"}", NULL), 200);
	CU_ASSERT_EQUAL(call(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": \"/c\", \"id\": \"c\"}",
			     NULL), 200);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 3);
	CU_ASSERT_EQUAL(call_none(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": \"b\"}"),
			204);
	expect_ids(&in.cfg, left, 2);
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": \"b\"}",
				 "no device 'b'"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device",
				 "{\"id\": \"nope\", \"force\": true}", "no device 'nope'"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device", "{}", NULL), 400);
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": 7}", NULL),
			400);
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": \"\"}",
				 NULL), 400);
	expect_ids(&in.cfg, left, 2);
	CU_ASSERT_EQUAL(call_none(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": \"a\"}"),
			204);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	CU_ASSERT_STRING_EQUAL(in.cfg.devices[0].id, "c");
	CU_ASSERT_EQUAL(in.state, INST_CREATED);
	teardown();
}

static void test_no_vm_created(void)
{
	setup_created();
	CU_ASSERT_EQUAL(call_err(API_VM_PAUSE, "vm.pause", "", "Created"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_RESUME, "vm.resume", "", "Created"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_POWER_BUTTON, "vm.power-button", "", "not running"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_SHUTDOWN, "vm.shutdown", "", "not running"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_REBOOT, "vm.reboot", "", "not running"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_RESIZE, "vm.resize", "{\"desired_ram\": 268435456}",
				 "not running"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_RESIZE, "vm.resize", "{\"desired_vcpus\": \"x\"}", NULL),
			400);
	CU_ASSERT_EQUAL(in.state, INST_CREATED);
	CU_ASSERT_FALSE(in.to_created);
	CU_ASSERT_FALSE(in.force_restart);
	CU_ASSERT_FALSE(in.quit);
	teardown();
}

/* No /dev/kvm here (and, where there is one, no kernel "/k"): vm.boot fails
 * cleanly and the config stays for another try. */
static void test_boot_fails(void)
{
	json_t *o = NULL;

	setup_created();
	CU_ASSERT_EQUAL(call(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": \"/a\", \"id\": \"a\"}",
			     NULL), 200);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(call_err(API_VM_BOOT, "vm.boot", "", "could not boot"), 500);
		CU_ASSERT_EQUAL(in.state, INST_CREATED);
		CU_ASSERT_FALSE(in.vm_live);
		CU_ASSERT_FALSE(in.run_vm);
		CU_ASSERT_EQUAL(in.boots, 0);
		CU_ASSERT_EQUAL(in.idle.stop, 0);   /* the idle loop goes on */
	}
	CU_ASSERT_EQUAL(call(API_VM_INFO, "vm.info", "", &o), 200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "state", NULL, NULL), "Created");
	CU_ASSERT_EQUAL(json_object_size(json_object_get(o, "device_tree")), 0);
	json_decref(o);
	CU_ASSERT_STRING_EQUAL(in.cfg.kernel, "/k");
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 1);
	CU_ASSERT_EQUAL(call(API_VM_COUNTERS, "vm.counters", "", &o), 200);
	CU_ASSERT_EQUAL(jint(o, "vmm", "boots", NULL), 0);
	json_decref(o);
	teardown();
}

static void test_delete(void)
{
	setup_created();
	CU_ASSERT_EQUAL(call(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": \"/a\", \"id\": \"a\"}",
			     NULL), 200);
	CU_ASSERT_EQUAL(call_none(API_VM_DELETE, "vm.delete", ""), 204);
	CU_ASSERT_EQUAL(in.state, INST_NONE);
	CU_ASSERT_PTR_NULL(in.cfg.kernel);
	CU_ASSERT_EQUAL(in.cfg.nr_devices, 0);
	CU_ASSERT_PTR_NULL(in.cfg.devices);
	CU_ASSERT_EQUAL(in.cfg.memory, CONFIG_DEFAULT_MEMORY);
	CU_ASSERT_EQUAL(in.cfg.vcpus, 1);
	CU_ASSERT_STRING_EQUAL(in.cfg.name, "base");
	CU_ASSERT_FALSE(in.quit);
	CU_ASSERT_EQUAL(call_err(API_VM_INFO, "vm.info", "", NULL), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": \"/a\"}",
				 "not created"), 404);
	/* And a new one can be created, under the same name. */
	CU_ASSERT_EQUAL(call_none(API_VM_CREATE, "vm.create",
				  "{\"payload\": {\"kernel\": \"/k2\"}}"), 204);
	CU_ASSERT_EQUAL(in.state, INST_CREATED);
	CU_ASSERT_STRING_EQUAL(in.cfg.kernel, "/k2");
	CU_ASSERT_STRING_EQUAL(in.cfg.name, "base");
	CU_ASSERT_EQUAL(in.cfg.memory, CONFIG_DEFAULT_MEMORY);
	teardown();
}

/* A preserved VM (on_*=preserve) is in Shutdown; here without a live VM
 * behind it (inst_destroy_vm has nothing to do), which is what the
 * endpoints see of it. */
static void test_preserved_shutdown(void)
{
	json_t *o = NULL;

	setup_created();
	in.state = INST_SHUTDOWN;
	in.preserved = true;
	CU_ASSERT_EQUAL(call(API_VM_INFO, "vm.info", "", &o), 200);
	CU_ASSERT_STRING_EQUAL(jstr(o, "state", NULL, NULL), "Shutdown");
	json_decref(o);
	CU_ASSERT_EQUAL(call_err(API_VM_CREATE, "vm.create", CREATE_BODY, NULL), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_BOOT, "vm.boot", "", "already booted"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_PAUSE, "vm.pause", "", "Shutdown"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_RESUME, "vm.resume", "", "Shutdown"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_ADD_DISK, "vm.add-disk", "{\"path\": \"/a\"}",
				 "shut down"), 405);
	CU_ASSERT_EQUAL(call_err(API_VM_REMOVE_DEVICE, "vm.remove-device", "{\"id\": \"a\"}",
				 "not running"), 404);
	CU_ASSERT_EQUAL(call_err(API_VM_REBOOT, "vm.reboot", "", "not running"), 405);
	CU_ASSERT_EQUAL(in.state, INST_SHUTDOWN);
	/* vm.shutdown of a preserved VM: back to Created, the config kept. */
	CU_ASSERT_EQUAL(call_none(API_VM_SHUTDOWN, "vm.shutdown", ""), 204);
	CU_ASSERT_EQUAL(in.state, INST_CREATED);
	CU_ASSERT_FALSE(in.preserved);
	CU_ASSERT_STRING_EQUAL(in.cfg.kernel, "/k");
	CU_ASSERT_EQUAL(call_err(API_VM_SHUTDOWN, "vm.shutdown", "", "not running"), 405);
	/* vm.delete of a preserved VM. */
	in.state = INST_SHUTDOWN;
	in.preserved = true;
	CU_ASSERT_EQUAL(call_none(API_VM_DELETE, "vm.delete", ""), 204);
	CU_ASSERT_EQUAL(in.state, INST_NONE);
	CU_ASSERT_FALSE(in.preserved);
	CU_ASSERT_STRING_EQUAL(in.cfg.name, "base");
	teardown();
}

static void test_vmm_shutdown(void)
{
	for (int created = 0; created < 2; created++) {
		if (created)
			setup_created();
		else
			setup();
		CU_ASSERT_EQUAL(in.idle.stop, 0);
		CU_ASSERT_EQUAL(call_none(API_VMM_SHUTDOWN, "vmm.shutdown", ""), 204);
		CU_ASSERT_TRUE(in.quit);
		CU_ASSERT_EQUAL(in.idle.stop, 1);   /* the idle loop is told */
		CU_ASSERT_EQUAL(in.state, created ? INST_CREATED : INST_NONE);
		/* The wake-up is there for the loop to see. */
		CU_ASSERT_TRUE(evloop_run_once(&in.idle, 0) >= 0);
		teardown();
	}
}

static void test_unknown_op(void)
{
	setup();
	CU_ASSERT_EQUAL(call_err(API_NR_OPS, "vm.snapshot", "{}", "vm.snapshot is not implemented"),
			404);
	CU_ASSERT_EQUAL(in.state, INST_NONE);
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("instance_api",
		   UNIT_TEST(test_state_names),
		   UNIT_TEST(test_config_forget),
		   UNIT_TEST(test_ping),
		   UNIT_TEST(test_not_created),
		   UNIT_TEST(test_create),
		   UNIT_TEST(test_info_created),
		   UNIT_TEST(test_add_disk_created),
		   UNIT_TEST(test_add_net_created),
		   UNIT_TEST(test_add_device_created),
		   UNIT_TEST(test_remove_created),
		   UNIT_TEST(test_no_vm_created),
		   UNIT_TEST(test_boot_fails),
		   UNIT_TEST(test_delete),
		   UNIT_TEST(test_preserved_shutdown),
		   UNIT_TEST(test_vmm_shutdown),
		   UNIT_TEST(test_unknown_op));
}
