/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* log.h - the daemon's log: one line per event on stderr, UTC timestamp. */
#ifndef XDPNAT_LOG_H
#define XDPNAT_LOG_H

void nat_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* XDPNAT_LOG_H */
