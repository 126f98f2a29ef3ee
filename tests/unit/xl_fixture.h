/* Helpers the xl verbs' tests share (test_xl.c, test_xl_console.c): a run
 * directory of their own ($ISLE_RUN_DIR), files in it, and xl_main() with
 * up to four arguments. */
#ifndef ISLE_TESTS_XL_FIXTURE_H
#define ISLE_TESTS_XL_FIXTURE_H

extern char xlf_dir[64];

/* xl_main(argv) for the non-NULL arguments given. */
int xlf_run(const char *a0, const char *a1, const char *a2, const char *a3);
/* Writes text to path (a CUnit fatal assertion if it cannot). */
void xlf_put(const char *path, const char *text);
/* Writes text to the run directory's NAME.SUFFIX. */
void xlf_touch(const char *name, const char *suffix, const char *text);
/* A fresh run directory, set as $ISLE_RUN_DIR; xlf_remove_dir deletes it. */
void xlf_setup_dir(void);
void xlf_remove_dir(void);

#endif
