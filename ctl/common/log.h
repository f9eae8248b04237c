/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * log.h - the daemon's log: one line per event on stderr, each with a
 * syslog severity (LOG_ERR .. LOG_DEBUG from <syslog.h>).
 *
 * On a terminal or in a file a line is "TIMESTAMP xdpnat[PID]: message"
 * (UTC). When stderr is the systemd journal (JOURNAL_STREAM names it, as
 * systemd sets it for a service), a line is "<N>message": journald takes N
 * as the severity and adds time and pid itself. Lines less severe than the
 * threshold (`log-level`, default info) are not written.
 */
#ifndef XDPNAT_LOG_H
#define XDPNAT_LOG_H

#include <syslog.h>

void nat_log_at(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An event worth an operator's eye in normal operation: LOG_INFO. */
#define nat_log(...) nat_log_at(LOG_INFO, __VA_ARGS__)

/* The threshold: lines with a priority number above it are dropped. */
void nat_log_set_level(int prio);

/* "err", "warning", "notice", "info", "debug" -> LOG_*, -1 otherwise. */
int nat_log_level_parse(const char *name);
const char *nat_log_level_name(int prio);

#endif /* XDPNAT_LOG_H */
