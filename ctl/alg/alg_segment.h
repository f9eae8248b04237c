/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_segment.h - the FTP ALG's segment rewriter: parse an Ethernet + IPv4
 * + TCP frame, and build the frame that leaves in its place (payload, IP
 * total length, seq, ack and SACK blocks replaced, both checksums
 * recomputed).
 *
 * Pure: no sockets, no maps, no state of its own. It reads and writes only
 * the buffers it is given, within the lengths it is given, whatever they
 * hold, so it is unit-tested with exact frames and fuzzed with any bytes.
 */
#ifndef XDPNAT_ALG_SEGMENT_H
#define XDPNAT_ALG_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include "alg/alg_ftp.h"

#define ALG_SEG_ETH_HLEN	14
#define ALG_SEG_TCP_SYN		0x02
#define ALG_SEG_TCP_ACK		0x10

/* A parsed frame. Offsets are from the start of the frame; seq and ack in
 * host byte order. */
struct alg_seg {
	const uint8_t *frame;		/* Ethernet header on */
	size_t ip_off, tcp_off, pay_off;
	size_t ihl, thl, pay_len;	/* IP header, TCP header, payload: bytes */
	uint8_t flags;			/* TCP flags (ALG_SEG_TCP_*) */
	uint32_t seq, ack;
};

/* What the built frame carries instead of the original's. */
struct alg_seg_rewrite {
	const uint8_t *payload;		/* may be NULL when pay_len is 0 */
	size_t pay_len;
	/* NULL: seq, ack and options as they were (a flow the ALG does not
	 * inspect). Else seq replaced, ack replaced if the ACK flag is set, and
	 * SACK blocks mapped with alg_ftp_sack_in(conn, dir, ...). */
	const struct alg_ftp_conn *conn;
	enum alg_ftp_dir dir;
	uint32_t seq, ack;		/* host byte order */
};

/*
 * Parse frame[0..len): Ethernet, IPv4 not fragmented, TCP, with header
 * lengths consistent with the IP total length and the frame length (bytes
 * after the IP total length, Ethernet padding, are ignored). Returns 0 and
 * fills *s (which then points into frame), or -1.
 */
int alg_seg_parse(const uint8_t *frame, size_t len, struct alg_seg *s);

/*
 * Build into out[0..out_cap) the frame of s with the headers of s and the
 * rewrite rw applied; the header lengths never change. out must not
 * overlap s->frame or rw->payload. Returns the length of the built frame
 * (s->pay_off + rw->pay_len), or 0 when it would not fit out_cap or an IP
 * total length (nothing is written then).
 */
size_t alg_seg_build(const struct alg_seg *s, const struct alg_seg_rewrite *rw, uint8_t *out,
		     size_t out_cap);

#endif /* XDPNAT_ALG_SEGMENT_H */
