/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_ct.h - connection tracking: flow lookup, creation with port
 * allocation, and the per-flow state machine.
 *
 * A flow is two nat_ct entries (see include/xdpnat.h). Creation inserts the
 * reply entry first with BPF_NOEXIST - that insert *is* the port
 * allocation, since the reply key holds the outside port - and the
 * original entry second, rolling the reply entry back if another CPU
 * created the same flow first. So two CPUs racing on one new flow can never
 * leave half a mapping. A UDP masquerade flow on its endpoint's own
 * mapping port inserts only its original entry; its first reply makes the
 * reply entry (nat_lazyreply.h). Expired entries are reclaimed by the
 * controller's garbage collector, which also removes a reply half whose
 * original is gone.
 */
#ifndef NAT_CT_H
#define NAT_CT_H

#include "nat_portalloc.h"
#include "nat_ct_key.h"
#include "nat_globals.h"
#include "nat_gate.h"

#define EEXIST_	17

enum ct_new_rc {
	CT_NEW_OK,
	CT_NEW_NO_PORT,
	CT_NEW_FULL,
	CT_NEW_CLASH,		/* the reply tuple is taken and cannot be moved */
};

struct ct_new {
	struct nat_ct_key key;		/* original direction, as on the wire */
	struct nat_ct_key to;		/* original direction, translated */
	__u32 wan_ifindex;
	__u8 kind;
	__u8 flags;			/* NAT_CT_F_* for both entries */
	__u8 alloc_sport;		/* pick to.sport from the WAN's range */
	__u16 port_lo, port_hi;
};

static __always_inline __u8 ct_initial_state(__u8 proto)
{
	return proto == IPPROTO_TCP ? NAT_CT_SYN_SENT : NAT_CT_NEW;
}

static __always_inline void ct_value_init(struct nat_ct_value *v, const struct nat_ct_key *to,
					  const struct ct_new *n, __u8 dir, __u64 now)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->to_saddr = to->saddr;
	v->to_daddr = to->daddr;
	v->to_sport = to->sport;
	v->to_dport = to->dport;
	v->wan_ifindex = n->wan_ifindex;
	v->last_seen = nat_tick(now);
	v->dir = dir;
	v->kind = n->kind;
	v->state = ct_initial_state(n->key.proto);
	v->flags = n->flags;
}

/*
 * A new flow's two entries are built in a per-CPU cell of .bss, not on the
 * stack of the programs, which has no room for them (a program runs to
 * its end on its CPU before another can use the cell).
 */
#define CT_NEW_CELLS	1024
struct ct_new_cell {
	struct nat_ct_value oval, rval;
	struct nat_ct_key okey;		/* nat_lazyreply.h: a lazy flow's ORIG key, */
	struct nat_ct_key ikey;		/* and the reply tuple asked about */
} __attribute__((aligned(64)));
static struct ct_new_cell nat_ct_new_cell[CT_NEW_CELLS];	/* static: not in the skeleton */

static __always_inline struct ct_new_cell *ct_new_cell(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return cpu < CT_NEW_CELLS ? &nat_ct_new_cell[cpu] : NULL;
}

/*
 * Lazy reply entries (bpf/nat_lazyreply.h, which needs nat_eim.h: it
 * comes later). xdpnat_ct_implied_key() writes the asked tuple into the
 * CPU's cell (ikey) and, if a lazy flow may hold it, that flow's ORIG key
 * (okey); the lookup of okey is made here, by the caller: the programs'
 * stack has no room for a call within a call that walks the table.
 */
int xdpnat_ct_implied_key(__u32 saddr, __u32 daddr, __u32 ports, __u32 proto);

/* The ORIG entry of the lazy flow xdpnat_ct_implied_key() named, if it is
 * one whose translation is exactly the asked tuple. */
static __always_inline struct nat_ct_value *ct_implied_orig(struct ct_new_cell *c)
{
	struct nat_ct_value *v = ct_lookup(&c->okey);

	if (!v || v->dir != NAT_DIR_ORIG || v->kind != NAT_KIND_MASQ ||
	    v->to_saddr != c->ikey.daddr || v->to_sport != c->ikey.dport)
		return NULL;
	return v;
}

/*
 * nat_udp_keyed (include/xdpnat.h): a port's bit is set, in the bitmap of
 * the current epoch, before an entry keyed by a UDP tuple to that WAN port
 * is inserted; a lazy flow looks its reply tuple up only if the bit of its
 * port is set in either bitmap (or the map is not filled yet). Both sides
 * order their write before their read with a locked instruction (the
 * bit's fetch-or, the entry's publish); the GC's rebuild waits out every
 * program between its steps, so neither needs more.
 */
static __always_inline void ct_keyed_mark(const struct nat_ct_key *k)
{
	__u16 port = bpf_ntohs(k->dport);
	__u32 i = nat_port_word(port), ctl = NAT_UDP_KEYED_CTL;
	__u64 bit = nat_port_bit(port), *w;
	struct nat_udp_keyed *c, *e;

	if (k->proto != IPPROTO_UDP)
		return;
	c = bpf_map_lookup_elem(&nat_udp_keyed, &ctl);
	e = bpf_map_lookup_elem(&nat_udp_keyed, &i);
	if (!c || !e)
		return;
	w = &e->bits[*(volatile __u64 *)&c->bits[NAT_UDP_KEYED_EPOCH] & 1];
	if (!(*w & bit))
		__sync_fetch_and_or(w, bit);
}

static __always_inline bool ct_keyed(const struct nat_ct_key *k)
{
	__u16 port = bpf_ntohs(k->dport);
	__u32 i = nat_port_word(port), ctl = NAT_UDP_KEYED_CTL;
	struct nat_udp_keyed *e = bpf_map_lookup_elem(&nat_udp_keyed, &ctl);

	if (!e || !e->bits[NAT_UDP_KEYED_READY])
		return true;
	e = bpf_map_lookup_elem(&nat_udp_keyed, &i);
	return !e || ((e->bits[0] | e->bits[1]) & nat_port_bit(port));
}

/* Does a lazy UDP flow hold reply tuple k? */
static __always_inline bool ct_implied(const struct nat_ct_key *k)
{
	struct ct_new_cell *c;

	if (k->proto != IPPROTO_UDP ||
	    !xdpnat_ct_implied_key(k->saddr, k->daddr, ct_ports(k), k->proto))
		return false;
	c = ct_new_cell();
	return c && ct_implied_orig(c);
}

/* Insert the reply entry, choosing the outside port if asked to. */
static __always_inline int ct_insert_reply(struct ct_new *n, struct nat_ct_key *rkey,
					   struct nat_ct_value *rval)
{
	__u16 orig = bpf_ntohs(n->to.sport);
	__u32 seed = bpf_get_prandom_u32();
	long err;

	if (!n->alloc_sport) {
		ct_key_reverse(rkey, n->to.saddr, n->to.daddr, n->to.sport, n->to.dport, n->key.proto);
		ct_keyed_mark(rkey);
		err = ct_insert(rkey, rval, BPF_NOEXIST);
		if (!err && ct_implied(rkey)) {
			ct_delete(rkey);
			return CT_NEW_CLASH;
		}
		if (!err)
			return CT_NEW_OK;
		return err == -EEXIST_ ? CT_NEW_CLASH : CT_NEW_FULL;
	}
	for (__u32 i = 0; i <= XDPNAT_PORT_TRIES; i++) {
		__u16 port = nat_port_candidate(orig, n->port_lo, n->port_hi, seed, i);

		if (!port)
			return CT_NEW_NO_PORT;
		n->to.sport = bpf_htons(port);
		ct_key_reverse(rkey, n->to.saddr, n->to.daddr, n->to.sport, n->to.dport, n->key.proto);
		ct_keyed_mark(rkey);
		err = ct_insert(rkey, rval, BPF_NOEXIST);
		if (!err && ct_implied(rkey)) {
			ct_delete(rkey);	/* a lazy flow's: the next port */
			continue;
		}
		if (!err)
			return CT_NEW_OK;
		if (err != -EEXIST_)
			return CT_NEW_FULL;
	}
	return CT_NEW_NO_PORT;
}

/*
 * Hairpin flows also need the SNAT half on tc egress of the LAN when the
 * packet took the kernel path (DNAT was applied on ingress): one entry per
 * direction keyed by the half-translated tuple. Best effort: without them
 * the kernel path drops, the XDP path still works.
 */
static __always_inline void ct_insert_hairpin_egress(const struct ct_new *n,
						     struct nat_ct_value *oval,
						     struct nat_ct_value *rval)
{
	struct nat_ct_key k;

	ct_hairpin_egress_key(&k, &n->key, oval);
	oval->dir = NAT_DIR_HAIRPIN_EGRESS;
	ct_insert(&k, oval, BPF_ANY);
	ct_key_flip(&k, &k);
	rval->dir = NAT_DIR_HAIRPIN_EGRESS;
	ct_insert(&k, rval, BPF_ANY);
}

static volatile const __u32 flowlog_key0 = 0;

/*
 * The NAT log (`flow-log`): one event into nat_flowlog for the flow whose
 * ORIG entry is (key, v): START (reason NAT_FLOW_END_NONE) or END with
 * `reason`. The record is filled in place in the ring, no copy on the
 * stack: the XDP programs have almost none left, and a global function is
 * verified once on its own instead of on every path of its callers. Only
 * flow creation and eviction call it, and it does nothing unless
 * nat_config.flow_log is set. An END carries both directions' counters.
 */
__noinline int xdpnat_flowlog_emit(const struct nat_ct_key *key, const struct nat_ct_value *v,
				   __u64 now, __u32 reason)
{
	/* Map keys from .rodata, not the stack: this function's frame adds to
	 * its callers' (the XDP programs' 496 bytes), and it has none. */
	struct nat_config *cfg = bpf_map_lookup_elem(&nat_config, (const void *)&flowlog_key0);
	struct nat_ct_value *t;
	struct nat_flow_event *e;
	struct nat_stats *st;

	if (!cfg || !cfg->flow_log || !key || !v)
		return 0;
	e = bpf_ringbuf_reserve(&nat_flowlog, sizeof(*e), 0);
	if (!e) {
		st = bpf_map_lookup_elem(&nat_stats, (const void *)&flowlog_key0);
		if (st)
			st->flowlog_lost++;
		return 0;
	}
	e->time_ns = now;
	e->orig = *key;
	ct_twin_key(&e->reply, v, key->proto);
	e->wan_ifindex = v->wan_ifindex;
	e->event = reason ? NAT_FLOW_EV_END : NAT_FLOW_EV_START;
	e->reason = (__u8)reason;
	e->kind = v->kind;
	e->pad = 0;
	e->packets[NAT_DIR_ORIG] = reason ? v->packets : 0;
	e->bytes[NAT_DIR_ORIG] = reason ? v->bytes : 0;
	e->packets[NAT_DIR_REPLY] = 0;
	e->bytes[NAT_DIR_REPLY] = 0;
	if (reason) {
		__u32 i = ct_find_slot(e->reply.saddr, e->reply.daddr, ct_ports(&e->reply),
				       e->reply.proto);
		struct nat_ct_slot *ts = i ? ct_slot(i) : NULL;

		t = ts ? &ts->val : NULL;
		if (t) {
			e->packets[NAT_DIR_REPLY] = t->packets;
			e->bytes[NAT_DIR_REPLY] = t->bytes;
		}
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Remember a new flow's ORIG key in the eviction ring. */
static __always_inline void ct_note_new(const struct nat_ct_key *key)
{
	__u32 size = *(volatile const __u32 *)&unassured_ring;
	__u32 idx;
	struct nat_ct_key *slot;

	if (!size)
		return;
	idx = (__u32)(__sync_fetch_and_add(&unassured_head, 1) % size);
	slot = bpf_map_lookup_elem(&nat_unassured, &idx);
	if (slot)
		*slot = *key;
}

/* Delete every entry of the flow whose ORIG entry (okey, v) is, ORIG
 * first (see ctl/common/ctflow.c, which does the same from userspace). */
static __always_inline void ct_remove_flow(const struct nat_ct_key *okey,
					   const struct nat_ct_value *v)
{
	struct nat_ct_key k;
	__u8 kind = v->kind;

	ct_twin_key(&k, v, okey->proto);
	if (kind == NAT_KIND_HAIRPIN) {
		struct nat_ct_key e, r;

		ct_hairpin_egress_key(&e, okey, v);
		ct_key_flip(&r, &e);
		ct_delete(&e);
		ct_delete(&r);
	}
	ct_delete(okey);
	ct_delete(&k);
}

/*
 * The table is full: evict one unassured flow among the next few the ring
 * remembers (nf_conntrack's early drop, for a table whose buckets BPF
 * cannot walk). An assured flow is never touched. True if room was made.
 */
static __always_inline bool ct_evict_unassured(void)
{
	__u32 size = *(volatile const __u32 *)&unassured_ring;
	__u64 head = unassured_head, start = unassured_evict;
	__u64 oldest = head > size ? head - size : 0;

	/* From the oldest flow the ring still remembers towards the newest,
	 * a few slots per full insert; the cursor is a hint, races between
	 * CPUs only make two of them look at the same slots. */
	if (!size || head == 0)
		return false;
	if (start < oldest || start >= head)
		start = oldest;
	unassured_evict = start + NAT_EVICT_TRIES;
	for (int i = 0; i < NAT_EVICT_TRIES; i++) {
		__u32 idx = (__u32)((start + i) % size);
		struct nat_ct_key *slot = bpf_map_lookup_elem(&nat_unassured, &idx);
		struct nat_ct_value *v;
		struct nat_ct_key key;

		if (!slot)
			continue;
		key = *slot;
		v = ct_lookup(&key);
		if (!v || v->dir != NAT_DIR_ORIG || nat_ct_assured(key.proto, v->state))
			continue;
		xdpnat_flowlog_emit(&key, v, bpf_ktime_get_ns(), NAT_FLOW_END_EVICTED);
		ct_remove_flow(&key, v);
		STAT_INC(ct_evicted);
		return true;
	}
	return false;
}

/*
 * A UDP masquerade flow on its endpoint's own mapping port makes its
 * reply entry at its first reply (nat_lazyreply.h): a new flow then
 * claims one cold line of nat_ct instead of two.
 */
static __always_inline bool ct_lazy(const struct ct_new *n)
{
	return n->key.proto == IPPROTO_UDP && n->kind == NAT_KIND_MASQ && !n->alloc_sport;
}

/* One attempt at creating both entries (see ct_create). */
static __always_inline int ct_create_once(struct ct_new *n, struct nat_ct_value **out)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct nat_ct_key rkey = {};
	struct nat_ct_value *oval, *rval;
	struct nat_ct_key rto = {};
	__u64 now = bpf_ktime_get_ns();
	long err;
	int rc;

	if (cpu >= CT_NEW_CELLS)
		return CT_NEW_FULL;
	oval = &nat_ct_new_cell[cpu].oval;
	rval = &nat_ct_new_cell[cpu].rval;
	if (ct_lazy(n)) {
		/* the ORIG entry alone, then whether an entry of another flow
		 * holds its reply tuple (nat_lazyreply.h) */
		ct_key_reverse(&rkey, n->to.saddr, n->to.daddr, n->to.sport, n->to.dport,
			       n->key.proto);
		ct_value_init(oval, &n->to, n, NAT_DIR_ORIG, now);
		err = ct_insert(&n->key, oval, BPF_NOEXIST);
		if (err && err != -EEXIST_)
			return CT_NEW_FULL;
		if (!err && ct_keyed(&rkey) && ct_lookup(&rkey)) {
			ct_delete(&n->key);
			return CT_NEW_CLASH;
		}
		goto made;
	}
	ct_key_reverse(&rto, n->key.saddr, n->key.daddr, n->key.sport, n->key.dport, n->key.proto);
	ct_value_init(rval, &rto, n, NAT_DIR_REPLY, now);
	rc = ct_insert_reply(n, &rkey, rval);
	if (rc != CT_NEW_OK)
		return rc;

	ct_value_init(oval, &n->to, n, NAT_DIR_ORIG, now);
	if (n->kind != NAT_KIND_MASQ)
		ct_keyed_mark(&n->key);	/* a tuple to a WAN address (inbound, hairpin) */
	err = ct_insert(&n->key, oval, BPF_NOEXIST);
	if (err) {
		ct_delete(&rkey);
		if (err != -EEXIST_)
			return CT_NEW_FULL;
	} else if (n->kind != NAT_KIND_MASQ && ct_implied(&n->key)) {
		/* an inbound (or hairpin) flow's ORIG key is a tuple to a WAN
		 * address that a lazy flow's reply may hold */
		ct_delete(&n->key);
		ct_delete(&rkey);
		return CT_NEW_CLASH;
	} else if (n->kind == NAT_KIND_HAIRPIN) {
		ct_insert_hairpin_egress(n, oval, rval);
	}
made:
	*out = ct_lookup(&n->key);
	if (!*out)
		return CT_NEW_FULL;
	if (!err) {
		STAT_INC(flows_created);
		ct_note_new(&n->key);
		xdpnat_flowlog_emit(&n->key, *out, now, NAT_FLOW_END_NONE);
	}
	return CT_NEW_OK;
}

/*
 * Create both entries of a new flow. On success *out is the original
 * direction's entry (possibly one created concurrently by another CPU).
 * A full table first gives up an unassured flow, if it has one.
 */
static __always_inline int ct_create(struct ct_new *n, struct nat_ct_value **out)
{
	int rc = ct_create_once(n, out);

	if (rc == CT_NEW_FULL && ct_evict_unassured())
		rc = ct_create_once(n, out);
	return rc;
}

/* Write a new state into this entry and its twin, and set or clear
 * flags in both. */
static __always_inline void ct_set_state_flags(struct nat_ct_value *v, __u8 proto, __u8 state,
					       __u8 set, __u8 clear)
{
	struct nat_ct_key twin;
	struct nat_ct_value *t;

	v->state = state;
	v->flags = (v->flags | set) & ~clear;
	ct_twin_key(&twin, v, proto);
	t = ct_lookup(&twin);
	if (t) {
		t->state = state;
		t->flags = (t->flags | set) & ~clear;
	}
}

static __always_inline void ct_set_state(struct nat_ct_value *v, __u8 proto, __u8 state)
{
	ct_set_state_flags(v, proto, state, 0, 0);
}

/*
 * Per-packet bookkeeping: counters, idle time, state. Transitions touch the
 * twin entry too; they happen a handful of times per flow.
 */
static __always_inline void ct_account_tcp(struct nat_ct_value *v, const struct nat_pkt *p, __u8 dir);

/* The next-hop cache of an entry as one 8-byte word (one load). */
static __always_inline __u64 nh_word(const struct nat_ct_value *v)
{
	__u64 w;

	__builtin_memcpy(&w, &v->nh, sizeof(w));
	return w;
}

/*
 * nh is the next-hop cache word this packet leaves behind: what the XDP
 * fast path validated or looked up, 0 on every other path. So a cache
 * entry is never older than the last packet of its direction, which is
 * what makes the idle check of nat_nexthop() sound. now: the coarse clock
 * (a tick is plenty for idle timeouts).
 */
static __always_inline void ct_account(struct nat_ct_value *v, const struct nat_pkt *p, __u64 nh,
				       __u64 now)
{
	__u8 dir = v->dir == NAT_DIR_HAIRPIN_EGRESS ? NAT_DIR_ORIG : v->dir;
	__u8 before = v->state;

	if (nh_word(v) != nh)
		__builtin_memcpy(&v->nh, &nh, sizeof(nh));	/* one 8-byte store */
	v->last_seen = nat_tick(now);
	/* Plain adds, not locked ones (those cost ~7 ns a packet): each entry
	 * counts one direction of one flow, which RSS steers to one rx queue,
	 * so two CPUs update the same entry at once only if a NIC spreads one
	 * direction of a flow over queues; then an increment can be lost. */
	v->packets++;
	v->bytes += p->tot_len;

	if (p->key.proto != IPPROTO_TCP) {
		if (v->state == NAT_CT_NEW && dir == NAT_DIR_REPLY)
			ct_set_state(v, p->key.proto, NAT_CT_ESTABLISHED);
		return;
	}
	if (p->frag == FRAG_LATER)
		return;
	ct_account_tcp(v, p, dir);
	if ((v->flags & NAT_CT_F_GATE) && before != v->state) {
		__be32 raddr, inside;

		/* One count per session while it is established, whatever
		 * way it ends: NAT_CT_F_GATE_COUNTED says it holds one. */
		gate_peers(v, p, &raddr, &inside);
		if (v->state == NAT_CT_ESTABLISHED && !(v->flags & NAT_CT_F_GATE_COUNTED)) {
			if (gate_update(raddr, inside, 1))
				ct_set_state_flags(v, IPPROTO_TCP, v->state, NAT_CT_F_GATE_COUNTED, 0);
		} else if (v->state == NAT_CT_CLOSING && (v->flags & NAT_CT_F_GATE_COUNTED)) {
			gate_update(raddr, inside, -1);
			ct_set_state_flags(v, IPPROTO_TCP, v->state, 0, NAT_CT_F_GATE_COUNTED);
		}
	}
}

/* seq lies in [lo, hi], modulo 2^32 */
static __always_inline bool seq_between(__u32 seq, __u32 lo, __u32 hi)
{
	return seq - lo <= hi - lo;
}

/*
 * Follow this direction's sequence space (see NAT_TCP_MAX_ADVANCE in
 * include/xdpnat.h); false if the segment is out of window. Only the own
 * entry is read: the per-packet cost is a few compares. SYNs and RSTs are
 * judged by their own rules in ct_account_tcp().
 */
static __always_inline bool ct_track(struct nat_ct_value *v, const struct nat_pkt *p)
{
	__u8 need = NAT_CT_F_TD_END | ((p->tcp_flags & TCP_ACK_) ? NAT_CT_F_TD_ACK : 0);

	if (p->tcp_flags & (TCP_SYN_ | TCP_RST_))
		return true;
	if ((v->flags & need) != need) {
		/* picked up mid-stream (a flow adopted from an older build,
		 * or this direction's first segment after the handshake) */
		if (!(v->flags & NAT_CT_F_TD_END))
			v->td_end = p->tcp_end;
		if (!(v->flags & NAT_CT_F_TD_ACK))
			v->td_ack = p->tcp_ack;
		v->flags |= need;
		return true;
	}
	if (!seq_between(p->tcp_seq, v->td_end - NAT_TCP_MAX_ADVANCE,
			 v->td_end + NAT_TCP_MAX_ADVANCE))
		return false;
	if ((__s32)(p->tcp_end - v->td_end) > 0 && !(p->tcp_flags & TCP_FIN_))
		v->td_end = p->tcp_end;	/* a FIN's end: once ct_account_tcp accepts it */
	if ((p->tcp_flags & TCP_ACK_) && (__s32)(p->tcp_ack - v->td_ack) > 0 &&
	    p->tcp_ack - v->td_ack <= NAT_TCP_MAX_ADVANCE)
		v->td_ack = p->tcp_ack;
	return true;
}

/*
 * May this RST or FIN (from the direction of v; t is the other entry)
 * change the flow's state? Its sequence number must lie between what the
 * other side acknowledged and what this side sent (a FIN may be up to
 * `slack` beyond). What is not known yet is not held against it.
 */
static __always_inline bool ct_close_in_window(const struct nat_ct_value *v,
					       const struct nat_ct_value *t,
					       const struct nat_pkt *p, __u32 slack)
{
	__u32 lo, hi = v->td_end;

	if (!(v->flags & NAT_CT_F_TD_END))
		return true;
	if (v->flags & (NAT_CT_F_ALG | NAT_CT_F_SEQADJ)) {
		/* the ALG shifts sequence numbers between the two sides, so
		 * the other side's acks are in another space: this side's
		 * own, a window below what it sent */
		lo = hi - NAT_TCP_FIN_SLACK;
	} else if (t && (t->flags & NAT_CT_F_TD_ACK)) {
		lo = t->td_ack;
		if ((__s32)(hi - lo) < 0) {	/* acknowledged more than seen here */
			lo = hi;
			hi = t->td_ack;
		}
	} else {
		lo = hi - 1;	/* nothing acknowledged yet: the next number */
	}
	return seq_between(p->tcp_seq, lo, hi + slack);
}

static __always_inline void ct_account_tcp(struct nat_ct_value *v, const struct nat_pkt *p, __u8 dir)
{
	__u8 fl = p->tcp_flags;
	struct nat_ct_key twin;
	struct nat_ct_value *t;

	if (!ct_track(v, p))
		goto out_of_window;
	/* The common case, a segment of an established flow, stops here. */
	if (!(fl & (TCP_SYN_ | TCP_FIN_ | TCP_RST_)) && v->state != NAT_CT_SYN_RECV)
		return;

	ct_twin_key(&twin, v, IPPROTO_TCP);
	t = ct_lookup(&twin);

	if (fl & TCP_RST_) {
		if (v->state == NAT_CT_CLOSING)
			return;
		if (v->state == NAT_CT_SYN_SENT && dir == NAT_DIR_REPLY) {
			/* refusing the SYN: it must acknowledge it */
			if (!(fl & TCP_ACK_) ||
			    (t && (t->flags & NAT_CT_F_TD_END) && p->tcp_ack != t->td_end))
				goto out_of_window;
		} else if (!ct_close_in_window(v, t, p, 0)) {
			goto out_of_window;
		}
		ct_set_state(v, IPPROTO_TCP, NAT_CT_CLOSING);
		return;
	}
	if (fl & TCP_FIN_) {
		if (!ct_close_in_window(v, t, p, NAT_TCP_FIN_SLACK))
			goto out_of_window;
		if ((__s32)(p->tcp_end - v->td_end) > 0)
			v->td_end = p->tcp_end;
		v->flags |= NAT_CT_F_FIN;
		if (t && (t->flags & NAT_CT_F_FIN))
			ct_set_state(v, IPPROTO_TCP, NAT_CT_CLOSING);
		else if (v->state < NAT_CT_FIN_WAIT)
			ct_set_state(v, IPPROTO_TCP, NAT_CT_FIN_WAIT);
		return;
	}
	/* The handshake: the SYN-ACK (acknowledging the SYN) makes it
	 * SYN_RECV, the originator's ACK (acknowledging the SYN-ACK)
	 * established. A spoofed SYN draws a SYN-ACK from an inside server
	 * but never the ACK, so its flow keeps the short SYN timeout and
	 * stays evictable (nat_unassured); a blind ACK does not fit. */
	if (fl & TCP_SYN_) {
		if (dir == NAT_DIR_ORIG && !(fl & TCP_ACK_)) {
			if (v->state == NAT_CT_CLOSING) {
				/* a new connection reusing the tuple of a closed
				 * one: forget the old FINs, sequence space, and an
				 * FTP control flow's opaque state and offsets (the
				 * ALG inspects the new one afresh) */
				const __u8 stale = NAT_CT_F_FIN | NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ |
						   NAT_CT_F_TD_END | NAT_CT_F_TD_ACK;

				v->flags &= ~stale;
				v->state = NAT_CT_SYN_SENT;
				if (t) {
					t->flags &= ~stale;
					t->state = NAT_CT_SYN_SENT;
				}
				if (v->flags & NAT_CT_F_ALG)
					bpf_map_delete_elem(&nat_alg, &p->key);	/* v is ORIG here */
			}
			if (v->state == NAT_CT_SYN_SENT && !(v->flags & NAT_CT_F_TD_END)) {
				v->td_end = p->tcp_end;
				v->flags |= NAT_CT_F_TD_END;
			}
			return;
		}
		if (dir == NAT_DIR_REPLY && (fl & TCP_ACK_) && v->state == NAT_CT_SYN_SENT) {
			if (t && (t->flags & NAT_CT_F_TD_END) && p->tcp_ack != t->td_end)
				goto out_of_window;
			v->td_end = p->tcp_end;
			v->td_ack = p->tcp_ack;
			v->flags |= NAT_CT_F_TD_END | NAT_CT_F_TD_ACK;
			ct_set_state(v, IPPROTO_TCP, NAT_CT_SYN_RECV);
		}
		return;
	}
	if (v->state == NAT_CT_SYN_RECV && dir == NAT_DIR_ORIG && (fl & TCP_ACK_)) {
		if (t && (t->flags & NAT_CT_F_TD_END) && p->tcp_ack != t->td_end)
			goto out_of_window;
		v->td_ack = p->tcp_ack;	/* over whatever a blind ACK left */
		v->flags |= NAT_CT_F_TD_ACK;
		ct_set_state(v, IPPROTO_TCP, NAT_CT_ESTABLISHED);
	}
	return;

out_of_window:
	STAT_INC(tcp_out_of_window);
}

/* May this packet create a flow? TCP only with a bare SYN; ICMP only an
 * echo request; UDP always. */
static __always_inline bool ct_may_create(const struct nat_pkt *p)
{
	if (p->frag == FRAG_LATER || p->icmp_error)
		return false;
	if (p->key.proto == IPPROTO_TCP)
		return (p->tcp_flags & (TCP_SYN_ | TCP_ACK_ | TCP_RST_ | TCP_FIN_)) == TCP_SYN_;
	if (p->key.proto == IPPROTO_ICMP)
		return p->icmp_type == ICMP_ECHO_;
	return true;
}

#endif /* NAT_CT_H */
