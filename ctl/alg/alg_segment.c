/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_segment.c - the FTP ALG's segment rewriter (see alg_segment.h):
 * frame parsing, the rebuilt frame, SACK block mapping and the IP and TCP
 * checksums. Every read and write is bounded by a length checked first.
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "alg/alg_segment.h"

#define ETH_P_IPV4		0x0800
#define IP_HLEN_MIN		20
#define TCP_HLEN_MIN		20
#define IP_FRAG_MASK		0x3fff	/* MF and the fragment offset */
#define IP_TOT_LEN_MAX		0xffff
#define TCPOPT_EOL		0
#define TCPOPT_NOP		1
#define TCPOPT_SACK		5
#define SACK_BLOCKS_MAX		4	/* 2 + 4 * 8 bytes fill the 40 bytes of options */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return ntohl(n);
}

static void put16(uint8_t *p, uint16_t host)
{
	p[0] = (uint8_t)(host >> 8);
	p[1] = (uint8_t)host;
}

static void put32(uint8_t *p, uint32_t host)
{
	uint32_t n = htonl(host);

	memcpy(p, &n, 4);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* The folded one's complement, host order. */
static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int alg_seg_parse(const uint8_t *frame, size_t len, struct alg_seg *s)
{
	const uint8_t *ip, *th;
	size_t tot;

	memset(s, 0, sizeof(*s));
	if (len < ALG_SEG_ETH_HLEN + IP_HLEN_MIN + TCP_HLEN_MIN || get16(frame + 12) != ETH_P_IPV4)
		return -1;
	s->frame = frame;
	s->ip_off = ALG_SEG_ETH_HLEN;
	ip = frame + s->ip_off;
	if ((ip[0] >> 4) != 4)
		return -1;
	s->ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = get16(ip + 2);
	if (s->ihl < IP_HLEN_MIN || ip[9] != IPPROTO_TCP || tot > len - ALG_SEG_ETH_HLEN ||
	    (get16(ip + 6) & IP_FRAG_MASK))
		return -1;
	/* from here tot bounds every read: it is within the frame */
	if (tot < s->ihl + TCP_HLEN_MIN)
		return -1;
	s->tcp_off = s->ip_off + s->ihl;
	th = frame + s->tcp_off;
	s->thl = (size_t)(th[12] >> 4) * 4;
	if (s->thl < TCP_HLEN_MIN || s->ihl + s->thl > tot)
		return -1;
	s->pay_off = s->tcp_off + s->thl;
	s->pay_len = tot - s->ihl - s->thl;
	s->flags = th[13];
	s->seq = get32(th + 4);
	s->ack = get32(th + 8);
	return 0;
}

/* Map the SACK blocks of the TCP options opt[0..end). A block that became
 * empty is replaced by a copy of one that did not; if none is left the
 * option becomes NOPs, so the header length never changes. */
static void sack_map(const struct alg_ftp_conn *conn, enum alg_ftp_dir dir, uint8_t *opt,
		     const uint8_t *end)
{
	while (opt < end) {
		uint8_t kind = opt[0], olen;

		if (kind == TCPOPT_EOL)
			return;
		if (kind == TCPOPT_NOP) {
			opt++;
			continue;
		}
		if (opt + 1 >= end || (olen = opt[1]) < 2 || olen > end - opt)
			return;
		if (kind == TCPOPT_SACK && olen >= 10 && (olen - 2) % 8 == 0) {
			unsigned n = (olen - 2) / 8, keep = 0;
			uint32_t l[SACK_BLOCKS_MAX], r[SACK_BLOCKS_MAX];

			for (unsigned i = 0; i < n && i < SACK_BLOCKS_MAX; i++) {
				uint32_t bl = get32(opt + 2 + 8 * i), br = get32(opt + 6 + 8 * i);

				if (alg_ftp_sack_in(conn, dir, &bl, &br)) {
					l[keep] = bl;
					r[keep++] = br;
				}
			}
			if (!keep) {
				memset(opt, TCPOPT_NOP, olen);
			} else {
				for (unsigned i = 0; i < n && i < SACK_BLOCKS_MAX; i++) {
					put32(opt + 2 + 8 * i, l[i < keep ? i : 0]);
					put32(opt + 6 + 8 * i, r[i < keep ? i : 0]);
				}
			}
		}
		opt += olen;
	}
}

size_t alg_seg_build(const struct alg_seg *s, const struct alg_seg_rewrite *rw, uint8_t *out,
		     size_t out_cap)
{
	size_t hdr = s->pay_off, tcp_len = s->thl + rw->pay_len;
	uint8_t *ip, *th;
	uint32_t sum;

	if (rw->pay_len > out_cap || hdr > out_cap - rw->pay_len ||
	    rw->pay_len > IP_TOT_LEN_MAX - s->ihl - s->thl)
		return 0;
	memcpy(out, s->frame, hdr);
	if (rw->pay_len)	/* payload may be NULL then */
		memcpy(out + hdr, rw->payload, rw->pay_len);
	ip = out + s->ip_off;
	th = out + s->tcp_off;

	put16(ip + 2, (uint16_t)(s->ihl + tcp_len));
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold(csum_add(0, ip, s->ihl)));

	if (rw->conn) {
		put32(th + 4, rw->seq);
		if (s->flags & ALG_SEG_TCP_ACK)
			put32(th + 8, rw->ack);
		sack_map(rw->conn, rw->dir, th + TCP_HLEN_MIN, th + s->thl);
	}
	put16(th + 16, 0);
	sum = csum_add(0, ip + 12, 8);		/* pseudo-header: saddr, daddr */
	sum += IPPROTO_TCP + (uint32_t)tcp_len;	/* ... protocol, TCP length */
	put16(th + 16, csum_fold(csum_add(sum, th, tcp_len)));
	return hdr + rw->pay_len;
}
