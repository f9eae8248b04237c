/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_flowlog_fmt.c - the NAT log's JSON lines (daemon/flowlog_fmt.c):
 * who is inside, outside and remote for each kind, out/in counters by the
 * inside host's direction, the time format, and what is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "daemon/flowlog_fmt.h"

/* 2026-12-01T12:00:00.123Z */
#define T0 (1796126400ULL * 1000000000ULL + 123456789ULL)

static struct nat_ct_key key(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t p)
{
	struct nat_ct_key k = { .sport = htons(sp), .dport = htons(dp), .proto = p };

	inet_pton(AF_INET, s, &k.saddr);
	inet_pton(AF_INET, d, &k.daddr);
	return k;
}

static void test_rfc3339(void **state)
{
	char buf[32];

	(void)state;
	flowlog_rfc3339(T0, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-01T12:00:00.123Z");
	flowlog_rfc3339(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_masq_start(void **state)
{
	struct nat_flow_event ev = {
		.orig = key("192.168.1.10", 40000, "198.51.100.7", 80, IPPROTO_TCP),
		.reply = key("198.51.100.7", 80, "203.0.113.1", 40001, IPPROTO_TCP),
		.event = NAT_FLOW_EV_START, .kind = NAT_KIND_MASQ,
	};
	char buf[512];

	(void)state;
	assert_true(flowlog_format(&ev, T0, "\"wan0\"", -1, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
		"{\"time\":\"2026-12-01T12:00:00.123Z\",\"event\":\"start\",\"proto\":\"tcp\","
		"\"kind\":\"masq\",\"inside\":\"192.168.1.10:40000\","
		"\"outside\":\"203.0.113.1:40001\",\"remote\":\"198.51.100.7:80\",\"wan\":\"wan0\"}");
}

static void test_masq_end(void **state)
{
	struct nat_flow_event ev = {
		.orig = key("192.168.1.10", 40000, "198.51.100.7", 80, IPPROTO_TCP),
		.reply = key("198.51.100.7", 80, "203.0.113.1", 40001, IPPROTO_TCP),
		.event = NAT_FLOW_EV_END, .reason = NAT_FLOW_END_CLOSED, .kind = NAT_KIND_MASQ,
		.packets = { 12, 20 }, .bytes = { 900, 1500000 },
	};
	char buf[512];

	(void)state;
	assert_true(flowlog_format(&ev, T0, "\"wan0\"", 520000000, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"event\":\"end\""));
	assert_non_null(strstr(buf, ",\"reason\":\"closed\",\"packets_out\":12,\"bytes_out\":900,"
				    "\"packets_in\":20,\"bytes_in\":1500000,\"duration_s\":0.520}"));
	/* no start seen: no duration */
	assert_true(flowlog_format(&ev, T0, "\"wan0\"", -1, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "duration_s"));
}

/* A forward starts outside: inside is the server behind the forward, the
 * REPLY direction is the inside host's "out". */
static void test_forward_end(void **state)
{
	struct nat_flow_event ev = {
		.orig = key("198.51.100.7", 5555, "203.0.113.1", 8080, IPPROTO_TCP),
		.reply = key("192.168.1.20", 80, "198.51.100.7", 5555, IPPROTO_TCP),
		.event = NAT_FLOW_EV_END, .reason = NAT_FLOW_END_ADDR_CHANGE,
		.kind = NAT_KIND_FORWARD, .packets = { 3, 4 }, .bytes = { 300, 4000 },
	};
	char buf[512];

	(void)state;
	assert_true(flowlog_format(&ev, T0, "\"ppp0\"", 0, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"kind\":\"forward\",\"inside\":\"192.168.1.20:80\","
				    "\"outside\":\"203.0.113.1:8080\",\"remote\":\"198.51.100.7:5555\","
				    "\"wan\":\"ppp0\",\"reason\":\"addr-change\",\"packets_out\":4,"
				    "\"bytes_out\":4000,\"packets_in\":3,\"bytes_in\":300"));
}

static void test_udp_icmp_reasons(void **state)
{
	struct nat_flow_event ev = {
		.orig = key("192.168.1.10", 7, "198.51.100.7", 0, IPPROTO_ICMP),
		.reply = key("198.51.100.7", 0, "203.0.113.1", 1030, IPPROTO_ICMP),
		.event = NAT_FLOW_EV_END, .kind = NAT_KIND_MASQ,
	};
	static const struct { uint8_t r; const char *name; } reasons[] = {
		{ NAT_FLOW_END_TIMEOUT, "timeout" }, { NAT_FLOW_END_EVICTED, "evicted" },
		{ NAT_FLOW_END_FLUSH, "flush" },
	};
	char buf[512], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		ev.reason = reasons[i].r;
		assert_true(flowlog_format(&ev, T0, "\"wan0\"", -1, buf, sizeof(buf)) > 0);
		snprintf(want, sizeof(want), "\"reason\":\"%s\"", reasons[i].name);
		assert_non_null(strstr(buf, want));
		assert_non_null(strstr(buf, "\"proto\":\"icmp\""));
		/* ICMP echo: the identifier is the port */
		assert_non_null(strstr(buf, "\"outside\":\"203.0.113.1:1030\""));
	}
}

static void test_refused(void **state)
{
	struct nat_flow_event ev = {
		.orig = key("192.168.1.10", 40000, "198.51.100.7", 80, IPPROTO_UDP),
		.reply = key("198.51.100.7", 80, "203.0.113.1", 40000, IPPROTO_UDP),
		.event = NAT_FLOW_EV_END, .reason = 99, .kind = NAT_KIND_MASQ,
	};
	char buf[512];

	(void)state;
	assert_int_equal(flowlog_format(&ev, T0, "\"wan0\"", -1, buf, sizeof(buf)), -1);
	ev.event = 7;
	ev.reason = NAT_FLOW_END_TIMEOUT;
	assert_int_equal(flowlog_format(&ev, T0, "\"wan0\"", -1, buf, sizeof(buf)), -1);
	ev.event = NAT_FLOW_EV_START;
	assert_int_equal(flowlog_format(&ev, T0, "\"wan0\"", -1, buf, 40), -1);	/* too small */
}

/* The WAN's name is the one free-form string: escaped by json-c. */
static void test_json_string(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(flowlog_json_string("wan0", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "\"wan0\"");
	assert_true(flowlog_json_string("a\"b\\c", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "\"a\\\"b\\\\c\"");
	assert_int_equal(flowlog_json_string("wan0", buf, 6), -1);
}

static void test_lost(void **state)
{
	char buf[256];

	(void)state;
	assert_true(flowlog_format_lost(T0, 42, "ring buffer full", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"time\":\"2026-12-01T12:00:00.123Z\",\"event\":\"lost\","
				 "\"count\":42,\"why\":\"ring buffer full\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_masq_start),
		cmocka_unit_test(test_masq_end),
		cmocka_unit_test(test_forward_end),
		cmocka_unit_test(test_udp_icmp_reasons),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
