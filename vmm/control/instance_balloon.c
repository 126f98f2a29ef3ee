/* The balloon's endpoints on the control socket (instance.h's main thread):
 *   PUT vm.resize {desired_balloon: BYTES}    cloud-hypervisor's (Kata's)
 *   GET vm.balloon                            target, actual, options, policy
 *   PUT vm.balloon {amount_mib: N}            Firecracker's PATCH /balloon
 *   GET vm.balloon-statistics                 Firecracker's shape, with age_ms
 *   PUT vm.balloon-statistics {stats_polling_interval_s: N}
 * and the balloon's part of vm.info. Without a running VM 404 (nothing to
 * ask), without a balloon 400, a policy refusal 409. */
#include <errno.h>

#include <jansson.h>

#include "isle/log.h"
#include "control/api_json.h"
#include "control/instance.h"
#include "control/instance_priv.h"
#include "virtio/balloon.h"

static struct balloon *inst_balloon_get(struct inst *in, struct api_req *req)
{
	struct balloon *b;

	if (!in->vm_live || in->preserved) {
		api_reply_error(req, 404, "the VM is not running");
		return NULL;
	}
	if (!(b = balloon_of(&in->vm)))
		api_reply_error(req, 400, "the VM has no balloon device (balloon = 1)");
	return b;
}

json_t *inst_balloon_json(struct inst *in)
{
	struct balloon *b = in->vm_live ? balloon_of(&in->vm) : NULL;
	struct balloon_info bi;

	if (!b)
		return NULL;
	balloon_get_info(b, &bi);
	return json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:i, s:s, s:i, s:b,"
			 " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			 "target_pages", (json_int_t)bi.target_pages,
			 "actual_pages", (json_int_t)bi.actual_pages,
			 "target_mib", (json_int_t)((uint64_t)bi.target_pages * BQ_PAGE_SIZE >> 20),
			 "actual_mib", (json_int_t)((uint64_t)bi.actual_pages * BQ_PAGE_SIZE >> 20),
			 "deflate_on_oom", bi.deflate_on_oom,
			 "free_page_reporting", bi.free_page_reporting,
			 "vfio_allow", bi.vfio_allow,
			 "stats_polling_interval_s", (int)bi.stats_s,
			 "policy", bi.policy, "vfio_devices", (int)bi.vfio_devices,
			 "driver_ok", bi.driver_ok,
			 "pages", "inflated", (json_int_t)bi.c.inflated,
			 "deflated", (json_int_t)bi.c.deflated, "kept", (json_int_t)bi.c.kept,
			 "reported", (json_int_t)bi.c.reported, "bad_pfns", (json_int_t)bi.c.bad_pfns,
			 "discard_calls", (json_int_t)bi.c.discard_calls,
			 "discard_errors", (json_int_t)bi.c.discard_errors);
}

uint64_t inst_memory_actual(struct inst *in)
{
	struct balloon *b = in->vm_live ? balloon_of(&in->vm) : NULL;
	struct balloon_info bi;

	if (!b)
		return vm_config_ram(&in->cfg);
	balloon_get_info(b, &bi);
	return bi.ram - (uint64_t)bi.actual_pages * BQ_PAGE_SIZE;
}

static void inst_balloon_target(struct api_req *req, struct balloon *b, uint64_t bytes)
{
	char err[256];
	int r = balloon_set_target(b, bytes, err, sizeof(err));

	if (r)
		api_reply_error(req, r == -EPERM ? 409 : 400, "%s", err);
	else
		api_reply_json(req, 204, NULL);
}

void inst_balloon_resize(struct inst *in, struct api_req *req, int64_t bytes)
{
	struct balloon *b = inst_balloon_get(in, req);

	if (b)
		inst_balloon_target(req, b, (uint64_t)bytes);
}

static json_t *inst_balloon_stats(struct balloon *b)
{
	struct balloon_info bi;
	json_t *o;

	balloon_get_info(b, &bi);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I}",
		      "target_pages", (json_int_t)bi.target_pages,
		      "actual_pages", (json_int_t)bi.actual_pages,
		      "target_mib", (json_int_t)((uint64_t)bi.target_pages * BQ_PAGE_SIZE >> 20),
		      "actual_mib", (json_int_t)((uint64_t)bi.actual_pages * BQ_PAGE_SIZE >> 20),
		      "age_ms", (json_int_t)bi.stats_age_ms);
	for (unsigned int t = 0; o && t < BQ_STATS_TAGS; t++)
		if (bi.st.valid & (1u << t))
			json_object_set_new(o, bq_stat_name(t), json_integer((json_int_t)bi.st.value[t]));
	return o;
}

void inst_balloon_api(struct inst *in, struct api_req *req)
{
	struct balloon *b = inst_balloon_get(in, req);
	char err[256];
	int64_t n;
	int r;

	if (!b)
		return;
	switch (req->op) {
	case API_VM_BALLOON:
		inst_reply(req, 200, inst_balloon_json(in));
		return;
	case API_VM_BALLOON_SET:
		if (api_json_one_int(req->body, req->len, "amount_mib", 0, INT64_MAX >> 20, &n, err,
				     sizeof(err))) {
			api_reply_error(req, 400, "%s", err);
			return;
		}
		inst_balloon_target(req, b, (uint64_t)n << 20);
		return;
	case API_VM_BALLOON_STATS:
		if (!balloon_has_stats(b)) {
			api_reply_error(req, 400, "the balloon has no statistics queue (stats=SECONDS)");
			return;
		}
		inst_reply(req, 200, inst_balloon_stats(b));
		return;
	case API_VM_BALLOON_STATS_SET:
		if (api_json_one_int(req->body, req->len, "stats_polling_interval_s", 1,
				     BALLOON_STATS_MAX_S, &n, err, sizeof(err))) {
			api_reply_error(req, 400, "%s", err);
			return;
		}
		r = balloon_set_stats_interval(b, (unsigned int)n, err, sizeof(err));
		if (r)
			api_reply_error(req, 400, "%s", err);
		else
			api_reply_json(req, 204, NULL);
		return;
	default:
		api_reply_error(req, 404, "%s is not implemented", req->endpoint);
	}
}
