/* The bridge policy parser (format and contract in bridge_policy.h). Every
 * byte of the file is checked; a problem is one message with FILE:LINE. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bridge_policy.h"

/* The same rule as valid_ifname in bridge-scripts/common.sh. */
bool bp_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > BP_NAME_MAX)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isascii(c) || !(isalnum(c) || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

struct bp_ctx {
	const char *origin;
	unsigned line;
	char *err;
	size_t errlen;
};

static int bp_fail(struct bp_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bp_fail(struct bp_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (c->errlen == 0)
		return -EINVAL;
	if (c->line)
		n = snprintf(c->err, c->errlen, "%s:%u: ", c->origin, c->line);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->origin);
	if (n < 0 || (size_t)n >= c->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Tokens are shown clipped: they are printable by then (the line was
 * checked), but may be long. */
#define TOK(p, n) (int)((n) > 40 ? 40 : (n)), (p)

/* Is NAME used anywhere in the entries parsed so far? */
static bool bp_name_taken(const struct bridge_policy *p, const char *name)
{
	unsigned i, k;

	for (i = 0; i < p->n; i++) {
		if (!strcmp(p->e[i].bridge, name))
			return true;
		for (k = 0; k < p->e[i].ncand; k++)
			if (!strcmp(p->e[i].cand[k], name))
				return true;
	}
	return false;
}

static int bp_copy_name(struct bp_ctx *c, char *dst, const char *key,
			const char *s, size_t n)
{
	if (!bp_name_ok(s, n))
		return bp_fail(c, "%s: invalid interface name '%.*s' "
			       "(1-15 of A-Z a-z 0-9 _ . -, not . or ..)", key, TOK(s, n));
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Parses one line (comment already cut off). Adds an entry to P unless the
 * line is blank. */
static int bp_parse_line(struct bp_ctx *c, struct bridge_policy *p,
			 const char *s, size_t n)
{
	struct bp_entry e;
	bool have_bridge = false, have_uplink = false, have_fallback = false;
	size_t i = 0;
	unsigned k, j;
	int rc;

	memset(&e, 0, sizeof(e));
	e.line = c->line;
	e.ncand = 1;
	for (;;) {
		size_t t, tn, eq;
		const char *key, *val;
		size_t keyn, valn;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			break;
		t = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		tn = i - t;
		for (eq = 0; eq < tn && s[t + eq] != '='; eq++)
			;
		if (eq == tn || eq == 0)
			return bp_fail(c, "expected key=value, got '%.*s'", TOK(s + t, tn));
		key = s + t;
		keyn = eq;
		val = s + t + eq + 1;
		valn = tn - eq - 1;

		if (keyn == 6 && !memcmp(key, "bridge", 6)) {
			if (have_bridge)
				return bp_fail(c, "bridge= given twice");
			have_bridge = true;
			rc = bp_copy_name(c, e.bridge, "bridge", val, valn);
		} else if (keyn == 6 && !memcmp(key, "uplink", 6)) {
			if (have_uplink)
				return bp_fail(c, "uplink= given twice");
			have_uplink = true;
			rc = bp_copy_name(c, e.cand[0], "uplink", val, valn);
		} else if (keyn == 8 && !memcmp(key, "fallback", 8)) {
			size_t a = 0, b;

			if (have_fallback)
				return bp_fail(c, "fallback= given twice");
			have_fallback = true;
			rc = 0;
			/* A comma-separated list; every element must be a name. */
			for (;;) {
				for (b = a; b < valn && val[b] != ','; b++)
					;
				if (e.ncand == 1 + BP_MAX_FALLBACK)
					return bp_fail(c, "fallback: more than %d names", BP_MAX_FALLBACK);
				rc = bp_copy_name(c, e.cand[e.ncand], "fallback", val + a, b - a);
				if (rc)
					return rc;
				e.ncand++;
				if (b == valn)
					break;
				a = b + 1;
			}
		} else {
			return bp_fail(c, "unknown key '%.*s' (known: bridge, uplink, fallback)",
				       TOK(key, keyn));
		}
		if (rc)
			return rc;
	}
	if (!have_bridge && !have_uplink && !have_fallback)
		return 0;       /* blank or comment-only line */
	if (!have_bridge)
		return bp_fail(c, "missing bridge=");
	if (!have_uplink)
		return bp_fail(c, "missing uplink= (for bridge %s)", e.bridge);

	for (k = 0; k < e.ncand; k++) {
		if (!strcmp(e.cand[k], e.bridge))
			return bp_fail(c, "%s is both the bridge and one of its NICs", e.bridge);
		for (j = 0; j < k; j++)
			if (!strcmp(e.cand[j], e.cand[k]))
				return bp_fail(c, "%s listed twice", e.cand[k]);
	}
	/* One owner per name: two bridges fighting over a NIC would rebind it
	 * back and forth. */
	if (bp_name_taken(p, e.bridge))
		return bp_fail(c, "%s already appears on an earlier line", e.bridge);
	for (k = 0; k < e.ncand; k++)
		if (bp_name_taken(p, e.cand[k]))
			return bp_fail(c, "%s already appears on an earlier line", e.cand[k]);
	if (p->n == BP_MAX_BRIDGES)
		return bp_fail(c, "more than %d bridges", BP_MAX_BRIDGES);
	p->e[p->n++] = e;
	return 0;
}

/* Parses LEN bytes of BUF (not NUL-terminated; any byte values) into P.
 * ORIGIN names the input in messages. Returns 0, or -EINVAL with a
 * one-line message in ERR; P is then left empty. */
int bp_parse(struct bridge_policy *p, const char *buf, size_t len,
	     const char *origin, char *err, size_t errlen)
{
	struct bp_ctx c = { .origin = origin, .err = err, .errlen = errlen };
	size_t pos = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	if (errlen)
		err[0] = '\0';
	if (len > BP_MAX_FILE)
		return bp_fail(&c, "larger than %d bytes", BP_MAX_FILE);
	while (pos < len) {
		const char *s = buf + pos;
		size_t n = 0, i, end;

		while (pos + n < len && s[n] != '\n')
			n++;
		pos += n + (pos + n < len);     /* skip the newline if any */
		c.line++;
		if (n > BP_MAX_LINE) {
			rc = bp_fail(&c, "line longer than %d bytes", BP_MAX_LINE);
			goto fail;
		}
		end = n;
		for (i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)s[i];

			if (ch == '#') {
				end = i;
				break;
			}
			if (ch == '\t' || (ch >= 0x20 && ch < 0x7f))
				continue;
			rc = bp_fail(&c, "invalid byte 0x%02x in column %zu%s", ch, i + 1,
				     ch == '\r' ? " (DOS line ending?)" : "");
			goto fail;
		}
		rc = bp_parse_line(&c, p, s, end);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	memset(p, 0, sizeof(*p));
	return rc;
}
