/* Unit tests for vmm/control/xl.c and xl_attach.c, the client side of xl's
 * verbs: golden tables for the xl disk / vif / PCI spec -> cloud-hypervisor
 * DiskConfig / NetConfig / DeviceConfig mappings, `list`'s state flags and
 * columns, mem-set's units, the serial= detection of create; then xl_main()
 * itself on a temporary run directory ($ISLE_RUN_DIR): a dead VM's files
 * are cleaned up by `list`, usage errors are 2, an unknown VM is 1, a
 * config without a name is 2, and a VM whose lock is held (by this test)
 * but has no control socket is listed and refused cleanly; and, against
 * the real control socket server (api.c) with a fake VM behind it, what
 * each verb sends and how it reads the replies. No VM runs. `console` is
 * test_xl_console.c's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cunit.h"
#include "xl_fixture.h"
#include "isle/util.h"
#include "control/api.h"
#include "control/api_json.h"
#include "control/rundir.h"
#include "control/xl.h"
#include "control/xl_priv.h"
#include "isle/evloop.h"


struct map_case {
	const char *spec;
	int r;              /* 0, -EINVAL, -ENOTSUP */
	const char *want;   /* r == 0: the compact JSON; else a piece of the message */
};

typedef int (*map_fn)(const char *, json_t **, char *, size_t);

static void run_cases(map_fn fn, const struct map_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char err[512] = "";
		json_t *out = NULL;
		int r = fn(c[i].spec, &out, err, sizeof(err));

		if (r != c[i].r)
			fprintf(stderr, "\n'%s': got %d (%s), want %d\n", c[i].spec, r, err, c[i].r);
		CU_ASSERT_EQUAL(r, c[i].r);
		if (!r && out) {
			char *s = json_dumps(out, JSON_COMPACT);

			if (strcmp(s, c[i].want))
				fprintf(stderr, "\n'%s': got %s, want %s\n", c[i].spec, s, c[i].want);
			CU_ASSERT_STRING_EQUAL(s, c[i].want);
			free(s);
		} else if (r) {
			if (!strstr(err, c[i].want))
				fprintf(stderr, "\n'%s': message '%s' lacks '%s'\n", c[i].spec, err,
					c[i].want);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, c[i].want));
			CU_ASSERT_PTR_NULL(out);
		}
		CU_ASSERT_TRUE(r || out);
		json_decref(out);
	}
}

static const struct map_case disk_cases[] = {
	/* xl's forms: a prefixed target fills the format slot. */
	{ "phy:/dev/vg/a,xvdb,w", 0, "{\"path\":\"/dev/vg/a\",\"readonly\":false,\"id\":\"xvdb\"}" },
	{ "file:/img,xvdb,r", 0, "{\"path\":\"/img\",\"readonly\":true,\"id\":\"xvdb\"}" },
	{ "tap:aio:/img,xvdc,w", 0, "{\"path\":\"/img\",\"readonly\":false,\"id\":\"xvdc\"}" },
	{ "tap2:raw:/img", 0, "{\"path\":\"/img\",\"readonly\":false}" },
	{ "/img,raw,xvdb,rw", 0, "{\"path\":\"/img\",\"readonly\":false,\"id\":\"xvdb\"}" },
	{ "/img,,xvdb,ro", 0, "{\"path\":\"/img\",\"readonly\":true,\"id\":\"xvdb\"}" },
	{ " phy:/dev/x, xvdb, w", 0, "{\"path\":\"/dev/x\",\"readonly\":false,\"id\":\"xvdb\"}" },
	{ "/img", 0, "{\"path\":\"/img\",\"readonly\":false}" },
	{ "/a/b:c", 0, "{\"path\":\"/a/b:c\",\"readonly\":false}" },
	{ "file:foo:bar", 0, "{\"path\":\"foo:bar\",\"readonly\":false}" },
	{ "tap:/img", 0, "{\"path\":\"/img\",\"readonly\":false}" },
	/* Keys; target= takes the rest. */
	{ "format=raw,vdev=xvdb,access=ro,target=/a,b=c", 0,
	  "{\"path\":\"/a,b=c\",\"readonly\":true,\"id\":\"xvdb\"}" },
	{ "vdev=xvdb,target=phy:/dev/x", 0,
	  "{\"path\":\"/dev/x\",\"readonly\":false,\"id\":\"xvdb\"}" },
	{ "access=rw,id=data,target=/img", 0,
	  "{\"path\":\"/img\",\"readonly\":false,\"id\":\"data\"}" },
	{ "id=data,vdev=xvdb,target=/img", 0,
	  "{\"path\":\"/img\",\"readonly\":false,\"id\":\"data\"}" },
	{ "target=/img,vdev=1bad", 0, "{\"path\":\"/img,vdev=1bad\",\"readonly\":false}" },
	{ "devtype=cdrom,target=/iso", 0, "{\"path\":\"/iso\",\"readonly\":true}" },
	{ "/img,raw,xvdb,rw,cdrom", 0, "{\"path\":\"/img\",\"readonly\":true,\"id\":\"xvdb\"}" },
	{ "discard,backendtype=phy,phy:/dev/x,xvdb", 0,
	  "{\"path\":\"/dev/x\",\"readonly\":false,\"id\":\"xvdb\"}" },
	/* qcow2, however xl spells it. */
	{ "qcow2:/img", 0, "{\"path\":\"/img\",\"readonly\":false,\"image_type\":\"Qcow2\"}" },
	{ "tap:qcow2:/img,xvdb,w", 0,
	  "{\"path\":\"/img\",\"readonly\":false,\"image_type\":\"Qcow2\",\"id\":\"xvdb\"}" },
	{ "format=qcow2,vdev=xvdc,access=r,target=/c.qcow2", 0,
	  "{\"path\":\"/c.qcow2\",\"readonly\":true,\"image_type\":\"Qcow2\",\"id\":\"xvdc\"}" },
	{ "/img,qcow2,xvdb", 0,
	  "{\"path\":\"/img\",\"readonly\":false,\"image_type\":\"Qcow2\",\"id\":\"xvdb\"}" },
	/* isle's vhost-user-blk form. */
	{ "socket=/run/vu.sock,vdev=xvdb", 0,
	  "{\"vhost_user\":true,\"vhost_socket\":\"/run/vu.sock\",\"id\":\"xvdb\"}" },
	{ "socket=/run/vu.sock", 0, "{\"vhost_user\":true,\"vhost_socket\":\"/run/vu.sock\"}" },
	/* Refused. */
	{ "", -EINVAL, "empty target" },
	{ "vdev=xvdb", -EINVAL, "no target" },
	{ "qcow:/img", -ENOTSUP, "qcow images" },
	{ "format=raw,target=qcow2:/img", -EINVAL, "says qcow2, format= says raw" },
	{ "/img,vhd,xvdb", -ENOTSUP, "vhd images" },
	{ "format=qed,target=/img", -ENOTSUP, "qed images" },
	{ "xyz:/img", -EINVAL, "unknown target prefix 'xyz:'" },
	{ "tap:phy:/img", -EINVAL, "unknown tap driver 'phy:'" },
	{ "phy:", -EINVAL, "empty target" },
	{ "/img,xvdb,w", -EINVAL, "unknown format 'xvdb'" },
	{ "/img,raw,xvdb,rw,extra", -EINVAL, "unexpected parameter 'extra'" },
	{ "/img,raw,xvdb,rx", -EINVAL, "access 'rx'" },
	{ "vdev=xvdb,vdev=xvdc,target=/x", -EINVAL, "vdev given twice" },
	{ "vdev=1bad,target=/img", -EINVAL, "cannot be the disk's id" },
	{ "script=block-foo,target=/img", -ENOTSUP, "script=" },
	{ "backend=dom1,target=/img", -ENOTSUP, "backend=" },
	{ "colour=red,target=/x", -EINVAL, "unknown key 'colour'" },
	{ "no-discard,target=/x", -ENOTSUP, "no-discard" },
	{ "devtype=floppy,target=/x", -EINVAL, "devtype 'floppy'" },
	{ "backendtype=nbd,target=/x", -EINVAL, "backendtype 'nbd'" },
};

static void test_disk_spec(void)
{
	run_cases(xl_disk_config, disk_cases, ARRAY_SIZE(disk_cases));
}

static const struct map_case vif_cases[] = {
	{ "", 0, "{}" },
	{ "mac=00:16:3E:01:02:03,bridge=xenbr0,vifname=vif1.0,mtu=9000", 0,
	  "{\"mac\":\"00:16:3e:01:02:03\",\"tap\":\"vif1.0\",\"mtu\":9000,\"bridge\":\"xenbr0\"}" },
	{ "script=vif-bridge,id=net7", 0, "{\"script\":\"vif-bridge\",\"id\":\"net7\"}" },
	{ "queues=2,model=virtio,type=vif", 0, "{\"num_queues\":4}" },
	{ "socket=/run/nb.sock", 0, "{\"vhost_user\":true,\"vhost_socket\":\"/run/nb.sock\"}" },
	{ "colour=blue", -EINVAL, "colour" },
	{ "mac=01:00:5e:00:00:01", -EINVAL, "multicast" },
	{ "id=9x", -EINVAL, "is not a name" },
};

static void test_vif_spec(void)
{
	run_cases(xl_net_config, vif_cases, ARRAY_SIZE(vif_cases));
}

static const struct map_case pci_cases[] = {
	{ "03:00.0", 0, "{\"path\":\"/sys/bus/pci/devices/0000:03:00.0/\"}" },
	{ "0000:03:00.1@5,name=gpu", 0,
	  "{\"path\":\"/sys/bus/pci/devices/0000:03:00.1/\",\"pci_device_id\":5,\"id\":\"gpu\"}" },
	{ "03:00.0,msitranslate=0,rdm_policy=relaxed", 0,
	  "{\"path\":\"/sys/bus/pci/devices/0000:03:00.0/\"}" },
	{ "03:00.0,seize=1", -ENOTSUP, "pci-assignable-add" },
	{ "03:00.0,permissive=1", -ENOTSUP, "permissive=1" },
	{ "zz", -EINVAL, "" },
};

static void test_pci_spec(void)
{
	run_cases(xl_pci_config, pci_cases, ARRAY_SIZE(pci_cases));
}

/* What the mappers send is what the server's decoders (api_json.c) take:
 * every good case of the tables goes through them, except the NetConfig
 * fields that are isle's additions (bridge, script). */
static void test_server_accepts(void)
{
	static const struct { map_fn fn; const struct map_case *c; size_t n; } t[] = {
		{ xl_disk_config, disk_cases, ARRAY_SIZE(disk_cases) },
		{ xl_net_config, vif_cases, ARRAY_SIZE(vif_cases) },
		{ xl_pci_config, pci_cases, ARRAY_SIZE(pci_cases) },
	};

	for (size_t k = 0; k < ARRAY_SIZE(t); k++)
		for (size_t i = 0; i < t[k].n; i++) {
			char err[512] = "", spec[API_JSON_SPEC_MAX] = "";
			unsigned int nfds;
			bool iommu;
			json_t *o = NULL;
			int r;

			if (t[k].c[i].r || t[k].fn(t[k].c[i].spec, &o, err, sizeof(err)))
				continue;
			if (json_object_get(o, "bridge") || json_object_get(o, "script")) {
				json_decref(o);
				continue;
			}
			r = k == 0 ? api_json_disk(o, spec, sizeof(spec), err, sizeof(err)) :
			    k == 1 ? api_json_net(o, spec, sizeof(spec), &nfds, err, sizeof(err)) :
			    api_json_device(o, spec, sizeof(spec), &iommu, err, sizeof(err));
			if (r)
				fprintf(stderr, "\n'%s': the server says %s\n", t[k].c[i].spec, err);
			CU_ASSERT_EQUAL(r, 0);
			json_decref(o);
		}
}

static void test_list_format(void)
{
	char buf[256];

	CU_ASSERT_STRING_EQUAL(xl_state_flags("Running"), "r-----");
	CU_ASSERT_STRING_EQUAL(xl_state_flags("Paused"), "--p---");
	CU_ASSERT_STRING_EQUAL(xl_state_flags("Shutdown"), "---s--");
	CU_ASSERT_STRING_EQUAL(xl_state_flags("Created"), "-b----");
	CU_ASSERT_STRING_EQUAL(xl_state_flags(""), "------");
	xl_list_line(buf, sizeof(buf), "web01", 1234, 512ULL << 20, 2, "Running", 12345);
	CU_ASSERT_STRING_EQUAL(buf, "web01                                     1234   512     2"
			       "     r-----      12.3\n");
	/* The columns line up under xl's header. */
	CU_ASSERT_EQUAL((size_t)(strstr(buf, "1234") + 4 - buf),
			strlen("Name                                        ID"));
	xl_list_line(buf, sizeof(buf), "a", 7, 3ULL << 30, 16, "Paused", 3600049);
	CU_ASSERT_STRING_EQUAL(buf, "a                                            7  3072    16"
			       "     --p---    3600.0\n");
}

static void test_mem_units(void)
{
	char err[256];
	int64_t b = -1;

	/* A bare number is KiB, as xl mem-set's. */
	CU_ASSERT_EQUAL(xl_mem_target("524288", 1ULL << 30, &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b, 512LL << 20);
	CU_ASSERT_EQUAL(xl_mem_target("512m", 1ULL << 30, &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b, 512LL << 20);
	CU_ASSERT_EQUAL(xl_mem_target("1g", 1ULL << 30, &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(xl_mem_target("1048576k", 2ULL << 30, &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b, 1LL << 30);
	CU_ASSERT_EQUAL(xl_mem_target("268435456b", 1ULL << 30, &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b, 768LL << 20);
	CU_ASSERT_EQUAL(xl_mem_target("2g", 1ULL << 30, &b, err, sizeof(err)), -ERANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than the VM's memory (1048576k)"));
	CU_ASSERT_EQUAL(xl_mem_target("lots", 1ULL << 30, &b, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a size"));
	CU_ASSERT_EQUAL(xl_mem_target("", 1ULL << 30, &b, err, sizeof(err)), -EINVAL);
}

static void test_sets_key(void)
{
	static const struct { const char *text; int want; } c[] = {
		{ "serial = 'file:/x'", 1 },
		{ "name='a'\n  serial='stdio'\n", 1 },
		{ "a=1;serial+='x'", 1 },
		{ "\tserial\t=\"pty\"", 1 },
		{ "serial=stdio", 1 },
		{ "serials = 1", 0 },
		{ "# serial = 'x'", 0 },
		{ "name = 'serial'", 0 },
		{ "xserial = 1", 0 },
		{ "serial", 0 },
		{ "", 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		CU_ASSERT_EQUAL(xl_sets_key(c[i].text, strlen(c[i].text), "serial"), c[i].want);
}

/* ---- xl_main on a temporary run directory ---- */

static bool exists(const char *name, const char *suffix)
{
	char p[4096];

	rundir_path(p, sizeof(p), name, suffix);
	return access(p, F_OK) == 0;
}


static void test_verbs(void)
{
	CU_ASSERT_TRUE(xl_is_verb("create"));
	CU_ASSERT_TRUE(xl_is_verb("pci-list"));
	CU_ASSERT_TRUE(xl_is_verb("mem-set"));
	CU_ASSERT_FALSE(xl_is_verb("run"));
	CU_ASSERT_FALSE(xl_is_verb("pci-assignable-add"));
	CU_ASSERT_FALSE(xl_is_verb(NULL));
	xlf_setup_dir();
	/* Usage errors. */
	CU_ASSERT_EQUAL(xlf_run("destroy", NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("destroy", "a", "b", NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("list", "-x", NULL, NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("create", NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("shutdown", "-a", "vm", NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("block-detach", "vm", "xvdb", "-t"), 2);
	CU_ASSERT_EQUAL(xlf_run("block-detach", "-t", "0", "vm"), 2);
	CU_ASSERT_EQUAL(xlf_run("mem-set", "vm", "lots", NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("block-attach", "vm", "vhd:/img", NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("network-attach", "vm", "colour=blue", NULL), 2);
	/* No such VM. */
	CU_ASSERT_EQUAL(xlf_run("pause", "ghost", NULL, NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("destroy", "ghost", NULL, NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("list", "ghost", NULL, NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("console", "../etc", NULL, NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("block-attach", "ghost", "phy:/dev/x,xvdb,w", NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("shutdown", "-a", "-w", NULL), 0);   /* nothing to do */
	xlf_remove_dir();
}

/* A lock nobody holds is a dead VM's: list removes its files. */
static void test_list_cleans_up(void)
{
	xlf_setup_dir();
	xlf_touch("old", "lock", "99999\n");
	xlf_touch("old", "sock", "");
	xlf_touch("old", "cfg", "name='old'\n");
	CU_ASSERT_EQUAL(xlf_run("list", NULL, NULL, NULL), 0);
	CU_ASSERT_FALSE(exists("old", "lock"));
	CU_ASSERT_FALSE(exists("old", "sock"));
	CU_ASSERT_FALSE(exists("old", "cfg"));
	/* And so does destroy, which has nothing else to do. */
	xlf_touch("old2", "lock", "99998\n");
	CU_ASSERT_EQUAL(xlf_run("destroy", "old2", NULL, NULL), 0);
	CU_ASSERT_FALSE(exists("old2", "lock"));
	xlf_remove_dir();
}

/* A VM whose lock is held (here by the test) but that does not answer. */
static void test_live_without_socket(void)
{
	pid_t holder = 0;
	int fd;

	xlf_setup_dir();
	fd = rundir_lock("busy", &holder);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(rundir_probe("busy"), getpid());
	CU_ASSERT_EQUAL(xlf_run("list", NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(xlf_run("list", "-l", "busy", NULL), 0);
	CU_ASSERT_TRUE(exists("busy", "lock"));
	CU_ASSERT_EQUAL(xlf_run("pause", "busy", NULL, NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("mem-set", "busy", "512m", NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("block-attach", "busy", "phy:/dev/x,xvdb,w", NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("network-detach", "busy", "00:16:3e:00:00:01", NULL), 1);
	CU_ASSERT_EQUAL(xlf_run("pci-list", "busy", NULL, NULL), 1);
	close(fd);
	xlf_remove_dir();
}

static void test_create_errors(void)
{
	char cfg[128], bad[128], busy[128];
	pid_t holder = 0;
	int fd;

	xlf_setup_dir();
	snprintf(cfg, sizeof(cfg), "%s/noname.cfg", xlf_dir);
	xlf_put(cfg, "kernel = '/boot/vmlinuz'\nmemory = 256\n");
	snprintf(bad, sizeof(bad), "%s/bad.cfg", xlf_dir);
	xlf_put(bad, "name = 'x\nkernel = '/k'\n");
	snprintf(busy, sizeof(busy), "%s/busy-vm.cfg", xlf_dir);
	xlf_put(busy, "name = 'busy'\nkernel = '/boot/vmlinuz'\n");
	CU_ASSERT_EQUAL(xlf_run("create", cfg, NULL, NULL), 2);                 /* no name */
	CU_ASSERT_EQUAL(xlf_run("create", cfg, "name=\"ok\"", "memory=1"), 2);  /* bad override */
	CU_ASSERT_EQUAL(xlf_run("create", bad, NULL, NULL), 2);                 /* syntax */
	CU_ASSERT_EQUAL(xlf_run("create", busy, "kernel=[1]", NULL), 2);
	CU_ASSERT_EQUAL(xlf_run("create", "/nonexistent/vm.cfg", NULL, NULL), 1);
	fd = rundir_lock("busy", &holder);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(xlf_run("create", busy, NULL, NULL), 1);                /* running */
	CU_ASSERT_FALSE(exists("busy", "cfg"));
	close(fd);
	/* The VM's process starts and fails (no kernel, maybe no KVM): create
	 * says so, with its log, and the process removed its files. */
	snprintf(cfg, sizeof(cfg), "%s/doomed-vm.cfg", xlf_dir);
	xlf_put(cfg, "name = 'doomed'\nkernel = '/nonexistent/vmlinuz'\n");
	CU_ASSERT_EQUAL(xlf_run("create", cfg, NULL, NULL), 1);
	CU_ASSERT_TRUE(exists("doomed", "log"));
	CU_ASSERT_FALSE(exists("doomed", "lock"));
	CU_ASSERT_FALSE(exists("doomed", "cfg"));
	xlf_remove_dir();
}

/* ---- The verbs against api.c's server with a fake VM behind it ---- */

static struct {
	pthread_mutex_t lock;
	char endpoint[32], body[1024];   /* the last request */
	unsigned int requests;
	char removed[32];                /* released by the guest at once */
	bool stubborn;                   /* the guest never releases a device */
	bool off;                        /* the power button was pressed */
	bool stop;
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char fake_info[] =
	"{\"config\":{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":2},"
	"\"memory\":{\"size\":1073741824},"
	"\"disks\":[{\"id\":\"xvda\",\"path\":\"file:/img\"}],"
	"\"net\":[{\"id\":\"net0\",\"mac\":\"00:16:3e:00:00:01\",\"tap\":\"vif1\"}],"
	"\"devices\":[{\"id\":\"gpu\",\"path\":\"0000:03:00.0\"}]},"
	"\"state\":\"Running\",\"memory_actual_size\":1073741824,"
	"\"device_tree\":{\"xvda\":{\"id\":\"xvda\",\"kind\":\"disk\",\"pci_bdf\":\"0000:00:03.0\","
	"\"spec\":\"file:/img\"},\"net0\":{\"id\":\"net0\",\"kind\":\"net\",\"pci_bdf\":"
	"\"0000:00:04.0\"},\"gpu\":{\"id\":\"gpu\",\"kind\":\"pci\",\"pci_bdf\":\"0000:00:05.0\"}},"
	"\"isle\":{\"name\":\"vm\",\"pid\":1,\"uptime_ms\":12345,\"boots\":1}}";

static void fake_handler(void *opaque, struct api_req *req)
{
	json_t *info, *body;

	(void)opaque;
	pthread_mutex_lock(&fake.lock);
	fake.requests++;
	if (req->op != API_VM_INFO) {
		snprintf(fake.endpoint, sizeof(fake.endpoint), "%s", req->endpoint);
		snprintf(fake.body, sizeof(fake.body), "%s", req->body);
	}
	switch (req->op) {
	case API_VM_INFO:
		info = json_loads(fake_info, 0, NULL);
		if (fake.removed[0] && !fake.stubborn)
			json_object_del(json_object_get(info, "device_tree"), fake.removed);
		if (fake.off)   /* on_poweroff=preserve */
			json_object_set_new(info, "state", json_string("Shutdown"));
		api_reply_json(req, 200, json_dumps(info, JSON_COMPACT));
		json_decref(info);
		break;
	case API_VM_RESIZE:
		api_reply_error(req, 400, "the VM has no balloon device");
		break;
	case API_VM_ADD_DISK:
		api_reply_json(req, 200, strdup("{\"id\":\"xvdb\",\"bdf\":\"0000:00:06.0\"}"));
		break;
	case API_VM_POWER_BUTTON:
		fake.off = true;
		api_reply_json(req, 204, NULL);
		break;
	case API_VM_REMOVE_DEVICE:
		body = json_loads(req->body, 0, NULL);
		snprintf(fake.removed, sizeof(fake.removed), "%s",
			 json_string_value(json_object_get(body, "id")) ?: "");
		json_decref(body);
		api_reply_json(req, 204, NULL);
		break;
	default:
		api_reply_json(req, 204, NULL);
	}
	pthread_mutex_unlock(&fake.lock);
}

/* The server's main thread: runs the handler for every request. */
static void *fake_main(void *opaque)
{
	struct api_server *s = opaque;

	while (!fake.stop) {
		struct pollfd p = { .fd = api_req_fd(s), .events = POLLIN };

		if (poll(&p, 1, 20) > 0)
			api_dispatch(s);
	}
	return NULL;
}

static void expect(const char *endpoint, const char *body)
{
	pthread_mutex_lock(&fake.lock);
	if (strcmp(fake.endpoint, endpoint) || strcmp(fake.body, body))
		fprintf(stderr, "\ngot %s %s, want %s %s\n", fake.endpoint, fake.body, endpoint,
			body);
	CU_ASSERT_STRING_EQUAL(fake.endpoint, endpoint);
	CU_ASSERT_STRING_EQUAL(fake.body, body);
	fake.endpoint[0] = fake.body[0] = fake.removed[0] = '\0';
	pthread_mutex_unlock(&fake.lock);
}

/* Runs a verb with its stdout in out (NUL-terminated). */
static int run_out(char *out, size_t len, const char *a0, const char *a1, const char *a2)
{
	FILE *f = tmpfile();
	int saved = dup(1), r;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fflush(stdout);
	dup2(fileno(f), 1);
	r = xlf_run(a0, a1, a2, NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	fputs(out, stdout);
	return r;
}

static void test_fake_vm(void)
{
	static struct api_server srv;
	char sock[4096], out[8192];
	pthread_t main_thread;
	pid_t holder = 0;
	json_t *l;
	int fd;

	xlf_setup_dir();
	fd = rundir_lock("vm", &holder);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	rundir_path(sock, sizeof(sock), "vm", "sock");
	CU_ASSERT_EQUAL_FATAL(api_start(&srv, sock, fake_handler, NULL), 0);
	fake.stop = false;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&main_thread, NULL, fake_main, &srv), 0);

	CU_ASSERT_EQUAL(xlf_run("pause", "vm", NULL, NULL), 0);
	expect("vm.pause", "");
	CU_ASSERT_EQUAL(xlf_run("unpause", "vm", NULL, NULL), 0);
	expect("vm.resume", "");
	CU_ASSERT_EQUAL(xlf_run("reboot", "vm", NULL, NULL), 0);
	expect("vm.reboot", "");
	CU_ASSERT_EQUAL(xlf_run("shutdown", "vm", NULL, NULL), 0);
	expect("vm.power-button", "");
	fake.off = false;
	CU_ASSERT_EQUAL(xlf_run("shutdown", "-w", "vm", NULL), 0);   /* until Shutdown */
	expect("vm.power-button", "");
	fake.off = false;
	CU_ASSERT_EQUAL(xlf_run("shutdown", "-a", "-w", NULL), 0);
	expect("vm.power-button", "");
	fake.off = false;
	/* mem-set: 512 MiB of 1 GiB is a 512 MiB balloon; the refusal is shown. */
	CU_ASSERT_EQUAL(xlf_run("mem-set", "vm", "524288", NULL), 1);
	expect("vm.resize", "{\"desired_balloon\":536870912}");
	CU_ASSERT_EQUAL(xlf_run("mem-set", "vm", "2g", NULL), 1);
	expect("", "");
	/* Attach: the mapped body, the reply's id and bdf. */
	CU_ASSERT_EQUAL(run_out(out, sizeof(out), "block-attach", "vm", "phy:/dev/vg/b,xvdb,r"), 0);
	expect("vm.add-disk", "{\"path\":\"/dev/vg/b\",\"readonly\":true,\"id\":\"xvdb\"}");
	CU_ASSERT_STRING_EQUAL(out, "xvdb 0000:00:06.0\n");
	CU_ASSERT_EQUAL(xlf_run("network-attach", "vm", "bridge=br0", "mac=00:16:3e:0a:0b:0c"), 0);
	expect("vm.add-net", "{\"mac\":\"00:16:3e:0a:0b:0c\",\"bridge\":\"br0\"}");
	CU_ASSERT_EQUAL(xlf_run("pci-attach", "vm", "03:00.1@7", NULL), 0);
	expect("vm.add-device", "{\"path\":\"/sys/bus/pci/devices/0000:03:00.1/\","
	       "\"pci_device_id\":7}");
	/* Detach by id, MAC, devid or host BDF; -f is isle's "force". */
	CU_ASSERT_EQUAL(xlf_run("block-detach", "vm", "xvda", NULL), 0);
	expect("vm.remove-device", "{\"id\":\"xvda\"}");
	CU_ASSERT_EQUAL(xlf_run("network-detach", "vm", "00:16:3E:00:00:01", "-f"), 0);
	expect("vm.remove-device", "{\"id\":\"net0\",\"force\":true}");
	CU_ASSERT_EQUAL(xlf_run("network-detach", "vm", "0", NULL), 0);
	expect("vm.remove-device", "{\"id\":\"net0\"}");
	CU_ASSERT_EQUAL(xlf_run("pci-detach", "vm", "03:00.0", NULL), 0);
	expect("vm.remove-device", "{\"id\":\"gpu\"}");
	CU_ASSERT_EQUAL(xlf_run("block-detach", "vm", "net0", NULL), 1);   /* not a disk */
	expect("", "");
	fake.stubborn = true;
	CU_ASSERT_EQUAL(xlf_run("block-detach", "-t1", "vm", "xvda"), 1);
	expect("vm.remove-device", "{\"id\":\"xvda\"}");
	fake.stubborn = false;
	/* Lists. */
	CU_ASSERT_EQUAL(run_out(out, sizeof(out), "list", NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " 1024     2     r-----      12.3\n"));
	CU_ASSERT_EQUAL(run_out(out, sizeof(out), "list", "-l", NULL), 0);
	l = json_loads(out, 0, NULL);
	CU_ASSERT_EQUAL(json_array_size(l), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(l, 0), "memory")), 1024);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(l, 0), "pid")), getpid());
	CU_ASSERT_PTR_NOT_NULL(json_object_get(json_object_get(json_array_get(l, 0), "devices"),
					       "xvda"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(l, 0), "state")),
			       "Running");
	json_decref(l);
	CU_ASSERT_EQUAL(run_out(out, sizeof(out), "block-list", "vm", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "0   xvda             0000:00:03.0  file:/img\n"));
	CU_ASSERT_EQUAL(run_out(out, sizeof(out), "network-list", "vm", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "net0             0000:00:04.0  00:16:3e:00:00:01 vif1"));
	CU_ASSERT_EQUAL(run_out(out, sizeof(out), "pci-list", "vm", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "gpu              0000:00:05.0  0000:03:00.0"));

	fake.stop = true;
	pthread_join(main_thread, NULL);
	api_stop(&srv);
	close(fd);
	xlf_remove_dir();
}

void unit_register(void)
{
	UNIT_SUITE("xl",
		   UNIT_TEST(test_disk_spec),
		   UNIT_TEST(test_vif_spec),
		   UNIT_TEST(test_pci_spec),
		   UNIT_TEST(test_server_accepts),
		   UNIT_TEST(test_list_format),
		   UNIT_TEST(test_mem_units),
		   UNIT_TEST(test_sets_key),
		   UNIT_TEST(test_verbs),
		   UNIT_TEST(test_list_cleans_up),
		   UNIT_TEST(test_live_without_socket),
		   UNIT_TEST(test_create_errors),
		   UNIT_TEST(test_fake_vm));
}
