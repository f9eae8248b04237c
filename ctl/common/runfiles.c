/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* runfiles.c - run-dir and state-dir files (see runfiles.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "common/runfiles.h"

int run_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int run_mkdir_p(const char *dir, mode_t mode)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(p, mode) && errno != EEXIST)
		return -1;
	if (run_dir_unsafe(p)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

const char *run_dir_unsafe(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;

	if (lstat(dir, &st))
		return "cannot be read";
	if (S_ISLNK(st.st_mode))
		return "is a symbolic link";
	if (!S_ISDIR(st.st_mode))
		return "is not a directory";
	if (st.st_uid != geteuid())
		return "is owned by another user";
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return "is writable by group or others";
	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return "has too long a name";
	for (char *slash = strrchr(p, '/'); slash && slash != p; slash = strrchr(p, '/')) {
		*slash = '\0';
		if (stat(p, &st))
			return "has a parent that cannot be read";
		if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
			return "has a parent writable by others (and not sticky)";
	}
	return NULL;
}

int run_open_read(const char *path)
{
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

int run_write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno == EEXIST && !unlink(tmp))	/* left by a crash */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd))
		err = errno ? errno : EIO;
	if (close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, path))
		err = errno;
	if (err) {
		unlink(tmp);
		errno = err;
		return -1;
	}
	return 0;
}

static bool is_xdpnat(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "xdpnat", 6);
}

pid_t run_read_pid(const char *run_dir)
{
	char path[PATH_MAX];
	FILE *f;
	int pid = 0;

	int fd;

	if (run_path(path, sizeof(path), run_dir, RUN_PID_FILE))
		return 0;
	fd = run_open_read(path);
	f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH) || !is_xdpnat(pid))
		return 0;
	return pid;
}
