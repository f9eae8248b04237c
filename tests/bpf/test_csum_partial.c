/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_csum_partial.c - unfinished TCP/UDP checksums (CHECKSUM_PARTIAL)
 * through xdpnat_xdp_lan, xdpnat_xdp_wan and xdpnat_tc_egress.
 *
 * A sender on the same machine (a namespace or container behind a veth, a
 * VM behind a tap) with tx checksum offload leaves the TCP/UDP checksum
 * unfinished: the field holds the folded pseudo-header sum, and whoever
 * transmits the skb adds the segment's sum later (pkt.h: pk_unfinish).
 * XDP cannot see skb->ip_summed; interfaces whose frames can be unfinished
 * carry NAT_IFACE_F_PARTIAL_CSUM in nat_ifaces (the loader sets it for veth
 * and tun, and with NAT_IFACE_F_XDP_GENERIC for generic mode).
 *
 * BPF_PROG_TEST_RUN part (exact frames in, exact frames out, every output
 * checksum verified independently by tests/bpf/pkt.c):
 *  - native mode, XDP_REDIRECT: the checksum is finished (complete, equal
 *    to the frame built with a complete checksum from the start), for
 *    segments of every length the sum handles, TCP and UDP, ports changed;
 *  - a complete checksum that happens to equal the pseudo-header sum: on a
 *    NIC (no flag) translated as complete; on a veth recomputed, also right;
 *  - generic mode: the kernel path (a generic redirect would hand the
 *    CHECKSUM_PARTIAL skb to the egress device unchecked);
 *  - the kernel path (XDP_PASS): stays unfinished, the field the
 *    pseudo-header sum of the translated header (ports and sequence
 *    numbers do not enter it).
 * BPF_PROG_TEST_RUN cannot make a CHECKSUM_PARTIAL skb for tc (its skbs are
 * CHECKSUM_NONE, and __sk_buff has no ip_summed to set), so:
 * Live part (real skbs in the test namespace, a LAN host in a namespace of
 * its own whose veth has tx checksum offload on, captured on wan0's peer
 * with PACKET_AUXDATA): tc egress alone (the kernel path) keeps the skb
 * CHECKSUM_PARTIAL with the pseudo-header sum of the translated header, and
 * with tx offload off on wan0 the kernel finishes it into a checksum that
 * verifies; XDP attached to lan0 in native mode finishes it, in generic
 * mode leaves it to the kernel path, where it stays unfinished.
 *
 * Needs root. Output is TAP through cmocka.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>

#include "pkt.h"
#include "nsenv.h"

static struct env E;

struct res {
	uint32_t ret;
	size_t len;
	uint8_t buf[PK_MAX];
};

/* ------------------------------------------------------------ helpers */

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

#define CHECK_EQ(a, b, what)                                                    \
	do {                                                                    \
		unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
		if (_a != _b) {                                                 \
			diag("%s:%d: %s: got %llu (0x%llx), want %llu (0x%llx)\n", \
			     __FILE__, __LINE__, what, _a, _a, _b, _b);         \
			fail();                                                 \
		}                                                               \
	} while (0)

static const char *xdp_rc(uint32_t r)
{
	static const char *n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };

	return r < 5 ? n[r] : "?";
}

/* The frame of p, its TCP/UDP checksum unfinished if `unfinished`. */
static size_t frame(uint8_t *f, const struct pk *p, bool unfinished)
{
	size_t n = pk_frame(f, p);

	if (unfinished)
		pk_unfinish(f, n);
	return n;
}

static void xdp_run(int ifx, const struct pk *p, bool unfinished, struct res *r, uint8_t *in)
{
	uint8_t tmp[PK_MAX];
	uint8_t *f = in ? in : tmp;
	size_t n = frame(f, p, unfinished);

	assert_int_equal(run_xdp(&E, ifx, f, n, r->buf, &r->len, &r->ret), 0);
}

static void expect_ret(const char *what, const struct res *r, uint32_t want)
{
	if (r->ret != want) {
		diag("%s: XDP returned %u (%s), want %u (%s)\n", what, r->ret, xdp_rc(r->ret), want,
		     xdp_rc(want));
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

/* The output is want, byte for byte, with a complete checksum (verified
 * independently as well). */
static void expect_complete(const char *what, const struct res *r, const struct pk *want)
{
	uint8_t f[PK_MAX];
	char why[256] = "";
	size_t n = frame(f, want, false);

	if (ck_verify_frame(r->buf, r->len, why, sizeof(why))) {
		diag("%s: the checksums of the output do not verify: %s\n", what, why);
		pk_hexdiff(what, f, n, r->buf, r->len);
		fail();
	}
	expect_bytes(what, r, f, n);
}

/* The output is want with its checksum unfinished: the field the
 * pseudo-header sum of the translated header. */
static void expect_unfinished(const char *what, const struct res *r, const struct pk *want)
{
	uint8_t f[PK_MAX];
	char why[256] = "";
	size_t n = frame(f, want, true);

	if (ck_verify_unfinished(r->buf, r->len, why, sizeof(why))) {
		diag("%s: not a right unfinished checksum: %s\n", what, why);
		fail();
	}
	expect_bytes(what, r, f, n);
}

static struct nat_stats stats(void)
{
	struct nat_stats s;

	assert_int_equal(env_stats(&E, &s), 0);
	return s;
}

static void set_iface_flags(int ifindex, __u8 flags)
{
	__u32 k = (__u32)ifindex;
	struct nat_iface v;

	assert_int_equal(bpf_map_lookup_elem(E.m_ifaces, &k, &v), 0);
	v.flags = flags;
	assert_int_equal(bpf_map_update_elem(E.m_ifaces, &k, &v, BPF_EXIST), 0);
}

/* lan0 and wan0 are veths whose senders are local (what the loader finds). */
static void local_links(__u8 flags)
{
	set_iface_flags(E.if_lan0, flags);
	set_iface_flags(E.if_wan0, flags);
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

static struct pk lan_tcp(uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags, uint32_t seq,
			 uint32_t ack)
{
	struct pk p = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = dst,
			.proto = IPPROTO_TCP, .ttl = 64, .id = 0x1001, .frag = PK_IP_DF, .sport = sp,
			.dport = dp, .flags = flags, .seq = seq, .ack = ack };
	return p;
}

static struct pk wan_tcp(uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags,
			 uint32_t seq, uint32_t ack)
{
	struct pk p = { .dmac = MAC_WAN0, .smac = MAC_GW, .src = src, .dst = dst,
			.proto = IPPROTO_TCP, .ttl = 50, .id = 0x2002, .frag = PK_IP_DF, .sport = sp,
			.dport = dp, .flags = flags, .seq = seq, .ack = ack };
	return p;
}

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

static uint8_t payload[1500];

static void fill_payload(void)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
}

/* ================================================== native mode, XDP_REDIRECT */

/* Segment lengths around every step of the sum: the bytes past a multiple
 * of 4 (0-3), each chunk of the binary split (4 .. 256), the 512-byte
 * chunks, up to a full 1500-byte packet. */
static const size_t seg_lens[] = { 0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 63, 127, 255, 256, 257,
				   511, 512, 513, 1023, 1024, 1025, 1399, 1460 };
#define NSEG (sizeof(seg_lens) / sizeof(seg_lens[0]))

static void test_native_redirect_finishes(void **state)
{
	struct pk syn = lan_tcp(40000, A_REMOTE, 443, PK_TCP_SYN, 1000, 0);
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK, 5000, 1001);
	uint32_t lseq = 1001, wseq = 5001;
	unsigned unfinished = 0;
	struct pk in, want;
	struct nat_stats s;
	char what[96];
	struct res r;

	(void)state;
	fill_payload();
	local_links(NAT_IFACE_F_PARTIAL_CSUM);

	want = to_wan0(syn);
	want.src = A_WAN0;
	xdp_run(E.if_lan0, &syn, true, &r, NULL);
	unfinished++;
	expect_ret("unfinished SYN LAN->WAN", &r, XDP_REDIRECT);
	expect_complete("unfinished SYN LAN->WAN: finished", &r, &want);

	want = to_lan(sa, MAC_CLIENT);
	want.dst = A_CLIENT;
	xdp_run(E.if_wan0, &sa, true, &r, NULL);
	unfinished++;
	expect_ret("unfinished SYN-ACK WAN->LAN", &r, XDP_REDIRECT);
	expect_complete("unfinished SYN-ACK WAN->LAN: finished", &r, &want);

	for (size_t i = 0; i < NSEG; i++) {
		/* LAN -> WAN */
		in = lan_tcp(40000, A_REMOTE, 443, PK_TCP_ACK | PK_TCP_PSH, lseq, wseq);
		in.payload = payload;
		in.plen = seg_lens[i];
		want = to_wan0(in);
		want.src = A_WAN0;
		xdp_run(E.if_lan0, &in, true, &r, NULL);
		unfinished++;
		snprintf(what, sizeof(what), "unfinished %zu-byte segment LAN->WAN", seg_lens[i]);
		expect_ret(what, &r, XDP_REDIRECT);
		expect_complete(what, &r, &want);
		lseq += (uint32_t)seg_lens[i];

		/* WAN -> LAN, an odd offset into the payload */
		in = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_ACK | PK_TCP_PSH, wseq, lseq);
		in.payload = payload + 1;
		in.plen = seg_lens[i];
		want = to_lan(in, MAC_CLIENT);
		want.dst = A_CLIENT;
		xdp_run(E.if_wan0, &in, true, &r, NULL);
		unfinished++;
		snprintf(what, sizeof(what), "unfinished %zu-byte segment WAN->LAN", seg_lens[i]);
		expect_ret(what, &r, XDP_REDIRECT);
		expect_complete(what, &r, &want);
		wseq += (uint32_t)seg_lens[i];
	}

	/* a complete one on the same veth: translated as always */
	in = lan_tcp(40000, A_REMOTE, 443, PK_TCP_ACK, lseq, wseq);
	want = to_wan0(in);
	want.src = A_WAN0;
	xdp_run(E.if_lan0, &in, false, &r, NULL);
	expect_ret("complete ACK LAN->WAN", &r, XDP_REDIRECT);
	expect_complete("complete ACK LAN->WAN", &r, &want);

	s = stats();
	CHECK_EQ(s.csum_finished, unfinished, "csum_finished");
	CHECK_EQ(s.xdp_forwarded, unfinished + 1, "xdp_forwarded");
	CHECK_EQ(s.csum_kept + s.csum_to_kernel + s.passed_to_kernel, 0, "kept, to kernel, passed");
}

/* UDP both ways, every length class; the source port translated too (a
 * one-port range), and a forward that changes the destination port. */
static void test_native_redirect_udp_ports(void **state)
{
	struct pk in, want;
	struct nat_stats s;
	char what[96];
	struct res r;
	unsigned n = 0;

	(void)state;
	fill_payload();
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 32000, 32000, 1, 0), 0);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_UDP, 5353, A_SERVER, 53), 0);
	local_links(NAT_IFACE_F_PARTIAL_CSUM);	/* (env_set_wan() rewrites the flags) */

	for (size_t i = 0; i < NSEG; i++) {
		in = (struct pk){ .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
				  .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3003, .sport = 5353,
				  .dport = 53, .payload = payload, .plen = seg_lens[i] };
		want = to_wan0(in);
		want.src = A_WAN0;
		want.sport = 32000;
		xdp_run(E.if_lan0, &in, true, &r, NULL);
		n++;
		snprintf(what, sizeof(what), "unfinished %zu-byte UDP LAN->WAN, port 32000", seg_lens[i]);
		expect_ret(what, &r, XDP_REDIRECT);
		expect_complete(what, &r, &want);

		in = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_DNS, .dst = A_WAN0,
				  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4004, .sport = 53,
				  .dport = 32000, .payload = payload + 3, .plen = seg_lens[i] };
		want = to_lan(in, MAC_CLIENT);
		want.dst = A_CLIENT;
		want.dport = 5353;
		xdp_run(E.if_wan0, &in, true, &r, NULL);
		n++;
		snprintf(what, sizeof(what), "unfinished %zu-byte UDP WAN->LAN, port 5353", seg_lens[i]);
		expect_ret(what, &r, XDP_REDIRECT);
		expect_complete(what, &r, &want);
	}

	/* forward udp 5353 -> 192.168.0.254:53 */
	in = (struct pk){ .dmac = MAC_WAN0, .smac = MAC_GW, .src = A_GW, .dst = A_WAN0,
			  .proto = IPPROTO_UDP, .ttl = 55, .id = 0x4005, .sport = 40000, .dport = 5353,
			  .payload = payload, .plen = 333 };
	want = to_lan(in, MAC_SERVER);
	want.dst = A_SERVER;
	want.dport = 53;
	xdp_run(E.if_wan0, &in, true, &r, NULL);
	n++;
	expect_ret("unfinished UDP to a forward", &r, XDP_REDIRECT);
	expect_complete("unfinished UDP to a forward (destination and port)", &r, &want);

	s = stats();
	CHECK_EQ(s.csum_finished, n, "csum_finished");
	CHECK_EQ(s.xdp_forwarded, n, "xdp_forwarded");
}

/*
 * A complete checksum that happens to equal the pseudo-header sum (one in
 * 65,536): a NIC's frame (no NAT_IFACE_F_PARTIAL_CSUM) is translated as
 * complete; on a veth it is taken for unfinished and summed from scratch,
 * which gives the same, right, checksum.
 */
static void test_coincidence(void **state)
{
	struct pk in = { .dmac = MAC_LAN0, .smac = MAC_CLIENT, .src = A_CLIENT, .dst = A_DNS,
			 .proto = IPPROTO_UDP, .ttl = 64, .id = 0x3103, .sport = 6000, .dport = 53 };
	uint8_t pl[6] = { 'c', 'o', 'i', 'n', 0, 0 }, f[PK_MAX];
	uint16_t c0, p, x;
	struct pk want;
	struct res r;
	size_t n;

	(void)state;
	/* payload word x such that the complete checksum equals the
	 * pseudo-header sum p: ~fold(p + h + x) = p, h the rest */
	in.payload = pl;
	in.plen = sizeof(pl);
	n = pk_frame(f, &in);
	c0 = pk_get16(f + 14 + 20 + 6);
	p = ck_fold(ck_pseudo(A_CLIENT, A_DNS, IPPROTO_UDP, 8 + sizeof(pl)));
	x = ck_fold((uint32_t)(uint16_t)~p + c0);
	pl[4] = (uint8_t)(x >> 8);
	pl[5] = (uint8_t)x;
	n = pk_frame(f, &in);
	assert_int_equal(pk_get16(f + 14 + 20 + 6), p);
	assert_int_equal(ck_verify_frame(f, n, NULL, 0), 0);

	want = to_wan0(in);
	want.src = A_WAN0;
	xdp_run(E.if_lan0, &in, false, &r, NULL);
	expect_ret("coincidence on a NIC", &r, XDP_REDIRECT);
	expect_complete("coincidence on a NIC: translated as complete", &r, &want);
	CHECK_EQ(stats().csum_finished, 0, "csum_finished on a NIC");

	local_links(NAT_IFACE_F_PARTIAL_CSUM);
	in.sport = 6001;
	pl[3] = 'N';	/* recompute the coincidence for the new port */
	n = pk_frame(f, &in);
	c0 = pk_get16(f + 14 + 20 + 6);
	pl[4] = pl[5] = 0;
	n = pk_frame(f, &in);
	c0 = pk_get16(f + 14 + 20 + 6);
	x = ck_fold((uint32_t)(uint16_t)~p + c0);
	pl[4] = (uint8_t)(x >> 8);
	pl[5] = (uint8_t)x;
	n = pk_frame(f, &in);
	assert_int_equal(pk_get16(f + 14 + 20 + 6), p);
	want = to_wan0(in);
	want.src = A_WAN0;
	xdp_run(E.if_lan0, &in, false, &r, NULL);
	expect_ret("coincidence on a veth", &r, XDP_REDIRECT);
	expect_complete("coincidence on a veth: summed from scratch, the same", &r, &want);
	CHECK_EQ(stats().csum_finished, 1, "csum_finished on a veth");
}

/* ================================================== generic mode */

/* The skb goes on with CHECKSUM_PARTIAL through a generic redirect, but
 * reaches the egress device without the stack's check of what that device
 * can finish: an unfinished packet takes the kernel path instead, passed
 * untouched from a LAN (tc egress translates it), with its destination
 * translated and the field the new pseudo-header sum from a WAN. Complete
 * packets are redirected as always. */
static void test_generic_takes_kernel_path(void **state)
{
	struct pk syn = lan_tcp(40000, A_REMOTE, 443, PK_TCP_SYN, 1000, 0);
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 32000, PK_TCP_SYN | PK_TCP_ACK, 5000, 1001);
	struct pk in, want;
	uint8_t f[PK_MAX];
	struct nat_stats s;
	struct res r;
	size_t n;

	(void)state;
	fill_payload();
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 32000, 32000, 1, 0), 0);
	local_links(NAT_IFACE_F_PARTIAL_CSUM | NAT_IFACE_F_XDP_GENERIC);

	xdp_run(E.if_lan0, &syn, true, &r, f);
	n = frame(f, &syn, true);
	expect_ret("generic: unfinished SYN LAN->WAN", &r, XDP_PASS);
	expect_bytes("generic: unfinished SYN LAN->WAN: passed UNCHANGED", &r, f, n);

	want = sa;
	want.dst = A_CLIENT;
	want.dport = 40000;
	xdp_run(E.if_wan0, &sa, true, &r, NULL);
	expect_ret("generic: unfinished SYN-ACK WAN->LAN", &r, XDP_PASS);
	expect_unfinished("generic: unfinished SYN-ACK WAN->LAN (destination and port)", &r, &want);

	in = wan_tcp(A_REMOTE, 443, A_WAN0, 32000, PK_TCP_ACK | PK_TCP_PSH, 5001, 1001);
	in.payload = payload;
	in.plen = 1001;
	want = in;
	want.dst = A_CLIENT;
	want.dport = 40000;
	xdp_run(E.if_wan0, &in, true, &r, NULL);
	expect_ret("generic: unfinished 1001-byte segment WAN->LAN", &r, XDP_PASS);
	expect_unfinished("generic: unfinished 1001-byte segment WAN->LAN", &r, &want);

	/* complete checksums on a generic interface: redirected as always */
	in = lan_tcp(40000, A_REMOTE, 443, PK_TCP_ACK, 1001, 5001);
	want = to_wan0(in);
	want.src = A_WAN0;
	want.sport = 32000;
	xdp_run(E.if_lan0, &in, false, &r, NULL);
	expect_ret("generic: complete ACK", &r, XDP_REDIRECT);
	expect_complete("generic: complete ACK", &r, &want);

	s = stats();
	CHECK_EQ(s.csum_to_kernel, 3, "csum_to_kernel");
	CHECK_EQ(s.csum_kept, 2, "csum_kept");
	CHECK_EQ(s.csum_finished, 0, "csum_finished");
	CHECK_EQ(s.xdp_forwarded, 1, "xdp_forwarded");
}

/* ================================================== the kernel path */

/* XDP_PASS keeps the skb (and CHECKSUM_PARTIAL) in native mode too: what
 * XDP translates on the way stays unfinished; what it passes untouched is
 * untouched. */
static void test_kernel_path_keeps_unfinished(void **state)
{
	struct pk syn = lan_tcp(40000, A_REMOTE, 443, PK_TCP_SYN, 1000, 0);
	struct pk sa = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_SYN | PK_TCP_ACK, 5000, 1001);
	struct pk fsyn = wan_tcp(A_GW, 41000, A_WAN0, 8080, PK_TCP_SYN, 7000, 0);
	struct pk hsyn = lan_tcp(45000, A_WAN0, 8080, PK_TCP_SYN, 3000, 0);
	struct pk want;
	uint8_t f[PK_MAX];
	struct nat_stats s;
	struct res r;
	size_t n;

	(void)state;
	local_links(NAT_IFACE_F_PARTIAL_CSUM);
	assert_int_equal(env_forward(&E, E.if_wan0, IPPROTO_TCP, 8080, A_SERVER, 80), 0);
	assert_int_equal(env_sh("ip neigh del 198.51.100.2 dev wan0 && "
				"ip neigh del 192.168.0.10 dev lan0 && "
				"ip neigh del 192.168.0.254 dev lan0"), 0);

	/* LAN: passed as it came, tc egress of wan0 translates it */
	xdp_run(E.if_lan0, &syn, true, &r, f);
	n = frame(f, &syn, true);
	expect_ret("unfinished SYN, no neighbour", &r, XDP_PASS);
	expect_bytes("unfinished SYN, no neighbour: passed UNCHANGED", &r, f, n);

	/* WAN reply: destination translated, the field unfinished for it */
	want = sa;
	want.dst = A_CLIENT;
	xdp_run(E.if_wan0, &sa, true, &r, NULL);
	expect_ret("unfinished SYN-ACK, no neighbour", &r, XDP_PASS);
	expect_unfinished("unfinished SYN-ACK on the kernel path", &r, &want);

	/* a forward: destination and port */
	want = fsyn;
	want.dst = A_SERVER;
	want.dport = 80;
	xdp_run(E.if_wan0, &fsyn, true, &r, NULL);
	expect_ret("unfinished SYN to a forward, no neighbour", &r, XDP_PASS);
	expect_unfinished("unfinished SYN to a forward on the kernel path", &r, &want);

	/* hairpin: the destination half */
	want = hsyn;
	want.dst = A_SERVER;
	want.dport = 80;
	xdp_run(E.if_lan0, &hsyn, true, &r, NULL);
	expect_ret("unfinished hairpin SYN, no neighbour", &r, XDP_PASS);
	expect_unfinished("unfinished hairpin SYN: destination half", &r, &want);

	/* a complete one on the same path: translated as complete */
	sa.sport = 444;
	syn.dport = 444;
	xdp_run(E.if_lan0, &syn, false, &r, NULL);
	expect_ret("complete SYN, no neighbour", &r, XDP_PASS);
	want = sa;
	want.dst = A_CLIENT;
	xdp_run(E.if_wan0, &sa, false, &r, NULL);
	expect_ret("complete SYN-ACK, no neighbour", &r, XDP_PASS);
	expect_complete("complete SYN-ACK on the kernel path", &r, &want);

	s = stats();
	CHECK_EQ(s.csum_kept, 3, "csum_kept");
	CHECK_EQ(s.csum_finished, 0, "csum_finished");
	CHECK_EQ(s.passed_to_kernel, 6, "passed_to_kernel");
}

/* Native mode with NAT_CFG_F_NO_FASTPATH: every packet on the kernel path,
 * a reply flow's source translated back on the way in. */
static void test_no_fastpath_keeps_unfinished(void **state)
{
	struct pk syn = lan_tcp(40000, A_REMOTE, 443, PK_TCP_SYN, 1000, 0);
	struct pk d = wan_tcp(A_REMOTE, 443, A_WAN0, 40000, PK_TCP_ACK | PK_TCP_PSH, 5001, 1001);
	struct pk want;
	struct res r;

	(void)state;
	fill_payload();
	local_links(NAT_IFACE_F_PARTIAL_CSUM);
	assert_int_equal(env_set_flags(&E, NAT_CFG_F_NO_FASTPATH), 0);
	xdp_run(E.if_lan0, &syn, true, &r, NULL);
	expect_ret("unfinished SYN, no fast path", &r, XDP_PASS);
	d.payload = payload;
	d.plen = 777;
	want = d;
	want.dst = A_CLIENT;
	xdp_run(E.if_wan0, &d, true, &r, NULL);
	expect_ret("unfinished data, no fast path", &r, XDP_PASS);
	expect_unfinished("unfinished 777-byte data on the kernel path", &r, &want);
	CHECK_EQ(stats().csum_kept, 1, "csum_kept");
}

/* ================================================== live: tc and XDP with real skbs */

static char live_ns[32];

static int teardown_live(void **state)
{
	if (live_ns[0]) {
		env_sh("ip netns del %s 2>/dev/null", live_ns);
		live_ns[0] = 0;
	}
	return teardown(state);
}

/* A LAN host in a namespace of its own: lan0p (tx checksum offload on, as
 * veth has it) as 192.168.0.10 with the MAC the router's neighbour table
 * has for it. */
static void live_lan_host(void)
{
	snprintf(live_ns, sizeof(live_ns), "xn-csum-%d", (int)getpid());
	assert_int_equal(env_sh("ip netns add %s && ip link set lan0p netns %s && "
				"ip -n %s link set lan0p address 02:00:00:c0:00:0a && "
				"ip -n %s link set lan0p up && ip -n %s link set lo up && "
				"ip -n %s addr add 192.168.0.10/24 dev lan0p && "
				"ip -n %s route add default via 192.168.0.1 && "
				"ip netns exec %s ethtool -k lan0p | grep -q '^tx-checksumming: on'",
				live_ns, live_ns, live_ns, live_ns, live_ns, live_ns, live_ns, live_ns),
			 0);
}

static void live_tc(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = E.prog_tc);

	assert_int_equal(bpf_tc_hook_create(&hook), 0);
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
}

/* A packet socket on wan0p (where the router sends): every frame with its
 * auxdata. */
static int live_capture(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = (int)if_nametoindex("wan0p") };
	struct timeval tv = { .tv_sec = 3 };
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	assert_int_equal(setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

/* The next frame of protocol proto from the WAN address: its length in f,
 * *status its tp_status. 0 if none came within 3 s. */
static size_t live_next(int fd, uint8_t proto, uint8_t *f, uint32_t *status)
{
	for (int i = 0; i < 50; i++) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} c;
		struct iovec iov = { .iov_base = f, .iov_len = PK_MAX };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &c,
				    .msg_controllen = sizeof(c) };
		ssize_t n = recvmsg(fd, &m, 0);

		if (n < 0)
			return 0;
		*status = 0;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
			if (h->cmsg_level == SOL_PACKET && h->cmsg_type == PACKET_AUXDATA)
				*status = ((struct tpacket_auxdata *)CMSG_DATA(h))->tp_status;
		if (n >= 34 && f[14 + 9] == proto && pk_get32(f + 14 + 12) == A_WAN0)
			return (size_t)n;
	}
	return 0;
}

/* Send a UDP datagram and a TCP SYN from the LAN host. */
static void live_send(uint16_t sport)
{
	assert_int_equal(env_sh("ip netns exec %s python3 -c '"
				"import socket\n"
				"u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
				"u.bind((\"0.0.0.0\", %u)); u.sendto(b\"x\" * 333, (\"192.0.2.53\", 53))\n"
				"t = socket.socket(); t.setblocking(False); t.bind((\"0.0.0.0\", %u))\n"
				"t.connect_ex((\"192.0.2.80\", 80))\n"
				"'", live_ns, sport, sport), 0);
}

/* What arrived on wan0p for the datagram and the SYN of live_send(): from
 * the WAN address, and unfinished (the skb says so, and the field is the
 * pseudo-header sum of the translated header) or complete. */
static void live_expect(int fd, const char *what, bool unfinished)
{
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	uint8_t f[PK_MAX];
	char why[256] = "";
	uint32_t st = 0;

	for (int i = 0; i < 2; i++) {
		const char *pn = protos[i] == IPPROTO_UDP ? "UDP" : "TCP SYN";
		size_t n = live_next(fd, protos[i], f, &st);

		if (!n) {
			diag("%s: no %s from 198.51.100.1 on wan0p\n", what, pn);
			fail();
		}
		if (unfinished && !(st & TP_STATUS_CSUMNOTREADY)) {
			diag("%s: %s: the skb is not CHECKSUM_PARTIAL (status 0x%x)\n", what, pn, st);
			fail();
		}
		if (unfinished ? ck_verify_unfinished(f, n, why, sizeof(why))
			       : ck_verify_frame(f, n, why, sizeof(why))) {
			diag("%s: %s (status 0x%x): %s\n", what, pn, st, why);
			fail();
		}
		if (!unfinished && (st & TP_STATUS_CSUMNOTREADY)) {
			diag("%s: %s: the skb is still CHECKSUM_PARTIAL\n", what, pn);
			fail();
		}
	}
}

/* tc egress of wan0 (the kernel path) with real CHECKSUM_PARTIAL skbs:
 * bpf_l4_csum_replace() with BPF_F_PSEUDO_HDR for addresses only. A port
 * translation (one-port range) makes sure ports stay out of the sum. */
static void test_live_tc(void **state)
{
	int fd;

	(void)state;
	live_lan_host();
	assert_int_equal(env_set_wan(&E, E.if_wan0, A_WAN0, A_GW, 32000, 32010, 1, 0), 0);
	local_links(NAT_IFACE_F_PARTIAL_CSUM);	/* (tc does not ask) */
	live_tc(E.if_wan0);
	fd = live_capture();

	live_send(40001);
	live_expect(fd, "tc, wan0 with tx offload: stays CHECKSUM_PARTIAL", true);

	/* the kernel finishes it before wan0 sends (no offload): it verifies */
	assert_int_equal(env_sh("ethtool -K wan0 tx off >/dev/null"), 0);
	live_send(40002);
	live_expect(fd, "tc, wan0 without tx offload: finished by the kernel", false);
	CHECK_EQ(stats().tc_translated, 4, "tc_translated");
	close(fd);
}

/* XDP on lan0 with real skbs: native mode finishes the checksum of what it
 * redirects (the frame leaves without skb), generic mode leaves the packet
 * to the kernel path (tc egress translates it, it stays unfinished). */
static void test_live_xdp(void **state)
{
	int fd;

	(void)state;
	live_lan_host();
	/* the frame XDP redirects into wan0 is taken by wan0p with GRO */
	assert_int_equal(env_sh("ethtool -K wan0p gro on >/dev/null"), 0);
	assert_int_equal(bpf_xdp_attach(E.if_lan0, E.prog_xdp_lan, XDP_FLAGS_DRV_MODE, NULL), 0);
	local_links(NAT_IFACE_F_PARTIAL_CSUM);
	fd = live_capture();
	live_send(40003);
	live_expect(fd, "native XDP: finished", false);
	CHECK_EQ(stats().csum_finished, 2, "csum_finished");

	/* generic mode: the kernel path, tc egress of wan0 translates */
	assert_int_equal(bpf_xdp_detach(E.if_lan0, XDP_FLAGS_DRV_MODE, NULL), 0);
	assert_int_equal(bpf_xdp_attach(E.if_lan0, E.prog_xdp_lan, XDP_FLAGS_SKB_MODE, NULL), 0);
	local_links(NAT_IFACE_F_PARTIAL_CSUM | NAT_IFACE_F_XDP_GENERIC);
	live_tc(E.if_wan0);
	live_send(40004);
	live_expect(fd, "generic XDP: the kernel path, stays CHECKSUM_PARTIAL", true);
	CHECK_EQ(stats().csum_to_kernel, 2, "csum_to_kernel");
	CHECK_EQ(stats().tc_translated, 2, "tc_translated");
	CHECK_EQ(stats().xdp_forwarded, 2, "xdp_forwarded");
	assert_int_equal(bpf_xdp_detach(E.if_lan0, XDP_FLAGS_SKB_MODE, NULL), 0);
	close(fd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TL(f) cmocka_unit_test_setup_teardown(f, setup, teardown_live)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_native_redirect_finishes),
		T(test_native_redirect_udp_ports),
		T(test_coincidence),
		T(test_generic_takes_kernel_path),
		T(test_kernel_path_keeps_unfinished),
		T(test_no_fastpath_keeps_unfinished),
		TL(test_live_tc),
		TL(test_live_xdp),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (network namespace, BPF)\n");
		return 0;
	}
	return cmocka_run_group_tests_name("bpf_csum_partial", tests, NULL, NULL);
}
