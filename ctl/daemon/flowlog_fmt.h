/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * flowlog_fmt.h - one line of the NAT log (`flow-log`), as JSON: the pure
 * part of daemon/flowlog.c, kept apart from its I/O so it is unit-tested.
 * The fields are documented in xdpnat.conf(5) and the README.
 *
 *   {"time":"2026-12-01T12:00:00.123Z","event":"start","proto":"tcp",
 *    "kind":"masq","inside":"192.168.1.10:40000",
 *    "outside":"203.0.113.1:40000","remote":"198.51.100.7:80","wan":"wan0"}
 *
 * An end line adds "reason", "packets_out", "bytes_out", "packets_in",
 * "bytes_in" (out: from the inside host towards the remote peer) and, when
 * the start was seen, "duration_s".
 */
#ifndef XDPNAT_FLOWLOG_FMT_H
#define XDPNAT_FLOWLOG_FMT_H

#include <stddef.h>
#include <stdint.h>
#include "xdpnat.h"

/* "closed", "timeout", "evicted", "addr-change", "flush"; NULL for others. */
const char *flowlog_reason_name(uint8_t reason);

/* "2026-12-01T12:00:00.123Z" from CLOCK_REALTIME ns; buf of 32 bytes. */
void flowlog_rfc3339(uint64_t real_ns, char *buf, size_t len);

/* `s` as a JSON string, quoted and escaped (json-c); length or -1. */
int flowlog_json_string(const char *s, char *buf, size_t len);

/*
 * Render event `ev` as one JSON line (no newline) into buf: time
 * `real_ns` (CLOCK_REALTIME), the WAN's name as flowlog_json_string()
 * gives it, duration in ns or -1 when unknown (END only). Returns the
 * length, or -1 if it does not fit or the event is not a START or END.
 */
int flowlog_format(const struct nat_flow_event *ev, uint64_t real_ns, const char *wan_json,
		   int64_t duration_ns, char *buf, size_t len);

/* The "lost" line: `count` events the log could not record (ring full, or
 * a write that failed), `what` says which. */
int flowlog_format_lost(uint64_t real_ns, uint64_t count, const char *what, char *buf,
			size_t len);

#endif /* XDPNAT_FLOWLOG_FMT_H */
