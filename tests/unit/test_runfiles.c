/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_runfiles.c - ctl/common/runfiles.c: the files of run-dir and
 * state-dir are never written through a planted symbolic link, and a
 * directory someone else could write to is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "common/runfiles.h"

static char base[] = "/tmp/test_runfiles_XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(base))
		return -1;
	return chmod(base, 0755);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd);
}

static void path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", base, name);
}

static void test_mkdir_safe(void **state)
{
	char p[PATH_MAX];

	(void)state;
	path_of(p, "a/b/run");
	assert_int_equal(run_mkdir_p(p, 0755), 0);
	assert_null(run_dir_unsafe(p));
	assert_int_equal(run_mkdir_p(p, 0755), 0);	/* exists: fine */
}

static void test_unsafe_dirs(void **state)
{
	char p[PATH_MAX], target[PATH_MAX], q[PATH_MAX + 8];

	(void)state;
	path_of(p, "open");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(chmod(p, 0775), 0);
	assert_string_equal(run_dir_unsafe(p), "is writable by group or others");
	assert_int_equal(run_mkdir_p(p, 0755), -1);
	assert_int_equal(errno, EPERM);

	path_of(target, "real");
	path_of(p, "link");
	assert_int_equal(mkdir(target, 0755), 0);
	assert_int_equal(symlink(target, p), 0);
	assert_string_equal(run_dir_unsafe(p), "is a symbolic link");

	path_of(p, "theirs");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_string_equal(run_dir_unsafe(p), "is owned by another user");

	path_of(p, "world");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(chmod(p, 0777), 0);
	snprintf(q, sizeof(q), "%s/run", p);
	assert_int_equal(mkdir(q, 0755), 0);
	assert_string_equal(run_dir_unsafe(q), "has a parent writable by others (and not sticky)");
	assert_int_equal(chmod(p, 01777), 0);	/* sticky, like /tmp: fine */
	assert_null(run_dir_unsafe(q));
}

/* A link planted at the file's name, or at the temporary name, is
 * replaced, never followed: the file it points to stays untouched. */
static void test_write_never_follows(void **state)
{
	char victim[PATH_MAX], p[PATH_MAX], tmp[PATH_MAX + 32], buf[64] = "";
	FILE *f;
	int fd;

	(void)state;
	path_of(victim, "victim");
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	path_of(p, "status.json");
	assert_int_equal(symlink(victim, p), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", p, (int)getpid());
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(run_write_atomic(p, "{}\n", 3), 0);

	f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "precious\n");
	fd = run_open_read(p);
	assert_true(fd >= 0);	/* a regular file now */
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	close(fd);
}

static void test_read_never_follows(void **state)
{
	char victim[PATH_MAX], p[PATH_MAX];

	(void)state;
	path_of(victim, "victim2");
	close(open(victim, O_CREAT | O_WRONLY, 0600));
	path_of(p, "xdpnat.pid");
	assert_int_equal(symlink(victim, p), 0);
	assert_int_equal(run_open_read(p), -1);
	assert_int_equal(errno, ELOOP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkdir_safe),
		cmocka_unit_test(test_unsafe_dirs),
		cmocka_unit_test(test_write_never_follows),
		cmocka_unit_test(test_read_never_follows),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (chown)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
