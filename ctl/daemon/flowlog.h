/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * flowlog.h - the NAT log (`flow-log <file>|syslog`): one JSON line when a
 * flow starts and one when it ends (daemon/flowlog_fmt.h), for the record
 * of which inside host used which public address and port when.
 *
 * Where the events come from:
 *  - the data path sends START for every flow it creates and END for every
 *    flow it evicts into the ring buffer nat_flowlog (while
 *    nat_config.flow_log is set); the daemon's loop polls its fd, so no
 *    flow is missed however short it lives. A full ring is counted by the
 *    data path (nat_stats.flowlog_lost) and reported here once a second;
 *  - the ends the controller decides (timeout, TCP close, address change,
 *    flush) are logged where common/ctflow.c removes the flow, with the
 *    counters read just before (ctflow_set_end_hook()).
 * The file is appended to through a buffer flushed once per batch (a
 * write never waits on the next event); it is reopened by
 * flowlog_set_target() on every SIGHUP, for logrotate. A write that fails
 * (disk full) is counted, reported and never retried or waited on.
 */
#ifndef XDPNAT_FLOWLOG_H
#define XDPNAT_FLOWLOG_H

#include <stddef.h>
#include <stdint.h>
#include "common/maps.h"

struct flowlog;

/* A log with no target yet; `max_starts`: how many flows' start times it
 * keeps for "duration_s" (beyond that, an end line has none). */
struct flowlog *flowlog_new(size_t max_starts);

/* Log to `target`: "" none, "syslog", or a file path (opened for append,
 * created 0640). The same path again reopens it (SIGHUP after a
 * logrotate). 0, or -1 with the reason logged (the log then has no
 * target until the next call). */
int flowlog_set_target(struct flowlog *fl, const char *target);

/* Read nat_flowlog and nat_stats of `m`, and hook into ctflow. 0 or -1. */
int flowlog_attach(struct flowlog *fl, const struct nat_maps *m);

/* The fd to poll for events (-1 before flowlog_attach). */
int flowlog_fd(const struct flowlog *fl);

/* Log the events waiting in the ring, at most a batch; true if more may
 * be waiting. */
bool flowlog_process(struct flowlog *fl);

/* Write out what is buffered (end of a loop iteration). */
void flowlog_flush(struct flowlog *fl);

/* Once a second: report events lost since the last call, in the daemon's
 * log and as a "lost" line in the NAT log. */
void flowlog_tick(struct flowlog *fl);

/* Events written so far (tests, benchmark). */
uint64_t flowlog_written(const struct flowlog *fl);

void flowlog_free(struct flowlog *fl);

#endif /* XDPNAT_FLOWLOG_H */
