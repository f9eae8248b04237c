/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_metrics_req.c - ctl/daemon/metrics_req.c: what the metrics endpoint
 * answers to each kind of request, and that it waits for the blank line,
 * refuses more than it reads and a NUL byte, whatever arrives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "daemon/metrics_req.h"

#define MAX 4096

static enum metrics_req parse(const char *s)
{
	return metrics_req_parse(s, strlen(s), MAX);
}

static void test_answers(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: r\r\n\r\n"), METRICS_REQ_GET);
	assert_int_equal(parse("GET /metrics HTTP/1.0\n\n"), METRICS_REQ_GET);
	assert_int_equal(parse("GET /metrics?x=1 HTTP/1.1\r\n\r\n"), METRICS_REQ_GET);
	assert_int_equal(parse("HEAD /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_HEAD);
	assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_METHOD);
	assert_int_equal(parse("GETX /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_METHOD);
	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n"), METRICS_REQ_NOT_FOUND);
	assert_int_equal(parse("GET /metricsx HTTP/1.1\r\n\r\n"), METRICS_REQ_NOT_FOUND);
	assert_int_equal(parse("GET /metric HTTP/1.1\r\n\r\n"), METRICS_REQ_NOT_FOUND);
	assert_int_equal(parse("GET /metrics\r\n\r\n"), METRICS_REQ_BAD);
	assert_int_equal(parse("GET\r\n\r\n"), METRICS_REQ_BAD);
	assert_int_equal(parse(" /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_BAD);
	assert_int_equal(parse("\r\n\r\n"), METRICS_REQ_BAD);
	/* the path and version of the request line, not of a header */
	assert_int_equal(parse("GET\r\nX: GET /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_BAD);
	assert_string_equal(metrics_req_status(METRICS_REQ_GET), "200 OK");
	assert_string_equal(metrics_req_status(METRICS_REQ_TOO_LARGE),
			    "431 Request Header Fields Too Large");
	assert_string_equal(metrics_req_status(METRICS_REQ_METHOD), "405 Method Not Allowed");
}

static void test_incomplete(void **state)
{
	const char *full = "GET /metrics HTTP/1.1\r\nHost: r\r\n\r\n";

	(void)state;
	/* every prefix short of the blank line waits */
	for (size_t n = 0; n < strlen(full) - 1; n++)
		assert_int_equal(metrics_req_parse(full, n, MAX), METRICS_REQ_INCOMPLETE);
	assert_int_equal(metrics_req_parse(full, strlen(full), MAX), METRICS_REQ_GET);
}

static void test_too_large(void **state)
{
	char *big = malloc(MAX);

	(void)state;
	memset(big, 'a', MAX);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	assert_int_equal(metrics_req_parse(big, MAX - 1, MAX), METRICS_REQ_INCOMPLETE);
	assert_int_equal(metrics_req_parse(big, MAX, MAX), METRICS_REQ_TOO_LARGE);
	/* a NUL anywhere, even before the end */
	assert_int_equal(metrics_req_parse("GET /metr\0ics HTTP/1.1\r\n\r\n", 26, MAX),
			 METRICS_REQ_TOO_LARGE);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
