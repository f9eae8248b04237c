/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xnbench - traffic generator and sink of the macro benchmark.
 *
 *   xnbench gen OBJ IFNAME WARMUP INTERVAL NFLOWS rr|fresh|zipf SRCMAC DSTMAC SRCIP DSTIP DPORT
 *       BPF_PROG_RUN of gen.bpf.o with BPF_F_TEST_XDP_LIVE_FRAMES on IFNAME
 *       (must be run in IFNAME's namespace) for WARMUP + INTERVAL + 0.3
 *       seconds; every frame is XDP_TXed out of IFNAME. rr: flow = packet %
 *       NFLOWS; fresh: a new flow every packet; zipf: a heavy-tailed mix
 *       over NFLOWS flows (bench_zipf.h: Zipf s=1.0, ranks randomly
 *       permuted over the flow numbers, fixed seed). Prints the frames
 *       generated in the window [WARMUP, WARMUP + INTERVAL] (the same window
 *       the sink counts): "offered_pkts=N seconds=S pps=P".
 *       XNBENCH_PPS=P paces the generator to P frames a second (a sleep after
 *       each call; use with a small XNBENCH_REPEAT), e.g. new flows/s in the
 *       NAT log's benchmark.
 *       With XNBENCH_SINK=NETNS_PATH:IFNAME:SINK_OBJ it also attaches the sink
 *       (entering that namespace for the attach only) and reads its counters
 *       at the very call boundaries that delimit the offered window, adding
 *       " delivered_pkts=N delivered_pps=P other=M": offered and delivered
 *       over the identical window.
 *   xnbench sink OBJ IFNAME WARMUP INTERVAL
 *       attaches sink.bpf.o to IFNAME (driver mode), waits WARMUP seconds,
 *       counts the frames of the next INTERVAL seconds, detaches. Prints
 *       "delivered_pkts=N seconds=S pps=P other=M".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "bench_zipf.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "xnbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void sleep_s(double s);

static void parse_mac(const char *s, unsigned char *m)
{
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
		fprintf(stderr, "xnbench: bad MAC %s\n", s);
		exit(2);
	}
}

static struct bpf_object *load(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj || libbpf_get_error(obj))
		die(path);
	if (bpf_object__load(obj))
		die("load");
	return obj;
}

static unsigned ifindex_of(const char *name)
{
	unsigned i = if_nametoindex(name);
	if (!i)
		die(name);
	return i;
}

static void sink_read(unsigned long long *pkts, unsigned long long *other);
static int sink_fd;
static unsigned sink_ifindex;
static int sink_nsfd = -1, home_nsfd = -1;

/* XNBENCH_SINK=NETNS_PATH:IFNAME:OBJ: attach the sink in that namespace */
static int sink_setup(const char *spec)
{
	char buf[512], *ifname, *obj;
	snprintf(buf, sizeof(buf), "%s", spec);
	ifname = strchr(buf, ':');
	if (!ifname || !(obj = strchr(ifname + 1, ':')))
		return -1;
	*ifname++ = 0;
	*obj++ = 0;
	home_nsfd = open("/proc/self/ns/net", O_RDONLY);
	sink_nsfd = open(buf, O_RDONLY);
	if (home_nsfd < 0 || sink_nsfd < 0 || setns(sink_nsfd, CLONE_NEWNET))
		die("sink namespace");
	struct bpf_object *o = load(obj);
	struct bpf_program *p = bpf_object__find_program_by_name(o, "sink_xdp");
	struct bpf_map *m = bpf_object__find_map_by_name(o, "sink_cnt");
	unsigned ifx = ifindex_of(ifname);
	if (!p || !m || bpf_xdp_attach(ifx, bpf_program__fd(p), XDP_FLAGS_DRV_MODE, NULL))
		die("attach sink");
	sink_fd = bpf_map__fd(m);
	sink_ifindex = ifx;
	if (setns(home_nsfd, CLONE_NEWNET))
		die("back to the generator namespace");
	return 0;
}

static void sink_teardown(void)
{
	if (sink_nsfd < 0 || !sink_ifindex)
		return;
	if (!setns(sink_nsfd, CLONE_NEWNET))
		bpf_xdp_detach(sink_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	sink_ifindex = 0;
	setns(home_nsfd, CLONE_NEWNET);
}

static int cmd_gen(int argc, char **argv)
{
	if (argc != 12) {
		fprintf(stderr, "usage: xnbench gen OBJ IFNAME WARMUP INTERVAL NFLOWS rr|fresh|zipf SRCMAC DSTMAC SRCIP DSTIP DPORT\n");
		return 2;
	}
	__u32 mode = !strcmp(argv[6], "fresh") ? GEN_MODE_FRESH
		     : !strcmp(argv[6], "zipf") ? GEN_MODE_ZIPF
		     : !strcmp(argv[6], "rr") ? GEN_MODE_RR : ~0u;
	if (mode == ~0u) {
		fprintf(stderr, "xnbench: bad mode %s (rr, fresh or zipf)\n", argv[6]);
		return 2;
	}
	double warm = atof(argv[3]), interval = atof(argv[4]);
	struct bpf_object *obj = load(argv[1]);
	unsigned ifindex = ifindex_of(argv[2]);
	struct bench_gen_cfg cfg = { .nflows = strtoul(argv[5], NULL, 0),
				     .mode = mode };
	unsigned char *f = cfg.frame;
	struct in_addr a;

	parse_mac(argv[8], f);			/* eth dst */
	parse_mac(argv[7], f + 6);		/* eth src */
	f[12] = 0x08; f[13] = 0x00;
	unsigned char *ip = f + 14;
	ip[0] = 0x45; ip[1] = 0;
	ip[2] = 0; ip[3] = BENCH_FRAME_LEN - 14;	/* tot_len */
	ip[8] = 64; ip[9] = 17;				/* ttl, UDP */
	if (!inet_aton(argv[9], &a)) return 2;
	memcpy(ip + 12, &a, 4);
	if (!inet_aton(argv[10], &a)) return 2;
	memcpy(ip + 16, &a, 4);
	unsigned char *udp = ip + 20;
	unsigned dport = strtoul(argv[11], NULL, 0);
	udp[0] = 1024 >> 8; udp[1] = 1024 & 0xff;
	udp[2] = dport >> 8; udp[3] = dport & 0xff;
	udp[4] = 0; udp[5] = BENCH_FRAME_LEN - 34;

	__u32 k = 0;
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "gen_cfg");
	if (!m || bpf_map_update_elem(bpf_map__fd(m), &k, &cfg, 0))
		die("gen_cfg");
	if (mode == GEN_MODE_ZIPF) {
		struct bpf_map *zm = bpf_object__find_map_by_name(obj, "gen_zipf");

		if (!zm || bench_zipf_load(bpf_map__fd(zm), cfg.nflows, BENCH_ZIPF_S, NULL)) {
			fprintf(stderr, "xnbench: cannot fill gen_zipf (zipf needs NFLOWS > 0)\n");
			return 1;
		}
	}
	/* XNBENCH_SEQ: the first packet's number (fresh mode: a second run in
	 * the same router starts past the first's flows, so that every one of
	 * its packets is a new flow too) */
	const char *seq0 = getenv("XNBENCH_SEQ");
	if (seq0) {
		int ncpu = libbpf_num_possible_cpus();
		struct bpf_map *sm = bpf_object__find_map_by_name(obj, "gen_seq");
		__u64 *v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL, first = strtoull(seq0, NULL, 0);

		if (!sm || !v)
			die("gen_seq");
		for (int i = 0; i < ncpu; i++)
			v[i] = first;
		if (bpf_map_update_elem(bpf_map__fd(sm), &k, v, 0))
			die("gen_seq");
		free(v);
	}
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "gen_xdp");
	if (!p)
		die("gen_xdp");

	unsigned char frame[BENCH_FRAME_LEN];
	memcpy(frame, cfg.frame, sizeof(frame));
	struct xdp_md ctx = { .data_end = sizeof(frame), .ingress_ifindex = ifindex };
	/* Each BPF_PROG_RUN call costs ~3 ms of setup/teardown here, so calls
	 * must be big; but a call is also the time resolution of the window.
	 * Aim at ~100 ms per call (XNBENCH_REPEAT fixes the size instead). The
	 * rate is computed between call boundaries, so it is exact for that span. */
	const char *fixed = getenv("XNBENCH_REPEAT");
	__u32 repeat = fixed ? strtoul(fixed, NULL, 0) : 16384;	/* then adapted */
	unsigned long long total = 0, w0 = 0, w1 = 0, d0 = 0, d1 = 0, o0 = 0, o1 = 0;
	const char *sink = getenv("XNBENCH_SINK");
	const char *pace = getenv("XNBENCH_PPS");
	double pps = pace ? strtod(pace, NULL) : 0;
	if (sink && sink_setup(sink)) {
		fprintf(stderr, "xnbench: bad XNBENCH_SINK %s\n", sink);
		return 2;
	}
	double t0 = now(), t = 0, tw0 = 0, tw1 = 0;
	do {
		double tc = t;
		LIBBPF_OPTS(bpf_test_run_opts, o,
			    .data_in = frame, .data_size_in = sizeof(frame),
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
			    .repeat = repeat, .batch_size = 64,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
		if (bpf_prog_test_run_opts(bpf_program__fd(p), &o))
			die("BPF_PROG_RUN live frames");
		total += repeat;
		t = now() - t0;
		if (pps > 0 && total / pps > t) {
			sleep_s(total / pps - t);
			t = now() - t0;
		}
		if (!fixed && t > tc) {
			double r = repeat / (t - tc) * 0.1;
			repeat = r < 16384 ? 16384 : r > (1 << 20) ? 1 << 20 : (__u32)r;
		}
		if (!tw0 && t >= warm) {
			tw0 = t;
			w0 = total;
			if (sink)
				sink_read(&d0, &o0);
		}
		if (!tw1 && t >= warm + interval) {
			tw1 = t;
			w1 = total;
			if (sink)
				sink_read(&d1, &o1);
		}
	} while (t < warm + interval + (sink ? 0 : 0.3));
	sink_teardown();
	printf("offered_pkts=%llu seconds=%.3f pps=%.0f total_pkts=%llu total_seconds=%.3f",
	       w1 - w0, tw1 - tw0, (w1 - w0) / (tw1 - tw0), total, t);
	if (sink)
		printf(" delivered_pkts=%llu delivered_pps=%.0f other=%llu", d1 - d0,
		       (d1 - d0) / (tw1 - tw0), o1 - o0);
	printf("\n");
	return 0;
}

static void sink_detach(void)
{
	if (sink_ifindex)
		bpf_xdp_detach(sink_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	sink_ifindex = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	sink_detach();
	_exit(1);
}

static void sink_read(unsigned long long *pkts, unsigned long long *other)
{
	int n = libbpf_num_possible_cpus();
	struct bench_cnt v[n];
	__u32 k = 0;
	*pkts = *other = 0;
	if (bpf_map_lookup_elem(sink_fd, &k, v))
		die("sink_cnt");
	for (int i = 0; i < n; i++) {
		*pkts += v[i].pkts;
		*other += v[i].other;
	}
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmd_sink(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: xnbench sink OBJ IFNAME WARMUP INTERVAL\n");
		return 2;
	}
	struct bpf_object *obj = load(argv[1]);
	unsigned ifindex = ifindex_of(argv[2]);
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "sink_xdp");
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "sink_cnt");
	if (!p || !m)
		die("sink object");
	sink_fd = bpf_map__fd(m);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (bpf_xdp_attach(ifindex, bpf_program__fd(p), XDP_FLAGS_DRV_MODE, NULL))
		die("attach sink");
	sink_ifindex = ifindex;
	sleep_s(atof(argv[3]));
	/* each counter read is timed at the middle of the read */
	unsigned long long p0, o0, p1, o1;
	double a = now();
	sink_read(&p0, &o0);
	double t0 = (a + now()) / 2;
	sleep_s(atof(argv[4]));
	a = now();
	sink_read(&p1, &o1);
	double t = (a + now()) / 2 - t0;
	sink_detach();
	printf("delivered_pkts=%llu seconds=%.3f pps=%.0f other=%llu\n", p1 - p0, t, (p1 - p0) / t, o1 - o0);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(NULL);
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		return cmd_gen(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "sink"))
		return cmd_sink(argc - 1, argv + 1);
	fprintf(stderr, "usage: xnbench gen|sink ...\n");
	return 2;
}
