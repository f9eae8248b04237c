/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_datapath.c - BPF_PROG_TEST_RUN tests of xdpnat_xdp_lan,
 * xdpnat_xdp_wan and xdpnat_tc_egress: exact frames in, exact frames out.
 *
 * Every test runs in a fresh private network namespace with a freshly
 * loaded skeleton (tests/bpf/nsenv.c). Expected frames are built from
 * scratch by tests/bpf/pkt.c, whose checksums are full RFC 1071
 * recomputations, and every output frame's checksums (IP header, TCP/UDP
 * pseudo-header + segment, ICMP message, and the datagram inside an ICMP
 * error) are verified independently as well.
 *
 * Needs root (unshare(CLONE_NEWNET), BPF). Output is TAP through cmocka
 * (CMOCKA_MESSAGE_OUTPUT=TAP, set by tests/run.sh).
 *
 * A test whose expectation the data path does not meet is kept with the
 * right expectation and marked "DATA-PATH BUG" here; fixed ones are marked
 * "Regression".
 *
 * Not reachable from here: BPF_PROG_TEST_RUN skbs are CHECKSUM_NONE, so
 * the CHECKSUM_PARTIAL branch of bpf_l4_csum_replace (BPF_F_PSEUDO_HDR) on
 * tc is exercised only end to end; the target of XDP_REDIRECT is not
 * reported, so it is checked through the MAC addresses the FIB put in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "pkt.h"
#include "nsenv.h"
#include <sys/resource.h>
#include "alg/alg.h"
#include "alg/alg_xsk.h"
#include "common/maps.h"
#include "daemon/gc.h"
#include "daemon/udpkeyed.h"

static struct env E;

struct res {
	uint32_t ret;
	size_t len;
	uint8_t buf[PK_MAX];
};

/* ------------------------------------------------------------ helpers */

/* Diagnostics as TAP comments, on stderr. */
static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void diag_cont(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag_cont(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			diag("%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			diag_cont(__VA_ARGS__);                                 \
			fail();                                                 \
		}                                                               \
	} while (0)

#define CHECK_EQ(a, b, what)                                                    \
	do {                                                                    \
		unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
		if (_a != _b) {                                                 \
			diag("%s:%d: %s: got %llu (0x%llx), want %llu (0x%llx)\n", \
				    __FILE__, __LINE__, what, _a, _a, _b, _b);  \
			fail();                                                 \
		}                                                               \
	} while (0)

static const char *xdp_rc(uint32_t r)
{
	static const char *n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };

	return r < 5 ? n[r] : "?";
}

static void xdp_raw(int ifx, const uint8_t *f, size_t n, struct res *r)
{
	assert_int_equal(run_xdp(&E, ifx, f, n, r->buf, &r->len, &r->ret), 0);
}

static void tc_raw(int ifx, const uint8_t *f, size_t n, struct res *r)
{
	assert_int_equal(run_tc(&E, ifx, f, n, r->buf, &r->len, &r->ret), 0);
}

static size_t xdp_pk(int ifx, const struct pk *p, struct res *r, uint8_t *in)
{
	uint8_t tmp[PK_MAX];
	uint8_t *f = in ? in : tmp;
	size_t n = pk_frame(f, p);

	xdp_raw(ifx, f, n, r);
	return n;
}

static size_t tc_pk(int ifx, const struct pk *p, struct res *r, uint8_t *in)
{
	uint8_t tmp[PK_MAX];
	uint8_t *f = in ? in : tmp;
	size_t n = pk_frame(f, p);

	tc_raw(ifx, f, n, r);
	return n;
}

static void expect_xdp_ret(const char *what, const struct res *r, uint32_t want)
{
	if (r->ret != want) {
		diag("%s: XDP returned %u (%s), want %u (%s)\n", what, r->ret, xdp_rc(r->ret), want,
			    xdp_rc(want));
		fail();
	}
}

static void expect_tc_ret(const char *what, const struct res *r, uint32_t want)
{
	if (r->ret != want) {
		diag("%s: tc returned %u, want %u (0 OK, 2 SHOT, 7 REDIRECT)\n", what, r->ret, want);
		fail();
	}
}

static void expect_bytes(const char *what, const struct res *r, const uint8_t *want, size_t wlen)
{
	if (r->len != wlen || memcmp(r->buf, want, wlen)) {
		pk_hexdiff(what, want, wlen, r->buf, r->len);
		diag("%s: output frame differs from the expected one\n", what);
		fail();
	}
}

static void expect_csums(const char *what, const struct res *r)
{
	char why[256] = "";

	if (ck_verify_frame(r->buf, r->len, why, sizeof(why))) {
		diag("%s: independent checksum verification failed: %s\n", what, why);
		fail();
	}
}

/* Whole-frame comparison with the frame built from want, plus independent
 * checksum verification of what came out. */
static void expect_frame(const char *what, const struct res *r, const struct pk *want)
{
	uint8_t f[PK_MAX];
	size_t n = pk_frame(f, want);

	expect_csums(what, r);
	expect_bytes(what, r, f, n);
}

static struct nat_stats stats(void)
{
	struct nat_stats s;

	assert_int_equal(env_stats(&E, &s), 0);
	return s;
}

static int ct_count(void)
{
	return env_ct_count(&E);
}

static int frag_count(void)
{
	return map_count(E.m_frag, sizeof(struct nat_frag_key));
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define ANY64 (~0ull)

struct ct_want {
	uint32_t s, d;
	uint16_t sp, dp;
	uint8_t proto;
	uint32_t ts, td;
	uint16_t tsp, tdp;
	int wan;
	uint8_t dir, kind, state, flags;
	uint64_t packets, bytes;	/* ANY64: not checked */
};

static void expect_ct(const char *what, const struct ct_want *w)
{
	struct nat_ct_value v;
	uint64_t now = mono_ns();
	char m[160];

	if (env_ct_get(&E, w->s, w->d, w->sp, w->dp, w->proto, &v)) {
		diag("%s: no nat_ct entry for %08x:%u -> %08x:%u proto %u\n", what, w->s, w->sp, w->d,
			    w->dp, w->proto);
		fail();
	}
#define F(field, want) do { snprintf(m, sizeof(m), "%s: nat_ct." #field, what); CHECK_EQ(field, want, m); } while (0)
	F(ntohl(v.to_saddr), w->ts);
	F(ntohl(v.to_daddr), w->td);
	F(ntohs(v.to_sport), w->tsp);
	F(ntohs(v.to_dport), w->tdp);
	F(v.wan_ifindex, (uint32_t)w->wan);
	F(v.dir, w->dir);
	F(v.kind, w->kind);
	F(v.state, w->state);
	F(v.flags & ~(NAT_CT_F_TD_END | NAT_CT_F_TD_ACK), w->flags);	/* tracking bits: see the window tests */
	if (w->packets != ANY64)
		F(v.packets, w->packets);
	if (w->bytes != ANY64)
		F(v.bytes, w->bytes);
#undef F
	CHECK(nat_ticks_since(nat_tick(now), v.last_seen) < 600000000000ull >> NAT_TICK_SHIFT &&
	      nat_ticks_since(v.last_seen, nat_tick(now)) <= 1,
	      "%s: last_seen %u ticks not near now (%u)", what, v.last_seen, nat_tick(now));
}

static uint8_t ct_state(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t proto)
{
	struct nat_ct_value v;

	if (env_ct_get(&E, s, d, sp, dp, proto, &v)) {
		diag("no nat_ct entry %08x:%u -> %08x:%u\n", s, sp, d, dp);
		fail();
	}
	return v.state;
}

static int setup(void **state)
{
	(void)state;
	if (env_up(&E)) {
		env_down(&E);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	env_down(&E);
	return 0;
}

/* Packet templates. */
static struct pk lan_tcp(uint32_t src, const uint8_t *smac, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags)
{
	struct pk p = { .dmac = MAC_LAN0, .smac = smac, .src = src, .dst = dst, .proto = IPPROTO_TCP,
			.ttl = 64, .id = 0x1001, .frag = PK_IP_DF, .sport = sp, .dport = dp, .flags = flags,
			.seq = 1000 + !(flags & PK_TCP_SYN), .ack = (flags & PK_TCP_ACK) ? 5001 : 0 };
	return p;
}

static struct pk wan_tcp(uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags)
{
	struct pk p = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = src, .dst = dst, .proto = IPPROTO_TCP,
			.ttl = 50, .id = 0x2002, .frag = PK_IP_DF, .sport = sp, .dport = dp, .flags = flags,
			.seq = 5000 + !(flags & PK_TCP_SYN), .ack = (flags & PK_TCP_ACK) ? 1001 : 0 };
	return p;
}

/* Out of wan0 to the gateway: the MACs and TTL XDP must produce. */
static struct pk to_wan0(struct pk p)
{
	p.dmac = MAC_GW;
	p.smac = MAC_WAN0;
	p.ttl--;
	return p;
}

static struct pk to_lan(struct pk p, const uint8_t *dmac)
{
	p.dmac = dmac;
	p.smac = MAC_LAN0;
	p.ttl--;
	return p;
}

/* The masqueraded SYN of case 1: 192.168.0.10:40000 -> 192.0.2.80:443. */
static void masq_syn(uint32_t client, const uint8_t *cmac, uint16_t sport, uint16_t want_port)
{
	struct pk in = lan_tcp(client, cmac, sport, A_REMOTE, 443, PK_TCP_SYN);
	struct pk want = to_wan0(in);
	struct res r;

	want.src = A_WAN0;
	want.sport = want_port;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("masqueraded SYN", &r, XDP_REDIRECT);
	expect_frame("masqueraded SYN", &r, &want);
}

/* ============================================================ 1. masquerade SYN */

static void test_masq_tcp_syn(void **state)
{
	struct pk in = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk want = to_wan0(in);
	struct nat_stats s;
	struct res r;

	(void)state;
	want.src = A_WAN0;	/* same port, kept because it is free */
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("SYN LAN->WAN", &r, XDP_REDIRECT);
	expect_frame("SYN LAN->WAN", &r, &want);

	CHECK_EQ(ct_count(), 2, "nat_ct entries");
	expect_ct("orig entry", &(struct ct_want){
		.s = A_CLIENT, .d = A_REMOTE, .sp = 40000, .dp = 443, .proto = IPPROTO_TCP,
		.ts = A_WAN0, .td = A_REMOTE, .tsp = 40000, .tdp = 443, .wan = E.if_wan0,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_MASQ, .state = NAT_CT_SYN_SENT,
		.packets = 1, .bytes = 40 });
	expect_ct("reply entry", &(struct ct_want){
		.s = A_REMOTE, .d = A_WAN0, .sp = 443, .dp = 40000, .proto = IPPROTO_TCP,
		.ts = A_REMOTE, .td = A_CLIENT, .tsp = 443, .tdp = 40000, .wan = E.if_wan0,
		.dir = NAT_DIR_REPLY, .kind = NAT_KIND_MASQ, .state = NAT_CT_SYN_SENT,
		.packets = 0, .bytes = 0 });
	s = stats();
	CHECK_EQ(s.flows_created, 1, "flows_created");
	CHECK_EQ(s.xdp_forwarded, 1, "xdp_forwarded");
	CHECK_EQ(s.rx_packets, 1, "rx_packets");
	CHECK_EQ(s.passed_to_kernel + s.passed_untouched + s.drop_malformed + s.drop_no_port, 0, "other counters");
}

/* ============================================================ 2. reply, states */

static void syn_ack_reply(void)
{
	struct pk in = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk want = to_lan(in, MAC_CLIENT);
	struct res r;

	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &in, &r, NULL);
	expect_xdp_ret("SYN-ACK WAN->LAN", &r, XDP_REDIRECT);
	expect_frame("SYN-ACK WAN->LAN", &r, &want);
}

/* The client's ACK that completes the handshake (LAN -> WAN). */
static void client_ack(void)
{
	struct pk in = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_ACK);
	struct res r;

	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("client's ACK LAN->WAN", &r, XDP_REDIRECT);
}

static void expect_states(const char *what, uint8_t st)
{
	char m[128];

	snprintf(m, sizeof(m), "%s: state of orig entry", what);
	CHECK_EQ(ct_state(A_CLIENT, A_REMOTE, 40000, 443, IPPROTO_TCP), st, m);
	snprintf(m, sizeof(m), "%s: state of reply entry", what);
	CHECK_EQ(ct_state(A_REMOTE, A_WAN0, 443, 40000, IPPROTO_TCP), st, m);
}

static void test_masq_tcp_reply_fin(void **state)
{
	struct pk fin_l = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_FIN | PK_TCP_ACK);
	struct pk fin_w = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_FIN | PK_TCP_ACK);
	struct pk want;
	struct nat_ct_value v;
	struct res r;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	syn_ack_reply();
	/* a SYN-ACK alone does not establish: a spoofed SYN gets one too */
	expect_states("after SYN-ACK", NAT_CT_SYN_RECV);
	assert_int_equal(env_ct_get(&E, A_REMOTE, A_WAN0, 443, 40000, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.packets, 1, "reply entry packets");
	CHECK_EQ(v.bytes, 40, "reply entry bytes");
	client_ack();
	expect_states("after the client's ACK", NAT_CT_ESTABLISHED);

	want = to_wan0(fin_l);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &fin_l, &r, NULL);
	expect_xdp_ret("FIN LAN->WAN", &r, XDP_REDIRECT);
	expect_frame("FIN LAN->WAN", &r, &want);
	expect_states("after one FIN", NAT_CT_FIN_WAIT);

	want = to_lan(fin_w, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &fin_w, &r, NULL);
	expect_xdp_ret("FIN WAN->LAN", &r, XDP_REDIRECT);
	expect_frame("FIN WAN->LAN", &r, &want);
	expect_states("after both FINs", NAT_CT_CLOSING);
	CHECK_EQ(stats().xdp_forwarded, 5, "xdp_forwarded");
}

static void test_masq_tcp_rst(void **state)
{
	struct pk rst = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_RST | PK_TCP_ACK);
	struct pk want = to_lan(rst, MAC_CLIENT);
	struct res r;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	syn_ack_reply();
	client_ack();
	expect_states("after the handshake", NAT_CT_ESTABLISHED);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &rst, &r, NULL);
	expect_xdp_ret("RST WAN->LAN", &r, XDP_REDIRECT);
	expect_frame("RST WAN->LAN", &r, &want);
	expect_states("after RST", NAT_CT_CLOSING);
}

/* ============================================================ 2b. TCP window */

/* A segment of the masqueraded 40000 -> 443 flow from the Internet side. */
static void wan_seg(const char *what, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t plen)
{
	struct pk in = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, flags);
	struct pk want;
	struct res r;

	in.seq = seq;
	in.ack = ack;
	in.plen = plen;
	in.payload = plen ? (const uint8_t *)"0123456789abcdef0123456789abcdef" : NULL;
	want = to_lan(in, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &in, &r, NULL);
	/* forwarded whatever the window says: the endpoint decides */
	expect_xdp_ret(what, &r, XDP_REDIRECT);
	expect_frame(what, &r, &want);
}

static struct nat_ct_value ct_of_reply(void)
{
	struct nat_ct_value v;

	assert_int_equal(env_ct_get(&E, A_REMOTE, A_WAN0, 443, 40000, IPPROTO_TCP, &v), 0);
	return v;
}

static void established_flow(void)
{
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	syn_ack_reply();
	client_ack();
	expect_states("after the handshake", NAT_CT_ESTABLISHED);
}

/* RFC 5961 from the middle: a RST moves the flow to closing only with a
 * sequence number between what the client acknowledged (5001) and what
 * the server sent; a blind one is forwarded, counted, and changes nothing. */
static void test_tcp_rst_window(void **state)
{
	(void)state;
	established_flow();
	wan_seg("RST far out of window", PK_TCP_RST, 5001 + 0x80000000u, 0, 0);
	wan_seg("RST just past what the server sent", PK_TCP_RST | PK_TCP_ACK, 5002, 1001, 0);
	wan_seg("RST just before what the client acknowledged", PK_TCP_RST, 5000, 0, 0);
	expect_states("after three RSTs out of window", NAT_CT_ESTABLISHED);
	CHECK_EQ(stats().tcp_out_of_window, 3, "tcp_out_of_window");

	/* the server sends 32 bytes; until the client acknowledges them, a
	 * RST anywhere in [5001, 5033] is in window */
	wan_seg("32 bytes of data", PK_TCP_ACK | PK_TCP_PSH, 5001, 1001, 32);
	CHECK_EQ(ct_of_reply().td_end, 5033, "server's td_end after 32 bytes");
	wan_seg("RST within the unacknowledged data", PK_TCP_RST, 5017, 0, 0);
	expect_states("after an in-window RST", NAT_CT_CLOSING);
	CHECK_EQ(stats().tcp_out_of_window, 3, "tcp_out_of_window (the last RST was in window)");
}

/* A FIN is held to the same window (with a little slack ahead); data far
 * outside it neither moves the window nor the state. */
static void test_tcp_fin_and_data_window(void **state)
{
	struct nat_ct_value v;

	(void)state;
	established_flow();
	wan_seg("data 1 GiB ahead", PK_TCP_ACK, 5001 + (1u << 30), 1001, 32);
	CHECK_EQ(ct_of_reply().td_end, 5001, "td_end not moved by data out of window");
	wan_seg("FIN 1 GiB ahead", PK_TCP_FIN | PK_TCP_ACK, 5001 + (1u << 30), 1001, 0);
	wan_seg("FIN behind what the client acknowledged", PK_TCP_FIN | PK_TCP_ACK, 4000, 1001, 0);
	expect_states("after FINs out of window", NAT_CT_ESTABLISHED);
	v = ct_of_reply();
	CHECK_EQ(v.flags & NAT_CT_F_FIN, 0, "no FIN flag from FINs out of window");
	CHECK_EQ(stats().tcp_out_of_window, 3, "tcp_out_of_window");
	wan_seg("FIN in window", PK_TCP_FIN | PK_TCP_ACK, 5001, 1001, 0);
	expect_states("after the server's FIN", NAT_CT_FIN_WAIT);
	CHECK_EQ(ct_of_reply().td_end, 5002, "td_end counts the FIN");
}

/* The handshake moves on only with the right acknowledgment: a SYN-ACK
 * that does not acknowledge the SYN, or a blind ACK that does not
 * acknowledge the SYN-ACK, leave the flow where it was (and evictable). */
static void test_tcp_handshake_acks(void **state)
{
	struct pk ack = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_ACK);
	struct res r;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	wan_seg("SYN-ACK acknowledging something else", PK_TCP_SYN | PK_TCP_ACK, 5000, 777, 0);
	expect_states("after a SYN-ACK with the wrong ack", NAT_CT_SYN_SENT);
	wan_seg("RST without ACK refusing the SYN", PK_TCP_RST, 0, 0, 0);
	wan_seg("RST|ACK acknowledging something else", PK_TCP_RST | PK_TCP_ACK, 0, 999, 0);
	expect_states("after RSTs that do not refuse the SYN", NAT_CT_SYN_SENT);
	CHECK_EQ(stats().tcp_out_of_window, 3, "tcp_out_of_window");

	syn_ack_reply();
	expect_states("after the real SYN-ACK", NAT_CT_SYN_RECV);
	ack.ack = 4242;		/* not the SYN-ACK's 5001 */
	xdp_pk(E.if_lan0, &ack, &r, NULL);
	expect_xdp_ret("an ACK of something else", &r, XDP_REDIRECT);
	expect_states("after an ACK of something else", NAT_CT_SYN_RECV);
	client_ack();
	expect_states("after the client's ACK", NAT_CT_ESTABLISHED);
	CHECK_EQ(stats().tcp_out_of_window, 4, "tcp_out_of_window");
}

/* A RST|ACK acknowledging the SYN refuses it: closing at once. */
static void test_tcp_rst_refuses_syn(void **state)
{
	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	wan_seg("RST|ACK refusing the SYN", PK_TCP_RST | PK_TCP_ACK, 0, 1001, 0);
	expect_states("after the refusal", NAT_CT_CLOSING);
	CHECK_EQ(stats().tcp_out_of_window, 0, "tcp_out_of_window");
}

/* A SYN on a live flow resets nothing. */
static void test_tcp_syn_on_live_flow(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct res r;

	(void)state;
	established_flow();
	syn.seq = 123456;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("SYN on an established flow", &r, XDP_REDIRECT);
	wan_seg("SYN-ACK on an established flow", PK_TCP_SYN | PK_TCP_ACK, 99, 123457, 0);
	expect_states("after SYN and SYN-ACK on the live flow", NAT_CT_ESTABLISHED);
	wan_seg("RST in the original window", PK_TCP_RST, 5001, 0, 0);
	expect_states("the original window still holds", NAT_CT_CLOSING);
}

/* A flow without window state (adopted from a build before the check, or
 * the bits lost) picks the window up from its next segments. */
static void test_tcp_window_pickup(void **state)
{
	struct nat_ct_key k = { .saddr = htonl(A_REMOTE), .daddr = htonl(A_WAN0), .sport = htons(443),
				.dport = htons(40000), .proto = IPPROTO_TCP };
	struct nat_ct_key ko = { .saddr = htonl(A_CLIENT), .daddr = htonl(A_REMOTE),
				 .sport = htons(40000), .dport = htons(443), .proto = IPPROTO_TCP };
	struct nat_ct_value v;

	(void)state;
	established_flow();
	assert_int_equal(ct_get(&E.ct, &k, &v), 0);
	v.flags &= ~(NAT_CT_F_TD_END | NAT_CT_F_TD_ACK);
	v.td_end = v.td_ack = 0;
	assert_int_equal(ct_put(&E.ct, &k, &v, BPF_EXIST), 0);
	assert_int_equal(ct_get(&E.ct, &ko, &v), 0);
	v.flags &= ~(NAT_CT_F_TD_END | NAT_CT_F_TD_ACK);
	v.td_end = v.td_ack = 0;
	assert_int_equal(ct_put(&E.ct, &ko, &v, BPF_EXIST), 0);

	wan_seg("a segment 3 GB on (picked up)", PK_TCP_ACK, 3000000000u, 1001, 32);
	v = ct_of_reply();
	CHECK_EQ(v.flags & (NAT_CT_F_TD_END | NAT_CT_F_TD_ACK), NAT_CT_F_TD_END | NAT_CT_F_TD_ACK,
		 "window bits after the pickup");
	CHECK_EQ(v.td_end, 3000000032u, "td_end picked up");
	CHECK_EQ(v.td_ack, 1001, "td_ack picked up");
	wan_seg("RST out of the picked-up window", PK_TCP_RST, 5001, 0, 0);
	expect_states("after a RST out of the picked-up window", NAT_CT_ESTABLISHED);
	wan_seg("RST at the picked-up edge", PK_TCP_RST, 3000000032u, 0, 0);
	expect_states("after a RST at the edge", NAT_CT_CLOSING);
}

/* ============================================================ 3. ports */

static void test_port_clash(void **state)
{
	struct pk in = lan_tcp(A_CLIENT2, MAC_CLIENT2, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk want = to_wan0(in), rep, rwant;
	uint16_t port;
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 40000, 40099, 1, 0), 0);
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);

	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("second host, same port", &r, XDP_REDIRECT);
	CHECK(r.len >= 14 + 20 + 4, "short output");
	port = pk_get16(r.buf + 14 + 20);
	CHECK(port != 40000 && port >= 40000 && port <= 40099,
	      "second host got port %u: want a different port within 40000-40099", port);
	want.src = A_WAN0;
	want.sport = port;
	expect_frame("second host, same port", &r, &want);
	expect_ct("second host orig", &(struct ct_want){
		.s = A_CLIENT2, .d = A_REMOTE, .sp = 40000, .dp = 443, .proto = IPPROTO_TCP,
		.ts = A_WAN0, .td = A_REMOTE, .tsp = port, .tdp = 443, .wan = E.if_wan0,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_MASQ, .state = NAT_CT_SYN_SENT,
		.packets = 1, .bytes = 40 });
	expect_ct("second host reply", &(struct ct_want){
		.s = A_REMOTE, .d = A_WAN0, .sp = 443, .dp = port, .proto = IPPROTO_TCP,
		.ts = A_REMOTE, .td = A_CLIENT2, .tsp = 443, .tdp = 40000, .wan = E.if_wan0,
		.dir = NAT_DIR_REPLY, .kind = NAT_KIND_MASQ, .state = NAT_CT_SYN_SENT,
		.packets = 0, .bytes = 0 });

	/* its reply goes to the second host */
	rep = wan_tcp(A_REMOTE, 443, A_WAN0, port, PK_TCP_SYN | PK_TCP_ACK);
	rwant = to_lan(rep, MAC_CLIENT2);
	rwant.dst = A_CLIENT2;
	rwant.dport = 40000;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("reply to second host", &r, XDP_REDIRECT);
	expect_frame("reply to second host", &r, &rwant);
	CHECK_EQ(ct_count(), 4, "nat_ct entries");
	CHECK_EQ(stats().flows_created, 2, "flows_created");
}

static void test_port_exhaustion(void **state)
{
	struct pk in[3] = {
		lan_tcp(A_CLIENT, MAC_CLIENT, 1111, A_REMOTE, 443, PK_TCP_SYN),
		lan_tcp(A_CLIENT2, MAC_CLIENT2, 2222, A_REMOTE, 443, PK_TCP_SYN),
		lan_tcp(A_CLIENT, MAC_CLIENT, 3333, A_REMOTE, 443, PK_TCP_SYN),
	};
	uint16_t port[2];
	struct nat_stats s;
	struct pk want;
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 50000, 50001, 1, 0), 0);
	for (int i = 0; i < 2; i++) {
		xdp_pk(E.if_lan0, &in[i], &r, NULL);
		expect_xdp_ret("flow within the range", &r, XDP_REDIRECT);
		CHECK(r.len >= 38, "short output");
		port[i] = pk_get16(r.buf + 34);
		want = to_wan0(in[i]);
		want.src = A_WAN0;
		want.sport = port[i];
		expect_frame("flow within the range", &r, &want);
	}
	CHECK((port[0] == 50000 && port[1] == 50001) || (port[0] == 50001 && port[1] == 50000),
	      "ports %u and %u: want 50000 and 50001", port[0], port[1]);

	xdp_pk(E.if_lan0, &in[2], &r, NULL);
	expect_xdp_ret("flow 3 (range exhausted)", &r, XDP_DROP);
	s = stats();
	CHECK_EQ(s.drop_no_port, 1, "drop_no_port");
	CHECK_EQ(s.flows_created, 2, "flows_created");
	CHECK_EQ(ct_count(), 4, "nat_ct entries (no half of flow 3 left behind)");
	CHECK(env_ct_get(&E, A_CLIENT, A_REMOTE, 3333, 443, IPPROTO_TCP, &(struct nat_ct_value){0}) != 0,
	      "flow 3 has no entry");
}

/*
 * A LAN endpoint whose source port is forwarded on the WAN gets another
 * outside port: the mapping never takes a forward's port. The data path
 * knows a forwarded port by its bit in nat_fwd_ports (a wrong word, bit
 * or protocol there and the SYN below keeps 40013); the same port of the
 * other protocol is not forwarded, and is kept.
 */
static void test_forwarded_port_not_mapped(void **state)
{
	static const uint8_t q[] = "query";
	struct pk tcp = lan_tcp(A_CLIENT, MAC_CLIENT, 40013, A_REMOTE, 443, PK_TCP_SYN);
	struct pk udp = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			  .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3003, .sport = 40077, .dport = 53,
			  .payload = q, .plen = sizeof(q) - 1 };
	struct pk other = udp;
	uint16_t port;
	struct res r;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 40013, A_SERVER, 80), 0);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_UDP, 40077, A_SERVER, 53), 0);

	xdp_pk(E.if_lan0, &tcp, &r, NULL);
	expect_xdp_ret("TCP from a forwarded port", &r, XDP_REDIRECT);
	CHECK(r.len >= 14 + 20 + 4, "short output");
	port = pk_get16(r.buf + 14 + 20);
	CHECK(port != 40013, "TCP from LAN port 40013 left by the WAN's forwarded port %u", port);

	xdp_pk(E.if_lan0, &udp, &r, NULL);
	expect_xdp_ret("UDP from a forwarded port", &r, XDP_REDIRECT);
	CHECK(r.len >= 14 + 20 + 4, "short output");
	port = pk_get16(r.buf + 14 + 20);
	CHECK(port != 40077, "UDP from LAN port 40077 left by the WAN's forwarded port %u", port);

	other.sport = 40013;	/* TCP's forward, not UDP's */
	xdp_pk(E.if_lan0, &other, &r, NULL);
	expect_xdp_ret("UDP from a port forwarded for TCP", &r, XDP_REDIRECT);
	CHECK(r.len >= 14 + 20 + 4, "short output");
	CHECK_EQ(pk_get16(r.buf + 14 + 20), 40013, "UDP port 40013 kept (only TCP's is forwarded)");
}

/*
 * RFC 4787 REQ-1 across a freed port: the second host on a port moves to
 * another outside port (its mapping gets an INSIDE entry); once the first
 * host's mapping is gone, the second host's next flow, to another remote,
 * must still use its mapping, not take the port that came free. The data
 * path looks for the INSIDE entry only if the endpoint's nat_eim_moved
 * cell counts one: a cell not counted and this test takes port 5000.
 */
static void test_eim_moved_mapping_kept(void **state)
{
	static const uint8_t q[] = "query";
	struct pk a = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			.proto = IPPROTO_UDP, .ttl = 64, .id = 0x3003, .sport = 5000, .dport = 53,
			.payload = q, .plen = sizeof(q) - 1 };
	struct pk b = a, b2;
	__u32 out = (__u32)nat_eim_port_index(0, IPPROTO_UDP, 5000);	/* wan0's table */
	struct nat_eim_port port5000, free_port = {};
	struct nat_eim_key in = { .addr = htonl(A_CLIENT2), .ifindex = (__u32)E.if_wan0,
				  .port = htons(5000), .proto = IPPROTO_UDP,
				  .side = NAT_EIM_INSIDE };
	struct nat_maps m;
	struct nat_eim_moved cell;
	__u32 ci = nat_eim_moved_cell(in.addr, in.port, in.proto, in.ifindex);
	uint16_t moved;
	struct res r;

	(void)state;
	env_maps(&E, &m);
	b.smac = MAC_CLIENT2;
	b.src = A_CLIENT2;
	xdp_pk(E.if_lan0, &a, &r, NULL);
	expect_xdp_ret("first host", &r, XDP_REDIRECT);
	CHECK_EQ(pk_get16(r.buf + 14 + 20), 5000, "first host keeps its port");
	xdp_pk(E.if_lan0, &b, &r, NULL);
	expect_xdp_ret("second host, same port", &r, XDP_REDIRECT);
	moved = pk_get16(r.buf + 14 + 20);
	CHECK(moved != 5000, "second host got port %u: want another", moved);
	assert_int_equal(bpf_map_lookup_elem(m.eim_moved, &ci, &cell), 0);
	CHECK_EQ(cell.count, 1, "the second host's nat_eim_moved cell");

	/* the first host's mapping goes (as the GC frees one without flows) */
	assert_int_equal(bpf_map_lookup_elem(m.eim_ports, &out, &port5000), 0);
	CHECK_EQ(port5000.addr, htonl(A_CLIENT), "port 5000 the first host's");
	CHECK_EQ(ntohs(port5000.port), 5000, "port 5000 the first host's port's");
	assert_int_equal(bpf_map_update_elem(m.eim_ports, &out, &free_port, BPF_ANY), 0);

	b2 = b;
	b2.dst = A_REMOTE;
	xdp_pk(E.if_lan0, &b2, &r, NULL);
	expect_xdp_ret("second host, another remote", &r, XDP_REDIRECT);
	CHECK_EQ(pk_get16(r.buf + 14 + 20), moved, "second host's mapping kept (not port 5000)");
	assert_int_equal(bpf_map_lookup_elem(m.eim_ports, &out, &port5000), 0);
	CHECK(port5000.addr == 0, "port 5000 left free");
}

/* ============================================================ 4. UDP */

static const uint8_t dns_q[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00example-query";

static void test_udp_masq(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3003, .sport = 5353, .dport = 53,
			 .payload = dns_q, .plen = sizeof(dns_q) - 1 };
	struct pk rep = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
			  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4004, .sport = 53, .dport = 5353,
			  .payload = dns_q, .plen = sizeof(dns_q) - 3 };
	struct pk want;
	struct res r;

	(void)state;
	want = to_wan0(in);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP LAN->WAN", &r, XDP_REDIRECT);
	expect_frame("UDP LAN->WAN", &r, &want);
	CHECK_EQ(ct_state(A_CLIENT, A_DNS, 5353, 53, IPPROTO_UDP), NAT_CT_NEW, "state after request");

	want = to_lan(rep, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("UDP WAN->LAN", &r, XDP_REDIRECT);
	expect_frame("UDP WAN->LAN", &r, &want);
	CHECK_EQ(ct_state(A_CLIENT, A_DNS, 5353, 53, IPPROTO_UDP), NAT_CT_ESTABLISHED, "orig state after reply");
	CHECK_EQ(ct_state(A_DNS, A_WAN0, 53, 5353, IPPROTO_UDP), NAT_CT_ESTABLISHED, "reply state after reply");
}

/*
 * A UDP flow on its endpoint's own mapping port makes its reply entry at
 * its first reply (bpf/nat_lazyreply.h): one entry until then, and no
 * other flow may take its reply tuple meanwhile. Here the WAN's port 5353
 * gets a forward after the flow's mapping holds it (a reload may do
 * that): a LAN host's packet that claims the remote's endpoint and would
 * hairpin to the forward is refused (its ORIG key is the flow's reply
 * tuple), the remote's answer still reaches the flow, another remote
 * reaches the forward.
 */
/* Element i of nat_udp_keyed. */
static struct nat_udp_keyed keyed_elem(__u32 i)
{
	struct nat_udp_keyed w = {};
	struct nat_maps m;

	env_maps(&E, &m);
	assert_int_equal(bpf_map_lookup_elem(m.udp_keyed, &i, &w), 0);
	return w;
}

/* Is port's bit set in the bitmap of epoch e of nat_udp_keyed? */
static bool keyed_in(int e, uint16_t port)
{
	return keyed_elem(nat_port_word(port)).bits[e] & nat_port_bit(port);
}

/* Is port's bit set in nat_udp_keyed (in either epoch's bitmap)? */
static bool udp_keyed(uint16_t port)
{
	return keyed_in(0, port) || keyed_in(1, port);
}

static void test_udp_lazy_reply(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3013, .sport = 5353, .dport = 53,
			 .payload = dns_q, .plen = sizeof(dns_q) - 1 };
	struct pk rep = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
			  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4014, .sport = 53, .dport = 5353,
			  .payload = dns_q, .plen = sizeof(dns_q) - 3 };
	struct pk spoof = in, other = rep, want;
	struct nat_stats st;
	struct nat_ct_value v;
	struct res r;

	(void)state;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP LAN->WAN", &r, XDP_REDIRECT);
	CHECK_EQ(pk_get16(r.buf + 14 + 20), 5353, "the mapping keeps the port");
	CHECK_EQ(env_ct_count(&E), 1, "entries after the first packet: the ORIG one");
	CHECK(env_ct_get(&E, A_DNS, A_WAN0, 53, 5353, IPPROTO_UDP, &v) != 0, "no reply entry yet");

	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_UDP, 5353, A_SERVER, 53), 0);
	spoof.smac = MAC_CLIENT2;
	spoof.src = A_DNS;
	spoof.sport = 53;
	spoof.dst = A_WAN0;
	spoof.dport = 5353;
	xdp_pk(E.if_lan0, &spoof, &r, NULL);
	expect_xdp_ret("a LAN host with the remote's endpoint, to the forward", &r, XDP_DROP);
	CHECK(env_ct_get(&E, A_DNS, A_WAN0, 53, 5353, IPPROTO_UDP, &v) != 0,
	      "the flow's reply tuple is no other flow's key");
	assert_int_equal(env_stats(&E, &st), 0);
	CHECK_EQ(st.drop_ct_full, 1, "drop_ct_full (a clash)");

	want = to_lan(rep, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("the remote's answer", &r, XDP_REDIRECT);
	expect_frame("the remote's answer, to the flow (not to the forward)", &r, &want);
	expect_ct("reply entry made by the answer", &(struct ct_want){
		.s = A_DNS, .d = A_WAN0, .sp = 53, .dp = 5353, .proto = IPPROTO_UDP,
		.ts = A_DNS, .td = A_CLIENT, .tsp = 53, .tdp = 5353, .wan = E.if_wan0,
		.dir = NAT_DIR_REPLY, .kind = NAT_KIND_MASQ, .state = NAT_CT_ESTABLISHED,
		.packets = 1, .bytes = ANY64 });
	CHECK_EQ(ct_state(A_CLIENT, A_DNS, 5353, 53, IPPROTO_UDP), NAT_CT_ESTABLISHED,
		 "orig state after the answer");
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_frame("a second answer, through the reply entry", &r, &want);
	assert_int_equal(env_stats(&E, &st), 0);
	CHECK_EQ(st.ct_reply_lazy, 1, "ct_reply_lazy");

	other.src = A_REMOTE;
	want = to_lan(other, MAC_SERVER);
	want.dst = A_SERVER;
	want.dport = 53;
	xdp_pk(E.if_wan0, &other, &r, NULL);
	expect_xdp_ret("another remote to port 5353", &r, XDP_REDIRECT);
	expect_frame("another remote to port 5353: the forward", &r, &want);
	CHECK_EQ(env_ct_count(&E), 4, "entries: the flow's two, the forward's two");
	CHECK(udp_keyed(5353), "nat_udp_keyed: port 5353 marked by the forward's flow");
	CHECK(!udp_keyed(5354), "nat_udp_keyed: port 5354 not marked");
}

static __u64 keyed_epoch(void)
{
	return keyed_elem(NAT_UDP_KEYED_CTL).bits[NAT_UDP_KEYED_EPOCH];
}

/*
 * Every GC pass rebuilds nat_udp_keyed (daemon/udpkeyed.c): it switches
 * the epoch, marks the ports of the entries it keeps in the new epoch's
 * bitmap and clears the old one; the data path marks the new epoch from
 * the switch on; a port whose entries the GC expired is clear after the
 * next pass.
 */
static void test_udp_keyed_rebuild(void **state)
{
	struct pk in = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_REMOTE, .dst = A_WAN0,
			 .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4044, .sport = 40000,
			 .dport = 5400, .payload = dns_q, .plen = sizeof(dns_q) - 3 };
	struct gc_result res;
	struct nat_maps m;
	struct res r;
	uint64_t now = mono_ns();

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_UDP, 5400, A_SERVER, 53), 0);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_UDP, 5401, A_SERVER, 53), 0);
	xdp_pk(E.if_wan0, &in, &r, NULL);
	expect_xdp_ret("a remote to the forward on 5400", &r, XDP_REDIRECT);
	CHECK(keyed_in(0, 5400), "5400 marked in epoch 0's bitmap");

	env_maps(&E, &m);
	assert_int_equal(nat_maps_map_keyed(&m), 0);
	assert_int_equal(gc_run(&m, now, &res), 0);
	CHECK_EQ(keyed_epoch(), 1, "the pass switched to epoch 1");
	CHECK(keyed_in(1, 5400), "the live flow's port marked in epoch 1's bitmap");
	CHECK(!keyed_in(0, 5400), "epoch 0's bitmap cleared");

	in.dport = 5401;
	in.sport = 40001;	/* not the first flow's tuple at the server */
	xdp_pk(E.if_wan0, &in, &r, NULL);
	expect_xdp_ret("a remote to the forward on 5401", &r, XDP_REDIRECT);
	CHECK(keyed_in(1, 5401) && !keyed_in(0, 5401), "the data path marks epoch 1 now");

	assert_int_equal(gc_run(&m, now + 3600ull * 1000000000ull, &res), 0);
	CHECK_EQ(res.flows_expired, 2, "the next pass (an hour on) expires both flows");
	CHECK_EQ(keyed_epoch(), 0, "and switched back to epoch 0");
	CHECK(!udp_keyed(5400) && !udp_keyed(5401), "their ports are clear in both bitmaps");
	nat_maps_unmap_keyed(&m);
}

/*
 * The other way round: the reply tuple R:rp -> W:p is another flow's
 * entry already (a port chosen for that destination only while the
 * mapping's port was free, put here as the data path would have) when
 * the mapping's first flow to R:rp comes: refused, and R's packets stay
 * the other flow's.
 */
static void test_udp_lazy_reply_taken(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3023, .sport = 5353, .dport = 53,
			 .payload = dns_q, .plen = sizeof(dns_q) - 1 };
	struct pk rep = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
			  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4024, .sport = 53, .dport = 5353,
			  .payload = dns_q, .plen = sizeof(dns_q) - 3 };
	struct nat_ct_key ko = env_ct_key(A_CLIENT2, A_DNS, 6000, 53, IPPROTO_UDP);
	struct nat_ct_key kr = env_ct_key(A_DNS, A_WAN0, 53, 5353, IPPROTO_UDP);
	struct nat_ct_value vo = { .to_saddr = htonl(A_WAN0), .to_daddr = htonl(A_DNS),
				   .to_sport = htons(5353), .to_dport = htons(53),
				   .wan_ifindex = (__u16)E.if_wan0, .dir = NAT_DIR_ORIG,
				   .kind = NAT_KIND_MASQ, .state = NAT_CT_ESTABLISHED };
	struct nat_ct_value vr = vo, v;
	struct nat_maps m;
	struct pk want;
	struct res r;

	(void)state;
	vr.to_saddr = htonl(A_DNS);
	vr.to_daddr = htonl(A_CLIENT2);
	vr.to_sport = htons(53);
	vr.to_dport = htons(6000);
	vr.dir = NAT_DIR_REPLY;
	assert_int_equal(ct_put(&E.ct, &ko, &vo, BPF_NOEXIST), 0);
	assert_int_equal(ct_put(&E.ct, &kr, &vr, BPF_NOEXIST), 0);
	/* as a start finds them: the loader marks what nat_ct holds */
	env_maps(&E, &m);
	assert_int_equal(nat_maps_map_keyed(&m), 0);
	assert_int_equal(udpkeyed_fill(&m), 0);
	nat_maps_unmap_keyed(&m);
	CHECK(udp_keyed(5353), "nat_udp_keyed: port 5353 marked by the start's fill");

	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("the mapping's first flow to a taken reply tuple", &r, XDP_DROP);
	CHECK(env_ct_get(&E, A_CLIENT, A_DNS, 5353, 53, IPPROTO_UDP, &v) != 0,
	      "no entry of the refused flow");
	want = to_lan(rep, MAC_CLIENT2);
	want.dst = A_CLIENT2;
	want.dport = 6000;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("the remote's packet", &r, XDP_REDIRECT);
	expect_frame("the remote's packet: still the other flow's", &r, &want);
}

/*
 * A port chosen for one destination (the WAN's one port is another
 * endpoint's mapping: eim_full) must not take a lazy flow's reply tuple:
 * the second host's flow to the same remote endpoint finds no port and is
 * dropped, the remote's answer still reaches the first host. With another
 * remote the second host gets the port for that destination.
 */
static void test_udp_lazy_reply_port_for_destination(void **state)
{
	struct pk a = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			.proto = IPPROTO_UDP, .ttl = 64, .id = 0x3033, .sport = 5353, .dport = 53,
			.payload = dns_q, .plen = sizeof(dns_q) - 1 };
	struct pk b = a, b2, rep = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
				     .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4034, .sport = 53,
				     .dport = 30000, .payload = dns_q, .plen = sizeof(dns_q) - 3 };
	struct nat_stats st;
	struct pk want;
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30000, 30000, 1, 0), 0);
	xdp_pk(E.if_lan0, &a, &r, NULL);
	expect_xdp_ret("first host", &r, XDP_REDIRECT);
	CHECK_EQ(pk_get16(r.buf + 14 + 20), 30000, "first host's mapping: the WAN's one port");
	b.smac = MAC_CLIENT2;
	b.src = A_CLIENT2;
	b.sport = 6000;
	xdp_pk(E.if_lan0, &b, &r, NULL);
	expect_xdp_ret("second host, same remote endpoint", &r, XDP_DROP);
	assert_int_equal(env_stats(&E, &st), 0);
	CHECK_EQ(st.eim_full, 1, "eim_full: the second host has no mapping");
	CHECK_EQ(st.drop_no_port, 1, "drop_no_port: its only port would take the first flow's replies");

	want = to_lan(rep, MAC_CLIENT);
	want.dst = A_CLIENT;
	want.dport = 5353;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("the remote's answer", &r, XDP_REDIRECT);
	expect_frame("the remote's answer, to the first host", &r, &want);

	b2 = b;
	b2.dst = A_REMOTE;
	xdp_pk(E.if_lan0, &b2, &r, NULL);
	expect_xdp_ret("second host, another remote", &r, XDP_REDIRECT);
	CHECK_EQ(pk_get16(r.buf + 14 + 20), 30000, "second host: the port, for that remote only");
}

static void test_udp_zero_csum(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3003, .sport = 5353, .dport = 53,
			 .payload = dns_q, .plen = sizeof(dns_q) - 1, .udp_nocsum = true };
	struct pk rep = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
			  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4004, .sport = 53, .dport = 5353,
			  .payload = dns_q, .plen = 7, .udp_nocsum = true };
	struct pk want;
	struct res r;

	(void)state;
	want = to_wan0(in);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP no checksum LAN->WAN", &r, XDP_REDIRECT);
	expect_frame("UDP no checksum LAN->WAN (checksum stays 0)", &r, &want);
	CHECK_EQ(pk_get16(r.buf + 14 + 20 + 6), 0, "UDP checksum field");

	want = to_lan(rep, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("UDP no checksum WAN->LAN", &r, XDP_REDIRECT);
	expect_frame("UDP no checksum WAN->LAN (checksum stays 0)", &r, &want);
	CHECK_EQ(pk_get16(r.buf + 14 + 20 + 6), 0, "UDP checksum field");
}

/* Choose the last payload word so that the translated datagram's
 * checksum computes to 0 (which UDP must send as 0xffff). */
static void make_zero_landing(struct pk *out_pk, uint8_t *payload, size_t plen)
{
	uint8_t seg[PK_MAX];
	uint32_t sum;
	uint16_t fix;

	payload[plen - 2] = payload[plen - 1] = 0;
	out_pk->payload = payload;
	out_pk->plen = plen;
	out_pk->udp_nocsum = true;	/* build with a zero field, sum the rest */
	pk_l4(seg, out_pk);
	sum = ck_sum(ck_pseudo(out_pk->src, out_pk->dst, IPPROTO_UDP, (uint16_t)(8 + plen)), seg, 8 + plen);
	fix = (uint16_t)~ck_fold(sum);
	payload[plen - 2] = (uint8_t)(fix >> 8);
	payload[plen - 1] = (uint8_t)fix;
	out_pk->udp_nocsum = false;
}

static void test_udp_csum_lands_on_zero(void **state)
{
	uint8_t pl1[16] = "zero-landing-..", pl2[16] = "and-back-again.";
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3005, .sport = 6000, .dport = 53 };
	struct pk rep = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
			  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4005, .sport = 53, .dport = 6000 };
	struct pk want;
	uint8_t f[PK_MAX];
	struct res r;

	(void)state;
	/* LAN -> WAN */
	want = to_wan0(in);
	want.src = A_WAN0;
	make_zero_landing(&want, pl1, sizeof(pl1));
	in.payload = pl1;
	in.plen = sizeof(pl1);
	pk_frame(f, &want);
	CHECK_EQ(pk_get16(f + 14 + 20 + 6), 0xffff, "constructed output checksum (test self-check)");
	pk_frame(f, &in);
	CHECK(pk_get16(f + 14 + 20 + 6) != 0xffff && pk_get16(f + 14 + 20 + 6) != 0, "input checksum must be ordinary");
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP LAN->WAN checksum landing on 0", &r, XDP_REDIRECT);
	expect_frame("UDP LAN->WAN checksum landing on 0 (must be 0xffff)", &r, &want);
	CHECK_EQ(pk_get16(r.buf + 14 + 20 + 6), 0xffff, "UDP checksum field");

	/* WAN -> LAN */
	want = to_lan(rep, MAC_CLIENT);
	want.dst = A_CLIENT;
	make_zero_landing(&want, pl2, sizeof(pl2));
	rep.payload = pl2;
	rep.plen = sizeof(pl2);
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("UDP WAN->LAN checksum landing on 0", &r, XDP_REDIRECT);
	expect_frame("UDP WAN->LAN checksum landing on 0 (must be 0xffff)", &r, &want);
	CHECK_EQ(pk_get16(r.buf + 14 + 20 + 6), 0xffff, "UDP checksum field");
}

/* ============================================================ 5. ICMP echo */

static void test_icmp_echo(void **state)
{
	static const uint8_t ping[] = "abcdefghijklmnopqrstuvwabcdefghi";
	struct pk req1 = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_REMOTE,
			   .proto = IPPROTO_ICMP, .ttl = 64, .id = 0x5005, .type = 8, .icmp_id = 0x1234,
			   .icmp_seq = 1, .payload = ping, .plen = 32 };
	struct pk req2 = req1, want, rep;
	uint16_t id2;
	struct res r;

	(void)state;
	req2.src = A_CLIENT2;
	req2.smac = MAC_CLIENT2;
	req2.icmp_seq = 9;

	want = to_wan0(req1);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &req1, &r, NULL);
	expect_xdp_ret("echo request 1", &r, XDP_REDIRECT);
	expect_frame("echo request 1 (id kept)", &r, &want);

	xdp_pk(E.if_lan0, &req2, &r, NULL);
	expect_xdp_ret("echo request 2, same id", &r, XDP_REDIRECT);
	id2 = pk_get16(r.buf + 14 + 20 + 4);
	CHECK(id2 != 0x1234 && id2 >= 1024, "second host's id %u: want a translated id in 1024-65535", id2);
	want = to_wan0(req2);
	want.src = A_WAN0;
	want.icmp_id = id2;
	expect_frame("echo request 2 (id translated)", &r, &want);
	expect_ct("echo 2 orig", &(struct ct_want){
		.s = A_CLIENT2, .d = A_REMOTE, .sp = 0x1234, .dp = 0, .proto = IPPROTO_ICMP,
		.ts = A_WAN0, .td = A_REMOTE, .tsp = id2, .tdp = 0, .wan = E.if_wan0,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_MASQ, .state = NAT_CT_NEW,
		.packets = 1, .bytes = 60 });
	expect_ct("echo 2 reply", &(struct ct_want){
		.s = A_REMOTE, .d = A_WAN0, .sp = 0, .dp = id2, .proto = IPPROTO_ICMP,
		.ts = A_REMOTE, .td = A_CLIENT2, .tsp = 0, .tdp = 0x1234, .wan = E.if_wan0,
		.dir = NAT_DIR_REPLY, .kind = NAT_KIND_MASQ, .state = NAT_CT_NEW,
		.packets = 0, .bytes = 0 });

	/* replies */
	rep = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_REMOTE, .dst = A_WAN0,
			   .proto = IPPROTO_ICMP, .ttl = 58, .id = 0x6006, .type = 0, .icmp_id = id2,
			   .icmp_seq = 9, .payload = ping, .plen = 32 };
	want = to_lan(rep, MAC_CLIENT2);
	want.dst = A_CLIENT2;
	want.icmp_id = 0x1234;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("echo reply 2", &r, XDP_REDIRECT);
	expect_frame("echo reply 2 (id translated back)", &r, &want);
	CHECK_EQ(ct_state(A_CLIENT2, A_REMOTE, 0x1234, 0, IPPROTO_ICMP), NAT_CT_ESTABLISHED, "echo 2 state");

	rep.icmp_id = 0x1234;
	rep.icmp_seq = 1;
	want = to_lan(rep, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("echo reply 1", &r, XDP_REDIRECT);
	expect_frame("echo reply 1", &r, &want);
}

/* ============================================================ 6. forwards */

static void test_forward_tcp(void **state)
{
	struct pk syn = wan_tcp(A_GW, 40000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk sa = { .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_GW,
			 .proto = IPPROTO_TCP, .ttl = 64, .id = 0x7007, .frag = PK_IP_DF, .sport = 80,
			 .dport = 40000, .flags = PK_TCP_SYN | PK_TCP_ACK, .seq = 9000, .ack = 5001 };
	struct pk want;
	struct res r;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	want = to_lan(syn, MAC_SERVER);
	want.dst = A_SERVER;
	want.dport = 80;
	xdp_pk(E.if_wan0, &syn, &r, NULL);
	expect_xdp_ret("forwarded SYN", &r, XDP_REDIRECT);
	expect_frame("forwarded SYN", &r, &want);
	expect_ct("forward orig", &(struct ct_want){
		.s = A_GW, .d = A_WAN0, .sp = 40000, .dp = 8080, .proto = IPPROTO_TCP,
		.ts = A_GW, .td = A_SERVER, .tsp = 40000, .tdp = 80, .wan = E.if_wan0,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_FORWARD, .state = NAT_CT_SYN_SENT,
		.packets = 1, .bytes = 40 });
	expect_ct("forward reply", &(struct ct_want){
		.s = A_SERVER, .d = A_GW, .sp = 80, .dp = 40000, .proto = IPPROTO_TCP,
		.ts = A_WAN0, .td = A_GW, .tsp = 8080, .tdp = 40000, .wan = E.if_wan0,
		.dir = NAT_DIR_REPLY, .kind = NAT_KIND_FORWARD, .state = NAT_CT_SYN_SENT,
		.packets = 0, .bytes = 0 });

	want = to_wan0(sa);
	want.src = A_WAN0;
	want.sport = 8080;
	xdp_pk(E.if_lan0, &sa, &r, NULL);
	expect_xdp_ret("server's SYN-ACK", &r, XDP_REDIRECT);
	expect_frame("server's SYN-ACK (source 198.51.100.1:8080)", &r, &want);
	CHECK_EQ(ct_state(A_GW, A_WAN0, 40000, 8080, IPPROTO_TCP), NAT_CT_SYN_RECV,
		 "state after the SYN-ACK (unassured)");
	syn.flags = PK_TCP_ACK;	/* acknowledging the SYN-ACK: */
	syn.seq = 5001;
	syn.ack = 9001;
	xdp_pk(E.if_wan0, &syn, &r, NULL);
	expect_xdp_ret("the client's ACK", &r, XDP_REDIRECT);
	CHECK_EQ(ct_state(A_GW, A_WAN0, 40000, 8080, IPPROTO_TCP), NAT_CT_ESTABLISHED,
		 "state after the handshake");
}

static void test_forward_range_shift(void **state)
{
	static const uint16_t ports[] = { 8000, 8042, 8099 };
	struct pk syn, want, sa;
	struct res r;
	uint8_t in[PK_MAX];
	size_t n;

	(void)state;
	for (uint32_t p = 8000; p <= 8099; p++)	/* as the controller: one entry per port */
		assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, (uint16_t)p, A_SERVER,
					     (uint16_t)(p - 8000 + 9000)), 0);
	for (size_t i = 0; i < 3; i++) {
		char what[64];

		snprintf(what, sizeof(what), "SYN to port %u", ports[i]);
		syn = wan_tcp(A_GW, (uint16_t)(41000 + i), A_WAN0, ports[i], PK_TCP_SYN);
		want = to_lan(syn, MAC_SERVER);
		want.dst = A_SERVER;
		want.dport = (uint16_t)(ports[i] - 8000 + 9000);
		xdp_pk(E.if_wan0, &syn, &r, NULL);
		expect_xdp_ret(what, &r, XDP_REDIRECT);
		expect_frame(what, &r, &want);
	}
	/* reply from 9042 comes back from 8042 */
	sa = (struct pk){ .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_GW,
			  .proto = IPPROTO_TCP, .ttl = 64, .id = 0x7008, .frag = PK_IP_DF, .sport = 9042,
			  .dport = 41001, .flags = PK_TCP_SYN | PK_TCP_ACK, .seq = 9000, .ack = 5001 };
	want = to_wan0(sa);
	want.src = A_WAN0;
	want.sport = 8042;
	xdp_pk(E.if_lan0, &sa, &r, NULL);
	expect_xdp_ret("reply from 9042", &r, XDP_REDIRECT);
	expect_frame("reply from 9042", &r, &want);

	/* just outside the range: not forwarded, passed untouched */
	syn = wan_tcp(A_GW, 41010, A_WAN0, 8100, PK_TCP_SYN);
	n = xdp_pk(E.if_wan0, &syn, &r, in);
	expect_xdp_ret("SYN to 8100", &r, XDP_PASS);
	expect_bytes("SYN to 8100 (untouched)", &r, in, n);
	CHECK_EQ(ct_count(), 6, "nat_ct entries");
}

/* ============================================================ 7. hairpin */

static void test_hairpin(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 45000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk sa = { .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_WAN0,
			 .proto = IPPROTO_TCP, .ttl = 64, .id = 0x7009, .frag = PK_IP_DF, .sport = 80,
			 .dport = 45000, .flags = PK_TCP_SYN | PK_TCP_ACK, .seq = 9000, .ack = 1001 };
	struct pk want;
	struct res r;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	want = to_lan(syn, MAC_SERVER);
	want.src = A_WAN0;
	want.dst = A_SERVER;
	want.dport = 80;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("hairpin SYN", &r, XDP_REDIRECT);
	expect_frame("hairpin SYN (198.51.100.1:45000 -> 192.168.0.254:80)", &r, &want);
	expect_ct("hairpin orig", &(struct ct_want){
		.s = A_CLIENT, .d = A_WAN0, .sp = 45000, .dp = 8080, .proto = IPPROTO_TCP,
		.ts = A_WAN0, .td = A_SERVER, .tsp = 45000, .tdp = 80, .wan = E.if_wan0,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_HAIRPIN, .state = NAT_CT_SYN_SENT,
		.packets = 1, .bytes = 40 });
	expect_ct("hairpin reply", &(struct ct_want){
		.s = A_SERVER, .d = A_WAN0, .sp = 80, .dp = 45000, .proto = IPPROTO_TCP,
		.ts = A_WAN0, .td = A_CLIENT, .tsp = 8080, .tdp = 45000, .wan = E.if_wan0,
		.dir = NAT_DIR_REPLY, .kind = NAT_KIND_HAIRPIN, .state = NAT_CT_SYN_SENT,
		.packets = 0, .bytes = 0 });

	want = to_lan(sa, MAC_CLIENT);
	want.src = A_WAN0;
	want.sport = 8080;
	want.dst = A_CLIENT;
	xdp_pk(E.if_lan0, &sa, &r, NULL);
	expect_xdp_ret("hairpin SYN-ACK", &r, XDP_REDIRECT);
	expect_frame("hairpin SYN-ACK (198.51.100.1:8080 -> 192.168.0.10:45000)", &r, &want);
	CHECK_EQ(ct_state(A_CLIENT, A_WAN0, 45000, 8080, IPPROTO_TCP), NAT_CT_SYN_RECV,
		 "state after the SYN-ACK");
	syn.flags = PK_TCP_ACK;	/* acknowledging the SYN-ACK */
	syn.seq = 1001;
	syn.ack = 9001;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("hairpin: the client's ACK", &r, XDP_REDIRECT);
	CHECK_EQ(ct_state(A_CLIENT, A_WAN0, 45000, 8080, IPPROTO_TCP), NAT_CT_ESTABLISHED,
		 "state after the handshake");
}

static void test_hairpin_kernel_path(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 45000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk sa = { .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_WAN0,
			 .proto = IPPROTO_TCP, .ttl = 64, .id = 0x700a, .frag = PK_IP_DF, .sport = 80,
			 .dport = 45000, .flags = PK_TCP_SYN | PK_TCP_ACK, .seq = 9000, .ack = 1001 };
	struct pk half, kern, want;
	struct nat_stats s;
	struct res r;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	assert_int_equal(env_sh("ip neigh del 192.168.0.254 dev lan0 && ip neigh del 192.168.0.10 dev lan0"), 0);

	/* XDP: destination half only, then the kernel */
	half = syn;
	half.dst = A_SERVER;
	half.dport = 80;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("hairpin SYN, no neighbour", &r, XDP_PASS);
	expect_frame("hairpin SYN, no neighbour (destination half only)", &r, &half);

	/* tc egress of lan0: the source half, on the packet the kernel sends */
	kern = to_lan(half, MAC_SERVER);
	want = kern;
	want.src = A_WAN0;
	tc_pk(E.if_lan0, &kern, &r, NULL);
	expect_tc_ret("hairpin SYN on tc egress lan0", &r, TC_ACT_OK);
	expect_frame("hairpin SYN on tc egress lan0 (source half)", &r, &want);

	/* the server's reply takes the same way */
	half = sa;
	half.dst = A_CLIENT;
	xdp_pk(E.if_lan0, &sa, &r, NULL);
	expect_xdp_ret("hairpin SYN-ACK, no neighbour", &r, XDP_PASS);
	expect_frame("hairpin SYN-ACK, no neighbour (destination half only)", &r, &half);
	kern = to_lan(half, MAC_CLIENT);
	want = kern;
	want.src = A_WAN0;
	want.sport = 8080;
	tc_pk(E.if_lan0, &kern, &r, NULL);
	expect_tc_ret("hairpin SYN-ACK on tc egress lan0", &r, TC_ACT_OK);
	expect_frame("hairpin SYN-ACK on tc egress lan0 (source half)", &r, &want);

	s = stats();
	CHECK_EQ(s.passed_to_kernel, 2, "passed_to_kernel");
	CHECK_EQ(s.tc_translated, 2, "tc_translated");
	CHECK_EQ(s.xdp_forwarded, 0, "xdp_forwarded");
	CHECK_EQ(s.flows_created, 1, "flows_created");
	CHECK_EQ(ct_state(A_CLIENT, A_WAN0, 45000, 8080, IPPROTO_TCP), NAT_CT_SYN_RECV, "state");
}

/* An FTP ALG expectation of a hairpin control flow (NAT_EXPECT_HAIRPIN):
 * the data connection comes from the LAN to the WAN address and is sent
 * to what the expectation names, both halves translated, once; a WAN
 * packet claiming the same source does not take it. */
static void test_hairpin_expectation(void **state)
{
	struct nat_maps m;
	struct nat_expect_key k = { .raddr = htonl(A_CLIENT), .waddr = htonl(A_WAN0),
				    .wport = htons(50000), .proto = IPPROTO_TCP };
	struct nat_expect_value v = { .to_addr = htonl(A_SERVER), .to_port = htons(50001),
				      .dir = NAT_EXPECT_HAIRPIN, .expires = ~0ULL };
	struct pk spoof = wan_tcp(A_CLIENT, 45002, A_WAN0, 50000, PK_TCP_SYN);
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 45002, A_WAN0, 50000, PK_TCP_SYN);
	struct nat_expect_value got;
	struct pk want;
	struct res r;

	int fd;

	(void)state;
	env_maps(&E, &m);
	fd = m.expect;
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	xdp_pk(E.if_wan0, &spoof, &r, NULL);
	CHECK_EQ(stats().expect_used, 0, "a WAN packet does not take a hairpin expectation");
	CHECK_EQ(bpf_map_lookup_elem(fd, &k, &got), 0, "the expectation is still there");

	want = to_lan(syn, MAC_SERVER);
	want.src = A_WAN0;
	want.dst = A_SERVER;
	want.dport = 50001;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("hairpin data SYN", &r, XDP_REDIRECT);
	expect_frame("hairpin data SYN (198.51.100.1:45002 -> 192.168.0.254:50001)", &r, &want);
	CHECK_EQ(stats().expect_used, 1, "expect_used");
	CHECK_EQ(bpf_map_lookup_elem(fd, &k, &got) != 0, 1, "the expectation is used up");
	expect_ct("hairpin data orig", &(struct ct_want){
		.s = A_CLIENT, .d = A_WAN0, .sp = 45002, .dp = 50000, .proto = IPPROTO_TCP,
		.ts = A_WAN0, .td = A_SERVER, .tsp = 45002, .tdp = 50001, .wan = E.if_wan0,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_HAIRPIN, .state = NAT_CT_SYN_SENT,
		.packets = 1, .bytes = 40 });

	/* and one of the WAN (NAT_EXPECT_IN) is not taken from the LAN */
	k.wport = htons(50002);
	v.dir = NAT_EXPECT_IN;
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	syn.sport = 45003;
	syn.dport = 50002;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	CHECK_EQ(stats().expect_used, 1, "a LAN packet does not take a WAN expectation");
	CHECK_EQ(bpf_map_lookup_elem(fd, &k, &got), 0, "the WAN expectation is still there");
}

/* ============================================================ 8. kernel path */

/* XDP passes the SYN unchanged; tc egress of wan0 translates what the
 * kernel sends. */
static void kernel_path_syn(const struct pk *syn)
{
	struct pk kern, want;
	uint8_t in[PK_MAX];
	struct res r;
	size_t n;

	n = xdp_pk(E.if_lan0, syn, &r, in);
	expect_xdp_ret("SYN on lan0", &r, XDP_PASS);
	expect_bytes("SYN on lan0 (passed UNCHANGED)", &r, in, n);

	kern = to_wan0(*syn);
	want = kern;
	want.src = A_WAN0;
	tc_pk(E.if_wan0, &kern, &r, NULL);
	expect_tc_ret("SYN on tc egress wan0", &r, TC_ACT_OK);
	expect_frame("SYN on tc egress wan0 (source 198.51.100.1)", &r, &want);
	CHECK_EQ(stats().tc_translated, 1, "tc_translated");
	CHECK_EQ(stats().xdp_forwarded, 0, "xdp_forwarded");
}

static void test_kernel_path_no_neigh(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);

	(void)state;
	assert_int_equal(env_sh("ip neigh del 198.51.100.2 dev wan0"), 0);
	kernel_path_syn(&syn);
	CHECK_EQ(stats().passed_to_kernel, 1, "passed_to_kernel");
	CHECK_EQ(stats().flows_created, 1, "flows_created");
	CHECK_EQ(ct_count(), 2, "nat_ct entries");
}

static void test_kernel_path_ip_options(void **state)
{
	static const uint8_t opts[4] = { 0x01, 0x01, 0x01, 0x00 };	/* NOP NOP NOP EOL */
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);

	(void)state;
	syn.opts = opts;
	syn.optlen = 4;
	kernel_path_syn(&syn);
}

static void test_kernel_path_no_fastpath(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);

	(void)state;
	assert_int_equal(env_set_flags(&E, NAT_CFG_F_NO_FASTPATH), 0);
	kernel_path_syn(&syn);
}

static void test_kernel_path_ttl1(void **state)
{
	struct pk ack = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_ACK);
	uint8_t in[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	ack.ttl = 1;
	n = xdp_pk(E.if_lan0, &ack, &r, in);
	expect_xdp_ret("TTL=1 packet of a flow", &r, XDP_PASS);
	expect_bytes("TTL=1 packet of a flow (passed UNCHANGED)", &r, in, n);
	CHECK_EQ(stats().xdp_forwarded, 1, "xdp_forwarded");

	/* a new flow with TTL=1 is not even created */
	ack = lan_tcp(A_CLIENT, MAC_CLIENT, 40001, A_REMOTE, 443, PK_TCP_SYN);
	ack.ttl = 1;
	n = xdp_pk(E.if_lan0, &ack, &r, in);
	expect_xdp_ret("TTL=1 SYN", &r, XDP_PASS);
	expect_bytes("TTL=1 SYN (passed UNCHANGED)", &r, in, n);
	CHECK_EQ(ct_count(), 2, "nat_ct entries");
}

/* ============================================================ 8b. generic mode */

/* nat_iface.flags of ifindex |= set, as the controller enters the attach
 * mode of an interface. */
static void iface_add_flags(int ifindex, uint8_t set)
{
	struct nat_iface v;
	__u32 k = (__u32)ifindex;

	assert_int_equal(bpf_map_lookup_elem(E.m_ifaces, &k, &v), 0);
	v.flags |= set;
	assert_int_equal(bpf_map_update_elem(E.m_ifaces, &k, &v, BPF_ANY), 0);
}

/* A bridge as the LAN (generic XDP: no ndo_xdp_xmit) behind a native WAN:
 * the WAN's program must not redirect into it (the kernel would drop the
 * frame), so replies take the kernel path with their destination
 * translated; the LAN's own redirects to the WAN stay in XDP, and once the
 * WAN is generic too its redirects into the LAN do as well. */
static void test_generic_lan_native_wan(void **state)
{
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk data = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_ACK);
	struct pk half = sa, want;
	struct nat_ct_value v;
	struct res r;

	(void)state;
	iface_add_flags(E.if_lan0, NAT_IFACE_F_XDP_GENERIC);
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);	/* generic -> native: redirected */

	half.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &sa, &r, NULL);
	expect_xdp_ret("SYN-ACK native wan0 -> generic lan0", &r, XDP_PASS);
	expect_frame("SYN-ACK native wan0 -> generic lan0 (destination translated only)", &r, &half);
	CHECK_EQ(stats().passed_to_kernel, 1, "passed_to_kernel");
	assert_int_equal(env_ct_get(&E, A_REMOTE, A_WAN0, 443, 40000, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.nh.slot, 0, "no next hop cached for the kernel path");
	client_ack();
	expect_states("after the handshake", NAT_CT_ESTABLISHED);

	iface_add_flags(E.if_wan0, NAT_IFACE_F_XDP_GENERIC);
	want = to_lan(data, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &data, &r, NULL);
	expect_xdp_ret("ACK generic wan0 -> generic lan0", &r, XDP_REDIRECT);
	expect_frame("ACK generic wan0 -> generic lan0", &r, &want);
	CHECK_EQ(stats().passed_to_kernel, 1, "passed_to_kernel");
	CHECK_EQ(stats().xdp_forwarded, 3, "xdp_forwarded");
}

/* A bridge as the WAN behind a native LAN: new flows from the LAN take the
 * kernel path (untouched; tc egress of the WAN translates them) and the
 * WAN's redirects into the native LAN stay in XDP. */
static void test_generic_wan_native_lan(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk want = to_lan(sa, MAC_CLIENT);
	struct res r;

	(void)state;
	iface_add_flags(E.if_wan0, NAT_IFACE_F_XDP_GENERIC);
	kernel_path_syn(&syn);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &sa, &r, NULL);
	expect_xdp_ret("SYN-ACK generic wan0 -> native lan0", &r, XDP_REDIRECT);
	expect_frame("SYN-ACK generic wan0 -> native lan0", &r, &want);
	CHECK_EQ(stats().passed_to_kernel, 1, "passed_to_kernel");
	CHECK_EQ(stats().xdp_forwarded, 1, "xdp_forwarded");
}

static void test_tc_no_flow_drop(void **state)
{
	struct pk ack = to_wan0(lan_tcp(A_CLIENT, MAC_CLIENT, 41000, A_REMOTE, 443, PK_TCP_ACK));
	struct res r;

	(void)state;
	/* Regression (bug in f80b09b, fixed in 75e51d0): src_is_lan() asked
	 * the FIB with BPF_FIB_LOOKUP_OUTPUT and .ifindex = the WAN, i.e.
	 * flowi4_oif = WAN; every nexthop not on the WAN was skipped, the LAN
	 * address "routed" via the WAN default route and left unchanged. */
	tc_pk(E.if_wan0, &ack, &r, NULL);
	expect_tc_ret("non-SYN without a flow on tc egress wan0", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_no_flow, 1, "drop_no_flow");
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
}

static void test_tc_router_own(void **state)
{
	struct pk own = { .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_WAN0, .dst = A_REMOTE,
			  .proto = IPPROTO_TCP, .ttl = 64, .id = 0x8008, .frag = PK_IP_DF, .sport = 33333,
			  .dport = 443, .flags = PK_TCP_SYN, .seq = 77 };
	struct pk own_udp = { .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_WAN0, .dst = A_DNS,
			      .proto = IPPROTO_UDP, .ttl = 64, .id = 0x8009, .sport = 33334, .dport = 53,
			      .payload = dns_q, .plen = 8 };
	uint8_t in[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	n = tc_pk(E.if_wan0, &own, &r, in);
	expect_tc_ret("router's own SYN", &r, TC_ACT_OK);
	expect_bytes("router's own SYN (untouched)", &r, in, n);
	n = tc_pk(E.if_wan0, &own_udp, &r, in);
	expect_tc_ret("router's own UDP", &r, TC_ACT_OK);
	expect_bytes("router's own UDP (untouched)", &r, in, n);
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
	CHECK_EQ(stats().tc_translated, 0, "tc_translated");
}

/* ============================================================ 9. ICMP errors */

static const uint8_t udp_pl[] = "query-payload-16";

static void test_icmp_err_time_exceeded_udp(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 2, .id = 0x2222, .sport = 5353, .dport = 53,
			 .payload = udp_pl, .plen = 16 };
	struct pk sent, inner_out, err, want;
	uint8_t inner[PK_MAX], inner2[PK_MAX];
	size_t ni, ni2;
	struct res r;

	(void)state;
	/* a one-port range makes the translated port deterministic */
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30000, 30000, 1, 0), 0);
	sent = to_wan0(in);
	sent.src = A_WAN0;
	sent.sport = 30000;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP out", &r, XDP_REDIRECT);
	expect_frame("UDP out", &r, &sent);

	/* 203.0.113.9 sees it with TTL 1 and sends time exceeded */
	inner_out = sent;
	inner_out.ttl = 1;
	ni = pk_ip(inner, &inner_out);
	err = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_ROUTER9, .dst = A_WAN0,
			   .proto = IPPROTO_ICMP, .ttl = 250, .id = 0x9009, .type = 11, .code = 0,
			   .payload = inner, .plen = ni };
	/* what the client must see: its own datagram */
	inner_out = in;
	inner_out.ttl = 1;
	ni2 = pk_ip(inner2, &inner_out);
	want = to_lan(err, MAC_CLIENT);
	want.dst = A_CLIENT;
	want.payload = inner2;
	want.plen = ni2;
	xdp_pk(E.if_wan0, &err, &r, NULL);
	expect_xdp_ret("time exceeded", &r, XDP_REDIRECT);
	expect_frame("time exceeded (outer dst, inner src addr/port, inner IP+UDP csum, ICMP csum)", &r, &want);
	CHECK_EQ(stats().icmp_errors_translated, 1, "icmp_errors_translated");

	/* a router error quoting only IP header + 8 bytes, as RFC 792 allows */
	inner_out = sent;
	inner_out.ttl = 1;
	ni = pk_ip(inner, &inner_out);
	err.payload = inner;
	err.plen = 28;
	inner_out = in;
	inner_out.ttl = 1;
	pk_ip(inner2, &inner_out);
	want.payload = inner2;
	want.plen = 28;
	xdp_pk(E.if_wan0, &err, &r, NULL);
	expect_xdp_ret("time exceeded (28-byte quote)", &r, XDP_REDIRECT);
	expect_frame("time exceeded (28-byte quote)", &r, &want);
}

static void fwd_udp_flow(struct pk *arrived)
{
	struct pk in = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_REMOTE, .dst = A_WAN0,
			 .proto = IPPROTO_UDP, .ttl = 60, .id = 0xa00a, .sport = 6000, .dport = 5000,
			 .payload = udp_pl, .plen = 16 };
	struct pk want;
	struct res r;

	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_UDP, 5000, A_CLIENT, 5000), 0);
	want = to_lan(in, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &in, &r, NULL);
	expect_xdp_ret("forwarded UDP", &r, XDP_REDIRECT);
	expect_frame("forwarded UDP", &r, &want);
	*arrived = want;
}

static void test_icmp_err_port_unreach_fwd_tc(void **state)
{
	struct pk arrived, err, want, orig;
	uint8_t q[PK_MAX], q2[PK_MAX];
	size_t nq, nq2;
	struct res r;

	(void)state;
	fwd_udp_flow(&arrived);
	nq = pk_ip(q, &arrived);
	/* the client's port unreachable, as the kernel forwards it to wan0 */
	err = (struct pk){ .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_CLIENT, .dst = A_REMOTE,
			   .proto = IPPROTO_ICMP, .ttl = 63, .id = 0xb00b, .type = 3, .code = 3,
			   .payload = q, .plen = nq };
	orig = arrived;		/* the quoted datagram as the remote sent it */
	orig.dst = A_WAN0;
	orig.dport = 5000;
	nq2 = pk_ip(q2, &orig);
	want = err;
	want.src = A_WAN0;
	want.payload = q2;
	want.plen = nq2;
	tc_pk(E.if_wan0, &err, &r, NULL);
	expect_tc_ret("port unreachable on tc egress wan0", &r, TC_ACT_OK);
	expect_frame("port unreachable on tc egress wan0 (outer src 198.51.100.1, quote translated)", &r, &want);
	CHECK_EQ(stats().icmp_errors_translated, 1, "icmp_errors_translated");
}

static void test_icmp_err_port_unreach_fwd_xdp(void **state)
{
	struct pk arrived, err, want, orig;
	uint8_t q[PK_MAX], q2[PK_MAX];
	size_t nq, nq2;
	struct res r;

	(void)state;
	fwd_udp_flow(&arrived);
	nq = pk_ip(q, &arrived);
	err = (struct pk){ .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_REMOTE,
			   .proto = IPPROTO_ICMP, .ttl = 64, .id = 0xb00c, .type = 3, .code = 3,
			   .payload = q, .plen = nq };
	orig = arrived;
	orig.dst = A_WAN0;
	nq2 = pk_ip(q2, &orig);
	want = to_wan0(err);
	want.src = A_WAN0;
	want.payload = q2;
	want.plen = nq2;
	xdp_pk(E.if_lan0, &err, &r, NULL);
	expect_xdp_ret("port unreachable on XDP lan0", &r, XDP_REDIRECT);
	expect_frame("port unreachable on XDP lan0", &r, &want);
}

static void test_icmp_err_about_echo(void **state)
{
	static const uint8_t ping[] = "0123456789abcdef";
	struct pk req = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_REMOTE,
			  .proto = IPPROTO_ICMP, .ttl = 2, .id = 0xc00c, .type = 8, .icmp_id = 0x4242,
			  .icmp_seq = 7, .payload = ping, .plen = 16 };
	struct pk sent, q, err, want;
	uint8_t qb[PK_MAX], qb2[PK_MAX];
	size_t nq, nq2;
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30001, 30001, 1, 0), 0);
	sent = to_wan0(req);
	sent.src = A_WAN0;
	sent.icmp_id = 30001;
	xdp_pk(E.if_lan0, &req, &r, NULL);
	expect_xdp_ret("echo request", &r, XDP_REDIRECT);
	expect_frame("echo request (id 30001)", &r, &sent);

	q = sent;
	q.ttl = 1;
	nq = pk_ip(qb, &q);
	err = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_ROUTER9, .dst = A_WAN0,
			   .proto = IPPROTO_ICMP, .ttl = 250, .id = 0xd00d, .type = 11, .code = 0,
			   .payload = qb, .plen = nq };
	q = req;
	q.ttl = 1;
	nq2 = pk_ip(qb2, &q);
	want = to_lan(err, MAC_CLIENT);
	want.dst = A_CLIENT;
	want.payload = qb2;
	want.plen = nq2;
	xdp_pk(E.if_wan0, &err, &r, NULL);
	expect_xdp_ret("time exceeded about echo", &r, XDP_REDIRECT);
	expect_frame("time exceeded about echo (inner id 0x4242, inner ICMP csum)", &r, &want);
}

/* ============================================================ 10. fragments */

static void test_fragments_udp(void **state)
{
	uint8_t pl[100], seg[PK_MAX], segw[PK_MAX], f[PK_MAX], w[PK_MAX], ip[PK_MAX], re[PK_MAX];
	struct pk d = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			.proto = IPPROTO_UDP, .ttl = 64, .id = 0x7777, .sport = 7000, .dport = 53 };
	struct pk dw, fp;
	struct res r1, r2;
	struct nat_stats s;
	size_t nseg, n, nip;

	(void)state;
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	d.payload = pl;
	d.plen = sizeof(pl);
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 31000, 31000, 1, 0), 0);
	nseg = pk_l4(seg, &d);			/* 108 bytes: 56 + 52 */
	dw = to_wan0(d);
	dw.src = A_WAN0;
	dw.sport = 31000;
	pk_l4(segw, &dw);

	/* first fragment */
	fp = d;
	fp.frag = PK_IP_MF;
	nip = pk_ip_wrap(ip, &fp, seg, 56);
	n = pk_eth_wrap(f, &fp, ip, nip);
	xdp_raw(E.if_lan0, f, n, &r1);
	expect_xdp_ret("first fragment", &r1, XDP_REDIRECT);
	fp = dw;
	fp.frag = PK_IP_MF;
	nip = pk_ip_wrap(ip, &fp, segw, 56);
	n = pk_eth_wrap(w, &fp, ip, nip);
	expect_csums("first fragment", &r1);
	expect_bytes("first fragment (ports + UDP checksum)", &r1, w, n);
	CHECK_EQ(frag_count(), 1, "nat_frag entries");

	/* second fragment */
	fp = d;
	fp.frag = 56 / 8;
	nip = pk_ip_wrap(ip, &fp, seg + 56, nseg - 56);
	n = pk_eth_wrap(f, &fp, ip, nip);
	xdp_raw(E.if_lan0, f, n, &r2);
	expect_xdp_ret("second fragment", &r2, XDP_REDIRECT);
	fp = dw;
	fp.frag = 56 / 8;
	nip = pk_ip_wrap(ip, &fp, segw + 56, nseg - 56);
	n = pk_eth_wrap(w, &fp, ip, nip);
	expect_csums("second fragment", &r2);
	expect_bytes("second fragment (addresses from nat_frag)", &r2, w, n);

	/* reassemble what came out and check the UDP checksum over it all */
	CHECK(r1.len == 14 + 20 + 56 && r2.len == 14 + 20 + nseg - 56, "fragment lengths %zu %zu", r1.len, r2.len);
	memcpy(re, r1.buf + 34, 56);
	memcpy(re + 56, r2.buf + 34, nseg - 56);
	CHECK(ck_verify_udp(pk_get32(r1.buf + 26), pk_get32(r1.buf + 30), re, nseg) == 0,
	      "UDP checksum of the reassembled datagram is wrong (field 0x%04x)", pk_get16(re + 6));
	CHECK(pk_get32(r2.buf + 26) == A_WAN0, "second fragment source");
	s = stats();
	CHECK_EQ(s.fragments_translated, 2, "fragments_translated");
	CHECK_EQ(s.xdp_forwarded, 2, "xdp_forwarded");
}

static void test_fragment_unknown(void **state)
{
	uint8_t pl[40], seg[PK_MAX], f[PK_MAX], ip[PK_MAX];
	struct pk fp = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x7778, .frag = 7 };
	struct res r;
	size_t n, nip;

	(void)state;
	memset(pl, 0x5a, sizeof(pl));
	memcpy(seg, pl, sizeof(pl));
	nip = pk_ip_wrap(ip, &fp, seg, sizeof(pl));
	n = pk_eth_wrap(f, &fp, ip, nip);
	xdp_raw(E.if_lan0, f, n, &r);
	expect_xdp_ret("unknown later fragment on XDP lan0", &r, XDP_PASS);
	expect_bytes("unknown later fragment on XDP lan0 (untouched)", &r, f, n);

	fp = to_wan0(fp);
	nip = pk_ip_wrap(ip, &fp, seg, sizeof(pl));
	n = pk_eth_wrap(f, &fp, ip, nip);
	/* Regression (bug in f80b09b, fixed in 75e51d0): src_is_lan() asked
	 * the FIB with BPF_FIB_LOOKUP_OUTPUT and .ifindex = the WAN, i.e.
	 * flowi4_oif = WAN; every nexthop not on the WAN was skipped, the LAN
	 * address "routed" via the WAN default route and left unchanged. */
	tc_raw(E.if_wan0, f, n, &r);
	expect_tc_ret("unknown later fragment on tc egress wan0", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_frag_unknown, 1, "drop_frag_unknown");
	CHECK_EQ(stats().drop_no_flow, 0, "drop_no_flow");
}

/* ============================================================ 11. malformed */

enum mal {
	MAL_IHL_LT5, MAL_IHL_BEYOND, MAL_TOTLEN_GT_FRAME, MAL_TOTLEN_LT_IHL, MAL_TCP_DOFF,
	MAL_TCP_TRUNC, MAL_UDP_LEN_LT8, MAL_UDP_LEN_GT, MAL_ICMP_ERR_TRUNC_IP, MAL_ICMP_ERR_TRUNC_L4,
};

static void fix_ipcsum(uint8_t *f)
{
	size_t hl = (size_t)(f[14] & 15) * 4;

	if (hl < 20)
		hl = 20;
	f[24] = f[25] = 0;
	uint16_t c = ck_inet(f + 14, hl);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
}

static void run_malformed(enum mal m)
{
	struct pk udp = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			  .proto = IPPROTO_UDP, .ttl = 64, .id = 0xe00e, .sport = 5353, .dport = 53,
			  .payload = udp_pl, .plen = 16 };
	struct pk tcp = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk icmp = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_ROUTER9, .dst = A_WAN0,
			   .proto = IPPROTO_ICMP, .ttl = 250, .id = 0xe00f, .type = 3, .code = 1 };
	uint8_t f[PK_MAX], q[PK_MAX];
	struct pk qp = udp;
	int ifx = E.if_lan0;
	size_t n = 0;
	struct res r;
	struct nat_stats s;

	switch (m) {
	case MAL_IHL_LT5:
		n = pk_frame(f, &udp);
		f[14] = 0x44;
		fix_ipcsum(f);
		break;
	case MAL_IHL_BEYOND:
		udp.plen = 0;	/* 14 + 28 byte frame, IHL says 60 */
		n = pk_frame(f, &udp);
		f[14] = 0x4f;
		break;
	case MAL_TOTLEN_GT_FRAME:
		n = pk_frame(f, &udp);
		f[16] = 0x01;	/* 256 + ... > 44 */
		fix_ipcsum(f);
		break;
	case MAL_TOTLEN_LT_IHL:
		n = pk_frame(f, &udp);
		f[16] = 0;
		f[17] = 16;
		fix_ipcsum(f);
		break;
	case MAL_TCP_DOFF:
		n = pk_frame(f, &tcp);
		f[34 + 12] = 4 << 4;
		break;
	case MAL_TCP_TRUNC:
		n = pk_frame(f, &tcp) - 8;	/* 12 bytes of TCP header */
		f[16] = 0;
		f[17] = 32;
		fix_ipcsum(f);
		break;
	case MAL_UDP_LEN_LT8:
		n = pk_frame(f, &udp);
		f[34 + 4] = 0;
		f[34 + 5] = 6;
		break;
	case MAL_UDP_LEN_GT:
		n = pk_frame(f, &udp);
		f[34 + 4] = 0;
		f[34 + 5] = 200;
		break;
	case MAL_ICMP_ERR_TRUNC_IP:
		qp.src = A_WAN0;
		pk_ip(q, &qp);
		icmp.payload = q;
		icmp.plen = 12;		/* inner IP header cut at 12 bytes */
		n = pk_frame(f, &icmp);
		ifx = E.if_wan0;
		break;
	case MAL_ICMP_ERR_TRUNC_L4:
		qp.src = A_WAN0;
		pk_ip(q, &qp);
		icmp.payload = q;
		icmp.plen = 24;		/* inner IP header + 4 bytes of UDP */
		n = pk_frame(f, &icmp);
		ifx = E.if_wan0;
		break;
	}
	xdp_raw(ifx, f, n, &r);
	expect_xdp_ret("malformed packet", &r, XDP_DROP);
	s = stats();
	CHECK_EQ(s.drop_malformed, 1, "drop_malformed");
	CHECK_EQ(s.flows_created, 0, "flows_created");
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
	CHECK_EQ(frag_count(), 0, "nat_frag entries");
}

#define MAL_TEST(name, kind) static void name(void **state) { (void)state; run_malformed(kind); }
MAL_TEST(test_malformed_ihl_lt5, MAL_IHL_LT5)
MAL_TEST(test_malformed_ihl_beyond_packet, MAL_IHL_BEYOND)
MAL_TEST(test_malformed_totlen_gt_frame, MAL_TOTLEN_GT_FRAME)
MAL_TEST(test_malformed_totlen_lt_ihl, MAL_TOTLEN_LT_IHL)
MAL_TEST(test_malformed_tcp_doff_lt5, MAL_TCP_DOFF)
MAL_TEST(test_malformed_tcp_truncated, MAL_TCP_TRUNC)
MAL_TEST(test_malformed_udp_len_lt8, MAL_UDP_LEN_LT8)
MAL_TEST(test_malformed_udp_len_gt_ip, MAL_UDP_LEN_GT)
MAL_TEST(test_malformed_icmp_err_trunc_inner_ip, MAL_ICMP_ERR_TRUNC_IP)
MAL_TEST(test_malformed_icmp_err_trunc_inner_l4, MAL_ICMP_ERR_TRUNC_L4)

static void test_not_ipv4(void **state)
{
	uint8_t v6[14 + 40 + 8], arp[14 + 28];
	struct pk e6 = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .ethertype = 0x86dd };
	struct pk ea = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .ethertype = 0x0806 };
	uint8_t l3[64];
	struct res r;
	struct nat_stats s;

	(void)state;
	memset(l3, 0, sizeof(l3));
	l3[0] = 0x60;
	l3[5] = 8;	/* payload length */
	l3[6] = 17;	/* UDP */
	l3[7] = 64;
	l3[8] = 0xfe; l3[9] = 0x80; l3[23] = 0x0a;
	l3[24] = 0xfe; l3[25] = 0x80; l3[39] = 0x01;
	pk_eth_wrap(v6, &e6, l3, 48);
	xdp_raw(E.if_lan0, v6, sizeof(v6), &r);
	expect_xdp_ret("IPv6", &r, XDP_PASS);
	expect_bytes("IPv6 (untouched)", &r, v6, sizeof(v6));

	memset(l3, 0, sizeof(l3));
	l3[1] = 1; l3[2] = 0x08; l3[4] = 6; l3[5] = 4; l3[7] = 1;
	memcpy(l3 + 8, MAC_CLIENT, 6);
	l3[14] = 192; l3[15] = 168; l3[17] = 10;
	l3[24] = 192; l3[25] = 168; l3[27] = 1;
	pk_eth_wrap(arp, &ea, l3, 28);
	xdp_raw(E.if_wan0, arp, sizeof(arp), &r);
	expect_xdp_ret("ARP", &r, XDP_PASS);
	expect_bytes("ARP (untouched)", &r, arp, sizeof(arp));

	s = stats();
	CHECK_EQ(s.drop_malformed, 0, "drop_malformed");
	CHECK_EQ(s.passed_untouched, 2, "passed_untouched");
}

/* Insert an 802.1Q/802.1ad tag (tpid, vid) after the MAC addresses of
 * frame f (n bytes); returns the new length. */
static size_t vlan_tag(uint8_t *f, size_t n, uint16_t tpid, uint16_t vid)
{
	memmove(f + 16, f + 12, n - 12);
	f[12] = tpid >> 8;
	f[13] = tpid & 0xff;
	f[14] = (vid >> 8) & 0x0f;
	f[15] = vid & 0xff;
	return n + 4;
}

/* xdpnat is attached untagged: VLAN-tagged frames (another network's) pass
 * every hook untouched, byte for byte, create no flow and are counted in
 * passed_vlan, even a SYN that would otherwise start a masquerade flow or
 * hit a forward, and a frame with two tags (802.1ad outside). */
static void test_vlan_tagged_passed(void **state)
{
	struct pk syn_l = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk syn_w = wan_tcp(A_REMOTE, 40000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk out_w = to_wan0(syn_l);
	uint8_t f[PK_MAX];
	struct nat_stats s;
	struct res r;
	size_t n;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);

	n = vlan_tag(f, pk_frame(f, &syn_l), 0x8100, 7);
	xdp_raw(E.if_lan0, f, n, &r);
	expect_xdp_ret("802.1Q SYN on lan0", &r, XDP_PASS);
	expect_bytes("802.1Q SYN on lan0 (untouched)", &r, f, n);

	n = vlan_tag(f, pk_frame(f, &syn_w), 0x8100, 7);
	xdp_raw(E.if_wan0, f, n, &r);
	expect_xdp_ret("802.1Q SYN to a forward on wan0", &r, XDP_PASS);
	expect_bytes("802.1Q SYN to a forward on wan0 (untouched)", &r, f, n);

	n = vlan_tag(f, pk_frame(f, &syn_w), 0x8100, 7);
	n = vlan_tag(f, n, 0x88a8, 100);
	xdp_raw(E.if_wan0, f, n, &r);
	expect_xdp_ret("802.1ad + 802.1Q SYN on wan0", &r, XDP_PASS);
	expect_bytes("802.1ad + 802.1Q SYN on wan0 (untouched)", &r, f, n);

	/* leaving wan0 with a LAN source: not the leak guard's business */
	n = vlan_tag(f, pk_frame(f, &out_w), 0x8100, 7);
	tc_raw(E.if_wan0, f, n, &r);
	expect_tc_ret("802.1Q SYN on tc egress wan0", &r, TC_ACT_OK);
	expect_bytes("802.1Q SYN on tc egress wan0 (untouched)", &r, f, n);
	n = vlan_tag(f, pk_frame(f, &syn_w), 0x88a8, 7);
	tc_raw(E.if_lan0, f, n, &r);
	expect_tc_ret("802.1ad SYN on tc egress lan0", &r, TC_ACT_OK);
	expect_bytes("802.1ad SYN on tc egress lan0 (untouched)", &r, f, n);

	CHECK_EQ(ct_count(), 0, "nat_ct entries");
	s = stats();
	CHECK_EQ(s.passed_vlan, 5, "passed_vlan");
	CHECK_EQ(s.passed_untouched, 3, "passed_untouched (XDP)");
	CHECK_EQ(s.flows_created + s.xdp_forwarded + s.tc_translated + s.passed_to_kernel, 0,
		 "nothing translated");
	CHECK_EQ(s.drop_malformed + s.drop_no_flow + s.drop_inbound, 0, "nothing dropped");

	/* the same SYN untagged is translated: the forward was there */
	xdp_pk(E.if_wan0, &syn_w, &r, NULL);
	expect_xdp_ret("the same SYN untagged", &r, XDP_REDIRECT);
	CHECK_EQ(stats().passed_vlan, 5, "passed_vlan");
}

/* ============================================================ 12. dual WAN */

#define A_FAR IP4(192, 0, 2, 77)

static void dual_wan_setup(uint32_t wan0_gw)
{
	__be32 a = htonl(A_WAN1);
	__u32 ifx = (__u32)E.if_wan1;

	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, wan0_gw, 1024, 65535, 1, 0), 0);
	assert_int_equal(env_set_wan(&E, E.if_wan1, A_WAN1, A_GW1, 1024, 65535, 1, 1), 0);
	assert_int_equal(bpf_map_update_elem(E.m_wanaddr, &a, &ifx, BPF_ANY), 0);
	assert_int_equal(env_sh("ip route replace default via 203.0.113.2 dev wan1"), 0);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
}

static void dual_wan_syn(void)
{
	struct pk syn = wan_tcp(A_FAR, 40000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk want = to_lan(syn, MAC_SERVER);
	struct res r;

	want.dst = A_SERVER;
	want.dport = 80;
	xdp_pk(E.if_wan0, &syn, &r, NULL);
	expect_xdp_ret("SYN on wan0", &r, XDP_REDIRECT);
	expect_frame("SYN on wan0", &r, &want);
}

static const struct pk dual_sa = { .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_FAR,
				   .proto = IPPROTO_TCP, .ttl = 64, .id = 0xf00f, .frag = PK_IP_DF,
				   .sport = 80, .dport = 40000, .flags = PK_TCP_SYN | PK_TCP_ACK,
				   .seq = 9000, .ack = 5001 };

static void test_dual_wan_symmetric(void **state)
{
	struct pk want = to_wan0(dual_sa);
	struct res r;

	(void)state;
	dual_wan_setup(A_GW);
	dual_wan_syn();
	want.src = A_WAN0;
	want.sport = 8080;
	xdp_pk(E.if_lan0, &dual_sa, &r, NULL);
	expect_xdp_ret("reply of a wan0 flow, default route via wan1", &r, XDP_REDIRECT);
	expect_frame("reply leaves wan0 via 198.51.100.2 (its MACs)", &r, &want);
}

static void test_dual_wan_no_gateway(void **state)
{
	uint8_t in[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	dual_wan_setup(0);
	dual_wan_syn();
	n = xdp_pk(E.if_lan0, &dual_sa, &r, in);
	expect_xdp_ret("reply of a wan0 flow, wan0 gateway unknown", &r, XDP_PASS);
	expect_bytes("reply, wan0 gateway unknown (untouched)", &r, in, n);
	CHECK_EQ(stats().passed_to_kernel, 1, "passed_to_kernel");
}

/* Kernel path of the same: the kernel routes the reply to wan1; tc egress
 * of wan1 translates and redirects it to wan0's gateway, or drops it when
 * that gateway is unknown. */
static void test_dual_wan_tc(void **state)
{
	struct pk kern = dual_sa, want;
	struct res r;

	(void)state;
	dual_wan_setup(A_GW);
	dual_wan_syn();
	kern.dmac = MAC_GW1;
	kern.smac = MAC_WAN1;
	kern.ttl--;
	want = kern;
	want.src = A_WAN0;
	want.sport = 8080;
	tc_pk(E.if_wan1, &kern, &r, NULL);
	expect_tc_ret("reply on tc egress wan1 (flow of wan0)", &r, TC_ACT_REDIRECT);
	expect_frame("reply on tc egress wan1 (translated to wan0's address)", &r, &want);

	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, 0, 1024, 65535, 1, 0), 0);
	tc_pk(E.if_wan1, &kern, &r, NULL);
	expect_tc_ret("reply on tc egress wan1, wan0 gateway unknown", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_wan_mismatch, 1, "drop_wan_mismatch");
}

/* ============================================================ more cases */

/* A closed connection's tuple reused by a new connection (the client picks
 * the same source port again within the closing timeout): the new
 * connection must start clean. After its SYN, SYN-ACK and a single FIN
 * from the client, the flow is FIN_WAIT, not CLOSING. */
static void test_tcp_tuple_reuse_after_close(void **state)
{
	struct pk fin_l = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_FIN | PK_TCP_ACK);
	struct pk fin_w = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_FIN | PK_TCP_ACK);
	struct nat_ct_value v;
	struct res r;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	syn_ack_reply();
	client_ack();
	xdp_pk(E.if_lan0, &fin_l, &r, NULL);
	expect_xdp_ret("FIN LAN->WAN", &r, XDP_REDIRECT);
	xdp_pk(E.if_wan0, &fin_w, &r, NULL);
	expect_xdp_ret("FIN WAN->LAN", &r, XDP_REDIRECT);
	expect_states("first connection closed", NAT_CT_CLOSING);

	/* second connection, same tuple */
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	expect_states("after the new SYN", NAT_CT_SYN_SENT);
	assert_int_equal(env_ct_get(&E, A_CLIENT, A_REMOTE, 40000, 443, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.flags & NAT_CT_F_FIN, 0, "orig entry FIN flag after the new SYN");
	syn_ack_reply();
	expect_states("new connection after SYN-ACK", NAT_CT_SYN_RECV);
	client_ack();
	expect_states("new connection after the handshake", NAT_CT_ESTABLISHED);
	xdp_pk(E.if_lan0, &fin_l, &r, NULL);
	expect_xdp_ret("new connection: client's FIN", &r, XDP_REDIRECT);
	/* Regression (fixed in 75e51d0): only one FIN of the new connection
	 * has been seen, but the reply entry kept NAT_CT_F_FIN from the old
	 * connection, so the flow went straight to CLOSING. */
	expect_states("new connection after one FIN", NAT_CT_FIN_WAIT);
	assert_int_equal(env_ct_get(&E, A_REMOTE, A_WAN0, 443, 40000, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.flags & NAT_CT_F_FIN, 0, "reply entry FIN flag (no FIN from the server yet)");
}

/* WAN -> LAN on the kernel path: XDP translates the destination and passes
 * (TTL and MACs left to the kernel); tc egress of lan0 leaves it alone. */
static void test_kernel_path_wan_reply(void **state)
{
	struct pk in = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk half = in, kern;
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	assert_int_equal(env_sh("ip neigh del 192.168.0.10 dev lan0"), 0);
	half.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &in, &r, NULL);
	expect_xdp_ret("SYN-ACK, client neighbour unknown", &r, XDP_PASS);
	expect_frame("SYN-ACK, client neighbour unknown (destination translated only)", &r, &half);
	expect_states("after SYN-ACK on the kernel path", NAT_CT_SYN_RECV);

	kern = to_lan(half, MAC_CLIENT);
	n = tc_pk(E.if_lan0, &kern, &r, f);
	expect_tc_ret("SYN-ACK on tc egress lan0", &r, TC_ACT_OK);
	expect_bytes("SYN-ACK on tc egress lan0 (untouched)", &r, f, n);
	CHECK_EQ(stats().passed_to_kernel, 1, "passed_to_kernel");
	CHECK_EQ(stats().tc_translated, 0, "tc_translated");
}

/* A forward entirely on the kernel path. */
static void test_kernel_path_forward(void **state)
{
	struct pk syn = wan_tcp(A_GW, 40000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk sa = { .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_GW,
			 .proto = IPPROTO_TCP, .ttl = 64, .id = 0x7107, .frag = PK_IP_DF, .sport = 80,
			 .dport = 40000, .flags = PK_TCP_SYN | PK_TCP_ACK, .seq = 9000, .ack = 5001 };
	struct pk half = syn, kern, want;
	uint8_t f[PK_MAX];
	struct nat_ct_value v;
	struct res r;
	size_t n;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	assert_int_equal(env_sh("ip neigh del 192.168.0.254 dev lan0 && ip neigh del 198.51.100.2 dev wan0"), 0);
	half.dst = A_SERVER;
	half.dport = 80;
	xdp_pk(E.if_wan0, &syn, &r, NULL);
	expect_xdp_ret("forwarded SYN, no neighbour", &r, XDP_PASS);
	expect_frame("forwarded SYN, no neighbour (destination translated)", &r, &half);

	n = xdp_pk(E.if_lan0, &sa, &r, f);
	expect_xdp_ret("server's SYN-ACK, no neighbour", &r, XDP_PASS);
	expect_bytes("server's SYN-ACK, no neighbour (UNCHANGED)", &r, f, n);
	kern = to_wan0(sa);
	want = kern;
	want.src = A_WAN0;
	want.sport = 8080;
	tc_pk(E.if_wan0, &kern, &r, NULL);
	expect_tc_ret("server's SYN-ACK on tc egress wan0", &r, TC_ACT_OK);
	expect_frame("server's SYN-ACK on tc egress wan0 (198.51.100.1:8080)", &r, &want);
	CHECK_EQ(ct_state(A_GW, A_WAN0, 40000, 8080, IPPROTO_TCP), NAT_CT_SYN_RECV, "state");
	assert_int_equal(env_ct_get(&E, A_SERVER, A_GW, 80, 40000, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.packets, 1, "reply entry packets (counted once, on tc)");
}

/* The router's own ICMP error about a translated packet (here: a reply
 * whose TTL ran out after XDP had translated its destination) leaves wan0
 * with its quote translated back; the router's own error about its own
 * traffic leaves untouched. */
static void test_icmp_err_router_generated_tc(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x2223, .sport = 5353, .dport = 53,
			 .payload = udp_pl, .plen = 16 };
	struct pk q = { .src = A_DNS, .dst = A_CLIENT, .proto = IPPROTO_UDP, .ttl = 1, .id = 0x3334,
			.sport = 53, .dport = 5353, .payload = udp_pl, .plen = 12 };
	struct pk err, want;
	uint8_t qb[PK_MAX], qb2[PK_MAX], f[PK_MAX];
	size_t nq, nq2, n;
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30000, 30000, 1, 0), 0);
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP out", &r, XDP_REDIRECT);

	nq = pk_ip(qb, &q);	/* the reply as the kernel saw it: destination already translated */
	err = (struct pk){ .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_WAN0, .dst = A_DNS,
			   .proto = IPPROTO_ICMP, .ttl = 64, .id = 0x4445, .type = 11, .code = 0,
			   .payload = qb, .plen = nq };
	q.dst = A_WAN0;
	q.dport = 30000;
	nq2 = pk_ip(qb2, &q);
	want = err;
	want.payload = qb2;
	want.plen = nq2;
	tc_pk(E.if_wan0, &err, &r, NULL);
	expect_tc_ret("router's time exceeded on tc egress wan0", &r, TC_ACT_OK);
	expect_frame("router's time exceeded (quote back to 198.51.100.1:30000)", &r, &want);

	/* port unreachable about a packet to the router itself: no flow */
	q = (struct pk){ .src = A_REMOTE, .dst = A_WAN0, .proto = IPPROTO_UDP, .ttl = 50, .id = 0x5556,
			 .sport = 1234, .dport = 9999, .payload = udp_pl, .plen = 8 };
	nq = pk_ip(qb, &q);
	err.dst = A_REMOTE;
	err.type = 3;
	err.code = 3;
	err.payload = qb;
	err.plen = nq;
	n = tc_pk(E.if_wan0, &err, &r, f);
	expect_tc_ret("router's own port unreachable", &r, TC_ACT_OK);
	expect_bytes("router's own port unreachable (untouched)", &r, f, n);
}

/* Port unreachable from the destination of a masqueraded datagram, with a
 * quoted UDP checksum and without one (0 stays 0). */
static void test_icmp_err_port_unreach_masq(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x2224, .sport = 5353, .dport = 53,
			 .payload = udp_pl, .plen = 16 };
	struct pk q, err, want;
	uint8_t qb[PK_MAX], qb2[PK_MAX];
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30000, 30000, 1, 0), 0);
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP out", &r, XDP_REDIRECT);

	for (int nocsum = 0; nocsum <= 1; nocsum++) {
		q = (struct pk){ .src = A_WAN0, .dst = A_DNS, .proto = IPPROTO_UDP, .ttl = 50, .id = 0x2224,
				 .sport = 30000, .dport = 53, .payload = udp_pl, .plen = 16,
				 .udp_nocsum = nocsum };
		err = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
				   .proto = IPPROTO_ICMP, .ttl = 50, .id = 0x6667, .type = 3, .code = 3,
				   .payload = qb, .plen = pk_ip(qb, &q) };
		q.src = A_CLIENT;
		q.sport = 5353;
		want = to_lan(err, MAC_CLIENT);
		want.dst = A_CLIENT;
		want.payload = qb2;
		want.plen = pk_ip(qb2, &q);
		xdp_pk(E.if_wan0, &err, &r, NULL);
		expect_xdp_ret("port unreachable from the destination", &r, XDP_REDIRECT);
		expect_frame(nocsum ? "port unreachable, quoted UDP checksum 0 (stays 0)"
				    : "port unreachable from the destination", &r, &want);
	}
}

/* An error about a TCP segment quoting the RFC 792 minimum (IP header + 8
 * bytes): addresses and ports translated. */
static void test_icmp_err_tcp_quote(void **state)
{
	struct pk q, err, want;
	uint8_t qb[PK_MAX], qb2[PK_MAX];
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30002, 30002, 1, 0), 0);
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 30002);
	q = to_wan0(lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN));
	q.src = A_WAN0;
	q.sport = 30002;
	q.ttl = 5;
	pk_ip(qb, &q);
	err = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_ROUTER9, .dst = A_WAN0,
			   .proto = IPPROTO_ICMP, .ttl = 250, .id = 0x7778, .type = 3, .code = 1,
			   .payload = qb, .plen = 28 };
	q.src = A_CLIENT;
	q.sport = 40000;
	pk_ip(qb2, &q);
	want = to_lan(err, MAC_CLIENT);
	want.dst = A_CLIENT;
	want.payload = qb2;
	want.plen = 28;
	xdp_pk(E.if_wan0, &err, &r, NULL);
	expect_xdp_ret("host unreachable about a TCP SYN", &r, XDP_REDIRECT);
	expect_frame("host unreachable about a TCP SYN (28-byte quote)", &r, &want);
}

/* Hairpin UDP, and the server's port unreachable about it: the client must
 * see it from 198.51.100.1 quoting its own datagram. */
static void test_hairpin_icmp_err(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_WAN0,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x1357, .sport = 6000, .dport = 5353,
			 .payload = udp_pl, .plen = 16 };
	struct pk sent, err, want, q;
	uint8_t qb[PK_MAX], qb2[PK_MAX];
	struct res r;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_UDP, 5353, A_SERVER, 53), 0);
	sent = to_lan(in, MAC_SERVER);
	sent.src = A_WAN0;
	sent.dst = A_SERVER;
	sent.dport = 53;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("hairpin UDP", &r, XDP_REDIRECT);
	expect_frame("hairpin UDP", &r, &sent);

	q = sent;
	err = (struct pk){ .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_WAN0,
			   .proto = IPPROTO_ICMP, .ttl = 64, .id = 0x2468, .type = 3, .code = 3,
			   .payload = qb, .plen = pk_ip(qb, &q) };
	q = in;
	q.ttl = 63;
	want = to_lan(err, MAC_CLIENT);
	want.src = A_WAN0;
	want.dst = A_CLIENT;
	want.payload = qb2;
	want.plen = pk_ip(qb2, &q);
	xdp_pk(E.if_lan0, &err, &r, NULL);
	expect_xdp_ret("server's port unreachable", &r, XDP_REDIRECT);
	expect_frame("server's port unreachable (from 198.51.100.1, quote = client's datagram)", &r, &want);
}

/* A LAN host that claims an outside source (192.0.2.53) and reaches a
 * forward through the WAN address with TTL 1: XDP translates the
 * destination half and leaves the packet to the kernel, whose "time
 * exceeded" goes back to that source, out of wan0, quoting the
 * half-translated packet (a HAIRPIN_EGRESS tuple, the inside server's
 * address in it). tc egress of wan0 drops it: no inside address leaves
 * a WAN (found by test_fuzz_datapath, invariant 1). */
static void test_hairpin_spoofed_time_exceeded(void **state)
{
	struct pk syn = lan_tcp(A_DNS, MAC_CLIENT, 45000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk ack = lan_tcp(A_DNS, MAC_CLIENT, 45000, A_WAN0, 8080, PK_TCP_ACK);
	struct pk half, err;
	uint8_t q[PK_MAX];
	struct res r;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("hairpin SYN from 192.0.2.53", &r, XDP_REDIRECT);
	CHECK_EQ(stats().flows_created, 1, "flows_created");
	ack.ttl = 1;
	half = ack;
	half.dst = A_SERVER;
	half.dport = 80;
	xdp_pk(E.if_lan0, &ack, &r, NULL);
	expect_xdp_ret("its next segment with TTL 1", &r, XDP_PASS);
	expect_frame("its next segment with TTL 1 (destination half only)", &r, &half);

	err = (struct pk){ .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_WAN0, .dst = A_DNS,
			   .proto = IPPROTO_ICMP, .ttl = 64, .id = 0x7e7e, .type = 11, .code = 0,
			   .payload = q, .plen = pk_ip(q, &half) };
	tc_pk(E.if_wan0, &err, &r, NULL);
	expect_tc_ret("the kernel's time exceeded about it, on tc egress wan0", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_spoofed, 1, "drop_spoofed");
	CHECK_EQ(stats().icmp_errors_translated, 0, "icmp_errors_translated");
}

/* Larger than wan0's MTU: XDP leaves it to the kernel, which fragments;
 * tc egress translates both fragments (the first with bpf_l4_csum_replace,
 * the second from nat_frag). */
static void test_frag_needed_kernel_path(void **state)
{
	static uint8_t pl[1400];
	struct pk small = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			    .proto = IPPROTO_UDP, .ttl = 64, .id = 0x1111, .sport = 7001, .dport = 53,
			    .payload = udp_pl, .plen = 16 };
	struct pk big = small, dw, fp;
	uint8_t seg[PK_MAX], segw[PK_MAX], f[PK_MAX], w[PK_MAX], ip[PK_MAX], re[PK_MAX];
	struct res r, r1;
	size_t nseg, n, nip;

	(void)state;
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 31000, 31000, 1, 0), 0);
	assert_int_equal(env_sh("ip link set wan0 mtu 1000"), 0);
	xdp_pk(E.if_lan0, &small, &r, NULL);
	expect_xdp_ret("small UDP", &r, XDP_REDIRECT);

	big.id = 0x1112;
	big.payload = pl;
	big.plen = sizeof(pl);
	n = xdp_pk(E.if_lan0, &big, &r, f);
	expect_xdp_ret("1428-byte UDP, wan0 MTU 1000", &r, XDP_PASS);
	expect_bytes("1428-byte UDP, wan0 MTU 1000 (UNCHANGED)", &r, f, n);

	/* the kernel's fragments: 976 + 432 bytes of the 1408-byte UDP datagram */
	nseg = pk_l4(seg, &big);
	dw = big;
	dw.src = A_WAN0;
	dw.sport = 31000;
	pk_l4(segw, &dw);
	for (int i = 0; i < 2; i++) {
		size_t off = i ? 976 : 0, len = i ? nseg - 976 : 976;
		struct res *rr = i ? &r : &r1;

		fp = to_wan0(big);
		fp.frag = (uint16_t)(i ? 976 / 8 : PK_IP_MF);
		nip = pk_ip_wrap(ip, &fp, seg + off, len);
		n = pk_eth_wrap(f, &fp, ip, nip);
		tc_raw(E.if_wan0, f, n, rr);
		expect_tc_ret(i ? "second fragment on tc egress wan0" : "first fragment on tc egress wan0", rr, TC_ACT_OK);
		fp.src = A_WAN0;
		nip = pk_ip_wrap(ip, &fp, segw + off, len);
		n = pk_eth_wrap(w, &fp, ip, nip);
		expect_csums("fragment on tc", rr);
		expect_bytes(i ? "second fragment on tc egress wan0" : "first fragment on tc egress wan0", rr, w, n);
	}
	memcpy(re, r1.buf + 34, 976);
	memcpy(re + 976, r.buf + 34, nseg - 976);
	CHECK(ck_verify_udp(A_WAN0, A_DNS, re, nseg) == 0,
	      "UDP checksum of the reassembled datagram is wrong (field 0x%04x)", pk_get16(re + 6));
	CHECK_EQ(stats().fragments_translated, 2, "fragments_translated");
}

/* Protocols the NAT does not translate must not leave a WAN with a LAN
 * source address. */
static void test_tc_untranslatable_from_lan(void **state)
{
	static const uint8_t gre[8] = { 0x00, 0x00, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef };
	struct pk p = { .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_CLIENT, .dst = A_REMOTE, .proto = 47,
			.ttl = 63, .id = 0x4747, .payload = gre, .plen = 8 };
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	/* Regression (bug in f80b09b, fixed in 75e51d0): src_is_lan() asked
	 * the FIB with BPF_FIB_LOOKUP_OUTPUT and .ifindex = the WAN, i.e.
	 * flowi4_oif = WAN; every nexthop not on the WAN was skipped, the LAN
	 * address "routed" via the WAN default route and left unchanged. */
	tc_pk(E.if_wan0, &p, &r, NULL);
	expect_tc_ret("GRE from a LAN address on tc egress wan0", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_no_flow, 1, "drop_no_flow");
	p.proto = IPPROTO_ICMP;	/* ICMP timestamp request: not translated */
	p.type = 13;
	tc_pk(E.if_wan0, &p, &r, NULL);
	expect_tc_ret("ICMP timestamp from a LAN address on tc egress wan0", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_no_flow, 2, "drop_no_flow");

	p.proto = 47;
	p.src = A_WAN0;
	n = tc_pk(E.if_wan0, &p, &r, f);
	expect_tc_ret("router's own GRE", &r, TC_ACT_OK);
	expect_bytes("router's own GRE (untouched)", &r, f, n);
}

/* Full-size segments on both paths. */
static void test_large_segments(void **state)
{
	static uint8_t pl[1400];
	struct pk d = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_ACK | PK_TCP_PSH);
	struct pk want, kern;
	struct res r;

	(void)state;
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(255 - i);
	d.payload = pl;
	d.plen = sizeof(pl);
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	syn_ack_reply();
	want = to_wan0(d);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &d, &r, NULL);
	expect_xdp_ret("1440-byte segment on XDP", &r, XDP_REDIRECT);
	expect_frame("1440-byte segment on XDP", &r, &want);

	kern = to_wan0(d);
	kern.seq += 1400;
	want = kern;
	want.src = A_WAN0;
	tc_pk(E.if_wan0, &kern, &r, NULL);
	expect_tc_ret("1440-byte segment on tc egress wan0", &r, TC_ACT_OK);
	expect_frame("1440-byte segment on tc egress wan0", &r, &want);
}

/* ============================================================ bulk TCP */

static void tcp_bulk_set(__u32 bytes)
{
	struct nat_config cfg;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(E.m_config, &zero, &cfg), 0);
	cfg.tcp_bulk_bytes = bytes;
	assert_int_equal(bpf_map_update_elem(E.m_config, &zero, &cfg, BPF_ANY), 0);
}

/* A data segment of the masqueraded 40000 -> 443 flow: from the client
 * (LAN side) or from the server (WAN side), plen bytes at seq. */
#define BULK_SEG 1400
static uint8_t bulk_pl[1800];

static struct pk bulk_lan(uint32_t seq, size_t plen, uint8_t flags)
{
	struct pk d = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, flags);

	d.seq = seq;
	d.payload = bulk_pl;
	d.plen = plen;
	return d;
}

static struct pk bulk_wan(uint32_t seq, size_t plen)
{
	struct pk d = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_ACK | PK_TCP_PSH);

	d.seq = seq;
	d.payload = bulk_pl;
	d.plen = plen;
	return d;
}

/* A client segment XDP must redirect, translated. */
static void bulk_lan_redirected(const char *what, uint32_t seq)
{
	struct pk d = bulk_lan(seq, BULK_SEG, PK_TCP_ACK | PK_TCP_PSH), want = to_wan0(d);
	struct res r;

	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &d, &r, NULL);
	expect_xdp_ret(what, &r, XDP_REDIRECT);
	expect_frame(what, &r, &want);
}

/* A client segment of a bulk flow: XDP passes it untouched, tc egress of
 * wan0 translates what the kernel routed (to_wan0). */
static void bulk_lan_kernel_path(const char *what, const struct pk *d)
{
	struct pk kern = to_wan0(*d), want = kern;
	uint8_t in[PK_MAX];
	struct res r;
	size_t n;

	n = xdp_pk(E.if_lan0, d, &r, in);
	expect_xdp_ret(what, &r, XDP_PASS);
	expect_bytes(what, &r, in, n);
	want.src = A_WAN0;
	tc_pk(E.if_wan0, &kern, &r, NULL);
	expect_tc_ret(what, &r, TC_ACT_OK);
	expect_frame(what, &r, &want);
}

/*
 * nat_config.tcp_bulk_bytes: a direction of an established TCP flow that
 * has carried that many bytes takes the kernel path (GRO/GSO), translated
 * exactly as on the fast path, with its counters and state kept; below
 * the threshold, and with the tunable 0, XDP redirects as before.
 */
static void test_tcp_bulk_kernel_path(void **state)
{
	struct nat_ct_value v;
	struct pk d, half, kern;
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bulk_pl); i++)
		bulk_pl[i] = (uint8_t)(i * 7);
	established_flow();	/* orig entry: SYN + ACK, 80 bytes; reply: SYN-ACK, 40 */
	tcp_bulk_set(2000);

	/* client -> server: 80 and 1520 bytes are below 2000: redirected */
	bulk_lan_redirected("LAN segment 1, below the threshold", 1001);
	bulk_lan_redirected("LAN segment 2, below the threshold", 2401);
	CHECK_EQ(stats().tcp_bulk_passed, 0, "tcp_bulk_passed below the threshold");
	/* 2960 bytes: the kernel path, translated on tc egress */
	d = bulk_lan(3801, BULK_SEG, PK_TCP_ACK | PK_TCP_PSH);
	bulk_lan_kernel_path("LAN segment 3, over the threshold", &d);
	CHECK_EQ(stats().tcp_bulk_passed, 1, "tcp_bulk_passed");
	CHECK_EQ(stats().tc_translated, 1, "tc_translated");
	assert_int_equal(env_ct_get(&E, A_CLIENT, A_REMOTE, 40000, 443, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.packets, 5, "orig entry packets (segment 3 counted once, on tc)");
	CHECK_EQ(v.bytes, 80 + 3 * 1440, "orig entry bytes");

	/* a GRO'd train of two 900-byte segments: one skb, both counted */
	E.tc_gso_segs = 2;
	E.tc_gso_size = 900;
	kern = to_wan0(bulk_lan(5201, 1800, PK_TCP_ACK));
	half = kern;
	half.src = A_WAN0;
	tc_pk(E.if_wan0, &kern, &r, NULL);
	E.tc_gso_segs = E.tc_gso_size = 0;
	expect_tc_ret("GSO skb on tc egress wan0", &r, TC_ACT_OK);
	expect_frame("GSO skb on tc egress wan0", &r, &half);
	assert_int_equal(env_ct_get(&E, A_CLIENT, A_REMOTE, 40000, 443, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.packets, 7, "orig entry packets (GSO skb: 2 segments)");
	CHECK_EQ(v.bytes, 80 + 3 * 1440 + 2 * 940, "orig entry bytes (GSO skb: 2 x 940)");
	CHECK_EQ(v.td_end, 7001, "orig entry td_end (window tracked on tc)");

	/* server -> client: the same on WAN ingress, where XDP translates the
	 * destination before it passes the packet; tc egress of lan0 leaves
	 * it alone */
	d = bulk_wan(5001, BULK_SEG);
	half = to_lan(d, MAC_CLIENT);
	half.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &d, &r, NULL);
	expect_xdp_ret("WAN segment 1, below the threshold", &r, XDP_REDIRECT);
	expect_frame("WAN segment 1, below the threshold", &r, &half);
	d = bulk_wan(6401, BULK_SEG);
	xdp_pk(E.if_wan0, &d, &r, NULL);
	expect_xdp_ret("WAN segment 2, below the threshold", &r, XDP_REDIRECT);
	d = bulk_wan(7801, BULK_SEG);
	half = d;
	half.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &d, &r, NULL);
	expect_xdp_ret("WAN segment 3, over the threshold", &r, XDP_PASS);
	expect_frame("WAN segment 3, over the threshold (destination translated)", &r, &half);
	kern = to_lan(half, MAC_CLIENT);
	n = tc_pk(E.if_lan0, &kern, &r, f);
	expect_tc_ret("WAN segment 3 on tc egress lan0", &r, TC_ACT_OK);
	expect_bytes("WAN segment 3 on tc egress lan0 (untouched)", &r, f, n);
	CHECK_EQ(stats().tcp_bulk_passed, 2, "tcp_bulk_passed");
	assert_int_equal(env_ct_get(&E, A_REMOTE, A_WAN0, 443, 40000, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.packets, 4, "reply entry packets (segment 3 counted once, in XDP)");
	CHECK_EQ(v.bytes, 40 + 3 * 1440, "reply entry bytes");

	/* from a veth/tap WAN, a field equal to the pseudo-header sum may be
	 * an unfinished checksum or a complete one of that value: finished and
	 * redirected (right either way), not kept unfinished on the kernel path */
	iface_add_flags(E.if_wan0, NAT_IFACE_F_PARTIAL_CSUM);
	d = bulk_wan(9201, BULK_SEG);
	n = pk_frame(f, &d);
	pk_unfinish(f, n);
	xdp_raw(E.if_wan0, f, n, &r);
	half = to_lan(d, MAC_CLIENT);
	half.dst = A_CLIENT;
	expect_xdp_ret("WAN segment over the threshold, checksum looks unfinished", &r, XDP_REDIRECT);
	expect_frame("WAN segment over the threshold, checksum looks unfinished (finished)", &r, &half);
	CHECK_EQ(stats().tcp_bulk_passed, 2, "tcp_bulk_passed (not for an unfinished-looking checksum)");

	/* state still follows the flow on the kernel path: a FIN */
	d = bulk_lan(7001, 0, PK_TCP_ACK | PK_TCP_FIN);
	d.payload = NULL;
	bulk_lan_kernel_path("client's FIN on the kernel path", &d);
	expect_states("after the client's FIN on tc", NAT_CT_FIN_WAIT);

	/* 0: off, whatever the flow carried */
	tcp_bulk_set(0);
	bulk_lan_redirected("LAN segment, tcp_bulk_bytes 0", 7002);
	CHECK_EQ(stats().tcp_bulk_passed, 3, "tcp_bulk_passed (unchanged with 0)");
}

/* The router's DHCP client on a WAN that still has an address (lease
 * expired, INIT-REBOOT after a restart): 0.0.0.0:68 -> 255.255.255.255:67
 * is the router's own traffic and must leave untouched. */
static void test_tc_router_dhcp(void **state)
{
	static const uint8_t bootp[48] = { 1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pk d = { .dmac = bcast, .smac = MAC_WAN0, .src = 0, .dst = 0xffffffffu,
			.proto = IPPROTO_UDP, .ttl = 64, .id = 0, .sport = 68, .dport = 67,
			.payload = bootp, .plen = sizeof(bootp) };
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	n = tc_pk(E.if_wan0, &d, &r, f);
	expect_tc_ret("DHCPDISCOVER from 0.0.0.0 on tc egress wan0", &r, TC_ACT_OK);
	/* Regression (fixed in 75e51d0): UDP from 0.0.0.0 created a masquerade
	 * flow on tc egress, so the DHCP request left as 198.51.100.1:<port
	 * from the range>. */
	expect_bytes("DHCPDISCOVER from 0.0.0.0 (untouched)", &r, f, n);
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
}

/* To the router itself from the LAN: nothing to translate. */
static void test_router_local_lan(void **state)
{
	struct pk q = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_LAN0,
			.proto = IPPROTO_UDP, .ttl = 64, .id = 0x5353, .sport = 5353, .dport = 53,
			.payload = dns_q, .plen = sizeof(dns_q) - 1 };
	struct pk a = { .dmac = MAC_CLIENT, .smac = MAC_LAN0, .src = A_LAN0, .dst = A_CLIENT,
			.proto = IPPROTO_UDP, .ttl = 64, .id = 0x5354, .sport = 53, .dport = 5353,
			.payload = dns_q, .plen = sizeof(dns_q) - 1 };
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	n = xdp_pk(E.if_lan0, &q, &r, f);
	expect_xdp_ret("DNS query to 192.168.0.1", &r, XDP_PASS);
	expect_bytes("DNS query to 192.168.0.1 (untouched)", &r, f, n);
	n = tc_pk(E.if_lan0, &a, &r, f);
	expect_tc_ret("router's answer on tc egress lan0", &r, TC_ACT_OK);
	expect_bytes("router's answer on tc egress lan0 (untouched)", &r, f, n);
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
}

/* Two WANs, the FIB picks wan1: masquerade with wan1's address, and the
 * reply arriving on wan1 goes back. */
static void test_dual_wan_masq_fib_choice(void **state)
{
	struct pk in = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk want = in, rep, rwant;
	__be32 a = htonl(A_WAN1);
	__u32 ifx = (__u32)E.if_wan1;
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan1, A_WAN1, A_GW1, 1024, 65535, 1, 1), 0);
	assert_int_equal(bpf_map_update_elem(E.m_wanaddr, &a, &ifx, BPF_ANY), 0);
	assert_int_equal(env_sh("ip route replace default via 203.0.113.2 dev wan1"), 0);
	want.dmac = MAC_GW1;
	want.smac = MAC_WAN1;
	want.ttl--;
	want.src = A_WAN1;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("SYN, default route via wan1", &r, XDP_REDIRECT);
	expect_frame("SYN leaves wan1 as 203.0.113.1", &r, &want);
	expect_ct("orig entry", &(struct ct_want){
		.s = A_CLIENT, .d = A_REMOTE, .sp = 40000, .dp = 443, .proto = IPPROTO_TCP,
		.ts = A_WAN1, .td = A_REMOTE, .tsp = 40000, .tdp = 443, .wan = E.if_wan1,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_MASQ, .state = NAT_CT_SYN_SENT,
		.packets = 1, .bytes = 40 });

	rep = wan_tcp(A_REMOTE, 443, A_WAN1, 40000, PK_TCP_SYN | PK_TCP_ACK);
	rep.dmac = MAC_WAN1;
	rep.smac = MAC_GW1;
	rwant = to_lan(rep, MAC_CLIENT);
	rwant.dst = A_CLIENT;
	xdp_pk(E.if_wan1, &rep, &r, NULL);
	expect_xdp_ret("SYN-ACK on wan1", &r, XDP_REDIRECT);
	expect_frame("SYN-ACK on wan1", &r, &rwant);
}

/* A masquerading WAN without an address (between two leases): nothing is
 * translated, and LAN sources never leave it. */
static void test_wan_no_address(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, 0, A_GW, 1024, 65535, 1, 0), 0);
	n = xdp_pk(E.if_lan0, &syn, &r, f);
	expect_xdp_ret("SYN, WAN without address", &r, XDP_PASS);
	expect_bytes("SYN, WAN without address (untouched)", &r, f, n);
	syn = to_wan0(syn);
	/* Regression (bug in f80b09b, fixed in 75e51d0): src_is_lan() asked
	 * the FIB with BPF_FIB_LOOKUP_OUTPUT and .ifindex = the WAN, i.e.
	 * flowi4_oif = WAN; every nexthop not on the WAN was skipped, the LAN
	 * address "routed" via the WAN default route and left unchanged. */
	tc_pk(E.if_wan0, &syn, &r, NULL);
	expect_tc_ret("SYN on tc egress of a WAN without address", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_no_flow, 1, "drop_no_flow");
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
}

/* A WAN without `outbound` is a routed uplink: LAN sources leave as they
 * are, and no flows are made for them. */
static void test_wan_no_masquerade(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 1024, 65535, 0, 0), 0);
	n = xdp_pk(E.if_lan0, &syn, &r, f);
	expect_xdp_ret("SYN, WAN without masquerade", &r, XDP_PASS);
	expect_bytes("SYN, WAN without masquerade (untouched)", &r, f, n);
	syn = to_wan0(syn);
	n = tc_pk(E.if_wan0, &syn, &r, f);
	expect_tc_ret("SYN on tc egress of a routed WAN", &r, TC_ACT_OK);
	expect_bytes("SYN on tc egress of a routed WAN (untouched)", &r, f, n);
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
}

/* IP options on the WAN side: the kernel path, destination translated
 * behind the 24-byte header. Also an ICMP error whose outer header has
 * options. */
static void test_wan_ip_options(void **state)
{
	static const uint8_t opts[4] = { 0x01, 0x01, 0x01, 0x00 };
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk want, q, err;
	uint8_t qb[PK_MAX], qb2[PK_MAX];
	struct res r;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	sa.opts = opts;
	sa.optlen = 4;
	want = sa;
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &sa, &r, NULL);
	expect_xdp_ret("SYN-ACK with IP options", &r, XDP_PASS);
	expect_frame("SYN-ACK with IP options (destination translated, kernel path)", &r, &want);

	q = to_wan0(lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_ACK));
	q.src = A_WAN0;
	q.ttl = 1;
	pk_ip(qb, &q);
	err = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_ROUTER9, .dst = A_WAN0,
			   .proto = IPPROTO_ICMP, .ttl = 250, .id = 0x0f0f, .type = 11, .code = 0,
			   .opts = opts, .optlen = 4, .payload = qb, .plen = 28 };
	q.src = A_CLIENT;
	pk_ip(qb2, &q);
	want = err;
	want.dst = A_CLIENT;
	want.payload = qb2;
	xdp_pk(E.if_wan0, &err, &r, NULL);
	expect_xdp_ret("time exceeded with outer IP options", &r, XDP_PASS);
	expect_frame("time exceeded with outer IP options (translated, kernel path)", &r, &want);
}

/* A short datagram in a padded 60-byte Ethernet frame: translated, the
 * padding kept as it is. */
static void test_ethernet_padding(void **state)
{
	static const uint8_t two[2] = { 0xab, 0xcd };
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x6060, .sport = 5353, .dport = 53,
			 .payload = two, .plen = 2 };
	struct pk want = to_wan0(in);
	uint8_t f[PK_MAX], w[PK_MAX];
	size_t n, nw;
	struct res r;

	(void)state;
	want.src = A_WAN0;
	n = pk_frame(f, &in);		/* 44 bytes */
	nw = pk_frame(w, &want);
	memset(f + n, 0xee, 60 - n);	/* non-zero padding, to see it kept */
	memset(w + nw, 0xee, 60 - nw);
	xdp_raw(E.if_lan0, f, 60, &r);
	expect_xdp_ret("padded frame", &r, XDP_REDIRECT);
	expect_bytes("padded frame (translated, padding kept)", &r, w, 60);
	r.len = nw;
	expect_csums("padded frame", &r);
}

/* Malformed packets on tc egress are dropped too. */
static void test_tc_malformed(void **state)
{
	struct pk udp = { .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_CLIENT, .dst = A_DNS,
			  .proto = IPPROTO_UDP, .ttl = 63, .id = 0xe00e, .sport = 5353, .dport = 53,
			  .payload = udp_pl, .plen = 16 };
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	n = pk_frame(f, &udp);
	f[34 + 4] = 0;
	f[34 + 5] = 4;		/* UDP length 4 */
	tc_raw(E.if_wan0, f, n, &r);
	expect_tc_ret("UDP length 4 on tc egress wan0", &r, TC_ACT_SHOT);
	CHECK_EQ(stats().drop_malformed, 1, "drop_malformed");
	CHECK_EQ(ct_count(), 0, "nat_ct entries");
}

/* nat_ct full: room for two flows and one more entry. The third flow's
 * reply entry fits, its original entry does not: the reply entry is rolled
 * back, the packet dropped and counted, nothing is left behind. */
static int setup_ct5(void **state)
{
	(void)state;
	if (env_up_ct(&E, 5)) {
		env_down(&E);
		return -1;
	}
	return 0;
}

static void test_ct_full_rollback(void **state)
{
	struct pk in[3] = {
		lan_tcp(A_CLIENT, MAC_CLIENT, 1111, A_REMOTE, 443, PK_TCP_SYN),
		lan_tcp(A_CLIENT, MAC_CLIENT, 2222, A_REMOTE, 443, PK_TCP_SYN),
		lan_tcp(A_CLIENT, MAC_CLIENT, 3333, A_REMOTE, 443, PK_TCP_SYN),
	};
	struct nat_stats s;
	struct pk want;
	struct res r;

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, in[i].sport, PK_TCP_SYN | PK_TCP_ACK);
		struct pk ack = in[i];

		xdp_pk(E.if_lan0, &in[i], &r, NULL);
		expect_xdp_ret("flow that fits", &r, XDP_REDIRECT);
		want = to_wan0(in[i]);
		want.src = A_WAN0;
		expect_frame("flow that fits", &r, &want);
		/* established (assured): never evicted */
		xdp_pk(E.if_wan0, &sa, &r, NULL);
		ack.flags = PK_TCP_ACK;
		ack.seq = 1001;
		ack.ack = 5001;
		xdp_pk(E.if_lan0, &ack, &r, NULL);
		expect_xdp_ret("flow's handshake", &r, XDP_REDIRECT);
	}
	xdp_pk(E.if_lan0, &in[2], &r, NULL);
	expect_xdp_ret("flow 3, nat_ct full of established flows", &r, XDP_DROP);
	s = stats();
	CHECK_EQ(s.drop_ct_full, 1, "drop_ct_full");
	CHECK_EQ(s.ct_evicted, 0, "ct_evicted (nothing unassured to evict)");
	CHECK_EQ(s.flows_created, 2, "flows_created");
	CHECK_EQ(ct_count(), 4, "nat_ct entries (flow 3's reply entry rolled back)");

	/* the existing flows still work */
	xdp_pk(E.if_lan0, &in[0], &r, NULL);
	expect_xdp_ret("flow 1 again", &r, XDP_REDIRECT);
}

/* A spoofed SYN flood on a forward fills the table with flows that never
 * complete their handshake; a new LAN flow still gets in: the oldest
 * unassured flow is evicted for it (and counted), an established one never.
 * Room for two flows (setup_ct5). */
static void test_ct_full_evicts_unassured(void **state)
{
	struct pk lan = lan_tcp(A_CLIENT2, MAC_CLIENT2, 41000, A_REMOTE, 443, PK_TCP_SYN);
	struct nat_ct_value v;
	struct nat_stats s;
	struct res r;

	(void)state;
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);	/* an established flow */
	syn_ack_reply();
	client_ack();
	for (int i = 0; i < 4; i++) {	/* the flood: one fits, then each evicts the last */
		struct pk syn = wan_tcp(IP4(192, 0, 2, 100 + i), 30000, A_WAN0, 8080, PK_TCP_SYN);

		xdp_pk(E.if_wan0, &syn, &r, NULL);
		expect_xdp_ret("spoofed SYN to the forward", &r, XDP_REDIRECT);
	}
	CHECK_EQ(stats().ct_evicted, 3, "ct_evicted by the flood itself");
	xdp_pk(E.if_lan0, &lan, &r, NULL);
	expect_xdp_ret("a new LAN flow with the table full", &r, XDP_REDIRECT);
	s = stats();
	CHECK_EQ(s.ct_evicted, 4, "ct_evicted");
	CHECK_EQ(s.drop_ct_full, 0, "drop_ct_full");
	assert_int_equal(env_ct_get(&E, A_CLIENT, A_REMOTE, 40000, 443, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.state, NAT_CT_ESTABLISHED, "the established flow is still there");
	assert_int_equal(env_ct_get(&E, A_CLIENT2, A_REMOTE, 41000, 443, IPPROTO_TCP, &v), 0);
	CHECK_EQ(ct_count(), 4, "nat_ct entries: two whole flows, no half left");
}

/* The NAT log's events (nat_flowlog): none while nat_config.flow_log is 0;
 * with it set, a START for every flow created, with both keys, kind and
 * WAN, and an END (reason evicted, the ORIG direction's counters) for
 * every flow evicted. Room for two flows (setup_ct5). */
struct flow_events {
	int n;
	struct nat_flow_event ev[16];
};

static int on_flow_event(void *ctx, void *data, size_t size)
{
	struct flow_events *fe = ctx;

	if (size >= sizeof(struct nat_flow_event) && fe->n < 16)
		memcpy(&fe->ev[fe->n++], data, sizeof(struct nat_flow_event));
	return 0;
}

static void flow_log_set(__u32 on)
{
	struct nat_config cfg;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(E.m_config, &zero, &cfg), 0);
	cfg.flow_log = on;
	assert_int_equal(bpf_map_update_elem(E.m_config, &zero, &cfg, BPF_ANY), 0);
}

static void test_flowlog_events(void **state)
{
	struct flow_events fe = {};
	struct ring_buffer *rb;
	struct nat_maps m;
	int starts = 0, ends = 0;
	struct res r;

	(void)state;
	env_maps(&E, &m);
	rb = ring_buffer__new(m.flowlog, on_flow_event, &fe, NULL);
	assert_non_null(rb);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);

	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);	/* flow_log 0; established: */
	syn_ack_reply();				/* never evicted */
	client_ack();
	ring_buffer__consume(rb);
	CHECK_EQ(fe.n, 0, "events while flow_log is 0");

	flow_log_set(1);
	for (int i = 0; i < 3; i++) {	/* one fits, then each evicts the one before */
		struct pk syn = wan_tcp(IP4(192, 0, 2, 100 + i), 30000, A_WAN0, 8080, PK_TCP_SYN);

		xdp_pk(E.if_wan0, &syn, &r, NULL);
		expect_xdp_ret("SYN to the forward", &r, XDP_REDIRECT);
	}
	ring_buffer__consume(rb);
	CHECK_EQ(stats().ct_evicted, 2, "ct_evicted");
	CHECK_EQ(stats().flowlog_lost, 0, "flowlog_lost");
	for (int i = 0; i < fe.n; i++) {
		const struct nat_flow_event *e = &fe.ev[i];

		CHECK_EQ(e->kind, NAT_KIND_FORWARD, "event kind");
		CHECK_EQ(e->wan_ifindex, E.if_wan0, "event WAN");
		CHECK_EQ(e->orig.daddr, htonl(A_WAN0), "ORIG key: to the WAN address");
		CHECK_EQ(e->orig.dport, htons(8080), "ORIG key: the forward's port");
		CHECK_EQ(e->reply.saddr, htonl(A_SERVER), "REPLY key: from the server");
		CHECK_EQ(e->reply.sport, htons(80), "REPLY key: its port");
		CHECK(e->time_ns > 0, "event time");
		if (e->event == NAT_FLOW_EV_START) {
			CHECK_EQ(e->reason, NAT_FLOW_END_NONE, "START reason");
			CHECK_EQ(e->orig.saddr, htonl(IP4(192, 0, 2, 100 + starts)), "START order");
			starts++;
		} else {
			CHECK_EQ(e->event, NAT_FLOW_EV_END, "event");
			CHECK_EQ(e->reason, NAT_FLOW_END_EVICTED, "END reason");
			CHECK_EQ(e->packets[NAT_DIR_ORIG], 1, "END: the SYN counted");
			CHECK_EQ(e->packets[NAT_DIR_REPLY], 0, "END: nothing back");
			CHECK_EQ(e->orig.saddr, htonl(IP4(192, 0, 2, 100 + ends)), "END: the oldest");
			ends++;
		}
	}
	CHECK_EQ(starts, 3, "START events");
	CHECK_EQ(ends, 2, "END events (evicted)");
	ring_buffer__free(rb);
}

/* The tc path's own checksum code (bpf_l4_csum_replace with
 * BPF_F_MARK_MANGLED_0 for UDP, in-place for ICMP): flows created on tc
 * egress of wan0, with a translated port/id (one-port range). */
static void test_tc_checksums(void **state)
{
	uint8_t pl[16] = "tc-zero-landing";
	struct pk u = { .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_CLIENT, .dst = A_DNS,
			.proto = IPPROTO_UDP, .ttl = 63, .id = 0x7c01, .sport = 5353, .dport = 53,
			.payload = udp_pl, .plen = 16 };
	struct pk want;
	struct res r;

	(void)state;
	/* UDP with a checksum */
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 32000, 32000, 1, 0), 0);
	want = u;
	want.src = A_WAN0;
	want.sport = 32000;
	tc_pk(E.if_wan0, &u, &r, NULL);
	expect_tc_ret("UDP on tc", &r, TC_ACT_OK);
	expect_frame("UDP on tc (address and port, checksum updated)", &r, &want);

	/* UDP without a checksum: stays 0 */
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 32001, 32001, 1, 0), 0);
	u.sport = 5354;
	u.udp_nocsum = true;
	want = u;
	want.src = A_WAN0;
	want.sport = 32001;
	tc_pk(E.if_wan0, &u, &r, NULL);
	expect_tc_ret("UDP without checksum on tc", &r, TC_ACT_OK);
	expect_frame("UDP without checksum on tc (stays 0)", &r, &want);

	/* UDP whose translated checksum computes to 0: sent as 0xffff */
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 32002, 32002, 1, 0), 0);
	u.sport = 5355;
	u.udp_nocsum = false;
	want = u;
	want.src = A_WAN0;
	want.sport = 32002;
	make_zero_landing(&want, pl, sizeof(pl));
	u.payload = pl;
	u.plen = sizeof(pl);
	tc_pk(E.if_wan0, &u, &r, NULL);
	expect_tc_ret("UDP landing on 0 on tc", &r, TC_ACT_OK);
	expect_frame("UDP landing on 0 on tc (must be 0xffff)", &r, &want);

	/* ICMP echo: id translated, ICMP checksum */
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 32003, 32003, 1, 0), 0);
	u = (struct pk){ .dmac = MAC_GW, .smac = MAC_WAN0, .src = A_CLIENT, .dst = A_REMOTE,
			 .proto = IPPROTO_ICMP, .ttl = 63, .id = 0x7c02, .type = 8, .icmp_id = 0x0bad,
			 .icmp_seq = 3, .payload = udp_pl, .plen = 16 };
	want = u;
	want.src = A_WAN0;
	want.icmp_id = 32003;
	tc_pk(E.if_wan0, &u, &r, NULL);
	expect_tc_ret("echo request on tc", &r, TC_ACT_OK);
	expect_frame("echo request on tc (id 32003)", &r, &want);
	CHECK_EQ(stats().tc_translated, 4, "tc_translated");
	CHECK_EQ(stats().flows_created, 4, "flows_created");
}

/* The client's own port unreachable about a reply of its masqueraded UDP
 * flow (a DNS answer after it gave up): it must leave as 198.51.100.1,
 * quoting the reply as it arrived (to 198.51.100.1:<port>). On XDP (fast
 * path) and on tc egress of wan0 (kernel path). */
static void test_icmp_err_from_client_masq(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x2225, .sport = 5353, .dport = 53,
			 .payload = udp_pl, .plen = 16 };
	struct pk q, err, want;
	uint8_t qb[PK_MAX], qb2[PK_MAX];
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30000, 30000, 1, 0), 0);
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP out", &r, XDP_REDIRECT);

	/* the answer as the client received it */
	q = (struct pk){ .src = A_DNS, .dst = A_CLIENT, .proto = IPPROTO_UDP, .ttl = 49, .id = 0x3335,
			 .sport = 53, .dport = 5353, .payload = udp_pl, .plen = 16 };
	err = (struct pk){ .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			   .proto = IPPROTO_ICMP, .ttl = 64, .id = 0x4446, .type = 3, .code = 3,
			   .payload = qb, .plen = pk_ip(qb, &q) };
	q.dst = A_WAN0;
	q.dport = 30000;
	want = to_wan0(err);
	want.src = A_WAN0;
	want.payload = qb2;
	want.plen = pk_ip(qb2, &q);
	xdp_pk(E.if_lan0, &err, &r, NULL);
	expect_xdp_ret("client's port unreachable on XDP lan0", &r, XDP_REDIRECT);
	expect_frame("client's port unreachable on XDP lan0 (from 198.51.100.1)", &r, &want);

	/* kernel path: tc egress of wan0 gets it as the kernel forwards it */
	err = to_wan0(err);
	want = err;
	want.src = A_WAN0;
	want.payload = qb2;
	want.plen = pk_ip(qb2, &q);
	tc_pk(E.if_wan0, &err, &r, NULL);
	expect_tc_ret("client's port unreachable on tc egress wan0", &r, TC_ACT_OK);
	expect_frame("client's port unreachable on tc egress wan0 (from 198.51.100.1)", &r, &want);
	CHECK_EQ(stats().icmp_errors_translated, 2, "icmp_errors_translated");
}

/* An inside router (not the flow's endpoint) answers a reply with
 * "fragmentation needed": the error leaves the WAN from the WAN address,
 * the quoted packet translated back, no inside address on the wire. */
static void test_icmp_err_third_party_lan(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x2226, .sport = 5353, .dport = 53,
			 .payload = udp_pl, .plen = 16 };
	struct pk q, err, want;
	uint8_t qb[PK_MAX], qb2[PK_MAX];
	struct res r;

	(void)state;
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 30000, 30000, 1, 0), 0);
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret("UDP out", &r, XDP_REDIRECT);

	/* the reply as the inside router saw it, on its way to the client */
	q = (struct pk){ .src = A_DNS, .dst = A_CLIENT, .proto = IPPROTO_UDP, .ttl = 49, .id = 0x3336,
			 .sport = 53, .dport = 5353, .payload = udp_pl, .plen = 16 };
	err = (struct pk){ .dmac = MAC_LAN0, .smac = MAC_CLIENT2, .src = IP4(192, 168, 0, 99),
			   .dst = A_DNS, .proto = IPPROTO_ICMP, .ttl = 64, .id = 0x4447, .type = 3,
			   .code = 4, .payload = qb, .plen = pk_ip(qb, &q) };
	q.dst = A_WAN0;
	q.dport = 30000;
	want = to_wan0(err);
	want.src = A_WAN0;
	want.payload = qb2;
	want.plen = pk_ip(qb2, &q);
	xdp_pk(E.if_lan0, &err, &r, NULL);
	expect_xdp_ret("an inside router's frag-needed on XDP lan0", &r, XDP_REDIRECT);
	expect_frame("an inside router's frag-needed (from 198.51.100.1)", &r, &want);

	err = to_wan0(err);	/* the kernel path: tc egress of wan0 */
	tc_pk(E.if_wan0, &err, &r, NULL);
	expect_tc_ret("an inside router's frag-needed on tc egress wan0", &r, TC_ACT_OK);
	want = err;
	want.src = A_WAN0;
	want.payload = qb2;
	want.plen = pk_ip(qb2, &q);
	expect_frame("the same on tc egress wan0 (from 198.51.100.1)", &r, &want);
}

/* A packet on the WAN that carries a LAN flow's original tuple (a spoofed
 * LAN source) is not that flow: dropped and counted, the flow untouched. */
static void test_spoofed_lan_tuple_on_wan(void **state)
{
	struct pk spoof = wan_tcp(A_CLIENT, 40000, A_REMOTE, 443, PK_TCP_RST);
	struct nat_ct_value v;
	struct res r;

	(void)state;
	masq_syn(A_CLIENT, MAC_CLIENT, 40000, 40000);
	xdp_pk(E.if_wan0, &spoof, &r, NULL);
	expect_xdp_ret("a LAN flow's tuple arriving on the WAN", &r, XDP_DROP);
	CHECK_EQ(stats().drop_spoofed, 1, "drop_spoofed");
	assert_int_equal(env_ct_get(&E, A_CLIENT, A_REMOTE, 40000, 443, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.state, NAT_CT_SYN_SENT, "the flow's state (the RST was not its)");
	CHECK_EQ(v.packets, 1, "the flow's packets");
}

static void set_iface_flags(int ifindex, __u8 flags)
{
	__u32 k = (__u32)ifindex;
	struct nat_iface v;

	assert_int_equal(bpf_map_lookup_elem(E.m_ifaces, &k, &v), 0);
	v.flags = flags;
	assert_int_equal(bpf_map_update_elem(E.m_ifaces, &k, &v, BPF_EXIST), 0);
}

/* Unsolicited from the WAN to a LAN address: a CPE drops it (counted);
 * `inbound wan0 accept` routes it; so does a WAN without `outbound`. */
static void test_inbound_policy(void **state)
{
	struct pk syn = wan_tcp(A_REMOTE, 50000, A_CLIENT, 22, PK_TCP_SYN);
	struct pk own = wan_tcp(A_REMOTE, 50000, A_WAN0, 22, PK_TCP_SYN);
	struct pk sa = lan_tcp(A_CLIENT, MAC_CLIENT, 22, A_REMOTE, 50000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk want;
	struct res r;

	(void)state;
	xdp_pk(E.if_wan0, &syn, &r, NULL);
	expect_xdp_ret("unsolicited SYN to a LAN host", &r, XDP_DROP);
	CHECK_EQ(stats().drop_inbound, 1, "drop_inbound");
	xdp_pk(E.if_wan0, &own, &r, NULL);
	expect_xdp_ret("to the router's own address (the kernel decides)", &r, XDP_PASS);
	CHECK_EQ(stats().drop_inbound, 1, "drop_inbound (the router's own is not inbound)");

	/* `inbound wan0 accept`: routed as it is, and tracked, so that the
	 * answer leaves wan0 untranslated (not masqueraded, not stopped by
	 * the leak guard) */
	set_iface_flags(E.if_wan0, NAT_IFACE_F_INBOUND_ACCEPT);
	want = to_lan(syn, MAC_CLIENT);
	xdp_pk(E.if_wan0, &syn, &r, NULL);
	expect_xdp_ret("inbound accept", &r, XDP_REDIRECT);
	expect_frame("inbound accept: routed untranslated", &r, &want);
	expect_ct("routed flow", &(struct ct_want){
		.s = A_REMOTE, .d = A_CLIENT, .sp = 50000, .dp = 22, .proto = IPPROTO_TCP,
		.ts = A_REMOTE, .td = A_CLIENT, .tsp = 50000, .tdp = 22, .wan = E.if_wan0,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_ROUTED, .state = NAT_CT_SYN_SENT,
		.packets = 1, .bytes = 40 });
	want = to_wan0(sa);
	xdp_pk(E.if_lan0, &sa, &r, NULL);
	expect_xdp_ret("the LAN host's SYN-ACK", &r, XDP_REDIRECT);
	expect_frame("the LAN host's SYN-ACK leaves untranslated", &r, &want);
	CHECK_EQ(ct_count(), 2, "one routed flow");
	CHECK_EQ(stats().drop_no_flow, 0, "drop_no_flow");

	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 1024, 65535, 0, 0), 0);
	syn.sport = 50001;
	xdp_pk(E.if_wan0, &syn, &r, NULL);
	expect_xdp_ret("a routed WAN (no outbound)", &r, XDP_PASS);
	CHECK_EQ(stats().drop_inbound, 1, "drop_inbound");
	CHECK_EQ(ct_count(), 2, "no flow for a routed uplink's traffic");
}

/* An L3 WAN (PPP, WireGuard, tun: no Ethernet header; xdpnat_xdp_l3w in
 * generic mode). LAN -> WAN is never redirected into it (the kernel path,
 * then tc egress); WAN -> LAN arrives as a bare IP packet and leaves for
 * the Ethernet LAN with its Ethernet header added, translated. */
static void test_l3_wan(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk want;
	uint8_t ip[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	set_iface_flags(E.if_wan0, NAT_IFACE_F_L3);
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("SYN from the LAN towards an L3 WAN", &r, XDP_PASS);
	expect_frame("SYN towards an L3 WAN: untouched, for the kernel and tc", &r, &syn);
	CHECK_EQ(ct_count(), 2, "the flow is created all the same");

	n = pk_ip(ip, &sa);	/* no Ethernet header */
	xdp_raw(E.if_wan0, ip, n, &r);
	expect_xdp_ret("SYN-ACK as a bare IP packet on the L3 WAN", &r, XDP_REDIRECT);
	want = to_lan(sa, MAC_CLIENT);
	want.dst = A_CLIENT;
	want.smac = MAC_LAN0;
	expect_frame("SYN-ACK leaves for the LAN with an Ethernet header, translated", &r, &want);
	expect_states("after the SYN-ACK over the L3 WAN", NAT_CT_SYN_RECV);

	/* a bare IPv6 packet (version 6 first) is not ours */
	ip[0] = 0x60;
	xdp_raw(E.if_wan0, ip, n, &r);
	expect_xdp_ret("IPv6 on the L3 WAN", &r, XDP_PASS);
	CHECK_EQ(r.len, n, "IPv6 on the L3 WAN: untouched");
}

/* ============================================================ MSS clamping */

/* nat_iface.mss of a WAN, as wanstate writes it from `wan <if> mss-clamp`. */
static void set_wan_mss(int ifindex, uint16_t mss)
{
	struct nat_iface v;
	__u32 k = (__u32)ifindex;

	assert_int_equal(bpf_map_lookup_elem(E.m_ifaces, &k, &v), 0);
	v.mss = mss;
	assert_int_equal(bpf_map_update_elem(E.m_ifaces, &k, &v, BPF_ANY), 0);
}

/* The Ethernet frame of TCP segment p with TCP options opts (optlen a
 * multiple of 4; p carries no payload), every checksum computed from
 * scratch. */
static size_t tcp_opts_frame(uint8_t *f, const struct pk *p, const uint8_t *opts, size_t optlen)
{
	uint8_t l4[PK_MAX], ip[PK_MAX];
	struct pk q = *p;
	size_t n;
	uint16_t c;

	assert_int_equal(optlen % 4, 0);
	q.payload = opts;
	q.plen = optlen;
	n = pk_l4(l4, &q);
	l4[12] = (uint8_t)((5 + optlen / 4) << 4);
	l4[16] = l4[17] = 0;
	c = (uint16_t)~ck_fold(ck_sum(ck_pseudo(q.src, q.dst, IPPROTO_TCP, (uint16_t)n), l4, n));
	l4[16] = (uint8_t)(c >> 8);
	l4[17] = (uint8_t)c;
	n = pk_ip_wrap(ip, &q, l4, n);
	return pk_eth_wrap(f, &q, ip, n);
}

/* The options of a Linux SYN: MSS, SACK permitted, timestamps, NOP, wscale. */
#define OPTS_LINUX(hi, lo) { 2, 4, hi, lo, 4, 2, 8, 10, 0, 1, 0x86, 0xa0, 0, 0, 0, 0, 1, 3, 3, 7 }

/* Run `in` (with options in_opts) through XDP (ifx) or tc egress (tc), and
 * expect `want` with options want_opts, checksums verified independently. */
static void mss_case(const char *what, bool tc, int ifx, const struct pk *in, const uint8_t *in_opts,
		     const struct pk *want, const uint8_t *want_opts, size_t optlen, uint32_t ret)
{
	uint8_t f[PK_MAX], w[PK_MAX];
	size_t n = tcp_opts_frame(f, in, in_opts, optlen);
	size_t wn = tcp_opts_frame(w, want, want_opts, optlen);
	struct res r;

	if (tc) {
		tc_raw(ifx, f, n, &r);
		expect_tc_ret(what, &r, ret);
	} else {
		xdp_raw(ifx, f, n, &r);
		expect_xdp_ret(what, &r, ret);
	}
	expect_csums(what, &r);
	expect_bytes(what, &r, w, wn);
}

/* A LAN client's SYN with MSS 1460 leaves a WAN with mss-clamp 1452 with
 * 1452, and the SYN-ACK coming back with 1460 reaches the client with
 * 1452: on the XDP fast path, checksums right. */
static void test_mss_clamp_masq(void **state)
{
	static const uint8_t o1460[] = OPTS_LINUX(0x05, 0xb4), o1452[] = OPTS_LINUX(0x05, 0xac);
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk want;

	(void)state;
	set_wan_mss(E.if_wan0, 1452);
	want = to_wan0(syn);
	want.src = A_WAN0;
	mss_case("SYN LAN->WAN, MSS 1460 -> 1452", false, E.if_lan0, &syn, o1460, &want, o1452,
		 sizeof(o1460), XDP_REDIRECT);
	want = to_lan(sa, MAC_CLIENT);
	want.dst = A_CLIENT;
	mss_case("SYN-ACK WAN->LAN, MSS 1460 -> 1452", false, E.if_wan0, &sa, o1460, &want, o1452,
		 sizeof(o1460), XDP_REDIRECT);
	expect_states("after the clamped handshake", NAT_CT_SYN_RECV);
}

/* A smaller MSS is left alone; no clamping with mss 0; a segment without
 * SYN is never touched, MSS option or not. */
static void test_mss_clamp_leaves_alone(void **state)
{
	static const uint8_t o1400[] = OPTS_LINUX(0x05, 0x78), o1460[] = OPTS_LINUX(0x05, 0xb4);
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk ack = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_ACK);
	struct pk want;

	(void)state;
	set_wan_mss(E.if_wan0, 1452);
	want = to_wan0(syn);
	want.src = A_WAN0;
	mss_case("SYN with MSS 1400 (below 1452): unchanged", false, E.if_lan0, &syn, o1400, &want,
		 o1400, sizeof(o1400), XDP_REDIRECT);
	want = to_wan0(ack);
	want.src = A_WAN0;
	mss_case("ACK carrying an MSS option 1460: unchanged", false, E.if_lan0, &ack, o1460, &want,
		 o1460, sizeof(o1460), XDP_REDIRECT);

	set_wan_mss(E.if_wan0, 0);
	syn.sport = ack.sport = 40001;
	want = to_wan0(syn);
	want.src = A_WAN0;
	mss_case("SYN with MSS 1460, mss-clamp off: unchanged", false, E.if_lan0, &syn, o1460,
		 &want, o1460, sizeof(o1460), XDP_REDIRECT);
}

/* The MSS option after others: at an even offset after timestamps,
 * wscale and SACK permitted, and at an odd one after a single NOP (its
 * bytes straddle two checksum words); an option list that ends (EOL)
 * before an MSS option, and one with a malformed length, are left alone. */
static void test_mss_clamp_option_order(void **state)
{
	static const uint8_t late_in[] = { 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7,
					   4, 2, 2, 4, 0x05, 0xb4, 0, 0 };
	static const uint8_t late_out[] = { 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7,
					    4, 2, 2, 4, 0x05, 0x78, 0, 0 };
	static const uint8_t odd_in[] = { 1, 2, 4, 0xff, 0xd7, 1, 1, 1 };	/* MSS 65495 */
	static const uint8_t odd_out[] = { 1, 2, 4, 0x05, 0x78, 1, 1, 1 };
	static const uint8_t eol[] = { 1, 0, 2, 4, 0x05, 0xb4, 0, 0 };
	static const uint8_t bad[] = { 1, 8, 1, 2, 4, 0x05, 0xb4, 0 };	/* len 1: malformed */
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN);
	struct pk want;

	(void)state;
	set_wan_mss(E.if_wan0, 1400);
	want = to_wan0(syn);
	want.src = A_WAN0;
	mss_case("MSS after TS, wscale, SACK-perm: 1460 -> 1400", false, E.if_lan0, &syn, late_in,
		 &want, late_out, sizeof(late_in), XDP_REDIRECT);
	for (uint16_t odd = 0; odd < 2; odd++) {
		uint8_t in[sizeof(odd_in)], out[sizeof(odd_out)];

		memcpy(in, odd_in, sizeof(in));
		memcpy(out, odd_out, sizeof(out));
		if (odd) {
			in[3] = 0x05;	/* 1400: equal to the clamp, unchanged */
			in[4] = 0x78;
			memcpy(out, in, sizeof(out));
		}
		syn.sport = (uint16_t)(40001 + odd);
		want = to_wan0(syn);
		want.src = A_WAN0;
		mss_case(odd ? "MSS 1400 at an odd offset: unchanged"
			     : "MSS at an odd offset (after one NOP): 65495 -> 1400",
			 false, E.if_lan0, &syn, in, &want, out, sizeof(in), XDP_REDIRECT);
	}
	syn.sport = 40003;
	want = to_wan0(syn);
	want.src = A_WAN0;
	mss_case("MSS after EOL: not an option, unchanged", false, E.if_lan0, &syn, eol, &want, eol,
		 sizeof(eol), XDP_REDIRECT);
	syn.sport = 40004;
	want = to_wan0(syn);
	want.src = A_WAN0;
	mss_case("malformed option before MSS: unchanged", false, E.if_lan0, &syn, bad, &want, bad,
		 sizeof(bad), XDP_REDIRECT);
}

/* A forward: the SYN coming in from the Internet and the server's SYN-ACK
 * going out are both clamped. */
static void test_mss_clamp_forward(void **state)
{
	static const uint8_t o1460[] = OPTS_LINUX(0x05, 0xb4), o1452[] = OPTS_LINUX(0x05, 0xac);
	struct pk syn = wan_tcp(A_GW, 40000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk sa = { .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_GW,
			 .proto = IPPROTO_TCP, .ttl = 64, .id = 0x7007, .frag = PK_IP_DF, .sport = 80,
			 .dport = 40000, .flags = PK_TCP_SYN | PK_TCP_ACK, .seq = 9000, .ack = 5001 };
	struct pk want;

	(void)state;
	set_wan_mss(E.if_wan0, 1452);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	want = to_lan(syn, MAC_SERVER);
	want.dst = A_SERVER;
	want.dport = 80;
	mss_case("forwarded SYN WAN->LAN: 1460 -> 1452", false, E.if_wan0, &syn, o1460, &want,
		 o1452, sizeof(o1460), XDP_REDIRECT);
	want = to_wan0(sa);
	want.src = A_WAN0;
	want.sport = 8080;
	mss_case("server's SYN-ACK LAN->WAN: 1460 -> 1452", false, E.if_lan0, &sa, o1460, &want,
		 o1452, sizeof(o1460), XDP_REDIRECT);
}

/* The kernel path of a forward (no neighbours): the SYN from the Internet
 * is clamped by XDP on wan0 as it translates its destination and passes
 * it; the server's SYN-ACK, passed untouched by XDP on lan0, is clamped on
 * tc egress of wan0. */
static void test_mss_clamp_forward_kernel_path(void **state)
{
	static const uint8_t o1460[] = OPTS_LINUX(0x05, 0xb4), o1452[] = OPTS_LINUX(0x05, 0xac);
	struct pk syn = wan_tcp(A_GW, 40000, A_WAN0, 8080, PK_TCP_SYN);
	struct pk sa = { .dmac = MAC_LAN0, .smac = MAC_SERVER, .src = A_SERVER, .dst = A_GW,
			 .proto = IPPROTO_TCP, .ttl = 64, .id = 0x7107, .frag = PK_IP_DF, .sport = 80,
			 .dport = 40000, .flags = PK_TCP_SYN | PK_TCP_ACK, .seq = 9000, .ack = 5001 };
	struct pk half = syn, kern, want;

	(void)state;
	set_wan_mss(E.if_wan0, 1452);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	assert_int_equal(env_sh("ip neigh del 192.168.0.254 dev lan0 && ip neigh del 198.51.100.2 dev wan0"), 0);
	half.dst = A_SERVER;
	half.dport = 80;
	mss_case("forwarded SYN, kernel path (XDP on wan0): 1460 -> 1452", false, E.if_wan0, &syn,
		 o1460, &half, o1452, sizeof(o1460), XDP_PASS);
	mss_case("server's SYN-ACK on lan0, kernel path: untouched by XDP", false, E.if_lan0, &sa,
		 o1460, &sa, o1460, sizeof(o1460), XDP_PASS);
	kern = to_wan0(sa);
	want = kern;
	want.src = A_WAN0;
	want.sport = 8080;
	mss_case("server's SYN-ACK on tc egress wan0: 1460 -> 1452", true, E.if_wan0, &kern, o1460,
		 &want, o1452, sizeof(o1460), TC_ACT_OK);
}

/* The kernel path: a SYN translated on tc egress of the WAN is clamped
 * there, with bpf_l4_csum_replace(), the MSS at an even and at an odd
 * offset. */
static void test_mss_clamp_tc(void **state)
{
	static const uint8_t o1460[] = OPTS_LINUX(0x05, 0xb4), o1452[] = OPTS_LINUX(0x05, 0xac);
	static const uint8_t odd_in[] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 1 };
	static const uint8_t odd_out[] = { 1, 2, 4, 0x05, 0xac, 1, 1, 1 };
	struct pk syn = to_wan0(lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 443, PK_TCP_SYN));
	struct pk want;

	(void)state;
	set_wan_mss(E.if_wan0, 1452);
	want = syn;
	want.src = A_WAN0;
	mss_case("SYN on tc egress of wan0: 1460 -> 1452", true, E.if_wan0, &syn, o1460, &want,
		 o1452, sizeof(o1460), TC_ACT_OK);
	syn.sport = 40001;
	want = syn;
	want.src = A_WAN0;
	mss_case("SYN on tc egress of wan0, MSS at an odd offset: 1460 -> 1452", true, E.if_wan0,
		 &syn, odd_in, &want, odd_out, sizeof(odd_in), TC_ACT_OK);
	CHECK_EQ(stats().tc_translated, 2, "tc_translated");

}

/* Fragment i (0: first, 1: second) of a 68-byte UDP datagram from src
 * (on lan0) to the DNS server, IP id `id`, into f; its length. */
static size_t lan_frag(uint8_t *f, uint32_t src, const uint8_t *smac, uint16_t id, int i)
{
	uint8_t pl[60], seg[PK_MAX], ip[PK_MAX];
	struct pk d = { .dmac = MAC_LAN0, .smac = smac, .src = src, .dst = A_DNS,
			.proto = IPPROTO_UDP, .ttl = 64, .id = id, .sport = 5353, .dport = 53,
			.payload = pl, .plen = sizeof(pl) };
	size_t nseg, nip;

	memset(pl, 0x5a, sizeof(pl));
	nseg = pk_l4(seg, &d);
	d.frag = (uint16_t)(i ? 32 / 8 : PK_IP_MF);
	nip = pk_ip_wrap(ip, &d, seg + (i ? 32 : 0), i ? nseg - 32 : 32);
	return pk_eth_wrap(f, &d, ip, nip);
}

/* One host spraying first fragments cannot push another host's datagram
 * out of nat_frag: past its rate its own are not recorded (counted); the
 * other's second fragment is still translated. A record older than the
 * reassembly timeout is not used. */
static void test_fragment_spray_and_timeout(void **state)
{
	struct nat_frag_key fk = { .saddr = htonl(A_CLIENT), .daddr = htonl(A_DNS),
				   .id = htons(0x7777), .proto = IPPROTO_UDP };
	struct nat_frag_value fv;
	uint8_t f[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	for (int k = 0; k < NAT_FRAG_SRC_BURST + 100; k++) {
		n = lan_frag(f, A_CLIENT2, MAC_CLIENT2, (uint16_t)(0x1000 + k), 0);
		xdp_raw(E.if_lan0, f, n, &r);
	}
	CHECK(stats().frag_src_limited >= 90, "frag_src_limited %llu after the spray",
	      (unsigned long long)stats().frag_src_limited);

	n = lan_frag(f, A_CLIENT, MAC_CLIENT, 0x7777, 0);
	xdp_raw(E.if_lan0, f, n, &r);
	expect_xdp_ret("another host's first fragment", &r, XDP_REDIRECT);
	n = lan_frag(f, A_CLIENT, MAC_CLIENT, 0x7777, 1);
	xdp_raw(E.if_lan0, f, n, &r);
	expect_xdp_ret("its second fragment, translated", &r, XDP_REDIRECT);
	CHECK_EQ(pk_get32(r.buf + 14 + 12), A_WAN0, "second fragment's source");

	assert_int_equal(bpf_map_lookup_elem(E.m_frag, &fk, &fv), 0);
	fv.seen -= (NAT_FRAG_TIMEOUT + 1) * (1000000000U >> NAT_TICK_SHIFT);
	assert_int_equal(bpf_map_update_elem(E.m_frag, &fk, &fv, BPF_EXIST), 0);
	xdp_raw(E.if_lan0, f, n, &r);
	expect_xdp_ret("a fragment past the reassembly timeout: not translated", &r, XDP_PASS);
}

/* A fragmented reply from the WAN: the first fragment records the
 * translation, the second follows it. */
static void test_fragments_wan_to_lan(void **state)
{
	uint8_t pl[60], seg[PK_MAX], segw[PK_MAX], f[PK_MAX], w[PK_MAX], ip[PK_MAX], re[PK_MAX];
	struct pk q = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			.proto = IPPROTO_UDP, .ttl = 64, .id = 0x8888, .sport = 5353, .dport = 53,
			.payload = udp_pl, .plen = 16 };
	struct pk d = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
			.proto = IPPROTO_UDP, .ttl = 50, .id = 0x9999, .sport = 53, .dport = 5353 };
	struct pk dw, fp;
	struct res r1, r2;
	size_t nseg, n, nip;

	(void)state;
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 31 + 5);
	d.payload = pl;
	d.plen = sizeof(pl);
	xdp_pk(E.if_lan0, &q, &r1, NULL);
	expect_xdp_ret("query out", &r1, XDP_REDIRECT);

	nseg = pk_l4(seg, &d);			/* 68 bytes: 32 + 36 */
	dw = to_lan(d, MAC_CLIENT);
	dw.dst = A_CLIENT;
	pk_l4(segw, &dw);
	for (int i = 0; i < 2; i++) {
		size_t off = i ? 32 : 0, len = i ? nseg - 32 : 32;
		struct res *rr = i ? &r2 : &r1;

		fp = d;
		fp.frag = (uint16_t)(i ? 32 / 8 : PK_IP_MF);
		nip = pk_ip_wrap(ip, &fp, seg + off, len);
		n = pk_eth_wrap(f, &fp, ip, nip);
		xdp_raw(E.if_wan0, f, n, rr);
		expect_xdp_ret(i ? "second fragment from WAN" : "first fragment from WAN", rr, XDP_REDIRECT);
		fp = dw;
		fp.frag = (uint16_t)(i ? 32 / 8 : PK_IP_MF);
		nip = pk_ip_wrap(ip, &fp, segw + off, len);
		n = pk_eth_wrap(w, &fp, ip, nip);
		expect_csums("fragment from WAN", rr);
		expect_bytes(i ? "second fragment from WAN" : "first fragment from WAN", rr, w, n);
	}
	memcpy(re, r1.buf + 34, 32);
	memcpy(re + 32, r2.buf + 34, nseg - 32);
	CHECK(ck_verify_udp(A_DNS, A_CLIENT, re, nseg) == 0,
	      "UDP checksum of the reassembled datagram is wrong (field 0x%04x)", pk_get16(re + 6));
}


/* ---------------------------------------------- next-hop cache (struct nat_nh) */

static const uint8_t MAC_GW_NEW[6] = { 0x02, 0x00, 0x00, 0x64, 0x00, 0x99 };

/* 192.168.0.10:5353 -> 192.0.2.53:53, as test_udp_masq's request. */
static struct pk nh_req(void)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3003, .sport = 5353, .dport = 53,
			 .payload = dns_q, .plen = sizeof(dns_q) - 1 };
	return in;
}

static struct nat_ct_value nh_entry(const char *what)
{
	struct nat_ct_value v;

	memset(&v, 0, sizeof(v));
	CHECK(env_ct_get(&E, A_CLIENT, A_DNS, 5353, 53, IPPROTO_UDP, &v) == 0, "%s: no flow entry", what);
	return v;
}

/*
 * A cached next hop also expires with the clock epoch (2^30 ns, see
 * NAT_ROUTE_EPOCH_SHIFT). Tests that expect a cached MAC to be used start
 * right after an epoch boundary, so that their few steps (well under
 * 300 ms) cannot straddle the next one.
 */
static void nh_epoch_start(void)
{
	const uint64_t epoch = 1ULL << NAT_ROUTE_EPOCH_SHIFT;
	struct timespec ts;
	uint64_t now, left;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	left = epoch - (now & (epoch - 1));
	if (left < 300000000ULL)
		usleep((useconds_t)(left / 1000 + 20000));
}

/* One request; its frame must leave wan0 with next-hop MAC gw. */
static void nh_send(const char *what, const uint8_t *gw)
{
	struct pk in = nh_req(), want = to_wan0(in);
	struct res r;

	want.src = A_WAN0;
	want.dmac = gw;
	xdp_pk(E.if_lan0, &in, &r, NULL);
	expect_xdp_ret(what, &r, XDP_REDIRECT);
	expect_frame(what, &r, &want);
}

/* The first packet caches the next hop; later ones use it until the
 * controller sees a change: a neighbour's new MAC address is used from
 * the first packet after the bump, not before. */
static void test_nh_cache_neigh_change(void **state)
{
	struct nat_ct_value v;

	(void)state;
	nh_epoch_start();
	nh_send("first packet (FIB lookup)", MAC_GW);
	v = nh_entry("after the first packet");
	CHECK_EQ(v.nh.slot, env_slot(&E, E.if_wan0) + 1, "cached egress slot (wan0 + 1)");
	CHECK(!memcmp(v.nh.dmac, MAC_GW, 6), "cached next-hop MAC is the gateway's");
	CHECK(!env_sh("ip neigh replace 198.51.100.2 lladdr 02:00:00:64:00:99 dev wan0 nud permanent"),
	      "ip neigh replace");
	E.routegen_auto = 0;		/* the controller has not read the notification yet */
	nh_send("before the controller sees the change: cached MAC", MAC_GW);
	CHECK(env_routegen(&E) == 0, "routegen_process");
	nh_send("after the bump: the new MAC", MAC_GW_NEW);
	v = nh_entry("after the change");
	CHECK(!memcmp(v.nh.dmac, MAC_GW_NEW, 6), "the cache holds the new MAC");
	E.routegen_auto = 1;
}

/* A route change moves a reply to another next hop at once. */
static void test_nh_cache_route_change(void **state)
{
	struct pk rep = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
			  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4004, .sport = 53, .dport = 5353,
			  .payload = dns_q, .plen = sizeof(dns_q) - 3 };
	struct pk want;
	struct res r;

	(void)state;
	nh_epoch_start();
	nh_send("request", MAC_GW);
	want = to_lan(rep, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_frame("reply to the client", &r, &want);
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_frame("second reply to the client (cached)", &r, &want);
	CHECK(!env_sh("ip route add 192.168.0.10/32 via 192.168.0.254 dev lan0"), "ip route add");
	want.dmac = MAC_SERVER;
	xdp_pk(E.if_wan0, &rep, &r, NULL);
	expect_xdp_ret("reply after the route change", &r, XDP_REDIRECT);
	expect_frame("reply now goes via 192.168.0.254", &r, &want);
}

/* Without any bump, a cached next hop is still dropped when its direction
 * was idle (NAT_NH_IDLE_TICKS) or its tag is not the current one. */
static void test_nh_cache_idle_and_tag(void **state)
{
	struct nat_ct_key k = { .saddr = htonl(A_CLIENT), .daddr = htonl(A_DNS), .sport = htons(5353),
				.dport = htons(53), .proto = IPPROTO_UDP };
	struct nat_ct_value v;

	(void)state;
	nh_epoch_start();
	nh_send("first packet", MAC_GW);
	CHECK(!env_sh("ip neigh replace 198.51.100.2 lladdr 02:00:00:64:00:99 dev wan0 nud permanent"),
	      "ip neigh replace");
	E.routegen_auto = 0;		/* no bump in this test */
	nh_send("cached", MAC_GW);
	v = nh_entry("idle");
	v.last_seen -= 2 * NAT_NH_IDLE_TICKS;
	CHECK(ct_put(&E.ct, &k, &v, BPF_EXIST) == 0, "age the entry");
	nh_send("after an idle gap: looked up again", MAC_GW_NEW);
	CHECK(!env_sh("ip neigh replace 198.51.100.2 lladdr 02:00:00:64:00:02 dev wan0 nud permanent"),
	      "ip neigh replace back");
	nh_send("cached again", MAC_GW_NEW);
	v = nh_entry("tag");
	v.nh.tag++;
	CHECK(ct_put(&E.ct, &k, &v, BPF_EXIST) == 0, "change the tag");
	nh_send("with a stale tag: looked up again", MAC_GW);
	E.routegen_auto = 1;
}

/* A route whose MTU is below the interface's is never cached (the cache
 * checks sizes against the interface MTU only): a large packet of the
 * flow still goes to the kernel, which sends "fragmentation needed". */
static void test_nh_cache_route_mtu(void **state)
{
	static uint8_t big[1200];
	struct pk in = nh_req();
	struct nat_ct_value v;
	uint8_t raw[PK_MAX];
	struct res r;
	size_t n;

	(void)state;
	CHECK(!env_sh("ip route replace default via 198.51.100.2 dev wan0 mtu lock 1000"),
	      "ip route replace ... mtu lock 1000");
	nh_send("small packet", MAC_GW);
	v = nh_entry("route MTU below the interface MTU");
	CHECK_EQ(v.nh.slot, 0, "nothing cached");
	in.payload = big;
	in.plen = sizeof(big);
	n = xdp_pk(E.if_lan0, &in, &r, raw);
	expect_xdp_ret("1228-byte packet over a 1000-byte route", &r, XDP_PASS);
	(void)n;
	CHECK(stats().passed_to_kernel >= 1, "passed to the kernel");
}

/* A slot that does not describe the interface the FIB chose (the
 * controller has not caught up with a MAC change) is not cached from. */
static void test_nh_cache_slot_mismatch(void **state)
{
	struct nat_ifslot s;
	__u32 k = (__u32)env_slot(&E, E.if_wan0);
	struct nat_ct_value v;

	(void)state;
	nh_epoch_start();
	CHECK(bpf_map_lookup_elem(E.m_ifslots, &k, &s) == 0, "slot of wan0");
	CHECK_EQ(s.ifindex, (uint32_t)E.if_wan0, "slot ifindex");
	CHECK(!memcmp(s.mac, MAC_WAN0, 6), "slot MAC is wan0's (from the link dump)");
	s.mac[5] ^= 1;
	CHECK(bpf_map_update_elem(E.m_ifslots, &k, &s, BPF_ANY) == 0, "spoil the slot");
	E.routegen_auto = 0;
	nh_send("packet (FIB lookup)", MAC_GW);
	v = nh_entry("slot mismatch");
	CHECK_EQ(v.nh.slot, 0, "nothing cached");
	/* a link notification rewrites the slot */
	CHECK(!env_sh("ip link set wan0 mtu 1400"), "ip link set mtu");
	CHECK(env_routegen(&E) == 0, "routegen_process");
	CHECK(bpf_map_lookup_elem(E.m_ifslots, &k, &s) == 0, "slot of wan0 again");
	CHECK(!memcmp(s.mac, MAC_WAN0, 6) && s.mtu == 1400, "slot rewritten: MAC %02x, MTU %u",
	      s.mac[5], s.mtu);
	nh_send("packet", MAC_GW);
	v = nh_entry("slot rewritten");
	CHECK_EQ(v.nh.slot, env_slot(&E, E.if_wan0) + 1, "cached now");
	E.routegen_auto = 1;
}

/* ------------------------------------------------------------------ */

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ============================================================ FTP control flows without the ALG */

static void set_ftp_port(uint16_t port)
{
	struct nat_config cfg;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(E.m_config, &zero, &cfg), 0);
	cfg.ftp_ports[0] = port;
	assert_int_equal(bpf_map_update_elem(E.m_config, &zero, &cfg, BPF_ANY), 0);
}

static uint8_t ct_flags(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp)
{
	struct nat_ct_value v;

	if (env_ct_get(&E, s, d, sp, dp, IPPROTO_TCP, &v)) {
		diag("no nat_ct entry %08x:%u -> %08x:%u\n", s, sp, d, dp);
		fail();
	}
	return v.flags & ~(NAT_CT_F_TD_END | NAT_CT_F_TD_ACK);	/* tracking bits */
}

static void ct_add_flags(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t flags)
{
	struct nat_ct_key k = { .saddr = htonl(s), .daddr = htonl(d), .sport = htons(sp),
				.dport = htons(dp), .proto = IPPROTO_TCP };
	struct nat_ct_value v;

	assert_int_equal(ct_get(&E.ct, &k, &v), 0);
	v.flags |= flags;
	assert_int_equal(ct_put(&E.ct, &k, &v, BPF_EXIST), 0);
}

/* A control connection 192.168.0.10:sp -> 192.0.2.80:21 (case A). */
static struct pk ftp_cmd(uint16_t sp, const char *text)
{
	struct pk p = lan_tcp(A_CLIENT, MAC_CLIENT, sp, A_REMOTE, 21, PK_TCP_ACK | PK_TCP_PSH);

	p.payload = (const uint8_t *)text;
	p.plen = strlen(text);
	return p;
}

/*
 * The restart window: an inspected control flow (NAT_CT_F_ALG, not
 * opaque) whose ALG socket is not in nat_xsks. Every packet of it, from
 * either side, is dropped and counted, also one that would otherwise take
 * the kernel path (IP options) and so pass the ALG by. Once the flow is
 * handed back (opaque), XDP forwards it itself.
 */
static void test_alg_down_drops(void **state)
{
	static const uint8_t opts[4] = { 0x01, 0x01, 0x01, 0x00 };
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 21, PK_TCP_SYN);
	struct pk sa = wan_tcp(A_REMOTE, 21, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK);
	struct pk cmd = ftp_cmd(40000, "PASV\r\n"), opt = cmd, want;
	struct nat_stats st;
	struct res r;

	(void)state;
	set_ftp_port(21);
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("control SYN, no ALG socket", &r, XDP_DROP);
	CHECK_EQ(ct_flags(A_CLIENT, A_REMOTE, 40000, 21), NAT_CT_F_ALG, "orig entry flags");
	CHECK_EQ(ct_flags(A_REMOTE, A_WAN0, 21, 40000), NAT_CT_F_ALG, "reply entry flags");
	xdp_pk(E.if_wan0, &sa, &r, NULL);
	expect_xdp_ret("server's SYN-ACK, no ALG socket", &r, XDP_DROP);
	xdp_pk(E.if_lan0, &cmd, &r, NULL);
	expect_xdp_ret("PASV, no ALG socket", &r, XDP_DROP);
	opt.opts = opts;
	opt.optlen = 4;
	xdp_pk(E.if_lan0, &opt, &r, NULL);
	expect_xdp_ret("PASV with IP options, no ALG socket (not the kernel path)", &r, XDP_DROP);
	st = stats();
	CHECK_EQ(st.drop_alg_down, 4, "drop_alg_down");
	CHECK_EQ(st.flows_created, 1, "flows_created");
	CHECK_EQ(st.xdp_forwarded + st.passed_to_kernel + st.passed_untouched, 0,
		 "forwarded, passed to the kernel or untouched");
	CHECK_EQ(st.alg_to_user + st.alg_off_passed + st.alg_off_flows, 0, "ALG counters");

	/* handed back to XDP: forwarded by it, nothing dropped any more */
	ct_add_flags(A_CLIENT, A_REMOTE, 40000, 21, NAT_CT_F_OPAQUE);
	ct_add_flags(A_REMOTE, A_WAN0, 21, 40000, NAT_CT_F_OPAQUE);
	want = to_wan0(cmd);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &cmd, &r, NULL);
	expect_xdp_ret("PASV of the opaque flow", &r, XDP_REDIRECT);
	expect_frame("PASV of the opaque flow", &r, &want);
	st = stats();
	CHECK_EQ(st.drop_alg_down, 4, "drop_alg_down after hand-back");
	CHECK_EQ(st.xdp_forwarded, 1, "xdp_forwarded");
}

/* The ALG's socket on lan0 queue 0: the control packet goes to it with the
 * metadata in front; the moment the socket leaves nat_xsks (the ALG
 * stopping) the next one is dropped, not forwarded uninspected. */
static void test_alg_socket_then_gone(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 21, PK_TCP_SYN);
	struct pk want = to_wan0(syn);
	struct alg_xsk x = {};
	struct nat_alg_meta meta;
	uint8_t f[PK_MAX];
	struct nat_stats st;
	struct res r;
	size_t n;

	(void)state;
	set_ftp_port(21);
	assert_int_equal(alg_xsk_open(&x, "lan0", E.if_lan0, 0, true), 0);
	assert_int_equal(alg_xsk_enter(&x, E.m_xsks, env_slot(&E, E.if_lan0)), 0);
	want.src = A_WAN0;
	n = pk_frame(f, &want);
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("control SYN, ALG socket there", &r, XDP_REDIRECT);
	/* test runs hand back the metadata in front of the frame */
	CHECK_EQ(r.len, n + sizeof(meta), "frame length with metadata");
	memcpy(&meta, r.buf, sizeof(meta));
	CHECK_EQ(meta.ingress_ifindex, E.if_lan0, "meta.ingress_ifindex");
	CHECK_EQ(meta.egress_ifindex, E.if_wan0, "meta.egress_ifindex");
	CHECK_EQ(ntohs(meta.key.dport), 21, "meta.key.dport");
	CHECK(r.len == n + sizeof(meta) && !memcmp(r.buf + sizeof(meta), f, n),
	      "translated frame behind the metadata");
	st = stats();
	CHECK_EQ(st.alg_to_user, 1, "alg_to_user");
	CHECK_EQ(st.drop_alg_down, 0, "drop_alg_down");

	alg_xsk_remove(&x);
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("retransmitted SYN, socket gone", &r, XDP_DROP);
	st = stats();
	CHECK_EQ(st.alg_to_user, 1, "alg_to_user after the socket left");
	CHECK_EQ(st.drop_alg_down, 1, "drop_alg_down after the socket left");
	alg_xsk_close(&x);
}


/* An inspected control flow whose packets go from native wan0 into a
 * generic-mode lan0 (a bridge LAN): no redirect could take them there, but
 * the ALG sends them from its own socket on lan0, so they go to the ALG
 * (not dropped as unroutable, drop_alg_no_route), and no next hop is
 * cached that a handed-back flow would redirect to. */
static void test_alg_into_generic(void **state)
{
	static const char banner_text[] = "220 hello\r\n";
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 21, PK_TCP_SYN);
	struct pk banner = wan_tcp(A_REMOTE, 21, A_WAN0, 40000, PK_TCP_ACK | PK_TCP_PSH);
	struct alg_xsk x = {};
	struct nat_alg_meta meta;
	struct nat_ct_value v;
	struct nat_stats st;
	struct res r;

	(void)state;
	set_ftp_port(21);
	iface_add_flags(E.if_lan0, NAT_IFACE_F_XDP_GENERIC);
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("control SYN, no ALG socket on lan0", &r, XDP_DROP);
	assert_int_equal(alg_xsk_open(&x, "wan0", E.if_wan0, 0, true), 0);
	assert_int_equal(alg_xsk_enter(&x, E.m_xsks, env_slot(&E, E.if_wan0)), 0);
	banner.payload = (const uint8_t *)banner_text;
	banner.plen = strlen(banner_text);
	xdp_pk(E.if_wan0, &banner, &r, NULL);
	expect_xdp_ret("banner from native wan0 for generic lan0", &r, XDP_REDIRECT);
	assert_true(r.len > sizeof(meta));
	memcpy(&meta, r.buf, sizeof(meta));
	CHECK_EQ(meta.ingress_ifindex, E.if_wan0, "meta.ingress_ifindex");
	CHECK_EQ(meta.egress_ifindex, E.if_lan0, "meta.egress_ifindex");
	st = stats();
	CHECK_EQ(st.alg_to_user, 1, "alg_to_user");
	CHECK_EQ(st.drop_alg_no_route, 0, "drop_alg_no_route");
	assert_int_equal(env_ct_get(&E, A_REMOTE, A_WAN0, 21, 40000, IPPROTO_TCP, &v), 0);
	CHECK_EQ(v.nh.slot, 0, "no next hop cached into the generic interface");
	alg_xsk_remove(&x);
	alg_xsk_close(&x);
}
/*
 * A frame on an rx queue the ALG can have no socket for (beyond
 * XDPNAT_XSK_QUEUES: queues added after the ALG started, which refuses
 * such an interface at start) is dropped like one whose socket is not
 * there, never forwarded uninspected, and counted in alg_no_queue; while
 * no ALG runs by design it passes, as every control packet then does.
 */
static void test_alg_queue_beyond_sockets(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 21, PK_TCP_SYN);
	struct pk want = to_wan0(syn);
	struct nat_stats st;
	struct res r;

	(void)state;
	set_ftp_port(21);
	assert_int_equal(env_rx_queues("lan0", XDPNAT_XSK_QUEUES + 1), 0);
	E.rx_queue = XDPNAT_XSK_QUEUES;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("control SYN on rx queue 64", &r, XDP_DROP);
	st = stats();
	CHECK_EQ(st.alg_no_queue, 1, "alg_no_queue");
	CHECK_EQ(st.drop_alg_down, 0, "drop_alg_down");
	CHECK_EQ(st.xdp_forwarded + st.passed_to_kernel + st.alg_to_user, 0, "let by");

	assert_int_equal(env_set_flags(&E, NAT_CFG_F_ALG_OFF), 0);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("control SYN on rx queue 64, no ALG by design", &r, XDP_REDIRECT);
	expect_frame("control SYN on rx queue 64, no ALG by design", &r, &want);
	st = stats();
	CHECK_EQ(st.alg_no_queue, 1, "alg_no_queue with ALG_OFF");
	CHECK_EQ(st.alg_off_passed, 1, "alg_off_passed");
}

/*
 * Every rx queue has its socket: an ALG started on lan0 with 64 queues
 * (the most it serves) enters one for each in nat_xsks, the last queue's
 * at slot * XDPNAT_XSK_QUEUES + 63, so a control SYN arriving on queue 0,
 * 17 or 63 goes to the ALG. With 65 queues it does not start at all (FTP
 * then passes uninspected, ALG_OFF); a change of the count afterwards is
 * reported by alg_queues_changed() (the daemon restarts it on a reload).
 */
static void test_alg_every_queue(void **state)
{
	struct alg_iface ifs[2] = {
		{ .name = "lan0", .ifindex = E.if_lan0, .slot = env_slot(&E, E.if_lan0) },
		{ .name = "wan0", .ifindex = E.if_wan0, .slot = env_slot(&E, E.if_wan0) },
	};
	static const __u32 queues[] = { 0, 17, XDPNAT_XSK_QUEUES - 1 };
	static struct xdpnat_config cfg;
	struct nat_config c;
	struct nat_maps m;
	__u32 zero = 0;
	struct alg *a;
	struct res r;

	(void)state;
	set_ftp_port(21);
	env_maps(&E, &m);
	assert_int_equal(env_rx_queues("lan0", XDPNAT_XSK_QUEUES + 1), 0);
	assert_null(alg_start(&cfg, &m, ifs, 2));
	assert_int_equal(bpf_map_lookup_elem(E.m_config, &zero, &c), 0);
	CHECK_EQ(c.flags, NAT_CFG_F_ALG_OFF, "nat_config.flags after a refused start");

	assert_int_equal(env_rx_queues("lan0", XDPNAT_XSK_QUEUES), 0);
	a = alg_start(&cfg, &m, ifs, 2);
	assert_non_null(a);
	assert_false(alg_queues_changed(a));
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, (uint16_t)(40000 + i), A_REMOTE, 21,
					PK_TCP_SYN);

		E.rx_queue = queues[i];
		xdp_pk(E.if_lan0, &syn, &r, NULL);
		expect_xdp_ret("control SYN to the ALG's socket of its queue", &r, XDP_REDIRECT);
	}
	CHECK_EQ(stats().alg_to_user, 3, "alg_to_user");
	CHECK_EQ(stats().drop_alg_down + stats().alg_no_queue, 0, "dropped");
	/* more queues (fewer cannot be had: the kernel keeps a queue that has
	 * an AF_XDP socket) */
	assert_int_equal(env_rx_queues("lan0", XDPNAT_XSK_QUEUES + 1), 0);
	assert_true(alg_queues_changed(a));
	alg_stop(a, false);
}

/*
 * NAT_CFG_F_ALG_OFF (no ALG by design, or it failed): new control flows,
 * masqueraded and forwarded, are not marked for the ALG and are counted;
 * a flow marked before the flag was set passes uninspected, counted.
 */
static void test_alg_off(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40001, A_REMOTE, 21, PK_TCP_SYN);
	struct pk old = lan_tcp(A_CLIENT, MAC_CLIENT, 40002, A_REMOTE, 21, PK_TCP_SYN);
	struct pk wsyn = wan_tcp(A_GW, 40000, A_WAN0, 21, PK_TCP_SYN);
	struct nat_fwd_key fk = { .ifindex = (__u32)E.if_wan0, .port = htons(21),
				  .proto = IPPROTO_TCP };
	struct nat_fwd_value fv = { .addr = htonl(A_SERVER), .port = htons(21),
				    .flags = NAT_FWD_F_ALG | NAT_FWD_F_FTP_CTRL };
	struct pk want;
	struct nat_stats st;
	struct res r;

	(void)state;
	set_ftp_port(21);
	assert_int_equal(env_forward_put(&E, &fk, &fv), 0);
	/* marked while the flag was clear (the ALG then stopped for good) */
	xdp_pk(E.if_lan0, &old, &r, NULL);
	expect_xdp_ret("control SYN before ALG_OFF, no socket", &r, XDP_DROP);
	CHECK_EQ(ct_flags(A_CLIENT, A_REMOTE, 40002, 21), NAT_CT_F_ALG, "flags of the earlier flow");

	assert_int_equal(env_set_flags(&E, NAT_CFG_F_ALG_OFF), 0);
	want = to_wan0(syn);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("new masqueraded control SYN, ALG off", &r, XDP_REDIRECT);
	expect_frame("new masqueraded control SYN, ALG off", &r, &want);
	CHECK_EQ(ct_flags(A_CLIENT, A_REMOTE, 40001, 21), 0, "orig flags (not for the ALG)");
	CHECK_EQ(ct_flags(A_REMOTE, A_WAN0, 21, 40001), 0, "reply flags (not for the ALG)");

	want = to_lan(wsyn, MAC_SERVER);
	want.dst = A_SERVER;
	xdp_pk(E.if_wan0, &wsyn, &r, NULL);
	expect_xdp_ret("new forwarded control SYN, ALG off", &r, XDP_REDIRECT);
	expect_frame("new forwarded control SYN, ALG off", &r, &want);
	CHECK_EQ(ct_flags(A_GW, A_WAN0, 40000, 21), NAT_CT_F_GATE, "forward flags (gate, no ALG)");

	want = to_wan0(old);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &old, &r, NULL);
	expect_xdp_ret("retransmitted SYN of the earlier flow, ALG off", &r, XDP_REDIRECT);
	expect_frame("retransmitted SYN of the earlier flow, ALG off", &r, &want);
	st = stats();
	CHECK_EQ(st.alg_off_flows, 2, "alg_off_flows");
	CHECK_EQ(st.alg_off_passed, 1, "alg_off_passed");
	CHECK_EQ(st.drop_alg_down, 1, "drop_alg_down (before the flag only)");
	CHECK_EQ(st.alg_to_user, 0, "alg_to_user");
}

/*
 * A degraded ALG: its thread dies (poll() made to fail with RLIMIT_NOFILE)
 * while the daemon runs. Its sockets leave nat_xsks and it sets
 * NAT_CFG_F_ALG_OFF: a control packet that went to its socket before is
 * forwarded uninspected after (not dropped, not redirected to a socket
 * nobody reads), and a new control flow is not marked for it at all.
 */
static void test_alg_thread_dies(void **state)
{
	struct pk syn = lan_tcp(A_CLIENT, MAC_CLIENT, 40000, A_REMOTE, 21, PK_TCP_SYN);
	struct pk syn2 = lan_tcp(A_CLIENT, MAC_CLIENT, 40001, A_REMOTE, 21, PK_TCP_SYN);
	struct alg_iface ifs[2] = {
		{ .name = "lan0", .ifindex = E.if_lan0, .slot = env_slot(&E, E.if_lan0) },
		{ .name = "wan0", .ifindex = E.if_wan0, .slot = env_slot(&E, E.if_wan0) },
	};
	static struct xdpnat_config cfg;
	struct pk want = to_wan0(syn);
	struct rlimit lim, one;
	struct nat_config c;
	struct nat_stats st;
	struct nat_maps m;
	__u32 zero = 0;
	struct alg *a;
	struct res r;

	(void)state;
	set_ftp_port(21);
	env_maps(&E, &m);
	a = alg_start(&cfg, &m, ifs, 2);
	assert_non_null(a);
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("control SYN, ALG running", &r, XDP_REDIRECT);
	CHECK_EQ(stats().alg_to_user, 1, "alg_to_user");

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
	one = (struct rlimit){ .rlim_cur = 1, .rlim_max = lim.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &one), 0);
	for (int i = 0; i < 100 && !alg_failed(a); i++)
		usleep(20000);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	assert_true(alg_failed(a));
	assert_int_equal(bpf_map_lookup_elem(E.m_config, &zero, &c), 0);
	CHECK_EQ(c.flags, NAT_CFG_F_ALG_OFF, "nat_config.flags");

	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &syn, &r, NULL);
	expect_xdp_ret("retransmitted SYN, ALG thread dead", &r, XDP_REDIRECT);
	expect_frame("retransmitted SYN, ALG thread dead (no metadata: not to a socket)", &r, &want);
	want = to_wan0(syn2);
	want.src = A_WAN0;
	xdp_pk(E.if_lan0, &syn2, &r, NULL);
	expect_xdp_ret("new control SYN, ALG thread dead", &r, XDP_REDIRECT);
	expect_frame("new control SYN, ALG thread dead", &r, &want);
	CHECK_EQ(ct_flags(A_CLIENT, A_REMOTE, 40001, 21), 0, "flags of the new control flow");
	st = stats();
	CHECK_EQ(st.alg_to_user, 1, "alg_to_user after the thread died");
	CHECK_EQ(st.alg_off_passed, 1, "alg_off_passed");
	CHECK_EQ(st.alg_off_flows, 1, "alg_off_flows");
	CHECK_EQ(st.drop_alg_down, 0, "drop_alg_down");
	alg_stop(a, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_masq_tcp_syn),
		T(test_masq_tcp_reply_fin),
		T(test_masq_tcp_rst),
		T(test_tcp_rst_window),
		T(test_tcp_fin_and_data_window),
		T(test_tcp_handshake_acks),
		T(test_tcp_rst_refuses_syn),
		T(test_tcp_syn_on_live_flow),
		T(test_tcp_window_pickup),
		T(test_port_clash),
		T(test_port_exhaustion),
		T(test_forwarded_port_not_mapped),
		T(test_eim_moved_mapping_kept),
		T(test_udp_masq),
		T(test_udp_lazy_reply),
		T(test_udp_lazy_reply_taken),
		T(test_udp_lazy_reply_port_for_destination),
		T(test_udp_keyed_rebuild),
		T(test_udp_zero_csum),
		T(test_udp_csum_lands_on_zero),
		T(test_icmp_echo),
		T(test_forward_tcp),
		T(test_mss_clamp_masq),
		T(test_mss_clamp_leaves_alone),
		T(test_mss_clamp_option_order),
		T(test_mss_clamp_forward),
		T(test_mss_clamp_forward_kernel_path),
		T(test_mss_clamp_tc),
		T(test_forward_range_shift),
		T(test_hairpin),
		T(test_hairpin_kernel_path),
		T(test_hairpin_expectation),
		T(test_kernel_path_no_neigh),
		T(test_kernel_path_ip_options),
		T(test_kernel_path_no_fastpath),
		T(test_kernel_path_ttl1),
		T(test_generic_lan_native_wan),
		T(test_generic_wan_native_lan),
		T(test_tc_no_flow_drop),
		T(test_tc_router_own),
		T(test_icmp_err_time_exceeded_udp),
		T(test_icmp_err_port_unreach_fwd_tc),
		T(test_icmp_err_port_unreach_fwd_xdp),
		T(test_icmp_err_about_echo),
		T(test_fragments_udp),
		T(test_fragment_unknown),
		T(test_malformed_ihl_lt5),
		T(test_malformed_ihl_beyond_packet),
		T(test_malformed_totlen_gt_frame),
		T(test_malformed_totlen_lt_ihl),
		T(test_malformed_tcp_doff_lt5),
		T(test_malformed_tcp_truncated),
		T(test_malformed_udp_len_lt8),
		T(test_malformed_udp_len_gt_ip),
		T(test_malformed_icmp_err_trunc_inner_ip),
		T(test_malformed_icmp_err_trunc_inner_l4),
		T(test_not_ipv4),
		T(test_vlan_tagged_passed),
		T(test_dual_wan_symmetric),
		T(test_dual_wan_no_gateway),
		T(test_dual_wan_tc),
		T(test_tcp_tuple_reuse_after_close),
		T(test_kernel_path_wan_reply),
		T(test_kernel_path_forward),
		T(test_icmp_err_router_generated_tc),
		T(test_icmp_err_port_unreach_masq),
		T(test_icmp_err_tcp_quote),
		T(test_hairpin_icmp_err),
		T(test_hairpin_spoofed_time_exceeded),
		T(test_frag_needed_kernel_path),
		T(test_tc_untranslatable_from_lan),
		T(test_large_segments),
		T(test_tcp_bulk_kernel_path),
		T(test_tc_router_dhcp),
		T(test_router_local_lan),
		T(test_dual_wan_masq_fib_choice),
		T(test_wan_no_address),
		T(test_wan_no_masquerade),
		T(test_wan_ip_options),
		T(test_ethernet_padding),
		T(test_tc_malformed),
		cmocka_unit_test_setup_teardown(test_ct_full_rollback, setup_ct5, teardown),
		cmocka_unit_test_setup_teardown(test_ct_full_evicts_unassured, setup_ct5, teardown),
		cmocka_unit_test_setup_teardown(test_flowlog_events, setup_ct5, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_err_third_party_lan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoofed_lan_tuple_on_wan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbound_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_l3_wan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragment_spray_and_timeout, setup, teardown),
		T(test_tc_checksums),
		T(test_icmp_err_from_client_masq),
		T(test_fragments_wan_to_lan),
		T(test_nh_cache_neigh_change),
		T(test_nh_cache_route_change),
		T(test_nh_cache_idle_and_tag),
		T(test_nh_cache_route_mtu),
		T(test_nh_cache_slot_mismatch),
		T(test_alg_down_drops),
		T(test_alg_socket_then_gone),
		T(test_alg_into_generic),
		T(test_alg_queue_beyond_sockets),
		T(test_alg_every_queue),
		T(test_alg_off),
		T(test_alg_thread_dies),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (network namespace, BPF)\n");
		return 0;
	}
	return cmocka_run_group_tests_name("bpf_datapath", tests, NULL, NULL);
}
