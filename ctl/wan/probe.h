/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * probe.h - the verdict on one tracked WAN from its probe results: the
 * pure state machine behind `wan IF track ... down N up M` (no I/O, no
 * clock of its own; the caller passes `now`).
 *
 * A WAN starts up (as the routing table assumes). `down` consecutive
 * failed rounds mark it down, `up` consecutive good rounds mark it up
 * again; a result against the run resets the other counter, so a WAN
 * that answers every other round never changes state (no flapping). A
 * link without carrier or address is down at once, and once it is back
 * it still needs `up` good rounds.
 */
#ifndef XDPNAT_PROBE_H
#define XDPNAT_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#define PROBE_HISTORY	16	/* rounds kept for `xdpnat status` */

enum probe_state { PROBE_UP, PROBE_DOWN };

/* Why the state is what it is, for the log and status. */
enum probe_reason {
	PROBE_R_START,		/* nothing seen yet */
	PROBE_R_PROBES,		/* `down`/`up` consecutive rounds */
	PROBE_R_LINK,		/* no carrier or no address */
};

struct probe_sm {
	unsigned down_after, up_after;	/* thresholds, >= 1 */
	enum probe_state state;
	enum probe_reason reason;
	uint64_t since;			/* caller's clock at the last change */
	unsigned fails, oks;		/* current run of failures / successes */
	bool link_ok;
	uint32_t history;		/* bit i = round i ago answered */
	unsigned rounds;		/* rounds seen, for the history length */
	uint64_t changes;		/* state changes since start */
};

void probe_init(struct probe_sm *sm, unsigned down_after, unsigned up_after, uint64_t now);

/* One probe round: answered or not. true if the state changed. A round
 * while the link is down counts for nothing. */
bool probe_result(struct probe_sm *sm, bool answered, uint64_t now);

/* The link's carrier and address: losing either is down at once. true if
 * the state changed. */
bool probe_link(struct probe_sm *sm, bool link_ok, uint64_t now);

const char *probe_state_name(enum probe_state s);
const char *probe_reason_name(enum probe_reason r);

/* The last n (<= PROBE_HISTORY) rounds, newest first, as '+' (answered)
 * and '-' (not) into buf (n + 1 bytes). */
void probe_history(const struct probe_sm *sm, char *buf, unsigned n);

#endif /* XDPNAT_PROBE_H */
