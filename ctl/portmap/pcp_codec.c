/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* pcp_codec.c - PCP and NAT-PMP on the wire (see pcp_codec.h). */
#include <string.h>
#include "portmap/pcp_codec.h"

#define PCP_R_BIT	0x80

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
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

/* A 16-byte PCP address: IPv4-mapped (::ffff:a.b.c.d) gives the IPv4
 * address in network order; all zeros gives 0 (RFC 6887 §5: "no
 * preference" is either ::/128 or ::ffff:0.0.0.0); anything else is IPv6,
 * which this IPv4 NAT does not serve. */
static uint32_t get_addr(const uint8_t *p, bool *v6)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t zero[16];
	uint32_t a;

	*v6 = false;
	if (!memcmp(p, zero, 16))
		return 0;
	if (memcmp(p, mapped, 12)) {
		*v6 = true;
		return 0;
	}
	memcpy(&a, p + 12, 4);
	return a;
}

static void put_addr(uint8_t *p, uint32_t addr)
{
	memset(p, 0, 10);
	p[10] = p[11] = 0xff;
	memcpy(p + 12, &addr, 4);
}

/* Options after the opcode data (RFC 6887 §7.3): each a 4-byte header and
 * its data padded to 4. */
static int decode_options(const uint8_t *p, size_t len, struct pcp_request *req)
{
	while (len > 0) {
		uint8_t code;
		size_t olen, padded;

		if (len < 4)
			return PCP_MALFORMED_OPTION;
		code = p[0];
		olen = get16(p + 2);
		padded = (olen + 3) & ~(size_t)3;
		if (padded > len - 4)
			return PCP_MALFORMED_OPTION;
		switch (code) {
		case PCP_OPT_THIRD_PARTY:
			if (olen != 16 || req->third_party || req->opcode == PCP_OP_ANNOUNCE)
				return PCP_MALFORMED_OPTION;
			req->third_party = true;	/* the server refuses it */
			break;
		case PCP_OPT_PREFER_FAILURE:
			if (olen != 0 || req->prefer_failure || req->opcode != PCP_OP_MAP)
				return PCP_MALFORMED_OPTION;
			req->prefer_failure = true;
			break;
		case PCP_OPT_FILTER:
			if (olen != 20 || req->opcode != PCP_OP_MAP)
				return PCP_MALFORMED_OPTION;
			req->filter = true;	/* understood, not offered: the server refuses */
			break;
		default:
			if (code < 128)	/* mandatory to process */
				return PCP_UNSUPP_OPTION;
			break;		/* optional: ignored */
		}
		p += 4 + padded;
		len -= 4 + padded;
	}
	return PCP_SUCCESS;
}

int pcp_decode_request(const uint8_t *buf, size_t len, struct pcp_request *req)
{
	size_t need;

	memset(req, 0, sizeof(*req));
	if (len < 4 || (buf[1] & PCP_R_BIT))
		return PORTMAP_DROP;
	req->opcode = buf[1] & 0x7f;
	if (buf[0] != PCP_VERSION)
		return PCP_UNSUPP_VERSION;
	if (len < PCP_HDR_LEN || len > PCP_MAX_LEN || len % 4)
		return PCP_MALFORMED_REQUEST;
	req->lifetime = get32(buf + 4);
	req->client_addr = get_addr(buf + 8, &req->client_v6);
	switch (req->opcode) {
	case PCP_OP_ANNOUNCE:
		need = 0;
		break;
	case PCP_OP_MAP:
		need = PCP_MAP_LEN;
		break;
	case PCP_OP_PEER:
		need = PCP_PEER_LEN;
		break;
	default:
		return PCP_UNSUPP_OPCODE;
	}
	if (len - PCP_HDR_LEN < need)
		return PCP_MALFORMED_REQUEST;
	if (need) {
		const uint8_t *d = buf + PCP_HDR_LEN;

		memcpy(req->nonce, d, PCP_NONCE_LEN);
		req->protocol = d[12];
		req->internal_port = get16(d + 16);
		req->ext_port = get16(d + 18);
		req->ext_addr = get_addr(d + 20, &req->ext_v6);
		/* protocol 0 means every protocol, so every port (§11.1) */
		if (req->protocol == 0 && req->internal_port)
			return PCP_MALFORMED_REQUEST;
		if (req->opcode == PCP_OP_PEER) {
			req->peer_port = get16(d + 36);
			req->peer_addr = get_addr(d + 40, &req->peer_v6);
			/* a PEER names one flow: a protocol, a port, a peer */
			if (!req->protocol || !req->internal_port || !req->peer_port ||
			    (!req->peer_addr && !req->peer_v6))
				return PCP_MALFORMED_REQUEST;
		}
	}
	return decode_options(buf + PCP_HDR_LEN + need, len - PCP_HDR_LEN - need, req);
}

static void encode_header(uint8_t *out, uint8_t version, uint8_t opcode,
			  const struct pcp_response *resp)
{
	memset(out, 0, PCP_HDR_LEN);
	out[0] = version;
	out[1] = PCP_R_BIT | (opcode & 0x7f);
	out[3] = resp->result;
	put32(out + 4, resp->lifetime);
	put32(out + 8, resp->epoch);
}

size_t pcp_encode_response(const uint8_t *req_buf, size_t req_len, const struct pcp_request *req,
			   const struct pcp_response *resp, uint8_t *out, size_t out_len)
{
	size_t len;

	if (out_len < PCP_MAX_LEN)
		return 0;
	if (resp->result == PCP_UNSUPP_VERSION) {
		/* only the header, with the version this server speaks (§9) */
		encode_header(out, PCP_VERSION, req->opcode, resp);
		return PCP_HDR_LEN;
	}
	if (resp->result != PCP_SUCCESS) {
		/* the request as it came, up to 1100 bytes, padded to 4,
		 * at least a header; then the header overwritten (§8.3) */
		len = req_len > PCP_MAX_LEN ? PCP_MAX_LEN : req_len;
		memset(out, 0, PCP_MAX_LEN);
		memcpy(out, req_buf, len);
		len = (len + 3) & ~(size_t)3;
		if (len < PCP_HDR_LEN)
			len = PCP_HDR_LEN;
		encode_header(out, PCP_VERSION, req->opcode, resp);
		return len;
	}
	encode_header(out, PCP_VERSION, req->opcode, resp);
	len = PCP_HDR_LEN;
	if (req->opcode == PCP_OP_MAP || req->opcode == PCP_OP_PEER) {
		uint8_t *d = out + PCP_HDR_LEN;

		memset(d, 0, PCP_PEER_LEN);
		memcpy(d, req->nonce, PCP_NONCE_LEN);
		d[12] = req->protocol;
		put16(d + 16, req->internal_port);
		put16(d + 18, resp->ext_port);
		put_addr(d + 20, resp->ext_addr);
		len += PCP_MAP_LEN;
		if (req->opcode == PCP_OP_PEER) {
			put16(d + 36, req->peer_port);
			put_addr(d + 40, req->peer_addr);
			len += PCP_PEER_LEN - PCP_MAP_LEN;
		}
	}
	return len;
}

size_t pcp_encode_announce(uint32_t epoch, uint8_t *out, size_t out_len)
{
	struct pcp_response r = { .result = PCP_SUCCESS, .epoch = epoch };

	if (out_len < PCP_HDR_LEN)
		return 0;
	encode_header(out, PCP_VERSION, PCP_OP_ANNOUNCE, &r);
	return PCP_HDR_LEN;
}

/* ---------------------------------------------------------------- NAT-PMP */

int natpmp_decode_request(const uint8_t *buf, size_t len, struct natpmp_request *req)
{
	memset(req, 0, sizeof(*req));
	if (len < 2 || buf[0] != NATPMP_VERSION || buf[1] >= NATPMP_RESPONSE)
		return PORTMAP_DROP;
	req->opcode = buf[1];
	switch (req->opcode) {
	case NATPMP_OP_ADDRESS:
		return NATPMP_SUCCESS;
	case NATPMP_OP_MAP_UDP:
	case NATPMP_OP_MAP_TCP:
		if (len < 12)
			return PORTMAP_DROP;
		req->protocol = req->opcode == NATPMP_OP_MAP_UDP ? 17 : 6;
		req->internal_port = get16(buf + 4);
		req->ext_port = get16(buf + 6);
		req->lifetime = get32(buf + 8);
		return NATPMP_SUCCESS;
	default:
		return NATPMP_UNSUPP_OPCODE;
	}
}

size_t natpmp_encode_response(const struct natpmp_request *req, const struct natpmp_response *resp,
			      uint8_t *out, size_t out_len)
{
	if (out_len < 16)
		return 0;
	memset(out, 0, 16);
	out[0] = NATPMP_VERSION;
	out[1] = (uint8_t)(NATPMP_RESPONSE + req->opcode);
	put16(out + 2, resp->result);
	put32(out + 4, resp->epoch);
	switch (req->opcode) {
	case NATPMP_OP_ADDRESS:
		memcpy(out + 8, &resp->ext_addr, 4);
		return 12;
	case NATPMP_OP_MAP_UDP:
	case NATPMP_OP_MAP_TCP:
		put16(out + 8, resp->internal_port);
		put16(out + 10, resp->ext_port);
		put32(out + 12, resp->lifetime);
		return 16;
	default:
		return 8;
	}
}

size_t natpmp_encode_announce(uint32_t epoch, uint32_t ext_addr, uint8_t *out, size_t out_len)
{
	struct natpmp_request req = { .opcode = NATPMP_OP_ADDRESS };
	struct natpmp_response resp = { .result = NATPMP_SUCCESS, .epoch = epoch,
					.ext_addr = ext_addr };

	return natpmp_encode_response(&req, &resp, out, out_len);
}
