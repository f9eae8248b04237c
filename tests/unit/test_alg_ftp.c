/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for the FTP ALG protocol core (ctl/alg_ftp.c).
 *
 * The harness plays both ends of a control connection: each feed() sends
 * text in one direction at the next sequence number of that direction and
 * writes what the ALG lets through into a model of the receiver's stream
 * (translated sequence space), checking that no byte is ever delivered
 * twice with two different values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "alg/alg_ftp.h"

#define C_ADDR	"192.168.0.10"		/* case A: LAN client */
#define W_ADDR	"59.65.174.240"		/* WAN address */
#define S_PUB	"203.0.113.5"		/* case A: Internet server */
#define R_ADDR	"198.51.100.7"		/* case B: Internet client */
#define S_IN	"192.168.0.254"		/* case B: server inside */

#define RX_MAX	8192

struct t {
	struct alg_ftp_conn c;
	uint32_t isn[2];		/* seq of the first data byte, original */
	uint32_t next[2];		/* next original seq to send */
	uint8_t rx[2][RX_MAX];		/* receiver's stream, translated space */
	uint8_t rx_set[2][RX_MAX];
	uint8_t out[2048];
	size_t out_cap;
	struct alg_ftp_result res;
	/* map_port */
	int map_calls;
	int map_fail;
	uint16_t map_next;
	struct alg_ftp_map_req map_req;
};

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static int map_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *port)
{
	struct t *t = ctx;

	t->map_calls++;
	t->map_req = *req;
	if (t->map_fail)
		return -1;
	*port = t->map_next++;
	return 0;
}

static void t_init(struct t *t, enum alg_ftp_mode mode, uint32_t isn_c, uint32_t isn_s)
{
	struct alg_ftp_nat nat = { .mode = mode };

	memset(t, 0, sizeof(*t));
	if (mode == ALG_FTP_MASQ) {
		nat.client_addr = ip(C_ADDR);
		nat.client_outside = ip(W_ADDR);
		nat.server_addr = nat.server_outside = ip(S_PUB);
	} else if (mode == ALG_FTP_HAIRPIN) {
		nat.client_addr = ip(C_ADDR);
		nat.client_outside = ip(W_ADDR);
		nat.server_addr = ip(S_IN);
		nat.server_outside = ip(W_ADDR);
	} else {
		nat.client_addr = nat.client_outside = ip(R_ADDR);
		nat.server_addr = ip(S_IN);
		nat.server_outside = ip(W_ADDR);
	}
	alg_ftp_init(&t->c, &nat, map_port, t);
	t->isn[0] = t->next[0] = isn_c;
	t->isn[1] = t->next[1] = isn_s;
	alg_ftp_set_isn(&t->c, ALG_FTP_FROM_CLIENT, isn_c - 1);
	alg_ftp_set_isn(&t->c, ALG_FTP_FROM_SERVER, isn_s - 1);
	t->map_next = 40000;
	t->out_cap = sizeof(t->out);
}

/* Deliver what the ALG forwarded into the receiver model. */
static void t_deliver(struct t *t, int dir, const uint8_t *p, size_t n)
{
	uint32_t base = t->isn[dir];	/* nothing is rewritten before the first byte */
	size_t i;

	if (t->res.verdict == ALG_FTP_DROP)
		return;
	if (t->res.verdict == ALG_FTP_REWRITTEN) {
		p = t->out;
		n = t->res.out_len;
	}
	for (i = 0; i < n; i++) {
		uint32_t at = t->res.seq + (uint32_t)i - base;

		assert_true(at < RX_MAX);
		if (t->rx_set[dir][at])
			assert_int_equal(t->rx[dir][at], p[i]);
		t->rx[dir][at] = p[i];
		t->rx_set[dir][at] = 1;
	}
}

/* Send len bytes at original seq. */
static enum alg_ftp_verdict t_send_at(struct t *t, int dir, uint32_t seq, const void *p, size_t n)
{
	alg_ftp_process(&t->c, dir, seq, p, n, t->out, t->out_cap, &t->res);
	assert_true(t->res.n_events <= ALG_FTP_MAX_EVENTS);
	if (t->res.verdict == ALG_FTP_REWRITTEN)
		assert_true(t->res.out_len <= t->out_cap);
	t_deliver(t, dir, p, n);
	return t->res.verdict;
}

static enum alg_ftp_verdict feed(struct t *t, int dir, const char *text)
{
	size_t n = strlen(text);
	enum alg_ftp_verdict v = t_send_at(t, dir, t->next[dir], text, n);

	if (v != ALG_FTP_DROP)
		t->next[dir] += (uint32_t)n;
	return v;
}

static enum alg_ftp_verdict cl(struct t *t, const char *s)
{
	return feed(t, ALG_FTP_FROM_CLIENT, s);
}

static enum alg_ftp_verdict sv(struct t *t, const char *s)
{
	return feed(t, ALG_FTP_FROM_SERVER, s);
}

/* The receiver's whole stream so far as a string. */
static const char *rx_str(struct t *t, int dir)
{
	static char buf[RX_MAX + 1];
	size_t i;

	for (i = 0; i < RX_MAX && t->rx_set[dir][i]; i++)
		buf[i] = (char)t->rx[dir][i];
	buf[i] = 0;
	return buf;
}

static const char *out_str(struct t *t)
{
	static char buf[sizeof(t->out) + 1];

	memcpy(buf, t->out, t->res.out_len);
	buf[t->res.out_len] = 0;
	return buf;
}

static void expect_no_events(struct t *t)
{
	assert_int_equal(t->res.n_events, 0);
}

static void expect_open(struct t *t, unsigned i, const char *remote, const char *outside,
			uint16_t oport, const char *inside, uint16_t iport)
{
	const struct alg_ftp_event *ev = &t->res.ev[i];

	assert_true(i < t->res.n_events);
	assert_int_equal(ev->kind, ALG_FTP_EV_EXPECT_OPEN);
	assert_int_equal(ev->remote_addr, ip(remote));
	assert_int_equal(ev->outside_addr, ip(outside));
	assert_int_equal(ev->outside_port_host, oport);
	assert_int_equal(ev->inside_addr, ip(inside));
	assert_int_equal(ev->inside_port_host, iport);
	assert_int_equal(ev->proto, IPPROTO_TCP);
}

static void expect_opaque(struct t *t, enum alg_ftp_opaque_reason why)
{
	assert_int_equal(t->res.n_events, 1);
	assert_int_equal(t->res.ev[0].kind, ALG_FTP_EV_GO_OPAQUE);
	assert_int_equal(t->res.ev[0].reason, why);
}

static void login(struct t *t)
{
	assert_int_equal(sv(t, "220 FileZilla Server ready\r\n"), ALG_FTP_PASS);
	assert_int_equal(alg_ftp_get_state(&t->c), ALG_FTP_ST_INSPECT);
	cl(t, "USER anonymous\r\n");
	sv(t, "331 Password required\r\n");
	cl(t, "PASS x@y\r\n");
	sv(t, "230 Logged on\r\n");
	expect_no_events(t);
}

/* ===================================================================== */
/* Parsers                                                                */

static void test_parse_port_args(void **state)
{
	uint32_t a;
	uint16_t p;
	static const char *bad[] = {
		"", "192,168,0,10,4", "192,168,0,10,4,1,", "192,168,0,10,4,1 ",
		" 192,168,0,10,4,1", "x192,168,0,10,4,1", "256,168,0,10,4,1",
		"192,168,0,10,4,256", "192,168,0,10,3,255", "192,168,0,10,0,21",
		"1920,168,0,10,4,1", "192,,0,10,4,1", "192,168,0,10,4,1\r",
		"-1,168,0,10,4,1", "192.168.0.10,4,1", "0192,168,0,10,4,1",
	};
	size_t i;

	(void)state;
	assert_int_equal(alg_ftp_parse_port_args("192,168,0,10,4,1", 16, &a, &p), 0);
	assert_int_equal(a, ip("192.168.0.10"));
	assert_int_equal(p, 1025);
	assert_int_equal(alg_ftp_parse_port_args("192,168,000,010,255,255", 23, &a, &p), 0);
	assert_int_equal(a, ip("192.168.0.10"));
	assert_int_equal(p, 65535);
	assert_int_equal(alg_ftp_parse_port_args("0,0,0,0,4,0", 11, &a, &p), 0);
	assert_int_equal(p, 1024);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(alg_ftp_parse_port_args(bad[i], strlen(bad[i]), &a, &p), 0);
}

static void test_parse_eprt_args(void **state)
{
	uint32_t a;
	uint16_t p;
	static const char *bad[] = {
		"", "|1|", "|2|::1|5282|", "|1|192.168.0.10|5282", "|1|192.168.0.10|5282||",
		"|1|192.168.0.10|1023|", "|1|192.168.0.10|65536|", "|1|192.168.0.256|5282|",
		"|1|192.168.0|5282|", "|1|192.168.0.10!5282|", "1|1|192.168.0.10|5282|",
		"|1| 192.168.0.10|5282|", "|1|192.168.0.10|5282| ", "1111.2.3.4|5282|",
		"|1|192.168.0.10|052820|",
	};
	size_t i;

	(void)state;
	assert_int_equal(alg_ftp_parse_eprt_args("|1|192.168.0.10|5282|", 21, &a, &p), 0);
	assert_int_equal(a, ip("192.168.0.10"));
	assert_int_equal(p, 5282);
	assert_int_equal(alg_ftp_parse_eprt_args("!1!10.0.0.1!65535!", 18, &a, &p), 0);
	assert_int_equal(a, ip("10.0.0.1"));
	assert_int_equal(p, 65535);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(alg_ftp_parse_eprt_args(bad[i], strlen(bad[i]), &a, &p), 0);
}

static void test_parse_227_forms(void **state)
{
	static const struct {
		const char *s;
		size_t off, len;
	} good[] = {
		{ "Entering Passive Mode (192,168,0,254,205,242).", 23, 21 },
		{ "Entering Passive Mode 192,168,0,254,205,242", 22, 21 },
		{ "Entering Passive Mode (192,168,0,254,205,242)", 23, 21 },
		{ "=192,168,0,254,205,242", 1, 21 },
		{ "192,168,0,254,205,242", 0, 21 },
		{ "Port 21 is not it; try (192,168,0,254,205,242)", 24, 21 },
	};
	static const char *bad[] = {
		"Entering Passive Mode", "Entering Passive Mode (192,168,0,254,205)",
		"Entering Passive Mode (192,168,0,256,205,242)",
		"Entering Passive Mode (192,168,0,254,0,21)",
		"Entering Passive Mode (192,168,0,254,205,242,1)",
		"Entering Passive Mode (1192,168,0,254,205,242)",
		"Entering Passive Mode (1,192,168,0,254,205,242)",
	};
	uint32_t a;
	uint16_t p;
	size_t off, len, i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(alg_ftp_parse_227(good[i].s, strlen(good[i].s), &a, &p, &off, &len), 0);
		assert_int_equal(a, ip("192.168.0.254"));
		assert_int_equal(p, 52722);
		assert_int_equal(off, good[i].off);
		assert_int_equal(len, good[i].len);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(alg_ftp_parse_227(bad[i], strlen(bad[i]), &a, &p, &off, &len), 0);
}

static void test_parse_229_forms(void **state)
{
	uint16_t p;
	static const char *bad[] = {
		"Entering Extended Passive Mode", "Entering Extended Passive Mode (||52722|)",
		"Entering Extended Passive Mode (|||52722)", "Entering Extended Passive Mode (|||1023|)",
		"Entering Extended Passive Mode (|||65536|)", "Entering Extended Passive Mode (|!|52722|)",
		"Entering Extended Passive Mode (|||52722!)",
	};
	size_t i;

	(void)state;
	assert_int_equal(alg_ftp_parse_229("Entering Extended Passive Mode (|||52722|)", 42, &p), 0);
	assert_int_equal(p, 52722);
	assert_int_equal(alg_ftp_parse_229("ok (!!!2000!)", 13, &p), 0);
	assert_int_equal(p, 2000);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(alg_ftp_parse_229(bad[i], strlen(bad[i]), &p), 0);
}

/* ===================================================================== */
/* Greeting / not-FTP                                                     */

static void test_client_speaks_first_not_ftp(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_PASS);
	expect_opaque(&t, ALG_FTP_WHY_NOT_FTP);
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_NOT_FTP);
	assert_int_equal(sv(&t, "220 hello\r\n"), ALG_FTP_PASS);
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

static void test_server_not_220_not_ftp(void **state)
{
	static const char *first[] = {
		"HTTP/1.1 200 OK\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "421 Too many users\r\n",
		"230 Logged on\r\n", "\x16\x03\x01\x02\x00", "2", "22x ", "220x\r\n",
	};
	struct t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
		sv(&t, first[i]);
		if (i == 5) {	/* "2" may still become 220 */
			assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_GREETING);
			sv(&t, "20 ready");
		}
		if (alg_ftp_get_state(&t.c) == ALG_FTP_ST_GREETING)
			sv(&t, "\r\n");
		assert_int_equal(alg_ftp_get_state(&t.c), i == 5 ? ALG_FTP_ST_INSPECT
								 : ALG_FTP_ST_NOT_FTP);
		if (i == 5)
			continue;
		cl(&t, "PASV\r\n");
		assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"),
				 ALG_FTP_PASS);
		expect_no_events(&t);
		assert_int_equal(t.map_calls, 0);
	}
}

static void test_greeting_120_then_220_and_multiline(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	sv(&t, "120 Ready in 1 minute\r\n");
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_GREETING);
	sv(&t, "220-Welcome\r\n anything: here\r\n421 not the end\r\n220 ready\r\n");
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_INSPECT);
	cl(&t, "EPSV\r\n");
	sv(&t, "229 Entering Extended Passive Mode (|||50000|)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 50000, S_IN, 50000);
}

/* After the 220, a client line that is not an FTP command (an HTTP request
 * smuggled to port 21, the NAT slipstreaming shape) stops inspection. */
static void test_http_after_greeting_not_ftp(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	sv(&t, "220 ready\r\n");
	cl(&t, "POST / HTTP/1.1\r\nHost: evil.example:21\r\n");
	expect_opaque(&t, ALG_FTP_WHY_NOT_FTP);
	assert_int_equal(cl(&t, "\r\nPORT 192,168,0,10,0,22\r\nPORT 192,168,0,10,4,1\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n200 ok\r\n200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

/* ===================================================================== */
/* Case A: active mode                                                    */

static void test_a_port_rewrite_expect_after_200(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	assert_int_equal(cl(&t, "PORT 192,168,0,10,156,64\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "PORT 59,65,174,240,156,64\r\n");
	expect_no_events(&t);		/* not before the 200 */
	assert_int_equal(t.map_calls, 1);
	assert_int_equal(t.map_req.remote_addr, ip(S_PUB));
	assert_int_equal(t.map_req.outside_addr, ip(W_ADDR));
	assert_int_equal(t.map_req.inside_addr, ip(C_ADDR));
	assert_int_equal(t.map_req.inside_port_host, 156 * 256 + 64);
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_CLIENT), 1);
	sv(&t, "200 Port command successful\r\n");
	assert_int_equal(t.res.n_events, 1);
	expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 40000);
	assert_int_equal(t.res.ev[0].source, ALG_FTP_SRC_PORT);
}

/* Rewriting W:p' again needs the allocator's port: check the text. */
static void test_a_port_rewrite_uses_allocated_port(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	t.map_next = 61234;		/* 239,50 */
	login(&t);
	cl(&t, "port 192,168,0,10,4,1\r\n");
	assert_string_equal(out_str(&t), "port 59,65,174,240,239,50\r\n");
	sv(&t, "200 ok\r\n");
	expect_open(&t, 0, S_PUB, W_ADDR, 61234, C_ADDR, 1025);
}

static void test_a_port_answered_500_cancels(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	assert_int_equal(cl(&t, "PORT 192,168,0,10,156,64\r\n"), ALG_FTP_REWRITTEN);
	sv(&t, "500 Illegal PORT command\r\n");
	assert_int_equal(t.res.n_events, 1);
	assert_int_equal(t.res.ev[0].kind, ALG_FTP_EV_EXPECT_CANCEL);
	assert_int_equal(t.res.ev[0].outside_port_host, 40000);
}

static void test_a_eprt_rewrite(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	assert_int_equal(cl(&t, "EPRT |1|192.168.0.10|5282|\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "EPRT |1|59.65.174.240|40000|\r\n");
	sv(&t, "200 EPRT command successful\r\n");
	expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 5282);
	assert_int_equal(t.res.ev[0].source, ALG_FTP_SRC_EPRT);
	/* other delimiter kept; IPv6 ignored */
	assert_int_equal(cl(&t, "EPRT !1!192.168.0.10!5283!\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "EPRT !1!59.65.174.240!40001!\r\n");
	sv(&t, "200 ok\r\n");
	expect_open(&t, 0, S_PUB, W_ADDR, 40001, C_ADDR, 5283);
	assert_int_equal(cl(&t, "EPRT |2|fd00::10|5284|\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
}

static void test_a_port_bounce_refused(void **state)
{
	static const char *cmds[] = {
		"PORT 192,168,0,11,4,1\r\n",	/* another LAN host */
		"PORT 203,0,113,99,4,1\r\n",	/* a third party (FTP bounce) */
		"PORT 59,65,174,240,4,1\r\n",	/* the WAN address itself */
		"EPRT |1|192.168.0.11|5282|\r\n",
		"EPRT |1|10.1.1.1|5282|\r\n",
	};
	struct t t;
	size_t i;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(cl(&t, cmds[i]), ALG_FTP_PASS);
		sv(&t, "200 ok\r\n");
		expect_no_events(&t);
	}
	assert_int_equal(t.map_calls, 0);
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_CLIENT), 0);
}

static void test_a_port_validation(void **state)
{
	static const char *cmds[] = {
		"PORT 192,168,0,10,0,22\r\n",		/* port < 1024 */
		"PORT 192,168,0,10,3,255\r\n",		/* 1023 */
		"PORT 192,168,0,256,4,1\r\n",		/* octet */
		"PORT  192,168,0,10,4,1\r\n",		/* leading junk */
		"PORT x192,168,0,10,4,1\r\n",
		"PORT 192,168,0,10,4,1 \r\n",		/* trailing junk */
		"PORT 192,168,0,10,4,1,7\r\n",
		"PORT 192,168,0,10,4,1\n",		/* no CR */
		"PORT 192,168,0,10,4\r\n",
		"PORT\r\n",
		"EPRT |1|192.168.0.10|1000|\r\n",
		"EPRT |1|192.168.0.10|5282|x\r\n",
	};
	struct t t;
	size_t i;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(cl(&t, cmds[i]), ALG_FTP_PASS);
		sv(&t, "200 ok\r\n");
		expect_no_events(&t);
	}
	assert_int_equal(t.map_calls, 0);
}

static void test_a_pasv_epsv_nothing(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (203,0,113,5,205,242)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	cl(&t, "EPSV\r\n");
	assert_int_equal(sv(&t, "229 Entering Extended Passive Mode (|||52722|)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

static void test_a_map_port_failure(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	t.map_fail = 1;
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 1);
}

static void test_rewrite_does_not_fit_passes(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	/* "PORT 192,168,0,10,4,1\r\n" is 23 bytes, the rewrite 27; the check
	 * is made before the port is known, for the longest port (28). */
	t.out_cap = 27;
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
	t.out_cap = 28;
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_REWRITTEN);
	assert_int_equal(t.res.out_len, 27);
	/* no buffer at all */
	alg_ftp_process(&t.c, ALG_FTP_FROM_CLIENT, t.next[0], (const uint8_t *)"PORT 192,168,0,10,4,2\r\n",
			23, NULL, 0, &t.res);
	assert_int_equal(t.res.verdict, ALG_FTP_PASS);
}

/* ===================================================================== */
/* Case B: passive mode behind a forward                                  */

static void test_b_227_private_rewritten(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"),
			 ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "227 Entering Passive Mode (59,65,174,240,156,64)\r\n");
	assert_int_equal(t.res.n_events, 1);
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	assert_int_equal(t.res.ev[0].source, ALG_FTP_SRC_PASV);
	assert_int_equal(t.map_req.remote_addr, ip(R_ADDR));
	assert_int_equal(t.map_req.inside_port_host, 52722);
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_SERVER), -1);
}

static void test_b_227_forms(void **state)
{
	static const char *replies[] = {
		"227 Entering Passive Mode 192,168,0,254,205,242\r\n",
		"227 =192,168,0,254,205,242\r\n",
		"227 Entering Passive Mode (192,168,0,254,205,242).\r\n",
		"227 Entering Passive Mode (192,168,0,254,205,242)\n",
	};
	static const char *want[] = {
		"227 Entering Passive Mode 59,65,174,240,156,64\r\n",
		"227 =59,65,174,240,156,64\r\n",
		"227 Entering Passive Mode (59,65,174,240,156,64).\r\n",
		"227 Entering Passive Mode (59,65,174,240,156,64)\n",
	};
	struct t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
		login(&t);
		cl(&t, "pasv\r\n");
		assert_int_equal(sv(&t, replies[i]), ALG_FTP_REWRITTEN);
		assert_string_equal(out_str(&t), want[i]);
		expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	}
}

static void test_b_227_public_no_rewrite(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (59,65,174,240,196,204)\r\n"), ALG_FTP_PASS);
	assert_int_equal(t.res.n_events, 1);
	expect_open(&t, 0, R_ADDR, W_ADDR, 50380, S_IN, 50380);
	assert_int_equal(t.map_calls, 0);
}

static void test_b_227_other_address_nothing(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,1,205,242)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,0,22)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

static void test_b_227_without_pasv_nothing(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	/* unsolicited */
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	/* the reply to another command */
	cl(&t, "NOOP\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	/* a 227 answering EPSV, a 229 answering PASV */
	cl(&t, "EPSV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"), ALG_FTP_PASS);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "229 Entering Extended Passive Mode (|||52722|)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	/* a client that echoes a 227 gets nothing either */
	cl(&t, "SITE 227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	sv(&t, "500 227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

static void test_b_229(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "EPSV\r\n");
	assert_int_equal(sv(&t, "229 Entering Extended Passive Mode (|||52722|)\r\n"), ALG_FTP_PASS);
	expect_open(&t, 0, R_ADDR, W_ADDR, 52722, S_IN, 52722);
	assert_int_equal(t.res.ev[0].source, ALG_FTP_SRC_EPSV);
	cl(&t, "EPSV 1\r\n");
	sv(&t, "229 Entering Extended Passive Mode (|||52723|)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 52723, S_IN, 52723);
	cl(&t, "EPSV 2\r\n");
	sv(&t, "229 Entering Extended Passive Mode (|||52724|)\r\n");
	expect_no_events(&t);
	cl(&t, "EPSV ALL\r\n");
	sv(&t, "200 EPSV ALL ok\r\n");
	expect_no_events(&t);
	cl(&t, "EPSV\r\n");
	sv(&t, "229 Entering Extended Passive Mode (|||1023|)\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

static void test_b_port_untouched(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	assert_int_equal(cl(&t, "PORT 198,51,100,7,4,1\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(cl(&t, "EPRT |1|198.51.100.7|5282|\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

/* ===================================================================== */
/* Hairpin: a LAN client through a forward to a LAN server                */

/* PORT naming the client becomes the WAN address (the server sees the
 * client as W), and the server's connection to it is expected. */
static void test_h_port_and_eprt_rewritten(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_HAIRPIN, 1000, 5000);
	login(&t);
	assert_int_equal(cl(&t, "PORT 192,168,0,10,156,64\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "PORT 59,65,174,240,156,64\r\n");
	assert_int_equal(t.map_req.remote_addr, ip(S_IN));
	assert_int_equal(t.map_req.outside_addr, ip(W_ADDR));
	assert_int_equal(t.map_req.inside_addr, ip(C_ADDR));
	sv(&t, "200 Port command successful\r\n");
	assert_int_equal(t.res.n_events, 1);
	expect_open(&t, 0, S_IN, W_ADDR, 40000, C_ADDR, 40000);
	assert_int_equal(cl(&t, "EPRT |1|192.168.0.10|5282|\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "EPRT |1|59.65.174.240|40001|\r\n");
	sv(&t, "200 EPRT command successful\r\n");
	expect_open(&t, 0, S_IN, W_ADDR, 40001, C_ADDR, 5282);
	assert_int_equal(t.res.ev[0].source, ALG_FTP_SRC_EPRT);
}

/* A 227 naming the server becomes the WAN address; one naming the WAN
 * address (pasv_address) and a 229 open an expectation as they are. */
static void test_h_227_and_229(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_HAIRPIN, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"),
			 ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "227 Entering Passive Mode (59,65,174,240,156,64)\r\n");
	expect_open(&t, 0, C_ADDR, W_ADDR, 40000, S_IN, 52722);
	assert_int_equal(t.map_req.remote_addr, ip(C_ADDR));
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (59,65,174,240,205,243)\r\n"), ALG_FTP_PASS);
	expect_open(&t, 0, C_ADDR, W_ADDR, 52723, S_IN, 52723);
	cl(&t, "EPSV\r\n");
	assert_int_equal(sv(&t, "229 Entering Extended Passive Mode (|||52724|)\r\n"), ALG_FTP_PASS);
	expect_open(&t, 0, C_ADDR, W_ADDR, 52724, S_IN, 52724);
	assert_true(alg_ftp_conn_valid(&t.c));
}

/* ===================================================================== */
/* Multi-line replies                                                     */

static void test_multiline_227(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	/* numbers on the first line */
	assert_int_equal(sv(&t, "227-Entering Passive Mode (192,168,0,254,205,242)\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "227-Entering Passive Mode (59,65,174,240,156,64)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	/* the rest of the reply opens nothing more */
	assert_int_equal(sv(&t, " (192,168,0,254,205,243)\r\n227 Done (192,168,0,254,205,244)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	/* numbers only on a continuation line, then the final line */
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227-Entering Passive Mode\r\n"), ALG_FTP_PASS);
	assert_int_equal(sv(&t, "  192,168,0,254,205,245\r\n"), ALG_FTP_REWRITTEN);
	expect_open(&t, 0, R_ADDR, W_ADDR, 40001, S_IN, 52725);
	sv(&t, "227 OK\r\n");
	expect_no_events(&t);
	/* the queue is in step: the next reply answers the next command */
	cl(&t, "EPSV\r\n");
	sv(&t, "229 Entering Extended Passive Mode (|||52726|)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 52726, S_IN, 52726);
}

/* A "227 ..." line inside another multi-line reply is text, not a reply. */
static void test_multiline_other_code_embeds_227(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "STAT\r\n");
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "211-Status\r\n227 Entering Passive Mode (192,168,0,254,205,242)\r\n"
				"229 (|||52722|)\r\n211 End\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
}

/* 1xx replies are preliminary: the command still waits for its reply. */
static void test_preliminary_and_pipelined(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	cl(&t, "PORT 192,168,0,10,4,1\r\nRETR a\r\nPORT 192,168,0,10,4,2\r\n");
	assert_int_equal(t.res.verdict, ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "PORT 59,65,174,240,156,64\r\nRETR a\r\n"
					 "PORT 59,65,174,240,156,65\r\n");
	sv(&t, "200 ok\r\n150 Opening\r\n226 Done\r\n500 no\r\n");
	assert_int_equal(t.res.n_events, 2);
	expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 1025);
	assert_int_equal(t.res.ev[1].kind, ALG_FTP_EV_EXPECT_CANCEL);
	assert_int_equal(t.res.ev[1].outside_port_host, 40001);
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_CLIENT), 8);
}

/* ===================================================================== */
/* Split segments and long lines                                          */

static void test_split_port_after_verb(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	assert_int_equal(cl(&t, "PO"), ALG_FTP_PASS);
	assert_int_equal(cl(&t, "RT "), ALG_FTP_PASS);
	assert_int_equal(cl(&t, "192,168,0,10,4,1\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "59,65,174,240,156,64\r\n");
	sv(&t, "20");
	expect_no_events(&t);
	sv(&t, "0 ok\r");
	expect_no_events(&t);
	sv(&t, "\n");
	expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 1025);
	assert_string_equal(rx_str(&t, 0) + strlen(rx_str(&t, 0)) - 27,
			    "PORT 59,65,174,240,156,64\r\n");
}

/* The address went out in an earlier segment: it cannot be rewritten any
 * more, so nothing is rewritten and nothing is opened. */
static void test_split_port_inside_args(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	assert_int_equal(cl(&t, "PORT 192,168"), ALG_FTP_PASS);
	assert_int_equal(cl(&t, ",0,10,4,1\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
	/* CR LF in a later segment than the address: same */
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1"), ALG_FTP_PASS);
	assert_int_equal(cl(&t, "\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

static void test_split_replies_case_b(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PA");
	cl(&t, "SV\r\n");
	assert_int_equal(sv(&t, "22"), ALG_FTP_PASS);
	assert_int_equal(sv(&t, "7 Entering Passive Mode ("), ALG_FTP_PASS);
	assert_int_equal(sv(&t, "192,168,0,254,205,242)\r\n"), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "59,65,174,240,156,64)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	/* public address split inside the numbers: no rewrite needed, so it works */
	cl(&t, "PASV\r\n");
	sv(&t, "227 Entering Passive Mode (59,65,17");
	expect_no_events(&t);
	sv(&t, "4,240,196,204)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 50380, S_IN, 50380);
	/* private address split inside the numbers: nothing */
	cl(&t, "PASV\r\n");
	sv(&t, "227 Entering Passive Mode (192,168,0,25");
	assert_int_equal(sv(&t, "4,205,242)\r\n"), ALG_FTP_PASS);
	expect_no_events(&t);
	/* 229 split */
	cl(&t, "EPSV\r\n");
	sv(&t, "229 Entering Extended Passive Mode (|||5");
	sv(&t, "2722|)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 52722, S_IN, 52722);
	assert_int_equal(t.map_calls, 1);
}

static void test_oversized_line_untouched(void **state)
{
	char big[700];
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	/* PORT with 600 bytes of padding before CR LF: never acted on */
	memset(big, ' ', sizeof(big));
	memcpy(big, "PORT 192,168,0,10,4,1", 21);
	strcpy(big + 600, "\r\n");
	assert_int_equal(cl(&t, big), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
	/* the next command is inspected again */
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_REWRITTEN);
	sv(&t, "200 ok\r\n");
	expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 1025);
}

static void test_oversized_reply_untouched(void **state)
{
	char big[700];
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	memset(big, 'x', sizeof(big));
	memcpy(big, "227 Entering Passive Mode (192,168,0,254,205,242)", 49);
	strcpy(big + 600, "\r\n");
	assert_int_equal(sv(&t, big), ALG_FTP_PASS);
	expect_no_events(&t);
	/* in step: the next PASV/227 pair works */
	cl(&t, "PASV\r\n");
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	assert_int_equal(t.map_calls, 1);
}

static void test_telnet_iac_abor(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	cl(&t, "\xff\xf4\xff\xf2" "ABOR\r\n");
	sv(&t, "226 Aborted\r\n");
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_INSPECT);
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_REWRITTEN);
	sv(&t, "200 ok\r\n");
	expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 1025);
}

/* ===================================================================== */
/* AUTH → opaque                                                          */

static void test_auth_tls_opaque(void **state)
{
	static const char *auth[] = {
		"AUTH TLS\r\n", "AUTH SSL\r\n", "AUTH TLS-C\r\n", "AUTH TLS-P\r\n",
		"auth tls\r\n", "Auth Ssl\r\n",
	};
	struct t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
		t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
		assert_int_equal(sv(&t, "220 ready\r\n"), ALG_FTP_PASS);
		cl(&t, auth[i]);
		expect_no_events(&t);
		assert_int_equal(sv(&t, "234 AUTH TLS OK.\r\n"), ALG_FTP_PASS);
		expect_opaque(&t, ALG_FTP_WHY_AUTH);
		assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_OPAQUE);
		/* whatever follows (here: plain text, as if TLS had failed) is never parsed */
		cl(&t, "PASV\r\n");
		assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"),
				 ALG_FTP_PASS);
		expect_no_events(&t);
		cl(&t, "EPSV\r\n");
		sv(&t, "229 Entering Extended Passive Mode (|||52722|)\r\n");
		expect_no_events(&t);
		assert_int_equal(t.map_calls, 0);
	}
}

static void test_auth_tls_opaque_case_a(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	sv(&t, "220 ready\r\n");
	cl(&t, "AU");
	cl(&t, "TH TLS\r\n");
	sv(&t, "234 Using authentication type TLS\r\n\x16\x03\x03");
	expect_opaque(&t, ALG_FTP_WHY_AUTH);
	assert_int_equal(cl(&t, "PORT 192,168,0,10,4,1\r\n"), ALG_FTP_PASS);
	sv(&t, "200 ok\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 0);
}

static void test_auth_refused_keeps_inspecting(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	sv(&t, "220 ready\r\n");
	cl(&t, "AUTH TLS\r\n");
	sv(&t, "504 Auth type not supported\r\n");
	expect_no_events(&t);
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_INSPECT);
	cl(&t, "AUTH SSL\r\n");
	sv(&t, "534 Request denied for policy reasons\r\n");
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_INSPECT);
	/* a 234 that answers something else is not a TLS start */
	cl(&t, "NOOP\r\n");
	sv(&t, "234 odd\r\n");
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_INSPECT);
	cl(&t, "PASV\r\n");
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
}

/* ===================================================================== */
/* Sequence bookkeeping                                                   */

/*
 * Two rewrites in the client direction with different deltas:
 *   #1 "192,168,0,10,4,1"      (16) -> "59,65,174,240,156,64"  (20): +4
 *   #2 "192,168,000,010,255,255" (23) -> "59,65,174,240,156,65" (20): -3
 */
static void test_seq_two_rewrites(void **state)
{
	struct t t;
	uint32_t p1, e1, p2, e2, tp1, tp2, l, r;
	const uint32_t isn = 1000;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, isn, 5000);
	login(&t);
	p1 = t.next[0] + 5;
	cl(&t, "PORT 192,168,0,10,4,1\r\n");
	e1 = p1 + 16;
	sv(&t, "200 ok\r\n");
	cl(&t, "NOOP\r\n");
	sv(&t, "200 ok\r\n");
	p2 = t.next[0] + 5;
	cl(&t, "PORT 192,168,000,010,255,255\r\n");
	assert_string_equal(out_str(&t), "PORT 59,65,174,240,156,65\r\n");
	e2 = p2 + 23;
	sv(&t, "200 ok\r\n");
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_CLIENT), 1);
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_SERVER), 0);

	/* original -> translated */
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, isn), isn);
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, p1), p1);
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, p1 + 7), p1);	/* inside: span start */
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, e1), e1 + 4);
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, p2), p2 + 4);
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, p2 + 22), p2 + 4);
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, e2), e2 + 1);
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, e2 + 1000), e2 + 1001);
	/* the server direction is untouched */
	assert_int_equal(alg_ftp_seq_out(&t.c, 1, 5000 + 77), 5000 + 77);

	/* ack from the server (acknowledges the client stream) -> original */
	tp1 = p1;
	tp2 = p2 + 4;
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, isn), isn);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, tp1), p1);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, tp1 + 19), p1);	/* rounds down */
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, tp1 + 20), e1);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, tp2), p2);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, tp2 + 10), p2);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, tp2 + 20), e2);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, e2 + 3), e2 + 2);
	/* the client's acks of the server stream pass as they are */
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_CLIENT, 5010), 5010);

	/* SACK blocks round inwards */
	l = tp1 + 20;
	r = tp2 + 20;
	assert_true(alg_ftp_sack_in(&t.c, ALG_FTP_FROM_SERVER, &l, &r));
	assert_int_equal(l, e1);
	assert_int_equal(r, e2);
	l = tp1 + 3;			/* inside #1: up to its end */
	r = tp2 + 3;			/* inside #2: down to its start */
	assert_true(alg_ftp_sack_in(&t.c, ALG_FTP_FROM_SERVER, &l, &r));
	assert_int_equal(l, e1);
	assert_int_equal(r, p2);
	l = tp2 + 1;			/* wholly inside #2: empty */
	r = tp2 + 5;
	assert_false(alg_ftp_sack_in(&t.c, ALG_FTP_FROM_SERVER, &l, &r));
}

/* Mapping is monotonic and ack(seq_out(x)) == x outside rewritten spans. */
static void test_seq_roundtrip_monotonic(void **state)
{
	struct t t;
	uint32_t s, prev_out = 0, first;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 0xfffffff0u);	/* server stream wraps */
	login(&t);
	first = t.next[1];
	cl(&t, "PASV\r\n");
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	cl(&t, "PASV\r\n");
	t.map_next = 1024;		/* short port: bigger negative delta */
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,243)\r\n");
	assert_string_equal(out_str(&t), "227 Entering Passive Mode (59,65,174,240,4,0)\r\n");
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_SERVER), -1 - 4);
	for (s = first; s != t.next[1] + 10; s++) {
		uint32_t o = alg_ftp_seq_out(&t.c, 1, s);

		if (s != first)
			assert_true((int32_t)(o - prev_out) >= 0);
		prev_out = o;
		assert_true((int32_t)(alg_ftp_ack_in(&t.c, 0, o) - s) <= 0);
	}
	assert_int_equal(alg_ftp_ack_in(&t.c, 0, alg_ftp_seq_out(&t.c, 1, t.next[1])), t.next[1]);
}

/* A retransmission gets the same bytes and the same port, no new events. */
static void test_retransmission_identical(void **state)
{
	struct t t;
	const char *cmd = "PORT 192,168,0,10,4,1\r\n";
	char first[64];
	uint32_t seq, first_seq;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	seq = t.next[0];
	assert_int_equal(cl(&t, cmd), ALG_FTP_REWRITTEN);
	strcpy(first, out_str(&t));
	first_seq = t.res.seq;
	assert_int_equal(t.map_calls, 1);
	/* same segment again, before and after the 200 */
	assert_int_equal(t_send_at(&t, 0, seq, cmd, strlen(cmd)), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), first);
	assert_int_equal(t.res.seq, first_seq);
	expect_no_events(&t);
	sv(&t, "200 ok\r\n");
	expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 1025);
	cl(&t, "NOOP\r\n");
	assert_int_equal(t_send_at(&t, 0, seq, cmd, strlen(cmd)), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), first);
	assert_int_equal(t.res.seq, first_seq);
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 1);
	/* resegmented: old bytes + new bytes in one segment */
	{
		char both[64];

		snprintf(both, sizeof(both), "%sNOOP\r\nSYST\r\n", cmd);
		assert_int_equal(t_send_at(&t, 0, seq, both, strlen(both)), ALG_FTP_REWRITTEN);
		assert_int_equal(t.res.seq, first_seq);
		t.next[0] = seq + (uint32_t)strlen(both);
		assert_int_equal(t.res.out_len, strlen(both) + 4);
	}
	/* a retransmission starting inside the rewritten text starts at its beginning */
	assert_int_equal(t_send_at(&t, 0, seq + 8, cmd + 8, strlen(cmd) - 8), ALG_FTP_REWRITTEN);
	assert_int_equal(t.res.seq, first_seq + 5);
	assert_string_equal(out_str(&t), first + 5);
	/* one ending inside it delivers the whole replacement */
	assert_int_equal(t_send_at(&t, 0, seq, cmd, 9), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "PORT 59,65,174,240,156,64");
	/* the receiver saw one consistent stream (checked byte by byte in t_deliver) */
	assert_non_null(strstr(rx_str(&t, 0), "PORT 59,65,174,240,156,64\r\nNOOP\r\nSYST\r\n"));
}

static void test_retransmission_case_b_227(void **state)
{
	struct t t;
	const char *reply = "227 Entering Passive Mode (192,168,0,254,205,242)\r\n";
	uint32_t seq;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	seq = t.next[1];
	sv(&t, reply);
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	assert_int_equal(t_send_at(&t, 1, seq, reply, strlen(reply)), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "227 Entering Passive Mode (59,65,174,240,156,64)\r\n");
	expect_no_events(&t);
	assert_int_equal(t.map_calls, 1);
	/* a retransmission of older, untouched bytes passes as is */
	assert_int_equal(t_send_at(&t, 1, 5000, "220", 3), ALG_FTP_PASS);
	assert_int_equal(t.res.seq, 5000);
}

/* Data past a hole is dropped until the hole is filled. */
static void test_out_of_order_dropped(void **state)
{
	struct t t;
	const char *a = "PASV\r\n", *b = "EPSV\r\n";
	uint32_t seq;
	int i;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	seq = t.next[0];
	assert_int_equal(t_send_at(&t, 0, seq + 6, b, 6), ALG_FTP_DROP);
	assert_int_equal(t_send_at(&t, 0, seq, a, 6), ALG_FTP_PASS);
	assert_int_equal(t_send_at(&t, 0, seq + 6, b, 6), ALG_FTP_PASS);
	t.next[0] = seq + 12;
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	sv(&t, "229 Entering Extended Passive Mode (|||52722|)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 52722, S_IN, 52722);
	/* a hole that never fills: give up after a few drops */
	seq = t.next[0];
	for (i = 0; i < ALG_FTP_GAP_DROPS_MAX; i++)
		assert_int_equal(t_send_at(&t, 0, seq + 10, b, 6), ALG_FTP_DROP);
	assert_int_equal(t_send_at(&t, 0, seq + 10, b, 6), ALG_FTP_PASS);
	expect_opaque(&t, ALG_FTP_WHY_GAP);
}

/* Offsets persist after opaque; rewrites_acked tracks the acks. */
static void test_opaque_keeps_offsets(void **state)
{
	struct t t;
	uint32_t after;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	assert_true(alg_ftp_rewrites_acked(&t.c));
	cl(&t, "PASV\r\n");
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	assert_false(alg_ftp_rewrites_acked(&t.c));
	cl(&t, "AUTH TLS\r\n");
	after = t.next[1];
	sv(&t, "234 go\r\n");
	expect_opaque(&t, ALG_FTP_WHY_AUTH);
	assert_int_equal(sv(&t, "\x16\x03\x03\x00\x10"), ALG_FTP_PASS);
	assert_int_equal(t.res.seq, after + 8 - 1);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_CLIENT, after - 1), after);
	assert_true(alg_ftp_rewrites_acked(&t.c));
}

/* More rewrites than the history holds: the oldest are merged into a base
 * delta; a retransmission reaching back before them is dropped, never sent
 * with bytes that differ from the first transmission. */
static void test_seqmap_merge(void **state)
{
	struct t t;
	const char *cmd = "PORT 192,168,0,10,4,1\r\n";
	uint32_t at[ALG_FTP_SEQMAP_MAX + 1];
	int i;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	for (i = 0; i <= ALG_FTP_SEQMAP_MAX; i++) {
		at[i] = t.next[0];
		t.map_next = 40000;	/* "156,64": +4 each */
		assert_int_equal(cl(&t, cmd), ALG_FTP_REWRITTEN);
		sv(&t, "200 ok\r\n");
		expect_open(&t, 0, S_PUB, W_ADDR, 40000, C_ADDR, 1025);
	}
	assert_int_equal(alg_ftp_delta(&t.c, ALG_FTP_FROM_CLIENT), 4 * (ALG_FTP_SEQMAP_MAX + 1));
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, at[1]), at[1] + 4);
	assert_int_equal(alg_ftp_seq_out(&t.c, 0, t.next[0]), t.next[0] + 4 * (ALG_FTP_SEQMAP_MAX + 1));
	assert_int_equal(t_send_at(&t, 0, at[0], cmd, strlen(cmd)), ALG_FTP_DROP);
	assert_int_equal(t_send_at(&t, 0, at[1], cmd, strlen(cmd)), ALG_FTP_REWRITTEN);
	assert_string_equal(out_str(&t), "PORT 59,65,174,240,156,64\r\n");
	assert_int_equal(t.res.seq, at[1] + 4);
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_SERVER, t.next[0] + 4 * 17), t.next[0]);
}

static void test_cmdq_overflow_gives_up(void **state)
{
	struct t t;
	int i;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	for (i = 0; i < ALG_FTP_CMDQ_MAX; i++)
		cl(&t, "NOOP\r\n");
	expect_no_events(&t);
	cl(&t, "PASV\r\n");
	expect_opaque(&t, ALG_FTP_WHY_OVERFLOW);
}

static void test_server_garbage_after_greeting(void **state)
{
	struct t t;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	sv(&t, "hello there\r\n");
	expect_opaque(&t, ALG_FTP_WHY_NOT_FTP);
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_no_events(&t);
}

static void test_pure_ack_and_no_isn(void **state)
{
	struct t t;
	struct alg_ftp_nat nat = { .mode = ALG_FTP_FORWARD };

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	assert_int_equal(t_send_at(&t, 1, t.next[1], "", 0), ALG_FTP_PASS);
	assert_int_equal(t.res.seq, t.next[1] - 1);
	/* without alg_ftp_set_isn the first data segment sets the start */
	nat.client_addr = nat.client_outside = ip(R_ADDR);
	nat.server_addr = ip(S_IN);
	nat.server_outside = ip(W_ADDR);
	alg_ftp_init(&t.c, &nat, map_port, &t);
	alg_ftp_process(&t.c, ALG_FTP_FROM_SERVER, 777, (const uint8_t *)"220 hi\r\n", 8, t.out,
			sizeof(t.out), &t.res);
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_INSPECT);
	alg_ftp_process(&t.c, ALG_FTP_FROM_CLIENT, 99, (const uint8_t *)"EPSV\r\n", 6, t.out,
			sizeof(t.out), &t.res);
	alg_ftp_process(&t.c, ALG_FTP_FROM_SERVER, 785, (const uint8_t *)"229 (|||2000|)\r\n", 16,
			t.out, sizeof(t.out), &t.res);
	expect_open(&t, 0, R_ADDR, W_ADDR, 2000, S_IN, 2000);
}

/* Too many events for one call: the ALG gives up rather than drop one. */
static void test_event_overflow_gives_up(void **state)
{
	struct t t;
	char replies[1024] = "";
	int i;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	for (i = 0; i < ALG_FTP_MAX_EVENTS; i++) {
		cl(&t, "EPSV\r\n");
		snprintf(replies + strlen(replies), sizeof(replies) - strlen(replies),
			 "229 (|||%d|)\r\n", 2000 + i);
	}
	sv(&t, replies);
	assert_int_equal(t.res.n_events, ALG_FTP_MAX_EVENTS);
	for (i = 0; i < ALG_FTP_MAX_EVENTS - 1; i++)
		expect_open(&t, (unsigned)i, R_ADDR, W_ADDR, (uint16_t)(2000 + i), S_IN,
			    (uint16_t)(2000 + i));
	assert_int_equal(t.res.ev[ALG_FTP_MAX_EVENTS - 1].kind, ALG_FTP_EV_GO_OPAQUE);
	assert_int_equal(t.res.ev[ALG_FTP_MAX_EVENTS - 1].reason, ALG_FTP_WHY_OVERFLOW);
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_OPAQUE);
}

/* A retransmission whose replay does not fit the buffer is dropped. */
static void test_replay_too_big_dropped(void **state)
{
	struct t t;
	const char *cmd = "PORT 192,168,0,10,4,1\r\n";
	uint32_t seq;

	(void)state;
	t_init(&t, ALG_FTP_MASQ, 1000, 5000);
	login(&t);
	seq = t.next[0];
	assert_int_equal(cl(&t, cmd), ALG_FTP_REWRITTEN);
	t.out_cap = strlen(cmd);
	assert_int_equal(t_send_at(&t, 0, seq, cmd, strlen(cmd)), ALG_FTP_DROP);
	t.out_cap = sizeof(t.out);
	assert_int_equal(t_send_at(&t, 0, seq, cmd, strlen(cmd)), ALG_FTP_REWRITTEN);
}

/* A conn read back from saved bytes: in range, or refused before any of
 * it is used as an index. */
static void test_conn_valid(void **state)
{
	static struct t t;
	struct alg_ftp_conn c;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	assert_true(alg_ftp_conn_valid(&t.c));
	c = t.c;
	c.cmd_head = ALG_FTP_CMDQ_MAX;
	assert_false(alg_ftp_conn_valid(&c));
	c = t.c;
	c.cmd_n = ALG_FTP_CMDQ_MAX + 1;
	assert_false(alg_ftp_conn_valid(&c));
	c = t.c;
	c.half[1].line_len = ALG_FTP_LINE_MAX + 1;
	assert_false(alg_ftp_conn_valid(&c));
	c = t.c;
	c.half[0].map.n = ALG_FTP_SEQMAP_MAX + 1;
	assert_false(alg_ftp_conn_valid(&c));
	c = t.c;
	c.half[0].map.n = 1;
	c.half[0].map.rw[0].nlen = ALG_FTP_RW_MAX + 1;
	assert_false(alg_ftp_conn_valid(&c));
	c.half[0].map.rw[0].nlen = ALG_FTP_RW_MAX;
	assert_true(alg_ftp_conn_valid(&c));
	c = t.c;
	c.state = (enum alg_ftp_state)7;
	assert_false(alg_ftp_conn_valid(&c));
	c = t.c;
	c.nat.mode = (enum alg_ftp_mode)0;
	assert_false(alg_ftp_conn_valid(&c));
}

/*
 * A segment far from the stream (more than ALG_FTP_WINDOW_MAX ahead of the
 * next new byte, or behind it) is not of this connection: dropped with the
 * conn left byte for byte as it was, and never counted as a drop past a
 * hole, so any number of them cannot make the ALG give up. Within the
 * window, data past a hole still counts.
 */
static void test_out_of_window_untouched(void **state)
{
	static struct t t;
	static struct alg_ftp_conn before;
	const char *fake = "227 Entering Passive Mode (192,168,0,254,4,1)\r\n";
	uint32_t next, far[] = { ALG_FTP_WINDOW_MAX + 1, -(ALG_FTP_WINDOW_MAX + 1), 1U << 31,
				 0x7fffffffU, 0x80000001U };
	int i;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	next = t.next[1];
	assert_true(alg_ftp_in_window(&t.c, ALG_FTP_FROM_SERVER, next));
	assert_true(alg_ftp_in_window(&t.c, ALG_FTP_FROM_SERVER, next + ALG_FTP_WINDOW_MAX));
	assert_true(alg_ftp_in_window(&t.c, ALG_FTP_FROM_SERVER, next - ALG_FTP_WINDOW_MAX));
	for (i = 0; i < (int)(sizeof(far) / sizeof(far[0])); i++)
		assert_false(alg_ftp_in_window(&t.c, ALG_FTP_FROM_SERVER, next + far[i]));
	before = t.c;
	for (i = 0; i < 4 * ALG_FTP_GAP_DROPS_MAX; i++) {
		uint32_t at = next + far[i % (sizeof(far) / sizeof(far[0]))];

		assert_int_equal(t_send_at(&t, 1, at, fake, strlen(fake)), ALG_FTP_DROP);
		expect_no_events(&t);
		assert_int_equal(t_send_at(&t, 1, at, "", 0), ALG_FTP_DROP);	/* a pure ACK too */
		assert_memory_equal(&t.c, &before, sizeof(before));
	}
	assert_int_equal(alg_ftp_get_state(&t.c), ALG_FTP_ST_INSPECT);
	/* the real 227 is still the answer to that PASV */
	sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n");
	expect_open(&t, 0, R_ADDR, W_ADDR, 40000, S_IN, 52722);
	/* a gap within the window counts as before */
	next = t.next[1];
	for (i = 0; i < ALG_FTP_GAP_DROPS_MAX; i++)
		assert_int_equal(t_send_at(&t, 1, next + 100, "200 x\r\n", 7), ALG_FTP_DROP);
	assert_int_equal(t_send_at(&t, 1, next + 100, "200 x\r\n", 7), ALG_FTP_PASS);
	expect_opaque(&t, ALG_FTP_WHY_GAP);
}

/* Before any SYN or data of a direction there is no window to be out of. */
static void test_window_unknown_start(void **state)
{
	struct alg_ftp_conn c;
	struct alg_ftp_nat nat = { .mode = ALG_FTP_FORWARD };

	(void)state;
	alg_ftp_init(&c, &nat, NULL, NULL);
	assert_true(alg_ftp_in_window(&c, ALG_FTP_FROM_CLIENT, 12345));
	assert_true(alg_ftp_in_window(&c, ALG_FTP_FROM_SERVER, 0x80000000U));
}

/*
 * An ack beyond every byte the ALG has seen of the stream it acknowledges
 * is forged (or about bytes that went past the ALG): it is translated for
 * forwarding but does not mark a rewrite acknowledged, which would let the
 * flow be handed back to XDP while the rewrite may still need a replay.
 */
static void test_forged_ack_not_believed(void **state)
{
	struct t t;
	uint32_t end;

	(void)state;
	t_init(&t, ALG_FTP_FORWARD, 1000, 5000);
	login(&t);
	cl(&t, "PASV\r\n");
	assert_int_equal(sv(&t, "227 Entering Passive Mode (192,168,0,254,205,242)\r\n"),
			 ALG_FTP_REWRITTEN);
	assert_false(alg_ftp_rewrites_acked(&t.c));
	end = t.next[1];	/* original; the client sees it 1 byte earlier */
	alg_ftp_ack_in(&t.c, ALG_FTP_FROM_CLIENT, end + 100000);
	alg_ftp_ack_in(&t.c, ALG_FTP_FROM_CLIENT, end - 1 + 1);	/* one byte more than was sent */
	assert_false(alg_ftp_rewrites_acked(&t.c));
	assert_int_equal(alg_ftp_ack_in(&t.c, ALG_FTP_FROM_CLIENT, end - 1), end);
	assert_true(alg_ftp_rewrites_acked(&t.c));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(alg_ftp_event_name(ALG_FTP_EV_EXPECT_OPEN), "expect-open");
	assert_string_equal(alg_ftp_state_name(ALG_FTP_ST_NOT_FTP), "not-ftp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_port_args),
		cmocka_unit_test(test_parse_eprt_args),
		cmocka_unit_test(test_parse_227_forms),
		cmocka_unit_test(test_parse_229_forms),
		cmocka_unit_test(test_client_speaks_first_not_ftp),
		cmocka_unit_test(test_server_not_220_not_ftp),
		cmocka_unit_test(test_greeting_120_then_220_and_multiline),
		cmocka_unit_test(test_http_after_greeting_not_ftp),
		cmocka_unit_test(test_a_port_rewrite_expect_after_200),
		cmocka_unit_test(test_a_port_rewrite_uses_allocated_port),
		cmocka_unit_test(test_a_port_answered_500_cancels),
		cmocka_unit_test(test_a_eprt_rewrite),
		cmocka_unit_test(test_a_port_bounce_refused),
		cmocka_unit_test(test_a_port_validation),
		cmocka_unit_test(test_a_pasv_epsv_nothing),
		cmocka_unit_test(test_a_map_port_failure),
		cmocka_unit_test(test_rewrite_does_not_fit_passes),
		cmocka_unit_test(test_b_227_private_rewritten),
		cmocka_unit_test(test_b_227_forms),
		cmocka_unit_test(test_b_227_public_no_rewrite),
		cmocka_unit_test(test_b_227_other_address_nothing),
		cmocka_unit_test(test_b_227_without_pasv_nothing),
		cmocka_unit_test(test_b_229),
		cmocka_unit_test(test_b_port_untouched),
		cmocka_unit_test(test_h_port_and_eprt_rewritten),
		cmocka_unit_test(test_h_227_and_229),
		cmocka_unit_test(test_multiline_227),
		cmocka_unit_test(test_multiline_other_code_embeds_227),
		cmocka_unit_test(test_preliminary_and_pipelined),
		cmocka_unit_test(test_split_port_after_verb),
		cmocka_unit_test(test_split_port_inside_args),
		cmocka_unit_test(test_split_replies_case_b),
		cmocka_unit_test(test_oversized_line_untouched),
		cmocka_unit_test(test_oversized_reply_untouched),
		cmocka_unit_test(test_telnet_iac_abor),
		cmocka_unit_test(test_auth_tls_opaque),
		cmocka_unit_test(test_auth_tls_opaque_case_a),
		cmocka_unit_test(test_auth_refused_keeps_inspecting),
		cmocka_unit_test(test_seq_two_rewrites),
		cmocka_unit_test(test_seq_roundtrip_monotonic),
		cmocka_unit_test(test_retransmission_identical),
		cmocka_unit_test(test_retransmission_case_b_227),
		cmocka_unit_test(test_out_of_order_dropped),
		cmocka_unit_test(test_opaque_keeps_offsets),
		cmocka_unit_test(test_seqmap_merge),
		cmocka_unit_test(test_cmdq_overflow_gives_up),
		cmocka_unit_test(test_server_garbage_after_greeting),
		cmocka_unit_test(test_pure_ack_and_no_isn),
		cmocka_unit_test(test_event_overflow_gives_up),
		cmocka_unit_test(test_replay_too_big_dropped),
		cmocka_unit_test(test_conn_valid),
		cmocka_unit_test(test_out_of_window_untouched),
		cmocka_unit_test(test_window_unknown_start),
		cmocka_unit_test(test_forged_ack_not_believed),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
