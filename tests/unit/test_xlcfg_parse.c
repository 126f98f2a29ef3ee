/* Unit tests for vmm/control/xlcfg_parse.c, the xl.cfg syntax under
 * xlcfg.c, through control/xlcfg_priv.h: the tokens xlc_lex makes, string
 * escapes, values and flat lists (nesting refused), the statements handed
 * to a recording store callback, the string and list limits, xl's numbers
 * (xlc_strtou) and the message format. What the keys mean is
 * test_xlcfg.c's. Inputs are copied to a buffer of their exact length, so
 * ASan sees any read past the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/xlcfg_priv.h"

/* A parser over a private copy of text[0, len): free(x->ctx) when done. */
static void parser_init(struct xlc_parser *x, const char *text, size_t len, char *err,
			size_t errlen)
{
	char *copy = malloc(len ? len : 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, text, len);
	*x = (struct xlc_parser){ .file = "p.cfg", .err = err, .errlen = errlen, .p = copy,
				  .end = copy + len, .line = 1, .ctx = copy };
	err[0] = '\0';
}

/* The one token of text (then the end), or its error. */
static int lex_one(const char *text, size_t len, struct xlc_token *t, char *err, size_t errlen)
{
	struct xlc_parser x;
	int r;

	parser_init(&x, text, len, err, errlen);
	r = xlc_lex(&x, t);
	free(x.ctx);
	t->s = NULL;   /* pointed into the copy */
	return r;
}

static void test_tokens(void)
{
	static const char text[] = "name += 0x1f;[\t'a' , 007 ] = # c\r\nnext_1.x\r\n";
	static const struct { enum xlc_tok t; int line; const char *s; } want[] = {
		{ T_IDENT, 1, "name" }, { T_ADD, 1, "+=" }, { T_NUM, 1, "0x1f" },
		{ T_SEMI, 1, ";" }, { T_LBR, 1, "[" }, { T_STR, 1, NULL }, { T_COMMA, 1, "," },
		{ T_NUM, 1, "007" }, { T_RBR, 1, "]" }, { T_EQ, 1, "=" }, { T_NL, 1, NULL },
		{ T_IDENT, 2, "next_1.x" }, { T_NL, 2, "\n" }, { T_EOF, 3, "" }, { T_EOF, 3, "" },
	};
	struct xlc_parser x;
	struct xlc_token t;
	char err[256];

	parser_init(&x, text, sizeof(text) - 1, err, sizeof(err));
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++) {
		CU_ASSERT_EQUAL_FATAL(xlc_lex(&x, &t), 0);
		CU_ASSERT_EQUAL(t.t, want[i].t);
		CU_ASSERT_EQUAL(t.line, want[i].line);
		if (want[i].s)
			CU_ASSERT(t.n == strlen(want[i].s) && !memcmp(t.s, want[i].s, t.n));
		if (t.t == T_STR)
			CU_ASSERT_STRING_EQUAL(t.str, "a");
		free(t.str);
	}
	CU_ASSERT_PTR_EQUAL(x.p, x.end);
	CU_ASSERT_EQUAL(x.line, 3);
	free(x.ctx);

	CU_ASSERT_EQUAL(lex_one("0X1F", 4, &t, err, sizeof(err)), 0);
	CU_ASSERT(t.t == T_NUM && t.n == 4);
	CU_ASSERT_EQUAL(lex_one("12ab", 4, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: '12ab' is not a number (quote it)");
	CU_ASSERT_EQUAL(lex_one("0xg", 3, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'0xg' is not a number"));
	CU_ASSERT_EQUAL(lex_one("1.5", 3, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(lex_one("+ =", 3, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: '+' without '='");
	CU_ASSERT_EQUAL(lex_one("+", 1, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(lex_one("@", 1, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: unexpected '@'");
	CU_ASSERT_EQUAL(lex_one("\x01", 1, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: unexpected byte 0x01");
	CU_ASSERT_EQUAL(lex_one("\xc3\xa9", 2, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: unexpected byte 0xc3");
	CU_ASSERT_EQUAL(lex_one("# no newline", 12, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.t, T_NL);
}

static void test_escapes(void)
{
	static const struct { const char *text, *want; } good[] = {
		{ "\"\\\\\\\"\\'\\a\\b\\f\\n\\r\\t\\v\"", "\\\"'\a\b\f\n\r\t\v" },
		{ "'\\x41\\x6a\\x7E\\101\\7z\\0101'", "Aj~A\az\b1" },
		{ "'say \"hi\"'", "say \"hi\"" },
		{ "\"it's\"", "it's" },
		{ "''", "" },
		{ "'\\377'", "\377" },
	};
	static const struct { const char *text; size_t len; const char *msg; } bad[] = {
		{ "'\\q'", 4, "p.cfg:1: syntax error: unknown escape '\\q' in a string" },
		{ "'\\x4'", 5, "p.cfg:1: syntax error: \\x needs two hex digits in a string" },
		{ "'\\x4", 4, "p.cfg:1: syntax error: unterminated string" },
		{ "'\\400'", 6, "p.cfg:1: syntax error: octal escape above \\377 in a string" },
		{ "'\\0'", 4, "p.cfg:1: syntax error: a string cannot hold a NUL" },
		{ "'\\x00'", 6, "p.cfg:1: syntax error: a string cannot hold a NUL" },
		{ "'a\0b'", 5, "p.cfg:1: syntax error: a string cannot hold a NUL" },
		{ "'\\\001'", 4, "p.cfg:1: syntax error: byte 0x01 after a backslash in a string" },
		{ "'abc", 4, "p.cfg:1: syntax error: unterminated string" },
		{ "'abc\"", 5, "p.cfg:1: syntax error: unterminated string" },
		{ "'ab\nc'", 6, "p.cfg:1: syntax error: unterminated string" },
		{ "'ab\\\nc'", 7, "p.cfg:1: syntax error: unterminated string" },
		{ "'ab\\", 4, "p.cfg:1: syntax error: unterminated string" },
		{ "'abc'", 4, "p.cfg:1: syntax error: unterminated string" },   /* len cuts it */
	};
	struct xlc_parser x;
	struct xlc_token t;
	char err[256];

	for (unsigned int i = 0; i < ARRAY_SIZE(good); i++) {
		CU_ASSERT_EQUAL_FATAL(lex_one(good[i].text, strlen(good[i].text), &t, err,
					      sizeof(err)), 0);
		CU_ASSERT_EQUAL(t.t, T_STR);
		CU_ASSERT_STRING_EQUAL(t.str, good[i].want);
		free(t.str);
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		CU_ASSERT_EQUAL(lex_one(bad[i].text, bad[i].len, &t, err, sizeof(err)), -EINVAL);
		CU_ASSERT_PTR_NULL(t.str);
		CU_ASSERT_STRING_EQUAL(err, bad[i].msg);
	}
	/* The message names the string's line. */
	parser_init(&x, "\n\n'\\q'", 6, err, sizeof(err));
	CU_ASSERT_EQUAL(xlc_lex(&x, &t), 0);
	CU_ASSERT_EQUAL(xlc_lex(&x, &t), 0);
	CU_ASSERT_EQUAL(xlc_lex(&x, &t), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "p.cfg:3: syntax error: unknown escape"));
	free(x.ctx);
}

/* xlc_value over text; v must be xlc_value_free()d. */
static int value_of(const char *text, struct xlc_value *v, char *err, size_t errlen)
{
	struct xlc_parser x;
	struct xlc_token t;
	int r;

	memset(v, 0, sizeof(*v));
	parser_init(&x, text, strlen(text), err, errlen);
	r = xlc_lex(&x, &t);
	if (!r)
		r = xlc_value(&x, &t, v);
	free(t.str);
	free(x.ctx);
	return r;
}

static void test_values(void)
{
	struct xlc_value *v = calloc(1, sizeof(*v));
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(value_of("0x10", v, err, sizeof(err)), 0);
	CU_ASSERT(!v->list && v->line == 1 && v->len == 4 && !strcmp(v->str, "0x10"));
	xlc_value_free(v);
	CU_ASSERT(!v->str && !v->n);
	CU_ASSERT_EQUAL(value_of("'x\\ty'", v, err, sizeof(err)), 0);
	CU_ASSERT(!v->list && v->len == 3 && !strcmp(v->str, "x\ty"));
	xlc_value_free(v);
	CU_ASSERT_EQUAL(value_of("[ 'a', 1,\n  # c\n\n 'b', ]", v, err, sizeof(err)), 0);
	CU_ASSERT(v->list && v->line == 1 && v->n == 3 && !v->str);
	CU_ASSERT(!strcmp(v->item[0], "a") && !strcmp(v->item[1], "1") && !strcmp(v->item[2], "b"));
	CU_ASSERT(v->item_line[0] == 1 && v->item_line[1] == 1 && v->item_line[2] == 4);
	xlc_value_free(v);
	CU_ASSERT_EQUAL(value_of("[\n]", v, err, sizeof(err)), 0);
	CU_ASSERT(v->list && v->n == 0);
	xlc_value_free(v);

	/* Lists do not nest, wherever the inner '[' is. */
	CU_ASSERT_EQUAL(value_of("[ 'a', [ 'b' ] ]", v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: lists cannot nest");
	xlc_value_free(v);
	CU_ASSERT_EQUAL(value_of("[\n\n[]]", v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:3: syntax error: lists cannot nest");
	xlc_value_free(v);
	/* An unclosed list is reported at its '['. */
	CU_ASSERT_EQUAL(value_of("[ 'a',\n 'b'\n", v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: '[' without ']'");
	xlc_value_free(v);
	CU_ASSERT_EQUAL(value_of("[ 'a' 'b' ]", v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: expected ',' or ']' in a list, "
			       "not a string");
	xlc_value_free(v);
	CU_ASSERT_EQUAL(value_of("[ , ]", v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: expected a list element or ']', "
			       "not ','");
	xlc_value_free(v);
	CU_ASSERT_EQUAL(value_of("= 1", v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "expected a value (a number, a \"string\" or a [list]), "
				      "not '='"));
	xlc_value_free(v);
	free(v);
}

/* What the recording store callback saw. */
struct seen {
	unsigned int n;
	char key[8][64];
	bool add[8];
	int line[8];
	char val[8][64];                     /* an atom, or the list's items joined by '|' */
	const char *refuse;                  /* this key fails */
};

static int record(struct xlc_parser *x, const char *key, int line, bool add,
		  struct xlc_value *v)
{
	struct seen *s = x->ctx;
	unsigned int i = s->n;

	if (s->refuse && !strcmp(key, s->refuse))
		return xlc_fail(x, line, -ENOTSUP, "%s: refused", key);
	CU_ASSERT_FATAL(i < ARRAY_SIZE(s->key));
	snprintf(s->key[i], sizeof(s->key[i]), "%s", key);
	s->add[i] = add;
	s->line[i] = line;
	if (!v->list)
		snprintf(s->val[i], sizeof(s->val[i]), "%s", v->str);
	for (unsigned int j = 0; v->list && j < v->n; j++)
		snprintf(s->val[i] + strlen(s->val[i]), sizeof(s->val[i]) - strlen(s->val[i]),
			 "%s%s", j ? "|" : "", v->item[j]);
	if (v->list) {   /* takes the items, as xlcfg.c may */
		for (unsigned int j = 0; j < v->n; j++)
			free(v->item[j]);
		v->n = 0;
	}
	s->n++;
	return 0;
}

/* xlc_statements over text with s as the store's (zeroed first, then
 * refusing the key refuse if not NULL); kv: as for an override. */
static int statements(const char *text, const char *kv, const char *refuse, struct seen *s,
		      char *err, size_t errlen)
{
	struct xlc_parser x;
	char *copy;
	int r;

	memset(s, 0, sizeof(*s));
	s->refuse = refuse;
	parser_init(&x, text, strlen(text), err, errlen);
	copy = x.ctx;
	x.kv = kv;
	x.store = record;
	x.ctx = s;
	r = xlc_statements(&x);
	free(copy);
	return r;
}

static void test_statements(void)
{
	struct seen s;
	char err[256];

	CU_ASSERT_EQUAL(statements("a = 1\nb += 'x'; c = [ 'y',\n 'z' ]  # end\n\n;;d=2", NULL,
				   NULL, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 4);
	CU_ASSERT(!strcmp(s.key[0], "a") && !s.add[0] && s.line[0] == 1 && !strcmp(s.val[0], "1"));
	CU_ASSERT(!strcmp(s.key[1], "b") && s.add[1] && s.line[1] == 2 && !strcmp(s.val[1], "x"));
	CU_ASSERT(!strcmp(s.key[2], "c") && !s.add[2] && s.line[2] == 2 &&
		  !strcmp(s.val[2], "y|z"));
	CU_ASSERT(!strcmp(s.key[3], "d") && s.line[3] == 5 && !strcmp(s.val[3], "2"));
	CU_ASSERT_EQUAL(statements("", NULL, NULL, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(statements("\n# only\n;\n", NULL, NULL, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.n, 0);

	CU_ASSERT_EQUAL(statements("a 1", NULL, NULL, &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: expected '=' or '+=' after the key, "
			       "not '1'");
	CU_ASSERT_EQUAL(statements("\n= 1", NULL, NULL, &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:2: syntax error: expected KEY = VALUE, not '='");
	CU_ASSERT_EQUAL(statements("'a' = 1", NULL, NULL, &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: expected KEY = VALUE, not a string");
	CU_ASSERT_EQUAL(statements("a = 1 'x'", NULL, NULL, &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: syntax error: expected a new line or ';' after the "
			       "value, not a string");
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(statements("a =", NULL, NULL, &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "[list]), not the end"));

	/* The store's failure ends the statements; those before it were stored. */
	CU_ASSERT_EQUAL(statements("a = 1\nb = ['x']\nc = 2", NULL, NULL, &s, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT_EQUAL(statements("a = 1\nb = ['x']\nc = 2", NULL, "b", &s, err, sizeof(err)),
			-ENOTSUP);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:2: b: refused");
	CU_ASSERT_EQUAL(s.n, 1);
	/* An override's messages name it instead of FILE:LINE. */
	CU_ASSERT_EQUAL(statements("vcpus=2 3", "vcpus=2 3", NULL, &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "vcpus=2 3: syntax error: expected a new line or ';' after "
			       "the value, not '3'");
}

static void test_limits(void)
{
	static char text[XLCFG_STRING_MAX + 64];
	struct xlc_value *v = calloc(1, sizeof(*v));
	struct xlc_token t;
	struct seen s;
	char err[256];
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	/* A string of XLCFG_STRING_MAX bytes, not one more. */
	text[0] = '\'';
	memset(text + 1, 'a', XLCFG_STRING_MAX + 1);
	text[XLCFG_STRING_MAX + 1] = '\'';
	CU_ASSERT_EQUAL(lex_one(text, XLCFG_STRING_MAX + 2, &t, err, sizeof(err)), 0);
	CU_ASSERT(t.t == T_STR && strlen(t.str) == XLCFG_STRING_MAX);
	free(t.str);
	text[XLCFG_STRING_MAX + 1] = 'a';
	text[XLCFG_STRING_MAX + 2] = '\'';
	CU_ASSERT_EQUAL(lex_one(text, XLCFG_STRING_MAX + 3, &t, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:1: a string longer than 65536 bytes");
	CU_ASSERT_PTR_NULL(t.str);

	/* A list of XLCFG_LIST_MAX elements, one a line, not one more. */
	n = (size_t)sprintf(text, "[");
	for (int i = 0; i < XLCFG_LIST_MAX; i++)
		n += (size_t)sprintf(text + n, "'e%d',\n", i);
	strcpy(text + n, "]");
	CU_ASSERT_EQUAL(value_of(text, v, err, sizeof(err)), 0);
	CU_ASSERT(v->n == XLCFG_LIST_MAX && !strcmp(v->item[XLCFG_LIST_MAX - 1], "e63"));
	CU_ASSERT_EQUAL(v->item_line[XLCFG_LIST_MAX - 1], XLCFG_LIST_MAX);
	xlc_value_free(v);
	strcpy(text + n, "'x']");
	CU_ASSERT_EQUAL(value_of(text, v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "p.cfg:65: a list longer than 64 elements");
	xlc_value_free(v);
	strcpy(text + n, "7]");
	CU_ASSERT_EQUAL(value_of(text, v, err, sizeof(err)), -EINVAL);
	xlc_value_free(v);
	free(v);

	/* A key is cut to 63 bytes. */
	memset(text, 'k', 100);
	strcpy(text + 100, " = 1");
	CU_ASSERT_EQUAL(statements(text, NULL, NULL, &s, err, sizeof(err)), 0);
	CU_ASSERT(s.n == 1 && strlen(s.key[0]) == 63 && s.key[0][62] == 'k');
}

static void test_strtou(void)
{
	static const struct { const char *s; int r; uint64_t v; } cases[] = {
		{ "0", 0, 0 }, { "42", 0, 42 }, { "0x1f", 0, 31 }, { "0X1F", 0, 31 },
		{ "0100", 0, 64 }, { "00", 0, 0 }, { "18446744073709551615", 0, UINT64_MAX },
		{ "0xffffffffffffffff", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 }, { "0x10000000000000000", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "0x", -EINVAL, 0 }, { "08", -EINVAL, 0 },
		{ "12a", -EINVAL, 0 }, { "512M", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 12345;

		CU_ASSERT_EQUAL(xlc_strtou(cases[i].s, &v), cases[i].r);
		CU_ASSERT_EQUAL(v, cases[i].r ? 12345 : cases[i].v);
	}
}

/* xlc_fail: one line whatever the file name holds, cut to the buffer. */
static void test_fail(void)
{
	struct xlc_parser x = { .file = "a\nb.cfg" };
	char err[256], tiny[8];

	x.err = err;
	x.errlen = sizeof(err);
	CU_ASSERT_EQUAL(xlc_fail(&x, 7, -EINVAL, "%s: %d", "k\tv", 3), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "a?b.cfg:7: k?v: 3");
	x.kv = "memory=1";
	CU_ASSERT_EQUAL(xlc_fail(&x, 7, -ENOTSUP, "why"), -ENOTSUP);
	CU_ASSERT_STRING_EQUAL(err, "memory=1: why");
	x.err = tiny;
	x.errlen = sizeof(tiny);
	CU_ASSERT_EQUAL(xlc_fail(&x, 1, -EINVAL, "why"), -EINVAL);
	CU_ASSERT_STRING_EQUAL(tiny, "memory=");
	x.err = NULL;
	x.errlen = 0;
	CU_ASSERT_EQUAL(xlc_fail(&x, 1, -ENOMEM, "why"), -ENOMEM);
}

void unit_register(void)
{
	UNIT_SUITE("xlcfg_parse", UNIT_TEST(test_tokens), UNIT_TEST(test_escapes),
		   UNIT_TEST(test_values), UNIT_TEST(test_statements), UNIT_TEST(test_limits),
		   UNIT_TEST(test_strtou), UNIT_TEST(test_fail));
}
