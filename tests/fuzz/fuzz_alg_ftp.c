/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target for the FTP ALG core (ctl/alg_ftp.c).
 *
 * Input format (tests/fuzz/corpus/alg_ftp/ has realistic sessions):
 *   byte 0   flags: bit0 mode (0 masquerade / 1 forward), bit1 small output
 *            buffer (payload + 0..15 bytes), bit2 map_port fails every
 *            other call, bit3 sequence numbers start near the 2^32 wrap,
 *            bit4 hairpin mode (overrides bit0)
 *   then records, each a header byte h:
 *     h bit7      direction (0 from client, 1 from server)
 *     h bits5..6  0,1: new data, length (h & 31) + 1 (+ 32 if 1), bytes follow
 *                 2:   retransmission of (h & 31) + 1 old bytes starting
 *                      (next byte) + 1 bytes back
 *                 3:   (h & 31) + 1 bytes sent past a hole of (next byte) + 1
 *
 * Invariants checked:
 *   - no EXPECT_OPEN once the conn stopped parsing (opaque / not-ftp), and
 *     GO_OPAQUE at most once;
 *   - every EXPECT_OPEN obeys the bounce rules (the inside host is the
 *     client in case A, the server in case B, in hairpin the client for
 *     PORT/EPRT and the server for 227/229; ports >= 1024);
 *   - output length within the buffer, event count within bounds;
 *   - the receiver never gets one stream position with two different
 *     bytes (retransmissions replay rewrites exactly);
 *   - seq mapping is monotonic and ack mapping never acknowledges more
 *     than the original stream position.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alg/alg_ftp.h"

#define STREAM_MAX	(1u << 16)

struct fz {
	struct alg_ftp_conn c;
	uint8_t flags;
	unsigned map_calls;
	uint16_t next_port;
	uint32_t isn[2];
	uint32_t next[2];
	uint8_t sent[2][STREAM_MAX];	/* original stream, by offset from isn */
	uint8_t rx[2][STREAM_MAX];	/* receiver, translated, by offset from isn */
	uint8_t rx_set[2][STREAM_MAX];
	uint8_t out[4096];
	int opaque_events;
	bool trace;			/* ALG_FUZZ_TRACE=1: print each step (triage) */
};

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static int fz_map_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *port)
{
	struct fz *f = ctx;

	CHECK(req->proto == 6);
	if ((f->flags & 4) && (f->map_calls++ & 1))
		return -1;
	*port = f->next_port;
	f->next_port = (uint16_t)(f->next_port * 7 + 1);
	if (!f->next_port)
		f->next_port = 1;
	return 0;
}

static void fz_init(struct fz *f, uint8_t flags)
{
	struct alg_ftp_nat nat = { 0 };

	memset(f, 0, sizeof(*f));
	f->flags = flags;
	f->next_port = 40000;
	if (flags & 16) {
		nat.mode = ALG_FTP_HAIRPIN;
		nat.client_addr = htonl(0xc0a8000a);				/* 192.168.0.10 */
		nat.client_outside = htonl(0x3b41aef0);				/* 59.65.174.240 */
		nat.server_addr = htonl(0xc0a800fe);				/* 192.168.0.254 */
		nat.server_outside = htonl(0x3b41aef0);
	} else if (flags & 1) {
		nat.mode = ALG_FTP_FORWARD;
		nat.client_addr = nat.client_outside = htonl(0xc6336407);	/* 198.51.100.7 */
		nat.server_addr = htonl(0xc0a800fe);				/* 192.168.0.254 */
		nat.server_outside = htonl(0x3b41aef0);				/* 59.65.174.240 */
	} else {
		nat.mode = ALG_FTP_MASQ;
		nat.client_addr = htonl(0xc0a8000a);				/* 192.168.0.10 */
		nat.client_outside = htonl(0x3b41aef0);
		nat.server_addr = nat.server_outside = htonl(0xcb007105);	/* 203.0.113.5 */
	}
	alg_ftp_init(&f->c, &nat, fz_map_port, f);
	f->isn[0] = (flags & 8) ? 0xffffff00u : 1000;
	f->isn[1] = (flags & 8) ? 0xfffffff0u : 500000;
	f->next[0] = f->isn[0];
	f->next[1] = f->isn[1];
	alg_ftp_set_isn(&f->c, ALG_FTP_FROM_CLIENT, f->isn[0] - 1);
	alg_ftp_set_isn(&f->c, ALG_FTP_FROM_SERVER, f->isn[1] - 1);
}

static void check_event(struct fz *f, const struct alg_ftp_event *ev, bool *opaque_seen)
{
	const struct alg_ftp_nat *nat = &f->c.nat;

	if (ev->kind == ALG_FTP_EV_GO_OPAQUE) {
		CHECK(++f->opaque_events == 1);
		*opaque_seen = true;
		return;
	}
	CHECK(ev->kind == ALG_FTP_EV_EXPECT_OPEN || ev->kind == ALG_FTP_EV_EXPECT_CANCEL);
	if (ev->kind != ALG_FTP_EV_EXPECT_OPEN)
		return;
	CHECK(!*opaque_seen);
	CHECK(ev->inside_port_host >= ALG_FTP_PORT_MIN);
	CHECK(ev->outside_port_host != 0);
	if (nat->mode == ALG_FTP_HAIRPIN) {
		bool active = ev->source == ALG_FTP_SRC_PORT || ev->source == ALG_FTP_SRC_EPRT;

		CHECK(ev->inside_addr == (active ? nat->client_addr : nat->server_addr));
		CHECK(ev->remote_addr == (active ? nat->server_addr : nat->client_addr));
		CHECK(ev->outside_addr == (active ? nat->client_outside : nat->server_outside));
	} else if (nat->mode == ALG_FTP_MASQ) {
		CHECK(ev->inside_addr == nat->client_addr);
		CHECK(ev->remote_addr == nat->server_addr);
		CHECK(ev->outside_addr == nat->client_outside);
	} else {
		CHECK(ev->inside_addr == nat->server_addr);
		CHECK(ev->remote_addr == nat->client_addr);
		CHECK(ev->outside_addr == nat->server_outside);
	}
}

static void deliver(struct fz *f, int dir, const struct alg_ftp_result *res,
		    const uint8_t *p, size_t n)
{
	uint32_t base = f->isn[dir];	/* nothing is rewritten before the first byte */
	size_t i;

	if (res->verdict == ALG_FTP_DROP)
		return;
	if (res->verdict == ALG_FTP_REWRITTEN) {
		p = f->out;
		n = res->out_len;
	}
	for (i = 0; i < n; i++) {
		uint32_t at = res->seq + (uint32_t)i - base;

		if (at >= STREAM_MAX)
			continue;
		if (f->rx_set[dir][at])
			CHECK(f->rx[dir][at] == p[i]);
		f->rx[dir][at] = p[i];
		f->rx_set[dir][at] = 1;
	}
}

static void send_seg(struct fz *f, int dir, uint32_t seq, const uint8_t *p, size_t n,
		     size_t cap)
{
	struct alg_ftp_result res;
	bool stopped = alg_ftp_get_state(&f->c) >= ALG_FTP_ST_OPAQUE;
	bool opaque_seen = stopped;
	unsigned i;

	alg_ftp_process(&f->c, (enum alg_ftp_dir)dir, seq, p, n, f->out, cap, &res);
	if (f->trace) {
		fprintf(stderr, "%s seq %u len %zu -> verdict %d seq %u out %zu events %u state %s",
			dir ? "S>" : "C>", seq - f->isn[dir], n, res.verdict, res.seq - f->isn[dir],
			res.out_len, res.n_events, alg_ftp_state_name(alg_ftp_get_state(&f->c)));
		for (i = 0; i < res.n_events; i++)
			fprintf(stderr, " [%s port %u->%u]", alg_ftp_event_name(res.ev[i].kind),
				res.ev[i].outside_port_host, res.ev[i].inside_port_host);
		if (res.verdict == ALG_FTP_REWRITTEN)
			fprintf(stderr, " \"%.*s\"", (int)res.out_len, (const char *)f->out);
		fprintf(stderr, "\n");
	}
	CHECK(res.n_events <= ALG_FTP_MAX_EVENTS);
	if (stopped)
		CHECK(res.n_events == 0);
	for (i = 0; i < res.n_events; i++)
		check_event(f, &res.ev[i], &opaque_seen);
	if (res.verdict == ALG_FTP_REWRITTEN)
		CHECK(res.out_len <= cap);
	deliver(f, dir, &res, p, n);
}

static void check_mapping(struct fz *f, int dir)
{
	uint32_t s, prev = 0;
	uint32_t span = f->next[dir] - f->isn[dir];
	uint32_t step = span / 64 + 1;

	for (s = 0; s <= span; s += step) {
		uint32_t o = alg_ftp_seq_out(&f->c, (enum alg_ftp_dir)dir, f->isn[dir] + s);
		uint32_t back = alg_ftp_ack_in(&f->c, (enum alg_ftp_dir)!dir, o);

		if (s)
			CHECK((int32_t)(o - prev) >= 0);
		CHECK((int32_t)(back - (f->isn[dir] + s)) <= 0);
		prev = o;
	}
	CHECK(alg_ftp_ack_in(&f->c, (enum alg_ftp_dir)!dir,
			     alg_ftp_seq_out(&f->c, (enum alg_ftp_dir)dir, f->next[dir])) == f->next[dir]);
}

static size_t pick_cap(const struct fz *f, size_t n, uint8_t h)
{
	if (!(f->flags & 2))
		return sizeof(f->out);
	return n + (h & 15);
}

/* New bytes at the end of the stream. */
static void op_new(struct fz *f, int dir, const uint8_t *p, size_t n, uint8_t h)
{
	uint32_t off = f->next[dir] - f->isn[dir];
	uint32_t before = f->next[dir];

	if (off + n >= STREAM_MAX)
		return;
	memcpy(&f->sent[dir][off], p, n);
	send_seg(f, dir, f->next[dir], p, n, pick_cap(f, n, h));
	f->next[dir] = before + (uint32_t)n;
}

static void op_retrans(struct fz *f, int dir, unsigned back, size_t n, uint8_t h)
{
	uint32_t have = f->next[dir] - f->isn[dir];
	uint32_t off;

	if (have == 0)
		return;
	if (back > have)
		back = have;
	off = have - back;
	if (n > have - off)
		n = have - off;
	send_seg(f, dir, f->isn[dir] + off, &f->sent[dir][off], n, pick_cap(f, n, h));
}

static void op_future(struct fz *f, int dir, unsigned gap, const uint8_t *p, size_t n, uint8_t h)
{
	uint32_t off = f->next[dir] - f->isn[dir] + gap;
	struct alg_ftp_result res;

	if (off + n >= STREAM_MAX)
		return;
	alg_ftp_process(&f->c, (enum alg_ftp_dir)dir, f->isn[dir] + off, p, n, f->out,
			pick_cap(f, n, h), &res);
	if (res.verdict == ALG_FTP_DROP)
		return;
	/* the ALG no longer parses: it takes the hole as given */
	CHECK(alg_ftp_get_state(&f->c) >= ALG_FTP_ST_OPAQUE);
	memcpy(&f->sent[dir][off], p, n);
	deliver(f, dir, &res, p, n);
	f->next[dir] = f->isn[dir] + off + (uint32_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;		/* big: keep it off the stack */
	size_t i = 1;

	if (size < 1)
		return 0;
	fz_init(&f, data[0]);
	f.trace = getenv("ALG_FUZZ_TRACE") != NULL;
	while (i < size) {
		uint8_t h = data[i++];
		int dir = h >> 7, kind = (h >> 5) & 3;
		size_t n = (size_t)(h & 31) + 1;

		if (kind == 1)
			n += 32;
		if (kind <= 1) {
			if (n > size - i)
				n = size - i;
			if (n)
				op_new(&f, dir, data + i, n, h);
			i += n;
		} else if (kind == 2) {
			unsigned back = i < size ? (unsigned)data[i++] + 1 : 1;

			op_retrans(&f, dir, back, n, h);
		} else {
			unsigned gap = i < size ? (unsigned)data[i++] + 1 : 1;

			if (n > size - i)
				n = size - i;
			if (n)
				op_future(&f, dir, gap, data + i, n, h);
			i += n;
		}
	}
	check_mapping(&f, 0);
	check_mapping(&f, 1);
	return 0;
}
