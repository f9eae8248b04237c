/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * micro - per-packet cost of xdpnat_xdp_lan/_wan's data-path cases with
 * BPF_PROG_TEST_RUN, against a bare XDP forwarder (fwd.bpf.o) as the ceiling.
 *
 *   micro run FWD_OBJ WRAP_OBJ LAN_IF WAN_IF
 *   micro memory FLOWS...
 *   micro memlat MIB|USED@MIB...
 *
 * `run` must be started in a namespace where LAN_IF (192.168.0.1/24) and
 * WAN_IF (198.51.100.1/24, default route via 198.51.100.2) exist with
 * permanent neighbours for 192.168.0.10, 192.168.0.254 and 198.51.100.2 and
 * ip_forward=1 (tests/bench/run.sh sets this up): bpf_fib_lookup runs in the
 * test_run caller's namespace against ctx.ingress_ifindex.
 *
 * Method (why not repeat=N on the program directly): test_run copies the
 * packet in once and runs the program `repeat` times on the same buffer; a
 * NAT rewrites it, so every run after the first would see the translated
 * packet. Every case therefore runs micro_wrap.bpf.o, which restores the
 * 64-byte frame from a template and tail-calls the program under test.
 * The wrapper's own cost (restore + tail call into an empty program) is
 * measured the same way and subtracted: "net ns". Each case is checked
 * first with repeat=1: verdict XDP_REDIRECT and the translated header as
 * expected; a case that does not check out is reported, not timed silently.
 *
 * MICRO_ONLY=est,rr,new,zipf (default all) selects the cases: est = the
 * one-flow cases, rr = round robin over many flows and the Zipf mix, new =
 * new flows, zipf = the Zipf mix only. The harness and the forwarder (the
 * ceiling) always run.
 *
 * `memory` loads xdpnat.bpf.o with every map the loader sizes from
 * conntrack-max sized for FLOWS flows, as ctl/daemon/loader.c does
 * (nat_ct 1 + 2.5 x slots of 64 bytes, nat_eim 2 x, nat_unassured
 * conntrack-max / 4 clamped; nat_eim_ports, a table for the one WAN, is
 * among the fixed maps),
 * and prints each one's memlock from /proc/self/fdinfo; nat_eim is not
 * preallocated, so it is also filled to its bound and read again.
 *
 * `memlat` measures what a cache miss costs on this machine, the floor of
 * every case that reads a line of a table larger than the caches (round
 * robin over many flows): a chain of dependent loads, each at a random
 * 64-byte line of MIB MiB of 4 KiB pages (as BPF arrays are: vmalloc
 * memory), one cycle through every line in random order (Sattolo). ns per
 * load. USED@MIB: the same over USED lines at random places of MIB MiB,
 * what a macro point of USED flows in a table of that size reads; a program longer than the CPU's reorder window cannot overlap two
 * packets' misses, so this latency is what one such packet pays. A
 * trailing 'h' (10000@10h) takes the same lines in 2 MiB pages: the
 * difference is what TLB misses add (a BPF array this large is vmalloc
 * memory in 4 KiB pages and cannot have them).
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xdpnat.h"
#include "common/cttab.h"
#include "common/fwdports.h"
#include "bench.h"
#include "bench_zipf.h"
#include "xdpnat.skel.h"

#define ROUNDS		9
#define REPEAT		500000
#define NEW_FLOWS	10000		/* flows created per round of the new-flow case */

static void die(const char *what)
{
	fprintf(stderr, "micro: %s: %s\n", what, strerror(errno));
	exit(1);
}

static __u32 ip4(const char *s)
{
	struct in_addr a;
	if (!inet_aton(s, &a)) {
		fprintf(stderr, "micro: bad address %s\n", s);
		exit(2);
	}
	return a.s_addr;
}

static void read_mac(const char *ifname, unsigned char *m)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	FILE *f = fopen(path, "r");
	if (!f || fscanf(f, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		die(path);
	fclose(f);
}

static __u16 read_mtu(const char *ifname)
{
	char path[128];
	unsigned mtu = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", ifname);
	FILE *f = fopen(path, "r");
	if (!f || fscanf(f, "%u", &mtu) != 1)
		die(path);
	fclose(f);
	return (__u16)mtu;
}

static __u16 csum_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

static __u32 csum_add(__u32 s, const void *p, int len)
{
	const __u8 *b = p;
	for (int i = 0; i + 1 < len; i += 2)
		s += (b[i] << 8) | b[i + 1];
	if (len & 1)
		s += b[len - 1] << 8;
	return s;
}

/* A 64-byte Ethernet/IPv4/UDP frame with valid IP and UDP checksums. */
static void frame(__u8 *f, const __u8 *smac, const __u8 *dmac, __u32 saddr, __u32 daddr,
		  __u16 sport, __u16 dport)
{
	memset(f, 0, BENCH_FRAME_LEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	__u8 *ip = f + 14, *udp = ip + 20;
	int udplen = BENCH_FRAME_LEN - 34;
	ip[0] = 0x45;
	ip[3] = BENCH_FRAME_LEN - 14;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	__u16 c = htons(csum_fold(csum_add(0, ip, 20)));
	memcpy(ip + 10, &c, 2);
	udp[0] = sport >> 8; udp[1] = sport;
	udp[2] = dport >> 8; udp[3] = dport;
	udp[4] = udplen >> 8; udp[5] = udplen;
	for (int i = 8; i < udplen; i++)
		udp[i] = i;
	__u32 s = csum_add(0, ip + 12, 8) + 17 + udplen;
	c = htons(csum_fold(csum_add(s, udp, udplen)));
	memcpy(udp + 6, &c, 2);
}

/* The same frame as a TCP segment of an established connection (ACK,
 * seq 1001, ack 5001, 10 bytes of data): what the window check reads. */
static void frame_tcp(__u8 *f, const __u8 *smac, const __u8 *dmac, __u32 saddr, __u32 daddr,
		      __u16 sport, __u16 dport)
{
	memset(f, 0, BENCH_FRAME_LEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	__u8 *ip = f + 14, *tcp = ip + 20;
	int tcplen = BENCH_FRAME_LEN - 34;
	ip[0] = 0x45;
	ip[3] = BENCH_FRAME_LEN - 14;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	__u16 c = htons(csum_fold(csum_add(0, ip, 20)));
	memcpy(ip + 10, &c, 2);
	tcp[0] = sport >> 8; tcp[1] = sport;
	tcp[2] = dport >> 8; tcp[3] = dport;
	__u32 seq = htonl(1001), ack = htonl(5001);
	memcpy(tcp + 4, &seq, 4);
	memcpy(tcp + 8, &ack, 4);
	tcp[12] = 5 << 4;
	tcp[13] = 0x10;			/* ACK */
	tcp[14] = 0xff; tcp[15] = 0xff;	/* window */
	for (int i = 20; i < tcplen; i++)
		tcp[i] = i;
	__u32 s = csum_add(0, ip + 12, 8) + 6 + tcplen;
	c = htons(csum_fold(csum_add(s, tcp, tcplen)));
	memcpy(tcp + 16, &c, 2);
}

struct harness {
	int wrap_fd, nop_fd, cfg_fd, progs_fd, zipf_fd;
	__u32 zipf;		/* wrap_cfg.zipf of the next runs */
};

static struct harness H;

static int run(int target_fd, const __u8 *f, unsigned ifindex, int vary, __u32 repeat,
	       __u32 *retval, __u32 *ns, __u8 *out)
{
	__u32 k = 0;
	struct bench_wrap_cfg cfg = { .vary = vary, .zipf = H.zipf };
	__u8 buf[BENCH_FRAME_LEN + 64];
	memcpy(cfg.frame, f, BENCH_FRAME_LEN);
	if (bpf_map_update_elem(H.progs_fd, &k, &target_fd, 0))
		die("wrap_progs");
	if (bpf_map_update_elem(H.cfg_fd, &k, &cfg, 0))
		die("wrap_cfg");
	struct xdp_md ctx = { .data_end = BENCH_FRAME_LEN, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = f, .data_size_in = BENCH_FRAME_LEN,
		    .data_out = buf, .data_size_out = sizeof(buf),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = repeat);
	if (bpf_prog_test_run_opts(H.wrap_fd, &o))
		return -errno;
	*retval = o.retval;
	*ns = o.duration;
	if (out)
		memcpy(out, buf, BENCH_FRAME_LEN);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;
	return x < y ? -1 : x > y;
}

/* fastest of ROUNDS rounds, in ns/packet (the least disturbed by other
 * work on the machine); before_round() runs before each */
static double timed(int target_fd, const __u8 *f, unsigned ifindex, int vary, __u32 repeat,
		    void (*before_round)(void))
{
	__u32 v[ROUNDS], rv;
	for (int i = 0; i < ROUNDS; i++) {
		if (before_round)
			before_round();
		if (run(target_fd, f, ifindex, vary, repeat, &rv, &v[i], NULL))
			return -1;
	}
	qsort(v, ROUNDS, sizeof(v[0]), cmp_u32);
	return v[0];
}

static const char *verdict(__u32 rv)
{
	static const char *n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };
	return rv < 5 ? n[rv] : "?";
}

static struct xdpnat_bpf *nat;

/* MICRO_ONLY=est,rr,new,zipf: the cases to time (default all) */
static int want(const char *what)
{
	const char *only = getenv("MICRO_ONLY");
	return !only || !*only || strstr(only, what) != NULL;
}
static unsigned lan_if, wan_if;
static __u8 lan_mac[6], wan_mac[6], lanc_mac[6], lans_mac[6], inet_mac[6];
static __u32 A_WAN, A_LANC, A_LANS, A_REMOTE, A_GW;

static __u64 mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* nat_ct is a table of 64-byte slots (include/nat_ct_slots.h): sized, and
 * given its slot count and hash keys, before the load, as the loader does
 * (ctl/daemon/loader.c); its header written after it. */
static __u64 ct_hkey_next[NAT_CT_HKEYS];

static void ct_size(struct xdpnat_bpf *o, __u32 ctmax)
{
	__u32 n = cttab_entries_for(ctmax);

	cttab_new_keys(ct_hkey_next);
	bpf_map__set_max_entries(o->maps.nat_ct, n);
	o->rodata->ct_nslots = n - 1;
	memcpy((void *)o->rodata->ct_hkey, ct_hkey_next, sizeof(ct_hkey_next));
}

static int ct_format(struct xdpnat_bpf *o, __u32 ctmax, struct nat_cttab *t)
{
	int fd = bpf_map__fd(o->maps.nat_ct);
	int err = cttab_format(fd, bpf_map__max_entries(o->maps.nat_ct) - 1, 2 * ctmax,
			       ct_hkey_next);

	return err ? err : t ? cttab_map(t, fd) : 0;
}

static struct nat_cttab ct;	/* nat's nat_ct, mapped */

static __u8 ct_put_proto = IPPROTO_UDP;

static void ct_add(__u32 s, __u32 d, __u16 sp, __u16 dp, __u32 ts, __u32 td, __u16 tsp, __u16 tdp,
		   __u8 dir, __u8 kind)
{
	struct nat_ct_key k = { .saddr = s, .daddr = d, .sport = htons(sp), .dport = htons(dp),
				.proto = ct_put_proto };
	struct nat_ct_value v = { .to_saddr = ts, .to_daddr = td, .to_sport = htons(tsp),
				  .to_dport = htons(tdp), .wan_ifindex = wan_if,
				  .last_seen = nat_tick(mono_ns()),
				  .dir = dir, .kind = kind, .state = NAT_CT_ESTABLISHED };
	int err = ct_put(&ct, &k, &v, BPF_ANY);

	if (err) {
		errno = -err;
		die("nat_ct update");
	}
}

/* The state the controller would set up for: wan WAN_IF, lan LAN_IF,
 * outbound WAN_IF, forward udp WAN_IF 8080 to 192.168.0.254:80; plus one
 * established masqueraded flow and one established forwarded flow. */
static char lan_name[IF_NAMESIZE], wan_name[IF_NAMESIZE];

/* What the controller writes at attach: slot 0 the LAN, slot 1 the WAN. */
static void ifslots_fill(void)
{
	int fd = bpf_map__fd(nat->maps.nat_ifslots);
	struct nat_ifslot s0 = { .ifindex = lan_if, .mtu = read_mtu(lan_name) };
	struct nat_ifslot s1 = { .ifindex = wan_if, .mtu = read_mtu(wan_name) };
	__u32 k0 = 0, k1 = 1;
	memcpy(s0.mac, lan_mac, 6);
	memcpy(s1.mac, wan_mac, 6);
	if (bpf_map_update_elem(fd, &k0, &s0, 0) || bpf_map_update_elem(fd, &k1, &s1, 0))
		die("nat_ifslots");
}

/* No next-hop cache: every packet takes bpf_fib_lookup. */
static void ifslots_clear(void)
{
	int fd = bpf_map__fd(nat->maps.nat_ifslots);
	struct nat_ifslot z = {};
	for (__u32 k = 0; k < 2; k++)
		if (bpf_map_update_elem(fd, &k, &z, 0))
			die("nat_ifslots");
}

static void populate(void)
{
	int fd;
	__u32 k = 0;
	struct nat_config cfg = NAT_CONFIG_DEFAULTS;
	/* the timed TCP case repeats one flow far past the bulk threshold:
	 * measure the fast path (which still pays the bulk compare) */
	cfg.tcp_bulk_bytes = 0;
	if (bpf_map_update_elem(bpf_map__fd(nat->maps.nat_config), &k, &cfg, 0))
		die("nat_config");
	struct nat_iface lan = { .role = NAT_IF_LAN, .slot = 0 };
	struct nat_iface wan = { .role = NAT_IF_WAN, .addr = A_WAN, .gateway = A_GW,
				 .port_lo_host = 1024, .port_hi_host = 65535, .masquerade = 1,
				 .slot = 1 };
	fd = bpf_map__fd(nat->maps.nat_ifaces);
	if (bpf_map_update_elem(fd, &lan_if, &lan, 0) || bpf_map_update_elem(fd, &wan_if, &wan, 0))
		die("nat_ifaces");
	ifslots_fill();
	if (bpf_map_update_elem(bpf_map__fd(nat->maps.nat_wanaddr), &A_WAN, &wan_if, 0))
		die("nat_wanaddr");
	struct nat_fwd_key fk = { .ifindex = wan_if, .port = htons(8080), .proto = IPPROTO_UDP };
	struct nat_fwd_value fv = { .addr = A_LANS, .port = htons(80) };
	/* nat_eim_moved complete (nat_eim is empty), as the daemon marks it */
	struct nat_eim_moved ready = { .count = 1 };
	__u32 rk = NAT_EIM_MOVED_READY;
	if (bpf_map_update_elem(bpf_map__fd(nat->maps.nat_eim_moved), &rk, &ready, 0))
		die("nat_eim_moved");
	/* the WAN's table of nat_eim_ports bound to it, as wanstate.c does */
	__u32 hk = 0;
	struct nat_eim_port hdr = { .addr = wan_if };
	if (bpf_map_update_elem(bpf_map__fd(nat->maps.nat_eim_ports), &hk, &hdr, 0))
		die("nat_eim_ports");
	if (fwdports_set(bpf_map__fd(nat->maps.nat_fwd_ports), IPPROTO_UDP, 8080) ||
	    bpf_map_update_elem(bpf_map__fd(nat->maps.nat_forwards), &fk, &fv, 0))
		die("nat_forwards");
	/* masquerade: lanc:40000 -> remote:9 is WAN:61000 -> remote:9 */
	ct_add(A_LANC, A_REMOTE, 40000, 9, A_WAN, A_REMOTE, 61000, 9, NAT_DIR_ORIG, NAT_KIND_MASQ);
	ct_add(A_REMOTE, A_WAN, 9, 61000, A_REMOTE, A_LANC, 9, 40000, NAT_DIR_REPLY, NAT_KIND_MASQ);
	/* forward: remote:5555 -> WAN:8080 is remote:5555 -> lans:80 */
	ct_add(A_REMOTE, A_WAN, 5555, 8080, A_REMOTE, A_LANS, 5555, 80, NAT_DIR_ORIG, NAT_KIND_FORWARD);
	ct_add(A_LANS, A_REMOTE, 80, 5555, A_WAN, A_REMOTE, 8080, 5555, NAT_DIR_REPLY, NAT_KIND_FORWARD);
	/* TCP masquerade: lanc:40001 -> remote:9 is WAN:61001 -> remote:9
	 * (its window is picked up from the first segment) */
	ct_put_proto = IPPROTO_TCP;
	ct_add(A_LANC, A_REMOTE, 40001, 9, A_WAN, A_REMOTE, 61001, 9, NAT_DIR_ORIG, NAT_KIND_MASQ);
	ct_add(A_REMOTE, A_WAN, 9, 61001, A_REMOTE, A_LANC, 9, 40001, NAT_DIR_REPLY, NAT_KIND_MASQ);
	ct_put_proto = IPPROTO_UDP;
}

static int ct_del_one(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	(void)v;
	(void)arg;
	ct_del(&ct, k);
	return 0;
}

/* Every entry deleted, and the tombstones made empty slots again (twice: a
 * run may wrap around the end): as a new table, not one full of DEAD slots
 * that every lookup would walk past. */
static void ct_clear(void)
{
	ct_for_each(&ct, ct_del_one, NULL);
	cttab_tidy(&ct);
	cttab_tidy(&ct);
}

/*
 * Flows 0..n-1 as the wrapper numbers them (vary = n): source
 * 192.168.0.10 + i / 50000, port 1024 + i % 50000, to the remote's port 9,
 * masqueraded to port 1024 + i % 50000 of WAN address + i / 50000 (extra
 * addresses keep every reply key distinct; only the LAN->WAN half is
 * timed). Both halves are inserted, so the table holds 2n entries.
 */
static void ct_fill(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		__u32 src = htonl(ntohl(A_LANC) + i / BENCH_PORTS_PER_DST);
		__u32 out = htonl(ntohl(A_WAN) + i / BENCH_PORTS_PER_DST);
		__u16 port = (__u16)(1024 + i % BENCH_PORTS_PER_DST);
		ct_add(src, A_REMOTE, port, 9, out, A_REMOTE, port, 9, NAT_DIR_ORIG, NAT_KIND_MASQ);
		ct_add(A_REMOTE, out, 9, port, A_REMOTE, src, 9, port, NAT_DIR_REPLY, NAT_KIND_MASQ);
	}
}

/* The RFC 4787 mappings (nat_eim_ports, nat_eim) emptied too: in the
 * router the GC frees a mapping with its last flow, so a new flow of a new
 * endpoint makes one. The ports' table is cleared through its mapping, its
 * header (element 0) kept. */
static void eim_clear(void)
{
	static struct nat_eim_port *ports;
	int fd = bpf_map__fd(nat->maps.nat_eim);
	struct nat_eim_key k, next;

	if (!ports) {
		ports = mmap(NULL, NAT_EIM_PORT_TABLE * sizeof(*ports), PROT_READ | PROT_WRITE,
			     MAP_SHARED, bpf_map__fd(nat->maps.nat_eim_ports), 0);
		if (ports == MAP_FAILED)
			die("mmap nat_eim_ports");
	}
	memset(ports + 1, 0, (NAT_EIM_PORT_TABLE - 1) * sizeof(*ports));
	while (!bpf_map_get_next_key(fd, NULL, &next)) {
		k = next;
		if (bpf_map_delete_elem(fd, &k))
			break;
	}
}

static void new_round(void)
{
	ct_clear();
	eim_clear();
	populate();
}

struct expect {
	__u32 saddr, daddr;
	__u16 sport, dport;	/* 0 = any (also saddr) */
	const __u8 *dmac;
};

static int check(const char *name, int target_fd, const __u8 *f, unsigned ifindex, int vary,
		 const struct expect *e, char *why, size_t whylen)
{
	__u32 rv, ns;
	__u8 out[BENCH_FRAME_LEN];
	int err = run(target_fd, f, ifindex, vary, 1, &rv, &ns, out);
	(void)name;
	if (err) {
		snprintf(why, whylen, "test_run failed: %s", strerror(-err));
		return -1;
	}
	if (rv != XDP_REDIRECT) {
		snprintf(why, whylen, "verdict %s, expected XDP_REDIRECT", verdict(rv));
		return -1;
	}
	__u32 s, d;
	memcpy(&s, out + 26, 4);
	memcpy(&d, out + 30, 4);
	__u16 sp = (out[34] << 8) | out[35], dp = (out[36] << 8) | out[37];
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &s, a, sizeof(a));
	inet_ntop(AF_INET, &d, b, sizeof(b));
	if ((e->saddr && s != e->saddr) || d != e->daddr || (e->sport && sp != e->sport) || (e->dport && dp != e->dport) ||
	    memcmp(out, e->dmac, 6)) {
		snprintf(why, whylen, "translated to %s:%u -> %s:%u, not as expected", a, sp, b, dp);
		return -1;
	}
	/* IP header checksum still valid? */
	if (csum_fold(csum_add(0, out + 14, 20)) != 0) {
		snprintf(why, whylen, "bad IPv4 checksum after translation");
		return -1;
	}
	/* ... and the TCP/UDP checksum (complete: the frame leaves without
	 * skb; frames the wrapper varies have a stale one from the start) */
	int l4len = BENCH_FRAME_LEN - 34;
	if (!vary &&
	    csum_fold(csum_add(csum_add(0, out + 26, 8) + out[23] + l4len, out + 34, l4len)) != 0) {
		snprintf(why, whylen, "bad %s checksum after translation", out[23] == 6 ? "TCP" : "UDP");
		return -1;
	}
	snprintf(why, whylen, "ok: XDP_REDIRECT as %s:%u -> %s:%u", a, sp, b, dp);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: micro run FWD_OBJ WRAP_OBJ LAN_IF WAN_IF\n");
		return 2;
	}
	lan_if = if_nametoindex(argv[3]);
	wan_if = if_nametoindex(argv[4]);
	if (!lan_if || !wan_if)
		die("interfaces");
	read_mac(argv[3], lan_mac);
	read_mac(argv[4], wan_mac);
	snprintf(lan_name, sizeof(lan_name), "%s", argv[3]);
	snprintf(wan_name, sizeof(wan_name), "%s", argv[4]);
	const char *e;
	e = getenv("MICRO_LANC_MAC"); if (!e || sscanf(e, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &lanc_mac[0], &lanc_mac[1], &lanc_mac[2], &lanc_mac[3], &lanc_mac[4], &lanc_mac[5]) != 6) die("MICRO_LANC_MAC");
	e = getenv("MICRO_INET_MAC"); if (!e || sscanf(e, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &inet_mac[0], &inet_mac[1], &inet_mac[2], &inet_mac[3], &inet_mac[4], &inet_mac[5]) != 6) die("MICRO_INET_MAC");
	memcpy(lans_mac, lanc_mac, 6);	/* both LAN hosts behind the same peer in this bench */
	A_WAN = ip4("198.51.100.1"); A_GW = ip4("198.51.100.2");
	A_LANC = ip4("192.168.0.10"); A_LANS = ip4("192.168.0.254");
	A_REMOTE = ip4("203.0.113.10");

	/* harness */
	struct bpf_object *w = bpf_object__open_file(argv[2], NULL);
	if (!w || libbpf_get_error(w) || bpf_object__load(w))
		die(argv[2]);
	H.wrap_fd = bpf_program__fd(bpf_object__find_program_by_name(w, "micro_wrap"));
	H.nop_fd = bpf_program__fd(bpf_object__find_program_by_name(w, "micro_nop"));
	H.cfg_fd = bpf_map__fd(bpf_object__find_map_by_name(w, "wrap_cfg"));
	H.progs_fd = bpf_map__fd(bpf_object__find_map_by_name(w, "wrap_progs"));
	H.zipf_fd = bpf_map__fd(bpf_object__find_map_by_name(w, "wrap_zipf"));
	struct bpf_object *fo = bpf_object__open_file(argv[1], NULL);
	if (!fo || libbpf_get_error(fo) || bpf_object__load(fo))
		die(argv[1]);
	int fwd_fd = bpf_program__fd(bpf_object__find_program_by_name(fo, "fwd_xdp"));

	/* frames, as they arrive at the router */
	__u8 f_l2w[BENCH_FRAME_LEN], f_w2l[BENCH_FRAME_LEN], f_fin[BENCH_FRAME_LEN],
	     f_fout[BENCH_FRAME_LEN], f_fwd_w2l[BENCH_FRAME_LEN], f_tcp_l2w[BENCH_FRAME_LEN];
	frame(f_l2w, lanc_mac, lan_mac, A_LANC, A_REMOTE, 40000, 9);
	frame(f_w2l, inet_mac, wan_mac, A_REMOTE, A_WAN, 9, 61000);
	frame(f_fin, inet_mac, wan_mac, A_REMOTE, A_WAN, 5555, 8080);
	frame(f_fout, lans_mac, lan_mac, A_LANS, A_REMOTE, 80, 5555);
	frame(f_fwd_w2l, inet_mac, wan_mac, A_REMOTE, A_LANC, 9, 40000);	/* no NAT: to the inside address */
	frame_tcp(f_tcp_l2w, lanc_mac, lan_mac, A_LANC, A_REMOTE, 40001, 9);

	char why[160];
	__u32 rv, ns;
	/* baseline: the harness around an empty program */
	double base = timed(H.nop_fd, f_l2w, lan_if, 0, REPEAT, NULL);
	double base_vary = timed(H.nop_fd, f_l2w, lan_if, 1, REPEAT, NULL);
	if (run(H.nop_fd, f_l2w, lan_if, 0, 1, &rv, &ns, NULL) || rv != XDP_PASS) {
		fprintf(stderr, "micro: harness broken (tail call into micro_nop gave %s)\n", verdict(rv));
		return 1;
	}
	printf("harness\t%.0f\t%.0f\n", base, base_vary);

	struct expect x_fwd_l2w = { A_LANC, A_REMOTE, 40000, 9, inet_mac };
	struct expect x_fwd_w2l = { A_REMOTE, A_LANC, 9, 40000, lanc_mac };
	double c_l2w = -1, c_w2l = -1;
	if (!check("ceiling", fwd_fd, f_l2w, lan_if, 0, &x_fwd_l2w, why, sizeof(why)))
		c_l2w = timed(fwd_fd, f_l2w, lan_if, 0, REPEAT, NULL) - base;
	printf("case\tfwd_l2w\t%.1f\t%s\n", c_l2w, why);
	if (!check("ceiling", fwd_fd, f_fwd_w2l, wan_if, 0, &x_fwd_w2l, why, sizeof(why)))
		c_w2l = timed(fwd_fd, f_fwd_w2l, wan_if, 0, REPEAT, NULL) - base;
	printf("case\tfwd_w2l\t%.1f\t%s\n", c_w2l, why);

	/* xdpnat */
	nat = xdpnat_bpf__open();
	if (!nat) {
		printf("nat\tn/a\tcannot open the xdpnat skeleton\n");
		return 0;
	}
	ct_size(nat, 262144);
	bpf_map__set_max_entries(nat->maps.nat_eim, 2 * 262144);	/* as the loader sizes it */
	bpf_map__set_max_entries(nat->maps.nat_forwards, 32768);	/* the loader's least size */
	if (xdpnat_bpf__load(nat)) {
		printf("nat\tn/a\tcannot load xdpnat.bpf.o: %s\n", strerror(errno));
		return 0;
	}
	if ((errno = -ct_format(nat, 262144, &ct))) {
		printf("nat\tn/a\tcannot format nat_ct: %s\n", strerror(errno));
		return 0;
	}
	populate();
	int lan_fd = bpf_program__fd(nat->progs.xdpnat_xdp_lan);
	int wan_fd = bpf_program__fd(nat->progs.xdpnat_xdp_wan);
	struct {
		const char *name;
		const __u8 *f;
		unsigned ifx;
		struct expect x;
		double ceil;
	} cases[] = {
		{ "nat_est_l2w", f_l2w, lan_if, { A_WAN, A_REMOTE, 61000, 9, inet_mac }, c_l2w },
		{ "nat_est_w2l", f_w2l, wan_if, { A_REMOTE, A_LANC, 9, 40000, lanc_mac }, c_w2l },
		{ "nat_fwd_w2l", f_fin, wan_if, { A_REMOTE, A_LANS, 5555, 80, lans_mac }, c_w2l },
		{ "nat_fwd_l2w", f_fout, lan_if, { A_WAN, A_REMOTE, 8080, 5555, inet_mac }, c_l2w },
		{ "nat_est_tcp_l2w", f_tcp_l2w, lan_if, { A_WAN, A_REMOTE, 61001, 9, inet_mac }, c_l2w },
	};
	for (unsigned i = 0; want("est") && i < sizeof(cases) / sizeof(cases[0]); i++) {
		double t = -1;
		int nat_fd = cases[i].ifx == lan_if ? lan_fd : wan_fd;	/* as the loader attaches */
		if (!check(cases[i].name, nat_fd, cases[i].f, cases[i].ifx, 0, &cases[i].x, why, sizeof(why)))
			t = timed(nat_fd, cases[i].f, cases[i].ifx, 0, REPEAT, NULL) - base;
		printf("case\t%s\t%.1f\t%s\n", cases[i].name, t, why);
	}
	/* the established LAN->WAN flow from a sender on this machine (a veth
	 * with tx checksum offload): the UDP checksum unfinished (the folded
	 * pseudo-header sum), finished in XDP before the redirect */
	if (want("est")) {
		struct nat_iface lan = { .role = NAT_IF_LAN, .slot = 0,
					 .flags = NAT_IFACE_F_PARTIAL_CSUM };
		int udplen = BENCH_FRAME_LEN - 34;
		__u8 f_part[BENCH_FRAME_LEN];
		double t = -1;
		__u16 c;

		memcpy(f_part, f_l2w, sizeof(f_part));
		c = htons((__u16)~csum_fold(csum_add(0, f_part + 14 + 12, 8) + 17 + udplen));
		memcpy(f_part + 34 + 6, &c, 2);
		if (bpf_map_update_elem(bpf_map__fd(nat->maps.nat_ifaces), &lan_if, &lan, 0))
			die("nat_ifaces");
		if (!check("nat_est_l2w_unfinished", lan_fd, f_part, lan_if, 0, &cases[0].x, why,
			   sizeof(why)))
			t = timed(lan_fd, f_part, lan_if, 0, REPEAT, NULL) - base;
		printf("case\tnat_est_l2w_unfinished\t%.1f\t%s\n", t, why);
		lan.flags = 0;
		if (bpf_map_update_elem(bpf_map__fd(nat->maps.nat_ifaces), &lan_if, &lan, 0))
			die("nat_ifaces");
	}
	/* were those served from the next-hop cache? */
	struct nat_ct_key ok = { .saddr = A_LANC, .daddr = A_REMOTE, .sport = htons(40000),
				 .dport = htons(9), .proto = IPPROTO_UDP };
	struct nat_ct_value ov;
	if (ct_get(&ct, &ok, &ov) == 0)
		printf("nat\testablished LAN->WAN entry: next-hop cache slot %u (0 = none), %llu packets\n",
		       ov.nh.slot, (unsigned long long)ov.packets);
	/* the same without the cache: a FIB lookup for every packet */
	ifslots_clear();
	if (want("est")) {
		double t = -1;
		if (!check(cases[0].name, lan_fd, cases[0].f, cases[0].ifx, 0, &cases[0].x, why, sizeof(why)))
			t = timed(lan_fd, cases[0].f, cases[0].ifx, 0, REPEAT, NULL) - base;
		printf("case\tnat_est_l2w_nocache\t%.1f\t%s\n", t, why);
	}
	ifslots_fill();
	/* established LAN->WAN over many flows, round robin: the cost of a
	 * flow entry that is not in the CPU cache */
	static const unsigned nflows[] = { 1024, 16384, 131072 };
	for (unsigned i = 0; want("rr") && i < sizeof(nflows) / sizeof(nflows[0]); i++) {
		struct expect x_rr = { 0, A_REMOTE, 0, 9, inet_mac };
		double t = -1;
		ct_clear();
		populate();
		ct_fill(nflows[i]);
		if (!check("nat_rr", lan_fd, f_l2w, lan_if, (int)nflows[i], &x_rr, why, sizeof(why)))
			t = timed(lan_fd, f_l2w, lan_if, (int)nflows[i], REPEAT, NULL) - base_vary;
		printf("case\tnat_est_l2w_%u\t%.1f\t%s\n", nflows[i], t, why);
	}
	/* the same 131072 flows in a heavy-tailed mix (bench_zipf.h: Zipf
	 * s=1.0 over the flows, ranks randomly permuted over the flow numbers,
	 * fixed seed): run i is flow wrap_zipf[i % BENCH_ZIPF_LEN]; and in a
	 * uniformly random order (s=0). Round robin in flow-number order walks
	 * the preallocated elements in the order they were inserted (the
	 * prefetcher follows); a random order does not. The harness's own
	 * cost in this mode (the extra array lookup) is measured around the
	 * empty program and subtracted. */
	static const struct { const char *name; double s; } mixes[] = {
		{ "zipf", BENCH_ZIPF_S }, { "random", 0.0 },
	};
	for (unsigned m = 0; (want("zipf") || want("rr")) && m < sizeof(mixes) / sizeof(mixes[0]); m++) {
		const unsigned zn = 131072;
		struct expect x_rr = { 0, A_REMOTE, 0, 9, inet_mac };
		__u32 *z = malloc(sizeof(*z) * BENCH_ZIPF_LEN);
		double t = -1, base_zipf, top1pct, top1;
		__u32 distinct;

		if (!z || bench_zipf_load(H.zipf_fd, zn, mixes[m].s, z))
			die("filling wrap_zipf");
		bench_zipf_describe(z, BENCH_ZIPF_LEN, zn, &top1pct, &top1, &distinct);
		free(z);
		if (m == 0) {
			ct_clear();
			populate();
			ct_fill(zn);
		}
		H.zipf = 1;
		base_zipf = timed(H.nop_fd, f_l2w, lan_if, (int)zn, REPEAT, NULL);
		printf("zipf\t%s: s=%.1f over %u flows, a cycle of %u packets: top flow %.1f%%, top 1%% of "
		       "flows %.1f%% of packets, %u flows seen; harness in this mode %.0f ns\n", mixes[m].name,
		       mixes[m].s, zn, BENCH_ZIPF_LEN, 100 * top1, 100 * top1pct, distinct, base_zipf);
		if (!check("nat_zipf", lan_fd, f_l2w, lan_if, (int)zn, &x_rr, why, sizeof(why)))
			t = timed(lan_fd, f_l2w, lan_if, (int)zn, REPEAT, NULL) - base_zipf;
		H.zipf = 0;
		printf("case\tnat_est_l2w_%s%u\t%.1f\t%s\n", mixes[m].name, zn, t, why);
	}
	/* new flows: a fresh source port per run; the table is emptied before
	 * each round of NEW_FLOWS runs, so the port allocator works in a
	 * lightly used range (first tries succeed) */
	if (want("new")) {
		struct expect x_new = { A_WAN, A_REMOTE, 0, 9, inet_mac };
		double t = -1;
		new_round();
		if (!check("nat_new", lan_fd, f_l2w, lan_if, 1, &x_new, why, sizeof(why)))
			t = timed(lan_fd, f_l2w, lan_if, 1, NEW_FLOWS, new_round) - base_vary;
		printf("case\tnat_new_l2w\t%.1f\t%s\n", t, why);
	}
	__u32 k = 0;
	int ncpu = libbpf_num_possible_cpus();
	struct nat_stats st[ncpu];
	if (!bpf_map_lookup_elem(bpf_map__fd(nat->maps.nat_stats), &k, st)) {
		unsigned long long created = 0, fwd = 0, full = 0, noport = 0, em = 0, ef = 0;
		for (int i = 0; i < ncpu; i++) {
			em += st[i].eim_created;
			ef += st[i].eim_full;
			created += st[i].flows_created;
			fwd += st[i].xdp_forwarded;
			full += st[i].drop_ct_full;
			noport += st[i].drop_no_port;
		}
		printf("stats\tflows_created=%llu xdp_forwarded=%llu drop_ct_full=%llu drop_no_port=%llu "
		       "eim_created=%llu eim_full=%llu\n", created, fwd, full, noport, em, ef);
	}
	return 0;
}

static long long fdinfo_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* one line per map: "memmap FLOWS NAME ENTRIES KEY VALUE MEMLOCK PREALLOC"
 * for the maps sized from conntrack-max, then "memfixed FLOWS MEMLOCK" (all
 * other maps together) and "memeim FLOWS ENTRIES MEMLOCK" (nat_eim after
 * filling it to its bound). */
static int cmd_memory(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		unsigned long flows = strtoul(argv[i], NULL, 0);
		struct xdpnat_bpf *o = xdpnat_bpf__open();
		if (!o)
			die("open skeleton");
		/* as ctl/daemon/loader.c loader_load() sizes them */
		__u32 ring = flows / 4;
		ring = ring < XDPNAT_UNASSURED_MIN ? XDPNAT_UNASSURED_MIN
		       : ring > XDPNAT_UNASSURED_MAX ? XDPNAT_UNASSURED_MAX : ring;
		ct_size(o, (__u32)flows);
		bpf_map__set_max_entries(o->maps.nat_eim, 2 * flows);
		bpf_map__set_max_entries(o->maps.nat_unassured, ring);
		if (xdpnat_bpf__load(o))
			die("load skeleton");
		if ((errno = -ct_format(o, (__u32)flows, NULL)))
			die("format nat_ct");
		struct bpf_map *scaled[] = { o->maps.nat_ct, o->maps.nat_eim, o->maps.nat_unassured };
		long long fixed = 0;
		struct bpf_map *m;
		bpf_object__for_each_map(m, o->obj) {
			int s = 0;
			for (unsigned j = 0; j < sizeof(scaled) / sizeof(scaled[0]); j++)
				s |= m == scaled[j];
			long long ml = bpf_map__fd(m) >= 0 ? fdinfo_memlock(bpf_map__fd(m)) : -1;
			if (s)
				printf("memmap\t%lu\t%s\t%u\t%u\t%u\t%lld\t%s\n", flows, bpf_map__name(m),
				       bpf_map__max_entries(m), bpf_map__key_size(m), bpf_map__value_size(m),
				       ml, bpf_map__map_flags(m) & BPF_F_NO_PREALLOC ? "no" : "yes");
			else if (ml > 0)
				fixed += ml;
		}
		printf("memfixed\t%lu\t%lld\n", flows, fixed);
		/* nat_eim is allocated as used: fill it to its bound (distinct
		 * keys; the values do not matter for the size) */
		int efd = bpf_map__fd(o->maps.nat_eim);
		__u32 n = bpf_map__max_entries(o->maps.nat_eim), done = 0;
		for (__u32 j = 0; j < n; j++) {
			struct nat_eim_key k = { .addr = htonl(0x0a000000 + j / 50000),
						 .ifindex = 1, .port = htons(1024 + j % 50000),
						 .proto = IPPROTO_UDP };
			struct nat_eim_value v = { .port = htons(1024 + j % 50000) };
			if (bpf_map_update_elem(efd, &k, &v, BPF_NOEXIST))
				break;
			done++;
		}
		printf("memeim\t%lu\t%u\t%lld\n", flows, done, fdinfo_memlock(efd));
		xdpnat_bpf__destroy(o);
	}
	return 0;
}

static __u64 splitmix(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#define HUGE_2M		((size_t)2 << 20)

/* this process's anonymous memory in transparent huge pages, KiB */
static long long anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long long v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int cmd_memlat(int argc, char **argv)
{
	for (int a = 1; a < argc; a++) {
		/* MIB, or USED@MIB: USED lines (flows) at random places of MIB;
		 * a trailing 'h': in 2 MiB pages (transparent huge pages) */
		const char *at = strchr(argv[a], '@');
		size_t lines = (size_t)strtoul(at ? at + 1 : argv[a], NULL, 10) * (1 << 20) / 64;
		size_t used = at ? (size_t)strtoul(argv[a], NULL, 10) : lines, steps = 20000000;
		bool huge = argv[a][strlen(argv[a]) - 1] == 'h';
		size_t len = lines * 64 + (huge ? HUGE_2M : 0);
		char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *m = huge ? (char *)(((uintptr_t)raw + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1)) : raw;
		size_t *next = malloc(lines * sizeof(*next));
		__u64 seed = 1;
		struct timespec t0, t1;

		if (!lines || !used || used > lines || raw == MAP_FAILED || !next)
			die("memlat: memory");
		madvise(m, lines * 64, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		memset(m, 0, lines * 64);
		/* the kernel may not have huge pages to give: then say so */
		if (huge && (size_t)anon_huge_kb() * 1024 < lines * 64 / 10 * 9) {
			printf("memlat\t%s\t-1\tno huge pages\n", argv[a]);
			munmap(raw, len);
			free(next);
			continue;
		}
		for (size_t i = 0; i < lines; i++)
			next[i] = i;
		for (size_t i = 0; i < used; i++) {	/* the first `used`: a random sample */
			size_t j = i + (size_t)(splitmix(&seed) % (lines - i)), t = next[i];

			next[i] = next[j];
			next[j] = t;
		}
		/* one cycle through the sample in random order (Sattolo over its
		 * positions), each line pointing at the next */
		size_t *ord = malloc(used * sizeof(*ord));

		if (!ord)
			die("memlat: memory");
		for (size_t i = 0; i < used; i++)
			ord[i] = i;
		for (size_t i = used - 1; i > 0; i--) {
			size_t j = (size_t)(splitmix(&seed) % i), t = ord[i];

			ord[i] = ord[j];
			ord[j] = t;
		}
		for (size_t i = 0; i < used; i++)
			*(char **)(m + next[i] * 64) = m + next[ord[i]] * 64;
		free(ord);
		char *p = m + next[0] * 64;

		free(next);
		for (size_t i = 0; i < used; i++)	/* warm: the page tables and caches settle */
			p = *(char **)p;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (size_t i = 0; i < steps; i++)
			p = *(char **)p;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("memlat\t%s\t%.1f\t%p\n", argv[a],
		       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / (double)steps,
		       (void *)p);
		munmap(raw, len);
	}
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(NULL);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "memory"))
		return cmd_memory(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "memlat"))
		return cmd_memlat(argc - 1, argv + 1);
	fprintf(stderr, "usage: micro run|memory|memlat ...\n");
	return 2;
}
