/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_fuzz_datapath.c - random and mutated frames through
 * BPF_PROG_TEST_RUN of xdpnat_xdp_lan, xdpnat_xdp_wan and
 * xdpnat_tc_egress, with invariants checked on every output.
 *
 * Unlike test_datapath.c, which knows the exact frame every input must
 * become, this harness knows nothing about the right answer for a given
 * frame; it checks properties that must hold whatever the input, so it
 * can run on frames nobody wrote a test for. The maps (conntrack, frag,
 * gate) are kept between runs so that flows build up and later frames hit
 * state; every EPOCH iterations everything the data path writes is
 * flushed, as a restart would.
 *
 * Run: root, in a private network namespace (tests/bpf/nsenv.c).
 *   XDPNAT_FUZZ_SECONDS=N  fuzz for N seconds (default FUZZ_SECONDS_DEFAULT)
 *   XDPNAT_FUZZ_ITERS=N    stop after N iterations instead (replays exactly
 *                          up to a reported iteration)
 *   XDPNAT_FUZZ_SEED=S     the PRNG seed (default: from the clock; always
 *                          printed; nat_ct's hash keys are made from it, so
 *                          its entries take the same slots). The same seed
 *                          gives the same frames as long as the data path
 *                          answers the same. It does
 *                          not always: it picks a random outside port when
 *                          it cannot keep the source port, and its
 *                          next-hop cache is valid for about a second, so
 *                          a long replay can drift; every report carries
 *                          its frames in hex for that reason.
 *   XDPNAT_FUZZ_REPORTS=N  reports printed per kind of violation (default
 *                          REPORT_MAX)
 *   XDPNAT_FUZZ_TRACE=1|2  a line per program run (2: with the frames), to
 *                          compare two runs with the same seed
 *
 * ---------------------------------------------------------------------
 * Topology (nsenv.h) as configured here, like the controller would:
 *   lan0 192.168.0.1/24, MTU 1400; wan0 198.51.100.1 (masquerade,
 *   1024-65535, gw .2, default route, MTU 1500); wan1 203.0.113.1
 *   (masquerade, ports 61000-61003 so that its range runs out, gw .2,
 *   route 192.0.2.128/25, MTU 1500); forwards in
 *   FWDS[] with the flags loader.c derives from `gate ftp`, `alg ftp ports
 *   21` and `implicit-tls 990`; nat_config.ftp_ports = { 21 }. The
 *   harness also plays the FTP ALG: it opens expectations (some already
 *   expired) and hands ALG control flows back to XDP with sequence
 *   offsets (NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ + nat_alg), and toggles the
 *   default route between the WANs now and then.
 *
 * Where a frame "arrives": the XDP program of lan0, wan0 or wan1 (no
 * larger than that interface's MTU), or tc egress of the interface the
 * namespace's routing table sends its destination to (tc only ever sees
 * what the kernel routed there: trimmed to its total length, within the
 * egress MTU; these stand for what the kernel routes from the LAN or
 * sends itself). An XDP_PASS output is handed to an emulation of the
 * kernel's forwarding (header checks, martians, local delivery, TTL,
 * MTU): it is routed, its TTL decremented, fragmented if it does not fit,
 * and run through tc egress of its egress interface; a TTL that runs out,
 * or a DF datagram too big for the egress, makes the "kernel" send time
 * exceeded or fragmentation needed, which runs through tc egress towards
 * its destination.
 *
 * ---------------------------------------------------------------------
 * The invariants, exactly as asserted (one TAP test each):
 *
 * LAN host: 192.168.0.2 - 192.168.0.254 (the LAN subnet without its
 * network and broadcast addresses and without the router's own
 * 192.168.0.1, which the leak guard lets out as the router's own traffic).
 *
 * 1. leak. A frame leaves by a WAN when XDP returns XDP_REDIRECT with the
 *    source MAC of wan0 or wan1 (the FIB's egress: the redirect target
 *    itself is not reported by BPF_PROG_TEST_RUN), or tc egress of wan0
 *    or wan1 returns TC_ACT_OK or TC_ACT_REDIRECT (bpf_redirect_neigh to
 *    the flow's WAN). For such a frame with ethertype IPv4:
 *    a. its IPv4 source is not a LAN host;
 *    b. if it is an ICMP error (type 3, 11 or 12, unfragmented) quoting a
 *       20-byte IPv4 header that holds a LAN host address, then a frame
 *       with exactly the quoted tuple (addresses, protocol, and ports or
 *       ICMP type and echo id) arrived on a WAN before, or was quoted by an
 *       ICMP error that arrived on one: an address the outside used itself
 *       may be quoted back to it, a translated one must not. Not asserted
 *       for the time exceeded the emulated kernel sends about a frame a
 *       LAN host sent under an outside source address: it goes to that
 *       outside host and quotes what the LAN host said, nothing the LAN
 *       host could not have told it directly; nor, for the same reason,
 *       for an error that arrived from the LAN under a source that is not
 *       a LAN host and leaves as it came.
 *    VLAN-tagged and other non-IPv4 frames are not the data path's (its
 *    parser passes them untouched), so they are not looked into.
 *
 * 2. checksums. For every frame let go on (XDP_PASS, XDP_REDIRECT,
 *    TC_ACT_OK, TC_ACT_REDIRECT), each checksum the frame carries is
 *    computed from scratch (tests/bpf/pkt.c's RFC 1071 code) before and
 *    after: the IPv4 header; TCP/UDP (pseudo-header + segment) or ICMP of
 *    an unfragmented datagram; of a first fragment the partial sum over
 *    the bytes it carries; for an ICMP error the quoted IPv4 header, and
 *    the quoted UDP/ICMP (complete: the whole sum; truncated: the partial
 *    sum over what is quoted); not the quoted TCP checksum, which the
 *    README lists as not translated (a known limit). The data path
 *    updates checksums incrementally (RFC 1624), so whatever a
 *    checksum's error was on input (0 when right) it must be
 *    the same on output, +0 and -0 being one value: a right checksum
 *    stays right, and a wrong one is not made right or differently wrong
 *    (the receiver drops it just as it would have without us). A UDP
 *    checksum 0 ("none") stays 0, and a nonzero one never becomes 0. The
 *    data path does not verify checksums, so frames with wrong ones are
 *    translated and forwarded too; that is accepted here.
 *
 * 3. state. Snapshots of nat_expect and nat_gate before and after every
 *    run (the harness itself writes them only between runs):
 *    a. nat_expect: the data path never creates an entry or changes one.
 *       An entry (raddr, waddr, wport, proto) may disappear only in a run
 *       of xdpnat_xdp_wan on the WAN whose address is waddr, whose input is
 *       IPv4, not a later fragment and not an ICMP error, from raddr to
 *       waddr:wport with that protocol, allowed to open a flow (TCP: SYN
 *       without ACK/RST/FIN; UDP), and only if the entry had not expired
 *       before the run; at most one per run.
 *    b. nat_gate: the data path never deletes an entry. An entry (raddr,
 *       inside) may be created or its session count raised only by a run
 *       on the LAN side (xdpnat_xdp_lan, or tc egress for a frame that did
 *       not arrive on a WAN), whose input is a TCP SYN+ACK
 *       without RST/FIN, not a later fragment, from inside:port to raddr
 *       where inside:port is the inside end of a forward flagged
 *       NAT_FWD_F_FTP_CTRL; by exactly one, for one entry, and for a flow
 *       (its conntrack ORIG key, found through the input's entry) not
 *       counted already. A count may fall by one only for a TCP FIN or RST
 *       of a flow that was counted, which then is not. last_seen changes
 *       only together with the count, or when a counted flow ends and
 *       finds its count taken already (by a violation reported then). (A
 *       flow that is "counted" is one the harness saw raise the count.)
 *
 * 4. verdicts. XDP returns only XDP_DROP, XDP_PASS or XDP_REDIRECT, tc
 *    only TC_ACT_OK, TC_ACT_SHOT or, on a WAN, TC_ACT_REDIRECT; every
 *    BPF_PROG_TEST_RUN call succeeds. A frame let go on has the input's
 *    length, and differs from the input only where NAT may write: for
 *    XDP_REDIRECT the MAC addresses and the TTL (exactly one less; the
 *    source MAC must be one of our interfaces'); the IPv4 checksum and
 *    addresses; unless a later fragment, TCP/UDP ports and checksum (TCP
 *    sequence and acknowledgment numbers once the harness has handed an
 *    ALG flow back with offsets), ICMP echo checksum and identifier, ICMP
 *    error checksum and the quoted IPv4 checksum, addresses, ports or echo
 *    identifier and UDP/ICMP checksum; nothing past the end of the
 *    datagram (its total length). Byte-identical: every non-IPv4
 *    frame (always let go on); an XDP_PASS that the data path counted as
 *    passed_untouched; an XDP_PASS on a LAN unless it is to a WAN address
 *    (hairpin, whose destination half is translated on ingress); a
 *    TC_ACT_OK that did not count tc_translated.
 *
 * A violation prints, as TAP comments, the seed, the iteration, the
 * program and interface, how the frame was made, and the input and output
 * frames in hex; each kind of violation is printed REPORT_MAX times, then
 * only counted. A last test checks coverage: that the run reached the
 * paths the generators aim at (skipped for short runs).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "pkt.h"
#include "nsenv.h"
#include "xdpnat.skel.h"

#define FUZZ_SECONDS_DEFAULT	8	/* with setup, about 10 s for `make check` */
#define CT_MAX			1600	/* nat_ct entries (800 flows): fills within an epoch */
#define EPOCH			10000	/* iterations between flushes of everything the dp writes */
#define REPORT_MAX		3	/* reports printed per kind (XDPNAT_FUZZ_REPORTS) */
#define COVERAGE_MIN_ITERS	100000	/* shorter runs skip the coverage test */
#define FRAME_MAX		1514	/* frames from a WAN (MTU 1500); a LAN's are smaller */

/* Addresses of the topology beyond those nsenv.h names. */
#define A_REMOTE_W1	IP4(192, 0, 2, 200)	/* routed via wan1 (192.0.2.128/25) */
#define A_WAN0_HOST	IP4(198, 51, 100, 77)	/* on wan0's link, no neighbour entry */
#define LAN_NET		IP4(192, 168, 0, 0)
#define WAN1_PORT_LO	61000
#define WAN1_PORT_HI	61003
#define EXPECT_PORT0	40000			/* expectations the harness opens use these */
#define EXPECT_PORTS	4
/* The MTU of each interface (setup() gives lan0 a smaller one, so that
 * the kernel path has to fragment or send "fragmentation needed"). */
#define MTU_LAN		1400
#define MTU_WAN		1500

static struct env E;
static int m_expect, m_gate, m_alg, m_refused;

/* ------------------------------------------------------------ PRNG */

/* splitmix64: small, fast, and a 64-bit seed is easy to print and paste. */
static uint64_t rng;
static uint64_t seed;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool pct(unsigned p)
{
	return rn(100) < p;
}

#define PICK(arr) ((arr)[rn(sizeof(arr) / sizeof((arr)[0]))])

/* ------------------------------------------------------------ configuration */

/* Forwards as loader.c writes them: one nat_forwards entry per port. */
struct fwd {
	int wan;			/* 0: wan0, 1: wan1 */
	uint8_t proto;
	uint16_t lo, hi;		/* outside ports */
	uint32_t to;
	uint16_t to_lo;			/* inside port of lo */
	uint8_t flags;
};

static const struct fwd FWDS[] = {
	{ 0, IPPROTO_TCP, 8080, 8080, A_SERVER, 80, 0 },
	{ 0, IPPROTO_UDP, 5353, 5353, A_SERVER, 53, 0 },
	/* `alg ftp ports 21`: the control port, inspected, opens the gate */
	{ 0, IPPROTO_TCP, 21, 21, A_SERVER, 21, NAT_FWD_F_ALG | NAT_FWD_F_FTP_CTRL },
	/* `implicit-tls 990`: not inspected, still opens the gate */
	{ 0, IPPROTO_TCP, 990, 990, A_SERVER, 990, NAT_FWD_F_FTP_CTRL },
	{ 0, IPPROTO_TCP, 30000, 30009, A_SERVER, 30000, NAT_FWD_F_GATE_FTP },
	/* a gated range whose server has no control port: never opens */
	{ 0, IPPROTO_TCP, 31000, 31000, A_CLIENT2, 31000, NAT_FWD_F_GATE_FTP },
	/* the inside port is an ALG port: the outside one need not be */
	{ 1, IPPROTO_TCP, 2121, 2121, A_SERVER, 21, NAT_FWD_F_ALG | NAT_FWD_F_FTP_CTRL },
	{ 1, IPPROTO_TCP, 30000, 30009, A_SERVER, 30000, NAT_FWD_F_GATE_FTP },
	{ 1, IPPROTO_UDP, 5000, 5003, A_CLIENT2, 6000, 0 },
};
#define N_FWDS ((int)(sizeof(FWDS) / sizeof(FWDS[0])))

static bool default_via_wan1;	/* the default route the namespace has now */
static bool seqadj_on;		/* an ALG flow was handed back with offsets */

/* ------------------------------------------------------------ small helpers */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return pk_get16(p);
}

static uint32_t get32(const uint8_t *p)
{
	return pk_get32(p);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool is_lan_host(uint32_t a)
{
	uint32_t h = a & 0xff;

	return (a & 0xffffff00u) == LAN_NET && h >= 2 && h <= 254;
}

static bool is_wan_addr(uint32_t a)
{
	return a == A_WAN0 || a == A_WAN1;
}

static bool is_local(uint32_t a)
{
	return a == A_LAN0 || a == A_WAN0 || a == A_WAN1;
}

static bool in_net24(uint32_t a, uint32_t net)
{
	return (a & 0xffffff00u) == net;
}

/* Addresses the kernel never forwards from or to: 0/8, loopback,
 * multicast, class E and limited broadcast, and the network and broadcast
 * addresses of our subnets. */
static bool is_martian(uint32_t a)
{
	uint32_t o = a >> 24, h = a & 0xff;

	if (o == 0 || o == 127 || o >= 224)
		return true;
	if (in_net24(a, LAN_NET) || in_net24(a, IP4(198, 51, 100, 0)) || in_net24(a, IP4(203, 0, 113, 0)))
		return h == 0 || h == 255;
	return false;
}

static const char *ifname(int ifx)
{
	return ifx == E.if_lan0 ? "lan0" : ifx == E.if_wan0 ? "wan0" : ifx == E.if_wan1 ? "wan1" : "?";
}

static const uint8_t *if_mac(int ifx)
{
	return ifx == E.if_lan0 ? MAC_LAN0 : ifx == E.if_wan0 ? MAC_WAN0 : MAC_WAN1;
}

static bool is_wan_if(int ifx)
{
	return ifx == E.if_wan0 || ifx == E.if_wan1;
}

/* The MAC the namespace has for a host on lan0 (others: a made-up one). */
static const uint8_t *lan_mac(uint32_t a)
{
	return a == A_CLIENT ? MAC_CLIENT : a == A_CLIENT2 ? MAC_CLIENT2 : a == A_SERVER ? MAC_SERVER
									 : MAC_CLIENT;
}

/* The namespace's routing table as the kernel forwards by it: the egress
 * interface of dst, 0 when it is not forwarded (local, martian). */
static int route_of(uint32_t dst)
{
	if (is_local(dst) || is_martian(dst))
		return 0;
	if (in_net24(dst, LAN_NET))
		return E.if_lan0;
	if (in_net24(dst, IP4(198, 51, 100, 0)))
		return E.if_wan0;
	if (in_net24(dst, IP4(203, 0, 113, 0)) || (dst & 0xffffff80u) == IP4(192, 0, 2, 128))
		return E.if_wan1;
	return default_via_wan1 ? E.if_wan1 : E.if_wan0;
}

/* The next hop's MAC for a frame the kernel sends out ifx to dst. */
static const uint8_t *nexthop_mac(int ifx, uint32_t dst)
{
	if (ifx == E.if_lan0)
		return lan_mac(dst);
	return ifx == E.if_wan0 ? MAC_GW : MAC_GW1;
}

/* Address of an interface (the source the kernel gives its own packets). */
static uint32_t if_addr(int ifx)
{
	return ifx == E.if_lan0 ? A_LAN0 : ifx == E.if_wan0 ? A_WAN0 : A_WAN1;
}

/* ------------------------------------------------------------ frame layout */

/*
 * What a frame is, read the way the data path's parser reads it, but
 * without rejecting anything: invariants 2 and 4 apply the input's layout
 * to the output too (the data path never moves a header, which invariant
 * 4 checks byte by byte).
 */
struct layout {
	bool ip;		/* ethertype IPv4 and 20 bytes of header */
	bool hdr;		/* IHL >= 5 and the whole header in the frame */
	bool tot;		/* hdr, and IHL*4 <= total length <= frame - 14 */
	unsigned ihl, totlen, l4, l4len;
	uint16_t frag, ipid;
	bool first, later;
	uint8_t proto, ttl;
	uint32_t src, dst;
	bool ports;		/* TCP/UDP ports present (not a later fragment) */
	uint16_t sport, dport;
	bool has_flags;
	uint8_t tcp_flags;
	bool icmp;		/* ICMP with its 8-byte header (not a later fragment) */
	uint8_t icmp_type;
	uint16_t icmp_id;
	bool err;		/* ICMP error (3, 11, 12), unfragmented, its 8-byte header there */
	bool inhdr;		/* err, and a 20-byte quoted IPv4 header inside the datagram */
	unsigned end;		/* end of the datagram (total length if sane, else frame) */
	unsigned in3, inihl, in4, inavail, intot;
	uint8_t inproto;
	uint16_t infrag;
	uint32_t insrc, indst;
	uint16_t inw1, inw2;	/* quoted ports (ICMP: type, echo id), when quoted */
};

static bool is_icmp_err_type(uint8_t t)
{
	return t == 3 || t == 11 || t == 12;
}

static void layout_of(const uint8_t *f, size_t len, struct layout *L)
{
	size_t end;

	memset(L, 0, sizeof(*L));
	if (len < 34 || get16(f + 12) != 0x0800)
		return;
	L->ip = true;
	L->ihl = (unsigned)(f[14] & 15) * 4;
	L->totlen = get16(f + 16);
	L->frag = get16(f + 20);
	L->ipid = get16(f + 18);
	L->ttl = f[22];
	L->proto = f[23];
	L->src = get32(f + 26);
	L->dst = get32(f + 30);
	L->later = (L->frag & 0x1fff) != 0;
	L->first = !L->later && (L->frag & PK_IP_MF);
	if (L->ihl < 20 || 14 + L->ihl > len)
		return;
	L->hdr = true;
	L->l4 = 14 + L->ihl;
	L->tot = L->totlen >= L->ihl && L->totlen <= len - 14;
	/* what of L4 is there: up to the total length when that is sane */
	end = L->tot ? 14 + L->totlen : len;
	L->end = (unsigned)end;
	L->l4len = end > L->l4 ? (unsigned)(end - L->l4) : 0;
	if (L->later)
		return;
	if ((L->proto == IPPROTO_TCP || L->proto == IPPROTO_UDP) && L->l4len >= 4) {
		L->ports = true;
		L->sport = get16(f + L->l4);
		L->dport = get16(f + L->l4 + 2);
		if (L->proto == IPPROTO_TCP && L->l4len >= 14) {
			L->has_flags = true;
			L->tcp_flags = f[L->l4 + 13];
		}
	}
	if (L->proto == IPPROTO_ICMP && L->l4len >= 8) {
		L->icmp = true;
		L->icmp_type = f[L->l4];
		L->icmp_id = get16(f + L->l4 + 4);
		if (is_icmp_err_type(L->icmp_type) && !L->first) {
			L->err = true;
			L->in3 = L->l4 + 8;
		}
		if (L->err && L->l4len >= 8 + 20) {
			L->inhdr = true;
			L->inihl = (unsigned)(f[L->in3] & 15) * 4;
			L->intot = get16(f + L->in3 + 2);
			L->infrag = get16(f + L->in3 + 6);
			L->inproto = f[L->in3 + 9];
			L->insrc = get32(f + L->in3 + 12);
			L->indst = get32(f + L->in3 + 16);
			L->in4 = L->in3 + L->inihl;
			L->inavail = L->inihl >= 20 && L->in4 <= end ? (unsigned)(end - L->in4) : 0;
			if (L->inavail >= 8 && L->inproto == IPPROTO_ICMP) {
				L->inw1 = f[L->in4];
				L->inw2 = get16(f + L->in4 + 4);
			} else if (L->inavail >= 4 &&
				   (L->inproto == IPPROTO_TCP || L->inproto == IPPROTO_UDP)) {
				L->inw1 = get16(f + L->in4);
				L->inw2 = get16(f + L->in4 + 2);
			}
		}
	}
}

/* ------------------------------------------------------------ checksums */

/* One's complement residual of a checksummed range: 0xffff when right.
 * +0 and -0 are one value: a residual of 0 is reported as 0xffff. */
static uint16_t norm(uint16_t r)
{
	return r ? r : 0xffff;
}

enum ck_kind { CK_SUM, CK_UDP };

struct ck {
	const char *name;
	enum ck_kind kind;
	unsigned field;		/* offset of the checksum field (UDP: 0 means none) */
	uint16_t r;		/* residual */
};

#define CK_MAX 4

/* Residual of an L4 range whose pseudo-header (if any) uses the addresses
 * at ip (an IPv4 header) and length plen. */
static uint16_t l4_residual(const uint8_t *f, unsigned ip, uint8_t proto, unsigned l4, unsigned n,
			    unsigned plen)
{
	uint32_t acc = 0;

	if (proto != IPPROTO_ICMP)
		acc = ck_pseudo(get32(f + ip + 12), get32(f + ip + 16), proto, (uint16_t)plen);
	return norm(ck_fold(ck_sum(acc, f + l4, n)));
}

/*
 * The checksums of frame f laid out as L says (see invariant 2). The same
 * list is computed for the input and the output.
 */
static int ck_list(const struct layout *L, const uint8_t *f, struct ck *c)
{
	int n = 0;

	if (!L->hdr)
		return 0;
	c[n++] = (struct ck){ "IPv4 header", CK_SUM, 24, norm(ck_fold(ck_sum(0, f + 14, L->ihl))) };
	if (!L->tot || L->later)
		return n;
	switch (L->proto) {
	case IPPROTO_TCP:
		if (L->l4len >= 20)
			c[n++] = (struct ck){ L->first ? "TCP (first fragment, partial)" : "TCP", CK_SUM,
					      L->l4 + 16,
					      l4_residual(f, 14, IPPROTO_TCP, L->l4, L->l4len, L->l4len) };
		break;
	case IPPROTO_UDP:
		if (L->l4len >= 8) {
			unsigned ulen = get16(f + L->l4 + 4), cover = L->first ? L->l4len : ulen;

			if (ulen >= 8 && ulen <= L->l4len + (L->first ? 65535u : 0u) && cover <= L->l4len)
				c[n++] = (struct ck){ L->first ? "UDP (first fragment, partial)" : "UDP",
						      CK_UDP, L->l4 + 6,
						      l4_residual(f, 14, IPPROTO_UDP, L->l4, cover, ulen) };
		}
		break;
	case IPPROTO_ICMP:
		if (L->l4len >= 8)
			c[n++] = (struct ck){ L->first ? "ICMP (first fragment, partial)" : "ICMP", CK_SUM,
					      L->l4 + 2,
					      l4_residual(f, 14, IPPROTO_ICMP, L->l4, L->l4len, 0) };
		break;
	}
	if (!L->inhdr || L->inihl < 20 || L->in3 + L->inihl > 14 + L->totlen)
		return n;
	c[n++] = (struct ck){ "quoted IPv4 header", CK_SUM, L->in3 + 10,
			      norm(ck_fold(ck_sum(0, f + L->in3, L->inihl))) };
	if (L->infrag & 0x1fff || L->intot < L->inihl)
		return n;
	{
		unsigned inl4 = L->intot - L->inihl;
		bool whole = inl4 <= L->inavail && !(L->infrag & PK_IP_MF);

		/* The quoted TCP checksum is not translated: a known limit the
		 * README states, so it is not checked here. */
		switch (L->inproto) {
		case IPPROTO_UDP:
			if (L->inavail >= 8) {
				unsigned ulen = get16(f + L->in4 + 4);
				unsigned cover = whole && ulen >= 8 && ulen <= inl4 ? ulen : L->inavail;

				c[n++] = (struct ck){ whole ? "quoted UDP" : "quoted UDP (partial)", CK_UDP,
						      L->in4 + 6,
						      l4_residual(f, L->in3, IPPROTO_UDP, L->in4, cover, ulen) };
			}
			break;
		case IPPROTO_ICMP:
			if (L->inavail >= 8)
				c[n++] = (struct ck){ whole ? "quoted ICMP" : "quoted ICMP (partial)", CK_SUM,
						      L->in4 + 2,
						      l4_residual(f, L->in3, IPPROTO_ICMP, L->in4,
								  whole ? inl4 : L->inavail, 0) };
			break;
		}
	}
	return n;
}

/* Recompute the IPv4 header checksum of a frame (when the header is there). */
static void fix_ip_csum(uint8_t *f, size_t len)
{
	unsigned ihl;

	if (len < 34 || get16(f + 12) != 0x0800)
		return;
	ihl = (unsigned)(f[14] & 15) * 4;
	if (ihl < 20 || 14 + ihl > len)
		return;
	put16(f + 24, 0);
	put16(f + 24, ck_inet(f + 14, ihl));
}

/* Recompute the L4 checksum of an unfragmented datagram with sane lengths. */
static void fix_l4_csum(uint8_t *f, size_t len)
{
	struct layout L;
	uint32_t acc;

	layout_of(f, len, &L);
	if (!L.tot || L.later || L.first)
		return;
	if (L.proto == IPPROTO_TCP && L.l4len >= 20) {
		put16(f + L.l4 + 16, 0);
		acc = ck_pseudo(L.src, L.dst, IPPROTO_TCP, (uint16_t)L.l4len);
		put16(f + L.l4 + 16, (uint16_t)~ck_fold(ck_sum(acc, f + L.l4, L.l4len)));
	} else if (L.proto == IPPROTO_UDP && L.l4len >= 8 && get16(f + L.l4 + 6)) {
		unsigned ulen = get16(f + L.l4 + 4);
		uint16_t c;

		if (ulen < 8 || ulen > L.l4len)
			return;
		put16(f + L.l4 + 6, 0);
		acc = ck_pseudo(L.src, L.dst, IPPROTO_UDP, (uint16_t)ulen);
		c = (uint16_t)~ck_fold(ck_sum(acc, f + L.l4, ulen));
		put16(f + L.l4 + 6, c ? c : 0xffff);
	} else if (L.proto == IPPROTO_ICMP && L.l4len >= 8) {
		put16(f + L.l4 + 2, 0);
		put16(f + L.l4 + 2, ck_inet(f + L.l4, L.l4len));
	}
}

/* ------------------------------------------------------------ reporting */

enum inv { INV_LEAK, INV_CSUM, INV_STATE, INV_VERDICT, INV_N };

static const char *const inv_name[INV_N] = {
	"1 no LAN host leaves a WAN",
	"2 checksums carried through",
	"3 expectations and gates only from the right side",
	"4 verdicts, rewritten bytes, untouched frames",
};

static uint64_t inv_checked[INV_N], inv_failed[INV_N];
static uint64_t report_max = REPORT_MAX;
static uint64_t trace;	/* XDPNAT_FUZZ_TRACE: 1 a line per run (to compare two runs), 2 frames too */
static uint64_t iter;

struct vkind {
	int inv;
	char what[96];
	uint64_t count;
	uint64_t first_iter;
};

static struct vkind vkinds[64];
static int n_vkinds;

enum hook { H_XDP_LAN, H_XDP_WAN, H_TC };
enum origin { O_LAN, O_WAN, O_ROUTER };

/* One program run and everything the checks need about it. */
struct run {
	enum hook hook;
	int ifx;
	enum origin origin;
	char how[160];			/* how the input was made */
	uint8_t in[PK_MAX];
	size_t inlen;
	uint8_t out[PK_MAX];
	size_t outlen;
	uint32_t ret;
	const uint8_t *orig;		/* kernel path: the frame XDP passed, as it arrived */
	size_t origlen;
	enum hook orig_hook;		/* and the program it arrived at */
	struct nat_stats sb, sa;	/* nat_stats before / after */
	uint64_t t_before;		/* CLOCK_MONOTONIC before the run */
	bool ct_known;			/* TCP input: its conntrack entry before the run */
	struct nat_ct_value ct;
};

static const char *prog_name(const struct run *r)
{
	return r->hook == H_XDP_LAN ? "xdpnat_xdp_lan" : r->hook == H_XDP_WAN ? "xdpnat_xdp_wan"
									       : "xdpnat_tc_egress";
}

static const char *verdict_name(const struct run *r)
{
	static const char *xdp[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };
	static char buf[32];

	if (r->hook != H_TC)
		return r->ret < 5 ? xdp[r->ret] : "XDP_?";
	switch (r->ret) {
	case TC_ACT_OK: return "TC_ACT_OK";
	case TC_ACT_SHOT: return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT: return "TC_ACT_REDIRECT";
	}
	snprintf(buf, sizeof(buf), "tc %u", r->ret);
	return buf;
}

static void hexdump(const char *what, const uint8_t *b, size_t n)
{
	printf("#   %s (%zu bytes):\n", what, n);
	for (size_t i = 0; i < n; i += 32) {
		printf("#     %04zx ", i);
		for (size_t j = i; j < i + 32 && j < n; j++)
			printf("%02x", b[j]);
		printf("\n");
	}
}

static struct vkind *vkind_get(int inv, const char *what)
{
	for (int i = 0; i < n_vkinds; i++)
		if (vkinds[i].inv == inv && !strcmp(vkinds[i].what, what))
			return &vkinds[i];
	if (n_vkinds == (int)(sizeof(vkinds) / sizeof(vkinds[0])))
		return &vkinds[n_vkinds - 1];	/* the last one collects the rest */
	vkinds[n_vkinds].inv = inv;
	snprintf(vkinds[n_vkinds].what, sizeof(vkinds[0].what), "%s", what);
	vkinds[n_vkinds].first_iter = iter;
	return &vkinds[n_vkinds++];
}

/* kind: a short fixed text naming the kind of violation (reports are
 * capped per kind, so a frequent one does not hide a rare one). */
static void violation(const struct run *r, int inv, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void violation(const struct run *r, int inv, const char *kind, const char *fmt, ...)
{
	struct vkind *k = vkind_get(inv, kind);
	va_list ap;

	inv_failed[inv]++;
	if (++k->count > report_max)
		return;
	printf("# VIOLATION of invariant %s: %s\n", inv_name[inv], kind);
	printf("#   seed %llu, iteration %llu: %s on %s returned %s\n", (unsigned long long)seed,
	       (unsigned long long)iter, prog_name(r), ifname(r->ifx), verdict_name(r));
	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n#   input made as: %s\n", r->how);
	hexdump("input", r->in, r->inlen);
	hexdump("output", r->out, r->outlen);
	if (r->orig)
		hexdump("the frame as it arrived", r->orig, r->origlen);
	fflush(stdout);
}

static uint64_t harness_errors;

static void harness_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void harness_error(const char *fmt, ...)
{
	va_list ap;

	if (harness_errors++ < 5) {
		printf("# harness error at iteration %llu: ", (unsigned long long)iter);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
}

/* ------------------------------------------------------------ map snapshots */

static int ncpu;
static struct nat_stats *percpu;

static int stats_read(struct nat_stats *s)
{
	__u32 zero = 0;
	size_t nf = sizeof(*s) / sizeof(__u64);

	if (bpf_map_lookup_elem(E.m_stats, &zero, percpu))
		return -1;
	memset(s, 0, sizeof(*s));
	for (int c = 0; c < ncpu; c++)
		for (size_t i = 0; i < nf; i++)
			((__u64 *)s)[i] += ((__u64 *)&percpu[c])[i];
	return 0;
}

struct expect_snap {
	uint32_t n;
	struct nat_expect_key k[XDPNAT_EXPECT_MAX];
	struct nat_expect_value v[XDPNAT_EXPECT_MAX];
};

struct gate_snap {
	uint32_t n;
	struct nat_gate_key k[XDPNAT_GATE_MAX];
	struct nat_gate_value v[XDPNAT_GATE_MAX];
};

static struct expect_snap ex_cur, ex_new;
static struct gate_snap gt_cur, gt_new;

/* Whole map in one or a few BPF_MAP_LOOKUP_BATCH calls: two snapshots per
 * run must stay cheap. */
static int snap_map(int fd, void *keys, void *vals, size_t ksz, size_t vsz, uint32_t max, uint32_t *n)
{
	uint32_t batch = 0, cnt, total = 0;
	void *in = NULL;
	int err;

	do {
		cnt = max - total;
		err = bpf_map_lookup_batch(fd, in, &batch, (uint8_t *)keys + total * ksz,
					   (uint8_t *)vals + total * vsz, &cnt, NULL);
		if (err && errno != ENOENT)
			return -1;
		total += cnt;
		in = &batch;
	} while (!err && total < max);
	*n = total;
	return 0;
}

/* Sorted by key: a hash map's order follows a per-map random seed, and
 * the generator picks expectations by index, so an unsorted snapshot
 * would make runs with the same seed differ. (Insertion sort: the harness
 * keeps a few dozen entries.) */
static int snap_expect(struct expect_snap *s)
{
	if (snap_map(m_expect, s->k, s->v, sizeof(s->k[0]), sizeof(s->v[0]), XDPNAT_EXPECT_MAX, &s->n))
		return -1;
	for (uint32_t i = 1; i < s->n; i++) {
		struct nat_expect_key k = s->k[i];
		struct nat_expect_value v = s->v[i];
		uint32_t j = i;

		for (; j > 0 && memcmp(&s->k[j - 1], &k, sizeof(k)) > 0; j--) {
			s->k[j] = s->k[j - 1];
			s->v[j] = s->v[j - 1];
		}
		s->k[j] = k;
		s->v[j] = v;
	}
	return 0;
}

static int snap_gate(struct gate_snap *s)
{
	return snap_map(m_gate, s->k, s->v, sizeof(s->k[0]), sizeof(s->v[0]), XDPNAT_GATE_MAX, &s->n);
}

/* Empty a hash map: collect the keys first (deleting while walking would
 * restart the walk at every key), then delete them. */
static void map_flush(int fd, size_t ksz, uint32_t max)
{
	uint8_t *keys = malloc((size_t)max * ksz);
	uint32_t n = 0;

	if (!keys) {
		harness_error("flush: out of memory");
		return;
	}
	while (n < max && bpf_map_get_next_key(fd, n ? keys + (n - 1) * ksz : NULL, keys + n * ksz) == 0)
		n++;
	for (uint32_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * ksz);
	free(keys);
}

static int ct_flush_one(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	(void)v;
	(void)arg;
	ct_del(&E.ct, k);
	return 0;
}

/* Empty nat_ct (a table of slots, include/nat_ct_slots.h): every LIVE
 * entry deleted, then the tombstones made empty slots again (twice: a run
 * may wrap around the end of the table), as a new table's. */
static void ct_flush(void)
{
	ct_for_each(&E.ct, ct_flush_one, NULL);
	cttab_tidy(&E.ct);
	if (cttab_tidy(&E.ct))
		harness_error("flush: nat_ct not empty");
}

/* ------------------------------------------------------------ gate shadow */

/* Flows the harness saw raise a gate count (their conntrack ORIG keys). */
static struct nat_ct_key counted[4096];
static int n_counted;

static int counted_find(const struct nat_ct_key *k)
{
	for (int i = 0; i < n_counted; i++)
		if (!memcmp(&counted[i], k, sizeof(*k)))
			return i;
	return -1;
}

/* The conntrack entry a TCP/UDP input hits (the key as the data path
 * builds it). */
static bool ct_of(const struct layout *L, struct nat_ct_key *k, struct nat_ct_value *v)
{
	if (!L->ports)
		return false;
	memset(k, 0, sizeof(*k));
	k->saddr = htonl(L->src);
	k->daddr = htonl(L->dst);
	k->sport = htons(L->sport);
	k->dport = htons(L->dport);
	k->proto = L->proto;
	return ct_get(&E.ct, k, v) == 0;
}

static const char *ct_state_name(uint8_t st)
{
	static const char *n[] = { "NEW", "SYN_SENT", "ESTABLISHED", "FIN_WAIT", "CLOSING" };

	return st < 5 ? n[st] : "?";
}

/* Which nat_ct entry a frame hits, as the data path looks it up (an ICMP
 * error: the reverse of its quote), for the reports. */
static const char *ct_hit(const struct layout *L)
{
	static const char *kinds[] = { "?", "MASQ", "FORWARD", "HAIRPIN", "EXPECT" };
	static const char *dirs[] = { "ORIG", "REPLY", "HAIRPIN_EGRESS" };
	static char buf[160];
	struct nat_ct_key k = { 0 };
	struct nat_ct_value v;

	if (L->hdr && L->later) {
		struct nat_frag_key fk = { 0 };
		struct nat_frag_value fv;

		fk.saddr = htonl(L->src);
		fk.daddr = htonl(L->dst);
		fk.id = htons(L->ipid);
		fk.proto = L->proto;
		if (bpf_map_lookup_elem(E.m_frag, &fk, &fv))
			return "a later fragment with no nat_frag entry";
		snprintf(buf, sizeof(buf), "a later fragment whose nat_frag entry says %08x -> %08x, wan if %u%s",
			 ntohl(fv.to_saddr), ntohl(fv.to_daddr), fv.wan_ifindex, fv.to_wan ? ", to the WAN" : "");
		return buf;
	}
	if (L->inhdr && (L->inproto == IPPROTO_TCP || L->inproto == IPPROTO_UDP ||
			 L->inproto == IPPROTO_ICMP)) {
		k.saddr = htonl(L->indst);
		k.daddr = htonl(L->insrc);
		if (L->inproto == IPPROTO_ICMP) {	/* echo ids as ports, reversed */
			k.sport = L->inw1 == 8 ? 0 : htons(L->inw2);
			k.dport = L->inw1 == 8 ? htons(L->inw2) : 0;
		} else {
			k.sport = htons(L->inw2);
			k.dport = htons(L->inw1);
		}
		k.proto = L->inproto;
	} else if (L->ports) {
		k.saddr = htonl(L->src);
		k.daddr = htonl(L->dst);
		k.sport = htons(L->sport);
		k.dport = htons(L->dport);
		k.proto = L->proto;
	} else if (L->icmp && (L->icmp_type == 0 || L->icmp_type == 8)) {
		k.saddr = htonl(L->src);
		k.daddr = htonl(L->dst);
		k.sport = L->icmp_type == 8 ? htons(L->icmp_id) : 0;
		k.dport = L->icmp_type == 8 ? 0 : htons(L->icmp_id);
		k.proto = IPPROTO_ICMP;
	} else {
		return "no conntrack entry looked up";
	}
	if (ct_get(&E.ct, &k, &v))
		return "no conntrack entry";
	snprintf(buf, sizeof(buf), "hits nat_ct %s %s entry of wan if %u, to %08x:%u -> %08x:%u",
		 kinds[v.kind < 5 ? v.kind : 0], v.dir < 3 ? dirs[v.dir] : "?", v.wan_ifindex,
		 ntohl(v.to_saddr), ntohs(v.to_sport), ntohl(v.to_daddr), ntohs(v.to_dport));
	return buf;
}

/* The ORIG key of the flow whose entry the input tuple hits, if that flow
 * is an FTP control session counted in nat_gate (NAT_CT_F_GATE). */
static bool gated_flow_of(const struct layout *L, struct nat_ct_key *okey)
{
	struct nat_ct_key k;
	struct nat_ct_value v;

	if (!ct_of(L, &k, &v) || !(v.flags & NAT_CT_F_GATE))
		return false;
	if (v.dir == NAT_DIR_ORIG) {
		*okey = k;
	} else {
		memset(okey, 0, sizeof(*okey));
		okey->saddr = v.to_daddr;
		okey->daddr = v.to_saddr;
		okey->sport = v.to_dport;
		okey->dport = v.to_sport;
		okey->proto = L->proto;
	}
	return true;
}


/* ------------------------------------------------------------ what the outside said */

/*
 * Tuples of every frame that arrived on a WAN: an address the outside
 * used itself is no secret when an ICMP error quotes it back (invariant
 * 1b). Open addressing over 64-bit hashes; a full neighbourhood
 * overwrites, which can only make the check miss a leak, never invent one.
 */
#define SEEN_BITS	17
static uint64_t seen[1u << SEEN_BITS];

static uint64_t tuple_hash(uint8_t proto, uint32_t s, uint32_t d, uint16_t w1, uint16_t w2)
{
	uint64_t h = ((uint64_t)s << 32 | d) * 0x9e3779b97f4a7c15ull;

	h ^= ((uint64_t)proto << 32 | (uint64_t)w1 << 16 | w2) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return h | 1;	/* 0 marks a free slot */
}

static void seen_add(uint64_t h)
{
	uint32_t mask = (1u << SEEN_BITS) - 1, i = (uint32_t)h & mask;

	for (int k = 0; k < 8; k++, i = (i + 1) & mask) {
		if (seen[i] == h)
			return;
		if (!seen[i]) {
			seen[i] = h;
			return;
		}
	}
	seen[(uint32_t)h & mask] = h;
}

static bool seen_has(uint64_t h)
{
	uint32_t mask = (1u << SEEN_BITS) - 1, i = (uint32_t)h & mask;

	for (int k = 0; k < 8; k++, i = (i + 1) & mask)
		if (seen[i] == h)
			return true;
	return false;
}

/* The tuple a frame arriving from outside shows (ports; ICMP: type, id). */
static void seen_frame(const struct layout *L)
{
	if (!L->hdr || L->later)
		return;
	if (L->ports)
		seen_add(tuple_hash(L->proto, L->src, L->dst, L->sport, L->dport));
	else if (L->icmp)
		seen_add(tuple_hash(L->proto, L->src, L->dst, L->icmp_type, L->icmp_id));
	else
		seen_add(tuple_hash(L->proto, L->src, L->dst, 0, 0));
	/* an error from outside shows its quote too */
	if (L->inhdr)
		seen_add(tuple_hash(L->inproto, L->insrc, L->indst, L->inw1, L->inw2));
}

/* ------------------------------------------------------------ observations */

/*
 * Frames seen, so that later frames can answer them: what left (and
 * where), and what arrived (and where). Replies to outputs reach the
 * state of the flows they belong to; continuations of inputs move TCP
 * states; ICMP errors quote what was really sent.
 */
#define OBS_N		256
#define OBS_BYTES	600

struct obs {
	bool valid;
	int ifx;			/* where it left / arrived */
	enum hook hook;			/* inputs: the program that saw it */
	struct layout L;
	size_t iplen;
	uint8_t ip[OBS_BYTES];		/* the IPv4 datagram (from the IP header) */
};

static struct obs outs[OBS_N], ins[OBS_N];
static unsigned n_outs, n_ins;

static void observe(struct obs *ring, unsigned *n, int ifx, enum hook hook, const uint8_t *f, size_t len)
{
	struct obs *o = &ring[(*n)++ % OBS_N];
	struct layout L;

	layout_of(f, len, &L);
	if (!L.tot || (L.proto != IPPROTO_TCP && L.proto != IPPROTO_UDP && L.proto != IPPROTO_ICMP)) {
		(*n)--;
		return;
	}
	o->valid = true;
	o->ifx = ifx;
	o->hook = hook;
	o->L = L;
	o->iplen = L.totlen < OBS_BYTES ? L.totlen : OBS_BYTES;
	memcpy(o->ip, f + 14, o->iplen);
}

static const struct obs *obs_pick(const struct obs *ring, unsigned n)
{
	if (!n)
		return NULL;
	return &ring[rn(n < OBS_N ? n : OBS_N)];
}

/* ------------------------------------------------------------ address and port pools */

static uint32_t pick_lan(void)
{
	static const uint32_t hosts[] = { A_CLIENT, A_CLIENT2, A_SERVER };

	switch (rn(12)) {
	case 0: return A_LAN0;
	case 1: return LAN_NET | rn(256);
	default: return PICK(hosts);
	}
}

static uint32_t pick_remote(void)
{
	static const uint32_t r[] = { A_REMOTE, A_DNS, A_REMOTE_W1, A_ROUTER9, A_WAN0_HOST, A_GW, A_GW1 };

	if (pct(85))
		return PICK(r);
	return IP4(1 + rn(222), rn(256), rn(256), 1 + rn(254));
}

static uint32_t pick_wan_addr(int ifx)
{
	if (pct(80))
		return ifx == E.if_wan1 ? A_WAN1 : A_WAN0;
	return pct(50) ? A_WAN0 : A_WAN1;
}

static uint32_t pick_special(void)
{
	static const uint32_t s[] = { 0, 0xffffffffu, IP4(127, 0, 0, 1), IP4(224, 0, 0, 251),
				      IP4(192, 168, 0, 255), IP4(192, 168, 0, 0), IP4(198, 51, 100, 255),
				      A_LAN0 };

	return pct(70) ? PICK(s) : (uint32_t)rnd();
}

static uint32_t pick_any(void)
{
	switch (rn(5)) {
	case 0: return pick_lan();
	case 1: return pick_remote();
	case 2: return pct(50) ? A_WAN0 : A_WAN1;
	case 3: return pick_special();
	default: return (uint32_t)rnd();
	}
}

static uint16_t pick_port_interesting(void)
{
	static const uint16_t p[] = { 21, 80, 443, 53, 8080, 5353, 990, 2121, 30000, 30005, 30009, 31000,
				      5000, 5003, 6000, 40000, 40001, 40002, 40003, 1024, 65535, 0, 1,
				      20, 123, WAN1_PORT_LO, WAN1_PORT_HI };

	return PICK(p);
}

static uint16_t pick_sport(void)
{
	return pct(75) ? (uint16_t)(1024 + rn(64512)) : pick_port_interesting();
}

static uint16_t pick_dport(void)
{
	return pct(65) ? pick_port_interesting() : (uint16_t)rn(65536);
}

/* A port that reaches something on a WAN address: a forward or an
 * expectation port. */
static uint16_t pick_wan_dport(int ifx, uint8_t *proto)
{
	if (pct(70)) {
		for (int tries = 0; tries < 8; tries++) {
			const struct fwd *w = &FWDS[rn(N_FWDS)];

			if ((w->wan == 1) != (ifx == E.if_wan1) && pct(80))
				continue;
			*proto = w->proto;
			return (uint16_t)(w->lo + rn(w->hi - w->lo + 1u));
		}
	}
	if (pct(50))
		return (uint16_t)(EXPECT_PORT0 + rn(EXPECT_PORTS));
	return pick_dport();
}

/* ------------------------------------------------------------ frame building */

struct gen {
	int side;			/* S_* */
	uint8_t f[PK_MAX];
	size_t len;
	char how[160];
};

enum side { S_LAN, S_WAN0, S_WAN1, S_TC };

static int side_if(int side)
{
	return side == S_LAN ? E.if_lan0 : side == S_WAN0 ? E.if_wan0 : E.if_wan1;
}

static int if_side(int ifx)
{
	return ifx == E.if_lan0 ? S_LAN : ifx == E.if_wan0 ? S_WAN0 : S_WAN1;
}

static void how(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void how(struct gen *g, const char *fmt, ...)
{
	size_t n = strlen(g->how);
	va_list ap;

	if (n >= sizeof(g->how) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(g->how + n, sizeof(g->how) - n, fmt, ap);
	va_end(ap);
}

static uint8_t payload_buf[PK_MAX];

static size_t pick_plen(unsigned max)
{
	unsigned n;

	switch (rn(10)) {
	case 0: n = 0; break;
	case 1: n = 1000 + rn(400); break;	/* near the MTU */
	case 2: n = rn(8); break;
	default: n = rn(100); break;
	}
	return n > max ? max : n;
}

static const uint8_t *random_payload(size_t n)
{
	for (size_t i = 0; i < n; i++)
		payload_buf[i] = (uint8_t)rnd();
	return payload_buf;
}

static uint8_t pick_tcp_flags(void)
{
	static const uint8_t f[] = { PK_TCP_SYN, PK_TCP_SYN, PK_TCP_SYN | PK_TCP_ACK, PK_TCP_ACK,
				     PK_TCP_ACK | PK_TCP_PSH, PK_TCP_FIN | PK_TCP_ACK, PK_TCP_RST,
				     PK_TCP_RST | PK_TCP_ACK, PK_TCP_FIN, PK_TCP_SYN | PK_TCP_FIN };

	return pct(92) ? PICK(f) : (uint8_t)rnd();
}

static uint8_t pick_ttl(void)
{
	static const uint8_t t[] = { 64, 64, 64, 63, 128, 255, 1, 1, 2, 0 };

	return PICK(t);
}

/* IP options: a few well-formed ones, or garbage of the right size. */
static size_t pick_ip_opts(uint8_t *o)
{
	size_t n = 4 * (1 + rn(10));

	switch (rn(4)) {
	case 0:		/* NOPs and an EOL */
		memset(o, 1, n);
		o[n - 1] = 0;
		break;
	case 1:		/* record route with room */
		memset(o, 0, n);
		o[0] = 7;
		o[1] = (uint8_t)(n - 1 >= 7 ? ((n - 1 - 3) / 4) * 4 + 3 : 3);
		o[2] = 4;
		break;
	case 2:		/* router alert */
		memset(o, 1, n);
		o[0] = 148; o[1] = 4; o[2] = 0; o[3] = 0;
		break;
	default:
		for (size_t i = 0; i < n; i++)
			o[i] = (uint8_t)rnd();
		break;
	}
	return n;
}

/* Prepend TCP options: rebuild the segment with doff > 5. */
static void add_tcp_opts(uint8_t *f, size_t *len, size_t fmax)
{
	struct layout L;
	unsigned optlen = 4 * (1 + rn(10));

	layout_of(f, *len, &L);
	if (!L.tot || L.first || L.proto != IPPROTO_TCP || L.l4len < 20 || *len + optlen > fmax)
		return;
	memmove(f + L.l4 + 20 + optlen, f + L.l4 + 20, *len - (L.l4 + 20));
	for (unsigned i = 0; i < optlen; i++)
		f[L.l4 + 20 + i] = pct(50) ? 1 : (uint8_t)rnd();
	if (pct(60)) {		/* an MSS option in front */
		f[L.l4 + 20] = 2; f[L.l4 + 21] = 4; f[L.l4 + 22] = 0x05; f[L.l4 + 23] = 0xb4;
	}
	f[L.l4 + 12] = (uint8_t)((5 + optlen / 4) << 4);
	*len += optlen;
	put16(f + 16, (uint16_t)(L.totlen + optlen));
	fix_ip_csum(f, *len);
	fix_l4_csum(f, *len);
}

static void add_vlan(uint8_t *f, size_t *len)
{
	static const uint16_t tpid[] = { 0x8100, 0x88a8 };

	memmove(f + 16, f + 12, *len - 12);
	put16(f + 12, PICK(tpid));
	put16(f + 14, (uint16_t)rn(4096));
	*len += 4;
}

/* The MAC addresses a frame arriving on ifx from src has. */
static void arrival_macs(struct pk *p, int side)
{
	int ifx = side_if(side);

	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	p->dmac = pct(3) ? bcast : if_mac(ifx);
	p->smac = side == S_LAN ? lan_mac(p->src) : side == S_WAN0 ? MAC_GW : MAC_GW1;
}

/* A well-formed IPv4 frame of p, with a fragment's L4 bytes cut as the
 * sender would have cut them. */
static size_t build(uint8_t *f, struct pk *p, int frag_kind)
{
	uint8_t l4[PK_MAX], ipb[PK_MAX];
	size_t n, cut;

	if (frag_kind == 0)
		return pk_frame(f, p);
	n = pk_l4(l4, p);
	if (frag_kind == 1) {		/* first fragment: the L4 header and some data */
		cut = n > 8 ? 8 * (1 + rn((unsigned)((n - 1) / 8))) : n;
		p->frag = PK_IP_MF;
		n = pk_ip_wrap(ipb, p, l4, cut);
	} else {			/* a later fragment: raw bytes at an offset */
		size_t m = 8 + 8 * rn(60);

		p->frag = (uint16_t)((pct(50) ? PK_IP_MF : 0) | (1 + rn(200)));
		n = pk_ip_wrap(ipb, p, random_payload(m), m);
	}
	return pk_eth_wrap(f, p, ipb, n);
}

/* Tuple for a fresh frame arriving on side. */
static void fresh_tuple(struct pk *p, int side)
{
	int ifx = side_if(side);

	if (side == S_LAN) {
		p->src = pct(90) ? pick_lan() : pick_any();
		switch (rn(10)) {
		case 0: case 1: p->dst = pick_wan_addr(E.if_wan0); break;	/* hairpin */
		case 2: p->dst = pick_any(); break;
		default: p->dst = pick_remote(); break;
		}
	} else {
		p->src = pct(85) ? pick_remote() : pct(50) ? pick_lan() : pick_any();
		switch (rn(10)) {
		case 0: p->dst = pick_lan(); break;	/* addressed to the inside directly */
		case 1: p->dst = pick_any(); break;
		default: p->dst = pick_wan_addr(ifx); break;
		}
	}
	p->sport = pick_sport();
	/* towards a WAN address, mostly a port that leads somewhere (the
	 * forward's protocol comes with it; ICMP stays ICMP) */
	if (side != S_LAN && is_wan_addr(p->dst) && p->proto != IPPROTO_ICMP)
		p->dport = pick_wan_dport(ifx, &p->proto);
	else
		p->dport = pick_dport();
}

static void icmp_error_around(struct pk *p, const uint8_t *quote, size_t qlen)
{
	static const uint8_t types[][2] = { { 3, 0 }, { 3, 1 }, { 3, 3 }, { 3, 4 }, { 3, 13 },
					    { 11, 0 }, { 11, 1 }, { 12, 0 } };
	const uint8_t *tc = types[rn(sizeof(types) / sizeof(types[0]))];
	size_t n;

	p->proto = IPPROTO_ICMP;
	p->type = tc[0];
	p->code = tc[1];
	switch (rn(3)) {
	case 0: n = 28; break;				/* RFC 792 minimum */
	case 1: n = qlen; break;			/* all of it (Linux quotes up to 548) */
	default: n = 20 + rn((unsigned)qlen); break;
	}
	if (n > qlen)
		n = qlen;
	if (n > 548)
		n = 548;
	p->payload = quote;
	p->plen = n;
}

/* A quoted datagram made up on the spot (for errors about nothing we sent). */
static size_t made_up_quote(uint8_t *q, int side)
{
	struct pk i = { 0 };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };

	i.proto = PICK(protos);
	fresh_tuple(&i, side == S_LAN ? S_WAN0 : S_LAN);	/* what went the other way */
	if (i.proto == IPPROTO_ICMP) {
		i.type = pct(80) ? 8 : 0;
		i.icmp_id = (uint16_t)rnd();
	}
	i.flags = PK_TCP_SYN;
	i.ttl = (uint8_t)(1 + rn(64));
	i.payload = random_payload(rn(40));
	i.plen = rn(40);
	return pk_ip(q, &i);
}

static uint8_t quote_buf[PK_MAX];

/* The frame of one iteration. */
static void gen_frame(struct gen *g)
{
	struct pk p = { 0 };
	uint8_t opts[40];
	const struct obs *o;
	int frag_kind = 0, mode = (int)rn(100);
	static const uint8_t other_protos[] = { 47, 50, 132, 41, 4, 2, 17 + 119 };
	size_t fmax;

	memset(g->how, 0, sizeof(g->how));
	g->side = pct(45) ? S_LAN : pct(55) ? S_WAN0 : pct(35) ? S_WAN1 : S_TC;
	p.ttl = pick_ttl();
	p.id = (uint16_t)rnd();
	p.frag = pct(50) ? PK_IP_DF : 0;
	p.tos = pct(90) ? 0 : (uint8_t)rnd();
	p.seq = (uint32_t)rnd();
	p.ack = (uint32_t)rnd();
	p.win = (uint16_t)rnd();
	p.icmp_seq = (uint16_t)rnd();

	if (mode < 22 && (o = obs_pick(outs, n_outs)) && o->valid) {
		/* an answer to something that left: from where it went */
		g->side = pct(85) ? if_side(o->ifx) : S_TC;
		p.proto = o->L.proto;
		p.src = o->L.dst;
		p.dst = o->L.src;
		p.sport = o->L.dport;
		p.dport = o->L.sport;
		if (p.proto == IPPROTO_TCP)
			p.flags = o->L.tcp_flags == PK_TCP_SYN && pct(70) ? PK_TCP_SYN | PK_TCP_ACK
									    : pick_tcp_flags();
		if (p.proto == IPPROTO_ICMP) {
			if (o->L.err)
				goto fresh;
			p.type = o->L.icmp_type == 8 ? 0 : 8;
			p.icmp_id = o->L.icmp_id;
		}
		how(g, "reply to a frame that left %s; ", ifname(o->ifx));
	} else if (mode < 34 && (o = obs_pick(ins, n_ins)) && o->valid) {
		/* more of a flow, from the same side (sometimes the other) */
		g->side = o->hook == H_TC ? S_TC : if_side(o->ifx);
		if (pct(10))
			g->side = (int)rn(4);
		p.proto = o->L.proto;
		p.src = o->L.src;
		p.dst = o->L.dst;
		p.sport = o->L.sport;
		p.dport = o->L.dport;
		/* after a bare SYN, often the ACK that completes a handshake
		 * (with the coherent numbers below, in window) */
		p.flags = o->L.tcp_flags == PK_TCP_SYN && pct(50) ? PK_TCP_ACK : pick_tcp_flags();
		if (p.proto == IPPROTO_ICMP) {
			if (o->L.err)
				goto fresh;
			p.type = o->L.icmp_type;
			p.icmp_id = o->L.icmp_id;
		}
		how(g, "more of a flow that arrived on %s; ", ifname(o->ifx));
	} else if (mode < 44 && (o = obs_pick(outs, n_outs)) && o->valid) {
		/* an ICMP error about something that left, from where it went */
		g->side = pct(85) ? if_side(o->ifx) : S_TC;
		p.src = pct(50) ? o->L.dst : o->ifx == E.if_lan0 ? pick_lan() : pick_remote();
		p.dst = o->L.src;
		memcpy(quote_buf, o->ip, o->iplen);
		icmp_error_around(&p, quote_buf, o->iplen);
		how(g, "ICMP error %u/%u about a frame that left %s, %zu bytes quoted; ", p.type, p.code,
		    ifname(o->ifx), p.plen);
	} else if (mode < 49 && ex_cur.n) {
		/* a connection to an expectation the "ALG" opened */
		uint32_t i = rn(ex_cur.n);
		uint32_t wa = ntohl(ex_cur.k[i].waddr);

		g->side = wa == A_WAN1 ? S_WAN1 : S_WAN0;
		if (pct(10))
			g->side = (int)rn(4);
		p.proto = ex_cur.k[i].proto;
		p.src = pct(90) ? ntohl(ex_cur.k[i].raddr) : pick_remote();
		p.dst = wa;
		p.sport = pick_sport();
		p.dport = ntohs(ex_cur.k[i].wport);
		p.flags = pct(75) ? PK_TCP_SYN : pick_tcp_flags();
		how(g, "to an expectation; ");
	} else if (mode < 50) {
		/* a whole control session on `implicit-tls 990` (gated, not
		 * inspected), one frame a turn: SYN, the server's SYN-ACK, the
		 * ACK, then its end; with the coherent numbers below each step
		 * is in window, so the gate is counted and released */
		static int step;
		static uint16_t sport;

		if (step == 0)
			sport = (uint16_t)(20000 + rn(10000));
		p.proto = IPPROTO_TCP;
		if (step == 1) {
			g->side = S_LAN;
			p.src = A_SERVER;
			p.dst = A_REMOTE;
			p.sport = 990;
			p.dport = sport;
			p.flags = PK_TCP_SYN | PK_TCP_ACK;
		} else {
			g->side = S_WAN0;
			p.src = A_REMOTE;
			p.dst = A_WAN0;
			p.sport = sport;
			p.dport = 990;
			p.flags = step == 0 ? PK_TCP_SYN : step == 2 ? PK_TCP_ACK
					  : pct(50) ? PK_TCP_RST | PK_TCP_ACK : PK_TCP_FIN | PK_TCP_ACK;
		}
		how(g, "control session on 990, step %d; ", step);
		step = (step + 1) % 4;
	} else if (mode < 51 && n_counted) {
		/* the end of a counted FTP control session, from its peer
		 * (in window when the numbers below are the coherent ones) */
		const struct nat_ct_key *k = &counted[rn(n_counted)];

		g->side = ntohl(k->daddr) == A_WAN1 ? S_WAN1 : S_WAN0;
		p.proto = IPPROTO_TCP;
		p.src = ntohl(k->saddr);
		p.dst = ntohl(k->daddr);
		p.sport = ntohs(k->sport);
		p.dport = ntohs(k->dport);
		p.flags = pct(50) ? PK_TCP_RST | PK_TCP_ACK : PK_TCP_FIN | PK_TCP_ACK;
		how(g, "end of a counted control session; ");
	} else {
fresh:
		memset(g->how, 0, sizeof(g->how));
		switch (rn(20)) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
			p.proto = IPPROTO_TCP;
			break;
		case 9: case 10: case 11: case 12:
			p.proto = IPPROTO_UDP;
			break;
		case 13: case 14:
			p.proto = IPPROTO_ICMP;
			break;
		case 15:		/* an ICMP error quoting something made up (only
					 * from outside: the kernel quotes what it got) */
			p.proto = IPPROTO_ICMP;
			p.type = g->side == S_TC ? 8 : 3;
			break;
		case 16:
			p.proto = pct(50) ? IPPROTO_UDP : IPPROTO_TCP;
			frag_kind = pct(50) ? 1 : 2;
			break;
		case 17:
			p.proto = PICK(other_protos);
			break;
		case 18: {		/* not IPv4 at all */
			static const uint16_t et[] = { 0x86dd, 0x0806, 0x88cc, 0x8847, 0x0800 };
			size_t n = 14 + rn(120);

			g->len = n;
			random_payload(n);
			memcpy(g->f, payload_buf, n);
			memcpy(g->f, if_mac(side_if(g->side == S_TC ? S_LAN : g->side)), 6);
			put16(g->f + 12, pct(80) ? PICK(et) : (uint16_t)rnd());
			how(g, "random bytes, ethertype %04x; ", get16(g->f + 12));
			goto mutate;
		}
		default:
			p.proto = pct(50) ? IPPROTO_TCP : IPPROTO_UDP;
			break;
		}
		p.flags = pick_tcp_flags();
		if (g->side == S_TC) {
			/* what the kernel routes out: from the LAN, the router itself, or
			 * towards the LAN */
			switch (rn(3)) {
			case 0: fresh_tuple(&p, S_LAN); break;
			case 1: fresh_tuple(&p, S_LAN); p.src = pct(70) ? A_WAN0 : pct(50) ? A_WAN1 : 0; break;
			default: fresh_tuple(&p, S_WAN0); p.dst = pick_lan(); break;
			}
		} else {
			fresh_tuple(&p, g->side);
		}
		if (p.proto == IPPROTO_ICMP && p.type == 3) {
			size_t qn = made_up_quote(quote_buf, g->side);

			p.type = 0;
			icmp_error_around(&p, quote_buf, qn);
			how(g, "ICMP error %u/%u quoting a made-up datagram; ", p.type, p.code);
		} else if (p.proto == IPPROTO_ICMP) {
			p.type = pct(70) ? 8 : pct(80) ? 0 : (uint8_t)rn(20);
			p.icmp_id = pct(50) ? pick_sport() : pick_port_interesting();
		}
		how(g, "fresh %s%s; ", p.proto == IPPROTO_TCP ? "TCP" : p.proto == IPPROTO_UDP ? "UDP"
					: p.proto == IPPROTO_ICMP ? "ICMP" : "other protocol",
		    frag_kind == 1 ? " first fragment" : frag_kind == 2 ? " later fragment" : "");
		if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP && p.proto != IPPROTO_ICMP) {
			p.plen = pick_plen(200);
			p.payload = random_payload(p.plen);
		}
	}

	if (!p.payload && p.proto != IPPROTO_ICMP) {
		p.plen = (p.proto == IPPROTO_TCP && (p.flags & PK_TCP_SYN)) ? (pct(80) ? 0 : pick_plen(64))
									    : pick_plen(1400);
		p.payload = random_payload(p.plen);
	} else if (!p.payload) {
		p.plen = pick_plen(1400);
		p.payload = random_payload(p.plen);
	}
	if (p.proto == IPPROTO_UDP && pct(10))
		p.udp_nocsum = true;
	if (p.proto == IPPROTO_TCP && pct(85)) {
		/* Sequence numbers of one coherent conversation (each side
		 * has a fixed ISN), so handshakes can complete past the
		 * window check; the rest stay random, out of window. */
		bool lan = g->side == S_LAN || (g->side == S_TC && (p.src >> 16) == 0xc0a8);
		uint32_t mine = lan ? 1000 : 5000, theirs = lan ? 5000 : 1000;

		p.seq = mine + !(p.flags & PK_TCP_SYN);
		p.ack = (p.flags & PK_TCP_ACK) ? theirs + 1 : 0;
	}
	if (g->side == S_TC) {
		p.dmac = NULL;		/* set once routed */
		p.smac = NULL;
	} else {
		arrival_macs(&p, g->side);
	}
	/* No NIC delivers a frame larger than its MTU; what goes straight to
	 * tc stands for traffic from the LAN or the router itself, so it
	 * keeps to the LAN's. */
	fmax = g->side == S_WAN0 || g->side == S_WAN1 ? FRAME_MAX : 14 + MTU_LAN;
	if (pct(8)) {
		p.optlen = pick_ip_opts(opts);
		p.opts = opts;
		how(g, "%zu bytes of IP options; ", p.optlen);
	}
	if (14 + 20 + p.optlen + 20 + p.plen > fmax)
		p.plen = fmax - (14 + 20 + p.optlen + 20);
	g->len = build(g->f, &p, frag_kind);
	if (p.proto == IPPROTO_TCP && !frag_kind && pct(15)) {
		add_tcp_opts(g->f, &g->len, fmax);
		how(g, "TCP options; ");
	}
	if (pct(3)) {
		add_vlan(g->f, &g->len);
		how(g, "VLAN-tagged; ");
	}

mutate:
	if (pct(30)) {
		int n = 1 + (int)rn(3);
		struct layout L;

		how(g, "mutated:");
		for (int i = 0; i < n; i++) {
			layout_of(g->f, g->len, &L);
			switch (rn(14)) {
			case 0: case 1: {
				size_t at = pct(70) && g->len > 14 ? rn((unsigned)(g->len < 80 ? g->len : 80))
								   : rn((unsigned)g->len);

				g->f[at] ^= (uint8_t)(1u << rn(8));
				how(g, " bit flip at %zu", at);
				break;
			}
			case 2: {
				static const uint8_t v[] = { 0, 0xff, 0x7f, 0x80, 1, 5, 0x45, 0x46 };
				size_t at = rn((unsigned)g->len);

				g->f[at] = PICK(v);
				how(g, " byte %zu = %02x", at, g->f[at]);
				break;
			}
			case 3:
				if (g->len > 14) {
					g->len = 14 + rn((unsigned)(g->len - 14));
					how(g, " truncated to %zu", g->len);
				}
				break;
			case 4: {
				size_t add = 1 + rn(64);

				random_payload(add);
				memcpy(g->f + g->len, payload_buf, add);
				g->len += add;
				how(g, " %zu bytes appended", add);
				break;
			}
			case 5:
				if (L.ip) {
					g->f[14] = (uint8_t)((g->f[14] & 0xf0) | rn(16));
					how(g, " IHL %u", g->f[14] & 15);
				}
				break;
			case 6:
				if (L.ip) {
					uint16_t t = pct(50) ? (uint16_t)rnd() : (uint16_t)(L.totlen + (int)rn(17) - 8);

					put16(g->f + 16, t);
					how(g, " total length %u", t);
				}
				break;
			case 7:
				if (L.hdr) {
					g->f[24] ^= (uint8_t)(1 + rn(255));
					how(g, " IP checksum broken");
				}
				break;
			case 8:
				if (L.hdr && L.l4len >= 8) {
					unsigned off = L.l4 + (L.proto == IPPROTO_TCP && L.l4len >= 18 ? 16
							       : L.proto == IPPROTO_UDP ? 6 : 2);

					g->f[off] ^= (uint8_t)(1 + rn(255));
					how(g, " L4 checksum broken");
				}
				break;
			case 9:
				if (L.hdr && L.ihl > 20) {
					unsigned at = 14 + 20 + rn(L.ihl - 20);

					if (at + 1 < 14 + L.ihl) {
						static const uint8_t bad[] = { 0, 1, 2, 3, 40, 255 };

						g->f[at + 1] = PICK(bad);
						how(g, " option length at %u = %u", at + 1, g->f[at + 1]);
					}
				}
				break;
			case 10:
				if (L.hdr && L.proto == IPPROTO_TCP && L.l4len >= 13) {
					g->f[L.l4 + 12] = (uint8_t)(rn(16) << 4);
					how(g, " TCP data offset %u", g->f[L.l4 + 12] >> 4);
				} else if (L.hdr && L.proto == IPPROTO_UDP && L.l4len >= 6) {
					uint16_t u = pct(50) ? (uint16_t)rn(16) : (uint16_t)(L.l4len + rn(9) - 4);

					put16(g->f + L.l4 + 4, u);
					how(g, " UDP length %u", u);
				}
				break;
			case 11:
				if (L.err) {
					unsigned at = L.in3 + rn(28);

					if (at < g->len) {
						g->f[at] ^= (uint8_t)(1u << rn(8));
						how(g, " quoted header bit flip at %u", at);
					}
				} else if (L.ip) {
					g->f[23] = pct(50) ? (uint8_t)rnd() : PICK(other_protos);
					how(g, " protocol %u", g->f[23]);
				}
				break;
			case 12:
				if (L.ip) {
					uint16_t fr = pct(50) ? (uint16_t)rnd() : PK_IP_MF;

					put16(g->f + 20, fr);
					how(g, " fragment field %04x", fr);
				}
				break;
			default:
				if (L.ip) {
					put16(g->f + 12, 0x86dd);
					how(g, " ethertype IPv6");
				}
				break;
			}
		}
		/* the MTU, and room for a VLAN tag, bound what arrives */
		if (g->len > 14 + 4 + (g->side == S_WAN0 || g->side == S_WAN1 ? MTU_WAN : MTU_LAN)) {
			g->len = 14 + 4 + (g->side == S_WAN0 || g->side == S_WAN1 ? MTU_WAN : MTU_LAN);
			how(g, " cut to the MTU");
		}
		/* Mostly keep the header checksums right, so that the mutation
		 * itself, not a checksum, is what the data path meets. */
		if (pct(60))
			fix_ip_csum(g->f, g->len);
		if (pct(30))
			fix_l4_csum(g->f, g->len);
		how(g, ";");
	}
}

/* ------------------------------------------------------------ the checks */

static uint64_t n_gate_opened, n_gate_closed, n_chain_fwd, n_chain_err,
	n_tc_redirect, n_hairpin_pass, n_wan_exits, n_frag_needed, n_kernel_frags, n_hand_backs;

/* Where did a frame let go on leave? 0: not by a WAN (or unknown). */
static int wan_exit(const struct run *r)
{
	if (r->hook != H_TC) {
		if (r->ret != XDP_REDIRECT || r->outlen < 12)
			return 0;
		if (!memcmp(r->out + 6, MAC_WAN0, 6))
			return E.if_wan0;
		if (!memcmp(r->out + 6, MAC_WAN1, 6))
			return E.if_wan1;
		return 0;
	}
	if (is_wan_if(r->ifx) && (r->ret == TC_ACT_OK || r->ret == TC_ACT_REDIRECT))
		return r->ifx;
	return 0;
}

static void check_leak(const struct run *r)
{
	struct layout L;

	if (!wan_exit(r))
		return;
	n_wan_exits++;
	inv_checked[INV_LEAK]++;
	layout_of(r->out, r->outlen, &L);
	if (!L.ip)
		return;		/* not IPv4 (VLAN, ...): not the data path's */
	if (is_lan_host(L.src)) {
		struct layout I;

		layout_of(r->in, r->inlen, &I);
		violation(r, INV_LEAK,
			  I.inhdr && I.src != I.indst ? "LAN source leaves a WAN (ICMP error not sent by the quoted destination)"
						      : "LAN source address leaves a WAN",
			  "source %u.%u.%u.%u leaves %s; the input %s", L.src >> 24, (L.src >> 16) & 255,
			  (L.src >> 8) & 255, L.src & 255,
			  r->hook == H_TC ? ifname(r->ifx) : ifname(wan_exit(r)), ct_hit(&I));
	}
	/* A kernel error about what a LAN host sent under an outside source
	 * address goes to that outside host, quoting what the LAN host said:
	 * the LAN host could tell it that itself. */
	if (r->origin == O_ROUTER && r->orig_hook == H_XDP_LAN)
		return;
	if (!L.inhdr || L.inihl < 20 || (!is_lan_host(L.insrc) && !is_lan_host(L.indst)))
		return;
	/* Likewise an error a LAN host sends under an outside source that
	 * leaves as it came (the TTL aside): its words, not ours. */
	if (r->origin == O_LAN && !is_lan_host(L.src) && !is_local(L.src)) {
		bool same = true;

		for (size_t i = 14; i < r->inlen; i++)
			if (r->in[i] != r->out[i] && i != 22 && i != 24 && i != 25)
				same = false;
		if (same)
			return;
	}
	if (!seen_has(tuple_hash(L.inproto, L.insrc, L.indst, L.inw1, L.inw2))) {
		struct layout I;

		layout_of(r->in, r->inlen, &I);
		violation(r, INV_LEAK,
			  r->origin == O_ROUTER ? "kernel's ICMP error about a translated frame quotes a LAN address on a WAN"
						: "ICMP error quotes a LAN address on a WAN",
			  "quoted %u.%u.%u.%u -> %u.%u.%u.%u (%u/%u, proto %u): no frame with this tuple "
			  "arrived from outside; the input %s", L.insrc >> 24, (L.insrc >> 16) & 255,
			  (L.insrc >> 8) & 255, L.insrc & 255, L.indst >> 24, (L.indst >> 16) & 255,
			  (L.indst >> 8) & 255, L.indst & 255, L.inw1, L.inw2, L.inproto, ct_hit(&I));
	}
}

static void check_csums(const struct run *r, const struct layout *L)
{
	struct ck ci[CK_MAX], co[CK_MAX];
	int n = ck_list(L, r->in, ci);
	char kind[96];

	if (r->outlen != r->inlen)
		return;		/* reported by invariant 4 */
	inv_checked[INV_CSUM]++;
	ck_list(L, r->out, co);
	for (int i = 0; i < n; i++) {
		uint16_t fin = ci[i].field + 1 < r->inlen ? get16(r->in + ci[i].field) : 0;
		uint16_t fout = co[i].field + 1 < r->outlen ? get16(r->out + co[i].field) : 0;

		if (ci[i].kind == CK_UDP && fin == 0) {
			if (fout != 0) {
				snprintf(kind, sizeof(kind), "%s checksum 0 (none) became nonzero", ci[i].name);
				violation(r, INV_CSUM, kind, "field 0x0000 -> 0x%04x", fout);
			}
			continue;
		}
		if (ci[i].kind == CK_UDP && fout == 0) {
			snprintf(kind, sizeof(kind), "%s checksum became 0 (none)", ci[i].name);
			violation(r, INV_CSUM, kind, "field 0x%04x -> 0x0000", fin);
			continue;
		}
		if (ci[i].r == co[i].r)
			continue;
		if (ci[i].r == 0xffff) {
			snprintf(kind, sizeof(kind), "right %s checksum made wrong", ci[i].name);
			violation(r, INV_CSUM, kind, "field 0x%04x -> 0x%04x, off by 0x%04x", fin, fout,
				  (uint16_t)~co[i].r);
		} else {
			snprintf(kind, sizeof(kind), "wrong %s checksum's error changed", ci[i].name);
			violation(r, INV_CSUM, kind, "field 0x%04x -> 0x%04x, error 0x%04x -> 0x%04x", fin,
				  fout, (uint16_t)~ci[i].r, (uint16_t)~co[i].r);
		}
	}
}

/* The bytes NAT may write (invariant 4). */
static void may_write(const struct layout *L, bool redirect, uint8_t *may, size_t len)
{
	unsigned l4 = L->l4;

	/* Past the end of the datagram (Ethernet padding, trailing bytes)
	 * nothing is NAT's. */
	size_t end = L->hdr && L->end < len ? L->end : len;

#define MAY(from, to) do { for (size_t _i = (from); _i <= (size_t)(to) && _i < end; _i++) may[_i] = 1; } while (0)
	memset(may, 0, len);
	if (redirect)
		MAY(0, 11);
	if (!L->ip || !L->hdr)
		return;
	if (redirect)
		MAY(22, 22);
	MAY(24, 33);
	if (L->later)
		return;
	switch (L->proto) {
	case IPPROTO_TCP:
		MAY(l4, l4 + 3);
		MAY(l4 + 16, l4 + 17);
		if (seqadj_on)
			MAY(l4 + 4, l4 + 11);
		break;
	case IPPROTO_UDP:
		MAY(l4, l4 + 3);
		MAY(l4 + 6, l4 + 7);
		break;
	case IPPROTO_ICMP:
		if (L->icmp_type == 0 || L->icmp_type == 8) {
			MAY(l4 + 2, l4 + 5);
		} else if (L->err) {
			MAY(l4 + 2, l4 + 3);
			MAY(L->in3 + 10, L->in3 + 19);
			switch (L->inproto) {
			case IPPROTO_TCP: MAY(L->in4, L->in4 + 3); break;
			case IPPROTO_UDP: MAY(L->in4, L->in4 + 3); MAY(L->in4 + 6, L->in4 + 7); break;
			case IPPROTO_ICMP: MAY(L->in4 + 2, L->in4 + 5); break;
			}
		}
		break;
	}
#undef MAY
}

static const char *field_at(const struct layout *L, size_t i)
{
	if (L->hdr && i >= L->end && i >= 14u + L->ihl)
		return "past the IP total length";
	if (i < 12)
		return "MAC address";
	if (i < 14)
		return "ethertype";
	if (!L->hdr || i < 14 + 20)
		return i == 22 ? "TTL" : "IPv4 header";
	if (i < L->l4)
		return "IP options";
	if (L->err && i >= L->in3)
		return i < L->in3 + 20 ? "quoted IPv4 header" : "quoted L4";
	if (L->err && i >= L->l4)
		return "ICMP header";
	if (i < L->l4 + (L->proto == IPPROTO_TCP ? 20u : 8u))
		return "L4 header";
	return "payload";
}

static void check_verdict(const struct run *r, const struct layout *L)
{
	bool xdp = r->hook != H_TC, go_on;
	bool redirect = xdp && r->ret == XDP_REDIRECT;
	bool ipv4 = r->inlen >= 14 && get16(r->in + 12) == 0x0800;
	bool identical = false;
	const char *why = NULL;
	static uint8_t may[PK_MAX];
	char kind[96];

	inv_checked[INV_VERDICT]++;
	if (xdp && r->ret != XDP_DROP && r->ret != XDP_PASS && r->ret != XDP_REDIRECT) {
		violation(r, INV_VERDICT, "unexpected XDP verdict", "verdict %u", r->ret);
		return;
	}
	if (!xdp && r->ret != TC_ACT_OK && r->ret != TC_ACT_SHOT &&
	    !(r->ret == TC_ACT_REDIRECT && is_wan_if(r->ifx))) {
		violation(r, INV_VERDICT, "unexpected tc verdict", "verdict %u", r->ret);
		return;
	}
	go_on = xdp ? r->ret != XDP_DROP : r->ret != TC_ACT_SHOT;
	if (!ipv4 && !go_on) {
		violation(r, INV_VERDICT, "non-IPv4 frame dropped", "ethertype %04x",
			  r->inlen >= 14 ? get16(r->in + 12) : 0);
		return;
	}
	if (!go_on)
		return;
	if (r->outlen != r->inlen) {
		violation(r, INV_VERDICT, "output length differs", "%zu bytes in, %zu out", r->inlen,
			  r->outlen);
		return;
	}
	if (!ipv4) {
		identical = true;
		why = "non-IPv4 frame";
	} else if (xdp && r->ret == XDP_PASS && r->sa.passed_untouched > r->sb.passed_untouched) {
		identical = true;
		why = "XDP_PASS counted passed_untouched";
	} else if (r->hook == H_XDP_LAN && r->ret == XDP_PASS && !(L->ip && is_wan_addr(L->dst))) {
		identical = true;
		why = "XDP_PASS from a LAN, not hairpin";
	} else if (!xdp && r->ret == TC_ACT_OK && r->sa.tc_translated == r->sb.tc_translated) {
		identical = true;
		why = "TC_ACT_OK without tc_translated";
	}
	if (redirect && r->outlen >= 12 && memcmp(r->out + 6, MAC_LAN0, 6) &&
	    memcmp(r->out + 6, MAC_WAN0, 6) && memcmp(r->out + 6, MAC_WAN1, 6))
		violation(r, INV_VERDICT, "XDP_REDIRECT with a source MAC not ours", "source MAC ends %02x",
			  r->out[11]);
	if (redirect && L->ip && (uint8_t)(r->in[22] - 1) != r->out[22])
		violation(r, INV_VERDICT, "XDP_REDIRECT without TTL - 1", "TTL %u -> %u", r->in[22],
			  r->out[22]);
	if (r->hook == H_XDP_LAN && r->ret == XDP_PASS && !identical)
		n_hairpin_pass++;
	if (identical) {
		if (memcmp(r->in, r->out, r->inlen)) {
			size_t i = 0;

			while (r->in[i] == r->out[i])
				i++;
			snprintf(kind, sizeof(kind), "untouched frame changed (%s)", why);
			violation(r, INV_VERDICT, kind, "first difference at byte %zu (%s)", i, field_at(L, i));
		}
		return;
	}
	may_write(L, redirect, may, r->inlen);
	for (size_t i = 0; i < r->inlen; i++) {
		if (r->in[i] != r->out[i] && !may[i]) {
			snprintf(kind, sizeof(kind), "byte NAT may not write changed (%s)", field_at(L, i));
			violation(r, INV_VERDICT, kind, "byte %zu: %02x -> %02x", i, r->in[i], r->out[i]);
			break;
		}
	}
}

static const struct nat_expect_key *ex_find(const struct expect_snap *s, const struct nat_expect_key *k,
					    uint32_t *at)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (!memcmp(&s->k[i], k, sizeof(*k))) {
			if (at)
				*at = i;
			return &s->k[i];
		}
	return NULL;
}

static bool gt_find(const struct gate_snap *s, const struct nat_gate_key *k, uint32_t *at)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (!memcmp(&s->k[i], k, sizeof(*k))) {
			*at = i;
			return true;
		}
	return false;
}

static void check_expect(const struct run *r, const struct layout *L)
{
	int gone = 0;
	uint32_t at;

	for (uint32_t i = 0; i < ex_new.n; i++) {
		if (!ex_find(&ex_cur, &ex_new.k[i], &at))
			violation(r, INV_STATE, "nat_expect entry created by the data path",
				  "raddr %08x waddr %08x wport %u", ntohl(ex_new.k[i].raddr),
				  ntohl(ex_new.k[i].waddr), ntohs(ex_new.k[i].wport));
		else if (memcmp(&ex_cur.v[at], &ex_new.v[i], sizeof(ex_new.v[i])))
			violation(r, INV_STATE, "nat_expect entry changed by the data path",
				  "raddr %08x wport %u", ntohl(ex_new.k[i].raddr), ntohs(ex_new.k[i].wport));
	}
	for (uint32_t i = 0; i < ex_cur.n; i++) {
		const struct nat_expect_key *k = &ex_cur.k[i];
		uint32_t wa = ntohl(k->waddr);
		bool may;

		if (ex_find(&ex_new, k, NULL))
			continue;
		gone++;
		may = r->hook == H_XDP_WAN && L->ip && L->hdr && L->tot && !L->later && !L->err &&
		      r->ifx == (wa == A_WAN0 ? E.if_wan0 : wa == A_WAN1 ? E.if_wan1 : -1) &&
		      L->proto == k->proto && L->src == ntohl(k->raddr) && L->dst == wa &&
		      L->ports && L->dport == ntohs(k->wport) &&
		      (L->proto == IPPROTO_UDP ||
		       (L->proto == IPPROTO_TCP && L->has_flags &&
			(L->tcp_flags & (PK_TCP_SYN | PK_TCP_ACK | PK_TCP_RST | PK_TCP_FIN)) == PK_TCP_SYN));
		if (!may)
			violation(r, INV_STATE, "nat_expect entry used by a packet that does not match it",
				  "raddr %08x waddr %08x wport %u proto %u", ntohl(k->raddr), wa,
				  ntohs(k->wport), k->proto);
		else if (ex_cur.v[i].expires <= r->t_before)
			violation(r, INV_STATE, "expired nat_expect entry used",
				  "expired %.3f s before the run",
				  (double)(r->t_before - ex_cur.v[i].expires) / 1e9);
	}
	if (gone > 1)
		violation(r, INV_STATE, "more than one nat_expect entry used by one packet", "%d gone", gone);
}

/* "SYN_SENT -> CLOSING" for the input's flow entry, for the reports. */
static const char *ct_change(const struct run *r, const struct layout *L)
{
	static char buf[96];
	struct nat_ct_key k;
	struct nat_ct_value v;
	bool now = ct_of(L, &k, &v);

	snprintf(buf, sizeof(buf), "flow entry %s -> %s, flags %02x",
		 r->ct_known ? ct_state_name(r->ct.state) : "(none)", now ? ct_state_name(v.state) : "(none)",
		 now ? v.flags : 0);
	return buf;
}

static void check_gate(const struct run *r, const struct layout *L)
{
	int changes = 0;
	uint32_t at;

	for (uint32_t i = 0; i < gt_cur.n; i++)
		if (!gt_find(&gt_new, &gt_cur.k[i], &at))
			violation(r, INV_STATE, "nat_gate entry deleted by the data path", "raddr %08x inside %08x",
				  ntohl(gt_cur.k[i].raddr), ntohl(gt_cur.k[i].inside_addr));
	for (uint32_t i = 0; i < gt_new.n; i++) {
		const struct nat_gate_key *k = &gt_new.k[i];
		const struct nat_gate_value *nv = &gt_new.v[i];
		struct nat_gate_value ov = { 0 };
		bool existed = gt_find(&gt_cur, k, &at);
		uint32_t ra = ntohl(k->raddr), ia = ntohl(k->inside_addr);
		struct nat_ct_key okey;
		bool wan_side, ack, flow;
		int c;

		if (existed)
			ov = gt_cur.v[at];
		if (existed && !memcmp(&ov, nv, sizeof(ov)))
			continue;
		changes++;
		flow = L->ip && L->has_flags && !L->later && gated_flow_of(L, &okey);
		c = flow ? counted_find(&okey) : -1;
		if (!existed || nv->sessions > ov.sessions) {
			/* the client's ACK completing the handshake: from the
			 * WAN side, from the remote peer the gate is for */
			wan_side = r->hook == H_XDP_WAN || (r->hook == H_TC && r->origin == O_WAN);
			ack = L->has_flags && !L->later &&
			      (L->tcp_flags & (PK_TCP_SYN | PK_TCP_ACK | PK_TCP_RST | PK_TCP_FIN)) ==
				      PK_TCP_ACK;
			n_gate_opened++;
			if (!wan_side)
				violation(r, INV_STATE, "nat_gate opened by a packet from the LAN side",
					  "raddr %08x inside %08x sessions %u -> %u; %s", ra, ia, ov.sessions,
					  nv->sessions, ct_change(r, L));
			else if (!ack || L->proto != IPPROTO_TCP || L->src != ra)
				violation(r, INV_STATE, "nat_gate opened by a packet that is not the client's handshake ACK",
					  "raddr %08x inside %08x; packet %08x:%u -> %08x:%u flags %02x", ra, ia,
					  L->src, L->sport, L->dst, L->dport, L->tcp_flags);
			else if (nv->sessions != ov.sessions + 1)
				violation(r, INV_STATE, "nat_gate count raised by more than one",
					  "sessions %u -> %u", ov.sessions, nv->sessions);
			else if (!flow)
				violation(r, INV_STATE, "nat_gate opened for no gated flow", "raddr %08x inside %08x",
					  ra, ia);
			else if (c >= 0)
				violation(r, INV_STATE, "nat_gate counted one flow twice", "raddr %08x inside %08x",
					  ra, ia);
			if (flow && c < 0 && n_counted < (int)(sizeof(counted) / sizeof(counted[0])))
				counted[n_counted++] = okey;
			continue;
		}
		if (nv->sessions < ov.sessions) {
			n_gate_closed++;
			if (nv->sessions != ov.sessions - 1)
				violation(r, INV_STATE, "nat_gate count lowered by more than one",
					  "sessions %u -> %u", ov.sessions, nv->sessions);
			else if (!L->has_flags || !(L->tcp_flags & (PK_TCP_FIN | PK_TCP_RST)))
				violation(r, INV_STATE, "nat_gate count lowered by a packet without FIN or RST",
					  "flags %02x", L->tcp_flags);
			else if (c < 0)
				violation(r, INV_STATE, "nat_gate count lowered for a flow that was not counted",
					  "raddr %08x inside %08x sessions %u -> %u (steals another session's count); %s",
					  ra, ia, ov.sessions, nv->sessions, ct_change(r, L));
			if (c >= 0)
				counted[c] = counted[--n_counted];
			continue;
		}
		/* Same count, other last_seen: gate_update(-1) found 0. For a
		 * counted flow, its count was taken earlier by a flow that never
		 * had one (reported then); what it does now is what its close
		 * would have done anyway. */
		if (c >= 0) {
			counted[c] = counted[--n_counted];
			continue;
		}
		violation(r, INV_STATE, "nat_gate last_seen moved without a session count change",
			  "raddr %08x inside %08x sessions %u, last_seen +%.3f s (the linger window reopens); %s",
			  ra, ia, nv->sessions, (double)(nv->last_seen - ov.last_seen) / 1e9, ct_change(r, L));
	}
	if (changes > 1)
		violation(r, INV_STATE, "more than one nat_gate entry changed by one packet", "%d changed",
			  changes);
}

/* ------------------------------------------------------------ running */

static uint64_t n_runs;

static void kernel_path(const struct run *r);
static unsigned if_mtu(int ifx);

/* Run one frame through one program and check everything. */
static void do_run(struct run *r)
{
	struct layout L;
	int rc;

	/* BPF_PROG_TEST_RUN refuses an skb too short for the network header
	 * its ethertype announces; the stack never sends one either. */
	if (r->hook == H_TC && r->inlen >= 14 &&
	    ((get16(r->in + 12) == 0x0800 && r->inlen < 14 + 20) ||
	     (get16(r->in + 12) == 0x86dd && r->inlen < 14 + 40)))
		return;
	layout_of(r->in, r->inlen, &L);
	if (L.proto == IPPROTO_TCP && !L.later) {
		struct nat_ct_key k;

		r->ct_known = ct_of(&L, &k, &r->ct);
	}
	r->t_before = mono_ns();
	if (stats_read(&r->sb)) {
		harness_error("nat_stats: %s", strerror(errno));
		return;
	}
	if (r->hook == H_TC)
		rc = run_tc(&E, r->ifx, r->in, r->inlen, r->out, &r->outlen, &r->ret);
	else
		rc = run_xdp(&E, r->ifx, r->in, r->inlen, r->out, &r->outlen, &r->ret);
	n_runs++;
	if (rc) {
		harness_error("BPF_PROG_TEST_RUN of %s on %s with %zu bytes failed: %s", prog_name(r),
			      ifname(r->ifx), r->inlen, strerror(errno));
		if (harness_errors <= 5)
			hexdump("input", r->in, r->inlen);
		return;
	}
	if (stats_read(&r->sa) || snap_expect(&ex_new) || snap_gate(&gt_new)) {
		harness_error("map snapshot: %s", strerror(errno));
		return;
	}
	if (trace)
		printf("# trace %llu rng %016llx %s %s %u in %08x out %08x\n", (unsigned long long)iter,
		       (unsigned long long)rng, prog_name(r), ifname(r->ifx), r->ret,
		       ck_sum(0, r->in, r->inlen), ck_sum(0, r->out, r->outlen));
	if (trace > 1) {
		printf("#   made as: %s\n", r->how);
		hexdump("input", r->in, r->inlen);
		hexdump("output", r->out, r->outlen);
	}
	if (r->hook == H_XDP_WAN)
		seen_frame(&L);
	check_verdict(r, &L);
	if (r->hook == H_TC ? r->ret != TC_ACT_SHOT : r->ret != XDP_DROP) {
		check_leak(r);
		check_csums(r, &L);
	}
	inv_checked[INV_STATE]++;
	check_expect(r, &L);
	check_gate(r, &L);
	memcpy(ex_cur.k, ex_new.k, ex_new.n * sizeof(ex_new.k[0]));
	memcpy(ex_cur.v, ex_new.v, ex_new.n * sizeof(ex_new.v[0]));
	ex_cur.n = ex_new.n;
	memcpy(gt_cur.k, gt_new.k, gt_new.n * sizeof(gt_new.k[0]));
	memcpy(gt_cur.v, gt_new.v, gt_new.n * sizeof(gt_new.v[0]));
	gt_cur.n = gt_new.n;

	/* learn, and follow the frame into the kernel */
	observe(ins, &n_ins, r->ifx, r->hook, r->in, r->inlen);
	if (r->hook != H_TC && r->ret == XDP_REDIRECT && r->outlen >= 12) {
		int ifx = !memcmp(r->out + 6, MAC_WAN0, 6) ? E.if_wan0
			  : !memcmp(r->out + 6, MAC_WAN1, 6) ? E.if_wan1 : E.if_lan0;

		observe(outs, &n_outs, ifx, r->hook, r->out, r->outlen);
	} else if (r->hook == H_TC && r->ret == TC_ACT_OK) {
		observe(outs, &n_outs, r->ifx, r->hook, r->out, r->outlen);
	} else if (r->hook == H_TC && r->ret == TC_ACT_REDIRECT) {
		n_tc_redirect++;
		observe(outs, &n_outs, r->ifx == E.if_wan0 ? E.if_wan1 : E.if_wan0, r->hook, r->out, r->outlen);
	} else if (r->hook != H_TC && r->ret == XDP_PASS) {
		kernel_path(r);
	}
}

static bool ip_options_ok(const uint8_t *o, unsigned n)
{
	/* Only options the kernel forwards without a closer look: NOP, EOL
	 * and router alert; anything else may make it drop the packet. */
	for (unsigned i = 0; i < n;) {
		if (o[i] == 0)
			return true;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (o[i] != 148 || i + 4 > n || o[i + 1] != 4)
			return false;
		i += 4;
	}
	return true;
}

static unsigned if_mtu(int ifx)
{
	return ifx == E.if_lan0 ? MTU_LAN : MTU_WAN;
}

/*
 * An ICMP error the kernel sends about a datagram it got (ip points at its
 * IPv4 header): from the address of the interface towards the sender,
 * quoting up to 576 bytes in all, run through tc egress of that interface.
 * Not about a later fragment or an ICMP error (icmp_send()'s rules).
 */
static void kernel_error(const struct run *x, const uint8_t *ip, const struct layout *L, uint8_t type,
			 uint8_t code, uint16_t mtu)
{
	static struct run r;
	struct pk e = { 0 };
	int back = route_of(L->src);

	if (!back || L->later || (L->proto == IPPROTO_ICMP && (!L->icmp ||
	    (L->icmp_type != 0 && L->icmp_type != 8))))
		return;
	memset(&r, 0, sizeof(r));
	e.src = if_addr(back);
	e.dst = L->src;
	e.proto = IPPROTO_ICMP;
	e.ttl = 64;
	e.tos = 0xc0;
	e.id = (uint16_t)rnd();
	e.type = type;
	e.code = code;
	e.payload = ip;
	e.plen = L->totlen < 548 ? L->totlen : 548;
	e.smac = if_mac(back);
	e.dmac = nexthop_mac(back, e.dst);
	r.inlen = pk_frame(r.in, &e);
	if (mtu) {	/* next-hop MTU (RFC 1191) in the second half of the unused word */
		put16(r.in + 14 + 20 + 6, mtu);
		fix_l4_csum(r.in, r.inlen);
	}
	r.hook = H_TC;
	r.ifx = back;
	r.origin = O_ROUTER;
	r.orig = x->in;
	r.origlen = x->inlen;
	r.orig_hook = x->hook;
	snprintf(r.how, sizeof(r.how), "kernel's ICMP %u/%u about what %s passed (%.90s)", type, code,
		 prog_name(x), x->how);
	n_chain_err++;
	do_run(&r);
}

/*
 * The kernel's part for a frame XDP passed to it: drop what ip_rcv and
 * the forwarding path drop, deliver local traffic (not followed), send
 * time exceeded when the TTL runs out and "fragmentation needed" when a
 * DF datagram does not fit the egress, else forward: trimmed to its total
 * length, TTL - 1, the egress's MAC addresses, fragmented (as
 * ip_do_fragment: 8-byte multiples, MF on all but the last) if it does
 * not fit, then tc egress of that interface.
 */
static void kernel_path(const struct run *x)
{
	static struct run r;	/* do_run() comes back here only from XDP, never from tc */
	static uint8_t dg[PK_MAX];
	struct layout L;
	unsigned mtu, off0, plen, ihl, at;
	int egress;

	layout_of(x->out, x->outlen, &L);
	if (!L.ip || !L.hdr || !L.tot || (x->out[14] >> 4) != 4 || L.totlen > MTU_WAN)
		return;
	if (ck_fold(ck_sum(0, x->out + 14, L.ihl)) != 0xffff)
		return;
	if (L.ihl > 20 && !ip_options_ok(x->out + 34, L.ihl - 20))
		return;
	if (is_martian(L.src) || is_local(L.src) || is_martian(L.dst) || is_local(L.dst))
		return;
	egress = route_of(L.dst);
	if (!egress)
		return;
	if (L.ttl <= 1) {
		kernel_error(x, x->out + 14, &L, 11, 0, 0);
		return;
	}
	mtu = if_mtu(egress);
	if (L.totlen > mtu && (L.frag & PK_IP_DF)) {
		n_frag_needed++;
		kernel_error(x, x->out + 14, &L, 3, 4, (uint16_t)mtu);
		return;
	}

	/* the datagram as forwarded: trimmed, TTL - 1 */
	memcpy(dg, x->out + 14, L.totlen);
	dg[8]--;
	ihl = L.ihl;
	memset(&r, 0, sizeof(r));
	r.hook = H_TC;
	r.ifx = egress;
	r.origin = x->hook == H_XDP_LAN ? O_LAN : O_WAN;
	r.orig = x->in;
	r.origlen = x->inlen;
	r.orig_hook = x->hook;
	n_chain_fwd++;
	if (L.totlen <= mtu) {
		snprintf(r.how, sizeof(r.how), "kernel forwarded what %s on %s passed (%.90s)", prog_name(x),
			 ifname(x->ifx), x->how);
		r.inlen = 14 + L.totlen;
		memcpy(r.in + 14, dg, L.totlen);
		memcpy(r.in, nexthop_mac(egress, L.dst), 6);
		memcpy(r.in + 6, if_mac(egress), 6);
		put16(r.in + 12, 0x0800);
		fix_ip_csum(r.in, r.inlen);
		do_run(&r);
		return;
	}
	if (ihl > 20)
		return;		/* which options a fragment copies is not emulated */
	off0 = (L.frag & 0x1fff) * 8u;
	for (at = ihl; at < L.totlen; at += plen) {
		bool last;

		plen = (mtu - ihl) & ~7u;
		if (at + plen >= L.totlen)
			plen = L.totlen - at;
		last = at + plen >= L.totlen;
		memset(&r, 0, sizeof(r));
		r.hook = H_TC;
		r.ifx = egress;
		r.origin = x->hook == H_XDP_LAN ? O_LAN : O_WAN;
		r.orig = x->in;
		r.origlen = x->inlen;
		r.orig_hook = x->hook;
		snprintf(r.how, sizeof(r.how), "kernel's fragment at %u of what %s on %s passed (%.90s)",
			 off0 + at - ihl, prog_name(x), ifname(x->ifx), x->how);
		memcpy(r.in, nexthop_mac(egress, L.dst), 6);
		memcpy(r.in + 6, if_mac(egress), 6);
		put16(r.in + 12, 0x0800);
		memcpy(r.in + 14, dg, ihl);
		memcpy(r.in + 14 + ihl, dg + at, plen);
		put16(r.in + 16, (uint16_t)(ihl + plen));
		put16(r.in + 20, (uint16_t)(((off0 + at - ihl) / 8) |
					    (!last || (L.frag & PK_IP_MF) ? PK_IP_MF : 0)));
		r.inlen = 14 + ihl + plen;
		fix_ip_csum(r.in, r.inlen);
		n_kernel_frags++;
		do_run(&r);
	}
}

/* ------------------------------------------------------------ the controller's part */

static int fwd_write(void)
{
	for (int i = 0; i < N_FWDS; i++) {
		const struct fwd *w = &FWDS[i];

		for (unsigned p = w->lo; p <= w->hi; p++) {
			struct nat_fwd_key k = { 0 };
			struct nat_fwd_value v = { 0 };

			k.ifindex = (__u32)(w->wan ? E.if_wan1 : E.if_wan0);
			k.port = htons((uint16_t)p);
			k.proto = w->proto;
			v.addr = htonl(w->to);
			v.port = htons((uint16_t)(w->to_lo + (p - w->lo)));
			v.flags = w->flags;
			if (env_forward_put(&E, &k, &v))
				return -1;
		}
	}
	return 0;
}

/* The ALG opens an expectation: a remote may connect to a WAN address's
 * port, once, until it expires (some are opened already expired). */
static void ctl_expect(void)
{
	struct nat_expect_key k = { 0 };
	struct nat_expect_value v = { 0 };
	uint64_t now = mono_ns();

	if (ex_cur.n >= 24)
		return;
	k.raddr = htonl(pick_remote());
	k.waddr = htonl(pct(75) ? A_WAN0 : A_WAN1);
	k.wport = htons(pct(85) ? (uint16_t)(EXPECT_PORT0 + rn(EXPECT_PORTS)) : pick_sport());
	k.proto = pct(90) ? IPPROTO_TCP : IPPROTO_UDP;
	v.to_addr = htonl(pct(60) ? A_CLIENT : A_SERVER);
	v.to_port = htons((uint16_t)(1024 + rn(64512)));
	v.expires = pct(85) ? now + 60ull * 1000000000ull : now - 1000000000ull;
	v.ctl.saddr = htonl(A_CLIENT);
	v.ctl.daddr = k.raddr;
	v.ctl.sport = htons(pick_sport());
	v.ctl.dport = htons(21);
	v.ctl.proto = IPPROTO_TCP;
	if (bpf_map_update_elem(m_expect, &k, &v, BPF_ANY))
		harness_error("nat_expect: %s", strerror(errno));
}

/* The ALG hands a control flow back to XDP with sequence offsets, as
 * alg_session.c's hand_back(): nat_alg first, then the flags of both
 * entries. */
static void ctl_hand_back(void)
{
	for (int tries = 0; tries < 32; tries++) {
		const struct obs *o = obs_pick(ins, n_ins);
		struct nat_ct_key k = { 0 }, okey = { 0 }, rkey = { 0 };
		struct nat_ct_value v, ov, rv;
		struct nat_alg_value a = { 0 };
		int err;

		if (!o || !o->valid || o->L.proto != IPPROTO_TCP)
			continue;
		k.saddr = htonl(o->L.src);
		k.daddr = htonl(o->L.dst);
		k.sport = htons(o->L.sport);
		k.dport = htons(o->L.dport);
		k.proto = IPPROTO_TCP;
		if (ct_get(&E.ct, &k, &v) || !(v.flags & NAT_CT_F_ALG) ||
		    (v.flags & NAT_CT_F_OPAQUE) || v.dir == NAT_DIR_HAIRPIN_EGRESS)
			continue;
		if (v.dir == NAT_DIR_ORIG) {
			okey = k;
			ov = v;
		} else {
			okey.saddr = v.to_daddr;
			okey.daddr = v.to_saddr;
			okey.sport = v.to_dport;
			okey.dport = v.to_sport;
			okey.proto = IPPROTO_TCP;
			if (ct_get(&E.ct, &okey, &ov))
				continue;
		}
		rkey.saddr = ov.to_daddr;
		rkey.daddr = ov.to_saddr;
		rkey.sport = ov.to_dport;
		rkey.dport = ov.to_sport;
		rkey.proto = IPPROTO_TCP;
		if (ct_get(&E.ct, &rkey, &rv))
			continue;
		a.delta[0] = (int32_t)rn(201) - 100;
		a.delta[1] = (int32_t)rn(201) - 100;
		a.opaque_since = mono_ns();
		ov.flags |= NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ;
		rv.flags |= NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ;
		if (bpf_map_update_elem(m_alg, &okey, &a, BPF_ANY)) {
			harness_error("hand back: %s", strerror(errno));
			return;
		}
		if ((err = ct_put(&E.ct, &okey, &ov, BPF_EXIST)) ||
		    (err = ct_put(&E.ct, &rkey, &rv, BPF_EXIST))) {
			harness_error("hand back: %s", strerror(-err));
			return;
		}
		seqadj_on = true;
		n_hand_backs++;
		return;
	}
}

static void ctl_route_toggle(void)
{
	default_via_wan1 = !default_via_wan1;
	if (env_sh("ip route replace default via %s", default_via_wan1 ? "203.0.113.2 dev wan1"
								       : "198.51.100.2 dev wan0"))
		harness_error("cannot change the default route");
}

/* A restart: everything the data path writes, and the ALG's maps, empty. */
static void ctl_flush(void)
{
	ct_flush();
	map_flush(E.m_frag, sizeof(struct nat_frag_key), XDPNAT_FRAG_MAX);
	map_flush(m_gate, sizeof(struct nat_gate_key), XDPNAT_GATE_MAX);
	map_flush(m_expect, sizeof(struct nat_expect_key), XDPNAT_EXPECT_MAX);
	map_flush(m_alg, sizeof(struct nat_ct_key), XDPNAT_ALG_MAX);
	map_flush(m_refused, sizeof(struct nat_refused_key), XDPNAT_REFUSED_MAX);
	n_counted = 0;
	n_outs = n_ins = 0;
	memset(outs, 0, sizeof(outs));
	memset(ins, 0, sizeof(ins));
	seqadj_on = false;
}

static int setup(void)
{
	struct nat_config cfg = NAT_CONFIG_DEFAULTS;
	__u32 zero = 0, ifx;
	__be32 a;

	if (env_up_ct(&E, CT_MAX))
		return -1;
	m_expect = bpf_map__fd(E.skel->maps.nat_expect);
	m_gate = bpf_map__fd(E.skel->maps.nat_gate);
	m_alg = bpf_map__fd(E.skel->maps.nat_alg);
	m_refused = bpf_map__fd(E.skel->maps.nat_refused);
	cfg.ftp_ports[0] = 21;
	if (bpf_map_update_elem(E.m_config, &zero, &cfg, BPF_ANY))
		return -1;
	if (env_set_wan(&E, E.if_wan1, A_WAN1, A_GW1, WAN1_PORT_LO, WAN1_PORT_HI, 1, 1))
		return -1;
	a = htonl(A_WAN1);
	ifx = (__u32)E.if_wan1;
	if (bpf_map_update_elem(E.m_wanaddr, &a, &ifx, BPF_ANY))
		return -1;
	if (env_sh("ip route add 192.0.2.128/25 via 203.0.113.2 dev wan1"))
		return -1;
	/* a LAN MTU below the WAN's: the kernel path must fragment or say
	 * "fragmentation needed", and a WAN-sized packet is too big for it */
	if (env_sh("ip link set lan0 mtu %d", MTU_LAN))
		return -1;
	if (fwd_write())
		return -1;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || !(percpu = calloc((size_t)ncpu, sizeof(*percpu))))
		return -1;
	if (snap_expect(&ex_cur) || snap_gate(&gt_cur))
		return -1;
	return 0;
}

/* ------------------------------------------------------------ main */

static uint64_t env_u64(const char *name, uint64_t def, bool *set)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (set)
		*set = false;
	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		printf("# %s=%s is not a number; using %llu\n", name, s, (unsigned long long)def);
		return def;
	}
	if (set)
		*set = true;
	return v;
}

static void one_iteration(void)
{
	static struct gen g;
	static struct run r;

	gen_frame(&g);
	memset(&r, 0, sizeof(r));
	memcpy(r.how, g.how, sizeof(r.how));
	if (g.side == S_TC) {
		struct layout L;

		/* tc sees only what the kernel routed out of an interface */
		layout_of(g.f, g.len, &L);
		/* The router's own ICMP errors quote what it really received;
		 * those come from the kernel emulation (kernel_path), not from
		 * here, where quotes are made up or mutated. */
		if (L.err && is_local(L.src))
			return;
		r.ifx = L.ip ? route_of(L.dst) : 0;
		if (!r.ifx)
			r.ifx = L.ip ? 0 : (int)(pct(50) ? E.if_wan0 : E.if_lan0);
		if (!r.ifx)
			return;
		/* ip_rcv trims what follows the total length, and the kernel
		 * sends nothing larger than the egress MTU (it fragments) */
		if (L.tot) {
			g.len = 14 + L.totlen;
			if (L.totlen > if_mtu(r.ifx))
				return;
		}
		if (g.len >= 12 && !memcmp(g.f, (const uint8_t[6]){ 0 }, 6)) {
			memcpy(g.f, nexthop_mac(r.ifx, L.dst), 6);
			memcpy(g.f + 6, if_mac(r.ifx), 6);
		}
		r.hook = H_TC;
		r.origin = O_LAN;	/* stands for what the kernel routed from the LAN or sent itself */
	} else {
		r.ifx = side_if(g.side);
		r.hook = g.side == S_LAN ? H_XDP_LAN : H_XDP_WAN;
		r.origin = g.side == S_LAN ? O_LAN : O_WAN;
	}
	memcpy(r.in, g.f, g.len);
	r.inlen = g.len;
	do_run(&r);
}

int main(void)
{
	bool iters_set;
	uint64_t secs = env_u64("XDPNAT_FUZZ_SECONDS", FUZZ_SECONDS_DEFAULT, NULL);
	uint64_t max_iters = env_u64("XDPNAT_FUZZ_ITERS", 0, &iters_set);
	uint64_t t0, t_end, t_done;
	struct nat_stats st;
	int tn = 1, fails = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (network namespace, BPF)\n");
		return 0;
	}
	report_max = env_u64("XDPNAT_FUZZ_REPORTS", REPORT_MAX, NULL);
	trace = env_u64("XDPNAT_FUZZ_TRACE", 0, NULL);
	seed = env_u64("XDPNAT_FUZZ_SEED", 0, NULL);
	if (!getenv("XDPNAT_FUZZ_SEED"))
		seed = mono_ns() ^ ((uint64_t)getpid() << 32);
	rng = seed;
	env_ct_seed = seed | 1;	/* nat_ct's slots too */
	printf("1..6\n");
	printf("# seed %llu (replay: XDPNAT_FUZZ_SEED=%llu)\n", (unsigned long long)seed,
	       (unsigned long long)seed);
	if (iters_set)
		printf("# %llu iterations (XDPNAT_FUZZ_ITERS)\n", (unsigned long long)max_iters);
	else
		printf("# %llu seconds (XDPNAT_FUZZ_SECONDS)\n", (unsigned long long)secs);
	if (setup()) {
		printf("not ok 1 - setup: namespace, skeleton, forwards, second WAN\n");
		for (tn = 2; tn <= 6; tn++)
			printf("not ok %d - not run: no setup\n", tn);
		env_down(&E);
		return 1;
	}
	printf("ok %d - setup: namespace, skeleton, forwards, gate, ALG port, second WAN\n", tn++);

	t0 = mono_ns();
	t_end = t0 + secs * 1000000000ull;
	for (iter = 0;; iter++) {
		if (iters_set ? iter >= max_iters : ((iter & 63) == 0 && mono_ns() >= t_end))
			break;
		if (iter && iter % EPOCH == 0) {
			ctl_flush();
			if (snap_expect(&ex_cur) || snap_gate(&gt_cur))
				harness_error("snapshot after flush: %s", strerror(errno));
		}
		if (iter % 97 == 5 || (iter % 97 == 50 && pct(50))) {
			ctl_expect();
			if (snap_expect(&ex_cur))
				harness_error("snapshot nat_expect: %s", strerror(errno));
		}
		if (iter % 400 == 200)
			ctl_hand_back();
		if (iter % 3000 == 1500)
			ctl_route_toggle();
		one_iteration();
	}
	t_done = mono_ns();

	/* a failed BPF_PROG_TEST_RUN call or map read fails invariant 4 */
	inv_failed[INV_VERDICT] += harness_errors;
	printf("# %llu iterations, %llu program runs in %.1f s: %.0f runs/s\n", (unsigned long long)iter,
	       (unsigned long long)n_runs, (double)(t_done - t0) / 1e9,
	       (double)n_runs / ((double)(t_done - t0) / 1e9));
	for (int i = 0; i < INV_N; i++) {
		printf("%s %d - invariant %s (%llu runs checked, %llu violations)\n",
		       inv_failed[i] ? "not ok" : "ok", tn++, inv_name[i],
		       (unsigned long long)inv_checked[i], (unsigned long long)inv_failed[i]);
		fails += inv_failed[i] != 0;
	}
	for (int i = 0; i < n_vkinds; i++)
		printf("#   invariant %s: %s: %llu times, first at iteration %llu\n", inv_name[vkinds[i].inv],
		       vkinds[i].what, (unsigned long long)vkinds[i].count,
		       (unsigned long long)vkinds[i].first_iter);

	/* coverage: the paths the generators aim at were reached */
	if (stats_read(&st)) {
		printf("not ok %d - coverage: cannot read nat_stats\n", tn++);
		fails++;
	} else {
		struct { const char *name; uint64_t v; } cov[] = {
			{ "flows_created", st.flows_created },
			{ "xdp_forwarded", st.xdp_forwarded },
			{ "tc_translated", st.tc_translated },
			{ "passed_untouched", st.passed_untouched },
			{ "passed_vlan", st.passed_vlan },
			{ "passed_to_kernel", st.passed_to_kernel },
			{ "icmp_errors_translated", st.icmp_errors_translated },
			{ "fragments_translated", st.fragments_translated },
			{ "drop_malformed", st.drop_malformed },
			{ "drop_no_port", st.drop_no_port },
			{ "drop_ct_full", st.drop_ct_full },
			{ "drop_frag_unknown", st.drop_frag_unknown },
			{ "drop_no_flow", st.drop_no_flow },
			{ "drop_gate", st.drop_gate },
			{ "drop_alg_down", st.drop_alg_down },
			{ "expect_used", st.expect_used },
			{ "gate sessions counted", n_gate_opened },
			{ "gate sessions ended", n_gate_closed },
			{ "kernel forwards followed to tc", n_chain_fwd },
			{ "kernel ICMP errors followed to tc", n_chain_err },
			{ "fragmentation needed sent", n_frag_needed },
			{ "kernel fragments followed to tc", n_kernel_frags },
			{ "ALG flows handed back with offsets", n_hand_backs },
			{ "tc redirects to the flow's WAN", n_tc_redirect },
			{ "hairpin halves passed to the kernel", n_hairpin_pass },
			{ "frames leaving a WAN checked", n_wan_exits },
		};
		int missing = 0;

		printf("# coverage:");
		for (size_t i = 0; i < sizeof(cov) / sizeof(cov[0]); i++) {
			printf("%s %s=%llu", i % 4 ? "," : "\n#  ", cov[i].name, (unsigned long long)cov[i].v);
			missing += cov[i].v == 0;
		}
		printf("\n");
		for (size_t i = 0; i < sizeof(cov) / sizeof(cov[0]); i++)
			if (!cov[i].v)
				printf("# not reached: %s\n", cov[i].name);
		if (iter < COVERAGE_MIN_ITERS) {
			printf("ok %d - coverage # SKIP %llu iterations, fewer than %d\n", tn++,
			       (unsigned long long)iter, COVERAGE_MIN_ITERS);
		} else {
			printf("%s %d - coverage: every path the generators aim at was reached (%d not)\n",
			       missing ? "not ok" : "ok", tn++, missing);
			fails += missing != 0;
		}
	}
	env_down(&E);
	return fails ? 1 : 0;
}
