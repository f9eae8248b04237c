/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xdpnat.bpf.c - the data path: three programs, one body of NAT logic.
 *
 *   xdpnat_xdp_lan    XDP, ingress of every LAN interface.
 *   xdpnat_xdp_wan    XDP, ingress of every WAN interface.
 *   xdpnat_tc_egress  tc clsact egress of every LAN and WAN interface.
 *
 * XDP translates and forwards established flows itself (FIB lookup, MAC
 * rewrite, TTL decrement, redirect). When it cannot forward a packet it
 * hands it to the kernel in a form the kernel accepts on that interface:
 *  - from a WAN: destination translated (the kernel routes the now-inside
 *    address to the LAN);
 *  - from a LAN: untouched, because a WAN source address arriving from the
 *    LAN would be a martian; tc egress of the WAN translates it after the
 *    kernel has routed it. Hairpin flows get their destination half on
 *    ingress and their source half on tc egress of the LAN.
 * A packet redirected by XDP never passes tc egress, and a packet passed
 * untouched is translated only on egress: nothing is translated twice.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdpnat.h"
#include "nat_maps.h"
#include "nat_globals.h"
#include "nat_parse.h"
#include "nat_gate.h"
#include "nat_cttab.h"
#include "nat_ct.h"
#include "nat_fwdports.h"
#include "nat_eim.h"
#include "nat_lazyreply.h"
#include "nat_rewrite.h"
#include "nat_mss.h"
#include "nat_fib.h"

#define TC_ACT_OK_	0
#define TC_ACT_SHOT_	2

enum nat_hook {
	HOOK_XDP_LAN,
	HOOK_XDP_WAN,
	HOOK_TC_LAN,
	HOOK_TC_WAN,
};

enum nat_action {
	ACT_UNTOUCHED,		/* not ours: leave the packet as it is */
	ACT_XLATE,		/* translate as the verdict says */
	ACT_DROP,		/* dropped; the reason is counted already */
};

struct nat_verdict {
	struct nat_ct_key to;		/* the (outer) header after translation */
	struct nat_ct_value *ct;	/* the flow entry, or the flow of an ICMP error */
	__u32 wan_ifindex;		/* the flow's WAN */
	bool to_wan;			/* leaves through the flow's WAN */
	bool snat;			/* the source changes */
	__u16 csum_kept;		/* XDP: an unfinished TCP/UDP checksum that stays so,
					 * as it is to be after translation; 0 = none */
};

static __always_inline bool hook_is_lan_to_wan(enum nat_hook hook)
{
	return hook == HOOK_XDP_LAN || hook == HOOK_TC_WAN;
}

/* The packets of a hook come from a LAN on LAN ingress and on WAN egress
 * (routed out of a LAN), from a WAN on WAN ingress and on LAN egress;
 * ct_from_lan() (nat_ct_key.h) says where a flow's entry expects them. */

static __always_inline int ct_new_result(int rc)
{
	if (rc == CT_NEW_OK)
		return ACT_XLATE;
	if (rc == CT_NEW_NO_PORT)
		STAT_INC(drop_no_port);
	else
		STAT_INC(drop_ct_full);	/* full, or the tuple clashes with a live flow */
	return ACT_DROP;
}

/* Remember a refused TCP connection to a WAN address (for the ALG's advice). */
static __always_inline void note_refused(const struct nat_pkt *p, __u8 gated)
{
	struct nat_refused_key rk = { .raddr = p->key.saddr, .waddr = p->key.daddr };
	struct nat_refused_value rv = { .last = bpf_ktime_get_ns(), .dport = p->key.dport,
					.gated = gated };

	if (p->key.proto == IPPROTO_TCP)
		bpf_map_update_elem(&nat_refused, &rk, &rv, BPF_ANY);
}

/* NAT_CT_F_ALG for a new control flow, unless no ALG runs by design
 * (NAT_CFG_F_ALG_OFF): then it is never inspected, and counted once
 * created. Flow creation only; a packet of an existing flow never asks. */
static __always_inline bool alg_is_off(void)
{
	struct nat_config *cfg = nat_config_get();

	return cfg && (cfg->flags & NAT_CFG_F_ALG_OFF);
}

static __always_inline int ct_create_ctl(struct ct_new *n, struct nat_ct_value **v)
{
	bool off = alg_is_off();
	int act;

	if (!off)
		n->flags |= NAT_CT_F_ALG;
	act = ct_new_result(ct_create(n, v));
	if (off && act == ACT_XLATE)
		STAT_INC(alg_off_flows);
	return act;
}

/* Does addr belong to a host behind one of our LAN interfaces? Asked of
 * the FIB as if a packet to saddr had come in on this WAN (an output
 * lookup would be bound to this WAN as its output interface): LAN hosts
 * route to a LAN interface, the router's own addresses are local (not
 * forwarded), 0.0.0.0 (a DHCP client) has no route. */
static __always_inline bool addr_is_lan(void *ctx, __u32 ifindex, __be32 addr)
{
	/* tot_len: a minimal packet, so that the MTU check of the lookup
	 * (on tc it would be the skb's length) never hides the route */
	struct bpf_fib_lookup fib = { .family = AF_INET_, .ipv4_dst = addr, .ifindex = ifindex,
				      .tot_len = 20 };
	struct nat_iface *out;
	long rc;

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH &&
	    rc != BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return false;
	out = bpf_map_lookup_elem(&nat_ifaces, &fib.ifindex);
	return out && out->role == NAT_IF_LAN;
}

/* Unsolicited from WAN `ifindex` (no flow, forward, expectation) to a
 * host behind one of our LANs: refused unless that WAN routes inbound
 * (`inbound <wan> accept`, or no `outbound`: a routed uplink). */
static __always_inline bool inbound_refused(struct xdp_md *ctx, __u32 ifindex, __be32 daddr)
{
	struct nat_iface *wan = bpf_map_lookup_elem(&nat_ifaces, &ifindex);

	if (!wan || !wan->masquerade || (wan->flags & NAT_IFACE_F_INBOUND_ACCEPT))
		return false;
	return addr_is_lan(ctx, ifindex, daddr);	/* else the router's own, or unroutable:
							 * the kernel decides */
}

/*
 * `inbound <wan> accept` on a masquerading WAN: a connection from the
 * Internet to a LAN address is routed as it is, and tracked (kind ROUTED,
 * nothing translated), so that its replies leave that WAN untranslated
 * instead of being masqueraded or stopped by the leak guard.
 */
static __always_inline int new_routed(void *ctx, const struct nat_pkt *p, __u32 ifindex,
				      const struct nat_iface *iif, struct nat_ct_value **v)
{
	struct ct_new n = { .key = p->key, .to = p->key, .wan_ifindex = ifindex,
			    .kind = NAT_KIND_ROUTED };

	if (!iif->masquerade || !(iif->flags & NAT_IFACE_F_INBOUND_ACCEPT) ||
	    !addr_is_lan(ctx, ifindex, p->key.daddr))
		return ACT_UNTOUCHED;
	return ct_new_result(ct_create(&n, v));
}

/*
 * Does a socket of the router itself take p (from a WAN, to the WAN's
 * address)? A mapping's port is claimed without asking the kernel's
 * sockets (that would cost every new endpoint a socket lookup), so a
 * router socket (a resolver's query, a service bound to the port) and a
 * LAN endpoint's mapping can share a port. A packet of no flow then
 * belongs to the router's socket, as the kernel alone would deliver it:
 * filtering admits to a mapping only what no local socket takes. The
 * tuple sits in a per-CPU cell of .bss: the programs' stack is full.
 */
#define SK_CELLS	1024
static struct bpf_sock_tuple nat_sk_tuple[SK_CELLS];	/* static: not in the skeleton */

static __always_inline bool router_socket(void *ctx, const struct nat_pkt *p)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct bpf_sock_tuple *t;
	struct bpf_sock *sk;

	if (cpu >= SK_CELLS)
		return false;
	t = &nat_sk_tuple[cpu];
	t->ipv4.saddr = p->key.saddr;
	t->ipv4.daddr = p->key.daddr;
	t->ipv4.sport = p->key.sport;
	t->ipv4.dport = p->key.dport;
	if (p->key.proto == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(ctx, t, sizeof(t->ipv4), BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(ctx, t, sizeof(t->ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return false;
	bpf_sk_release(sk);
	return true;
}

/* xdpnat_eim_admit()'s first argument: the packet's outside port on WAN
 * ifindex. */
static __always_inline __u64 eim_outside(__u32 ifindex, const struct nat_iface *wan,
					 const struct nat_pkt *p)
{
	return (__u64)ifindex | (__u64)p->key.dport << 32 | (__u64)p->key.proto << 48 |
	       (__u64)wan->wan_id << 56;
}

/* The source port of a new flow of p's inside endpoint leaving by WAN
 * wan: its endpoint-independent mapping's (nat_eim.h); else, as before,
 * one chosen for this destination (n->alloc_sport stays set). */
static __always_inline void eim_source_port(struct ct_new *n, const struct nat_pkt *p,
					    __u32 wan_ifindex, const struct nat_iface *wan)
{
	int port = xdpnat_eim_port((__u64)p->key.saddr | (__u64)p->key.sport << 32 |
				   (__u64)p->key.proto << 48,
				   (__u64)wan_ifindex | (__u64)n->port_lo << 32 |
				   (__u64)n->port_hi << 48,
				   ((wan->flags & NAT_IFACE_F_FILTER_AD) ? p->key.daddr : 0) |
				   (__u64)wan->wan_id << 32);

	if (port > 0) {
		n->to.sport = bpf_htons((__u16)port);
		n->alloc_sport = 0;
		if (port & EIM_CREATED)
			STAT_INC(eim_created);
	} else {
		STAT_INC(eim_full);
	}
}

/* A connection from the Internet: to a WAN address, an FTP expectation, a
 * port forward or a mapping its filter admits (nat_eim.h); to a LAN
 * address, routed (new_routed). */
/* An FTP ALG expectation of this packet's tuple, for connections that
 * arrive from `from` (enum nat_expect_dir): its destination goes into n
 * and it is used up. False if there is none, of that side, in time. */
static __always_inline bool expect_take(const struct nat_pkt *p, __u8 from, struct ct_new *n)
{
	struct nat_expect_key ek = {
		.raddr = p->key.saddr, .waddr = p->key.daddr, .wport = p->key.dport,
		.proto = p->key.proto,
	};
	struct nat_expect_value *e = bpf_map_lookup_elem(&nat_expect, &ek);

	if (!e || e->dir != from || e->expires <= bpf_ktime_get_ns())
		return false;
	n->to.daddr = e->to_addr;
	n->to.dport = e->to_port;
	bpf_map_delete_elem(&nat_expect, &ek);	/* single use */
	STAT_INC(expect_used);
	return true;
}

static __always_inline int new_from_wan(void *ctx, const struct nat_pkt *p, __u32 ifindex,
					struct nat_ct_value **v)
{
	struct nat_iface *iif = bpf_map_lookup_elem(&nat_ifaces, &ifindex);
	struct nat_fwd_key fk = { .ifindex = ifindex, .port = p->key.dport, .proto = p->key.proto };
	struct ct_new n = { .key = p->key, .to = p->key, .wan_ifindex = ifindex };
	struct nat_fwd_value *f;

	if (!iif || !ct_may_create(p))
		return ACT_UNTOUCHED;
	if (!iif->addr || p->key.daddr != iif->addr)
		return new_routed(ctx, p, ifindex, iif, v);
	if (p->key.proto == IPPROTO_ICMP)
		return ACT_UNTOUCHED;

	if (expect_take(p, NAT_EXPECT_IN, &n)) {
		n.kind = NAT_KIND_EXPECT;
		return ct_new_result(ct_create(&n, v));
	}

	f = fwd_lookup(&fk);
	if (!f) {
		__u64 in = xdpnat_eim_admit(eim_outside(ifindex, iif, p), p->key.saddr, iif->flags);

		if (in && router_socket(ctx, p)) {
			STAT_INC(local_socket);
			return ACT_UNTOUCHED;
		}
		if (in) {
			n.kind = NAT_KIND_MAPPED;
			n.to.daddr = (__u32)in;
			n.to.dport = (__u16)(in >> 32);
			STAT_INC(eim_inbound);
			return ct_new_result(ct_create(&n, v));
		}
		note_refused(p, 0);
		return ACT_UNTOUCHED;
	}
	if ((f->flags & NAT_FWD_F_GATE_FTP) && !gate_open(p->key.saddr, f->addr)) {
		note_refused(p, 1);
		STAT_INC(drop_gate);
		return ACT_DROP;
	}
	n.kind = NAT_KIND_FORWARD;
	n.to.daddr = f->addr;
	n.to.dport = f->port;
	if (f->flags & NAT_FWD_F_FTP_CTRL)
		n.flags |= NAT_CT_F_GATE;
	if ((f->flags & NAT_FWD_F_ALG) && p->key.proto == IPPROTO_TCP)
		return ct_create_ctl(&n, v);
	return ct_new_result(ct_create(&n, v));
}

static __always_inline bool is_ftp_port(__u16 port)
{
	struct nat_config *cfg = nat_config_get();

	if (!cfg || !port)
		return false;
	for (int i = 0; i < XDPNAT_FTP_PORTS; i++)
		if (cfg->ftp_ports[i] == port)
			return true;
	return false;
}

static __always_inline void ct_new_range(struct ct_new *n, const struct nat_iface *wan)
{
	n->port_lo = wan->port_lo_host ? wan->port_lo_host : XDPNAT_PORT_LO_DEFAULT;
	n->port_hi = wan->port_hi_host ? wan->port_hi_host : XDPNAT_PORT_HI_DEFAULT;
	n->alloc_sport = 1;
}

/* A LAN host's connection to a WAN address: to what an FTP ALG
 * expectation of a hairpin control flow names, to a forward (an FTP
 * control port one inspected by the ALG, as from a WAN; `gate ftp` does
 * not apply: a LAN host reaches the server directly anyway), or to
 * another inside endpoint's mapping. */
static __always_inline int new_hairpin(const struct nat_pkt *p, __u32 wan_ifindex,
				       struct nat_ct_value **v)
{
	struct nat_fwd_key fk = { .ifindex = wan_ifindex, .port = p->key.dport, .proto = p->key.proto };
	struct ct_new n = { .key = p->key, .to = p->key, .wan_ifindex = wan_ifindex,
			    .kind = NAT_KIND_HAIRPIN };
	struct nat_iface *wan;
	struct nat_fwd_value *f;
	bool ctl = false;

	if (p->key.proto == IPPROTO_ICMP)
		return ACT_UNTOUCHED;
	wan = bpf_map_lookup_elem(&nat_ifaces, &wan_ifindex);
	if (!wan || wan->addr != p->key.daddr)
		return ACT_UNTOUCHED;
	if (expect_take(p, NAT_EXPECT_HAIRPIN, &n)) {
		/* the destination is the expectation's */
	} else if ((f = fwd_lookup(&fk))) {
		n.to.daddr = f->addr;
		n.to.dport = f->port;
		ctl = (f->flags & NAT_FWD_F_ALG) && p->key.proto == IPPROTO_TCP;
	} else {
		/* REQ-9: to another inside endpoint's mapping, through its
		 * filter, the WAN address being the remote */
		__u64 in = xdpnat_eim_admit(eim_outside(wan_ifindex, wan, p), wan->addr, wan->flags);

		if (!in)
			return ACT_UNTOUCHED;
		n.to.daddr = (__u32)in;
		n.to.dport = (__u16)(in >> 32);
	}
	n.to.saddr = wan->addr;
	ct_new_range(&n, wan);
	eim_source_port(&n, p, wan_ifindex, wan);
	if (ctl)
		return ct_create_ctl(&n, v);
	return ct_new_result(ct_create(&n, v));
}

static __always_inline int new_masquerade(const struct nat_pkt *p, __u32 wan_ifindex,
					  struct nat_ct_value **v)
{
	struct ct_new n = { .key = p->key, .to = p->key, .wan_ifindex = wan_ifindex,
			    .kind = NAT_KIND_MASQ };
	struct nat_iface *wan = bpf_map_lookup_elem(&nat_ifaces, &wan_ifindex);

	if (!wan || wan->role != NAT_IF_WAN || !wan->masquerade || !wan->addr)
		return ACT_UNTOUCHED;
	n.to.saddr = wan->addr;
	ct_new_range(&n, wan);
	eim_source_port(&n, p, wan_ifindex, wan);
	if (p->key.proto == IPPROTO_TCP && is_ftp_port(bpf_ntohs(p->key.dport)))
		return ct_create_ctl(&n, v);
	return ct_new_result(ct_create(&n, v));
}

/* New flow seen on LAN ingress: hairpin, or masquerade out of the WAN the
 * FIB picks for it. */
static __always_inline int new_from_lan(void *ctx, const struct nat_pkt *p, __u32 ifindex,
					__u8 tos, struct nat_ct_value **v)
{
	struct bpf_fib_lookup fib;
	__u32 *wan;
	long rc;

	if (!ct_may_create(p) || p->ttl <= 1)
		return ACT_UNTOUCHED;
	wan = bpf_map_lookup_elem(&nat_wanaddr, &p->key.daddr);
	if (wan)
		return new_hairpin(p, *wan, v);
	rc = fib_lookup_to(ctx, &fib, ifindex, p, &p->key, p->key.daddr, tos, p->tot_len);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return ACT_UNTOUCHED;	/* tc egress creates it once the kernel has routed it */
	return new_masquerade(p, fib.ifindex, v);
}

#define NAT_TICKS_PER_SEC	(1000000000U >> NAT_TICK_SHIFT)	/* 476 */

/* May this source record one more fragmented datagram (nat_frag_src)? */
static __always_inline bool frag_src_allowed(__be32 saddr, __u32 now)
{
	struct nat_frag_src *b = bpf_map_lookup_elem(&nat_frag_src, &saddr);
	struct nat_frag_src init = { .tokens = NAT_FRAG_SRC_BURST - 1, .last = now };
	__u32 add;

	if (!b) {
		bpf_map_update_elem(&nat_frag_src, &saddr, &init, BPF_ANY);
		return true;
	}
	add = nat_ticks_since(now, b->last) * NAT_FRAG_SRC_RATE / NAT_TICKS_PER_SEC;
	if (add) {
		b->tokens = b->tokens + add > NAT_FRAG_SRC_BURST ? NAT_FRAG_SRC_BURST
								 : b->tokens + add;
		b->last = now;
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

static __always_inline void frag_record(const struct nat_pkt *p, const struct nat_verdict *vd)
{
	struct nat_frag_key fk = { .saddr = p->key.saddr, .daddr = p->key.daddr,
				   .id = p->ip_id, .proto = p->key.proto };
	__u32 now = nat_tick(bpf_ktime_get_coarse_ns());
	struct nat_frag_value fv = { .to_saddr = vd->to.saddr, .to_daddr = vd->to.daddr,
				     .wan_ifindex = vd->wan_ifindex, .to_wan = vd->to_wan,
				     .seen = now };

	if (!frag_src_allowed(p->key.saddr, now)) {
		STAT_INC(frag_src_limited);
		return;
	}
	bpf_map_update_elem(&nat_frag, &fk, &fv, BPF_ANY);
}

static __always_inline int resolve_frag(const struct nat_pkt *p, struct nat_verdict *vd)
{
	struct nat_frag_key fk = { .saddr = p->key.saddr, .daddr = p->key.daddr,
				   .id = p->ip_id, .proto = p->key.proto };
	struct nat_frag_value *fv = bpf_map_lookup_elem(&nat_frag, &fk);

	if (!fv || nat_ticks_since(nat_tick(bpf_ktime_get_coarse_ns()), fv->seen) >
			   NAT_FRAG_TIMEOUT * NAT_TICKS_PER_SEC)
		return ACT_UNTOUCHED;
	vd->to = p->key;
	vd->to.saddr = fv->to_saddr;
	vd->to.daddr = fv->to_daddr;
	vd->wan_ifindex = fv->wan_ifindex;
	vd->to_wan = fv->to_wan;
	vd->snat = fv->to_saddr != p->key.saddr;
	return ACT_XLATE;
}

/* The flow of an ICMP error is the one of the reverse of the packet it
 * carries; v then describes the error's own direction. */
static __always_inline int resolve_icmp_error(void *data, void *data_end, const struct nat_pkt *p,
					      enum nat_hook hook, struct nat_verdict *vd, const __u32 l2)
{
	struct iphdr *iph = data + l2;
	struct nat_ct_key rk;
	struct nat_ct_value *v;

	if ((void *)(iph + 1) > data_end)
		return ACT_UNTOUCHED;
	ct_key_reverse(&rk, p->key.saddr, p->key.daddr, p->key.sport, p->key.dport, p->key.proto);
	v = ct_lookup(&rk);
	if (!v && hook == HOOK_XDP_WAN)
		v = ct_reply_lazy(&rk);	/* about a UDP flow never answered yet */
	if (!v)
		return ACT_UNTOUCHED;
	/* An error about a hairpin (LAN to LAN) flow on its way out of a WAN,
	 * whichever of the flow's entries it quotes (the router's own "time
	 * exceeded" quotes the half-translated packet, a HAIRPIN_EGRESS
	 * tuple): its client claimed a source the LAN does not route, and
	 * the quote holds the inside server's address. Or the wrong side:
	 * not about anything we sent that way. */
	if ((v->kind == NAT_KIND_HAIRPIN && hook == HOOK_TC_WAN) ||
	    (v->dir != NAT_DIR_HAIRPIN_EGRESS && ct_from_lan(v) != hook_is_lan_to_wan(hook))) {
		STAT_INC(drop_spoofed);
		return ACT_DROP;
	}
	if (v->dir == NAT_DIR_HAIRPIN_EGRESS)
		return ACT_UNTOUCHED;
	vd->ct = v;
	vd->to.saddr = iph->saddr;
	vd->to.daddr = v->to_daddr;
	vd->to.proto = IPPROTO_ICMP;
	vd->wan_ifindex = v->wan_ifindex;
	vd->to_wan = hook_is_lan_to_wan(hook) && v->kind != NAT_KIND_HAIRPIN;
	/* Whoever sent it: the flow's own endpoint, or a router between it
	 * and us (an inside router's "fragmentation needed", an L3 switch's
	 * "time exceeded"). Leaving by the WAN, or about a hairpin flow (whose
	 * client knows only the WAN address), it speaks for the WAN address,
	 * as nf_nat_icmp_reply_translation does: no inside address leaks,
	 * and path-MTU discovery behind that router keeps working. */
	if (vd->to_wan || v->kind == NAT_KIND_HAIRPIN || iph->saddr == p->key.daddr)
		vd->to.saddr = v->to_saddr;
	vd->snat = vd->to.saddr != iph->saddr;
	return ACT_XLATE;
}

/*
 * Find (or create) what this packet becomes. Counts drops; the caller
 * counts what it does with a translation.
 */
static __always_inline int nat_resolve(void *ctx, void *data, void *data_end, struct nat_pkt *p,
				       enum nat_hook hook, __u32 ifindex, struct nat_verdict *vd,
				       const __u32 l2)
{
	struct nat_ct_value *v;
	struct iphdr *iph = data + l2;
	int act = ACT_XLATE;

	if ((void *)(iph + 1) > data_end)
		return ACT_UNTOUCHED;
	if (p->icmp_error)
		return resolve_icmp_error(data, data_end, p, hook, vd, l2);
	if (p->frag == FRAG_LATER)
		return resolve_frag(p, vd);

	v = ct_lookup(&p->key);
	if (!v && hook == HOOK_XDP_WAN)
		v = ct_reply_lazy(&p->key);	/* the first reply of a UDP flow */
	if (v && v->dir == NAT_DIR_HAIRPIN_EGRESS) {
		if (hook != HOOK_TC_LAN)
			return ACT_UNTOUCHED;
	} else if (v && ct_from_lan(v) != hook_is_lan_to_wan(hook)) {
		/* a WAN packet carrying a LAN flow's tuple (or the reverse):
		 * a spoof, not this flow */
		STAT_INC(drop_spoofed);
		return ACT_DROP;
	}
	if (!v) {
		if (hook == HOOK_XDP_WAN)
			act = new_from_wan(ctx, p, ifindex, &v);
		else if (hook == HOOK_XDP_LAN)
			act = new_from_lan(ctx, p, ifindex, iph->tos, &v);
		else if (hook == HOOK_TC_WAN && ct_may_create(p) &&
			 addr_is_lan(ctx, ifindex, p->key.saddr))
			act = new_masquerade(p, ifindex, &v);	/* never the router's own */
		else
			act = ACT_UNTOUCHED;
		if (act != ACT_XLATE)
			return act;
		if (!v)
			return ACT_UNTOUCHED;
	}
	vd->ct = v;
	vd->to.saddr = v->to_saddr;
	vd->to.daddr = v->to_daddr;
	vd->to.sport = v->to_sport;
	vd->to.dport = v->to_dport;
	vd->to.proto = p->key.proto;
	vd->wan_ifindex = v->wan_ifindex;
	vd->to_wan = hook_is_lan_to_wan(hook) && v->kind != NAT_KIND_HAIRPIN;
	vd->snat = v->to_saddr != p->key.saddr || v->to_sport != p->key.sport;
	if (p->frag == FRAG_FIRST)
		frag_record(p, vd);
	return ACT_XLATE;
}

/* Translate the packet. Sequence adjustment (opaque ALG flows) is done
 * before, by the caller, since on tc it moves the packet pointers. */
static __always_inline int apply(void *ctx, bool is_tc, void *data, void *data_end,
				 const struct nat_pkt *p, const struct nat_verdict *vd, const __u32 l2)
{
	if (p->icmp_error) {
		if (!vd->ct || nat_rewrite_icmp_error(data, data_end, p, vd->ct, vd->to.saddr, l2))
			return -1;
		STAT_INC(icmp_errors_translated);
		return 0;
	}
	if (nat_rewrite(ctx, is_tc, data, data_end, p, &vd->to, l2))
		return -1;
	/* SYN, SYN-ACK: `wan <if> mss-clamp` (nat_mss.h). XDP clamps before
	 * apply(), where its callers have fewer values live across the call
	 * (a call here made clang spill past the 512-byte stack). */
	if (is_tc)
		nat_mss_clamp(ctx, is_tc, p, vd->wan_ifindex);
	if (p->frag != FRAG_NONE)
		STAT_INC(fragments_translated);
	return 0;
}

static __always_inline bool need_seqadj(const struct nat_pkt *p, const struct nat_verdict *vd)
{
	return vd->ct && (vd->ct->flags & NAT_CT_F_SEQADJ) && !p->icmp_error;
}

/* nhw: the next-hop cache word to leave in the entry (0 off the XDP fast path). */
static __always_inline void account(const struct nat_pkt *p, struct nat_verdict *vd, __u64 nhw,
				    __u64 now)
{
	if (vd->ct && !p->icmp_error)
		ct_account(vd->ct, p, nhw, now);
}

/* ------------------------------------------------------------------ XDP */

/*
 * Unfinished TCP/UDP checksums (CHECKSUM_PARTIAL, see nat_csum.h): a
 * field equal to the pseudo-header sum, on an interface whose frames can
 * be unfinished (veth, tap, generic mode: NAT_IFACE_F_PARTIAL_CSUM). On a
 * NIC such a field is a complete checksum that happens to have that value.
 *  - XDP redirects it in native mode: the frame leaves without skb and
 *    checksum state (the receiver verifies it), so XDP finishes it first
 *    (xdpnat_csum_finish) and then translates it as any other. A segment
 *    not all in the frame takes the kernel path.
 *  - Generic mode: the skb keeps CHECKSUM_PARTIAL through XDP_REDIRECT,
 *    but a generic redirect hands it to the egress device without the
 *    stack's check of what the device can finish (a tap whose guest did
 *    not ask for checksum offload got it unfinished): the kernel path
 *    takes it, where the stack finishes what the device cannot.
 *  - The kernel path: XDP_PASS keeps the skb's CHECKSUM_PARTIAL, in native
 *    mode too. What XDP translates on the way (WAN ingress, the hairpin
 *    destination half) gets the pseudo-header sum of its new header
 *    (xdpnat_csum_kept/_keep), which the stack, the device or tc egress
 *    (bpf_l4_csum_replace) finishes.
 *  - The ALG computes the checksum of every segment it sends.
 * The checks are asked where their answer is used, and the loop that sums
 * a segment and the bookkeeping around a translation live in global
 * functions, which the verifier checks once on their own instead of once
 * per path of their callers (csum_kept carries an opaque value across).
 */
enum l4csum_state {
	CSUM_DONE,		/* complete (or not TCP/UDP, or a fragment) */
	CSUM_UNFINISHED,	/* unfinished, native mode */
	CSUM_UNFINISHED_SKB,	/* unfinished, generic mode */
};

/* The frame's TCP/UDP checksum field (l2: the link-layer header's length,
 * ETH_HLEN_ or 0); NULL if it has none (another protocol, a fragment) or it
 * is out of reach. */
static __always_inline __u16 *l4_csum_field(void *data, void *data_end, __u32 l2)
{
	struct iphdr *iph = data + l2;
	void *l4;

	if ((void *)(iph + 1) > data_end || (iph->frag_off & bpf_htons(IP_MF_ | IP_OFFMASK_)))
		return NULL;	/* a sender fragments only finished datagrams */
	l4 = data + l2 + iph->ihl * 4;
	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return NULL;
		return &th->check;
	}
	if (iph->protocol == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return NULL;
		return &uh->check;
	}
	return NULL;
}

/* ... and the length it covers (field from l4_csum_field). */
static __always_inline __u32 l4_csum_len(void *data, __u16 *field, __u32 l2)
{
	struct iphdr *iph = data + l2;

	if (iph->protocol == IPPROTO_UDP)
		return bpf_ntohs(field[-1]);		/* the UDP length */
	return bpf_ntohs(iph->tot_len) - iph->ihl * 4;
}

/* May frames from this interface carry unfinished checksums, and does
 * XDP run in generic mode there? */
static __always_inline enum l4csum_state csum_iface(__u32 ifindex)
{
	struct nat_iface *iif = bpf_map_lookup_elem(&nat_ifaces, &ifindex);

	if (!iif || !(iif->flags & NAT_IFACE_F_PARTIAL_CSUM))
		return CSUM_DONE;
	return (iif->flags & NAT_IFACE_F_XDP_GENERIC) ? CSUM_UNFINISHED_SKB : CSUM_UNFINISHED;
}

/* The fast path's question, before the frame is written. A complete
 * packet pays for the pseudo-header sum and one comparison. */
static __always_inline enum l4csum_state csum_check(struct xdp_md *ctx, const struct nat_pkt *p,
						       const __u32 l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + l2;
	__u32 l4_off = p->l4_off;
	__u16 *field, len;

	if (p->icmp_error || p->frag != FRAG_NONE || l4_off > L4_MAX_OFF ||
	    (void *)(iph + 1) > data_end)
		return CSUM_DONE;
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = data + l4_off;

		if ((void *)(th + 1) > data_end)
			return CSUM_DONE;
		field = &th->check;
		len = p->tot_len - (l4_off - l2);
	} else if (p->key.proto == IPPROTO_UDP) {
		struct udphdr *uh = data + l4_off;

		if ((void *)(uh + 1) > data_end)
			return CSUM_DONE;
		field = &uh->check;
		len = bpf_ntohs(uh->len);
	} else {
		return CSUM_DONE;
	}
	if (*field != csum_fold64(csum_pseudo(iph->saddr, iph->daddr, p->key.proto, len)))
		return CSUM_DONE;
	return csum_iface(ctx->ingress_ifindex);
}

/* The sum of a segment: a longer one (or one not all in the frame's
 * linear part) is left to the kernel path. */
#define CSUM_CHUNK	512			/* bpf_csum_diff()'s most per call */
#define CSUM_CHUNKS	8
#define CSUM_MAX_LEN	(CSUM_CHUNK * CSUM_CHUNKS)

/* ctx->data_end, read as the verifier wants it: clang would otherwise
 * merge such reads into a load through a computed ctx pointer. */
static __always_inline void *xdp_data_end(struct xdp_md *ctx)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + 4)" : "=r"(p) : "r"(ctx));
	return p;
}

/* Add the sz bytes at q to sum (sz: a constant multiple of 4). data_end
 * is read from ctx each time: one register fewer to spill. */
#define CSUM_ADD(q, sz)								\
	do {									\
		long __r;							\
		if ((q) + (sz) > xdp_data_end(ctx))				\
			return -1;						\
		__r = bpf_csum_diff(NULL, 0, (q), (sz), sum);			\
		if (__r < 0)							\
			return -1;						\
		sum = (__u32)__r;						\
	} while (0)

/* ... the chunk of sz bytes the binary split of the tail's length rem has
 * there, at tail + the larger chunks before it: computed from rem, not
 * carried from chunk to chunk, so that the verifier sees one path whichever
 * chunks a length has. */
#define CSUM_TAIL(sz)								\
	do {									\
		if (rem & (sz))							\
			CSUM_ADD(tail + (rem & ~(2 * (sz) - 1) & (CSUM_CHUNK - 1)), (sz)); \
	} while (0)

/*
 * The one's complement sum (unfolded, 32 bits) of the len bytes at
 * data + l4_off of the frame; -1 if they are not all in it or len >
 * CSUM_MAX_LEN.
 */
static __always_inline __s64 csum_segment(struct xdp_md *ctx, __u32 l4_off, __u32 len)
{
	void *p = (void *)(long)ctx->data, *tail;
	__u32 sum = 0, rem;
	__u64 s;

	if (len > CSUM_MAX_LEN || l4_off > L4_MAX_OFF)
		return -1;
	p += l4_off;
	/* at most CSUM_CHUNKS rounds: len is bounded above */
	while (len >= CSUM_CHUNK) {
		CSUM_ADD(p, CSUM_CHUNK);
		p += CSUM_CHUNK;
		len -= CSUM_CHUNK;
	}
	tail = p;
	rem = len;
	CSUM_TAIL(256);
	CSUM_TAIL(128);
	CSUM_TAIL(64);
	CSUM_TAIL(32);
	CSUM_TAIL(16);
	CSUM_TAIL(8);
	CSUM_TAIL(4);
	s = sum;
	/* an even number of bytes so far: the words keep their alignment */
	if (rem & 2) {
		void *q = tail + (rem & (CSUM_CHUNK - 4));

		if (q + 2 > xdp_data_end(ctx))
			return -1;
		s += *(__u16 *)q;
	}
	if (rem & 1) {
		void *q = tail + (rem & (CSUM_CHUNK - 2));

		if (q + 1 > xdp_data_end(ctx))
			return -1;
		/* the odd last byte is the high half of a word in network
		 * order, its low half in memory order */
		s += bpf_htons((__u16)(*(__u8 *)q << 8));
	}
	s = (s & 0xffffffff) + (s >> 32);
	return (s & 0xffffffff) + (s >> 32);
}

/*
 * Finish the unfinished TCP/UDP checksum of the frame, before it is
 * translated, as the kernel's skb_checksum_help() or a NIC would: the sum
 * of the segment, the field (the pseudo-header sum) included,
 * complemented. 0, or -1 with nothing written if the segment is not all
 * in the frame's linear part or is longer than CSUM_MAX_LEN.
 */
__noinline int xdpnat_csum_finish(struct xdp_md *ctx, __u64 l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *field, c;
	__s64 sum;

	l2 = l2 ? ETH_HLEN_ : 0;	/* (the verifier knows nothing of the caller's) */
	field = l4_csum_field(data, data_end, l2);
	if (!field)
		return -1;
	sum = csum_segment(ctx, l2 + ((struct iphdr *)(data + l2))->ihl * 4,
			   l4_csum_len(data, field, l2));
	if (sum < 0)
		return -1;
	data = (void *)(long)ctx->data;
	data_end = xdp_data_end(ctx);
	field = l4_csum_field(data, data_end, l2);
	if (!field)
		return -1;
	c = ~csum_fold64(sum);
	if (!c && ((struct iphdr *)(data + l2))->protocol == IPPROTO_UDP)
		c = 0xffff;		/* 0 would mean "no checksum" */
	*field = c;
	return 0;
}

/*
 * Before XDP translates the packet to addresses saddr and daddr and hands
 * it to the kernel path, where it goes on with its skb: if its TCP/UDP
 * checksum is unfinished, what the field is to hold afterwards, the
 * pseudo-header sum of the new header (never 0), for xdpnat_csum_keep();
 * else 0.
 */
__noinline __u16 xdpnat_csum_kept(struct xdp_md *ctx, __u64 saddr, __u64 daddr, __u64 l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph;
	__u16 *field, len;

	/* the interface first: fewer values to keep across the lookup */
	if (csum_iface(ctx->ingress_ifindex) == CSUM_DONE)
		return 0;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	l2 = l2 ? ETH_HLEN_ : 0;
	iph = data + l2;
	field = l4_csum_field(data, data_end, l2);
	if (!field || (void *)(iph + 1) > data_end)
		return 0;
	len = l4_csum_len(data, field, l2);
	if (*field != csum_fold64(csum_pseudo(iph->saddr, iph->daddr, iph->protocol, len)))
		return 0;
	return csum_fold64(csum_pseudo((__be32)saddr, (__be32)daddr, iph->protocol, len));
}

/* ... and after the translation (whose incremental updates took the
 * field for a checksum): the field xdpnat_csum_kept() worked out, if any.
 * Called either way and nothing to check after: the caller's paths do not
 * fork on it. */
__noinline int xdpnat_csum_keep(struct xdp_md *ctx, __u16 kept, __u64 l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *field;

	if (!kept)
		return 0;
	field = l4_csum_field(data, data_end, l2 ? ETH_HLEN_ : 0);
	if (!field)
		return 0;	/* cannot be: the translation kept the headers */
	*field = kept;
	STAT_INC(csum_kept);
	return 0;
}

/* TCP header length of the packet (0 if out of reach). */
static __always_inline __u32 tcp_hdr_len(struct xdp_md *ctx, const struct nat_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tcphdr *th;

	if (p->l4_off > L4_MAX_OFF)
		return 0;
	th = data + p->l4_off;
	if ((void *)(th + 1) > data_end)
		return 0;
	return th->doff * 4;
}

/* A control-flow packet still inspected by the ALG? */
static __always_inline bool alg_wants(const struct nat_pkt *p, const struct nat_verdict *vd)
{
	return vd->ct && (vd->ct->flags & NAT_CT_F_ALG) && !(vd->ct->flags & NAT_CT_F_OPAQUE) &&
	       !p->icmp_error && p->frag == FRAG_NONE && p->key.proto == IPPROTO_TCP;
}

enum alg_sock {
	ALG_SOCK_OK,		/* the ALG's socket for this rx queue is there */
	ALG_SOCK_DOWN,		/* it is not: the ALG is restarting, or off */
	ALG_SOCK_NO_QUEUE,	/* a queue beyond XDPNAT_XSK_QUEUES: never a socket (the
				 * ALG refuses such interfaces at start; the queues
				 * were added after) */
};

/* The nat_xsks slot of the rx queue this frame arrived on, and whether
 * the ALG has a socket there. */
static __always_inline int alg_socket(struct xdp_md *ctx, __u32 *slot)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct nat_iface *iif = bpf_map_lookup_elem(&nat_ifaces, &ifindex);

	if (ctx->rx_queue_index >= XDPNAT_XSK_QUEUES)
		return ALG_SOCK_NO_QUEUE;
	if (!iif)
		return ALG_SOCK_DOWN;
	*slot = iif->slot * XDPNAT_XSK_QUEUES + ctx->rx_queue_index;
	return bpf_map_lookup_elem(&nat_xsks, slot) ? ALG_SOCK_OK : ALG_SOCK_DOWN;
}

/*
 * Hand a translated, ready-to-send frame to the ALG on the AF_XDP socket
 * `slot` (alg_socket()), with where it must go in the metadata. A frame
 * that cannot get there is dropped, never forwarded: it may carry a 227 to
 * rewrite or numbers to shift, and TCP resends it.
 */
static __always_inline int xdp_to_alg(struct xdp_md *ctx, struct nat_pkt *p, __u32 egress,
				      __u32 slot)
{
	struct nat_alg_meta *meta;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		goto drop;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		goto drop;
	meta->egress_ifindex = egress;
	meta->ingress_ifindex = ctx->ingress_ifindex;
	meta->key = p->key;
	STAT_INC(alg_to_user);
	/* a socket that left since alg_socket() (the ALG stopping): dropped */
	return bpf_redirect_map(&nat_xsks, slot, XDP_DROP);
drop:
	STAT_INC(drop_alg_down);
	return XDP_DROP;
}

static __always_inline int xdp_forward(struct xdp_md *ctx, struct nat_pkt *p,
				       struct nat_verdict *vd, __u8 tos, const __u32 l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct nat_config *cfg = nat_config_get();
	__u64 now = bpf_ktime_get_coarse_ns();
	struct nat_nexthop nh;
	struct ethhdr *eth = data;
	__u64 nhw;
	struct iphdr *iph;
	bool alg = alg_wants(p, vd);
	__u32 xsk_slot = 0;

	/* Control-flow packets only (alg_wants): the fast path of every other
	 * flow does not come here. Without the ALG's socket (a restart, no
	 * ALG, or a queue it has no socket on) such a packet is dropped,
	 * before the kernel path below could carry it past the ALG: TCP
	 * resends it, and a restarted ALG resumes the session from
	 * nat_alg_state. Passing it uninspected instead would let a 227 out
	 * unrewritten, or bytes whose sequence numbers the ALG has shifted.
	 * Only when no ALG runs by design does it pass uninspected (its
	 * session was handed back with offsets). */
	if (alg) {
		int sock = alg_socket(ctx, &xsk_slot);

		if (sock != ALG_SOCK_OK) {
			if (!cfg || !(cfg->flags & NAT_CFG_F_ALG_OFF)) {
				if (sock == ALG_SOCK_NO_QUEUE)
					STAT_INC(alg_no_queue);
				else
					STAT_INC(drop_alg_down);
				return XDP_DROP;
			}
			STAT_INC(alg_off_passed);
			alg = false;
		}
	}
	/* Control-flow packets the ALG inspects are always routed here: the
	 * kernel path would carry them past the ALG. */
	if (cfg && (cfg->flags & NAT_CFG_F_NO_FASTPATH) && !alg)
		return -1;
	/* Bulk TCP takes the kernel path, where GRO and GSO move it 64 KiB
	 * at a time (NAT_TCP_BULK_BYTES_DEFAULT). Every other packet pays the
	 * first compare: its entry is in cache, and a threshold of 0 (off)
	 * becomes ~0 here, which no counter reaches. From a WAN, where XDP
	 * translates before it passes, not a segment whose checksum field
	 * looks unfinished (csum_check): XDP cannot tell it from a complete
	 * one that has that value (1 in 65536), which the kernel path's
	 * xdpnat_csum_keep() would spoil, while finishing it here is right
	 * either way. */
	if (cfg && vd->ct && vd->ct->bytes > (__u64)cfg->tcp_bulk_bytes - 1 &&
	    p->key.proto == IPPROTO_TCP && vd->ct->state == NAT_CT_ESTABLISHED && !alg &&
	    !p->icmp_error && (vd->to_wan || csum_check(ctx, p, l2) == CSUM_DONE)) {
		STAT_INC(tcp_bulk_passed);
		return -1;
	}
	if (p->ttl <= 1 || p->has_options)
		return -1;	/* the kernel sends time exceeded / handles options */
	if (nat_nexthop(ctx, &nh, &nhw, p->icmp_error ? NULL : vd->ct, ctx->ingress_ifindex, p,
			&vd->to, tos, vd->to_wan, vd->wan_ifindex, now, alg)) {
		/* No route or neighbour yet. A SYN may take the kernel path (it
		 * carries nothing to rewrite and makes the kernel resolve the
		 * neighbour); data would bypass the ALG: drop it, TCP resends. */
		if (alg && p->tot_len > p->l4_off - l2 + tcp_hdr_len(ctx, p)) {
			STAT_INC(drop_alg_no_route);
			return XDP_DROP;
		}
		return -1;
	}
	/* An unfinished checksum (see csum_check): finished here (native
	 * mode), or the kernel path takes the packet (generic mode, or the
	 * segment not all in the frame). */
	if (!alg) {
		enum l4csum_state cs = csum_check(ctx, p, l2);

		if (cs == CSUM_UNFINISHED_SKB ||
		    (cs == CSUM_UNFINISHED && xdpnat_csum_finish(ctx, l2))) {
			STAT_INC(csum_to_kernel);
			return -1;
		}
		if (cs == CSUM_UNFINISHED)
			STAT_INC(csum_finished);
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
	}
	/* Nothing has been written yet (but a finished checksum); from here
	 * on the frame is ours. MSS clamping first (nat_mss.h): it must see a
	 * complete checksum, and its call costs the least stack here. */
	nat_mss_clamp(ctx, false, p, vd->wan_ifindex);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (need_seqadj(p, vd) && nat_seqadj(ctx, false, data, data_end, p, vd->ct))
		return XDP_DROP;
	if (apply(ctx, false, data, data_end, p, vd, l2))
		return XDP_DROP;
	/* From a link without an Ethernet header (an L3 WAN, generic mode,
	 * which leaves XDP_PACKET_HEADROOM in front): the frame gets one for
	 * its Ethernet egress. */
	if (!l2 && bpf_xdp_adjust_head(ctx, -(int)ETH_HLEN_))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	iph = data + ETH_HLEN_;
	if ((void *)(iph + 1) > data_end)
		return XDP_DROP;
	ip_decrease_ttl(iph);
	__builtin_memcpy(eth->h_dest, nh.dmac, 6);
	__builtin_memcpy(eth->h_source, nh.smac, 6);
	eth->h_proto = bpf_htons(ETH_P_IP_);
	account(p, vd, nhw, now);
	if (alg)
		return xdp_to_alg(ctx, p, nh.ifindex, xsk_slot);
	STAT_INC(xdp_forwarded);
	return bpf_redirect(nh.ifindex, 0);
}

/*
 * Ingress of a LAN or a WAN interface: the loader attaches the program of
 * the interface's role and link type, so neither costs a lookup per
 * packet. l2: the link-layer header's length, ETH_HLEN_ or 0 (an L3 link:
 * tun, PPP, WireGuard, where generic XDP sees the IP header first).
 */
static __always_inline int xdp_ingress(struct xdp_md *ctx, enum nat_hook hook, const __u32 l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 ifindex = ctx->ingress_ifindex;
	struct nat_verdict vd = {};
	struct nat_pkt p = {};
	struct iphdr *iph;
	int act, rc;
	__u8 tos;

	STAT_INC(rx_packets);
	rc = nat_parse(data, data_end, data_end - data, &p, l2);
	if (rc == PARSE_MALFORMED) {
		STAT_INC(drop_malformed);
		return XDP_DROP;
	}
	if (rc != PARSE_OK) {
		if (rc == PARSE_VLAN)
			STAT_INC(passed_vlan);
		goto untouched;
	}
	iph = data + l2;
	if ((void *)(iph + 1) > data_end)
		return XDP_DROP;
	tos = iph->tos;

	act = nat_resolve(ctx, data, data_end, &p, hook, ifindex, &vd, l2);
	if (act == ACT_DROP)
		return XDP_DROP;
	if (act == ACT_UNTOUCHED)
		goto untouched;

	rc = xdp_forward(ctx, &p, &vd, tos, l2);
	if (rc >= 0)
		return rc;

	/* Kernel path (see the top of this file). An unfinished checksum
	 * stays unfinished (see csum_check). */
	STAT_INC(passed_to_kernel);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (hook == HOOK_XDP_WAN) {
		vd.csum_kept = xdpnat_csum_kept(ctx, vd.to.saddr, vd.to.daddr, l2);
		nat_mss_clamp(ctx, false, &p, vd.wan_ifindex);	/* as in xdp_forward() */
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (need_seqadj(&p, &vd) && nat_seqadj(ctx, false, data, data_end, &p, vd.ct))
			return XDP_DROP;
		if (apply(ctx, false, data, data_end, &p, &vd, l2))
			return XDP_DROP;
		account(&p, &vd, 0, bpf_ktime_get_coarse_ns());
		xdpnat_csum_keep(ctx, vd.csum_kept, l2);
	} else if (vd.ct && vd.ct->kind == NAT_KIND_HAIRPIN && !p.icmp_error &&
		   p.frag != FRAG_LATER) {
		/* The destination half here, the source half on tc egress of
		 * the LAN (its HAIRPIN_EGRESS entries never carry SEQADJ): an
		 * opaque ALG flow's sequence offsets are applied here, once. */
		vd.csum_kept = xdpnat_csum_kept(ctx, p.key.saddr, vd.to.daddr, l2);
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (need_seqadj(&p, &vd) && nat_seqadj(ctx, false, data, data_end, &p, vd.ct))
			return XDP_DROP;
		if (nat_rewrite_dnat(data, data_end, &p, &vd.to))
			return XDP_DROP;
		xdpnat_csum_keep(ctx, vd.csum_kept, l2);
		account(&p, &vd, 0, bpf_ktime_get_coarse_ns());
	}
	return XDP_PASS;

untouched:
	if (hook == HOOK_XDP_WAN) {
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		iph = data + l2;
		if ((void *)(iph + 1) <= data_end &&
		    (l2 ? ((struct ethhdr *)data)->h_proto == bpf_htons(ETH_P_IP_) : iph->version == 4) &&
		    inbound_refused(ctx, ifindex, iph->daddr)) {
			STAT_INC(drop_inbound);
			return XDP_DROP;
		}
	}
	STAT_INC(passed_untouched);
	return XDP_PASS;
}

SEC("xdp")
int xdpnat_xdp_lan(struct xdp_md *ctx)
{
	return xdp_ingress(ctx, HOOK_XDP_LAN, ETH_HLEN_);
}

SEC("xdp")
int xdpnat_xdp_wan(struct xdp_md *ctx)
{
	return xdp_ingress(ctx, HOOK_XDP_WAN, ETH_HLEN_);
}

/* A WAN without a link-layer header (PPP, WireGuard, tun), attached in
 * generic mode. */
SEC("xdp")
int xdpnat_xdp_l3w(struct xdp_md *ctx)
{
	return xdp_ingress(ctx, HOOK_XDP_WAN, 0);
}

/* ------------------------------------------------------------------- tc */

/* A flow bound to another WAN than the one the kernel routed it to. */
static __always_inline int tc_wan_redirect(struct __sk_buff *skb, const struct nat_verdict *vd)
{
	struct bpf_redir_neigh nh = { .nh_family = AF_INET_ };
	struct nat_iface *wan;

	if (!vd->to_wan || vd->wan_ifindex == skb->ifindex)
		return TC_ACT_OK_;
	wan = bpf_map_lookup_elem(&nat_ifaces, &vd->wan_ifindex);
	if (!wan || !wan->gateway) {
		STAT_INC(drop_wan_mismatch);
		return TC_ACT_SHOT_;
	}
	nh.ipv4_nh = wan->gateway;
	return bpf_redirect_neigh(vd->wan_ifindex, &nh, sizeof(nh), 0);
}

/* Egress of a WAN, a packet we do not translate: it may leave unless it
 * carries a LAN source address on a masquerading WAN (the router's own
 * traffic, DHCP included, always leaves; a WAN without `outbound` is a
 * routed uplink). */
static __always_inline int tc_wan_untranslated(struct __sk_buff *skb, const struct nat_iface *iif,
					       __be32 saddr)
{
	if (!iif->masquerade)
		return TC_ACT_OK_;
	if (bpf_map_lookup_elem(&nat_wanaddr, &saddr))
		return TC_ACT_OK_;
	return addr_is_lan(skb, skb->ifindex, saddr) ? TC_ACT_SHOT_ : TC_ACT_OK_;
}

/* A GSO skb (a GRO'd train of TCP segments, see NAT_TCP_BULK_BYTES_DEFAULT)
 * is one packet to account() and its IP length one header's worth: the
 * other segments, and their headers, are added here, so the flow's
 * counters are what the wire carries. */
static __always_inline void tc_account_gso(struct __sk_buff *skb, const struct nat_pkt *p,
					   struct nat_ct_value *v)
{
	__u32 segs = skb->gso_segs, hdr;
	struct tcphdr *th;

	if (segs <= 1 || !v || p->icmp_error || p->key.proto != IPPROTO_TCP ||
	    p->l4_off > L4_MAX_OFF)
		return;
	th = (void *)(long)skb->data + p->l4_off;
	if ((void *)(th + 1) > (void *)(long)skb->data_end)
		return;
	hdr = p->l4_off - p->l3_off + th->doff * 4;
	v->packets += segs - 1;
	v->bytes += (__u64)(segs - 1) * hdr;
}

/* Egress of every interface: the kernel path's translation and the leak
 * guard. l2 as for xdp_ingress(). */
static __always_inline int tc_egress(struct __sk_buff *skb, const __u32 l2)
{
	__u32 ifindex = skb->ifindex;
	struct nat_verdict vd = {};
	struct nat_pkt p = {};
	struct nat_iface *iif;
	enum nat_hook hook;
	void *data, *data_end;
	struct iphdr *iph;
	__be32 saddr;
	int act, rc;

	iif = bpf_map_lookup_elem(&nat_ifaces, &ifindex);
	if (!iif)
		return TC_ACT_OK_;
	hook = iif->role == NAT_IF_WAN ? HOOK_TC_WAN : HOOK_TC_LAN;
	/* A VLAN subinterface's frame leaving through this one, its tag kept
	 * aside for the driver to insert: another network's, not ours. */
	if (skb->vlan_present) {
		STAT_INC(passed_vlan);
		return TC_ACT_OK_;
	}
	/* Headers (up to an ICMP error's embedded L4) into the linear area. */
	bpf_skb_pull_data(skb, skb->len < 128 ? skb->len : 128);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	rc = nat_parse(data, data_end, skb->len, &p, l2);
	if (rc == PARSE_MALFORMED) {
		STAT_INC(rx_packets);
		STAT_INC(drop_malformed);
		return TC_ACT_SHOT_;
	}
	if (rc != PARSE_OK) {
		if (rc == PARSE_VLAN)
			STAT_INC(passed_vlan);
		if (hook == HOOK_TC_WAN && skb->protocol == bpf_htons(ETH_P_IP_)) {
			iph = data + l2;
			if ((void *)(iph + 1) > data_end)
				return TC_ACT_SHOT_;
			if (tc_wan_untranslated(skb, iif, iph->saddr) != TC_ACT_OK_) {
				STAT_INC(rx_packets);
				STAT_INC(drop_no_flow);
				return TC_ACT_SHOT_;
			}
		}
		return TC_ACT_OK_;
	}
	iph = data + l2;
	if ((void *)(iph + 1) > data_end)
		return TC_ACT_SHOT_;
	saddr = iph->saddr;

	/* The router's own traffic leaves a WAN as it is (ICMP errors it
	 * generates about translated packets still need their inside fixed). */
	if (hook == HOOK_TC_WAN && !p.icmp_error && bpf_map_lookup_elem(&nat_wanaddr, &saddr))
		return TC_ACT_OK_;
	if (hook == HOOK_TC_WAN && !iif->addr) {
		/* A WAN without an address translates nothing; LAN sources
		 * still never leave it (e.g. between two DHCP leases). */
		if (tc_wan_untranslated(skb, iif, saddr) == TC_ACT_OK_)
			return TC_ACT_OK_;
		STAT_INC(rx_packets);
		STAT_INC(drop_no_flow);
		return TC_ACT_SHOT_;
	}

	STAT_INC(rx_packets);
	act = nat_resolve(skb, data, data_end, &p, hook, ifindex, &vd, l2);
	if (act == ACT_DROP)
		return TC_ACT_SHOT_;
	if (act == ACT_UNTOUCHED) {
		if (hook == HOOK_TC_WAN && tc_wan_untranslated(skb, iif, saddr) != TC_ACT_OK_) {
			if (p.frag == FRAG_LATER)
				STAT_INC(drop_frag_unknown);
			else
				STAT_INC(drop_no_flow);
			return TC_ACT_SHOT_;
		}
		STAT_INC(passed_untouched);
		return TC_ACT_OK_;
	}
	if (need_seqadj(&p, &vd)) {
		if (nat_seqadj(skb, true, data, data_end, &p, vd.ct))
			return TC_ACT_SHOT_;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	if (apply(skb, true, data, data_end, &p, &vd, l2))
		return TC_ACT_SHOT_;
	account(&p, &vd, 0, bpf_ktime_get_coarse_ns());
	tc_account_gso(skb, &p, vd.ct);
	STAT_INC(tc_translated);
	if (hook == HOOK_TC_WAN)
		return tc_wan_redirect(skb, &vd);
	return TC_ACT_OK_;
}

SEC("tc")
int xdpnat_tc_egress(struct __sk_buff *skb)
{
	return tc_egress(skb, ETH_HLEN_);
}

/* Egress of a WAN without a link-layer header (PPP, WireGuard, tun). */
SEC("tc")
int xdpnat_tc_l3(struct __sk_buff *skb)
{
	return tc_egress(skb, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
