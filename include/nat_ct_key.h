/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_ct_key.h - how the keys of one flow's nat_ct entries derive from
 * each other. The data path creates them with these, and the garbage
 * collector, the WAN state, the ALG and the CLI find a flow's other
 * entries with the very same code, so the two sides can never disagree
 * about which entries make up a flow.
 *
 * A flow (see include/xdpnat.h) is:
 *  - its ORIG entry, keyed by the tuple of the first packet;
 *  - its REPLY entry, keyed by the reverse of the ORIG entry's translated
 *    tuple (ct_twin_key() of either entry gives the other);
 *  - for a hairpin flow, two HAIRPIN_EGRESS entries keyed by the
 *    half-translated tuple seen on LAN egress (ct_hairpin_egress_key())
 *    and its reverse.
 *
 * Every function writes the whole key, padding included (a key with a
 * stray byte in its padding never matches).
 */
#ifndef NAT_CT_KEY_H
#define NAT_CT_KEY_H

#include "xdpnat.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The key of packets going the other way of tuple (saddr, daddr, sport, dport). */
static __always_inline void ct_key_reverse(struct nat_ct_key *r, __be32 saddr, __be32 daddr,
					   __be16 sport, __be16 dport, __u8 proto)
{
	r->saddr = daddr;
	r->daddr = saddr;
	r->sport = dport;
	r->dport = sport;
	r->proto = proto;
	r->pad[0] = r->pad[1] = r->pad[2] = 0;
}

/* The same tuple seen from the other side. */
static __always_inline void ct_key_flip(struct nat_ct_key *r, const struct nat_ct_key *k)
{
	ct_key_reverse(r, k->saddr, k->daddr, k->sport, k->dport, k->proto);
}

/* The key of the other direction of the flow that entry v belongs to. */
static __always_inline void ct_twin_key(struct nat_ct_key *r, const struct nat_ct_value *v,
					__u8 proto)
{
	ct_key_reverse(r, v->to_saddr, v->to_daddr, v->to_sport, v->to_dport, proto);
}

/* A hairpin flow's half-translated tuple on LAN egress, original
 * direction (destination translated, source not yet); the reply
 * direction's is its ct_key_flip(). */
static __always_inline void ct_hairpin_egress_key(struct nat_ct_key *r,
						  const struct nat_ct_key *orig,
						  const struct nat_ct_value *v)
{
	r->saddr = orig->saddr;
	r->daddr = v->to_daddr;
	r->sport = orig->sport;
	r->dport = v->to_dport;
	r->proto = orig->proto;
	r->pad[0] = r->pad[1] = r->pad[2] = 0;
}

/*
 * Which side the packets matching entry v come from: a LAN (true) or a
 * WAN. A masqueraded flow starts on a LAN, a forward or an FTP data
 * connection on a WAN; a hairpin flow is LAN to LAN. The data path checks
 * packets against it; the metrics count a WAN's traffic in and out by it.
 */
static __always_inline _Bool ct_from_lan(const struct nat_ct_value *v)
{
	if (v->kind == NAT_KIND_HAIRPIN)
		return 1;
	if (v->kind == NAT_KIND_MASQ)
		return v->dir == NAT_DIR_ORIG;
	return v->dir == NAT_DIR_REPLY;
}

#endif /* NAT_CT_KEY_H */
