/* The xl tests' shared helpers (xl_fixture.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cunit.h"
#include "xl_fixture.h"
#include "control/rundir.h"
#include "control/xl.h"

char xlf_dir[64];

int xlf_run(const char *a0, const char *a1, const char *a2, const char *a3)
{
	const char *v[] = { a0, a1, a2, a3, NULL };
	char *argv[5];
	int argc = 0;

	for (; v[argc]; argc++)
		argv[argc] = (char *)v[argc];
	argv[argc] = NULL;
	fflush(stdout);
	return xl_main(argc, argv);
}

void xlf_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

void xlf_touch(const char *name, const char *suffix, const char *text)
{
	char p[4096];

	rundir_path(p, sizeof(p), name, suffix);
	xlf_put(p, text);
}

void xlf_setup_dir(void)
{
	snprintf(xlf_dir, sizeof(xlf_dir), "/tmp/isle-xl-test.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(xlf_dir));
	setenv("ISLE_RUN_DIR", xlf_dir, 1);
}

void xlf_remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", xlf_dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	unsetenv("ISLE_RUN_DIR");
}
