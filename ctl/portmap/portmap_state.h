/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * portmap_state.h - what the PCP/NAT-PMP server keeps across a restart, in
 * <state-dir>/portmap.json: the mapping table, the epoch and the counters.
 *
 * RFC 6887 §8.5: the epoch counts seconds since the mapping state began,
 * and a client that sees it go back (or not advance as its own clock
 * does) knows the state was lost and maps again. So the epoch is saved
 * with the table and its wall-clock time; loading adds the seconds the
 * daemon was away (taking them off every lifetime too), and a missing or
 * unusable file is a new state at epoch 0, with no mappings.
 */
#ifndef XDPNAT_PORTMAP_STATE_H
#define XDPNAT_PORTMAP_STATE_H

#include <stdint.h>
#include <time.h>
#include <json-c/json.h>
#include "portmap/portmap_table.h"

struct portmap_counters {
	uint64_t requests;		/* datagrams read */
	uint64_t answered;
	uint64_t dropped_not_lan;	/* not to an address of the LAN interface */
	uint64_t dropped_rate;		/* over the per-host or global rate */
	uint64_t dropped_malformed;	/* too short to answer, or a response */
	uint64_t errors_sent;		/* answers with a result other than success */
	uint64_t created, deleted, expired, purged;
};

struct portmap_state {
	struct portmap_table table;	/* expiry in seconds of the caller's clock */
	struct portmap_counters n;	/* counted since the epoch began */
	uint32_t epoch;			/* at `now` */
};

/* Adds what only the caller knows to one mapping's JSON (e.g. the WAN's
 * name and address for `xdpnat status`). */
typedef void (*portmap_annotate_fn)(void *arg, json_object *mapping);

/* Write st at (now, wall) to path, atomically. 0 or -1 (errno). */
int portmap_state_save(const char *path, const struct portmap_state *st, uint64_t now,
		       time_t wall, portmap_annotate_fn annotate, void *arg);

/*
 * Read path into *st for (now, wall). 0: loaded (epoch and lifetimes moved
 * on by the wall-clock seconds since the save); 1: no file; -1: a file
 * that cannot be used (not ours, or saved "in the future": the clock went
 * back). Both of the latter leave a new state: epoch 0, nothing mapped.
 */
int portmap_state_load(const char *path, struct portmap_state *st, uint64_t now, time_t wall);

#endif /* XDPNAT_PORTMAP_STATE_H */
