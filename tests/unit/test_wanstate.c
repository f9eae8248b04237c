/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_wanstate.c - wanstate against real BPF maps (root needed), created
 * with the layouts of include/xdpnat.h.
 *
 * Fixture: WAN A (ifindex 1001) at 10.0.0.2, WAN B (1002) at 10.1.0.2,
 * LAN (1003). Flows in nat_ct:
 *   a_masq, a_fwd, a_hairpin   bound to A's old address: must go
 *   a_new                      on A, already with the new address: stays
 *   b_masq                     on B: stays
 *   b_to_old                   on B, to a remote that happens to be A's
 *                              old address: stays (other WAN)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "xdpnat.h"
#include "common/ctflow.h"
#include "common/maps.h"
#include "wan/wanstate.h"

/* wanstate over maps m, without configuration or DDNS. */
#define WS(maps) (&(struct wanstate){ .m = (maps) })

#define WAN_A	1001
#define WAN_B	1002
#define LAN	1003
#define OLD_A	"10.0.0.2"
#define NEW_A	"10.0.9.2"
#define ADDR_B	"10.1.0.2"

static __be32 ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct in_addr in(const char *s)
{
	struct in_addr a = { .s_addr = ip(s) };

	return a;
}

static int map_new(enum bpf_map_type type, const char *name, size_t ksz, size_t vsz, int max)
{
	int fd = bpf_map_create(type, name, ksz, vsz, max, NULL);

	if (fd < 0)
		fail_msg("bpf_map_create %s: %s (root needed)", name, strerror(errno));
	return fd;
}

static void iface_put(const struct nat_maps *m, __u32 ifindex, __u32 role, const char *addr)
{
	struct nat_iface v = {
		.role = role, .addr = addr ? ip(addr) : 0, .gateway = ip("10.0.0.1"),
		.port_lo_host = 1024, .port_hi_host = 65535, .masquerade = 1,
	};

	assert_int_equal(bpf_map_update_elem(m->ifaces, &ifindex, &v, BPF_ANY), 0);
	if (role == NAT_IF_WAN && addr)
		assert_int_equal(bpf_map_update_elem(m->wanaddr, &v.addr, &ifindex, BPF_ANY), 0);
}

struct tuple {
	const char *s, *d;
	uint16_t sp, dp;
};

static struct nat_ct_key key_of(struct tuple t)
{
	struct nat_ct_key k = {
		.saddr = ip(t.s), .daddr = ip(t.d), .sport = htons(t.sp), .dport = htons(t.dp),
		.proto = IPPROTO_TCP,
	};

	return k;
}

/* One nat_ct entry: packets `from` become `to`. */
static void ct_put_entry(const struct nat_maps *m, struct tuple from, struct tuple to, __u32 wan,
			 enum nat_ct_dir dir, enum nat_ct_kind kind)
{
	struct nat_ct_key k = key_of(from);
	struct nat_ct_value v = {
		.to_saddr = ip(to.s), .to_daddr = ip(to.d),
		.to_sport = htons(to.sp), .to_dport = htons(to.dp),
		.wan_ifindex = wan, .dir = dir, .kind = kind, .state = NAT_CT_ESTABLISHED,
	};

	assert_int_equal(ct_put(&m->cttab, &k, &v, BPF_NOEXIST), 0);
}

/* A flow's two entries; the reply key is the reverse of the translation. */
static void flow_put(const struct nat_maps *m, struct tuple orig, struct tuple xlat, __u32 wan,
		     enum nat_ct_kind kind)
{
	struct tuple rkey = { xlat.d, xlat.s, xlat.dp, xlat.sp };
	struct tuple rto = { orig.d, orig.s, orig.dp, orig.sp };

	ct_put_entry(m, orig, xlat, wan, NAT_DIR_ORIG, kind);
	ct_put_entry(m, rkey, rto, wan, NAT_DIR_REPLY, kind);
}

static const struct tuple a_masq = { "192.168.0.10", "198.51.100.1", 40000, 80 };
static const struct tuple a_masq_x = { OLD_A, "198.51.100.1", 40000, 80 };
static const struct tuple a_fwd = { "198.51.100.7", OLD_A, 5555, 21 };
static const struct tuple a_fwd_x = { "198.51.100.7", "192.168.0.254", 5555, 21 };
static const struct tuple a_hp = { "192.168.0.10", OLD_A, 41000, 21 };
static const struct tuple a_hp_x = { OLD_A, "192.168.0.254", 41000, 21 };
static const struct tuple a_hp_egress = { "192.168.0.10", "192.168.0.254", 41000, 21 };
static const struct tuple a_new = { "192.168.0.11", "198.51.100.1", 40001, 80 };
static const struct tuple a_new_x = { NEW_A, "198.51.100.1", 40001, 80 };
static const struct tuple b_masq = { "192.168.0.12", "198.51.100.1", 40002, 80 };
static const struct tuple b_masq_x = { ADDR_B, "198.51.100.1", 40002, 80 };
static const struct tuple b_to_old = { "192.168.0.13", OLD_A, 40003, 443 };
static const struct tuple b_to_old_x = { ADDR_B, OLD_A, 40003, 443 };

static int setup(void **state)
{
	struct nat_maps *m = calloc(1, sizeof(*m));
	struct nat_ctl_stats st = { .ct_addr_change = 5 };
	__u32 zero = 0;

	nat_maps_init(m);

	m->ifaces = map_new(BPF_MAP_TYPE_HASH, "nat_ifaces", sizeof(__u32),
			       sizeof(struct nat_iface), XDPNAT_MAX_IFACES);
	m->wanaddr = map_new(BPF_MAP_TYPE_HASH, "nat_wanaddr", sizeof(__be32), sizeof(__u32),
				XDPNAT_MAX_IFACES);
	m->ct = cttab_create(512);	/* 1024 entries */
	if (m->ct < 0)
		fail_msg("cttab_create: %s (root needed)", strerror(-m->ct));
	assert_int_equal(nat_maps_map_ct(m), 0);
	m->gate = map_new(BPF_MAP_TYPE_HASH, "nat_gate", sizeof(struct nat_gate_key),
			  sizeof(struct nat_gate_value), 64);
	m->ctl_stats = map_new(BPF_MAP_TYPE_ARRAY, "nat_ctl_stats", sizeof(__u32),
				  sizeof(struct nat_ctl_stats), 1);
	assert_int_equal(bpf_map_update_elem(m->ctl_stats, &zero, &st, BPF_ANY), 0);
	iface_put(m, WAN_A, NAT_IF_WAN, OLD_A);
	iface_put(m, WAN_B, NAT_IF_WAN, ADDR_B);
	iface_put(m, LAN, NAT_IF_LAN, NULL);
	flow_put(m, a_masq, a_masq_x, WAN_A, NAT_KIND_MASQ);
	flow_put(m, a_fwd, a_fwd_x, WAN_A, NAT_KIND_FORWARD);
	flow_put(m, a_hp, a_hp_x, WAN_A, NAT_KIND_HAIRPIN);
	ct_put_entry(m, a_hp_egress, a_hp_x, WAN_A, NAT_DIR_HAIRPIN_EGRESS, NAT_KIND_HAIRPIN);
	flow_put(m, a_new, a_new_x, WAN_A, NAT_KIND_MASQ);
	flow_put(m, b_masq, b_masq_x, WAN_B, NAT_KIND_MASQ);
	flow_put(m, b_to_old, b_to_old_x, WAN_B, NAT_KIND_MASQ);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct nat_maps *m = *state;

	close(m->ifaces);
	close(m->wanaddr);
	cttab_unmap(&m->cttab);
	close(m->ct);
	close(m->gate);
	close(m->ctl_stats);
	free(m);
	return 0;
}

static int count_one(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	(void)k;
	(void)v;
	++*(int *)arg;
	return 0;
}

static int ct_count(const struct nat_maps *m)
{
	int n = 0;

	assert_int_equal(ct_for_each(&m->cttab, count_one, &n), 0);
	return n;
}

static bool ct_has(const struct nat_maps *m, struct tuple t)
{
	struct nat_ct_key k = key_of(t);
	struct nat_ct_value v;

	return ct_get(&m->cttab, &k, &v) == 0;
}

/* Both entries of a flow present (or both absent). */
static bool flow_has(const struct nat_maps *m, struct tuple orig, struct tuple xlat)
{
	struct tuple rkey = { xlat.d, xlat.s, xlat.dp, xlat.sp };
	bool o = ct_has(m, orig), r = ct_has(m, rkey);

	assert_int_equal(o, r);
	return o;
}

static __u64 addr_changes(const struct nat_maps *m)
{
	struct nat_ctl_stats st;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(m->ctl_stats, &zero, &st), 0);
	return st.ct_addr_change;
}

static struct nat_iface iface_get(const struct nat_maps *m, __u32 ifindex)
{
	struct nat_iface v;

	assert_int_equal(bpf_map_lookup_elem(m->ifaces, &ifindex, &v), 0);
	return v;
}

/* nat_wanaddr[addr]: the owner's ifindex, or 0 if absent. */
static __u32 wanaddr_owner(const struct nat_maps *m, const char *addr)
{
	__be32 a = ip(addr);
	__u32 owner;

	return bpf_map_lookup_elem(m->wanaddr, &a, &owner) ? 0 : owner;
}

static void assert_untouched(const struct nat_maps *m)
{
	assert_int_equal(ct_count(m), 13);
	assert_int_equal(addr_changes(m), 5);
	assert_int_equal(iface_get(m, WAN_A).addr, ip(OLD_A));
	assert_int_equal(wanaddr_owner(m, OLD_A), WAN_A);
}

/* Only B's flows and A's flow already on the new address survive. */
static void assert_a_purged(const struct nat_maps *m)
{
	assert_false(flow_has(m, a_masq, a_masq_x));
	assert_false(flow_has(m, a_fwd, a_fwd_x));
	assert_false(flow_has(m, a_hp, a_hp_x));
	assert_false(ct_has(m, a_hp_egress));
	assert_true(flow_has(m, a_new, a_new_x));
	assert_true(flow_has(m, b_masq, b_masq_x));
	assert_true(flow_has(m, b_to_old, b_to_old_x));
	assert_int_equal(ct_count(m), 6);
	assert_int_equal(addr_changes(m), 5 + 3);
}

/* Run set_addr with stderr captured; returns the logged text. */
static char *set_addr_logged(const struct nat_maps *m, __u32 ifindex, const char *addr,
			     unsigned *flows, int *ret)
{
	static char buf[1024];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	*ret = wanstate_set_addr(WS(m), ifindex, in(addr), flows);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = 0;
	fclose(tmp);
	return buf;
}

static void test_change_removes_flows_of_old_address(void **state)
{
	const struct nat_maps *m = *state;
	unsigned flows = 99;
	int ret;
	char *log = set_addr_logged(m, WAN_A, NEW_A, &flows, &ret);
	struct nat_iface a;

	assert_int_equal(ret, 0);
	assert_int_equal(flows, 3);
	assert_a_purged(m);
	a = iface_get(m, WAN_A);
	assert_int_equal(a.addr, ip(NEW_A));
	assert_int_equal(a.gateway, ip("10.0.0.1"));	/* the rest of the entry kept */
	assert_int_equal(a.port_hi_host, 65535);
	assert_int_equal(wanaddr_owner(m, OLD_A), 0);
	assert_int_equal(wanaddr_owner(m, NEW_A), WAN_A);
	assert_int_equal(wanaddr_owner(m, ADDR_B), WAN_B);
	assert_non_null(strstr(log, ": wan if1001: address " OLD_A " -> " NEW_A ", 3 flows removed\n"));
}

/* A dead WAN (failover): its flows go, its address and B's flows stay. */
static void test_flush_wan(void **state)
{
	const struct nat_maps *m = *state;
	unsigned flows = 99;

	assert_int_equal(wanstate_flush_wan(WS(m), WAN_A, &flows), 0);
	assert_int_equal(flows, 3);
	assert_false(flow_has(m, a_masq, a_masq_x));
	assert_false(flow_has(m, a_fwd, a_fwd_x));
	assert_false(flow_has(m, a_hp, a_hp_x));
	assert_false(ct_has(m, a_hp_egress));
	assert_true(flow_has(m, b_masq, b_masq_x));
	assert_true(flow_has(m, b_to_old, b_to_old_x));
	assert_int_equal(iface_get(m, WAN_A).addr, ip(OLD_A));
	assert_int_equal(wanaddr_owner(m, OLD_A), WAN_A);
	assert_int_equal(addr_changes(m), 5);	/* not an address change */
	assert_int_equal(wanstate_flush_wan(WS(m), WAN_A, &flows), 0);
	assert_int_equal(flows, 0);
	assert_int_equal(wanstate_flush_wan(WS(m), LAN, &flows), 0);	/* not a WAN */
	assert_int_equal(flows, 0);
}

static void test_same_address_is_noop(void **state)
{
	const struct nat_maps *m = *state;
	unsigned flows = 99;
	int ret;
	char *log = set_addr_logged(m, WAN_A, OLD_A, &flows, &ret);

	assert_int_equal(ret, 0);
	assert_int_equal(flows, 0);
	assert_string_equal(log, "");
	assert_untouched(m);
}

static void test_not_a_wan_is_noop(void **state)
{
	const struct nat_maps *m = *state;
	unsigned flows = 99;

	assert_int_equal(wanstate_set_addr(WS(m), LAN, in(NEW_A), &flows), 0);
	assert_int_equal(flows, 0);
	assert_int_equal(iface_get(m, LAN).addr, 0);
	assert_int_equal(wanstate_set_addr(WS(m), 4242, in(NEW_A), &flows), 0);
	assert_int_equal(wanstate_set_gateway(WS(m), LAN, in("10.9.9.9")), 0);
	assert_int_equal(iface_get(m, LAN).gateway, ip("10.0.0.1"));
	assert_int_equal(wanaddr_owner(m, NEW_A), 0);
	assert_untouched(m);
}

static void test_address_gone(void **state)
{
	const struct nat_maps *m = *state;
	unsigned flows = 99;
	int ret;
	char *log = set_addr_logged(m, WAN_A, "0.0.0.0", &flows, &ret);

	assert_int_equal(ret, 0);
	assert_int_equal(flows, 3);
	assert_a_purged(m);
	assert_int_equal(iface_get(m, WAN_A).addr, 0);
	assert_int_equal(wanaddr_owner(m, OLD_A), 0);
	assert_int_equal(wanaddr_owner(m, "0.0.0.0"), 0);
	assert_non_null(strstr(log, "wan if1001: no address: passing traffic untouched"));
}

static void test_address_back(void **state)
{
	const struct nat_maps *m = *state;
	unsigned flows = 99;

	assert_int_equal(wanstate_set_addr(WS(m), WAN_A, in("0.0.0.0"), &flows), 0);
	assert_int_equal(wanstate_set_addr(WS(m), WAN_A, in(NEW_A), &flows), 0);
	assert_int_equal(flows, 0);
	assert_int_equal(iface_get(m, WAN_A).addr, ip(NEW_A));
	assert_int_equal(wanaddr_owner(m, NEW_A), WAN_A);
	assert_int_equal(addr_changes(m), 5 + 3);
}

static void test_gateway(void **state)
{
	const struct nat_maps *m = *state;

	assert_int_equal(wanstate_set_gateway(WS(m), WAN_A, in("10.0.9.1")), 0);
	assert_int_equal(iface_get(m, WAN_A).gateway, ip("10.0.9.1"));
	assert_int_equal(iface_get(m, WAN_A).addr, ip(OLD_A));
	assert_int_equal(wanstate_set_gateway(WS(m), WAN_A, in("10.0.9.1")), 0);
	assert_int_equal(wanstate_set_gateway(WS(m), WAN_A, in("0.0.0.0")), 0);
	assert_int_equal(iface_get(m, WAN_A).gateway, 0);
	assert_int_equal(iface_get(m, WAN_B).gateway, ip("10.0.0.1"));
	assert_untouched(m);
}

/* wanstate_apply honours a gateway pinned in the config; it needs a real
 * interface name, so the WAN here is lo. */
static void test_apply_pinned_gateway(void **state)
{
	const struct nat_maps *m = *state;
	__u32 lo = if_nametoindex("lo");
	struct xdpnat_config cfg = { .nwans = 1 };
	struct addrwatch_event gw = { .type = AW_GATEWAY, .ifindex = lo, .addr = in("10.0.9.1") };
	struct addrwatch_event addr = { .type = AW_ADDR, .ifindex = lo, .addr = in(NEW_A) };

	assert_true(lo > 0);
	iface_put(m, lo, NAT_IF_WAN, "10.5.0.2");
	strcpy(cfg.wans[0].ifname, "lo");
	cfg.wans[0].gateway = in("10.0.0.1");
	assert_int_equal(wanstate_apply(&(struct wanstate){ .m = m, .cfg = &cfg }, &gw), 0);
	assert_int_equal(iface_get(m, lo).gateway, ip("10.0.0.1"));	/* pinned */
	assert_int_equal(wanstate_apply(&(struct wanstate){ .m = m, .cfg = &cfg }, &addr), 0);
	assert_int_equal(iface_get(m, lo).addr, ip(NEW_A));		/* addresses follow */
	cfg.wans[0].gateway.s_addr = 0;
	assert_int_equal(wanstate_apply(&(struct wanstate){ .m = m, .cfg = &cfg }, &gw), 0);
	assert_int_equal(iface_get(m, lo).gateway, ip("10.0.9.1"));	/* learned */
	gw.addr = in("10.0.9.254");
	assert_int_equal(wanstate_apply(WS(m), &gw), 0);
	assert_int_equal(iface_get(m, lo).gateway, ip("10.0.9.254"));
}

/* A bad map fd is an error, reported and returned, not a crash. */
static void test_bad_map_fd(void **state)
{
	struct nat_maps bad = *(const struct nat_maps *)*state;
	unsigned flows;

	bad.ifaces = -1;
	assert_true(wanstate_set_addr(WS(&bad), WAN_A, in(NEW_A), &flows) < 0);
	assert_true(wanstate_set_gateway(WS(&bad), WAN_A, in(NEW_A)) < 0);
}

/* An FTP control session through a forward on A, counted live in nat_gate
 * (its `gate ftp` range admits the peer). Renumbering A removes the
 * session, and with it the count: the gate closes after the linger time
 * instead of staying open for a session that no longer exists. */
static void test_renumbering_releases_gate(void **state)
{
	const struct nat_maps *m = *state;
	struct nat_ct_key k = key_of(a_fwd);
	struct nat_ct_value v;
	struct nat_gate_key gk = { .raddr = ip("198.51.100.7"), .inside_addr = ip("192.168.0.254") };
	struct nat_gate_value gv = { .sessions = 1, .last_seen = 1 };
	unsigned flows;

	assert_int_equal(ct_get(&m->cttab, &k, &v), 0);
	v.flags |= NAT_CT_F_GATE | NAT_CT_F_GATE_COUNTED;
	assert_int_equal(ct_put(&m->cttab, &k, &v, BPF_EXIST), 0);
	assert_int_equal(bpf_map_update_elem(m->gate, &gk, &gv, BPF_ANY), 0);

	assert_int_equal(wanstate_set_addr(WS(m), WAN_A, in(NEW_A), &flows), 0);
	assert_int_equal(flows, 3);
	assert_int_equal(bpf_map_lookup_elem(m->gate, &gk, &gv), 0);
	assert_int_equal(gv.sessions, 0);
	assert_true(gv.last_seen > 1);		/* the linger time starts now */
}

/* The same when the WAN leaves the configuration on a reload. */
static void test_remove_iface(void **state)
{
	const struct nat_maps *m = *state;
	struct nat_ct_key k = key_of(a_fwd);
	struct nat_ct_value v;
	struct nat_gate_key gk = { .raddr = ip("198.51.100.7"), .inside_addr = ip("192.168.0.254") };
	struct nat_gate_value gv = { .sessions = 1 };
	struct nat_iface ifc;
	__u32 a = WAN_A;

	assert_int_equal(ct_get(&m->cttab, &k, &v), 0);
	v.flags |= NAT_CT_F_GATE | NAT_CT_F_GATE_COUNTED;
	assert_int_equal(ct_put(&m->cttab, &k, &v, BPF_EXIST), 0);
	assert_int_equal(bpf_map_update_elem(m->gate, &gk, &gv, BPF_ANY), 0);

	assert_int_equal(wanstate_remove_iface(WS(m), WAN_A), 0);
	assert_a_purged(m);
	assert_int_not_equal(bpf_map_lookup_elem(m->ifaces, &a, &ifc), 0);
	assert_int_equal(wanaddr_owner(m, OLD_A), 0);
	assert_int_equal(bpf_map_lookup_elem(m->gate, &gk, &gv), 0);
	assert_int_equal(gv.sessions, 0);
	assert_int_equal(wanstate_remove_iface(WS(m), WAN_A), 0);	/* gone already: fine */
}

static unsigned changes_seen;
static struct in_addr change_addr;

static void on_change(void *arg, uint32_t ifindex, struct in_addr addr)
{
	assert_ptr_equal(arg, &changes_seen);
	assert_int_equal(ifindex, WAN_A);
	change_addr = addr;
	changes_seen++;
}

/* DDNS hears of every effective change of a WAN's address, and only then. */
static void test_addr_changed_callback(void **state)
{
	const struct nat_maps *m = *state;
	struct wanstate ws = { .m = m, .addr_changed = on_change, .arg = &changes_seen };

	changes_seen = 0;
	assert_int_equal(wanstate_set_addr(&ws, WAN_A, in(OLD_A), NULL), 0);
	assert_int_equal(changes_seen, 0);
	assert_int_equal(wanstate_set_addr(&ws, WAN_A, in(NEW_A), NULL), 0);
	assert_int_equal(changes_seen, 1);
	assert_int_equal(change_addr.s_addr, ip(NEW_A));
	assert_int_equal(wanstate_set_addr(&ws, LAN, in(NEW_A), NULL), 0);
	assert_int_equal(changes_seen, 1);
	assert_int_equal(wanstate_set_addr(&ws, WAN_A, in("0.0.0.0"), NULL), 0);
	assert_int_equal(changes_seen, 2);
	assert_int_equal(change_addr.s_addr, 0);
}

/* put_iface: a WAN keeps its address and learned gateway across a reload,
 * a pinned gateway wins, the static part comes from the configuration,
 * and a role change first drops what the old role had. */
static void test_put_iface(void **state)
{
	const struct nat_maps *m = *state;
	__u32 lo = if_nametoindex("lo");
	struct xdpnat_config cfg = { .nwans = 1 };
	struct wanstate ws = { .m = m, .cfg = &cfg };
	struct nat_iface ifc;

	assert_true(lo > 0);
	strcpy(cfg.wans[0].ifname, "lo");
	cfg.wans[0].outbound = true;
	cfg.wans[0].port_lo = 20000;
	cfg.wans[0].port_hi = 30000;

	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_WAN, 7, 0), 0);
	ifc = iface_get(m, lo);
	assert_int_equal(ifc.role, NAT_IF_WAN);
	assert_int_equal(ifc.flags, 0);
	assert_int_equal(ifc.slot, 7);
	assert_int_equal(ifc.addr, 0);
	assert_int_equal(ifc.port_lo_host, 20000);
	assert_int_equal(ifc.port_hi_host, 30000);
	assert_int_equal(ifc.masquerade, 1);
	assert_int_equal(ifc.mss, 0);

	/* mss-clamp: the value; auto: lo's MTU (65536) - 40, at most 65495 */
	cfg.wans[0].mss_clamp = 1452;
	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_WAN, 7, 0), 0);
	assert_int_equal(iface_get(m, lo).mss, 1452);
	cfg.wans[0].mss_clamp = CFG_MSS_AUTO;
	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_WAN, 7, 0), 0);
	assert_int_equal(iface_get(m, lo).mss, 65495);
	assert_int_equal(wanstate_mss(&(struct cfg_wan){ .ifname = "nosuchif0",
							 .mss_clamp = CFG_MSS_AUTO }), 0);
	assert_int_equal(wanstate_mss(NULL), 0);
	cfg.wans[0].mss_clamp = 0;

	assert_int_equal(wanstate_set_addr(&ws, lo, in("10.5.0.2"), NULL), 0);
	assert_int_equal(wanstate_set_gateway(&ws, lo, in("10.5.0.1")), 0);
	cfg.wans[0].port_hi = 25000;
	cfg.wans[0].inbound_accept = true;
	/* reload; the interface is now in generic mode */
	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_WAN, 7, NAT_IFACE_F_XDP_GENERIC), 0);
	ifc = iface_get(m, lo);
	assert_int_equal(ifc.flags, NAT_IFACE_F_INBOUND_ACCEPT | NAT_IFACE_F_XDP_GENERIC);
	assert_int_equal(ifc.addr, ip("10.5.0.2"));
	assert_int_equal(ifc.gateway, ip("10.5.0.1"));
	assert_int_equal(ifc.port_hi_host, 25000);

	cfg.wans[0].gateway = in("10.5.0.254");
	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_WAN, 7, 0), 0);
	assert_int_equal(iface_get(m, lo).gateway, ip("10.5.0.254"));
	assert_int_equal(iface_get(m, lo).flags, NAT_IFACE_F_INBOUND_ACCEPT);

	/* a link whose senders may leave checksums unfinished: the flag
	 * joins the configuration's, and follows the link */
	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_WAN, 7,
					    NAT_IFACE_F_PARTIAL_CSUM | NAT_IFACE_F_XDP_GENERIC), 0);
	assert_int_equal(iface_get(m, lo).flags, NAT_IFACE_F_INBOUND_ACCEPT |
			 NAT_IFACE_F_PARTIAL_CSUM | NAT_IFACE_F_XDP_GENERIC);
	assert_int_equal(iface_get(m, lo).addr, ip("10.5.0.2"));
	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_WAN, 7, NAT_IFACE_F_PARTIAL_CSUM), 0);
	assert_int_equal(iface_get(m, lo).flags, NAT_IFACE_F_INBOUND_ACCEPT | NAT_IFACE_F_PARTIAL_CSUM);

	cfg.nwans = 0;
	assert_int_equal(wanstate_put_iface(&ws, lo, "lo", NAT_IF_LAN, 7, NAT_IFACE_F_XDP_GENERIC), 0);
	ifc = iface_get(m, lo);
	assert_int_equal(ifc.role, NAT_IF_LAN);
	assert_int_equal(ifc.flags, NAT_IFACE_F_XDP_GENERIC);
	assert_int_equal(ifc.mss, 0);
	assert_int_equal(ifc.addr, 0);
	assert_int_equal(wanaddr_owner(m, "10.5.0.2"), 0);
}

/* The NAT log's hook: every flow of the old address is reported once,
 * with its REPLY entry (read before it went) and the reason: addr-change,
 * or flush when the WAN leaves the configuration. */
struct ended {
	int n, with_reply;
	enum nat_flow_end why[8];
};

static void on_end(void *arg, const struct nat_ct_key *okey, const struct nat_ct_value *oval,
		   const struct nat_ct_value *rval, enum nat_flow_end why, uint64_t now_ns)
{
	struct ended *e = arg;

	(void)okey;
	(void)now_ns;
	assert_int_equal(oval->dir, NAT_DIR_ORIG);
	assert_true(e->n < 8);
	e->why[e->n++] = why;
	if (rval) {
		assert_int_equal(rval->dir, NAT_DIR_REPLY);
		e->with_reply++;
	}
}

static void test_end_hook(void **state)
{
	const struct nat_maps *m = *state;
	struct ended e = {};
	unsigned flows = 0;

	ctflow_set_end_hook(on_end, &e);
	assert_int_equal(wanstate_set_addr(WS(m), WAN_A, in(NEW_A), &flows), 0);
	assert_int_equal(flows, 3);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.with_reply, 3);	/* whatever order the sweep found them in */
	for (int i = 0; i < e.n; i++)
		assert_int_equal(e.why[i], NAT_FLOW_END_ADDR_CHANGE);
	assert_a_purged(m);
	memset(&e, 0, sizeof(e));
	assert_int_equal(wanstate_remove_iface(WS(m), WAN_B), 0);
	ctflow_set_end_hook(NULL, NULL);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.with_reply, 2);
	assert_int_equal(e.why[0], NAT_FLOW_END_FLUSH);
	assert_int_equal(e.why[1], NAT_FLOW_END_FLUSH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_change_removes_flows_of_old_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_wan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_address_is_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_wan_is_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_pinned_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_map_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renumbering_releases_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_iface, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr_changed_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_iface, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
