/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target for the PCP/NAT-PMP codec (ctl/portmap/pcp_codec.c):
 * any datagram a LAN host may send to UDP 5351.
 *
 * Input: the datagram as received (tests/fuzz/corpus/pcp_codec/ has a
 * MAP, a PEER, an ANNOUNCE, options, NAT-PMP requests).
 *
 * Invariants checked:
 *   - the decoders read nothing past the datagram (ASan) and return a
 *     result code of their protocol or PORTMAP_DROP;
 *   - a PCP request decoded SUCCESS is one of the three opcodes, has
 *     a length within 24..1100 and a multiple of 4;
 *   - every answer fits its buffer: a PCP response is 24..1100 bytes, a
 *     multiple of 4, R bit set, version 2, and echoes the nonce of a MAP
 *     or PEER; a NAT-PMP response is 8, 12 or 16 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portmap/pcp_codec.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_pcp(const uint8_t *data, size_t size)
{
	static uint8_t out[PCP_MAX_LEN];
	struct pcp_request q;
	struct pcp_response r = { .lifetime = 60, .epoch = 1, .ext_port = 20000,
				  .ext_addr = 0x01020304 };
	int rc = pcp_decode_request(data, size, &q);
	size_t n;

	if (rc == PORTMAP_DROP)
		return;
	check(rc >= PCP_SUCCESS && rc <= PCP_EXCESSIVE_REMOTE_PEERS);
	if (rc == PCP_SUCCESS) {
		check(q.opcode <= PCP_OP_PEER);
		check(size >= PCP_HDR_LEN && size <= PCP_MAX_LEN && size % 4 == 0);
	}
	/* answer it as the server would, and with an error too */
	for (int pass = 0; pass < 2; pass++) {
		r.result = (uint8_t)(pass ? PCP_NO_RESOURCES : rc);
		n = pcp_encode_response(data, size, &q, &r, out, sizeof(out));
		check(n >= PCP_HDR_LEN && n <= PCP_MAX_LEN && n % 4 == 0);
		check(out[0] == PCP_VERSION && (out[1] & 0x80) && out[3] == r.result);
		if (rc == PCP_SUCCESS && !pass && q.opcode != PCP_OP_ANNOUNCE)
			check(!memcmp(out + PCP_HDR_LEN, q.nonce, PCP_NONCE_LEN));
	}
}

static void fuzz_natpmp(const uint8_t *data, size_t size)
{
	uint8_t out[16];
	struct natpmp_request q;
	struct natpmp_response r = { .epoch = 1, .ext_addr = 0x01020304, .ext_port = 1 };
	int rc = natpmp_decode_request(data, size, &q);
	size_t n;

	if (rc == PORTMAP_DROP)
		return;
	check(rc == NATPMP_SUCCESS || rc == NATPMP_UNSUPP_OPCODE);
	r.result = (uint8_t)rc;
	n = natpmp_encode_response(&q, &r, out, sizeof(out));
	check(n == 8 || n == 12 || n == 16);
	check(out[0] == 0 && out[1] == (uint8_t)(128 + q.opcode));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy exactly the datagram's size: ASan sees any read past it */
	uint8_t *d = malloc(size ? size : 1);

	if (!d)
		return 0;
	memcpy(d, data, size);
	if (size && d[0] == NATPMP_VERSION)
		fuzz_natpmp(d, size);
	else
		fuzz_pcp(d, size);
	free(d);
	return 0;
}
