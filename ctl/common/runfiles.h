/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * runfiles.h - the files xdpnat keeps outside the kernel: in run-dir
 * (what the daemon is doing now: pid, status, DDNS status; gone after a
 * clean stop) and in state-dir (what must outlive a restart: DDNS state,
 * PCP/NAT-PMP mappings).
 * Every module that writes or reads one goes through here, so the names,
 * the atomic replace and the directory rules are in one place.
 */
#ifndef XDPNAT_RUNFILES_H
#define XDPNAT_RUNFILES_H

#include <stddef.h>
#include <sys/types.h>

/* Under run-dir. */
#define RUN_PID_FILE		"xdpnat.pid"	/* the daemon's pid */
#define RUN_STATUS_FILE		"status.json"	/* interfaces and how they are attached */
#define RUN_DDNS_FILE		"ddns.json"	/* one entry per DDNS name */
#define RUN_LOCK_FILE		"xdpnat.lock"	/* flock: one daemon per run-dir */
/* Under state-dir. */
#define STATE_DDNS_DIR		"ddns"		/* one file per DDNS name */
#define STATE_PORTMAP_FILE	"portmap.json"	/* PCP/NAT-PMP mappings, epoch, counters */

/* buf = dir/name; -1 (errno ENAMETOOLONG) if it does not fit. */
int run_path(char *buf, size_t len, const char *dir, const char *name);

/*
 * mkdir -p; the last component gets `mode`, parents 0755. The directory
 * must then be safe to keep our files in (run_dir_unsafe()): -1 with
 * errno EPERM if not. 0 or -1 (errno).
 */
int run_mkdir_p(const char *dir, mode_t mode);

/*
 * NULL if `dir` is a real directory (not a symbolic link) owned by us and
 * writable by nobody else, and every parent is either not writable by
 * others or sticky (/tmp); else what is wrong, for the log. Anyone who
 * can write there could swap our files for links to elsewhere.
 */
const char *run_dir_unsafe(const char *dir);

/* Replace `path` with `len` bytes of `data` so that readers see the old
 * or the new file, never half of one (a temporary file made with O_EXCL
 * in the same directory, fsync, rename: a link planted at either name is
 * replaced, never followed). 0 or -1 (errno). */
int run_write_atomic(const char *path, const char *data, size_t len);

/* Open a file of ours for reading without following a symbolic link.
 * The fd, or -1 (errno). */
int run_open_read(const char *path);

/* The pid recorded in run_dir's pid file if that process is alive and is
 * an xdpnat, else 0 (a pid file left by a killed daemon may name a pid
 * reused since). */
pid_t run_read_pid(const char *run_dir);

#endif /* XDPNAT_RUNFILES_H */
