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
#include "alg/alg_session.h"
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
	f.m.ct = map_new("t_ct", sizeof(struct nat_ct_key), sizeof(struct nat_ct_value), 256, 0);
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

/* Both entries of a TCP flow: orig key ok translated to `to`; returns the
 * reply key in *rk. */
static void flow_put(int ct, const struct nat_ct_key *ok, const struct nat_ct_key *to,
		     uint8_t kind, struct nat_ct_key *rk)
{
	struct nat_ct_value ov = {
		.to_saddr = to->saddr, .to_daddr = to->daddr, .to_sport = to->sport,
		.to_dport = to->dport, .wan_ifindex = 7, .dir = NAT_DIR_ORIG, .kind = kind,
		.state = NAT_CT_ESTABLISHED, .flags = NAT_CT_F_ALG,
	};
	struct nat_ct_value rv = {
		.to_saddr = ok->daddr, .to_daddr = ok->saddr, .to_sport = ok->dport,
		.to_dport = ok->sport, .wan_ifindex = 7, .dir = NAT_DIR_REPLY, .kind = kind,
		.state = NAT_CT_ESTABLISHED, .flags = NAT_CT_F_ALG,
	};

	*rk = (struct nat_ct_key){ .saddr = to->daddr, .daddr = to->saddr, .sport = to->dport,
				   .dport = to->sport, .proto = IPPROTO_TCP };
	assert_int_equal(bpf_map_update_elem(ct, rk, &rv, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_update_elem(ct, ok, &ov, BPF_NOEXIST), 0);
}

/* Case B: 198.51.100.2:40000 -> 198.51.100.1:21 forwarded to 192.168.0.254:21. */
static void forward_flow(int ct, uint16_t sport, struct nat_ct_key *ok, struct nat_ct_key *rk)
{
	struct nat_ct_key to = key("198.51.100.2", sport, "192.168.0.254", 21);

	*ok = key("198.51.100.2", sport, "198.51.100.1", 21);
	flow_put(ct, ok, &to, NAT_KIND_FORWARD, rk);
}

/* Case A: 192.168.0.10:40001 -> 203.0.113.5:21 masqueraded to 198.51.100.1. */
static void masq_flow(int ct, struct nat_ct_key *ok, struct nat_ct_key *rk)
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

/* One segment the way alg.c's handle_frame takes it, without the frame:
 * the session's flow, the core, the events, then packet_done (the save,
 * made before the segment would be transmitted). */
static void feed(struct alg_session *s, const struct nat_ct_key *k, bool syn, uint32_t seq,
		 const char *text, struct seg_out *o)
{
	enum alg_ftp_dir dir = ALG_FTP_FROM_CLIENT;
	size_t len = strlen(text);

	memset(o, 0, sizeof(*o));
	o->f = alg_session_flow(s, k, syn, seq, &dir);
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

	assert_int_equal(bpf_map_lookup_elem(f->m.ct, k, &v), 0);
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

	forward_flow(fx->m.ct, 40000, &ok, &rk);
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
	assert_int_equal(ct_flags(fx, &ok), NAT_CT_F_ALG);	/* still inspected */

	f2 = alg_session_flow(s2, &rk, false, 5063, &dir);
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

	forward_flow(fx->m.ct, 40000, &ok, &rk);
	forward_flow(fx->m.ct, 40002, &ok2, &rk2);
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

	forward_flow(fx->m.ct, 40000, &ok, &rk);
	forward_flow(fx->m.ct, 40003, &gk, &grk);
	forward_to_227(s, &ok, &rk, &o);
	feed(s, &gk, true, 7000, "", &o);
	alg_session_free(s);
	assert_int_equal(bpf_map_delete_elem(fx->m.ct, &gk), 0);
	assert_int_equal(bpf_map_delete_elem(fx->m.ct, &grk), 0);

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

	forward_flow(fx->m.ct, 40000, &ok, &rk);
	forward_flow(fx->m.ct, 40004, &ok2, &rk2);
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

	masq_flow(fx->m.ct, &ok, &rk);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restore_resumes_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_refuses_other_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_gone_and_no_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hand_back_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pending_port, setup, teardown),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to create BPF maps\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
