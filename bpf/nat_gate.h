/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_gate.h - the FTP gate: which remote peers a `gate ftp` forward
 * admits. nat_gate counts the established FTP control sessions per
 * (remote peer, inside server); conntrack moves the count when a gated
 * control flow becomes established or closes (gate_update), and a new
 * connection to a gated forward passes only if its peer is counted, or its
 * last session ended less than gate_linger seconds ago (gate_open).
 */
#ifndef NAT_GATE_H
#define NAT_GATE_H

#include "nat_globals.h"

/* False if the count could not be taken (nat_gate full). */
static __always_inline bool gate_update(__be32 raddr, __be32 inside, int delta)
{
	struct nat_gate_key gk = { .raddr = raddr, .inside_addr = inside };
	struct nat_gate_value *g, init = {};

	g = bpf_map_lookup_elem(&nat_gate, &gk);
	if (!g) {
		if (delta < 0)
			return true;
		bpf_map_update_elem(&nat_gate, &gk, &init, BPF_NOEXIST);
		g = bpf_map_lookup_elem(&nat_gate, &gk);
		if (!g) {
			/* full: only sessions past a real handshake hold an
			 * entry, so only that many peers can fill it */
			STAT_INC(gate_full);
			return false;
		}
	}
	if (delta > 0)
		__sync_fetch_and_add(&g->sessions, 1);
	else if (g->sessions)
		__sync_fetch_and_sub(&g->sessions, 1);
	g->last_seen = bpf_ktime_get_ns();
	return true;
}

static __always_inline bool gate_open(__be32 raddr, __be32 inside)
{
	struct nat_gate_key gk = { .raddr = raddr, .inside_addr = inside };
	struct nat_gate_value *g = bpf_map_lookup_elem(&nat_gate, &gk);
	struct nat_config *cfg = nat_config_get();
	__u64 linger = cfg ? cfg->gate_linger : NAT_GATE_LINGER_DEFAULT;

	if (!g)
		return false;
	return g->sessions > 0 || bpf_ktime_get_ns() < g->last_seen + linger * 1000000000ULL;
}

/* Packet p hit entry v of an FTP control session: (remote, inside server). */
static __always_inline void gate_peers(const struct nat_ct_value *v, const struct nat_pkt *p,
				       __be32 *raddr, __be32 *inside)
{
	if (v->dir == NAT_DIR_ORIG) {
		*raddr = p->key.saddr;
		*inside = v->to_daddr;
	} else {
		*raddr = p->key.daddr;
		*inside = p->key.saddr;
	}
}

#endif /* NAT_GATE_H */
