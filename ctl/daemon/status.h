/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * status.h - what the running daemon tells the CLI and operators: its pid
 * file and status.json in run-dir, and the daemon fields of nat_ctl_stats
 * (daemon_pid, daemon_started), which `bpftool map dump` shows too.
 */
#ifndef XDPNAT_STATUS_H
#define XDPNAT_STATUS_H

#include <stdbool.h>
#include <time.h>
#include <sys/types.h>
#include "common/maps.h"
#include "daemon/loader.h"

struct daemon_status {
	const struct nat_daemon *d;
	const struct nat_maps *m;	/* nat_ifaces (WAN addresses), nat_ctl_stats */
	time_t started;			/* CLOCK_REALTIME */
	bool pid_file_written;
};

/* <run-dir>/xdpnat.pid with our pid, and nat_ctl_stats' daemon fields. */
int status_daemon_started(struct daemon_status *st);

/* Remove the run files and clear nat_ctl_stats' daemon fields. */
void status_daemon_stopped(struct daemon_status *st);

/* <run-dir>/status.json: every interface, how it is attached, its address
 * (a WAN's as the data path uses it, from nat_ifaces) and gateway. */
int status_write(const struct daemon_status *st);

#endif /* XDPNAT_STATUS_H */
