/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target for the FTP ALG's segment rewriter
 * (ctl/alg/alg_segment.c).
 *
 * Input format (tests/fuzz/corpus/alg_segment/ has a few real frames):
 *   byte 0       flags: bit0 rewrite seq/ack/SACK through a conn that has
 *                one rewrite (else headers kept), bit1 direction of the
 *                segment, bit2 a small output buffer (byte 11 says how
 *                small: the built frame's length - 1 - byte 11, at least 0)
 *   bytes 1-4    new seq, 5-8 new ack (big endian)
 *   bytes 9-10   n, the frame's length (big endian; cut to what is left)
 *   byte 11      see bit2
 *   then         n bytes of frame, and the rest is the new payload.
 * Frame, payload and output each sit in a heap block of their exact size,
 * so the sanitizer sees any access outside them.
 *
 * Invariants checked when the frame parses:
 *   - the parsed offsets and lengths are consistent and inside the frame;
 *   - a build that fits returns headers + payload and writes: the
 *     Ethernet header and header lengths unchanged, the IP total length
 *     right, the payload, both checksums valid by this file's own RFC 1071
 *     sum, seq/ack as asked (or untouched without a conn), IP header
 *     otherwise untouched; a build that does not fit returns 0 and writes
 *     nothing.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alg/alg_segment.h"

#define HDR_BYTES	12
#define OUT_MAX		4096
#define FILL		0xa5

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

/* RFC 1071: the 16-bit one's complement sum, folded. */
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

static int map_same_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *port)
{
	(void)ctx;
	*port = req->inside_port_host;
	return 0;
}

/* Case A with the client's PORT rewritten one byte longer at seq 1006:
 * SACK blocks around 1000..1030 map, shrink or vanish. */
static const struct alg_ftp_conn *conn_with_rewrite(void)
{
	static struct alg_ftp_conn c;
	static int ready;
	static const char greeting[] = "220 ok\r\n", port[] = "PORT 192,168,0,10,156,64\r\n";
	struct alg_ftp_nat nat = { .mode = ALG_FTP_MASQ };
	struct alg_ftp_result res;
	uint8_t out[64];

	if (ready)
		return &c;
	inet_pton(AF_INET, "192.168.0.10", &nat.client_addr);
	inet_pton(AF_INET, "59.65.174.240", &nat.client_outside);
	inet_pton(AF_INET, "203.0.113.5", &nat.server_addr);
	nat.server_outside = nat.server_addr;
	alg_ftp_init(&c, &nat, map_same_port, NULL);
	alg_ftp_set_isn(&c, ALG_FTP_FROM_CLIENT, 1000);
	alg_ftp_set_isn(&c, ALG_FTP_FROM_SERVER, 5000);
	alg_ftp_process(&c, ALG_FTP_FROM_SERVER, 5001, (const uint8_t *)greeting,
			sizeof(greeting) - 1, out, sizeof(out), &res);
	alg_ftp_process(&c, ALG_FTP_FROM_CLIENT, 1001, (const uint8_t *)port, sizeof(port) - 1,
			out, sizeof(out), &res);
	CHECK(res.verdict == ALG_FTP_REWRITTEN);
	ready = 1;
	return &c;
}

static void check_parsed(const struct alg_seg *s, const uint8_t *frame, size_t n)
{
	CHECK(s->frame == frame);
	CHECK(s->ip_off == ALG_SEG_ETH_HLEN);
	CHECK(s->ihl >= 20 && s->ihl <= 60 && s->ihl % 4 == 0);
	CHECK(s->thl >= 20 && s->thl <= 60 && s->thl % 4 == 0);
	CHECK(s->tcp_off == s->ip_off + s->ihl);
	CHECK(s->pay_off == s->tcp_off + s->thl);
	CHECK(s->pay_off <= n && s->pay_len <= n - s->pay_off);
	CHECK(s->pay_off + s->pay_len == ALG_SEG_ETH_HLEN + be16(frame + s->ip_off + 2));
	CHECK(s->flags == frame[s->tcp_off + 13]);
	CHECK(s->seq == be32(frame + s->tcp_off + 4));
	CHECK(s->ack == be32(frame + s->tcp_off + 8));
}

static void check_built(const struct alg_seg *s, const struct alg_seg_rewrite *rw,
			const uint8_t *out, size_t len)
{
	const uint8_t *in = s->frame, *ip = out + s->ip_off, *th = out + s->tcp_off;
	const uint8_t *in_ip = in + s->ip_off, *in_th = in + s->tcp_off;
	size_t tcp_len = s->thl + rw->pay_len;
	uint32_t pseudo;

	CHECK(len == s->pay_off + rw->pay_len);
	CHECK(!memcmp(out, in, ALG_SEG_ETH_HLEN));
	CHECK(ip[0] == in_ip[0]);				/* version, IHL */
	CHECK(be16(ip + 2) == s->ihl + tcp_len);
	CHECK(!memcmp(ip + 4, in_ip + 4, 6));
	CHECK(!memcmp(ip + 12, in_ip + 12, s->ihl - 12));
	CHECK(sum16(ip, s->ihl, 0) == 0xffff);
	CHECK(th[12] == in_th[12]);				/* data offset */
	CHECK(!memcmp(th, in_th, 4) && !memcmp(th + 12, in_th + 12, 4));
	CHECK(!memcmp(th + 18, in_th + 18, 2));
	if (!rw->conn) {
		CHECK(!memcmp(th + 4, in_th + 4, 8));
		CHECK(!memcmp(th + 20, in_th + 20, s->thl - 20));
	} else {
		CHECK(be32(th + 4) == rw->seq);
		CHECK(be32(th + 8) == ((s->flags & ALG_SEG_TCP_ACK) ? rw->ack : s->ack));
	}
	CHECK(!rw->pay_len || !memcmp(out + s->pay_off, rw->payload, rw->pay_len));
	pseudo = (uint32_t)sum16(ip + 12, 8, 0) + 6 + (uint32_t)tcp_len;
	CHECK(sum16(th, tcp_len, pseudo) == 0xffff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alg_seg_rewrite rw = { 0 };
	uint8_t *frame, *payload = NULL, *out;
	size_t n, need, cap, len;
	struct alg_seg s;

	if (size < HDR_BYTES)
		return 0;
	n = be16(data + 9);
	if (n > size - HDR_BYTES)
		n = size - HDR_BYTES;
	frame = malloc(n ? n : 1);
	CHECK(frame);
	memcpy(frame, data + HDR_BYTES, n);
	if (alg_seg_parse(frame, n, &s)) {
		free(frame);
		return 0;
	}
	check_parsed(&s, frame, n);

	rw.pay_len = size - HDR_BYTES - n;
	if (rw.pay_len) {
		payload = malloc(rw.pay_len);
		CHECK(payload);
		memcpy(payload, data + HDR_BYTES + n, rw.pay_len);
		rw.payload = payload;
	}
	if (data[0] & 1) {
		rw.conn = conn_with_rewrite();
		rw.dir = (data[0] & 2) ? ALG_FTP_FROM_SERVER : ALG_FTP_FROM_CLIENT;
		rw.seq = be32(data + 1);
		rw.ack = be32(data + 5);
	}
	need = s.pay_off + rw.pay_len;
	cap = OUT_MAX;
	if (data[0] & 4)
		cap = need > (size_t)data[11] + 1 ? need - 1 - data[11] : 0;
	out = malloc(cap ? cap : 1);
	CHECK(out);
	memset(out, FILL, cap);

	len = alg_seg_build(&s, &rw, out, cap);
	if (need > cap || s.ihl + s.thl + rw.pay_len > 0xffff) {
		CHECK(len == 0);
		for (size_t i = 0; i < cap; i++)
			CHECK(out[i] == FILL);
	} else {
		check_built(&s, &rw, out, len);
	}
	free(out);
	free(payload);
	free(frame);
	return 0;
}
