/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pkt.c - independent packet builder and RFC 1071 checksum verifier (see
 * pkt.h). No code shared with the data path.
 */
#include "pkt.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

uint16_t pk_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t pk_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t ck_sum(uint32_t acc, const void *data, size_t len)
{
	const uint8_t *b = data;
	uint64_t s = acc;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)((b[i] << 8) | b[i + 1]);
	if (len & 1)
		s += (uint32_t)(b[len - 1] << 8);
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t ck_fold(uint32_t acc)
{
	uint64_t s = acc;

	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

uint16_t ck_inet(const void *data, size_t len)
{
	return (uint16_t)~ck_fold(ck_sum(0, data, len));
}

uint32_t ck_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	put32(ph, src);
	put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	put16(ph + 10, len);
	return ck_sum(0, ph, sizeof(ph));
}

size_t pk_l4(uint8_t *out, const struct pk *p)
{
	size_t hl, len;
	uint16_t c;

	switch (p->proto) {
	case IPPROTO_TCP:
		hl = 20;
		memset(out, 0, hl);
		put16(out, p->sport);
		put16(out + 2, p->dport);
		put32(out + 4, p->seq);
		put32(out + 8, p->ack);
		out[12] = 5 << 4;
		out[13] = p->flags;
		put16(out + 14, p->win ? p->win : 64240);
		if (p->plen)
			memcpy(out + hl, p->payload, p->plen);
		len = hl + p->plen;
		c = (uint16_t)~ck_fold(ck_sum(ck_pseudo(p->src, p->dst, IPPROTO_TCP, (uint16_t)len), out, len));
		put16(out + 16, c);
		return len;
	case IPPROTO_UDP:
		hl = 8;
		memset(out, 0, hl);
		put16(out, p->sport);
		put16(out + 2, p->dport);
		len = hl + p->plen;
		put16(out + 4, (uint16_t)len);
		if (p->plen)
			memcpy(out + hl, p->payload, p->plen);
		if (!p->udp_nocsum) {
			c = (uint16_t)~ck_fold(ck_sum(ck_pseudo(p->src, p->dst, IPPROTO_UDP, (uint16_t)len), out, len));
			put16(out + 6, c ? c : 0xffff);	/* RFC 768: computed 0 is sent as all ones */
		}
		return len;
	case IPPROTO_ICMP:
		hl = 8;
		memset(out, 0, hl);
		out[0] = p->type;
		out[1] = p->code;
		if (p->type == 0 || p->type == 8) {
			put16(out + 4, p->icmp_id);
			put16(out + 6, p->icmp_seq);
		}
		if (p->plen)
			memcpy(out + hl, p->payload, p->plen);
		len = hl + p->plen;
		put16(out + 2, ck_inet(out, len));
		return len;
	default:
		if (p->plen)
			memcpy(out, p->payload, p->plen);
		return p->plen;
	}
}

size_t pk_ip_wrap(uint8_t *out, const struct pk *p, const uint8_t *l4, size_t l4len)
{
	size_t hl = 20 + p->optlen;

	memset(out, 0, hl);
	out[0] = (uint8_t)(0x40 | (hl / 4));
	out[1] = p->tos;
	put16(out + 2, (uint16_t)(hl + l4len));
	put16(out + 4, p->id);
	put16(out + 6, p->frag);
	out[8] = p->ttl ? p->ttl : 64;
	out[9] = p->proto;
	put32(out + 12, p->src);
	put32(out + 16, p->dst);
	if (p->optlen)
		memcpy(out + 20, p->opts, p->optlen);
	put16(out + 10, ck_inet(out, hl));
	memmove(out + hl, l4, l4len);
	return hl + l4len;
}

size_t pk_ip(uint8_t *out, const struct pk *p)
{
	uint8_t l4[PK_MAX];
	size_t n = pk_l4(l4, p);

	return pk_ip_wrap(out, p, l4, n);
}

size_t pk_eth_wrap(uint8_t *out, const struct pk *p, const uint8_t *l3, size_t len)
{
	memset(out, 0, 14);
	if (p->dmac)
		memcpy(out, p->dmac, 6);
	if (p->smac)
		memcpy(out + 6, p->smac, 6);
	put16(out + 12, p->ethertype ? p->ethertype : 0x0800);
	memmove(out + 14, l3, len);
	return 14 + len;
}

size_t pk_frame(uint8_t *out, const struct pk *p)
{
	uint8_t ip[PK_MAX];
	size_t n = pk_ip(ip, p);

	return pk_eth_wrap(out, p, ip, n);
}

/* ------------------------------------------------------------ verify */

#define WHY(...) do { if (why) snprintf(why, whylen, __VA_ARGS__); } while (0)

int ck_verify_udp(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
	uint16_t c = pk_get16(udp + 6);

	if (len < 8 || pk_get16(udp + 4) != len)
		return -1;
	if (c == 0)
		return 0;
	return ck_fold(ck_sum(ck_pseudo(src, dst, IPPROTO_UDP, (uint16_t)len), udp, len)) == 0xffff ? 0 : -1;
}

/* Verify one IPv4 datagram (ip, at most avail bytes present). inner: it is
 * the datagram embedded in an ICMP error and may be truncated. */
static int verify_ip(const uint8_t *ip, size_t avail, bool inner, char *why, size_t whylen)
{
	size_t hl, tot, l4len;
	uint32_t src, dst;
	const uint8_t *l4;
	uint16_t frag;

	if (avail < 20 || (ip[0] >> 4) != 4) {
		WHY("%s: not an IPv4 header", inner ? "inner" : "outer");
		return -1;
	}
	hl = (size_t)(ip[0] & 15) * 4;
	tot = pk_get16(ip + 2);
	if (hl < 20 || hl > avail) {
		WHY("%s: bad IHL", inner ? "inner" : "outer");
		return -1;
	}
	if (ck_fold(ck_sum(0, ip, hl)) != 0xffff) {
		WHY("%s IP header checksum wrong (field 0x%04x, right 0x%04x)", inner ? "inner" : "outer",
		    pk_get16(ip + 10),
		    (unsigned)(uint16_t)~ck_fold(ck_sum(ck_sum(0, ip, 10), ip + 12, hl - 12)));
		return -1;
	}
	if (!inner && tot > avail) {
		WHY("outer: tot_len %zu beyond frame %zu", tot, avail);
		return -1;
	}
	if (tot > avail || tot < hl)
		return 0;	/* truncated embedded datagram: L4 not verifiable */
	frag = pk_get16(ip + 6);
	if (frag & (PK_IP_MF | 0x1fff))
		return 0;	/* a fragment: the L4 checksum spans fragments */
	src = pk_get32(ip + 12);
	dst = pk_get32(ip + 16);
	l4 = ip + hl;
	l4len = tot - hl;
	switch (ip[9]) {
	case IPPROTO_TCP:
		if (l4len < 20 ||
		    ck_fold(ck_sum(ck_pseudo(src, dst, IPPROTO_TCP, (uint16_t)l4len), l4, l4len)) != 0xffff) {
			WHY("%s TCP checksum wrong (field 0x%04x)", inner ? "inner" : "outer", l4len >= 18 ? pk_get16(l4 + 16) : 0);
			return -1;
		}
		return 0;
	case IPPROTO_UDP:
		if (ck_verify_udp(src, dst, l4, l4len)) {
			WHY("%s UDP checksum wrong (field 0x%04x)", inner ? "inner" : "outer", l4len >= 8 ? pk_get16(l4 + 6) : 0);
			return -1;
		}
		return 0;
	case IPPROTO_ICMP:
		if (l4len < 8 || ck_fold(ck_sum(0, l4, l4len)) != 0xffff) {
			WHY("%s ICMP checksum wrong (field 0x%04x)", inner ? "inner" : "outer", l4len >= 4 ? pk_get16(l4 + 2) : 0);
			return -1;
		}
		if (!inner && (l4[0] == 3 || l4[0] == 11 || l4[0] == 12) && l4len > 8)
			return verify_ip(l4 + 8, l4len - 8, true, why, whylen);
		return 0;
	default:
		return 0;
	}
}

int ck_verify_frame(const uint8_t *f, size_t len, char *why, size_t whylen)
{
	if (len < 14 || pk_get16(f + 12) != 0x0800) {
		WHY("not an IPv4 frame");
		return -1;
	}
	return verify_ip(f + 14, len - 14, false, why, whylen);
}

/* The TCP/UDP checksum field of an unfragmented frame and the pseudo-header
 * sum of its header, folded; NULL if there is none. */
static uint8_t *unfinished_field(const uint8_t *f, size_t len, uint16_t *sum)
{
	const uint8_t *ip = f + 14;
	size_t hl, tot, l4len;
	uint8_t proto;

	if (len < 34 || pk_get16(f + 12) != 0x0800)
		return NULL;
	hl = (size_t)(ip[0] & 15) * 4;
	tot = pk_get16(ip + 2);
	proto = ip[9];
	if (hl < 20 || tot < hl + 8 || 14 + tot > len || (pk_get16(ip + 6) & (PK_IP_MF | 0x1fff)))
		return NULL;
	if (proto == IPPROTO_TCP && tot >= hl + 20)
		l4len = tot - hl;
	else if (proto == IPPROTO_UDP)
		l4len = pk_get16(ip + hl + 4);
	else
		return NULL;
	*sum = ck_fold(ck_pseudo(pk_get32(ip + 12), pk_get32(ip + 16), proto, (uint16_t)l4len));
	return (uint8_t *)ip + hl + (proto == IPPROTO_TCP ? 16 : 6);
}

void pk_unfinish(uint8_t *f, size_t len)
{
	uint16_t sum;
	uint8_t *field = unfinished_field(f, len, &sum);

	if (field)
		put16(field, sum);
}

int ck_verify_unfinished(const uint8_t *f, size_t len, char *why, size_t whylen)
{
	uint16_t sum;
	const uint8_t *field = unfinished_field(f, len, &sum);

	if (!field) {
		WHY("no TCP/UDP checksum field");
		return -1;
	}
	if (ck_fold(ck_sum(0, f + 14, (size_t)(f[14] & 15) * 4)) != 0xffff) {
		WHY("IP header checksum wrong");
		return -1;
	}
	if (pk_get16(field) != sum) {
		WHY("unfinished TCP/UDP field 0x%04x, the pseudo-header sum is 0x%04x",
		    pk_get16(field), sum);
		return -1;
	}
	return 0;
}

void pk_hexdiff(const char *what, const uint8_t *want, size_t wlen, const uint8_t *got, size_t glen)
{
	size_t n = wlen > glen ? wlen : glen;

	fprintf(stderr, "# %s: frame differs (want %zu bytes, got %zu); offset: want got\n", what, wlen, glen);
	for (size_t i = 0; i < n; i += 16) {
		char lw[80] = "", lg[80] = "", mk[80] = "";
		int dif = 0;

		for (size_t j = i; j < i + 16 && j < n; j++) {
			char b[4];
			bool d = j >= wlen || j >= glen || want[j] != got[j];

			snprintf(b, sizeof(b), j < wlen ? "%02x " : "-- ", j < wlen ? want[j] : 0);
			strcat(lw, b);
			snprintf(b, sizeof(b), j < glen ? "%02x " : "-- ", j < glen ? got[j] : 0);
			strcat(lg, b);
			strcat(mk, d ? "^^ " : "   ");
			dif |= d;
		}
		fprintf(stderr, "# %04zx want %s\n#      got  %s\n", i, lw, lg);
		if (dif)
			fprintf(stderr, "#           %s\n", mk);
	}
}
