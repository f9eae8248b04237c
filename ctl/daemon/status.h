/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * status.h - what the daemon tells the CLI, operators and the next run:
 * its pid file and status.json in run-dir, and the daemon fields of
 * nat_ctl_stats (daemon_pid, daemon_started), which `bpftool map dump`
 * shows too.
 *
 * status.json outlives the daemon: a stopped daemon leaves the data path
 * attached, and the file then says so ("state": "stopped", since when).
 * It is also the record of what xdpnat added to the system (which clsact
 * qdiscs and filters, the pin directory and bpffs mount it made), which
 * the next run adopts and `xdpnat detach` removes.
 */
#ifndef XDPNAT_STATUS_H
#define XDPNAT_STATUS_H

#include <stdbool.h>
#include <time.h>
#include <sys/types.h>
#include <net/if.h>
#include "common/maps.h"
#include "daemon/loader.h"
#include "wan/failover.h"

struct daemon_status {
	const struct nat_daemon *d;
	const struct nat_maps *m;	/* nat_ifaces (WAN addresses), nat_ctl_stats */
	time_t started;			/* CLOCK_REALTIME */
	bool pid_file_written;
	bool stopped;			/* status.json says so */
	const char *alg;		/* "running", "failed" (degraded) or "off" */
	char metrics[32];		/* "A.B.C.D:PORT" served now, "" = none */
	const struct failover *fo;	/* WAN health ("failover"), or NULL */
	time_t stopped_at;
};

/* <run-dir>/xdpnat.pid with our pid, and nat_ctl_stats' daemon fields. */
int status_daemon_started(struct daemon_status *st);

/* The daemon stops, the data path stays: remove the pid file, clear
 * nat_ctl_stats' daemon fields, and mark status.json stopped. */
void status_daemon_stopped(struct daemon_status *st);

/* <run-dir>/status.json: every interface, how it is attached, its address
 * (a WAN's as the data path uses it, from nat_ifaces) and gateway. */
int status_write(const struct daemon_status *st);

/* What a previous run recorded in status.json that the next run or
 * `xdpnat detach` needs. */
struct status_link {
	char ifname[IF_NAMESIZE];
	int ifindex;
	bool clsact_created;
	__u32 tc_handle, tc_priority;
};

struct status_record {
	int nlinks;
	struct status_link links[2 * CFG_MAX_IFACES];
	char bpffs_mounted[CFG_PATH_MAX];
	char pin_dir_made[CFG_PATH_MAX];
};

/* 0 and *out filled, or -1 (no record: *out empty). */
int status_read_record(const char *run_dir, struct status_record *out);

/* The metrics endpoint the daemon recorded as serving ("" if none) in
 * buf. 0, or -1 without a status.json. */
int status_read_metrics(const char *run_dir, char *buf, size_t size);

/* Remove status.json and the pid file (after `xdpnat detach`). */
void status_remove(const char *run_dir);

#endif /* XDPNAT_STATUS_H */
