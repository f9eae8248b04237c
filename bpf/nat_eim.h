/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_eim.h - RFC 4787 endpoint-independent mapping and filtering.
 *
 * Mapping (REQ-1): a masqueraded flow's outside port is its inside
 * endpoint's mapping (nat_eim, see include/xdpnat.h), made by the first
 * flow of the endpoint on that WAN and used by every later one, whatever
 * the destination. The original port is kept when it is free (port
 * preservation, attempt 0 of nat_port_candidate); a port is a mapping's
 * alone (its OUTSIDE entry, inserted with BPF_NOEXIST, is the allocation),
 * and never one a forward uses. A mapping that keeps the inside port is
 * that one entry (a new endpoint costs one insert, a known one one
 * lookup); only a mapping that had to move to another port also has an
 * INSIDE entry saying which. Whether an endpoint may have one is asked
 * of nat_eim_moved first (a count per cell, include/xdpnat.h), so a new
 * endpoint's first flow usually costs one lookup, not two. When nat_eim
 * is full or no port is free, the flow gets a port for its destination
 * only, as before (eim_full).
 *
 * Filtering (REQ-8): a packet from outside that matches no flow and no
 * forward is admitted to a mapping's inside endpoint on a WAN with
 * `filtering endpoint-independent`, or with `address-dependent` if the
 * endpoint has sent to that address (a PEER entry). The default,
 * address-and-port-dependent, is nat_ct itself: only the remote endpoint
 * of a flow gets in. Hairpinning (REQ-9) to a mapping goes through the
 * same filter, with the WAN address as the remote.
 *
 * Both are global functions taking scalars (the verifier checks each
 * once; the programs' frames leave no room for keys): their keys and
 * values live in a per-CPU slot in .bss, as nat_mss.h's key does.
 */
#ifndef NAT_EIM_H
#define NAT_EIM_H

#include "nat_portalloc.h"

struct eim_slot {
	struct nat_eim_key k;
	struct nat_eim_value v;
	struct nat_fwd_key f;
	/* the arguments, kept here and not in registers the helper calls
	 * would make clang spill to the stack (see the top) */
	__u64 inside, wan, now;
	__u32 peer, seed;
	__u32 cell;			/* nat_eim_moved's key */
};

#define EIM_SLOTS	1024
#define EIM_CREATED	0x10000
static struct eim_slot nat_eim_slot[EIM_SLOTS];	/* static: not in the skeleton */

static __always_inline struct eim_slot *eim_slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return cpu < EIM_SLOTS ? &nat_eim_slot[cpu] : NULL;
}

/* The slot again, as a value clang cannot keep derived pointers of in
 * registers across helper calls (it would spill them to the stack). */
static __always_inline struct eim_slot *eim_fresh(struct eim_slot *s)
{
	asm volatile("" : "+r"(s));
	return s;
}

static __always_inline long eim_insert(struct eim_slot *s)
{
	s = eim_fresh(s);
	return bpf_map_update_elem(&nat_eim, &s->k, &s->v, BPF_NOEXIST);
}

/* The slot's key: side INSIDE (the endpoint in s->inside), OUTSIDE or PEER
 * (outside port `port`, network order). */
static __always_inline void eim_key(struct eim_slot *s, __u8 side, __be16 port)
{
	volatile struct eim_slot *vs = s;
	__u64 inside = vs->inside, wan = vs->wan;

	s->k.ifindex = (__u32)wan;
	s->k.proto = (__u8)(inside >> 48);
	s->k.side = side;
	if (side == NAT_EIM_INSIDE) {
		s->k.addr = (__u32)inside;
		s->k.port = (__u16)(inside >> 32);
	} else {
		s->k.addr = side == NAT_EIM_PEER ? vs->peer : 0;
		s->k.port = port;
	}
}

static __always_inline void eim_val(struct eim_slot *s, __be32 addr, __be16 port)
{
	s->v.addr = addr;
	s->v.port = port;
	s->v.pad[0] = 0;
	s->v.pad[1] = 0;
	s->v.seen_ns = ((volatile struct eim_slot *)s)->now;
}

static volatile const __u32 eim_moved_ready = NAT_EIM_MOVED_READY;

/* nat_eim_moved's cell of the endpoint in this CPU's slot. */
static __always_inline struct nat_eim_moved *eim_moved(struct eim_slot *s)
{
	volatile struct eim_slot *vs = s;
	__u64 inside = vs->inside;

	s->cell = nat_eim_moved_cell((__u32)inside, (__u16)(inside >> 32), (__u8)(inside >> 48),
				     (__u32)vs->wan);
	return bpf_map_lookup_elem(&nat_eim_moved, &s->cell);
}

/* May the endpoint in this CPU's slot have a mapping on another port than
 * its own (an INSIDE entry)? Not if its cell counts none, once the cells
 * count every entry (include/xdpnat.h). */
static __always_inline bool eim_may_have_moved(struct eim_slot *s)
{
	struct nat_eim_moved *c = bpf_map_lookup_elem(&nat_eim_moved,
						      (const void *)&eim_moved_ready);

	if (!c || !c->count)
		return true;
	c = eim_moved(s);
	return !c || c->count;
}

/* One INSIDE entry more (before it is inserted) or fewer (an insert that
 * failed) in the endpoint's cell. */
static __always_inline void eim_moved_add(struct eim_slot *s, __u32 delta)
{
	struct nat_eim_moved *c = eim_moved(s);

	if (c)
		__sync_fetch_and_add(&c->count, delta);
}

/* The PEER entry of the mapping with outside port `port` (host order), if
 * the WAN filters address-dependent; returns port. */
static __always_inline int eim_peer(struct eim_slot *s, __u16 port)
{
	if (((volatile struct eim_slot *)s)->peer) {
		eim_key(s, NAT_EIM_PEER, bpf_htons(port));
		eim_val(s, 0, 0);
		eim_insert(s);
	}
	return port;
}

/* The inside port itself when the WAN's range holds it (port
 * preservation, attempt 0 of nat_port_candidate), else 0. */
static __always_inline __u16 eim_preserved(struct eim_slot *s)
{
	volatile struct eim_slot *vs = s;
	__u16 orig = bpf_ntohs((__u16)(vs->inside >> 32));

	if (orig < (__u16)(vs->wan >> 32) || orig > (__u16)(vs->wan >> 48))
		return 0;
	return orig;
}

/* Is outside port `port` (host order) the mapping of the endpoint in this
 * CPU's slot? Its OUTSIDE entry is marked in use if so. */
static __always_inline bool eim_owned(struct eim_slot *s, __u16 port)
{
	volatile struct eim_slot *vs = s;
	struct nat_eim_value *m;

	eim_key(s, NAT_EIM_OUTSIDE, bpf_htons(port));
	m = bpf_map_lookup_elem(&nat_eim, &s->k);
	if (!m || m->addr != (__u32)vs->inside || m->port != (__u16)(vs->inside >> 32))
		return false;
	m->seen_ns = vs->now;
	return true;
}

/* Attempt i of the mapping of the endpoint in this CPU's slot: 0 the
 * candidate port is taken (try the next), -1 give up, else the mapping's
 * port (this one, or another CPU's that mapped the endpoint meanwhile)
 * with EIM_CREATED if it is new. A function of its own, so that the loop
 * around it keeps nothing but its counter (see the top). */
__noinline int xdpnat_eim_try(__u32 i)
{
	struct eim_slot *s = eim_slot();
	volatile struct eim_slot *vs = s;
	struct nat_eim_value *m;
	__u16 port;
	long err;

	if (!s)
		return -1;
	port = nat_port_candidate(bpf_ntohs((__u16)(vs->inside >> 32)), (__u16)(vs->wan >> 32),
				  (__u16)(vs->wan >> 48), vs->seed, i);
	if (!port)
		return -1;
	/* a forwarded port stays the forward's */
	s->f.ifindex = (__u32)vs->wan;
	s->f.port = bpf_htons(port);
	s->f.proto = (__u8)(vs->inside >> 48);
	s->f.pad = 0;
	if (s->f.proto != IPPROTO_ICMP && fwd_lookup(&s->f))
		return 0;
	eim_key(s, NAT_EIM_OUTSIDE, bpf_htons(port));
	eim_val(s, (__u32)vs->inside, (__u16)(vs->inside >> 32));
	err = eim_insert(s);
	if (err == -EEXIST_)	/* taken; by this endpoint if another CPU was quicker */
		return eim_owned(s, port) ? eim_peer(s, port) : 0;
	if (err)
		return -1;
	/* the inside port itself: its OUTSIDE entry is the whole mapping */
	if (port == eim_preserved(s))
		return eim_peer(s, port) | EIM_CREATED;
	eim_key(s, NAT_EIM_INSIDE, 0);
	eim_val(s, 0, bpf_htons(port));
	eim_moved_add(s, 1);
	if (!eim_insert(s))
		return eim_peer(s, port) | EIM_CREATED;
	eim_moved_add(s, (__u32)-1);
	/* another CPU mapped the endpoint meanwhile (or the table filled
	 * up): give the port back, use theirs */
	eim_key(s, NAT_EIM_OUTSIDE, bpf_htons(port));
	bpf_map_delete_elem(&nat_eim, &s->k);
	eim_key(s, NAT_EIM_INSIDE, 0);
	m = bpf_map_lookup_elem(&nat_eim, &s->k);
	if (!m || !m->port)
		return -1;
	return eim_peer(s, bpf_ntohs(m->port));
}

/* inside: addr | port << 32 | proto << 48 (network order addr and port, as
 * in the packet); wan: ifindex | lo << 32 | hi << 48 (host order range);
 * peer: the destination address when the WAN filters address-dependent
 * (0: no PEER entry). Returns the outside port (host order), with
 * EIM_CREATED if the mapping is new, or 0: no mapping, the caller chooses
 * a port for this destination. The caller counts (STAT_INC's key would
 * take stack here). */
__noinline int xdpnat_eim_map(void)
{
	struct eim_slot *s = eim_slot();
	struct nat_eim_value *m;
	__u16 port;
	int rc;

	if (!s)
		return 0;
	s->now = bpf_ktime_get_ns();
	/* most endpoints keep their port: one lookup finds their mapping */
	port = eim_preserved(s);
	if (port && eim_owned(s, port))
		return eim_peer(s, port);
	eim_key(s, NAT_EIM_INSIDE, 0);
	m = eim_may_have_moved(s) ? bpf_map_lookup_elem(&nat_eim, &s->k) : NULL;
	if (m) {
		/* in use: the GC's pass that is under way keeps it (gc.c) */
		m->seen_ns = ((volatile struct eim_slot *)s)->now;
		return eim_peer(s, bpf_ntohs(m->port));
	}
	s->seed = bpf_get_prandom_u32();
	for (__u32 i = 0; i <= XDPNAT_PORT_TRIES; i++) {
		rc = xdpnat_eim_try(i);
		if (rc)
			return rc < 0 ? 0 : rc;
	}
	return 0;
}

/* The arguments into the slot, then the work (two functions: the
 * arguments and the slot pointer at once would not fit the registers). */
__noinline int xdpnat_eim_port(__u64 inside, __u64 wan, __u32 peer)
{
	struct eim_slot *s = eim_slot();

	if (!s)
		return 0;
	s->inside = inside;
	s->wan = wan;
	s->peer = peer;
	return xdpnat_eim_map();
}

/* A packet from remote to the WAN's outside port, no flow and no forward:
 * outside = ifindex | port << 32 | proto << 48 (port in network order);
 * filter: the WAN's NAT_IFACE_F_FILTER_* bits. Returns the mapping's
 * inside endpoint, addr | port << 32 | 1 << 48, if the filter admits the
 * remote; 0 if not. */
__noinline __u64 xdpnat_eim_admit(__u64 outside, __u32 remote, __u32 filter)
{
	struct eim_slot *s = eim_slot();
	struct nat_eim_value *m;

	if (!s || !(filter & (NAT_IFACE_F_FILTER_EI | NAT_IFACE_F_FILTER_AD)))
		return 0;
	s->inside = outside & (0xffULL << 48);	/* the protocol */
	s->wan = outside;
	s->peer = remote;
	eim_key(s, NAT_EIM_OUTSIDE, (__u16)(outside >> 32));
	m = bpf_map_lookup_elem(&nat_eim, &s->k);
	if (!m)
		return 0;
	s->now = (__u64)m->addr | (__u64)m->port << 32 | 1ULL << 48;
	if (!(filter & NAT_IFACE_F_FILTER_EI)) {
		eim_key(s, NAT_EIM_PEER, (__u16)(((volatile struct eim_slot *)s)->wan >> 32));
		if (!bpf_map_lookup_elem(&nat_eim, &s->k))
			return 0;
	}
	return ((volatile struct eim_slot *)s)->now;
}

#endif /* NAT_EIM_H */
