/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_alg_session.c - the FTP ALG's session table across a restart, on
 * real BPF maps made here (needs root): sessions driven segment by segment
 * as alg.c drives them, the table thrown away (what a SIGKILL leaves), a
 * new table restored from nat_alg_state, and then what the restored
 * session does with the next segments. A session saved with another
 * layout, or whose flow is gone, is not resumed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include "alg/alg_segment.h"
#include "alg/alg_session.h"
#include "common/clock.h"
#include "common/maps.h"

struct fixture {
	struct nat_maps m;
};

static int map_new(const char *name, size_t ksz, size_t vsz, unsigned max, __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int fd = bpf_map_create(flags == BPF_F_NO_PREALLOC || ksz != 4 ? BPF_MAP_TYPE_HASH
								     : BPF_MAP_TYPE_ARRAY,
				name, ksz, vsz, max, &o);

	assert_true(fd >= 0);
	return fd;
}

static int setup(void **state)
{
	static struct fixture f;
	struct nat_config cfg = NAT_CONFIG_DEFAULTS;
	__u32 zero = 0;

	nat_maps_init(&f.m);
	f.m.ct = cttab_create(128);	/* 256 entries */
	assert_true(f.m.ct >= 0);
	assert_int_equal(nat_maps_map_ct(&f.m), 0);
	f.m.config = map_new("t_cfg", 4, sizeof(struct nat_config), 1, 0);
	f.m.expect = map_new("t_exp", sizeof(struct nat_expect_key),
			     sizeof(struct nat_expect_value), 64, 0);
	f.m.alg = map_new("t_alg", sizeof(struct nat_ct_key), sizeof(struct nat_alg_value), 64, 0);
	f.m.alg_state = map_new("t_alg_state", sizeof(struct nat_ct_key),
				sizeof(struct nat_alg_state), 64, BPF_F_NO_PREALLOC);
	assert_int_equal(bpf_map_update_elem(f.m.config, &zero, &cfg, BPF_ANY), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cttab_unmap(&f->m.cttab);
	close(f->m.ct);
	close(f->m.config);
	close(f->m.expect);
	close(f->m.alg);
	close(f->m.alg_state);
	return 0;
}

static __be32 ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct nat_ct_key key(const char *s, uint16_t sp, const char *d, uint16_t dp)
{
	return (struct nat_ct_key){ .saddr = ip(s), .daddr = ip(d), .sport = htons(sp),
				    .dport = htons(dp), .proto = IPPROTO_TCP };
}

/* Both entries of a TCP flow in TCP state `state`: orig key ok translated
 * to `to`; returns the reply key in *rk. */
static void flow_put_state(const struct nat_cttab *ct, const struct nat_ct_key *ok,
			   const struct nat_ct_key *to, uint8_t kind, uint8_t state,
			   struct nat_ct_key *rk)
{
	struct nat_ct_value ov = {
		.to_saddr = to->saddr, .to_daddr = to->daddr, .to_sport = to->sport,
		.to_dport = to->dport, .wan_ifindex = 7, .dir = NAT_DIR_ORIG, .kind = kind,
		.state = state, .flags = NAT_CT_F_ALG,
	};
	struct nat_ct_value rv = {
		.to_saddr = ok->daddr, .to_daddr = ok->saddr, .to_sport = ok->dport,
		.to_dport = ok->sport, .wan_ifindex = 7, .dir = NAT_DIR_REPLY, .kind = kind,
		.state = state, .flags = NAT_CT_F_ALG,
	};

	*rk = (struct nat_ct_key){ .saddr = to->daddr, .daddr = to->saddr, .sport = to->dport,
				   .dport = to->sport, .proto = IPPROTO_TCP };
	assert_int_equal(ct_put(ct, rk, &rv, BPF_NOEXIST), 0);
	assert_int_equal(ct_put(ct, ok, &ov, BPF_NOEXIST), 0);
}

static void flow_put(const struct nat_cttab *ct, const struct nat_ct_key *ok,
		     const struct nat_ct_key *to, uint8_t kind, struct nat_ct_key *rk)
{
	flow_put_state(ct, ok, to, kind, NAT_CT_ESTABLISHED, rk);
}

/* What the data path does to both entries of a flow as its handshake or
 * its end goes by. */
static void ct_state(const struct nat_cttab *ct, const struct nat_ct_key *ok,
		     const struct nat_ct_key *rk, uint8_t state)
{
	struct nat_ct_value v;

	assert_int_equal(ct_get(ct, ok, &v), 0);
	v.state = state;
	assert_int_equal(ct_put(ct, ok, &v, BPF_EXIST), 0);
	assert_int_equal(ct_get(ct, rk, &v), 0);
	v.state = state;
	assert_int_equal(ct_put(ct, rk, &v, BPF_EXIST), 0);
}

/* Case B: 198.51.100.2:sport -> 198.51.100.1:21 forwarded to 192.168.0.254:21,
 * in TCP state `state`. */
static void forward_flow_state(const struct nat_cttab *ct, uint16_t sport, uint8_t state,
			       struct nat_ct_key *ok, struct nat_ct_key *rk)
{
	struct nat_ct_key to = key("198.51.100.2", sport, "192.168.0.254", 21);

	*ok = key("198.51.100.2", sport, "198.51.100.1", 21);
	flow_put_state(ct, ok, &to, NAT_KIND_FORWARD, state, rk);
}

static void forward_flow(const struct nat_cttab *ct, uint16_t sport, struct nat_ct_key *ok,
			 struct nat_ct_key *rk)
{
	forward_flow_state(ct, sport, NAT_CT_ESTABLISHED, ok, rk);
}

/* Case A: 192.168.0.10:40001 -> 203.0.113.5:21 masqueraded to 198.51.100.1. */
static void masq_flow(const struct nat_cttab *ct, struct nat_ct_key *ok, struct nat_ct_key *rk)
{
	struct nat_ct_key to = key("198.51.100.1", 40001, "203.0.113.5", 21);

	*ok = key("192.168.0.10", 40001, "203.0.113.5", 21);
	flow_put(ct, ok, &to, NAT_KIND_MASQ, rk);
}

struct seg_out {
	struct alg_ftp_result res;
	uint8_t out[1024];
	struct alg_flow *f;
};

/* One segment with TCP flags `flags` the way alg.c's handle_frame takes
 * it, without the frame: the session's flow, the core, the events, then
 * packet_done (the save, made before the segment would be transmitted). */
static void feed_hdr(struct alg_session *s, const struct nat_ct_key *k, uint8_t flags,
		     uint32_t seq, uint32_t ack, const char *text, struct seg_out *o)
{
	enum alg_ftp_dir dir = ALG_FTP_FROM_CLIENT;
	size_t len = strlen(text);
	bool syn = flags & ALG_SEG_TCP_SYN;

	memset(o, 0, sizeof(*o));
	o->f = alg_session_flow(s, k, flags, seq, ack, &dir);
	assert_non_null(o->f);
	if (syn) {
		o->res.verdict = ALG_FTP_PASS;
		o->res.seq = alg_ftp_seq_out(&o->f->conn, dir, seq);
	} else {
		alg_ftp_process(&o->f->conn, dir, seq, (const uint8_t *)text, len, o->out,
				sizeof(o->out), &o->res);
		if (len)
			o->f->seen_data[dir] = true;
	}
	alg_session_events(s, o->f, &o->res);
	alg_session_packet_done(s, o->f);
}

static void feed(struct alg_session *s, const struct nat_ct_key *k, bool syn, uint32_t seq,
		 const char *text, struct seg_out *o)
{
	feed_hdr(s, k, syn ? ALG_SEG_TCP_SYN : ALG_SEG_TCP_ACK, seq, 0, text, o);
}

static void expect_out(const struct seg_out *o, const char *want)
{
	assert_int_equal(o->res.verdict, ALG_FTP_REWRITTEN);
	assert_int_equal(o->res.out_len, strlen(want));
	assert_memory_equal(o->out, want, strlen(want));
}

static bool expect_exists(const struct fixture *f, const char *remote, uint16_t port,
			  struct nat_expect_value *v)
{
	struct nat_expect_key k = { .raddr = ip(remote), .waddr = ip("198.51.100.1"),
				    .wport = htons(port), .proto = IPPROTO_TCP };

	return bpf_map_lookup_elem(f->m.expect, &k, v) == 0;
}

static uint8_t ct_flags(const struct fixture *f, const struct nat_ct_key *k)
{
	struct nat_ct_value v;

	assert_int_equal(ct_get(&f->m.cttab, k, &v), 0);
	return v.flags;
}

#define GREETING	"220 ready\r\n"			/* 11 bytes */
#define PASV		"PASV\r\n"			/* 6 bytes */
#define PASV_227	"227 Entering Passive Mode (192,168,0,254,195,80).\r\n"
#define PASV_227_W	"227 Entering Passive Mode (198,51,100,1,195,80).\r\n"	/* one shorter */
#define PASV_227B	"227 Entering Passive Mode (192,168,0,254,195,81).\r\n"
#define PASV_227B_W	"227 Entering Passive Mode (198,51,100,1,195,81).\r\n"

/* A forwarded control connection up to a rewritten 227: ISNs 1000 (client)
 * and 5000 (server), the server's stream one byte shorter from then on. */
static struct alg_flow *forward_to_227(struct alg_session *s, const struct nat_ct_key *ok,
				       const struct nat_ct_key *rk, struct seg_out *o)
{
	feed(s, ok, true, 1000, "", o);
	feed(s, rk, true, 5000, "", o);
	feed(s, rk, false, 5001, GREETING, o);
	assert_int_equal(o->res.verdict, ALG_FTP_PASS);
	feed(s, ok, false, 1001, PASV, o);
	feed(s, rk, false, 5012, PASV_227, o);
	/* the outside port is the inside one (50000) unless another flow
	 * of the same peer has that already */
	assert_int_equal(o->res.verdict, ALG_FTP_REWRITTEN);
	assert_memory_equal(o->out, PASV_227_W, strlen("227 Entering Passive Mode (198,51,100,1,"));
	return o->f;
}

/* Save, throw the table away, restore: the same session, field for field,
 * that then replays the rewritten 227 byte for byte (no second port asked
 * for), keeps shifting the server's sequence numbers, and rewrites the next
 * 227 with its expectation (the map_port callback is attached again). */
static void test_restore_resumes_session(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60), *s2;
	struct nat_ct_key ok, rk;
	struct alg_restore_stats rs;
	struct nat_expect_value ev;
	static struct nat_alg_state st;
	struct alg_flow before, *f2;
	struct alg_ftp_conn c1, c2;
	enum alg_ftp_dir dir;
	struct seg_out o;

	forward_flow(&fx->m.cttab, 40000, &ok, &rk);
	assert_non_null(s);
	before = *forward_to_227(s, &ok, &rk, &o);
	expect_out(&o, PASV_227_W);
	assert_int_equal(o.res.n_events, 1);
	assert_int_equal(o.res.ev[0].kind, ALG_FTP_EV_EXPECT_OPEN);
	assert_true(expect_exists(fx, "198.51.100.2", 50000, &ev));
	assert_int_equal(alg_ftp_delta(&before.conn, ALG_FTP_FROM_SERVER), -1);
	/* saved already, before the 227 would have gone out */
	assert_int_equal(bpf_map_lookup_elem(fx->m.alg_state, &ok, &st), 0);
	assert_true(st.len > 0 && st.len <= XDPNAT_ALG_STATE_MAX);
	alg_session_free(s);	/* a SIGKILL: nothing handed back, nothing written */

	s2 = alg_session_new(&fx->m, 60);
	assert_non_null(s2);
	assert_int_equal(alg_session_restore(s2, true, &rs), 0);
	assert_int_equal(rs.restored, 1);
	assert_int_equal(rs.foreign + rs.gone + rs.handed_back, 0);
	assert_int_equal(alg_session_count(s2), 1);
	assert_int_equal(alg_session_expects(s2), 1);	/* its expectation still counts */
	assert_int_equal(ct_flags(fx, &ok), NAT_CT_F_ALG);	/* still inspected */

	f2 = alg_session_flow(s2, &rk, ALG_SEG_TCP_ACK, 5063, 0, &dir);
	assert_non_null(f2);
	assert_int_equal(dir, ALG_FTP_FROM_SERVER);
	assert_memory_equal(&f2->okey, &before.okey, sizeof(before.okey));
	assert_int_equal(f2->wan_ifindex, before.wan_ifindex);
	assert_memory_equal(f2->seen_data, before.seen_data, sizeof(before.seen_data));
	assert_memory_equal(f2->isn_known, before.isn_known, sizeof(before.isn_known));
	assert_memory_equal(f2->isn, before.isn, sizeof(before.isn));
	assert_int_equal(f2->want_opaque, before.want_opaque);
	assert_int_equal(f2->handed_back, before.handed_back);
	assert_int_equal(f2->want_since, before.want_since);
	assert_memory_equal(&f2->v, &before.v, sizeof(before.v));
	assert_int_equal(f2->n_exp, before.n_exp);
	assert_memory_equal(f2->exp, before.exp, sizeof(before.exp));
	assert_ptr_equal(f2->conn.map_port, before.conn.map_port);
	assert_ptr_equal(f2->conn.map_ctx, f2);
	assert_ptr_equal(f2->session, s2);
	c1 = before.conn;
	c2 = f2->conn;
	c1.map_ctx = c2.map_ctx = NULL;
	assert_memory_equal(&c1, &c2, sizeof(c1));

	/* the 227 again (the peer never got it: the restart came first) */
	feed(s2, &rk, false, 5012, PASV_227, &o);
	expect_out(&o, PASV_227_W);
	assert_int_equal(o.res.n_events, 0);
	assert_int_equal(o.res.seq, 5012);
	/* the client acknowledges the shortened reply: mapped back */
	assert_int_equal(alg_ftp_ack_in(&f2->conn, ALG_FTP_FROM_CLIENT, 5012 + 50),
			 5012 + 51);
	/* the next PASV: rewritten, a new expectation, numbers shifted */
	feed(s2, &ok, false, 1007, PASV, &o);
	assert_int_equal(o.res.verdict, ALG_FTP_PASS);
	feed(s2, &rk, false, 5063, PASV_227B, &o);
	expect_out(&o, PASV_227B_W);
	assert_int_equal(o.res.seq, 5062);
	assert_int_equal(o.res.n_events, 1);
	assert_int_equal(o.res.ev[0].kind, ALG_FTP_EV_EXPECT_OPEN);
	assert_int_equal(o.res.ev[0].outside_port_host, 50001);
	assert_true(expect_exists(fx, "198.51.100.2", 50001, &ev));
	assert_memory_equal(&ev.ctl, &ok, sizeof(ok));
	alg_session_free(s2);
}

/* A saved session of another layout (or with a length that does not fit
 * this build) is not resumed: its flow goes to XDP, opaque, with the
 * offsets nat_alg has for it. Nothing of it is in the new table. */
static void test_restore_refuses_other_layout(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60), *s2;
	struct nat_ct_key ok, rk, ok2, rk2;
	struct alg_restore_stats rs;
	static struct nat_alg_state st;
	struct nat_alg_value av;
	struct seg_out o;

	forward_flow(&fx->m.cttab, 40000, &ok, &rk);
	forward_flow(&fx->m.cttab, 40002, &ok2, &rk2);
	forward_to_227(s, &ok, &rk, &o);
	forward_to_227(s, &ok2, &rk2, &o);
	alg_session_free(s);

	assert_int_equal(bpf_map_lookup_elem(fx->m.alg_state, &ok, &st), 0);
	st.version ^= 1;	/* what a build of another layout wrote */
	assert_int_equal(bpf_map_update_elem(fx->m.alg_state, &ok, &st, BPF_EXIST), 0);
	assert_int_equal(bpf_map_lookup_elem(fx->m.alg_state, &ok2, &st), 0);
	st.len -= 8;		/* same number, other size: not ours either */
	assert_int_equal(bpf_map_update_elem(fx->m.alg_state, &ok2, &st, BPF_EXIST), 0);

	s2 = alg_session_new(&fx->m, 60);
	assert_int_equal(alg_session_restore(s2, true, &rs), 0);
	assert_int_equal(rs.restored, 0);
	assert_int_equal(rs.foreign, 2);
	assert_int_equal(alg_session_count(s2), 0);
	assert_int_equal(ct_flags(fx, &ok), NAT_CT_F_ALG | NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ);
	assert_int_equal(ct_flags(fx, &rk), NAT_CT_F_ALG | NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ);
	assert_int_equal(ct_flags(fx, &ok2), NAT_CT_F_ALG | NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ);
	assert_int_equal(bpf_map_lookup_elem(fx->m.alg, &ok, &av), 0);
	assert_int_equal(av.delta[0], 0);
	assert_int_equal(av.delta[1], -1);
	assert_int_not_equal(av.opaque_since, 0);
	alg_session_free(s2);

	/* once XDP's, a later restore leaves it alone */
	s2 = alg_session_new(&fx->m, 60);
	assert_int_equal(alg_session_restore(s2, true, &rs), 0);
	assert_int_equal(rs.foreign + rs.restored, 0);
	alg_session_free(s2);
}

/* A saved session whose flow is gone is left to the GC; with resume false
 * (no ALG will run) a live one is handed back at once, offsets and all. */
static void test_restore_gone_and_no_resume(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60), *s2;
	struct nat_ct_key ok, rk, gk, grk;
	struct alg_restore_stats rs;
	struct nat_alg_value av;
	struct seg_out o;

	forward_flow(&fx->m.cttab, 40000, &ok, &rk);
	forward_flow(&fx->m.cttab, 40003, &gk, &grk);
	forward_to_227(s, &ok, &rk, &o);
	feed(s, &gk, true, 7000, "", &o);
	alg_session_free(s);
	assert_int_equal(ct_del(&fx->m.cttab, &gk), 0);
	assert_int_equal(ct_del(&fx->m.cttab, &grk), 0);

	s2 = alg_session_new(&fx->m, 60);
	assert_int_equal(alg_session_restore(s2, false, &rs), 0);
	assert_int_equal(rs.gone, 1);
	assert_int_equal(rs.restored, 1);
	assert_int_equal(rs.handed_back, 1);
	assert_int_equal(ct_flags(fx, &ok), NAT_CT_F_ALG | NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ);
	assert_int_equal(bpf_map_lookup_elem(fx->m.alg, &ok, &av), 0);
	assert_int_equal(av.delta[1], -1);
	assert_int_not_equal(av.opaque_since, 0);
	alg_session_free(s2);
}

/* alg_session_hand_back_all() (a reload that switches the ALG off, a failed
 * thread) hands back every inspected flow, also one without offsets, so
 * none stays marked for an ALG that is gone. */
static void test_hand_back_all(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key ok, rk, ok2, rk2;
	struct seg_out o;

	forward_flow(&fx->m.cttab, 40000, &ok, &rk);
	forward_flow(&fx->m.cttab, 40004, &ok2, &rk2);
	forward_to_227(s, &ok, &rk, &o);
	feed(s, &ok2, true, 9000, "", &o);
	assert_int_equal(alg_session_hand_back_all(s), 2);
	assert_int_equal(ct_flags(fx, &ok) & NAT_CT_F_OPAQUE, NAT_CT_F_OPAQUE);
	assert_int_equal(ct_flags(fx, &rk2) & NAT_CT_F_OPAQUE, NAT_CT_F_OPAQUE);
	assert_int_equal(alg_session_hand_back_all(s), 0);	/* done once */
	alg_session_free(s);
}

/* A PORT rewritten before the restart and still waiting for its 200: the
 * restored session opens its expectation on that 200, and its port stays
 * reserved meanwhile (a second PORT naming the same inside port gets
 * another outside port). */
static void test_restore_pending_port(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60), *s2;
	struct nat_ct_key ok, rk;
	struct alg_restore_stats rs;
	struct nat_expect_value ev;
	struct nat_expect_key ek = { .raddr = ip("203.0.113.5"), .waddr = ip("198.51.100.1"),
				     .wport = htons(40000), .proto = IPPROTO_TCP };
	struct seg_out o;
	uint16_t second;

	masq_flow(&fx->m.cttab, &ok, &rk);
	feed(s, &ok, true, 1000, "", &o);
	feed(s, &rk, true, 5000, "", &o);
	feed(s, &rk, false, 5001, "220 ok\r\n", &o);
	feed(s, &ok, false, 1001, "PORT 192,168,0,10,156,64\r\n", &o);	/* port 40000 */
	expect_out(&o, "PORT 198,51,100,1,156,64\r\n");
	alg_session_free(s);

	s2 = alg_session_new(&fx->m, 60);
	assert_int_equal(alg_session_restore(s2, true, &rs), 0);
	assert_int_equal(rs.restored, 1);
	feed(s2, &ok, false, 1027, "PORT 192,168,0,10,156,64\r\n", &o);
	assert_int_equal(o.res.verdict, ALG_FTP_REWRITTEN);
	assert_true(o.res.out_len > 18 && memcmp(o.out, "PORT 198,51,100,1,", 18) == 0);
	assert_true(memcmp(o.out + 18, "156,64\r\n", 8) != 0);	/* not 40000 again */
	feed(s2, &rk, false, 5009, "200 PORT ok\r\n", &o);
	assert_int_equal(o.res.n_events, 1);
	assert_int_equal(o.res.ev[0].kind, ALG_FTP_EV_EXPECT_OPEN);
	assert_int_equal(o.res.ev[0].outside_port_host, 40000);
	assert_int_equal(bpf_map_lookup_elem(fx->m.expect, &ek, &ev), 0);
	assert_int_equal(ntohs(ev.to_port), 40000);
	assert_int_equal(ev.to_addr, ip("192.168.0.10"));
	feed(s2, &rk, false, 5022, "200 PORT ok\r\n", &o);
	assert_int_equal(o.res.n_events, 1);
	second = o.res.ev[0].outside_port_host;
	assert_int_not_equal(second, 40000);
	assert_true(second >= ALG_FTP_PORT_MIN);
	alg_session_free(s2);
}

/* nat_expect entries opened for control flow ok (all of them if ok is NULL). */
static unsigned count_expects(const struct fixture *f, const struct nat_ct_key *ok)
{
	struct nat_expect_key k, next;
	struct nat_expect_value v;
	const void *prev = NULL;
	unsigned n = 0;

	while (!bpf_map_get_next_key(f->m.expect, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(f->m.expect, &k, &v) &&
		    (!ok || !memcmp(&v.ctl, ok, sizeof(*ok))))
			n++;
	}
	return n;
}

/* A forwarded session logged in: greeting seen, ready for commands; the
 * client's next seq in *cseq, the server's in *sseq. */
static void forward_login(struct alg_session *s, const struct nat_ct_key *ok,
			  const struct nat_ct_key *rk, uint32_t *cseq, uint32_t *sseq,
			  struct seg_out *o)
{
	feed(s, ok, true, 1000, "", o);
	feed(s, rk, true, 5000, "", o);
	feed(s, rk, false, 5001, GREETING, o);
	*cseq = 1001;
	*sseq = 5001 + 11;
}

/* PASV and its 227 naming the inside server's port p (rewritten to the WAN
 * address): one expectation. */
static void pasv_227(struct alg_session *s, const struct nat_ct_key *ok,
		     const struct nat_ct_key *rk, uint32_t *cseq, uint32_t *sseq, unsigned p,
		     struct seg_out *o)
{
	char reply[96];

	feed(s, ok, false, *cseq, PASV, o);
	*cseq += 6;
	snprintf(reply, sizeof(reply), "227 Entering Passive Mode (192,168,0,254,%u,%u).\r\n",
		 p >> 8, p & 255);
	feed(s, rk, false, *sseq, reply, o);
	*sseq += (uint32_t)strlen(reply);
	assert_int_equal(o->res.verdict, ALG_FTP_REWRITTEN);
	assert_int_equal(o->res.n_events, 1);
	assert_int_equal(o->res.ev[0].kind, ALG_FTP_EV_EXPECT_OPEN);
}

/*
 * One session sends PASV after PASV: it never holds more than
 * ALG_EXPECT_PER_SESSION expectations; each new one deletes its oldest
 * (counted), and the newest ones are the ones left. An expectation the
 * data path used is not counted any more, so it is not "replaced".
 */
/* A hairpin control flow (a LAN client through forward 21 to a LAN
 * server) is inspected, its 227 rewritten to the WAN address, and its
 * expectation says the data connection comes from a LAN; a forwarded
 * flow's from a WAN. */
static void test_hairpin_expect_dir(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key to = key("198.51.100.1", 5001, "192.168.0.254", 21);
	struct nat_ct_key ok = key("192.168.0.10", 40001, "198.51.100.1", 21), rk;
	struct nat_expect_value ev;
	struct seg_out o;

	flow_put(&fx->m.cttab, &ok, &to, NAT_KIND_HAIRPIN, &rk);
	forward_to_227(s, &ok, &rk, &o);
	assert_int_equal(o.f->conn.nat.mode, ALG_FTP_HAIRPIN);
	assert_true(expect_exists(fx, "192.168.0.10", 50000, &ev));
	assert_int_equal(ev.dir, NAT_EXPECT_HAIRPIN);
	assert_int_equal(ev.to_addr, ip("192.168.0.254"));
	assert_int_equal(ntohs(ev.to_port), 50000);

	forward_flow(&fx->m.cttab, 40002, &ok, &rk);
	forward_to_227(s, &ok, &rk, &o);
	assert_int_equal(o.f->conn.nat.mode, ALG_FTP_FORWARD);
	assert_true(expect_exists(fx, "198.51.100.2", 50000, &ev));
	assert_int_equal(ev.dir, NAT_EXPECT_IN);
	alg_session_free(s);
}

static void test_expect_per_session_limit(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key ok, rk;
	struct nat_expect_value ev;
	uint32_t cseq, sseq;
	struct seg_out o;

	forward_flow(&fx->m.cttab, 40000, &ok, &rk);
	forward_login(s, &ok, &rk, &cseq, &sseq, &o);
	for (unsigned i = 0; i < 10; i++) {
		pasv_227(s, &ok, &rk, &cseq, &sseq, 50000 + i, &o);
		assert_true(count_expects(fx, &ok) <= ALG_EXPECT_PER_SESSION);
	}
	assert_int_equal(count_expects(fx, &ok), ALG_EXPECT_PER_SESSION);
	assert_int_equal(alg_session_expects(s), ALG_EXPECT_PER_SESSION);
	assert_true(expect_exists(fx, "198.51.100.2", 50009, &ev));
	assert_true(expect_exists(fx, "198.51.100.2", 50008, &ev));
	assert_false(expect_exists(fx, "198.51.100.2", 50007, &ev));
	assert_int_equal(alg_session_get_stats(s)->expects_opened, 10);
	assert_int_equal(alg_session_get_stats(s)->expects_replaced, 10 - ALG_EXPECT_PER_SESSION);

	/* the data connection of 50009 comes: the data path deletes it */
	{
		struct nat_expect_key k = { .raddr = ip("198.51.100.2"),
					    .waddr = ip("198.51.100.1"), .wport = htons(50009),
					    .proto = IPPROTO_TCP };

		assert_int_equal(bpf_map_delete_elem(fx->m.expect, &k), 0);
	}
	pasv_227(s, &ok, &rk, &cseq, &sseq, 50010, &o);
	assert_true(expect_exists(fx, "198.51.100.2", 50008, &ev));	/* still held */
	assert_true(expect_exists(fx, "198.51.100.2", 50010, &ev));
	assert_int_equal(alg_session_get_stats(s)->expects_replaced, 10 - ALG_EXPECT_PER_SESSION);
	/* a 229 naming the port of one it holds already: the same one, counted once */
	feed(s, &ok, false, cseq, "EPSV\r\n", &o);
	cseq += 6;
	feed(s, &rk, false, sseq, "229 Entering Extended Passive Mode (|||50010|)\r\n", &o);
	assert_int_equal(o.res.n_events, 1);
	assert_int_equal(count_expects(fx, &ok), 2);
	assert_int_equal(alg_session_expects(s), 2);
	alg_session_free(s);
}

/*
 * All sessions together hold at most the ALG's limit (here 3): a session
 * below its own limit is refused past it (counted, nothing written); a
 * session at its own limit still replaces its oldest. Once expectations
 * are used (seen at the next tick), new ones open again.
 */
static void test_expect_global_limit(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key ok1, rk1, ok2, rk2;
	struct nat_expect_value ev;
	uint32_t c1, s1, c2, s2;
	struct seg_out o;
	struct nat_expect_key used = { .raddr = ip("198.51.100.2"), .waddr = ip("198.51.100.1"),
				       .wport = htons(50001), .proto = IPPROTO_TCP };

	alg_session_set_limits(s, 0, 3);
	forward_flow(&fx->m.cttab, 40000, &ok1, &rk1);
	forward_flow(&fx->m.cttab, 40001, &ok2, &rk2);
	forward_login(s, &ok1, &rk1, &c1, &s1, &o);
	forward_login(s, &ok2, &rk2, &c2, &s2, &o);
	pasv_227(s, &ok1, &rk1, &c1, &s1, 50000, &o);
	pasv_227(s, &ok1, &rk1, &c1, &s1, 50001, &o);
	pasv_227(s, &ok2, &rk2, &c2, &s2, 50100, &o);
	assert_int_equal(count_expects(fx, NULL), 3);

	pasv_227(s, &ok2, &rk2, &c2, &s2, 50101, &o);	/* the core asks; the ALG refuses */
	assert_false(expect_exists(fx, "198.51.100.2", 50101, &ev));
	assert_int_equal(count_expects(fx, NULL), 3);
	assert_int_equal(alg_session_get_stats(s)->expects_refused, 1);

	pasv_227(s, &ok1, &rk1, &c1, &s1, 50002, &o);	/* replaces 50000 */
	assert_false(expect_exists(fx, "198.51.100.2", 50000, &ev));
	assert_true(expect_exists(fx, "198.51.100.2", 50002, &ev));
	assert_int_equal(count_expects(fx, NULL), 3);

	assert_int_equal(bpf_map_delete_elem(fx->m.expect, &used), 0);	/* a data connection */
	alg_session_tick(s, nat_now_ns());
	assert_int_equal(alg_session_expects(s), 2);
	pasv_227(s, &ok2, &rk2, &c2, &s2, 50102, &o);
	assert_true(expect_exists(fx, "198.51.100.2", 50102, &ev));
	assert_int_equal(alg_session_get_stats(s)->expects_refused, 1);
	assert_int_equal(count_expects(fx, NULL), 3);
	alg_session_free(s);
}

/*
 * A full table (here 3 sessions) makes room like conntrack: the oldest
 * session whose handshake never completed goes (its saved state with it),
 * then one whose flow is gone, then one handed back; a session that
 * completed its handshake meanwhile (nat_ct says so) stays. With only
 * established sessions left, the new flow is handed to XDP uninspected
 * and counted.
 */
static void test_table_full_evicts_unassured(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key ok[8], rk[8];
	static struct nat_alg_state st;
	uint32_t cseq, sseq;
	struct seg_out o;
	enum alg_ftp_dir dir;

	alg_session_set_limits(s, 3, 0);
	forward_flow(&fx->m.cttab, 41000, &ok[0], &rk[0]);			/* established */
	forward_flow_state(&fx->m.cttab, 41001, NAT_CT_SYN_SENT, &ok[1], &rk[1]);
	forward_flow_state(&fx->m.cttab, 41002, NAT_CT_SYN_RECV, &ok[2], &rk[2]);
	forward_flow_state(&fx->m.cttab, 41003, NAT_CT_SYN_SENT, &ok[3], &rk[3]);
	forward_login(s, &ok[0], &rk[0], &cseq, &sseq, &o);
	feed(s, &ok[1], true, 2000, "", &o);
	feed(s, &ok[2], true, 3000, "", &o);
	assert_int_equal(bpf_map_lookup_elem(fx->m.alg_state, &ok[1], &st), 0);

	feed(s, &ok[3], true, 4000, "", &o);	/* full: the oldest unassured (1) goes */
	assert_int_equal(alg_session_get_stats(s)->evicted, 1);
	assert_int_equal(alg_session_count(s), 3);
	assert_int_not_equal(bpf_map_lookup_elem(fx->m.alg_state, &ok[1], &st), 0);

	/* 2 completed its handshake without the ALG seeing it; 3's flow is gone */
	ct_state(&fx->m.cttab, &ok[2], &rk[2], NAT_CT_ESTABLISHED);
	assert_int_equal(ct_del(&fx->m.cttab, &ok[3]), 0);
	assert_int_equal(ct_del(&fx->m.cttab, &rk[3]), 0);
	forward_flow_state(&fx->m.cttab, 41004, NAT_CT_SYN_SENT, &ok[4], &rk[4]);
	feed(s, &ok[4], true, 5000, "", &o);	/* 2 stays, 3 goes */
	assert_int_equal(alg_session_get_stats(s)->evicted, 2);
	assert_non_null(alg_session_flow(s, &ok[2], ALG_SEG_TCP_ACK, 3001, 0, &dir));

	/* 4 becomes established too: nothing is evictable any more */
	ct_state(&fx->m.cttab, &ok[4], &rk[4], NAT_CT_ESTABLISHED);
	feed(s, &ok[4], false, 5001, "", &o);
	forward_flow_state(&fx->m.cttab, 41005, NAT_CT_SYN_SENT, &ok[5], &rk[5]);
	assert_null(alg_session_flow(s, &ok[5], ALG_SEG_TCP_SYN, 6000, 0, &dir));
	assert_int_equal(alg_session_get_stats(s)->uninspected, 1);
	assert_int_equal(alg_session_get_stats(s)->evicted, 2);
	assert_int_equal(ct_flags(fx, &ok[5]), NAT_CT_F_ALG | NAT_CT_F_OPAQUE);
	assert_int_equal(ct_flags(fx, &rk[5]), NAT_CT_F_ALG | NAT_CT_F_OPAQUE);
	assert_int_equal(alg_session_count(s), 3);

	/* a session handed back (AUTH TLS) may go for a new one */
	feed(s, &ok[0], false, cseq, "AUTH TLS\r\n", &o);
	feed(s, &rk[0], false, sseq, "234 go\r\n", &o);
	assert_int_equal(ct_flags(fx, &ok[0]) & NAT_CT_F_OPAQUE, NAT_CT_F_OPAQUE);
	forward_flow_state(&fx->m.cttab, 41006, NAT_CT_SYN_SENT, &ok[6], &rk[6]);
	feed(s, &ok[6], true, 7000, "", &o);
	assert_int_equal(alg_session_get_stats(s)->evicted, 3);
	assert_int_equal(ct_flags(fx, &ok[6]), NAT_CT_F_ALG);
	alg_session_free(s);
}

/*
 * A SYN on a live session resets nothing unless the data path took it as a
 * new connection on a closed tuple (state SYN_SENT again): a forged SYN or
 * SYN-ACK in any other state is forwarded and leaves the parser, the
 * offsets and the rewrite records as they were.
 */
static void test_syn_resets_only_reused_tuple(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key ok, rk;
	static struct alg_ftp_conn before;
	struct alg_flow *f;
	struct seg_out o;

	forward_flow(&fx->m.cttab, 40000, &ok, &rk);
	f = forward_to_227(s, &ok, &rk, &o);
	before = f->conn;
	assert_int_equal(alg_ftp_delta(&f->conn, ALG_FTP_FROM_SERVER), -1);

	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 99999, 0, "", &o);		/* established */
	feed_hdr(s, &rk, ALG_SEG_TCP_SYN | ALG_SEG_TCP_ACK, 88888, 1001, "", &o);
	ct_state(&fx->m.cttab, &ok, &rk, NAT_CT_FIN_WAIT);
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 99998, 0, "", &o);
	ct_state(&fx->m.cttab, &ok, &rk, NAT_CT_CLOSING);	/* the data path did not take it */
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 99997, 0, "", &o);
	assert_ptr_equal(o.f, f);
	assert_int_equal(alg_session_get_stats(s)->syn_ignored, 4);
	assert_memory_equal(&f->conn, &before, sizeof(before));
	assert_int_equal(f->isn[ALG_FTP_FROM_CLIENT], 1000);
	assert_int_equal(f->isn[ALG_FTP_FROM_SERVER], 5000);

	/* the retransmitted SYN of the session itself changes nothing either */
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 1000, 0, "", &o);
	assert_memory_equal(&f->conn, &before, sizeof(before));

	/* a reused tuple: ct_account_tcp() made it SYN_SENT again */
	ct_state(&fx->m.cttab, &ok, &rk, NAT_CT_SYN_SENT);
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 20000, 0, "", &o);
	assert_int_equal(alg_session_get_stats(s)->syn_ignored, 4);
	assert_int_equal(alg_ftp_get_state(&f->conn), ALG_FTP_ST_GREETING);
	assert_int_equal(alg_ftp_delta(&f->conn, ALG_FTP_FROM_SERVER), 0);
	assert_int_equal(f->isn[ALG_FTP_FROM_CLIENT], 20000);
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 20000, 0, "", &o);	/* its retransmission */
	assert_int_equal(alg_session_get_stats(s)->syn_ignored, 4);
	alg_session_free(s);
}

/*
 * The ISNs come from the handshake as far as it is believable: a second
 * SYN before the server answered replaces the client's ISN, and the
 * server's SYN-ACK settles it (its ack names the SYN it answered); SYNs
 * and SYN-ACKs after that are not taken. The real data then flows in the
 * window.
 */
static void test_handshake_isn(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key ok, rk;
	struct alg_flow *f;
	struct seg_out o;

	forward_flow_state(&fx->m.cttab, 40000, NAT_CT_SYN_SENT, &ok, &rk);
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 1000, 0, "", &o);
	f = o.f;
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 7777, 0, "", &o);		/* forged, in time */
	assert_int_equal(f->isn[ALG_FTP_FROM_CLIENT], 7777);
	ct_state(&fx->m.cttab, &ok, &rk, NAT_CT_SYN_RECV);
	feed_hdr(s, &rk, ALG_SEG_TCP_SYN | ALG_SEG_TCP_ACK, 5000, 1001, "", &o);
	assert_int_equal(f->isn[ALG_FTP_FROM_CLIENT], 1000);
	assert_int_equal(f->isn[ALG_FTP_FROM_SERVER], 5000);
	feed_hdr(s, &ok, ALG_SEG_TCP_SYN, 8888, 0, "", &o);		/* too late */
	assert_int_equal(f->isn[ALG_FTP_FROM_CLIENT], 1000);
	ct_state(&fx->m.cttab, &ok, &rk, NAT_CT_ESTABLISHED);
	feed_hdr(s, &rk, ALG_SEG_TCP_SYN | ALG_SEG_TCP_ACK, 6666, 8889, "", &o);	/* too late */
	assert_int_equal(f->isn[ALG_FTP_FROM_CLIENT], 1000);
	assert_int_equal(f->isn[ALG_FTP_FROM_SERVER], 5000);
	assert_true(alg_ftp_in_window(&f->conn, ALG_FTP_FROM_SERVER, 5001));
	feed(s, &rk, false, 5001, GREETING, &o);
	assert_int_equal(alg_ftp_get_state(&f->conn), ALG_FTP_ST_INSPECT);
	feed(s, &ok, false, 1001, PASV, &o);
	assert_int_equal(o.res.verdict, ALG_FTP_PASS);
	alg_session_free(s);
}

/*
 * A LAN client pipelining PORTs to a server that never answers: each one
 * rewritten holds an outside port until its 200; the session holds at
 * most 4, the fifth PORT passes unrewritten (nothing will open) and is
 * counted as refused. The 200s release them, and PORT works again.
 */
static void test_port_reservations_per_session(void **state)
{
	struct fixture *fx = *state;
	struct alg_session *s = alg_session_new(&fx->m, 60);
	struct nat_ct_key ok, rk;
	uint32_t cseq = 1001, sseq = 5001;
	struct seg_out o;
	const char *port = "PORT 192,168,0,10,156,64\r\n";	/* 26 bytes */

	masq_flow(&fx->m.cttab, &ok, &rk);
	feed(s, &ok, true, 1000, "", &o);
	feed(s, &rk, true, 5000, "", &o);
	feed(s, &rk, false, sseq, "220 ok\r\n", &o);
	sseq += 8;
	for (int i = 0; i < 4; i++, cseq += 26) {
		feed(s, &ok, false, cseq, port, &o);
		assert_int_equal(o.res.verdict, ALG_FTP_REWRITTEN);
	}
	feed(s, &ok, false, cseq, port, &o);
	cseq += 26;
	assert_int_equal(o.res.verdict, ALG_FTP_PASS);
	assert_int_equal(alg_session_get_stats(s)->expects_refused, 1);
	for (int i = 0; i < 5; i++, sseq += 13)
		feed(s, &rk, false, sseq, "200 PORT ok\r\n", &o);
	assert_int_equal(count_expects(fx, &ok), ALG_EXPECT_PER_SESSION);
	/* the 200s released the ports: the next PORT is rewritten (its seq is
	 * the client's own, original: the session maps it) */
	feed(s, &ok, false, cseq, port, &o);
	assert_int_equal(o.res.verdict, ALG_FTP_REWRITTEN);
	alg_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restore_resumes_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_refuses_other_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_gone_and_no_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hand_back_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pending_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hairpin_expect_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_per_session_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_global_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full_evicts_unassured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_resets_only_reused_tuple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_isn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_reservations_per_session, setup, teardown),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to create BPF maps\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
