/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_gc.c - the garbage collector against real BPF maps (needs root):
 * maps with the layouts of include/xdpnat.h, flows with chosen last_seen,
 * one gc_run() at an injected `now`, then what is left and what was counted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include "common/ctflow.h"
#include "common/eimports.h"
#include "common/maps.h"
#include "daemon/gc.h"

#define SEC_NS 1000000000ULL
#define NOW (100000ULL * SEC_NS)

struct fixture {
	struct nat_maps m;
};

static struct nat_maps *moved_maps;	/* the fixture's, for eim_put_at() */

static int map_new(const char *name, enum bpf_map_type type, size_t ksz, size_t vsz,
		   unsigned max)
{
	int fd = bpf_map_create(type, name, ksz, vsz, max, NULL);

	assert_true(fd >= 0);
	return fd;
}

static void config_set(int fd, uint32_t udp, uint32_t tcp_est)
{
	struct nat_config c = {
		.timeout_tcp_syn = 30, .timeout_tcp_est = tcp_est,
		.timeout_tcp_closing = 120, .timeout_udp = udp, .timeout_icmp = 30,
		.timeout_expect = 60, .gate_linger = 10,
	};
	__u32 zero = 0;

	assert_int_equal(bpf_map_update_elem(fd, &zero, &c, BPF_ANY), 0);
}

static int setup(void **state)
{
	static struct fixture f;
	LIBBPF_OPTS(bpf_map_create_opts, nopre, .map_flags = BPF_F_NO_PREALLOC);	/* as nat_maps.h */
	LIBBPF_OPTS(bpf_map_create_opts, mmapable, .map_flags = BPF_F_MMAPABLE);

	nat_maps_init(&f.m);
	f.m.ct = cttab_create(512);	/* 1024 entries, as the hash map it replaces */
	assert_true(f.m.ct >= 0);
	assert_int_equal(nat_maps_map_ct(&f.m), 0);
	f.m.config = map_new("t_cfg", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct nat_config), 1);
	f.m.ctl_stats = map_new("t_ctl", BPF_MAP_TYPE_ARRAY, 4,
				sizeof(struct nat_ctl_stats), 1);
	f.m.expect = map_new("t_exp", BPF_MAP_TYPE_HASH, sizeof(struct nat_expect_key),
			     sizeof(struct nat_expect_value), 64);
	f.m.gate = map_new("t_gate", BPF_MAP_TYPE_HASH, sizeof(struct nat_gate_key),
			   sizeof(struct nat_gate_value), 64);
	f.m.alg = map_new("t_alg", BPF_MAP_TYPE_HASH, sizeof(struct nat_ct_key),
			  sizeof(struct nat_alg_value), 64);
	f.m.alg_state = bpf_map_create(BPF_MAP_TYPE_HASH, "t_alg_state", sizeof(struct nat_ct_key),
				       sizeof(struct nat_alg_state), 64, &nopre);
	assert_true(f.m.alg_state >= 0);
	f.m.eim = bpf_map_create(BPF_MAP_TYPE_HASH, "t_eim", sizeof(struct nat_eim_key),
				 sizeof(struct nat_eim_value), 64, &nopre);
	assert_true(f.m.eim >= 0);
	f.m.eim_moved = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_eim_moved", 4,
				       sizeof(struct nat_eim_moved), NAT_EIM_MOVED_CELLS + 1,
				       &mmapable);
	assert_true(f.m.eim_moved >= 0);
	assert_int_equal(nat_maps_map_moved(&f.m), 0);
	f.m.eim_ports = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_eim_ports", 4,
				       sizeof(struct nat_eim_port), NAT_EIM_PORT_TABLE, &mmapable);
	assert_true(f.m.eim_ports >= 0);
	assert_int_equal(nat_maps_map_ports(&f.m), 0);
	assert_int_equal(eimports_bind(&f.m, 0, 7), 2);
	config_set(f.m.config, 60, 7440);
	moved_maps = &f.m;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cttab_unmap(&f->m.cttab);
	close(f->m.ct);
	close(f->m.config);
	close(f->m.ctl_stats);
	close(f->m.expect);
	close(f->m.gate);
	close(f->m.alg);
	close(f->m.alg_state);
	close(f->m.eim);
	nat_maps_unmap_moved(&f->m);
	close(f->m.eim_moved);
	nat_maps_unmap_ports(&f->m);
	close(f->m.eim_ports);
	return 0;
}

static struct nat_ct_key ct_key(const char *s, uint16_t sp, const char *d, uint16_t dp,
				uint8_t proto)
{
	struct nat_ct_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };

	inet_pton(AF_INET, s, &k.saddr);
	inet_pton(AF_INET, d, &k.daddr);
	return k;
}

static void ct_put_flow(const struct nat_cttab *t, const struct nat_ct_key *k,
			const struct nat_ct_key *to, uint8_t dir, uint8_t kind, uint8_t state,
			uint64_t last_seen)
{
	struct nat_ct_value v = {
		.to_saddr = to->saddr, .to_daddr = to->daddr,
		.to_sport = to->sport, .to_dport = to->dport,
		.last_seen = nat_tick(last_seen), .dir = dir, .kind = kind, .state = state,
	};

	assert_int_equal(ct_put(t, k, &v, BPF_NOEXIST), 0);
}

static bool ct_has(const struct nat_cttab *t, const struct nat_ct_key *k)
{
	struct nat_ct_value v;

	return ct_get(t, k, &v) == 0;
}

/* A masqueraded flow 10.0.0.2:5000 -> 8.8.8.8:53 seen on WAN as
 * 192.0.2.1:40000; both halves, with their own last_seen. */
static void masq_flow(const struct nat_cttab *t, uint8_t proto, uint8_t state, uint16_t sport,
		      uint64_t orig_seen, uint64_t reply_seen,
		      struct nat_ct_key *ok, struct nat_ct_key *rk)
{
	struct nat_ct_key to_o, to_r;

	*ok = ct_key("10.0.0.2", sport, "8.8.8.8", 53, proto);
	to_o = ct_key("192.0.2.1", 40000 + sport % 1000, "8.8.8.8", 53, proto);
	*rk = ct_key("8.8.8.8", 53, "192.0.2.1", 40000 + sport % 1000, proto);
	to_r = ct_key("8.8.8.8", 53, "10.0.0.2", sport, proto);
	ct_put_flow(t, rk, &to_r, NAT_DIR_REPLY, NAT_KIND_MASQ, state, reply_seen);
	ct_put_flow(t, ok, &to_o, NAT_DIR_ORIG, NAT_KIND_MASQ, state, orig_seen);
}

static struct nat_ctl_stats ctl_stats(int fd)
{
	struct nat_ctl_stats st;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &st), 0);
	return st;
}

/* A mapping of `inside`:sport on WAN 7 to outside port `out`, as
 * bpf/nat_eim.h makes it, created at `seen`: its port's element in
 * nat_eim_ports (the WAN's table 0), and an INSIDE entry in nat_eim if the
 * port is not the inside one (counted in nat_eim_moved first). */
static void eim_put_at(int fd, const char *inside, uint16_t sport, uint16_t out, uint64_t seen)
{
	struct nat_eim_key in = { .ifindex = 7, .port = htons(sport), .proto = IPPROTO_UDP,
				  .side = NAT_EIM_INSIDE };
	struct nat_eim_value iv = { .port = htons(out), .seen_ns = seen };
	struct nat_eim_port *e = &moved_maps->ports[nat_eim_port_index(0, IPPROTO_UDP, out)];

	inet_pton(AF_INET, inside, &in.addr);
	assert_int_equal(e->addr, 0);
	*e = (struct nat_eim_port){ .addr = in.addr, .port = htons(sport),
				    .stamp = nat_eim_stamp(seen) };
	if (out != sport) {
		nat_maps_moved_add(moved_maps, &in, 1);
		assert_int_equal(bpf_map_update_elem(fd, &in, &iv, BPF_NOEXIST), 0);
	}
}

/* nat_eim_moved's count for 10.0.0.2:sport (UDP, WAN 7). */
static unsigned moved_count(const struct nat_maps *m, uint16_t sport)
{
	__u32 addr;

	inet_pton(AF_INET, "10.0.0.2", &addr);
	return m->moved[nat_eim_moved_cell(addr, htons(sport), IPPROTO_UDP, 7)].count;
}

static void eim_put(int fd, uint16_t sport, uint16_t out, uint64_t seen)
{
	eim_put_at(fd, "10.0.0.2", sport, out, seen);
}

/* Port `out` of WAN 7 (UDP): its owner's inside port, 0 if it is free. */
static uint16_t eim_port_owner(uint16_t out)
{
	return ntohs(moved_maps->ports[nat_eim_port_index(0, IPPROTO_UDP, out)].port);
}

static bool eim_has_outside(int fd, uint16_t out)
{
	(void)fd;
	return moved_maps->ports[nat_eim_port_index(0, IPPROTO_UDP, out)].addr != 0;
}

/* The ports taken in WAN 7's table (UDP). */
static unsigned eim_ports_taken(void)
{
	unsigned n = 0;

	for (uint32_t p = 1; p <= 0xffff; p++)
		n += eim_has_outside(-1, (uint16_t)p);
	return n;
}

/* A live masqueraded UDP flow of 10.0.0.2:sport on WAN 7 (masq_flow's). */
static void eim_flow(const struct nat_cttab *ct, uint16_t sport)
{
	struct nat_ct_key ok, rk;
	struct nat_ct_value v;

	masq_flow(ct, IPPROTO_UDP, NAT_CT_NEW, sport, NOW - SEC_NS, NOW - SEC_NS, &ok, &rk);
	assert_int_equal(ct_get(ct, &ok, &v), 0);
	v.wan_ifindex = 7;
	assert_int_equal(ct_put(ct, &ok, &v, BPF_EXIST), 0);
}

static unsigned map_count(int fd, size_t ksz)
{
	char k[64], nk[64];
	unsigned n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		memcpy(k, nk, ksz);
		prev = k;
		n++;
	}
	return n;
}

/* RFC 4787 mappings: one a live flow uses is kept (and marked seen), one
 * no flow uses goes with its port (both entries) after a whole pass. */
static void test_eim_mapping_follows_flows(void **state)
{
	struct fixture *f = *state;
	struct gc_result r;

	eim_flow(&f->m.cttab, 5000);
	eim_put(f->m.eim, 5000, 40000, NOW - 100 * SEC_NS);	/* used by the flow */
	eim_put(f->m.eim, 5001, 40001, NOW - 100 * SEC_NS);	/* used by nothing */
	assert_int_equal(moved_count(&f->m, 5001), 1);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.eim_expired, 1);
	/* its INSIDE entry gone, nat_eim_moved counts it no more; the live
	 * one's still counts */
	assert_int_equal(moved_count(&f->m, 5001), 0);
	assert_int_equal(moved_count(&f->m, 5000), 1);
	assert_int_equal(map_count(f->m.eim, sizeof(struct nat_eim_key)), 1);
	assert_int_equal(eim_ports_taken(), 1);
	assert_int_equal(eim_port_owner(40000), 5000);
	assert_int_equal(moved_maps->ports[nat_eim_port_index(0, IPPROTO_UDP, 40000)].stamp,
			 nat_eim_stamp(NOW));
	assert_int_equal(ctl_stats(f->m.ctl_stats).eim_expired, 1);
	/* the flow expires: its mapping goes at the end of that pass */
	assert_int_equal(gc_run(&f->m, NOW + 200 * SEC_NS, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_int_equal(gc_run(&f->m, NOW + 201 * SEC_NS, &r), 0);
	assert_int_equal(map_count(f->m.eim, sizeof(struct nat_eim_key)), 0);
	assert_int_equal(eim_ports_taken(), 0);
	assert_int_equal(moved_count(&f->m, 5000), 0);
}

/* A live flow whose port is free (its WAN's table cleared by a reload, a
 * previous version's mapping) has it taken again for its endpoint by the
 * next pass; a previous version's OUTSIDE entries go in that pass. */
static void test_eim_port_taken_again(void **state)
{
	struct fixture *f = *state;
	struct nat_eim_key old = { .ifindex = 7, .port = htons(40000), .proto = IPPROTO_UDP,
				   .side = NAT_EIM_OUTSIDE_OLD };
	struct nat_eim_value ov = { .port = htons(40000), .seen_ns = NOW };
	struct gc_result r;

	eim_flow(&f->m.cttab, 40000);
	inet_pton(AF_INET, "10.0.0.2", &ov.addr);
	assert_int_equal(bpf_map_update_elem(f->m.eim, &old, &ov, BPF_NOEXIST), 0);
	assert_int_equal(eim_ports_taken(), 0);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.eim_expired, 0);
	assert_int_equal(eim_port_owner(40000), 40000);
	assert_int_equal(moved_maps->ports[nat_eim_port_index(0, IPPROTO_UDP, 40000)].addr,
			 ov.addr);
	assert_int_equal(map_count(f->m.eim, sizeof(struct nat_eim_key)), 0);
	/* kept while the flow lives, freed after it */
	assert_int_equal(gc_run(&f->m, NOW + SEC_NS * 2, &r), 0);
	assert_int_equal(eim_ports_taken(), 1);
	assert_int_equal(gc_run(&f->m, NOW + 200 * SEC_NS, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_int_equal(gc_run(&f->m, NOW + 201 * SEC_NS, &r), 0);
	assert_int_equal(eim_ports_taken(), 0);
}

/* A WAN's table bound to another interface is cleared; bound to its own
 * it is left alone. Stamps wrap: one just past the pass's start is recent,
 * one from before it (or far ahead, a wrapped old one) is stale. */
static void test_eim_table_bind(void **state)
{
	struct fixture *f = *state;

	eim_put(f->m.eim, 40000, 40000, NOW);
	assert_int_equal(eimports_bind(&f->m, 0, 7), 0);
	assert_int_equal(eim_ports_taken(), 1);
	assert_int_equal(eimports_table(&f->m, 7), 0);
	assert_int_equal(eimports_table(&f->m, 8), -1);
	assert_int_equal(eimports_bind(&f->m, 0, 8), 1);
	assert_int_equal(eim_ports_taken(), 0);
	assert_int_equal(eimports_table(&f->m, 8), 0);
	assert_int_equal(eimports_bind(&f->m, 1, 7), -ENOSPC);
	assert_int_equal(eimports_bind(&f->m, 0, 7), 1);
	assert_false(eimports_stale(nat_eim_stamp(NOW), NOW));
	assert_false(eimports_stale(nat_eim_stamp(NOW + 5 * SEC_NS), NOW));
	assert_true(eimports_stale(nat_eim_stamp(NOW - 5 * SEC_NS), NOW));
	assert_true(eimports_stale((uint16_t)(nat_eim_stamp(NOW) + NAT_EIM_STAMP_AHEAD), NOW));
}

/* A mapping that kept the inside port is its port's element alone: the GC
 * keeps it while a flow of its owner uses the port, not while a flow of
 * another endpoint does (a port per destination after eim_full), and
 * removes it after the pass that found no flow on it. */
static void test_eim_preserved_port_mapping(void **state)
{
	struct fixture *f = *state;
	struct gc_result r;

	/* 10.0.0.2:40000 leaves as :40000 (masq_flow: 40000 + sport % 1000) */
	eim_flow(&f->m.cttab, 40000);
	eim_flow(&f->m.cttab, 41002);
	eim_put(f->m.eim, 40000, 40000, NOW - 100 * SEC_NS);		/* the first flow's */
	eim_put(f->m.eim, 40001, 40001, NOW - 100 * SEC_NS);		/* no flow's */
	eim_put_at(f->m.eim, "10.0.0.3", 40002, 40002, NOW - 100 * SEC_NS); /* not 10.0.0.2's */
	assert_int_equal(map_count(f->m.eim, sizeof(struct nat_eim_key)), 0);
	assert_int_equal(eim_ports_taken(), 3);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.eim_expired, 2);
	assert_true(eim_has_outside(f->m.eim, 40000));
	assert_false(eim_has_outside(f->m.eim, 40001));
	assert_false(eim_has_outside(f->m.eim, 40002));
	/* the flows expire: the mapping goes at the end of the next pass */
	assert_int_equal(gc_run(&f->m, NOW + 200 * SEC_NS, &r), 0);
	assert_int_equal(r.flows_expired, 2);
	assert_int_equal(gc_run(&f->m, NOW + 201 * SEC_NS, &r), 0);
	assert_int_equal(eim_ports_taken(), 0);
	assert_int_equal(ctl_stats(f->m.ctl_stats).eim_expired, 3);
}

/* RFC 4787 REQ-5: a UDP flow that has seen replies lasts half as long
 * again as `timeout udp` (here 120 s: 180 s). */
static void test_udp_stream_lasts_longer(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ok, rk, ok2, rk2;
	struct gc_result r;

	config_set(f->m.config, 120, 7440);
	masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_ESTABLISHED, 5000,
		  NOW - 179 * SEC_NS, NOW - 179 * SEC_NS, &ok, &rk);
	masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_ESTABLISHED, 5001,
		  NOW - 181 * SEC_NS, NOW - 181 * SEC_NS, &ok2, &rk2);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_true(ct_has(&f->m.cttab, &ok));
	assert_false(ct_has(&f->m.cttab, &ok2));
}

static void test_udp_idle_expires_both_halves(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ok, rk, ok2, rk2;
	struct gc_result r;

	masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_NEW, 5000,
		  NOW - 61 * SEC_NS, NOW - 61 * SEC_NS, &ok, &rk);
	masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_NEW, 5001,
		  NOW - 59 * SEC_NS, NOW - 59 * SEC_NS, &ok2, &rk2);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_false(ct_has(&f->m.cttab, &ok));
	assert_false(ct_has(&f->m.cttab, &rk));
	assert_true(ct_has(&f->m.cttab, &ok2));
	assert_true(ct_has(&f->m.cttab, &rk2));
	assert_int_equal(ctl_stats(f->m.ctl_stats).ct_expired, 1);
	assert_int_equal(ctl_stats(f->m.ctl_stats).gc_runs, 1);
	/* a second pass also tidies the slots the first one freed behind its
	 * cursor: no tombstone is left at the end of a run, and the header
	 * counts the two entries left */
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	for (__u32 i = 1; i <= f->m.cttab.nslots; i++)
		if (f->m.cttab.slots[i].key.pad[0] == NAT_CT_SLOT_DEAD)
			assert_int_not_equal(
				f->m.cttab.slots[i % f->m.cttab.nslots + 1].key.pad[0],
				NAT_CT_SLOT_EMPTY);
	assert_int_equal(cttab_head(&f->m.cttab)->entries, 2);
	/* a count a few off (what a pass under churn may see) is left alone;
	 * one off by more than the slack (256) is set to the pass's */
	cttab_set_entries(&f->m.cttab, 2 + 200);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(cttab_head(&f->m.cttab)->entries, 202);
	cttab_set_entries(&f->m.cttab, 2 + 257);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(cttab_head(&f->m.cttab)->entries, 2);
}

/* Idle counts from the newer of the two halves. */
static void test_recent_reply_keeps_flow(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ok, rk;
	struct gc_result r;

	masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_NEW, 5002,
		  NOW - 500 * SEC_NS, NOW - 5 * SEC_NS, &ok, &rk);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 0);
	assert_true(ct_has(&f->m.cttab, &ok));
	assert_true(ct_has(&f->m.cttab, &rk));
}

/* TCP timeouts follow the state: 100 s idle kills SYN_SENT (30 s) but
 * not ESTABLISHED (7440 s) nor CLOSING (120 s). */
static void test_tcp_timeout_by_state(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key syn_o, syn_r, est_o, est_r, cl_o, cl_r;
	uint64_t seen = NOW - 100 * SEC_NS;
	struct gc_result r;

	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_SYN_SENT, 6000, seen, seen, &syn_o, &syn_r);
	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_ESTABLISHED, 6001, seen, seen, &est_o, &est_r);
	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_CLOSING, 6002, seen, seen, &cl_o, &cl_r);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_false(ct_has(&f->m.cttab, &syn_o));
	assert_false(ct_has(&f->m.cttab, &syn_r));
	assert_true(ct_has(&f->m.cttab, &est_o));
	assert_true(ct_has(&f->m.cttab, &cl_o));
}

/* nat_config is read on every pass: lowering a timeout takes effect. */
static void test_config_change_applies(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ok, rk;
	struct gc_result r;

	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_ESTABLISHED, 6003,
		  NOW - 100 * SEC_NS, NOW - 100 * SEC_NS, &ok, &rk);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_true(ct_has(&f->m.cttab, &ok));
	config_set(f->m.config, 60, 50);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_false(ct_has(&f->m.cttab, &ok));
	assert_false(ct_has(&f->m.cttab, &rk));
	assert_int_equal(ctl_stats(f->m.ctl_stats).gc_runs, 2);
}

/* A hairpin flow owns two more entries, keyed by the half-translated tuple
 * of each direction (the source half applied on LAN egress). */
static void test_hairpin_four_entries(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key o = ct_key("10.0.0.2", 7000, "192.0.2.1", 80, IPPROTO_TCP);
	struct nat_ct_key to_o = ct_key("192.0.2.1", 41000, "10.0.0.9", 8080, IPPROTO_TCP);
	struct nat_ct_key r = ct_key("10.0.0.9", 8080, "192.0.2.1", 41000, IPPROTO_TCP);
	struct nat_ct_key to_r = ct_key("192.0.2.1", 80, "10.0.0.2", 7000, IPPROTO_TCP);
	struct nat_ct_key hp = ct_key("10.0.0.2", 7000, "10.0.0.9", 8080, IPPROTO_TCP);
	struct nat_ct_key hp_r = ct_key("10.0.0.9", 8080, "10.0.0.2", 7000, IPPROTO_TCP);
	uint64_t seen = NOW - 40 * SEC_NS;
	struct gc_result res;

	ct_put_flow(&f->m.cttab, &r, &to_r, NAT_DIR_REPLY, NAT_KIND_HAIRPIN, NAT_CT_SYN_SENT, seen);
	ct_put_flow(&f->m.cttab, &hp, &to_o, NAT_DIR_HAIRPIN_EGRESS, NAT_KIND_HAIRPIN,
		    NAT_CT_SYN_SENT, seen);
	ct_put_flow(&f->m.cttab, &hp_r, &to_r, NAT_DIR_HAIRPIN_EGRESS, NAT_KIND_HAIRPIN,
		    NAT_CT_SYN_SENT, NOW - 1 * SEC_NS);
	ct_put_flow(&f->m.cttab, &o, &to_o, NAT_DIR_ORIG, NAT_KIND_HAIRPIN, NAT_CT_SYN_SENT, seen);
	/* a live flow keeps all four, the young egress half is not an orphan */
	assert_int_equal(gc_run(&f->m, NOW - 20 * SEC_NS, &res), 0);
	assert_int_equal(res.orphans_deleted, 0);
	assert_true(ct_has(&f->m.cttab, &hp_r));
	assert_int_equal(gc_run(&f->m, NOW, &res), 0);
	assert_int_equal(res.flows_expired, 1);
	assert_int_equal(res.orphans_deleted, 0);
	assert_false(ct_has(&f->m.cttab, &o));
	assert_false(ct_has(&f->m.cttab, &r));
	assert_false(ct_has(&f->m.cttab, &hp));
	assert_false(ct_has(&f->m.cttab, &hp_r));
}

/* An FTP control session that idles out while established is counted down
 * in nat_gate, so its peer's gate closes after the linger time. */
static void test_gated_session_expiry_closes_gate(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key o = ct_key("203.0.113.5", 40000, "192.0.2.1", 21, IPPROTO_TCP);
	struct nat_ct_key to_o = ct_key("203.0.113.5", 40000, "10.0.0.254", 21, IPPROTO_TCP);
	struct nat_ct_key r = ct_key("10.0.0.254", 21, "203.0.113.5", 40000, IPPROTO_TCP);
	struct nat_ct_key to_r = ct_key("192.0.2.1", 21, "203.0.113.5", 40000, IPPROTO_TCP);
	struct nat_gate_key gk = { .raddr = o.saddr, .inside_addr = to_o.daddr };
	struct nat_gate_value gv = { .sessions = 2, .last_seen = NOW - 100 * SEC_NS };
	struct nat_ct_value v;
	uint64_t seen = NOW - 7500ULL * SEC_NS;	/* past timeout_tcp_est */
	struct gc_result res;

	ct_put_flow(&f->m.cttab, &r, &to_r, NAT_DIR_REPLY, NAT_KIND_FORWARD, NAT_CT_ESTABLISHED, seen);
	ct_put_flow(&f->m.cttab, &o, &to_o, NAT_DIR_ORIG, NAT_KIND_FORWARD, NAT_CT_ESTABLISHED, seen);
	assert_int_equal(ct_get(&f->m.cttab, &o, &v), 0);
	v.flags |= NAT_CT_F_GATE | NAT_CT_F_GATE_COUNTED;
	assert_int_equal(ct_put(&f->m.cttab, &o, &v, BPF_EXIST), 0);
	assert_int_equal(bpf_map_update_elem(f->m.gate, &gk, &gv, BPF_ANY), 0);

	assert_int_equal(gc_run(&f->m, NOW, &res), 0);
	assert_int_equal(res.flows_expired, 1);
	assert_int_equal(bpf_map_lookup_elem(f->m.gate, &gk, &gv), 0);
	assert_int_equal(gv.sessions, 1);
	assert_int_equal(gv.last_seen, NOW);
}

/* A half without its ORIG goes once idle past its own timeout, not before;
 * it is not counted as an expired flow. */
static void test_orphans(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key old = ct_key("8.8.4.4", 53, "192.0.2.1", 42000, IPPROTO_UDP);
	struct nat_ct_key young = ct_key("8.8.4.4", 53, "192.0.2.1", 42001, IPPROTO_UDP);
	struct nat_ct_key to = ct_key("8.8.4.4", 53, "10.0.0.3", 9999, IPPROTO_UDP);
	struct gc_result r;

	ct_put_flow(&f->m.cttab, &old, &to, NAT_DIR_REPLY, NAT_KIND_MASQ, NAT_CT_NEW,
		    NOW - 61 * SEC_NS);
	ct_put_flow(&f->m.cttab, &young, &to, NAT_DIR_REPLY, NAT_KIND_MASQ, NAT_CT_NEW,
		    NOW - 1 * SEC_NS);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 0);
	assert_int_equal(r.orphans_deleted, 1);
	assert_false(ct_has(&f->m.cttab, &old));
	assert_true(ct_has(&f->m.cttab, &young));
	assert_int_equal(ctl_stats(f->m.ctl_stats).ct_expired, 0);
}

static void test_expect_and_gate(void **state)
{
	struct fixture *f = *state;
	struct nat_expect_key ek1 = { .raddr = 1, .waddr = 2, .wport = htons(50000),
				      .proto = IPPROTO_TCP };
	struct nat_expect_key ek2 = ek1, ek3 = ek1;
	struct nat_ct_key ctl = ct_key("203.0.113.5", 40000, "192.0.2.1", 21, IPPROTO_TCP);
	struct nat_ct_key ctl_to = ct_key("203.0.113.5", 40000, "10.0.0.254", 21, IPPROTO_TCP);
	struct nat_ct_key gone = ct_key("203.0.113.6", 40000, "192.0.2.1", 21, IPPROTO_TCP);
	struct nat_expect_value ev = { .expires = NOW - 1, .ctl = ctl };
	struct nat_gate_key g_closed = { .raddr = 1, .inside_addr = 2 };
	struct nat_gate_key g_linger = { .raddr = 1, .inside_addr = 3 };
	struct nat_gate_key g_open = { .raddr = 1, .inside_addr = 4 };
	struct nat_gate_value gv = { .sessions = 0, .last_seen = NOW - 11 * SEC_NS };
	struct gc_result r;

	/* ek1 expired; ek2 live, its control flow too; ek3 live but its
	 * control flow is gone: it must not admit anybody any more */
	ct_put_flow(&f->m.cttab, &ctl, &ctl_to, NAT_DIR_ORIG, NAT_KIND_FORWARD, NAT_CT_ESTABLISHED,
		    NOW - SEC_NS);
	ek2.wport = htons(50001);
	ek3.wport = htons(50002);
	assert_int_equal(bpf_map_update_elem(f->m.expect, &ek1, &ev, BPF_ANY), 0);
	ev.expires = NOW + SEC_NS;
	assert_int_equal(bpf_map_update_elem(f->m.expect, &ek2, &ev, BPF_ANY), 0);
	ev.ctl = gone;
	assert_int_equal(bpf_map_update_elem(f->m.expect, &ek3, &ev, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(f->m.gate, &g_closed, &gv, BPF_ANY), 0);
	gv.last_seen = NOW - 9 * SEC_NS;
	assert_int_equal(bpf_map_update_elem(f->m.gate, &g_linger, &gv, BPF_ANY), 0);
	gv.sessions = 1;
	gv.last_seen = NOW - 1000 * SEC_NS;
	assert_int_equal(bpf_map_update_elem(f->m.gate, &g_open, &gv, BPF_ANY), 0);

	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.expects_expired, 2);
	assert_int_equal(r.gates_expired, 1);
	assert_int_not_equal(bpf_map_lookup_elem(f->m.expect, &ek1, &ev), 0);
	assert_int_equal(bpf_map_lookup_elem(f->m.expect, &ek2, &ev), 0);
	assert_int_not_equal(bpf_map_lookup_elem(f->m.expect, &ek3, &ev), 0);
	assert_int_not_equal(bpf_map_lookup_elem(f->m.gate, &g_closed, &gv), 0);
	assert_int_equal(bpf_map_lookup_elem(f->m.gate, &g_linger, &gv), 0);
	assert_int_equal(bpf_map_lookup_elem(f->m.gate, &g_open, &gv), 0);
}

/* The ALG state of an expired control flow goes with it; a live one stays. */
static void test_alg_state_follows_flow(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key dead_o, dead_r, live_o, live_r;
	struct nat_alg_value av = { .delta = { 3, 0 } };
	struct gc_result r;

	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_ESTABLISHED, 8000,
		  NOW - 8000 * SEC_NS, NOW - 8000 * SEC_NS, &dead_o, &dead_r);
	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_ESTABLISHED, 8001, NOW, NOW, &live_o, &live_r);
	assert_int_equal(bpf_map_update_elem(f->m.alg, &dead_o, &av, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(f->m.alg, &live_o, &av, BPF_ANY), 0);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_int_equal(r.algs_deleted, 1);
	assert_int_not_equal(bpf_map_lookup_elem(f->m.alg, &dead_o, &av), 0);
	assert_int_equal(bpf_map_lookup_elem(f->m.alg, &live_o, &av), 0);
}

/* The ALG's saved session (4 KiB values the sweep does not read) follows
 * its flow the same way: an expired flow and one with no nat_ct entry at
 * all (removed by an address change) lose theirs, a live one keeps it. */
static void test_alg_saved_session_follows_flow(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key dead_o, dead_r, live_o, live_r;
	struct nat_ct_key gone = ct_key("10.0.0.3", 4000, "8.8.4.4", 21, IPPROTO_TCP);
	static struct nat_alg_state st = { .version = 7, .len = 3, .data = { 1, 2, 3 } };
	static struct nat_alg_state got;
	struct gc_result r;

	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_ESTABLISHED, 8000,
		  NOW - 8000 * SEC_NS, NOW - 8000 * SEC_NS, &dead_o, &dead_r);
	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_ESTABLISHED, 8001, NOW, NOW, &live_o, &live_r);
	assert_int_equal(bpf_map_update_elem(f->m.alg_state, &dead_o, &st, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(f->m.alg_state, &live_o, &st, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(f->m.alg_state, &gone, &st, BPF_ANY), 0);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 1);
	assert_int_equal(r.alg_states_deleted, 2);
	assert_int_not_equal(bpf_map_lookup_elem(f->m.alg_state, &dead_o, &got), 0);
	assert_int_not_equal(bpf_map_lookup_elem(f->m.alg_state, &gone, &got), 0);
	assert_int_equal(bpf_map_lookup_elem(f->m.alg_state, &live_o, &got), 0);
	assert_memory_equal(&got, &st, sizeof(st));	/* untouched */
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);	/* nothing more to do */
	assert_int_equal(r.alg_states_deleted, 0);
}

static void test_many_flows(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ok, rk;
	struct gc_result r;

	for (uint16_t i = 0; i < 300; i++)
		masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_NEW, 10000 + i,
			  i % 2 ? NOW - 70 * SEC_NS : NOW, NOW - 70 * SEC_NS, &ok, &rk);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	assert_int_equal(r.flows_expired, 150);
	assert_int_equal(r.orphans_deleted, 0);
}

/* The hairpin halves seen on LAN egress whose flow lost its ORIG and REPLY
 * entries (an eviction, a crash between two deletes) go once idle. */
static void test_hairpin_egress_orphans(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key to_o = ct_key("192.0.2.1", 41000, "10.0.0.9", 8080, IPPROTO_TCP);
	struct nat_ct_key to_r = ct_key("192.0.2.1", 80, "10.0.0.2", 7000, IPPROTO_TCP);
	struct nat_ct_key hp = ct_key("10.0.0.2", 7000, "10.0.0.9", 8080, IPPROTO_TCP);
	struct nat_ct_key hp_r = ct_key("10.0.0.9", 8080, "10.0.0.2", 7000, IPPROTO_TCP);
	struct gc_result res;

	ct_put_flow(&f->m.cttab, &hp, &to_o, NAT_DIR_HAIRPIN_EGRESS, NAT_KIND_HAIRPIN, NAT_CT_SYN_SENT,
		    NOW - 40 * SEC_NS);
	ct_put_flow(&f->m.cttab, &hp_r, &to_r, NAT_DIR_HAIRPIN_EGRESS, NAT_KIND_HAIRPIN,
		    NAT_CT_SYN_SENT, NOW - 40 * SEC_NS);
	assert_int_equal(gc_run(&f->m, NOW, &res), 0);
	assert_int_equal(res.orphans_deleted, 2);
	assert_false(ct_has(&f->m.cttab, &hp));
	assert_false(ct_has(&f->m.cttab, &hp_r));
}

/* The daemon walks the table a budget at a time: each step reads at most
 * `budget` entries (its slots in order), a pass ends after the last, and
 * flows are counted as expired as the steps go. */
static void test_steps(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ok, rk;
	struct gc_cursor c = {};
	struct gc_result r = {};
	int rc, steps = 0;

	for (uint16_t i = 0; i < 500; i++)	/* 1000 entries, one flow in ten idle */
		masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_NEW, 20000 + i,
			  i % 10 ? NOW : NOW - 70 * SEC_NS, NOW - 70 * SEC_NS, &ok, &rk);
	while ((rc = gc_step(&f->m, &c, NOW, 200, &r)) == 0) {
		steps++;
		assert_true(c.pass.ct_entries <= (uint64_t)steps * 200);
		assert_int_equal(ctl_stats(f->m.ctl_stats).gc_runs, 0);
		assert_true(steps < 10);
	}
	assert_int_equal(rc, 1);
	assert_true(steps >= 3);
	assert_int_equal(r.flows_expired, 50);
	assert_int_equal(ctl_stats(f->m.ctl_stats).ct_expired, 50);
	assert_int_equal(ctl_stats(f->m.ctl_stats).gc_runs, 1);
	assert_false(c.started);	/* the next step starts a new pass */
}

/* The NAT log's hook (ctflow_set_end_hook): told once per flow the GC
 * removes, why (a closed TCP flow: closed; an idle one: timeout), with
 * both directions' counters read before the entries went. */
struct ended {
	int n;
	struct nat_ct_key key[4];
	enum nat_flow_end why[4];
	uint64_t orig_bytes[4], reply_bytes[4];
	bool have_reply[4];
};

static void on_end(void *arg, const struct nat_ct_key *okey, const struct nat_ct_value *oval,
		   const struct nat_ct_value *rval, enum nat_flow_end why, uint64_t now_ns)
{
	struct ended *e = arg;

	(void)now_ns;
	assert_true(e->n < 4);
	e->key[e->n] = *okey;
	e->why[e->n] = why;
	e->orig_bytes[e->n] = oval->bytes;
	e->have_reply[e->n] = rval != NULL;
	e->reply_bytes[e->n] = rval ? rval->bytes : 0;
	e->n++;
}

static void set_bytes(const struct nat_cttab *t, const struct nat_ct_key *k, uint64_t bytes)
{
	struct nat_ct_value v;

	assert_int_equal(ct_get(t, k, &v), 0);
	v.bytes = bytes;
	assert_int_equal(ct_put(t, k, &v, BPF_EXIST), 0);
}

static void test_end_hook_reasons(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ok1, rk1, ok2, rk2, ok3, rk3;
	struct ended e = {};
	struct gc_result r;

	config_set(f->m.config, 60, 7440);
	/* TCP closed 200 s ago (tcp-closing 120), UDP idle 100 s (udp 60),
	 * and an established TCP flow that stays */
	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_CLOSING, 1, NOW - 200 * SEC_NS,
		  NOW - 200 * SEC_NS, &ok1, &rk1);
	masq_flow(&f->m.cttab, IPPROTO_UDP, NAT_CT_ESTABLISHED, 2, NOW - 100 * SEC_NS,
		  NOW - 100 * SEC_NS, &ok2, &rk2);
	masq_flow(&f->m.cttab, IPPROTO_TCP, NAT_CT_ESTABLISHED, 3, NOW - 200 * SEC_NS,
		  NOW - 200 * SEC_NS, &ok3, &rk3);
	set_bytes(&f->m.cttab, &ok1, 900);
	set_bytes(&f->m.cttab, &rk1, 1500000);
	ctflow_set_end_hook(on_end, &e);
	assert_int_equal(gc_run(&f->m, NOW, &r), 0);
	ctflow_set_end_hook(NULL, NULL);
	assert_int_equal(r.flows_expired, 2);
	assert_int_equal(e.n, 2);
	for (int i = 0; i < 2; i++) {
		if (!memcmp(&e.key[i], &ok1, sizeof(ok1))) {
			assert_int_equal(e.why[i], NAT_FLOW_END_CLOSED);
			assert_true(e.have_reply[i]);
			assert_int_equal(e.orig_bytes[i], 900);
			assert_int_equal(e.reply_bytes[i], 1500000);
		} else {
			assert_memory_equal(&e.key[i], &ok2, sizeof(ok2));
			assert_int_equal(e.why[i], NAT_FLOW_END_TIMEOUT);
		}
	}
	assert_true(ct_has(&f->m.cttab, &ok3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp_idle_expires_both_halves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_stream_lasts_longer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eim_mapping_follows_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eim_preserved_port_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eim_port_taken_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eim_table_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_reply_keeps_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_timeout_by_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_change_applies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hairpin_four_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gated_session_expiry_closes_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_and_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alg_state_follows_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alg_saved_session_follows_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hairpin_egress_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_hook_reasons, setup, teardown),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to create BPF maps\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
