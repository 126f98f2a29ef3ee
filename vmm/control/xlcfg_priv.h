/* What xlcfg_parse.c and xlcfg.c share (xlcfg.h is the public interface;
 * xlc_ is their shared prefix, xl_ being xl.c's). xlcfg_parse.c owns the
 * xl.cfg syntax: the lexer, values (atoms and flat lists), `KEY = VALUE` /
 * `KEY += VALUE` statements, the string and list limits and xl's numbers.
 * It knows no key: each statement goes to the store callback, which
 * xlcfg.c (the key table, the apply order, overrides) supplies. Everything
 * here is pure and reports through xlc_fail: one line in err, "FILE:LINE:
 * why", or "KEY=VALUE: why" for an override. */
#ifndef ISLE_VMM_XLCFG_PRIV_H
#define ISLE_VMM_XLCFG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/xlcfg.h"

/* A statement's value: an atom (a string's decoded bytes or a number's
 * digits) or a flat list of atoms. Strings are owned: xlc_value_free. */
struct xlc_value {
	bool list;
	int line;
	char *str;                           /* !list */
	size_t len;                          /* strlen(str): += stays linear */
	unsigned int n;                      /* list */
	char *item[XLCFG_LIST_MAX];
	int item_line[XLCFG_LIST_MAX];
};

struct xlc_parser;

/* Records KEY (=|+=) v, v's line being line (add: +=). It may take v's
 * strings (and zero them); what it leaves, the parser frees. Non-zero
 * (an xlc_fail) ends the statements with that result. */
typedef int xlc_store_fn(struct xlc_parser *x, const char *key, int line, bool add,
			 struct xlc_value *v);

struct xlc_parser {
	const char *file;                    /* messages: "FILE:LINE: " */
	const char *kv;                      /* an override: "KEY=VALUE: " */
	char *err;
	size_t errlen;
	const char *p, *end;                 /* the lexer: [p, end), need not end in NUL */
	int line;                            /* p's line, from 1 */
	xlc_store_fn *store;
	void *ctx;                           /* store's own */
};

enum xlc_tok { T_EOF, T_NL, T_SEMI, T_IDENT, T_NUM, T_STR, T_LBR, T_RBR, T_COMMA, T_EQ, T_ADD };

struct xlc_token {
	enum xlc_tok t;
	int line;
	const char *s;                       /* T_IDENT, T_NUM: the text */
	size_t n;
	char *str;                           /* T_STR: decoded, owned */
};

/* Writes "FILE:LINE: why" (or "KEY=VALUE: why" when x->kv) to x->err;
 * returns r. */
__attribute__((format(printf, 4, 5)))
int xlc_fail(struct xlc_parser *x, int line, int r, const char *fmt, ...);

/* Frees v's strings and zeroes it. */
void xlc_value_free(struct xlc_value *v);

/* The next token at x->p into t (a comment is a T_NL; a T_STR's str is
 * the caller's to free). 0, or an xlc_fail: a bad number, escape or byte,
 * an unterminated string, a string over XLCFG_STRING_MAX. */
int xlc_lex(struct xlc_parser *x, struct xlc_token *t);

/* The value after = or += whose first token is t: an atom or a flat list
 * (newlines and comments allowed inside, a trailing comma too; no nesting,
 * at most XLCFG_LIST_MAX elements). On failure v may hold part of it. */
int xlc_value(struct xlc_parser *x, struct xlc_token *t, struct xlc_value *v);

/* Statements until x->end: KEY (=|+=) VALUE (\n|;|#|end), each handed to
 * x->store. KEY is cut to 63 bytes. 0, or the first failure. */
int xlc_statements(struct xlc_parser *x);

/* xl's strtol(s, NULL, 0), unsigned: 0x hex, a leading 0 octal. 0, or
 * -EINVAL (not such a number) / -ERANGE (above UINT64_MAX). */
int xlc_strtou(const char *s, uint64_t *out);

#endif
