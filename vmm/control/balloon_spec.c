/* The balloon's option string (see balloon_spec.h). */
#include <errno.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/balloon_spec.h"
#include "control/config.h"
#include "control/vif.h"

static int balloon_onoff(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (!strcmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return err_msg(err, errlen, -EINVAL, "%s: '%.16s' is not on or off", key, v);
	return 0;
}

static int balloon_opt(struct vm_balloon *b, const char *key, const char *v, char *err,
		       size_t errlen)
{
	if (!strcmp(key, "deflate_on_oom"))
		return balloon_onoff(key, v, &b->deflate_on_oom, err, errlen);
	if (!strcmp(key, "free_page_reporting"))
		return balloon_onoff(key, v, &b->free_page_reporting, err, errlen);
	if (!strcmp(key, "stats")) {
		if (vif_parse_uint(v, 0, BALLOON_STATS_MAX_S, &b->stats_s))
			return err_msg(err, errlen, -EINVAL,
				       "stats: '%.16s' is not a number of seconds from 0 to %d", v,
				       BALLOON_STATS_MAX_S);
		return 0;
	}
	if (!strcmp(key, "vfio")) {
		if (strcmp(v, "refuse") && strcmp(v, "allow"))
			return err_msg(err, errlen, -EINVAL, "vfio: '%.16s' is not refuse or allow",
				       v);
		b->vfio_allow = !strcmp(v, "allow");
		return 0;
	}
	if (!strcmp(key, "size")) {
		if (config_parse_size(v, MiB, &b->size) || b->size % 4096)
			return err_msg(err, errlen, -EINVAL,
				       "size: '%.32s' is not a size in whole 4K pages (e.g. 512M)", v);
		return 0;
	}
	if (!strcmp(key, "id")) {
		if (strlen(v) >= sizeof(b->id))
			return err_msg(err, errlen, -EINVAL, "id: longer than %zu bytes",
				       sizeof(b->id) - 1);
		strcpy(b->id, v);
		return 0;
	}
	return err_msg(err, errlen, -EINVAL,
		       "unknown option '%.32s' (deflate_on_oom, stats, free_page_reporting, vfio, "
		       "size, id)", key);
}

int balloon_spec_parse(const char *text, struct vm_balloon *out, char *err, size_t errlen)
{
	struct vm_balloon b = { 0 };
	const char *p = text;
	int r;

	if (errlen)
		err[0] = '\0';
	if (!strcmp(text, "1") || !strcmp(text, "on"))
		p = "";
	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char key[24], val[64];

		eq = memchr(p, '=', len);
		if (!eq)
			return err_msg(err, errlen, -EINVAL, "'%.*s' is not KEY=VALUE", (int)MIN(len, 32),
				       p);
		if ((size_t)(eq - p) >= sizeof(key) || len - (size_t)(eq - p) - 1 >= sizeof(val))
			return err_msg(err, errlen, -EINVAL, "'%.*s': too long", (int)MIN(len, 32), p);
		memcpy(key, p, (size_t)(eq - p));
		key[eq - p] = '\0';
		memcpy(val, eq + 1, len - (size_t)(eq - p) - 1);
		val[len - (size_t)(eq - p) - 1] = '\0';
		if ((r = balloon_opt(&b, key, val, err, errlen)))
			return r;
		if (!end)
			break;
		p = end + 1;
	}
	*out = b;
	return 0;
}
