/* The xl.cfg(5) syntax (owner: xlcfg_parse.c; shared with xlcfg.c through
 * control/xlcfg_priv.h, the language itself in control/xlcfg.h): a lexer
 * over [p, end) that needs no terminating NUL, strings in either quote with
 * C escapes, numbers, flat lists, and the statement loop that hands each
 * `KEY = VALUE` or `KEY += VALUE` to the caller's store callback (no
 * recursion: lists do not nest). It enforces the string and list limits and
 * knows no key: which keys exist, their types and what they do are
 * xlcfg.c's. Every message is one line: "FILE:LINE: why" or "KEY=VALUE:
 * why". Pure: no I/O, no globals. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/xlcfg_priv.h"

__attribute__((format(printf, 4, 5)))
int xlc_fail(struct xlc_parser *x, int line, int r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->kv)
		return err_msg(x->err, x->errlen, r, "%.128s: %s", x->kv, msg);
	return err_msg(x->err, x->errlen, r, "%.200s:%d: %s", x->file, line, msg);
}

void xlc_value_free(struct xlc_value *v)
{
	free(v->str);
	for (unsigned int i = 0; i < v->n; i++)
		free(v->item[i]);
	memset(v, 0, sizeof(*v));
}

/* --- the lexer --- */

static int xl_hex(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
	       ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

static bool xl_word(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.';
}

/* The C escape after a backslash at *s (s < e): the byte in *out. */
static int xl_escape(struct xlc_parser *x, const char **s, const char *e, char *out)
{
	static const char from[] = "\"'\\abfnrtv", to[] = "\"'\\\a\b\f\n\r\t\v";
	const char *p = *s, *simple;
	char ch = *p++;
	int v = 0, n;

	if ((simple = strchr(from, ch)) && ch) {
		v = to[simple - from];
	} else if (ch == 'x') {
		if (e - p < 2 || xl_hex(p[0]) < 0 || xl_hex(p[1]) < 0)
			return xlc_fail(x, x->line, -EINVAL,
					"syntax error: \\x needs two hex digits in a string");
		v = xl_hex(p[0]) << 4 | xl_hex(p[1]);
		p += 2;
	} else {
		if ((ch < '0' || ch > '7') && ch > 0x20 && ch < 0x7f)
			return xlc_fail(x, x->line, -EINVAL,
					"syntax error: unknown escape '\\%c' in a string", ch);
		if (ch < '0' || ch > '7')
			return xlc_fail(x, x->line, -EINVAL, "syntax error: byte 0x%02x after "
					"a backslash in a string", (unsigned char)ch);
		v = ch - '0';
		for (n = 1; n < 3 && p < e && *p >= '0' && *p <= '7'; n++)
			v = v * 8 + (*p++ - '0');
		if (v > 255)
			return xlc_fail(x, x->line, -EINVAL,
					"syntax error: octal escape above \\377 in a string");
	}
	if (!v)
		return xlc_fail(x, x->line, -EINVAL, "syntax error: a string cannot hold a NUL");
	*out = (char)v;
	*s = p;
	return 0;
}

/* A quoted string at x->p: to the same quote on the same line. */
static int xl_string(struct xlc_parser *x, struct xlc_token *t)
{
	const char *s = x->p + 1, *e = s;
	char q = *x->p, *o;
	int r;

	while (e < x->end && *e != q && *e != '\n') {
		if (*e != '\\')
			e++;
		else if (e + 1 < x->end && e[1] != '\n')
			e += 2;
		else
			break;
	}
	if (e >= x->end || *e != q)
		return xlc_fail(x, x->line, -EINVAL, "syntax error: unterminated string");
	if ((size_t)(e - s) > XLCFG_STRING_MAX)
		return xlc_fail(x, x->line, -EINVAL, "a string longer than %u bytes",
				XLCFG_STRING_MAX);
	t->t = T_STR;
	t->str = o = malloc((size_t)(e - s) + 1);
	if (!o)
		return xlc_fail(x, x->line, -ENOMEM, "out of memory");
	while (s < e) {
		if (*s && *s != '\\') {
			*o++ = *s++;
			continue;
		}
		r = *s++ ? xl_escape(x, &s, e, o++) :
		    xlc_fail(x, x->line, -EINVAL, "syntax error: a string cannot hold a NUL");
		if (r) {
			free(t->str);
			t->str = NULL;
			return r;
		}
	}
	*o = '\0';
	x->p = e + 1;
	return 0;
}

int xlc_lex(struct xlc_parser *x, struct xlc_token *t)
{
	const char *p = x->p;

	while (p < x->end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v'))
		p++;
	memset(t, 0, sizeof(*t));
	t->line = x->line;
	t->s = x->p = p;
	if (p == x->end)
		return 0;   /* T_EOF */
	switch (*p) {
	case '#':
		while (p < x->end && *p != '\n')
			p++;
		/* fall through */
	case '\n':
		if (p < x->end) {
			p++;
			x->line++;
		}
		t->t = T_NL;
		break;
	case ';': t->t = T_SEMI; p++; break;
	case '[': t->t = T_LBR; p++; break;
	case ']': t->t = T_RBR; p++; break;
	case ',': t->t = T_COMMA; p++; break;
	case '=': t->t = T_EQ; p++; break;
	case '+':
		if (p + 1 == x->end || p[1] != '=')
			return xlc_fail(x, x->line, -EINVAL, "syntax error: '+' without '='");
		t->t = T_ADD;
		p += 2;
		break;
	case '"':
	case '\'':
		return xl_string(x, t);
	default:
		if (*p >= '0' && *p <= '9') {
			t->t = T_NUM;
			if (*p == '0' && p + 2 < x->end && (p[1] == 'x' || p[1] == 'X') &&
			    xl_hex(p[2]) >= 0)
				for (p += 2; p < x->end && xl_hex(*p) >= 0; p++)
					;
			else
				while (p < x->end && *p >= '0' && *p <= '9')
					p++;
			if (p < x->end && xl_word(*p)) {
				while (p < x->end && xl_word(*p))
					p++;
				return xlc_fail(x, x->line, -EINVAL,
						"syntax error: '%.*s' is not a number (quote it)",
						(int)MIN(p - t->s, 32), t->s);
			}
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_') {
			t->t = T_IDENT;
			while (p < x->end && xl_word(*p))
				p++;
		} else if (*p > 0x20 && *p < 0x7f) {
			return xlc_fail(x, x->line, -EINVAL, "syntax error: unexpected '%c'", *p);
		} else {
			return xlc_fail(x, x->line, -EINVAL, "syntax error: unexpected byte 0x%02x",
					(unsigned char)*p);
		}
	}
	t->n = (size_t)(p - t->s);
	x->p = p;
	return 0;
}

/* The next token that is not a newline or comment (inside a list). */
static int xl_lex_nl(struct xlc_parser *x, struct xlc_token *t)
{
	int r;

	while (!(r = xlc_lex(x, t)) && t->t == T_NL)
		;
	return r;
}

static int xl_unexpected(struct xlc_parser *x, const struct xlc_token *t, const char *want)
{
	if (t->t == T_EOF)
		return xlc_fail(x, t->line, -EINVAL, "syntax error: %s, not the end", want);
	if (t->t == T_NL)
		return xlc_fail(x, t->line, -EINVAL, "syntax error: %s, not the end of the line",
				want);
	if (t->t == T_STR)
		return xlc_fail(x, t->line, -EINVAL, "syntax error: %s, not a string", want);
	return xlc_fail(x, t->line, -EINVAL, "syntax error: %s, not '%.*s'", want,
			(int)MIN(t->n, 32), t->s);
}

/* An atom's text, owned: a string's decoded bytes or a number's digits. */
static char *xl_take(struct xlc_token *t)
{
	char *s = t->str;

	t->str = NULL;
	if (t->t == T_NUM && (s = malloc(t->n + 1))) {
		memcpy(s, t->s, t->n);
		s[t->n] = '\0';
	}
	return s;
}

/* --- statements --- */

/* The value after = or += starting at t: an atom or a flat list. */
int xlc_value(struct xlc_parser *x, struct xlc_token *t, struct xlc_value *v)
{
	int open = t->line, r;

	v->line = t->line;
	if (t->t == T_NUM || t->t == T_STR) {
		if (!(v->str = xl_take(t)))
			return xlc_fail(x, t->line, -ENOMEM, "out of memory");
		v->len = strlen(v->str);
		return 0;
	}
	if (t->t != T_LBR)
		return xl_unexpected(x, t, "expected a value (a number, a \"string\" or a [list])");
	v->list = true;
	for (;;) {
		if ((r = xl_lex_nl(x, t)))
			return r;
		if (t->t == T_RBR)
			return 0;
		if (t->t == T_EOF)
			return xlc_fail(x, open, -EINVAL, "syntax error: '[' without ']'");
		if (t->t == T_LBR)
			return xlc_fail(x, t->line, -EINVAL, "syntax error: lists cannot nest");
		if (t->t != T_NUM && t->t != T_STR)
			return xl_unexpected(x, t, "expected a list element or ']'");
		if (v->n == XLCFG_LIST_MAX) {
			free(t->str);
			t->str = NULL;
			return xlc_fail(x, t->line, -EINVAL, "a list longer than %d elements",
					XLCFG_LIST_MAX);
		}
		v->item_line[v->n] = t->line;
		if (!(v->item[v->n] = xl_take(t)))
			return xlc_fail(x, t->line, -ENOMEM, "out of memory");
		v->n++;
		if ((r = xl_lex_nl(x, t)))
			return r;
		if (t->t == T_RBR)
			return 0;
		if (t->t == T_EOF)
			return xlc_fail(x, open, -EINVAL, "syntax error: '[' without ']'");
		if (t->t != T_COMMA)
			return xl_unexpected(x, t, "expected ',' or ']' in a list");
	}
}

/* Statements until the end of [p, end): KEY (=|+=) VALUE (\n|;|#|end). */
int xlc_statements(struct xlc_parser *x)
{
	struct xlc_value *v = calloc(1, sizeof(*v));
	struct xlc_token t = { 0 };
	char key[64];
	int line, r = 0;
	bool add;

	if (!v)
		return xlc_fail(x, x->line, -ENOMEM, "out of memory");
	for (;;) {
		if ((r = xlc_lex(x, &t)) || t.t == T_EOF)
			break;
		if (t.t == T_NL || t.t == T_SEMI)
			continue;
		if (t.t != T_IDENT) {
			r = xl_unexpected(x, &t, "expected KEY = VALUE");
			break;
		}
		line = t.line;
		snprintf(key, sizeof(key), "%.*s", (int)MIN(t.n, sizeof(key) - 1), t.s);
		if ((r = xlc_lex(x, &t)))
			break;
		if (t.t != T_EQ && t.t != T_ADD) {
			r = xl_unexpected(x, &t, "expected '=' or '+=' after the key");
			break;
		}
		add = t.t == T_ADD;
		if ((r = xlc_lex(x, &t)) || (r = xlc_value(x, &t, v)))
			break;
		if ((r = xlc_lex(x, &t)))
			break;
		if (t.t != T_NL && t.t != T_SEMI && t.t != T_EOF) {
			r = xl_unexpected(x, &t, "expected a new line or ';' after the value");
			break;
		}
		if ((r = x->store(x, key, line, add, v)) || t.t == T_EOF)
			break;
		xlc_value_free(v);
	}
	free(t.str);
	xlc_value_free(v);
	free(v);
	return r;
}

/* --- numbers --- */

/* xl's strtol(s, NULL, 0), unsigned: 0x hex, a leading 0 octal. */
int xlc_strtou(const char *s, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		base = 8;
		s++;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d = xl_hex(*s);

		if (d < 0 || (unsigned int)d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - (unsigned int)d) / base)
			return -ERANGE;
		v = v * base + (unsigned int)d;
	}
	*out = v;
	return 0;
}
