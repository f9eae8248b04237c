/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_pcp_codec.c - ctl/portmap/pcp_codec.c: PCP requests byte by byte
 * (MAP, PEER, ANNOUNCE, every option rule and length rule with its RFC
 * 6887 result code), the responses' exact bytes, and NAT-PMP's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "portmap/pcp_codec.h"

static const uint8_t nonce[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static size_t put_addr(uint8_t *p, const char *a)
{
	memset(p, 0, 16);
	if (a) {
		p[10] = p[11] = 0xff;
		inet_pton(AF_INET, a, p + 12);
	}
	return 16;
}

/* A MAP request from 192.168.0.10: proto, inside port, suggested port. */
static size_t map_req(uint8_t *b, uint32_t lifetime, uint8_t proto, uint16_t port, uint16_t ext)
{
	memset(b, 0, 60);
	b[0] = 2;
	b[1] = PCP_OP_MAP;
	b[4] = (uint8_t)(lifetime >> 24);
	b[5] = (uint8_t)(lifetime >> 16);
	b[6] = (uint8_t)(lifetime >> 8);
	b[7] = (uint8_t)lifetime;
	put_addr(b + 8, "192.168.0.10");
	memcpy(b + 24, nonce, 12);
	b[36] = proto;
	b[40] = (uint8_t)(port >> 8);
	b[41] = (uint8_t)port;
	b[42] = (uint8_t)(ext >> 8);
	b[43] = (uint8_t)ext;
	put_addr(b + 44, NULL);
	return 60;
}

static size_t add_opt(uint8_t *b, size_t len, uint8_t code, uint16_t olen)
{
	b[len] = code;
	b[len + 1] = 0;
	b[len + 2] = (uint8_t)(olen >> 8);
	b[len + 3] = (uint8_t)olen;
	memset(b + len + 4, 0, (olen + 3u) & ~3u);
	return len + 4 + ((olen + 3u) & ~3u);
}

static void test_map_ok(void **state)
{
	uint8_t b[PCP_MAX_LEN];
	struct pcp_request q;
	size_t n = map_req(b, 3600, 17, 9000, 20000);
	uint32_t client;

	(void)state;
	inet_pton(AF_INET, "192.168.0.10", &client);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_int_equal(q.opcode, PCP_OP_MAP);
	assert_int_equal(q.lifetime, 3600);
	assert_int_equal(q.client_addr, client);
	assert_false(q.client_v6);
	assert_memory_equal(q.nonce, nonce, 12);
	assert_int_equal(q.protocol, 17);
	assert_int_equal(q.internal_port, 9000);
	assert_int_equal(q.ext_port, 20000);
	assert_int_equal(q.ext_addr, 0);
	assert_false(q.ext_v6 || q.third_party || q.prefer_failure || q.filter);
	/* all-zero (::) as "no preference" works like ::ffff:0.0.0.0 */
	memset(b + 44, 0, 16);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_false(q.ext_v6);
	/* an IPv6 client address is reported, not refused by the codec */
	b[8] = 0x20;
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_true(q.client_v6);
}

static void test_lengths(void **state)
{
	uint8_t b[PCP_MAX_LEN + 8];
	struct pcp_request q;
	size_t n = map_req(b, 60, 6, 80, 0);

	(void)state;
	/* too short to answer, or a response: dropped */
	assert_int_equal(pcp_decode_request(b, 0, &q), PORTMAP_DROP);
	assert_int_equal(pcp_decode_request(b, 3, &q), PORTMAP_DROP);
	b[1] |= 0x80;
	assert_int_equal(pcp_decode_request(b, n, &q), PORTMAP_DROP);
	b[1] &= 0x7f;
	/* shorter than a header, not a multiple of 4, truncated opcode data */
	assert_int_equal(pcp_decode_request(b, 20, &q), PCP_MALFORMED_REQUEST);
	assert_int_equal(pcp_decode_request(b, 58, &q), PCP_MALFORMED_REQUEST);
	assert_int_equal(pcp_decode_request(b, 56, &q), PCP_MALFORMED_REQUEST);
	assert_int_equal(pcp_decode_request(b, 24, &q), PCP_MALFORMED_REQUEST);
	/* longer than 1100 */
	memset(b + n, 0, sizeof(b) - n);
	assert_int_equal(pcp_decode_request(b, PCP_MAX_LEN + 4, &q), PCP_MALFORMED_REQUEST);
	/* a request padded with an optional option up to exactly 1100 is fine */
	n = add_opt(b, n, 200, (uint16_t)(PCP_MAX_LEN - n - 4));
	assert_int_equal(n, PCP_MAX_LEN);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
}

static void test_version_opcode(void **state)
{
	uint8_t b[64];
	struct pcp_request q;
	size_t n = map_req(b, 60, 6, 80, 0);

	(void)state;
	b[0] = 1;
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_UNSUPP_VERSION);
	b[0] = 3;
	assert_int_equal(pcp_decode_request(b, 4, &q), PCP_UNSUPP_VERSION);
	b[0] = 2;
	b[1] = 3;	/* AUTHENTICATION: not offered */
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_UNSUPP_OPCODE);
	b[1] = 0x7f;
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_UNSUPP_OPCODE);
	b[1] = PCP_OP_ANNOUNCE;
	assert_int_equal(pcp_decode_request(b, 24, &q), PCP_SUCCESS);
	assert_int_equal(q.opcode, PCP_OP_ANNOUNCE);
}

static void test_map_fields(void **state)
{
	uint8_t b[64];
	struct pcp_request q;
	size_t n;

	(void)state;
	/* protocol 0 (all) with a port is malformed (RFC 6887 §11.1) */
	n = map_req(b, 60, 0, 80, 0);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_REQUEST);
	n = map_req(b, 0, 0, 0, 0);	/* delete everything: fine */
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_int_equal(q.lifetime, 0);
	/* a suggested IPv6 external address is flagged */
	n = map_req(b, 60, 6, 80, 0);
	b[44] = 0x20;
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_true(q.ext_v6);
}

static void test_options(void **state)
{
	uint8_t b[128];
	struct pcp_request q;
	size_t n;

	(void)state;
	n = add_opt(b, map_req(b, 60, 6, 80, 0), PCP_OPT_THIRD_PARTY, 16);
	put_addr(b + 64, "192.168.0.20");
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_true(q.third_party);
	/* twice, or the wrong length */
	n = add_opt(b, n, PCP_OPT_THIRD_PARTY, 16);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_OPTION);
	n = add_opt(b, map_req(b, 60, 6, 80, 0), PCP_OPT_THIRD_PARTY, 4);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_OPTION);

	n = add_opt(b, map_req(b, 60, 6, 80, 0), PCP_OPT_PREFER_FAILURE, 0);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_true(q.prefer_failure);
	n = add_opt(b, n, PCP_OPT_PREFER_FAILURE, 0);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_OPTION);

	n = add_opt(b, map_req(b, 60, 6, 80, 0), PCP_OPT_FILTER, 20);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_true(q.filter);
	n = add_opt(b, map_req(b, 60, 6, 80, 0), PCP_OPT_FILTER, 8);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_OPTION);

	/* an unknown mandatory option is refused, an optional one ignored */
	n = add_opt(b, map_req(b, 60, 6, 80, 0), 64, 4);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_UNSUPP_OPTION);
	n = add_opt(b, map_req(b, 60, 6, 80, 0), 128, 4);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);

	/* an option whose length runs past the end; a bare 4-byte remnant */
	n = add_opt(b, map_req(b, 60, 6, 80, 0), 128, 4);
	b[62] = 0;
	b[63] = 40;
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_OPTION);
	n = map_req(b, 60, 6, 80, 0);
	memset(b + n, 0xff, 4);
	b[n] = 130;
	assert_int_equal(pcp_decode_request(b, n + 4, &q), PCP_MALFORMED_OPTION);

	/* ANNOUNCE takes no THIRD_PARTY, PEER no PREFER_FAILURE */
	map_req(b, 0, 0, 0, 0);
	b[1] = PCP_OP_ANNOUNCE;
	n = add_opt(b, 24, PCP_OPT_THIRD_PARTY, 16);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_OPTION);
}

static size_t peer_req(uint8_t *b)
{
	map_req(b, 60, 17, 5060, 0);
	b[1] = PCP_OP_PEER;
	b[60] = 0x13;
	b[61] = 0xc4;	/* peer port 5060 */
	put_addr(b + 64, "203.0.113.10");
	return 80;
}

static void test_peer(void **state)
{
	uint8_t b[128];
	struct pcp_request q;
	uint32_t peer;
	size_t n = peer_req(b);

	(void)state;
	inet_pton(AF_INET, "203.0.113.10", &peer);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	assert_int_equal(q.opcode, PCP_OP_PEER);
	assert_int_equal(q.peer_port, 5060);
	assert_int_equal(q.peer_addr, peer);
	assert_int_equal(pcp_decode_request(b, 76, &q), PCP_MALFORMED_REQUEST);
	b[61] = b[60] = 0;	/* no peer port */
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_REQUEST);
	n = add_opt(b, peer_req(b), PCP_OPT_PREFER_FAILURE, 0);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_MALFORMED_OPTION);
}

static void test_encode_success(void **state)
{
	uint8_t b[64], out[PCP_MAX_LEN];
	struct pcp_request q;
	struct pcp_response r = { .result = PCP_SUCCESS, .lifetime = 600, .epoch = 77,
				  .ext_port = 20001 };
	size_t n = map_req(b, 600, 17, 9000, 0), len;
	static const uint8_t hdr[24] = { 2, 0x81, 0, 0, 0, 0, 2, 0x58, 0, 0, 0, 77 };
	static const uint8_t tail[24] = { 17, 0, 0, 0, 0x23, 0x28, 0x4e, 0x21, 0, 0, 0, 0,
					  0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 1 };

	(void)state;
	inet_pton(AF_INET, "198.51.100.1", &r.ext_addr);
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_SUCCESS);
	len = pcp_encode_response(b, n, &q, &r, out, sizeof(out));
	assert_int_equal(len, 60);
	assert_memory_equal(out, hdr, 24);
	assert_memory_equal(out + 24, nonce, 12);
	assert_memory_equal(out + 36, tail, 24);
	/* too small an output buffer: nothing */
	assert_int_equal(pcp_encode_response(b, n, &q, &r, out, 100), 0);
}

static void test_encode_error(void **state)
{
	uint8_t b[PCP_MAX_LEN + 8], out[PCP_MAX_LEN];
	struct pcp_request q;
	struct pcp_response r = { .result = PCP_MALFORMED_REQUEST, .lifetime = 1800, .epoch = 5 };
	size_t n = map_req(b, 600, 17, 9000, 0), len;

	(void)state;
	/* a truncated MAP: the request copied, padded to 4, header overwritten */
	assert_int_equal(pcp_decode_request(b, 42, &q), PCP_MALFORMED_REQUEST);
	len = pcp_encode_response(b, 42, &q, &r, out, sizeof(out));
	assert_int_equal(len, 44);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 0x81);
	assert_int_equal(out[3], PCP_MALFORMED_REQUEST);
	assert_int_equal(out[11], 5);
	assert_memory_equal(out + 24, nonce, 12);
	assert_int_equal(out[42], 0);
	assert_int_equal(out[43], 0);
	/* shorter than a header: answered with a header */
	assert_int_equal(pcp_encode_response(b, 8, &q, &r, out, sizeof(out)), 24);
	/* longer than 1100: cut at 1100 */
	memset(b + n, 0x55, sizeof(b) - n);
	assert_int_equal(pcp_encode_response(b, PCP_MAX_LEN + 8, &q, &r, out, sizeof(out)),
			 PCP_MAX_LEN);
	/* UNSUPP_VERSION: a bare header naming version 2 */
	b[0] = 7;
	assert_int_equal(pcp_decode_request(b, n, &q), PCP_UNSUPP_VERSION);
	r.result = PCP_UNSUPP_VERSION;
	assert_int_equal(pcp_encode_response(b, n, &q, &r, out, sizeof(out)), 24);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[3], PCP_UNSUPP_VERSION);
}

static void test_announce(void **state)
{
	uint8_t out[32];
	static const uint8_t want[24] = { 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00 };

	(void)state;
	assert_int_equal(pcp_encode_announce(256, out, sizeof(out)), 24);
	assert_memory_equal(out, want, 24);
	assert_int_equal(pcp_encode_announce(256, out, 23), 0);
}

static void test_natpmp(void **state)
{
	uint8_t b[16] = { 0, 0 }, out[16];
	struct natpmp_request q;
	struct natpmp_response r = { .result = NATPMP_SUCCESS, .epoch = 9 };
	static const uint8_t addr_ans[12] = { 0, 128, 0, 0, 0, 0, 0, 9, 198, 51, 100, 1 };
	static const uint8_t map_ans[16] = { 0, 130, 0, 0, 0, 0, 0, 9,
					     0x1f, 0x40, 0x4e, 0x2a, 0, 0, 0x0e, 0x10 };
	static const uint8_t map_req_tcp[12] = { 0, 2, 0, 0, 0x1f, 0x40, 0x4e, 0x2a,
						 0, 0, 0x0e, 0x10 };

	(void)state;
	inet_pton(AF_INET, "198.51.100.1", &r.ext_addr);
	assert_int_equal(natpmp_decode_request(b, 2, &q), NATPMP_SUCCESS);
	assert_int_equal(q.opcode, NATPMP_OP_ADDRESS);
	assert_int_equal(natpmp_encode_response(&q, &r, out, sizeof(out)), 12);
	assert_memory_equal(out, addr_ans, 12);

	assert_int_equal(natpmp_decode_request(map_req_tcp, 12, &q), NATPMP_SUCCESS);
	assert_int_equal(q.protocol, 6);
	assert_int_equal(q.internal_port, 8000);
	assert_int_equal(q.ext_port, 20010);
	assert_int_equal(q.lifetime, 3600);
	r.internal_port = 8000;
	r.ext_port = 20010;
	r.lifetime = 3600;
	assert_int_equal(natpmp_encode_response(&q, &r, out, sizeof(out)), 16);
	assert_memory_equal(out, map_ans, 16);

	/* truncated, a response, not version 0: dropped */
	assert_int_equal(natpmp_decode_request(map_req_tcp, 11, &q), PORTMAP_DROP);
	assert_int_equal(natpmp_decode_request(b, 1, &q), PORTMAP_DROP);
	b[1] = 128;
	assert_int_equal(natpmp_decode_request(b, 2, &q), PORTMAP_DROP);
	b[0] = 2;
	b[1] = 0;
	assert_int_equal(natpmp_decode_request(b, 2, &q), PORTMAP_DROP);
	/* an unknown opcode: UNSUPP_OPCODE, answered with 8 bytes */
	b[0] = 0;
	b[1] = 9;
	assert_int_equal(natpmp_decode_request(b, 2, &q), NATPMP_UNSUPP_OPCODE);
	r.result = NATPMP_UNSUPP_OPCODE;
	assert_int_equal(natpmp_encode_response(&q, &r, out, sizeof(out)), 8);
	assert_int_equal(out[1], 137);
	assert_int_equal(out[3], NATPMP_UNSUPP_OPCODE);

	assert_int_equal(natpmp_encode_announce(9, r.ext_addr, out, sizeof(out)), 12);
	assert_memory_equal(out, addr_ans, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_ok),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_version_opcode),
		cmocka_unit_test(test_map_fields),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_encode_success),
		cmocka_unit_test(test_encode_error),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_natpmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
