/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_alg.c - the FTP ALG's start and stop around saved sessions (needs
 * root): a real ALG thread with an AF_XDP socket on the loopback interface
 * of a private network namespace, on BPF maps made here. alg_start()
 * resumes what nat_alg_state holds and clears NAT_CFG_F_ALG_OFF;
 * alg_stop(a, false) leaves the sessions for the next ALG, alg_stop(a,
 * true) hands them back; a failed start, alg_off() and a thread that dies
 * (poll() made to fail with RLIMIT_NOFILE) hand them back and set
 * NAT_CFG_F_ALG_OFF.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include "alg/alg.h"
#include "alg/alg_segment.h"
#include "alg/alg_session.h"
#include "common/maps.h"

struct fixture {
	struct nat_maps m;
	struct xdpnat_config cfg;
	struct alg_iface lo;
	struct nat_ct_key ok, rk;	/* the control flow of the saved session */
};

static int map_new(enum bpf_map_type type, const char *name, size_t ksz, size_t vsz,
		   unsigned max, __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int fd = bpf_map_create(type, name, ksz, vsz, max, &o);

	assert_true(fd >= 0);
	return fd;
}

static __be32 ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static __u32 config_flags(const struct fixture *f)
{
	struct nat_config c;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(f->m.config, &zero, &c), 0);
	return c.flags;
}

static void config_set_flags(const struct fixture *f, __u32 flags)
{
	struct nat_config c;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(f->m.config, &zero, &c), 0);
	c.flags = flags;
	assert_int_equal(bpf_map_update_elem(f->m.config, &zero, &c, BPF_ANY), 0);
}

static uint8_t ct_flags(const struct fixture *f, const struct nat_ct_key *k)
{
	struct nat_ct_value v;

	assert_int_equal(ct_get(&f->m.cttab, k, &v), 0);
	return v.flags;
}

/* 198.51.100.2:40000 -> 198.51.100.1:21 forwarded to 192.168.0.254:21 */
static void flow_put(struct fixture *f)
{
	struct nat_ct_value ov = {
		.to_saddr = ip("198.51.100.2"), .to_daddr = ip("192.168.0.254"),
		.to_sport = htons(40000), .to_dport = htons(21), .wan_ifindex = 7,
		.dir = NAT_DIR_ORIG, .kind = NAT_KIND_FORWARD, .state = NAT_CT_ESTABLISHED,
		.flags = NAT_CT_F_ALG,
	};
	struct nat_ct_value rv = ov;

	f->ok = (struct nat_ct_key){ .saddr = ip("198.51.100.2"), .daddr = ip("198.51.100.1"),
				     .sport = htons(40000), .dport = htons(21), .proto = IPPROTO_TCP };
	f->rk = (struct nat_ct_key){ .saddr = ip("192.168.0.254"), .daddr = ip("198.51.100.2"),
				     .sport = htons(21), .dport = htons(40000), .proto = IPPROTO_TCP };
	rv.to_saddr = f->ok.daddr;
	rv.to_daddr = f->ok.saddr;
	rv.to_sport = f->ok.dport;
	rv.to_dport = f->ok.sport;
	rv.dir = NAT_DIR_REPLY;
	assert_int_equal(ct_put(&f->m.cttab, &f->rk, &rv, BPF_NOEXIST), 0);
	assert_int_equal(ct_put(&f->m.cttab, &f->ok, &ov, BPF_NOEXIST), 0);
}

static void seg(struct alg_session *s, const struct nat_ct_key *k, bool syn, uint32_t seq,
		const char *text, struct alg_ftp_result *res)
{
	enum alg_ftp_dir dir;
	struct alg_flow *fl = alg_session_flow(s, k, syn ? ALG_SEG_TCP_SYN : ALG_SEG_TCP_ACK, seq, 0, &dir);
	uint8_t out[256];

	assert_non_null(fl);
	memset(res, 0, sizeof(*res));
	if (!syn)
		alg_ftp_process(&fl->conn, dir, seq, (const uint8_t *)text, strlen(text), out,
				sizeof(out), res);
	alg_session_events(s, fl, res);
	alg_session_packet_done(s, fl);
}

/* An earlier ALG's session in nat_alg_state: a 227 rewritten (the server's
 * stream one byte shorter), then the ALG gone without a word (SIGKILL). */
static void saved_session(struct fixture *f)
{
	struct alg_session *s = alg_session_new(&f->m, 60);
	struct alg_ftp_result res;

	assert_non_null(s);
	seg(s, &f->ok, true, 1000, "", &res);
	seg(s, &f->rk, true, 5000, "", &res);
	seg(s, &f->rk, false, 5001, "220 ready\r\n", &res);
	seg(s, &f->ok, false, 1001, "PASV\r\n", &res);
	seg(s, &f->rk, false, 5012, "227 Entering Passive Mode (192,168,0,254,195,80).\r\n", &res);
	assert_int_equal(res.verdict, ALG_FTP_REWRITTEN);
	alg_session_free(s);
}

static int setup(void **state)
{
	static struct fixture f;
	struct nat_config cfg = NAT_CONFIG_DEFAULTS;
	__u32 zero = 0;

	memset(&f, 0, sizeof(f));
	/* a namespace of our own: its lo carries the ALG's socket */
	if (unshare(CLONE_NEWNET) || system("ip link set lo up"))
		return -1;
	nat_maps_init(&f.m);
	f.m.ct = cttab_create(32);	/* 64 entries */
	assert_true(f.m.ct >= 0);
	assert_int_equal(nat_maps_map_ct(&f.m), 0);
	f.m.config = map_new(BPF_MAP_TYPE_ARRAY, "t_cfg", 4, sizeof(struct nat_config), 1, 0);
	f.m.expect = map_new(BPF_MAP_TYPE_HASH, "t_exp", sizeof(struct nat_expect_key),
			     sizeof(struct nat_expect_value), 64, 0);
	f.m.alg = map_new(BPF_MAP_TYPE_HASH, "t_alg", sizeof(struct nat_ct_key),
			  sizeof(struct nat_alg_value), 64, 0);
	f.m.alg_state = map_new(BPF_MAP_TYPE_HASH, "t_alg_state", sizeof(struct nat_ct_key),
				sizeof(struct nat_alg_state), 64, BPF_F_NO_PREALLOC);
	f.m.xsks = map_new(BPF_MAP_TYPE_XSKMAP, "t_xsks", 4, 4,
			   XDPNAT_MAX_IFACES * XDPNAT_XSK_QUEUES, 0);
	f.m.alg_stats = map_new(BPF_MAP_TYPE_ARRAY, "t_alg_stats", 4, sizeof(struct nat_alg_stats),
				1, 0);
	assert_int_equal(bpf_map_update_elem(f.m.config, &zero, &cfg, BPF_ANY), 0);
	snprintf(f.lo.name, sizeof(f.lo.name), "lo");
	f.lo.ifindex = (int)if_nametoindex("lo");
	f.lo.slot = 3;
	flow_put(&f);
	saved_session(&f);
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
	close(f->m.xsks);
	close(f->m.alg_stats);
	return 0;
}

#define HANDED_BACK (NAT_CT_F_ALG | NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ)

static void expect_handed_back(const struct fixture *f)
{
	struct nat_alg_value av;

	assert_int_equal(ct_flags(f, &f->ok), HANDED_BACK);
	assert_int_equal(ct_flags(f, &f->rk), HANDED_BACK);
	assert_int_equal(bpf_map_lookup_elem(f->m.alg, &f->ok, &av), 0);
	assert_int_equal(av.delta[1], -1);
	assert_int_not_equal(av.opaque_since, 0);
}

/* A restart: the new ALG resumes the session and clears ALG_OFF; stopping
 * it for the next restart leaves the session inspected and saved; stopping
 * it for good (a reload without `alg ftp`) hands it back. */
static void test_start_resumes_stop_keeps(void **state)
{
	struct fixture *f = *state;
	static struct nat_alg_state before, after;
	struct alg *a;

	config_set_flags(f, NAT_CFG_F_ALG_OFF | NAT_CFG_F_NO_FASTPATH);
	assert_int_equal(bpf_map_lookup_elem(f->m.alg_state, &f->ok, &before), 0);
	a = alg_start(&f->cfg, &f->m, &f->lo, 1);
	assert_non_null(a);
	assert_false(alg_failed(a));
	assert_int_equal(config_flags(f), NAT_CFG_F_NO_FASTPATH);	/* the operator's stays */
	alg_stop(a, false);
	assert_int_equal(ct_flags(f, &f->ok), NAT_CT_F_ALG);
	assert_int_equal(ct_flags(f, &f->rk), NAT_CT_F_ALG);
	assert_int_equal(bpf_map_lookup_elem(f->m.alg_state, &f->ok, &after), 0);
	assert_memory_equal(&after, &before, sizeof(before));

	a = alg_start(&f->cfg, &f->m, &f->lo, 1);	/* resumes it once more */
	assert_non_null(a);
	alg_stop(a, true);
	expect_handed_back(f);
	assert_int_equal(config_flags(f), NAT_CFG_F_NO_FASTPATH);
}

/* An ALG that cannot start (no such interface) leaves nothing marked for
 * it: the saved session is handed back and ALG_OFF is set. */
static void test_start_fails(void **state)
{
	struct fixture *f = *state;
	struct alg_iface none = { .name = "xn-none0", .ifindex = 4242, .slot = 1 };

	assert_null(alg_start(&f->cfg, &f->m, &none, 1));
	assert_int_equal(config_flags(f), NAT_CFG_F_ALG_OFF);
	expect_handed_back(f);
}

/* `alg ftp` off in the new configuration: alg_off() does the same, once. */
static void test_alg_off(void **state)
{
	struct fixture *f = *state;

	alg_off(&f->m);
	assert_int_equal(config_flags(f), NAT_CFG_F_ALG_OFF);
	expect_handed_back(f);
	alg_off(&f->m);
	assert_int_equal(config_flags(f), NAT_CFG_F_ALG_OFF);
	expect_handed_back(f);
}

/* The thread dies (its poll() fails: more descriptors than RLIMIT_NOFILE
 * allows): degraded. Its session is handed back, ALG_OFF set, alg_failed()
 * says so; alg_stop() afterwards is harmless. */
static void test_thread_dies(void **state)
{
	struct fixture *f = *state;
	struct rlimit lim, one;
	struct alg *a;
	int i;

	assert_false(alg_failed(NULL));
	a = alg_start(&f->cfg, &f->m, &f->lo, 1);
	assert_non_null(a);
	assert_int_equal(ct_flags(f, &f->ok), NAT_CT_F_ALG);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
	one = (struct rlimit){ .rlim_cur = 1, .rlim_max = lim.rlim_max };	/* poll() of 2 fds */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &one), 0);
	for (i = 0; i < 100 && !alg_failed(a); i++)
		usleep(20000);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	assert_true(alg_failed(a));
	assert_int_equal(config_flags(f), NAT_CFG_F_ALG_OFF);
	expect_handed_back(f);
	alg_stop(a, false);
	expect_handed_back(f);
}

/*
 * nat_alg_stats: an ALG adds its counters to what the ones before left
 * (a restart keeps them, like nat_stats), and writes its gauges: the
 * resumed session counts in alg_sessions while it runs and when it stops
 * for the next run.
 */
static void test_stats_kept_across_runs(void **state)
{
	struct fixture *f = *state;
	struct nat_alg_stats st = { .alg_evicted = 5, .alg_expects_refused = 7, .alg_sessions = 99 };
	__u32 zero = 0;
	struct alg *a;

	assert_int_equal(bpf_map_update_elem(f->m.alg_stats, &zero, &st, BPF_ANY), 0);
	a = alg_start(&f->cfg, &f->m, &f->lo, 1);
	assert_non_null(a);
	alg_stop(a, false);
	assert_int_equal(bpf_map_lookup_elem(f->m.alg_stats, &zero, &st), 0);
	assert_int_equal(st.alg_evicted, 5);
	assert_int_equal(st.alg_expects_refused, 7);
	assert_int_equal(st.alg_sessions, 1);
	assert_int_equal(st.alg_expects_live, 1);	/* the saved session's 227 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_resumes_stop_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alg_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_dies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_kept_across_runs, setup, teardown),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (BPF maps, a network namespace)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
