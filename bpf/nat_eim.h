/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_eim.h - RFC 4787 endpoint-independent mapping and filtering.
 *
 * Mapping (REQ-1): a masqueraded flow's outside port is its inside
 * endpoint's mapping, made by the first flow of the endpoint on that WAN
 * and used by every later one, whatever the destination. The original
 * port is kept when it is free (port preservation, attempt 0 of
 * nat_port_candidate). A port is a mapping's alone, and never one a
 * forward uses: its element in the WAN's table of nat_eim_ports (include/
 * xdpnat.h) names the owner, claimed with one compare-and-swap. A mapping
 * that keeps the inside port is that element alone (a new endpoint, and a
 * known one, cost one cache line); only a mapping that had to move to
 * another port also has an INSIDE entry in nat_eim saying which. Whether
 * an endpoint may have one is asked of nat_eim_moved first (a count per
 * cell), so a new endpoint's first flow usually looks nothing up in
 * nat_eim. When no port is free, nat_eim is full, or the WAN's table is
 * not bound to it (include/xdpnat.h), the flow gets a port for its
 * destination only, as before (eim_full).
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
	__u64 want;			/* the endpoint's nat_eim_ports word, stamped now */
	__u32 peer, seed;
	__u32 table;			/* the WAN's table in nat_eim_ports */
	__u32 cell;			/* nat_eim_moved's key */
	__u32 idx;			/* nat_eim_ports' key */
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

/* The nat_eim_ports element of outside port `port` (host order) in the
 * WAN's table, as the word it is swapped as; NULL for a protocol without
 * mappings. */
static __always_inline __u64 *eim_elem(struct eim_slot *s, __u16 port)
{
	volatile struct eim_slot *vs = s;
	__s64 i = nat_eim_port_index(vs->table, (__u8)(vs->inside >> 48), port);

	if (i < 0)
		return NULL;
	s->idx = (__u32)i;
	return bpf_map_lookup_elem(&nat_eim_ports, &s->idx);
}

/* Is the WAN's table bound to it (its header names the WAN's ifindex)? */
static __always_inline bool eim_table_bound(struct eim_slot *s)
{
	volatile struct eim_slot *vs = s;
	struct nat_eim_port *h;

	s->idx = vs->table * NAT_EIM_PORT_TABLE;
	h = bpf_map_lookup_elem(&nat_eim_ports, &s->idx);
	return h && h->addr == (__u32)vs->wan;
}

#define EIM_TAKEN	0	/* another endpoint's (or free, and not claimed) */
#define EIM_OURS	1	/* the endpoint's mapping, its stamp now */
#define EIM_CLAIMED	2	/* was free, the endpoint's now */

/* Outside port `port` (host order) for the endpoint in this CPU's slot:
 * EIM_OURS, EIM_CLAIMED (only if `claim`) or EIM_TAKEN. A mapping's stamp
 * is brought up to now (at most once a stamp unit); a word that changes
 * under the swap (the GC freeing the port, another CPU claiming it) is
 * looked at again. */
static __always_inline int eim_hold(struct eim_slot *s, __u16 port, bool claim)
{
	__u64 *e = eim_elem(s, port), want, old, prev;

	if (!e)
		return EIM_TAKEN;
	want = ((volatile struct eim_slot *)s)->want;
	old = *(volatile __u64 *)e;
#pragma unroll
	for (int i = 0; i < 3; i++) {
		if (old == want)
			return EIM_OURS;
		if (old ? nat_eim_port_owner(old) != nat_eim_port_owner(want) : !claim)
			return EIM_TAKEN;
		prev = __sync_val_compare_and_swap(e, old, want);
		if (prev == old)
			return old ? EIM_OURS : EIM_CLAIMED;
		old = prev;
	}
	return EIM_TAKEN;
}

/* Give back port `port` (host order), claimed by this CPU's slot's
 * endpoint, if it still is its. */
static __always_inline void eim_release(struct eim_slot *s, __u16 port)
{
	__u64 *e = eim_elem(s, port);

	if (e)
		__sync_val_compare_and_swap(e, ((volatile struct eim_slot *)s)->want, 0);
}

/* Does a forward hold the port in s->f? (ICMP identifiers have none.) */
static __always_inline bool eim_forwarded(struct eim_slot *s)
{
	return s->f.proto != IPPROTO_ICMP && fwd_lookup(&s->f);
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
	int rc;

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
	if (eim_forwarded(s))
		return 0;
	rc = eim_hold(s, port, true);
	if (rc == EIM_TAKEN)
		return 0;
	if (rc == EIM_OURS)	/* another CPU was quicker, with this port */
		return eim_peer(s, port);
	/* A PCP/NAT-PMP forward written since the look above: the controller
	 * writes the forward, then reads the port's owner, and gives the port
	 * up if it finds one (portmap.c map()); the claim (a locked cmpxchg)
	 * precedes this look, so one of the two sees the other. */
	if (eim_forwarded(s)) {
		eim_release(s, port);
		return 0;
	}
	/* the inside port itself: its element is the whole mapping */
	if (port == eim_preserved(s))
		return eim_peer(s, port) | EIM_CREATED;
	eim_key(s, NAT_EIM_INSIDE, 0);
	eim_val(s, 0, bpf_htons(port));
	eim_moved_add(s, 1);
	if (!eim_insert(s))
		return eim_peer(s, port) | EIM_CREATED;
	eim_moved_add(s, (__u32)-1);
	/* another CPU mapped the endpoint meanwhile (or nat_eim filled up):
	 * give the port back, use theirs */
	eim_release(s, port);
	eim_key(s, NAT_EIM_INSIDE, 0);
	m = bpf_map_lookup_elem(&nat_eim, &s->k);
	if (!m || !m->port)
		return -1;
	return eim_peer(s, bpf_ntohs(m->port));
}

/* inside: addr | port << 32 | proto << 48 (network order addr and port, as
 * in the packet); wan: ifindex | lo << 32 | hi << 48 (host order range);
 * peer: the destination address when the WAN filters address-dependent
 * (0: no PEER entry); table: the WAN's in nat_eim_ports. Returns the
 * outside port (host order), with EIM_CREATED if the mapping is new, or 0:
 * no mapping, the caller chooses a port for this destination. The caller
 * counts (STAT_INC's key would take stack here). */
__noinline int xdpnat_eim_map(void)
{
	struct eim_slot *s = eim_slot();
	volatile struct eim_slot *vs;
	struct nat_eim_value *m;
	__u16 port;
	int rc;

	if (!s)
		return 0;
	vs = s;
	s->now = bpf_ktime_get_ns();
	s->want = nat_eim_port_word((__u32)vs->inside, (__u16)(vs->inside >> 32),
				    nat_eim_stamp(vs->now));
	if (!eim_table_bound(s))
		return 0;
	/* most endpoints keep their port: its element says if it is theirs */
	port = eim_preserved(s);
	if (port && eim_hold(s, port, false) == EIM_OURS)
		return eim_peer(s, port);
	eim_key(s, NAT_EIM_INSIDE, 0);
	m = eim_may_have_moved(s) ? bpf_map_lookup_elem(&nat_eim, &s->k) : NULL;
	if (m && m->port) {
		/* in use: the GC's pass that is under way keeps it (gc.c); its
		 * port taken again if a cleared table lost it */
		m->seen_ns = vs->now;
		port = bpf_ntohs(m->port);
		eim_hold(s, port, true);
		return eim_peer(s, port);
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
 * arguments and the slot pointer at once would not fit the registers).
 * peer: the PEER address | the WAN's table << 32. */
__noinline int xdpnat_eim_port(__u64 inside, __u64 wan, __u64 peer)
{
	struct eim_slot *s = eim_slot();

	if (!s)
		return 0;
	s->inside = inside;
	s->wan = wan;
	s->peer = (__u32)peer;
	s->table = (__u32)(peer >> 32);
	return xdpnat_eim_map();
}

/* A packet from remote to the WAN's outside port, no flow and no forward:
 * outside = ifindex | port << 32 | proto << 48 | table << 56 (port in
 * network order, table the WAN's in nat_eim_ports); filter: the WAN's
 * NAT_IFACE_F_FILTER_* bits. Returns the mapping's inside endpoint,
 * addr | port << 32 | 1 << 48, if the filter admits the remote; 0 if not. */
__noinline __u64 xdpnat_eim_admit(__u64 outside, __u32 remote, __u32 filter)
{
	struct eim_slot *s = eim_slot();
	struct nat_eim_port *e;
	__u16 port;

	if (!s || !(filter & (NAT_IFACE_F_FILTER_EI | NAT_IFACE_F_FILTER_AD)))
		return 0;
	port = bpf_ntohs((__u16)(outside >> 32));
	if (!port)		/* a table's header, no mapping */
		return 0;
	s->inside = outside & (0xffULL << 48);	/* the protocol */
	s->wan = (__u32)outside;
	s->peer = remote;
	s->table = (__u32)(outside >> 56);
	if (!eim_table_bound(s))
		return 0;
	e = (struct nat_eim_port *)eim_elem(s, port);
	if (!e || !e->addr)
		return 0;
	s->now = (__u64)e->addr | (__u64)e->port << 32 | 1ULL << 48;
	if (!(filter & NAT_IFACE_F_FILTER_EI)) {
		eim_key(s, NAT_EIM_PEER, bpf_htons(port));
		if (!bpf_map_lookup_elem(&nat_eim, &s->k))
			return 0;
	}
	return ((volatile struct eim_slot *)s)->now;
}

#endif /* NAT_EIM_H */
