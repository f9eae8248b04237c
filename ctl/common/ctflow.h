/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ctflow.h - remove one whole flow from nat_ct, the only way the
 * controller deletes flows (the data path never does).
 *
 * A flow is up to four entries (include/nat_ct_key.h) plus, for an FTP
 * control session (NAT_CT_F_GATE) that the data path counted as live in
 * nat_gate, one count there. Whoever removes a flow (the GC when it
 * expires, the WAN state when its address goes, a reload that removes its
 * WAN) must release all of it, or a `gate ftp` range stays open for a
 * peer whose session is long gone.
 */
#ifndef XDPNAT_CTFLOW_H
#define XDPNAT_CTFLOW_H

#include <stdbool.h>
#include <stdint.h>
#include "xdpnat.h"
#include "common/maps.h"

/*
 * Remove the flow whose ORIG entry is (okey, oval): ORIG first (the data
 * path inserts the reply half first, so nobody sees an ORIG without its
 * reply), then the reply and hairpin halves, then its gate count.
 * Returns true if this call deleted the ORIG entry (the flow was ours to
 * count, and so was its gate count), false if it was gone already; the
 * other halves are removed either way.
 */
bool ctflow_remove(const struct nat_maps *m, const struct nat_ct_key *okey,
		   const struct nat_ct_value *oval, uint64_t now_ns, enum nat_flow_end why);

/* The same after the caller deleted the ORIG entry itself. */
void ctflow_remove_rest(const struct nat_maps *m, const struct nat_ct_key *okey,
			const struct nat_ct_value *oval, uint64_t now_ns, enum nat_flow_end why);

/*
 * Who is told of every flow this module removes (the NAT log,
 * daemon/flowlog.c): called once per flow, by whoever deleted its ORIG
 * entry, before its other entries go, with the REPLY entry as it was then
 * (NULL if it was gone already) and why the flow ended. One hook per
 * process (the daemon's thread removes flows); NULL fn: none.
 */
typedef void (*ctflow_end_fn)(void *arg, const struct nat_ct_key *okey,
			      const struct nat_ct_value *oval, const struct nat_ct_value *rval,
			      enum nat_flow_end why, uint64_t now_ns);

void ctflow_set_end_hook(ctflow_end_fn fn, void *arg);

/*
 * What the flows this process removed had carried, per WAN and direction
 * (from the WAN: rx, to it: tx; ct_from_lan()), so that the metrics can
 * count a WAN's traffic as live flows plus removed ones. Hairpin flows
 * cross no WAN and are not counted. Kept in memory, from the process
 * start; flows the data path evicts (unassured ones) are not in it.
 */
#define CTFLOW_RETIRED_WANS	64

struct ctflow_retired {
	uint32_t ifindex[CTFLOW_RETIRED_WANS];	/* 0 = free slot */
	uint64_t packets[CTFLOW_RETIRED_WANS][2], bytes[CTFLOW_RETIRED_WANS][2];
};

/* A copy of the totals so far; safe from any thread. */
void ctflow_retired_read(struct ctflow_retired *out);

#endif /* XDPNAT_CTFLOW_H */
