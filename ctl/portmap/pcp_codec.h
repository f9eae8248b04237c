/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pcp_codec.h - the wire formats of PCP (RFC 6887) and NAT-PMP (RFC 6886),
 * which share UDP port 5351 and tell each other apart by their first byte
 * (version 0 is NAT-PMP, 2 is PCP).
 *
 * Pure encode and decode: no I/O, no clock, no table. A decoder either
 * fills a request and returns the result code the server is to answer
 * with (SUCCESS: go on and serve it), or returns PORTMAP_DROP for a packet
 * that gets no answer at all (too short to answer, a response, not ours).
 * Every byte offset used is checked against the length first; the fuzz
 * target (tests/fuzz/fuzz_pcp_codec.c) holds the decoders to that.
 */
#ifndef XDPNAT_PCP_CODEC_H
#define XDPNAT_PCP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTMAP_SERVER_PORT	5351	/* both protocols, requests to the router */
#define PORTMAP_CLIENT_PORT	5350	/* announcements to 224.0.0.1 */
#define PORTMAP_DROP		(-1)	/* no answer: count and drop */

/* ---------------------------------------------------------------- PCP */
#define PCP_VERSION		2
#define PCP_MAX_LEN		1100	/* RFC 6887 §7: longest message */
#define PCP_HDR_LEN		24
#define PCP_MAP_LEN		36	/* opcode data of MAP */
#define PCP_PEER_LEN		56	/* opcode data of PEER */
#define PCP_NONCE_LEN		12

enum pcp_opcode {
	PCP_OP_ANNOUNCE = 0,
	PCP_OP_MAP = 1,
	PCP_OP_PEER = 2,
};

/* RFC 6887 §7.4 */
enum pcp_result {
	PCP_SUCCESS = 0,
	PCP_UNSUPP_VERSION = 1,
	PCP_NOT_AUTHORIZED = 2,
	PCP_MALFORMED_REQUEST = 3,
	PCP_UNSUPP_OPCODE = 4,
	PCP_UNSUPP_OPTION = 5,
	PCP_MALFORMED_OPTION = 6,
	PCP_NETWORK_FAILURE = 7,
	PCP_NO_RESOURCES = 8,
	PCP_UNSUPP_PROTOCOL = 9,
	PCP_USER_EX_QUOTA = 10,
	PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_ADDRESS_MISMATCH = 12,
	PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* RFC 6887 §7.3: option codes 0-127 must be understood, 128-255 may be
 * ignored. */
enum pcp_option {
	PCP_OPT_THIRD_PARTY = 1,
	PCP_OPT_PREFER_FAILURE = 2,
	PCP_OPT_FILTER = 3,
};

/* A decoded PCP request. Addresses are IPv4 in network order; an address
 * field that is not IPv4-mapped (::ffff:a.b.c.d) or all-zero sets *_v6. */
struct pcp_request {
	uint8_t opcode;
	uint32_t lifetime;		/* requested, seconds */
	uint32_t client_addr;		/* the header's PCP client address */
	bool client_v6;
	/* MAP and PEER */
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol;		/* 0 = all, 6 TCP, 17 UDP */
	uint16_t internal_port;		/* host order */
	uint16_t ext_port;		/* suggested, host order, 0 = any */
	uint32_t ext_addr;		/* suggested, 0 = any */
	bool ext_v6;
	/* PEER */
	uint16_t peer_port;
	uint32_t peer_addr;
	bool peer_v6;
	/* options */
	bool third_party;
	bool prefer_failure;
	bool filter;
};

/* The parts of a PCP response that are not copied from the request. */
struct pcp_response {
	uint8_t result;			/* enum pcp_result */
	uint32_t lifetime;		/* assigned, or how long an error holds */
	uint32_t epoch;			/* seconds of the server's epoch */
	uint16_t ext_port;		/* MAP/PEER, host order */
	uint32_t ext_addr;		/* MAP/PEER, network order */
};

/*
 * Decode a PCP request (buf[0] == 2, or any version other than 0 that the
 * server answers with UNSUPP_VERSION). Returns an enum pcp_result, or
 * PORTMAP_DROP (shorter than 4 bytes, or a response: R bit set). A result
 * other than SUCCESS is still answered with pcp_encode_response().
 */
int pcp_decode_request(const uint8_t *buf, size_t len, struct pcp_request *req);

/*
 * Encode the response to the request in req_buf/req_len (as received)
 * into out (PCP_MAX_LEN bytes at least). A SUCCESS for MAP or PEER carries
 * the opcode data with resp's external address and port; an error
 * response copies the request's opcode data (RFC 6887 §8.3) when the
 * request had it whole. Returns the length written.
 */
size_t pcp_encode_response(const uint8_t *req_buf, size_t req_len, const struct pcp_request *req,
			   const struct pcp_response *resp, uint8_t *out, size_t out_len);

/* An unsolicited ANNOUNCE response (RFC 6887 §14.1.1): 24 bytes. */
size_t pcp_encode_announce(uint32_t epoch, uint8_t *out, size_t out_len);

/* ---------------------------------------------------------------- NAT-PMP */
#define NATPMP_VERSION		0
#define NATPMP_OP_ADDRESS	0
#define NATPMP_OP_MAP_UDP	1
#define NATPMP_OP_MAP_TCP	2
#define NATPMP_RESPONSE		128	/* added to the opcode of the answer */

/* RFC 6886 §3.5 */
enum natpmp_result {
	NATPMP_SUCCESS = 0,
	NATPMP_UNSUPP_VERSION = 1,
	NATPMP_NOT_AUTHORIZED = 2,
	NATPMP_NETWORK_FAILURE = 3,	/* e.g. the WAN has no address */
	NATPMP_NO_RESOURCES = 4,
	NATPMP_UNSUPP_OPCODE = 5,
};

struct natpmp_request {
	uint8_t opcode;
	uint8_t protocol;		/* mapping: 6 or 17 */
	uint16_t internal_port;		/* host order */
	uint16_t ext_port;		/* suggested, host order */
	uint32_t lifetime;
};

struct natpmp_response {
	uint8_t result;			/* enum natpmp_result */
	uint32_t epoch;
	uint32_t ext_addr;		/* address answer, network order */
	uint16_t internal_port;		/* mapping answer, host order */
	uint16_t ext_port;
	uint32_t lifetime;
};

/*
 * Decode a NAT-PMP request (buf[0] == 0). Returns an enum natpmp_result
 * (UNSUPP_OPCODE for an opcode it does not know) or PORTMAP_DROP (too
 * short for its opcode, or a response).
 */
int natpmp_decode_request(const uint8_t *buf, size_t len, struct natpmp_request *req);

/* Encode the answer to req (opcode req->opcode + 128): 12 bytes for the
 * address request, 16 for a mapping, 8 for an error with no body. */
size_t natpmp_encode_response(const struct natpmp_request *req, const struct natpmp_response *resp,
			      uint8_t *out, size_t out_len);

/* An unsolicited public-address announcement (RFC 6886 §3.2.1): 12 bytes. */
size_t natpmp_encode_announce(uint32_t epoch, uint32_t ext_addr, uint8_t *out, size_t out_len);

#endif /* XDPNAT_PCP_CODEC_H */
