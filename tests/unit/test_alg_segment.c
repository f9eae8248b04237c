/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for the FTP ALG's segment rewriter (ctl/alg/alg_segment.c):
 * exact frames in, exact bytes out. Expected frames are either literals
 * (computed outside C) or made by this file's own frame builder, whose
 * checksums come from its own RFC 1071 sum, so nothing here trusts the
 * code under test to check itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "alg/alg_segment.h"

#define FRAME_MAX	2048
#define TCP_PSH_ACK	0x18

/* PORT from 59.65.174.240:40001 to 203.0.113.5:21, with an IP option
 * (NOP NOP NOP EOL) and TCP options (NOP NOP timestamp), seq 1001, ack
 * 5009; port_out is the same with "PORT 59,65,174,240,156,64\r\n": one
 * byte longer, total length and both checksums changed. */
static const uint8_t port_in[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x46, 0x00, 0x00, 0x52, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06,
	0xff, 0x39, 0x3b, 0x41, 0xae, 0xf0, 0xcb, 0x00, 0x71, 0x05, 0x01, 0x01,
	0x01, 0x00, 0x9c, 0x41, 0x00, 0x15, 0x00, 0x00, 0x03, 0xe9, 0x00, 0x00,
	0x13, 0x91, 0x80, 0x18, 0x01, 0xf6, 0x08, 0xf0, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x09, 0x50, 0x4f,
	0x52, 0x54, 0x20, 0x31, 0x39, 0x32, 0x2c, 0x31, 0x36, 0x38, 0x2c, 0x30,
	0x2c, 0x31, 0x30, 0x2c, 0x31, 0x35, 0x36, 0x2c, 0x36, 0x34, 0x0d, 0x0a,
};

static const uint8_t port_out[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x46, 0x00, 0x00, 0x53, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06,
	0xff, 0x38, 0x3b, 0x41, 0xae, 0xf0, 0xcb, 0x00, 0x71, 0x05, 0x01, 0x01,
	0x01, 0x00, 0x9c, 0x41, 0x00, 0x15, 0x00, 0x00, 0x03, 0xe9, 0x00, 0x00,
	0x13, 0x91, 0x80, 0x18, 0x01, 0xf6, 0xd8, 0xdf, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x09, 0x50, 0x4f,
	0x52, 0x54, 0x20, 0x35, 0x39, 0x2c, 0x36, 0x35, 0x2c, 0x31, 0x37, 0x34,
	0x2c, 0x32, 0x34, 0x30, 0x2c, 0x31, 0x35, 0x36, 0x2c, 0x36, 0x34, 0x0d,
	0x0a,
};

#define PORT_OLD	"PORT 192,168,0,10,156,64\r\n"
#define PORT_NEW	"PORT 59,65,174,240,156,64\r\n"

/* ---------------------------------------------------------------- frame builder */

struct spec {
	const uint8_t *ip_opts;
	size_t ip_opt_len;		/* multiple of 4 */
	const uint8_t *tcp_opts;
	size_t tcp_opt_len;		/* multiple of 4 */
	const void *payload;
	size_t pay_len;
	uint32_t seq, ack;
	uint8_t flags;
};

/* RFC 1071: the 16-bit one's complement sum, folded (not complemented). */
static uint16_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static uint32_t pseudo(const uint8_t *ip, size_t tcp_len)
{
	return (uint32_t)sum16(ip + 12, 8, 0) + IPPROTO_TCP + (uint32_t)tcp_len;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* A frame 59.65.174.240:40001 -> 203.0.113.5:21 after sp, checksums set. */
static size_t mk(uint8_t *b, const struct spec *sp)
{
	static const uint8_t eth[] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00 };
	size_t ihl = 20 + sp->ip_opt_len, thl = 20 + sp->tcp_opt_len;
	size_t tot = ihl + thl + sp->pay_len;
	uint8_t *ip = b + 14, *th = ip + ihl;

	memset(b, 0, 14 + tot);
	memcpy(b, eth, sizeof(eth));
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	put16(ip + 2, (uint16_t)tot);
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);		/* DF: allowed */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, (uint8_t[]){ 59, 65, 174, 240, 203, 0, 113, 5 }, 8);
	if (sp->ip_opt_len)
		memcpy(ip + 20, sp->ip_opts, sp->ip_opt_len);
	put16(ip + 10, (uint16_t)~sum16(ip, ihl, 0));

	put16(th, 40001);
	put16(th + 2, 21);
	put32(th + 4, sp->seq);
	put32(th + 8, sp->ack);
	th[12] = (uint8_t)(thl / 4 << 4);
	th[13] = sp->flags;
	put16(th + 14, 502);
	if (sp->tcp_opt_len)
		memcpy(th + 20, sp->tcp_opts, sp->tcp_opt_len);
	if (sp->pay_len)
		memcpy(th + thl, sp->payload, sp->pay_len);
	put16(th + 16, (uint16_t)~sum16(th, thl + sp->pay_len, pseudo(ip, thl + sp->pay_len)));
	return 14 + tot;
}

/* Both checksums of f verify, and its lengths agree with len. */
static void assert_frame_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = (size_t)(ip[2] << 8 | ip[3]);

	assert_int_equal(14 + tot, len);
	assert_int_equal(sum16(ip, ihl, 0), 0xffff);
	assert_int_equal(sum16(ip + ihl, tot - ihl, pseudo(ip, tot - ihl)), 0xffff);
}

static struct spec plain(const char *payload)
{
	return (struct spec){ .payload = payload, .pay_len = strlen(payload), .seq = 1001,
			      .ack = 5009, .flags = TCP_PSH_ACK };
}

/* ---------------------------------------------------------------- a conn with a rewrite */

static int map_same_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *port)
{
	(void)ctx;
	*port = req->inside_port_host;
	return 0;
}

/* Case A: client ISN 1000, server ISN 5000; the client's PORT at 1001
 * rewritten one byte longer: original [1006, 1025) became translated
 * [1006, 1026), so translated 1026 and on is original - 1. */
static void conn_with_port_rewrite(struct alg_ftp_conn *c)
{
	struct alg_ftp_nat nat = { .mode = ALG_FTP_MASQ };
	struct alg_ftp_result res;
	uint8_t out[64];

	inet_pton(AF_INET, "192.168.0.10", &nat.client_addr);
	inet_pton(AF_INET, "59.65.174.240", &nat.client_outside);
	inet_pton(AF_INET, "203.0.113.5", &nat.server_addr);
	nat.server_outside = nat.server_addr;
	alg_ftp_init(c, &nat, map_same_port, NULL);
	alg_ftp_set_isn(c, ALG_FTP_FROM_CLIENT, 1000);
	alg_ftp_set_isn(c, ALG_FTP_FROM_SERVER, 5000);
	alg_ftp_process(c, ALG_FTP_FROM_SERVER, 5001, (const uint8_t *)"220 ok\r\n", 8, out,
			sizeof(out), &res);
	alg_ftp_process(c, ALG_FTP_FROM_CLIENT, 1001, (const uint8_t *)PORT_OLD, strlen(PORT_OLD),
			out, sizeof(out), &res);
	assert_int_equal(res.verdict, ALG_FTP_REWRITTEN);
	assert_int_equal(alg_ftp_delta(c, ALG_FTP_FROM_CLIENT), 1);
}

/* ---------------------------------------------------------------- tests */

static void test_parse_fields(void **state)
{
	struct alg_seg s;

	(void)state;
	assert_int_equal(alg_seg_parse(port_in, sizeof(port_in), &s), 0);
	assert_ptr_equal(s.frame, port_in);
	assert_int_equal(s.ip_off, 14);
	assert_int_equal(s.ihl, 24);
	assert_int_equal(s.tcp_off, 38);
	assert_int_equal(s.thl, 32);
	assert_int_equal(s.pay_off, 70);
	assert_int_equal(s.pay_len, strlen(PORT_OLD));
	assert_memory_equal(port_in + s.pay_off, PORT_OLD, s.pay_len);
	assert_int_equal(s.flags, TCP_PSH_ACK);
	assert_int_equal(s.seq, 1001);
	assert_int_equal(s.ack, 5009);
}

static void test_payload_longer(void **state)
{
	struct alg_seg_rewrite rw = { .payload = (const uint8_t *)PORT_NEW,
				      .pay_len = strlen(PORT_NEW) };
	uint8_t out[FRAME_MAX];
	struct alg_seg s;

	(void)state;
	assert_int_equal(alg_seg_parse(port_in, sizeof(port_in), &s), 0);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), sizeof(port_out));
	assert_memory_equal(out, port_out, sizeof(port_out));
	assert_frame_ok(out, sizeof(port_out));
}

static void test_payload_shorter_and_empty(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX], out[FRAME_MAX];
	struct spec sp = plain(PORT_NEW);
	struct alg_seg_rewrite rw = { .payload = (const uint8_t *)PORT_OLD,
				      .pay_len = strlen(PORT_OLD) };
	size_t in_len = mk(in, &sp), want_len;
	struct alg_seg s;

	(void)state;
	assert_int_equal(alg_seg_parse(in, in_len, &s), 0);
	sp = plain(PORT_OLD);
	want_len = mk(want, &sp);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), want_len);
	assert_memory_equal(out, want, want_len);

	rw.pay_len = 0;
	sp = plain("");
	want_len = mk(want, &sp);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), want_len);
	assert_memory_equal(out, want, want_len);
	assert_frame_ok(out, want_len);
}

static void test_seq_ack_replaced(void **state)
{
	static const struct alg_ftp_nat nat = { .mode = ALG_FTP_MASQ };
	uint8_t in[FRAME_MAX], want[FRAME_MAX], out[FRAME_MAX];
	struct alg_ftp_conn c;
	struct spec sp = plain(PORT_OLD);
	size_t in_len = mk(in, &sp), want_len;
	struct alg_seg_rewrite rw = {
		.payload = (const uint8_t *)PORT_OLD, .pay_len = strlen(PORT_OLD),
		.conn = &c, .dir = ALG_FTP_FROM_CLIENT, .seq = 0x89abcdef, .ack = 0x01234567,
	};
	struct alg_seg s;

	(void)state;
	alg_ftp_init(&c, &nat, map_same_port, NULL);
	assert_int_equal(alg_seg_parse(in, in_len, &s), 0);
	sp.seq = 0x89abcdef;
	sp.ack = 0x01234567;
	want_len = mk(want, &sp);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), want_len);
	assert_memory_equal(out, want, want_len);
	assert_frame_ok(out, want_len);

	/* without the ACK flag the ack field is left as it was */
	sp = plain(PORT_OLD);
	sp.flags = 0x08;
	in_len = mk(in, &sp);
	assert_int_equal(alg_seg_parse(in, in_len, &s), 0);
	sp.seq = 0x89abcdef;
	want_len = mk(want, &sp);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), want_len);
	assert_memory_equal(out, want, want_len);
}

static void test_seq_ack_kept_without_conn(void **state)
{
	uint8_t out[FRAME_MAX];
	struct alg_seg_rewrite rw = { .payload = port_in + 70, .pay_len = strlen(PORT_OLD),
				      .seq = 7, .ack = 7 };
	struct alg_seg s;

	(void)state;
	assert_int_equal(alg_seg_parse(port_in, sizeof(port_in), &s), 0);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), sizeof(port_in));
	assert_memory_equal(out, port_in, sizeof(port_in));
}

/* Kind 5, length 18: two blocks [l0, r0), [l1, r1); after NOP NOP. */
static void sack2(uint8_t o[20], uint32_t l0, uint32_t r0, uint32_t l1, uint32_t r1)
{
	o[0] = o[1] = 1;
	o[2] = 5;
	o[3] = 18;
	put32(o + 4, l0);
	put32(o + 8, r0);
	put32(o + 12, l1);
	put32(o + 16, r1);
}

static void test_sack_mapped(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX], out[FRAME_MAX], opt[20], want_opt[20];
	struct alg_ftp_conn c;
	struct spec sp = plain("200 ok\r\n");
	struct alg_seg_rewrite rw = { .payload = (const uint8_t *)"200 ok\r\n", .pay_len = 8,
				      .conn = &c, .dir = ALG_FTP_FROM_SERVER, .seq = 5009,
				      .ack = 1027 };
	size_t in_len, want_len;
	struct alg_seg s;

	(void)state;
	conn_with_port_rewrite(&c);
	/* the server acknowledges translated bytes; the first block lies
	 * inside the rewritten text (maps to nothing), the second after it */
	sack2(opt, 1010, 1012, 1100, 1200);
	sp.tcp_opts = opt;
	sp.tcp_opt_len = sizeof(opt);
	sp.seq = 5009;
	sp.ack = 1028;
	in_len = mk(in, &sp);
	assert_int_equal(alg_seg_parse(in, in_len, &s), 0);

	sack2(want_opt, 1099, 1199, 1099, 1199);
	sp.tcp_opts = want_opt;
	sp.ack = 1027;
	want_len = mk(want, &sp);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), want_len);
	assert_memory_equal(out, want, want_len);
	assert_frame_ok(out, want_len);
}

static void test_sack_all_empty_becomes_nops(void **state)
{
	static const uint8_t opt[12] = { 1, 1, 5, 10, 0, 0, 0x03, 0xf2, 0, 0, 0x03, 0xf4 };
	static const uint8_t want_opt[12] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	uint8_t in[FRAME_MAX], want[FRAME_MAX], out[FRAME_MAX];
	struct alg_ftp_conn c;
	struct spec sp = plain("");
	struct alg_seg_rewrite rw = { .conn = &c, .dir = ALG_FTP_FROM_SERVER, .seq = 5009,
				      .ack = 1001 };
	size_t in_len, want_len;
	struct alg_seg s;

	(void)state;
	conn_with_port_rewrite(&c);
	sp.tcp_opts = opt;		/* one block [1010, 1012): inside the rewrite */
	sp.tcp_opt_len = sizeof(opt);
	sp.seq = 5009;
	sp.ack = 1001;
	in_len = mk(in, &sp);
	assert_int_equal(alg_seg_parse(in, in_len, &s), 0);
	sp.tcp_opts = want_opt;
	want_len = mk(want, &sp);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), want_len);
	assert_memory_equal(out, want, want_len);
}

static void test_bad_options_left_alone(void **state)
{
	/* a SACK whose length runs past the header, then EOL before a SACK */
	static const uint8_t past[8] = { 1, 1, 5, 18, 0, 0, 0x03, 0xf2 };
	static const uint8_t eol[12] = { 0, 0, 5, 10, 0, 0, 0x03, 0xf2, 0, 0, 0x03, 0xf4 };
	const uint8_t *opts[] = { past, eol };
	size_t lens[] = { sizeof(past), sizeof(eol) };
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct alg_ftp_conn c;

	(void)state;
	conn_with_port_rewrite(&c);
	for (size_t i = 0; i < 2; i++) {
		struct spec sp = plain("");
		struct alg_seg_rewrite rw = { .conn = &c, .dir = ALG_FTP_FROM_SERVER, .seq = 5009,
					      .ack = 1001 };
		struct alg_seg s;
		size_t len;

		sp.tcp_opts = opts[i];
		sp.tcp_opt_len = lens[i];
		sp.seq = 5009;
		sp.ack = 1001;
		len = mk(in, &sp);
		assert_int_equal(alg_seg_parse(in, len, &s), 0);
		assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), len);
		assert_memory_equal(out, in, len);
	}
}

static void test_parse_refuses(void **state)
{
	static const struct {
		const char *what;
		size_t off;
		uint8_t val;
	} bad[] = {
		{ "ethertype IPv6", 12, 0x86 },
		{ "ethertype ARP", 13, 0x06 },
		{ "IP version 6", 14, 0x66 },
		{ "IHL 4 (16 bytes)", 14, 0x44 },
		{ "IHL 0", 14, 0x40 },
		{ "UDP", 14 + 9, IPPROTO_UDP },
		{ "ICMP", 14 + 9, IPPROTO_ICMP },
		{ "MF: first fragment", 14 + 6, 0x20 },
		{ "fragment offset", 14 + 7, 0x01 },
		{ "total length past the frame", 14 + 3, 0x53 },
		{ "total length below IP + TCP headers", 14 + 3, 24 + 19 },
		{ "TCP data offset 4", 38 + 12, 0x40 },
		{ "TCP data offset 0", 38 + 12, 0x00 },
		{ "TCP header longer than the packet", 38 + 12, 0xf0 },
	};
	struct alg_seg s;
	uint8_t f[FRAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(f, port_in, sizeof(port_in));
		f[bad[i].off] = bad[i].val;
		if (alg_seg_parse(f, sizeof(port_in), &s) == 0)
			fail_msg("parsed: %s", bad[i].what);
	}
	/* IP header running into or past the TCP header's minimum */
	for (uint8_t ihl = 6; ihl <= 15; ihl++) {
		struct spec sp = plain("");
		size_t len = mk(f, &sp);

		f[14] = (uint8_t)(0x40 | ihl);
		if (alg_seg_parse(f, len, &s) == 0)
			fail_msg("parsed IHL %u in a packet of 40 bytes", ihl);
	}
	/* a packet that is all IP header: the TCP header is never looked
	 * at (exactly sized on the heap, so a sanitizer would see a read) */
	uint8_t *all_ip = malloc(14 + 60);

	assert_non_null(all_ip);
	memset(all_ip, 0, 14 + 60);
	memcpy(all_ip, port_in, 14);
	all_ip[14] = 0x4f;
	all_ip[14 + 3] = 60;
	all_ip[14 + 9] = IPPROTO_TCP;
	assert_int_equal(alg_seg_parse(all_ip, 14 + 60, &s), -1);
	free(all_ip);
	/* every truncation: the total length no longer fits */
	for (size_t len = 0; len < sizeof(port_in); len++)
		if (alg_seg_parse(port_in, len, &s) == 0)
			fail_msg("parsed %zu of %zu bytes", len, sizeof(port_in));
}

static void test_padding_ignored(void **state)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct spec sp = plain("");
	size_t len = mk(in, &sp);
	struct alg_seg_rewrite rw;
	struct alg_seg s;

	(void)state;
	assert_int_equal(len, 54);
	memset(in + len, 0xee, 6);	/* Ethernet minimum: 60 bytes */
	assert_int_equal(alg_seg_parse(in, len + 6, &s), 0);
	assert_int_equal(s.pay_len, 0);
	rw = (struct alg_seg_rewrite){ .payload = in + s.pay_off, .pay_len = s.pay_len };
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), len);
	assert_memory_equal(out, in, len);
}

static void test_build_does_not_fit(void **state)
{
	static const uint8_t big[65536];
	struct alg_seg_rewrite rw = { .payload = (const uint8_t *)PORT_NEW,
				      .pay_len = strlen(PORT_NEW) };
	static uint8_t out[70000];
	struct alg_seg s;

	(void)state;
	assert_int_equal(alg_seg_parse(port_in, sizeof(port_in), &s), 0);
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(port_out) - 1), 0);
	for (size_t i = 0; i < sizeof(port_out); i++)
		assert_int_equal(out[i], 0xaa);
	assert_int_equal(alg_seg_build(&s, &rw, out, 0), 0);
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(port_out)), sizeof(port_out));
	assert_memory_equal(out, port_out, sizeof(port_out));

	/* fits the buffer but not an IP total length (65535) */
	rw.payload = big;
	rw.pay_len = 65535 - 24 - 32 + 1;
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), 0);
	rw.pay_len--;
	assert_int_equal(alg_seg_build(&s, &rw, out, sizeof(out)), 14 + 65535);
	assert_frame_ok(out, 14 + 65535);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_payload_longer),
		cmocka_unit_test(test_payload_shorter_and_empty),
		cmocka_unit_test(test_seq_ack_replaced),
		cmocka_unit_test(test_seq_ack_kept_without_conn),
		cmocka_unit_test(test_sack_mapped),
		cmocka_unit_test(test_sack_all_empty_becomes_nops),
		cmocka_unit_test(test_bad_options_left_alone),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_padding_ignored),
		cmocka_unit_test(test_build_does_not_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
