/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pkt.h - a small, independent packet builder and checksum verifier for the
 * BPF data-path tests.
 *
 * Everything here is written from scratch (RFC 791/793/768/792, RFC 1071
 * checksums computed over the complete header / pseudo-header + segment /
 * ICMP message). It deliberately shares no code with bpf/nat_csum.h: the
 * data path updates checksums incrementally, these tests recompute them.
 *
 * Addresses are given as host-order integers (IP4(192,168,0,10)), ports and
 * ids in host order; the builder writes network order.
 */
#ifndef TESTS_BPF_PKT_H
#define TESTS_BPF_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

#define PK_TCP_FIN 0x01
#define PK_TCP_SYN 0x02
#define PK_TCP_RST 0x04
#define PK_TCP_PSH 0x08
#define PK_TCP_ACK 0x10

#define PK_IP_MF 0x2000
#define PK_IP_DF 0x4000

#define PK_MAX 2048

struct pk {
	const uint8_t *dmac, *smac;	/* Ethernet; NULL = zeros */
	uint16_t ethertype;		/* 0 = IPv4 */
	uint32_t src, dst;		/* host order */
	uint8_t proto;			/* IPPROTO_TCP / _UDP / _ICMP */
	uint8_t ttl;			/* 0 = 64 */
	uint8_t tos;
	uint16_t id;
	uint16_t frag;			/* flags + offset field, host order */
	const uint8_t *opts;		/* IP options, multiple of 4 bytes */
	size_t optlen;
	/* TCP / UDP */
	uint16_t sport, dport;
	/* TCP */
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;			/* 0 = 64240 */
	/* UDP */
	bool udp_nocsum;		/* send checksum 0 (none) */
	/* ICMP */
	uint8_t type, code;
	uint16_t icmp_id, icmp_seq;	/* echo; for errors the 4 "unused" bytes are 0 */
	/* payload (for an ICMP error: the embedded datagram) */
	const uint8_t *payload;
	size_t plen;
};

/* RFC 1071 one's complement sum of big-endian 16-bit words, unfolded. */
uint32_t ck_sum(uint32_t acc, const void *data, size_t len);
/* Fold to 16 bits (still not complemented). */
uint16_t ck_fold(uint32_t acc);
/* Internet checksum of a buffer: ~fold(sum). Host order value. */
uint16_t ck_inet(const void *data, size_t len);
/* Pseudo-header sum (RFC 793/768) for an L4 segment of length len. */
uint32_t ck_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* Build the L4 segment (header + payload, checksum filled in) of p. */
size_t pk_l4(uint8_t *out, const struct pk *p);
/* Wrap raw L4 bytes into an IPv4 datagram with p's IP fields. */
size_t pk_ip_wrap(uint8_t *out, const struct pk *p, const uint8_t *l4, size_t l4len);
/* Full IPv4 datagram of p. */
size_t pk_ip(uint8_t *out, const struct pk *p);
/* Full Ethernet frame of p. */
size_t pk_frame(uint8_t *out, const struct pk *p);
/* Ethernet header + raw bytes. */
size_t pk_eth_wrap(uint8_t *out, const struct pk *p, const uint8_t *l3, size_t len);

/* Checksum verification of a frame (Ethernet + IPv4). Returns 0 when every
 * checksum that can be verified is right; otherwise -1 and a reason in
 * why. Verifies: the IP header checksum; for an unfragmented packet the
 * TCP/UDP checksum over pseudo-header + segment (UDP 0 = none accepted
 * unless want_udp_csum), or the ICMP checksum over the whole message; for an
 * ICMP error also the embedded IP header checksum and, when the embedded
 * datagram is complete, its L4 checksum. */
int ck_verify_frame(const uint8_t *f, size_t len, char *why, size_t whylen);

/* Verify the UDP checksum of a datagram given as header+payload (e.g. a
 * reassembled one). Returns 0 when right. */
int ck_verify_udp(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len);

/*
 * Unfinished TCP/UDP checksums, as a sender on the same machine with tx
 * checksum offload hands them (CHECKSUM_PARTIAL): the field holds the
 * folded pseudo-header sum, not complemented (the kernel's
 * ~csum_tcpudp_magic(saddr, daddr, len, proto, 0); len: the TCP segment,
 * the UDP length). pk_unfinish() turns a frame's complete checksum into
 * that; ck_verify_unfinished() returns 0 when the frame's IP header
 * checksum is right and its TCP/UDP field is exactly that sum of its own
 * header (else -1 and a reason).
 */
void pk_unfinish(uint8_t *f, size_t len);
int ck_verify_unfinished(const uint8_t *f, size_t len, char *why, size_t whylen);

/* Print both frames with differing bytes marked, to stderr. */
void pk_hexdiff(const char *what, const uint8_t *want, size_t wlen, const uint8_t *got, size_t glen);

/* Accessors for frames (network order fields decoded to host order). */
uint16_t pk_get16(const uint8_t *p);
uint32_t pk_get32(const uint8_t *p);

#endif
