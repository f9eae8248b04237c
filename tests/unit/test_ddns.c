/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_ddns.c - the pure parts of DDNS updates (ctl/ddns_proto.c): reply
 * codes, HTTP status handling, backoff, URL building and escaping, secret
 * files, redaction, scheduling, the persisted-state format, Cloudflare JSON;
 * then the worker thread (ctl/ddns.c) against a tiny HTTP responder on
 * 127.0.0.1: update, status file, persisted state across a restart,
 * permanent failure, reload, backoff.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "wan/ddns.h"

static enum ddns_outcome reply(const char *body, bool *known, char *msg)
{
	return ddns_parse_reply(body, strlen(body), known, msg, DDNS_MSG_MAX);
}

static void test_reply_success(void **state)
{
	static const char *const ok[] = {
		"good", "good 198.51.100.7", "nochg", "nochg 198.51.100.7",
		"good 198.51.100.7\n", "  nochg\r\n", "good\t198.51.100.7  \n",
		"good 1.2.3.4\nnochg 1.2.3.4\n", "GOOD 1.2.3.4",
	};
	char msg[DDNS_MSG_MAX];
	bool known;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(reply(ok[i], &known, msg), DDNS_OK);
		assert_true(known);
	}
	reply("good 198.51.100.7\r\n", &known, msg);
	assert_string_equal(msg, "good 198.51.100.7");
	reply("nochg", &known, msg);
	assert_string_equal(msg, "nochg");
}

static void test_reply_permanent(void **state)
{
	static const char *const perm[] = {
		"badauth", "notfqdn", "nohost", "!donator", "abuse", "badagent",
		"numhost", "!yours",
	};
	char msg[DDNS_MSG_MAX], body[64];
	bool known;

	(void)state;
	for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++) {
		assert_int_equal(reply(perm[i], &known, msg), DDNS_PERMFAIL);
		assert_true(known);
		assert_string_equal(msg, perm[i]);
		snprintf(body, sizeof(body), " %s\r\n", perm[i]);
		assert_int_equal(reply(body, &known, msg), DDNS_PERMFAIL);
		assert_string_equal(msg, perm[i]);
	}
}

static void test_reply_temporary(void **state)
{
	char msg[DDNS_MSG_MAX];
	bool known;

	(void)state;
	assert_int_equal(reply("911", &known, msg), DDNS_TEMPFAIL);
	assert_true(known);
	assert_int_equal(reply("dnserr\n", &known, msg), DDNS_TEMPFAIL);
	assert_true(known);
	assert_string_equal(msg, "dnserr");
}

static void test_reply_garbage(void **state)
{
	static const char *const bad[] = {
		"", " ", "\n\n", "<html><body>hello</body></html>", "goodish",
		"good not-an-address", "good 1.2.3", "nochg 1.2.3.4 extra",
		"bad auth", "okay", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	const char bin[] = { 'g', 'o', 'o', 'd', '\0', 'x', (char)0xff };
	char msg[DDNS_MSG_MAX];
	bool known;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(reply(bad[i], &known, msg), DDNS_TEMPFAIL);
		assert_false(known);
	}
	assert_int_equal(reply("", &known, msg), DDNS_TEMPFAIL);
	assert_string_equal(msg, "empty reply");
	assert_int_equal(ddns_parse_reply(bin, sizeof(bin), &known, msg, sizeof(msg)),
			 DDNS_TEMPFAIL);
	assert_false(known);
	for (const char *p = msg; *p; p++)	/* printable only */
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static enum ddns_outcome classify(long st, const char *body, bool custom, char *msg)
{
	return ddns_classify(st, body, strlen(body), custom, msg, DDNS_MSG_MAX);
}

static void test_classify_http(void **state)
{
	char msg[DDNS_MSG_MAX];

	(void)state;
	assert_int_equal(classify(200, "good 1.2.3.4", false, msg), DDNS_OK);
	assert_int_equal(classify(200, "badauth", false, msg), DDNS_PERMFAIL);
	assert_int_equal(classify(200, "garbage!", false, msg), DDNS_TEMPFAIL);
	assert_int_equal(classify(503, "", false, msg), DDNS_TEMPFAIL);
	assert_string_equal(msg, "HTTP 503");
	assert_int_equal(classify(500, "<html>", false, msg), DDNS_TEMPFAIL);
	assert_int_equal(classify(429, "", false, msg), DDNS_TEMPFAIL);
	assert_int_equal(classify(401, "badauth", false, msg), DDNS_PERMFAIL);
	assert_string_equal(msg, "badauth");
	assert_int_equal(classify(401, "", false, msg), DDNS_PERMFAIL);
	assert_int_equal(classify(404, "not found", false, msg), DDNS_PERMFAIL);
	assert_int_equal(classify(302, "", false, msg), DDNS_TEMPFAIL);
	/* a 5xx never counts as success, whatever the body says */
	assert_int_equal(classify(503, "good 1.2.3.4", false, msg), DDNS_TEMPFAIL);
	/* custom: any 2xx is success unless it carries a dyndns2 failure */
	assert_int_equal(classify(200, "OK", true, msg), DDNS_OK);
	assert_int_equal(classify(204, "", true, msg), DDNS_OK);
	assert_int_equal(classify(200, "nohost", true, msg), DDNS_PERMFAIL);
	assert_int_equal(classify(503, "OK", true, msg), DDNS_TEMPFAIL);
}

static void test_backoff(void **state)
{
	static const unsigned want[] = { 0, 60, 120, 240, 480, 960, 1920, 3600, 3600 };

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(ddns_backoff(i), want[i]);
	assert_int_equal(ddns_backoff(100), DDNS_BACKOFF_MAX);
	assert_int_equal(ddns_backoff(~0U), DDNS_BACKOFF_MAX);
	for (unsigned i = 1; i < 40; i++)	/* never shrinks */
		assert_true(ddns_backoff(i + 1) >= ddns_backoff(i));
}

static void test_expand_url(void **state)
{
	char out[DDNS_URL_MAX];

	(void)state;
	assert_int_equal(ddns_expand_url("https://x.example/u?h={host}&ip={addr}&u={user}&p={password}",
					 "h.example.net", "198.51.100.7", "al ice",
					 "p&ss word=1/?", out, sizeof(out)), 0);
	assert_string_equal(out, "https://x.example/u?h=h.example.net&ip=198.51.100.7"
				 "&u=al%20ice&p=p%26ss%20word%3D1%2F%3F");
	/* unknown placeholders and stray braces are kept as they are */
	assert_int_equal(ddns_expand_url("https://x/{other}/{host", "h", "a", "", "", out,
					 sizeof(out)), 0);
	assert_string_equal(out, "https://x/{other}/{host");
	/* repeated, and empty values */
	assert_int_equal(ddns_expand_url("{addr}{addr}{user}", "h", "1.2.3.4", "", NULL, out,
					 sizeof(out)), 0);
	assert_string_equal(out, "1.2.3.41.2.3.4");
	/* does not fit */
	assert_int_equal(ddns_expand_url("https://x/{password}", "h", "a", "u", "long secret",
					 out, 16), -1);
	assert_int_equal(ddns_expand_url("https://x.example/", "h", "a", "u", "p", out, 10), -1);
}

static void test_update_urls(void **state)
{
	char out[DDNS_URL_MAX];

	(void)state;
	assert_int_equal(ddns_update_url(DDNS_DYNDNS2, "", "h.example", "198.51.100.7", out,
					 sizeof(out)), 0);
	assert_string_equal(out, "https://members.dyndns.org/nic/update?hostname=h.example"
				 "&myip=198.51.100.7");
	assert_int_equal(ddns_update_url(DDNS_NOIP, "", "h.example", "1.2.3.4", out, sizeof(out)), 0);
	assert_string_equal(out, "https://dynupdate.no-ip.com/nic/update?hostname=h.example&myip=1.2.3.4");
	assert_int_equal(ddns_update_url(DDNS_ORAY, "", "h3cmsr.imwork.net", "1.2.3.4", out,
					 sizeof(out)), 0);
	assert_string_equal(out, "https://ddns.oray.com/ph/update?hostname=h3cmsr.imwork.net&myip=1.2.3.4");
	assert_int_equal(ddns_update_url(DDNS_DYNDNS2, "https://127.0.0.1:8443/", "h", "1.2.3.4",
					 out, sizeof(out)), 0);
	assert_string_equal(out, "https://127.0.0.1:8443/nic/update?hostname=h&myip=1.2.3.4");
	assert_int_equal(ddns_update_url(DDNS_CLOUDFLARE, "", "h", "1.2.3.4", out, sizeof(out)), -1);
	assert_int_equal(ddns_cf_zone_url("", "example.com", out, sizeof(out)), 0);
	assert_string_equal(out, "https://api.cloudflare.com/client/v4/zones?name=example.com");
	assert_int_equal(ddns_cf_records_url("http://127.0.0.1:1", "abc123", "a.example.com", out,
					     sizeof(out)), 0);
	assert_string_equal(out, "http://127.0.0.1:1/client/v4/zones/abc123/dns_records?type=A"
				 "&name=a.example.com");
	assert_int_equal(ddns_cf_record_url("", "z1", "r2", out, sizeof(out)), 0);
	assert_string_equal(out, "https://api.cloudflare.com/client/v4/zones/z1/dns_records/r2");
}

static void test_parent_zone(void **state)
{
	const char *z = "a.b.example.com";

	(void)state;
	assert_string_equal(z = ddns_parent_zone(z), "b.example.com");
	assert_string_equal(z = ddns_parent_zone(z), "example.com");
	assert_null(ddns_parent_zone(z));
	assert_null(ddns_parent_zone("localhost"));
}

static void test_cloudflare_json(void **state)
{
	char id[80], content[64], msg[DDNS_MSG_MAX];
	bool found;
	const char *zones = "{\"success\":true,\"errors\":[],\"result\":[{\"id\":\"0123abcd\","
			    "\"name\":\"example.com\"}]}";
	const char *recs = "{\"success\":true,\"result\":[{\"id\":\"ffee01\",\"type\":\"A\","
			   "\"content\":\"192.0.2.1\"}]}";
	const char *empty = "{\"success\":true,\"result\":[]}";
	const char *err = "{\"success\":false,\"errors\":[{\"code\":10000,"
			  "\"message\":\"Authentication error\"}],\"result\":null}";
	const char *badid = "{\"success\":true,\"result\":[{\"id\":\"../x\",\"content\":\"1.2.3.4\"}]}";

	(void)state;
#define LIST(b, c) ddns_cf_parse_list(b, strlen(b), &found, id, sizeof(id), c, \
				      sizeof(content), msg, sizeof(msg))
	assert_int_equal(LIST(zones, NULL), DDNS_OK);
	assert_true(found);
	assert_string_equal(id, "0123abcd");
	assert_int_equal(LIST(recs, content), DDNS_OK);
	assert_string_equal(id, "ffee01");
	assert_string_equal(content, "192.0.2.1");
	assert_int_equal(LIST(empty, NULL), DDNS_OK);
	assert_false(found);
	assert_int_equal(LIST(err, NULL), DDNS_PERMFAIL);
	assert_non_null(strstr(msg, "Authentication error"));
	assert_int_equal(LIST(badid, content), DDNS_TEMPFAIL);
	assert_int_equal(LIST("not json", NULL), DDNS_TEMPFAIL);
	assert_int_equal(LIST("[1,2]", NULL), DDNS_TEMPFAIL);
	assert_int_equal(LIST("{\"result\":[]}", NULL), DDNS_TEMPFAIL);
	assert_int_equal(LIST("", NULL), DDNS_TEMPFAIL);
#undef LIST
	assert_int_equal(ddns_cf_parse_result(recs, strlen(recs), msg, sizeof(msg)), DDNS_OK);
	assert_int_equal(ddns_cf_parse_result(err, strlen(err), msg, sizeof(msg)), DDNS_PERMFAIL);
	assert_int_equal(ddns_cf_parse_result("{\"success\":tr", 13, msg, sizeof(msg)),
			 DDNS_TEMPFAIL);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void test_read_secret(void **state)
{
	char path[] = "/tmp/test_ddns_secretXXXXXX", buf[DDNS_SECRET_MAX];
	int fd = mkstemp(path);
	char big[DDNS_SECRET_MAX + 10];

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "p&ss word\n", 10);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "p&ss word");
	write_file(path, "tok\r\n", 5);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tok");
	write_file(path, "no-newline", 10);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "no-newline");
	write_file(path, " spaces kept \n\n", 15);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, " spaces kept ");
	write_file(path, "\n", 1);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), -EINVAL);
	write_file(path, "two\nlines\n", 10);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(buf, "");	/* nothing half-read is left */
	write_file(path, "a\0b", 3);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), -EINVAL);
	memset(big, 'x', sizeof(big));
	write_file(path, big, sizeof(big));
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), -EFBIG);
	write_file(path, big, sizeof(buf) - 1);	/* exactly the limit */
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	unlink(path);
	assert_int_equal(ddns_read_secret(path, buf, sizeof(buf)), -ENOENT);
}

static void test_redact(void **state)
{
	char s[256];

	(void)state;
	strcpy(s, "Could not resolve host: x?p=p%26ss%20word and p&ss word again");
	ddns_redact(s, "p&ss word");
	assert_null(strstr(s, "p&ss"));
	assert_null(strstr(s, "p%26ss"));
	assert_string_equal(s, "Could not resolve host: x?p=*** and *** again");
	strcpy(s, "ab ab");
	ddns_redact(s, "a");	/* short secrets never grow the string */
	assert_string_equal(s, "*b *b");
	strcpy(s, "unchanged");
	ddns_redact(s, "");
	ddns_redact(s, NULL);
	assert_string_equal(s, "unchanged");
}

static struct in_addr ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static void test_due(void **state)
{
	struct ddns_sched s = { .interval = 3600 };
	time_t at;

	(void)state;
	assert_false(ddns_due(&s, &at));		/* no address: nothing */
	s.want = ip("198.51.100.7");
	assert_true(ddns_due(&s, &at));			/* never sent: now */
	assert_int_equal(at, 0);
	s.sent = s.want;
	s.sent_time = 1000;
	assert_true(ddns_due(&s, &at));			/* same: forced refresh */
	assert_int_equal(at, 4600);
	s.want = ip("198.51.100.8");
	assert_true(ddns_due(&s, &at));			/* changed: now */
	assert_int_equal(at, 0);
	s.failures = 2;
	s.retry_at = 2000;
	assert_true(ddns_due(&s, &at));			/* backoff holds */
	assert_int_equal(at, 2000);
	s.stopped = true;
	assert_false(ddns_due(&s, &at));		/* permanent failure */
	s = (struct ddns_sched){ .want = ip("1.2.3.4"), .sent = ip("1.2.3.4"), .sent_time = 5 };
	assert_false(ddns_due(&s, &at));		/* no interval: never forced */
}

static void test_state_format(void **state)
{
	struct cfg_ddns c = { .wan = "eth0", .provider = DDNS_ORAY, .fqdn = "h.example",
			      .user = "u", .interval = 60 };
	struct cfg_ddns c2 = c;
	struct ddns_state st = { .sent = ip("198.51.100.7"), .sent_time = 1764170000 }, got;
	char buf[2 * DDNS_MSG_MAX + 256];
	uint64_t fp = ddns_fingerprint(&c);

	(void)state;
	assert_int_equal(ddns_state_format(buf, sizeof(buf), &c, &st), 0);
	assert_int_equal(ddns_state_parse(buf, &c, &got), 0);
	assert_int_equal(got.sent.s_addr, ip("198.51.100.7").s_addr);
	assert_int_equal(got.sent_time, 1764170000);
	assert_false(got.stopped);
	assert_int_equal(got.failures, 0);
	strcpy(c2.server, "https://other.example");
	assert_int_not_equal(ddns_fingerprint(&c2), fp);
	assert_int_equal(ddns_state_parse(buf, &c2, &got), -1);
	assert_int_equal(got.sent.s_addr, 0);
	c2 = c;
	c2.interval = 120;	/* not part of where updates go */
	assert_int_equal(ddns_fingerprint(&c2), fp);
	assert_int_not_equal(ddns_cfg_fingerprint(&c2), ddns_cfg_fingerprint(&c));
	assert_false(ddns_cfg_equal(&c, &c2));
	c2 = c;
	c2.line = 99;
	assert_true(ddns_cfg_equal(&c, &c2));
	assert_int_equal(ddns_cfg_fingerprint(&c2), ddns_cfg_fingerprint(&c));
	assert_int_equal(ddns_state_parse("garbage", &c, &got), -1);
	assert_int_equal(ddns_state_parse("", &c, &got), -1);
	assert_int_equal(ddns_state_parse("1.2.3 5 0", &c, &got), -1);
	assert_int_equal(ddns_state_format(buf, 8, &c, &st), -1);
}

/* Everything a restart must keep comes back as it was written. */
static void test_state_round_trip(void **state)
{
	struct cfg_ddns c = { .wan = "eth0", .provider = DDNS_DYNDNS2, .fqdn = "h.example",
			      .user = "u", .password_file = "/etc/pw", .interval = 60 };
	struct ddns_state st = {
		.sent = ip("198.51.100.7"), .sent_time = 1764170000, .stopped = true,
		.secret = { .ino = 4242, .size = 9, .mtime_sec = 1764100000,
			    .mtime_nsec = 123456789 },
		.last_time = 1764170100, .last_result = "badauth (the provider said so)",
	}, got;
	char buf[2 * DDNS_MSG_MAX + 256];

	(void)state;
	assert_int_equal(ddns_state_format(buf, sizeof(buf), &c, &st), 0);
	assert_int_equal(ddns_state_parse(buf, &c, &got), 0);
	assert_memory_equal(&got, &st, sizeof(st));

	/* a backoff in progress, nothing ever sent */
	memset(&st, 0, sizeof(st));
	st.failures = 3;
	st.retry_at = 1764170240;
	st.last_time = 1764170000;
	snprintf(st.last_result, sizeof(st.last_result), "timeout: no answer");
	assert_int_equal(ddns_state_format(buf, sizeof(buf), &c, &st), 0);
	assert_non_null(strstr(buf, "0.0.0.0 0 "));
	assert_int_equal(ddns_state_parse(buf, &c, &got), 0);
	assert_memory_equal(&got, &st, sizeof(st));

	/* a result text with a line break stays one line */
	snprintf(st.last_result, sizeof(st.last_result), "bad\nreply\r");
	assert_int_equal(ddns_state_format(buf, sizeof(buf), &c, &st), 0);
	assert_int_equal(ddns_state_parse(buf, &c, &got), 0);
	assert_string_equal(got.last_result, "bad reply ");
	assert_int_equal(got.failures, 3);
}

/* A file of an older version (the first line alone) keeps its address: an
 * upgrade sends nothing. A second line of another configuration (any
 * change of the ddns line) or a broken one is ignored: the name starts
 * afresh, with the address it was last updated to. */
static void test_state_old_and_other(void **state)
{
	struct cfg_ddns c = { .wan = "eth0", .provider = DDNS_ORAY, .fqdn = "h.example",
			      .user = "u", .interval = 60 };
	struct cfg_ddns c2 = c;
	struct ddns_state st = { .sent = ip("198.51.100.7"), .sent_time = 1764170000,
				 .stopped = true, .last_time = 1764170001,
				 .last_result = "nohost" }, got;
	char old[128], buf[2 * DDNS_MSG_MAX + 256];

	(void)state;
	snprintf(old, sizeof(old), "198.51.100.7 1764170000 %016llx\n",
		 (unsigned long long)ddns_fingerprint(&c));
	assert_int_equal(ddns_state_parse(old, &c, &got), 0);
	assert_int_equal(got.sent.s_addr, ip("198.51.100.7").s_addr);
	assert_int_equal(got.sent_time, 1764170000);
	assert_false(got.stopped);
	assert_int_equal(got.failures, 0);
	assert_string_equal(got.last_result, "");

	c2.interval = 3600;	/* same destination, another ddns line */
	assert_int_equal(ddns_state_format(buf, sizeof(buf), &c, &st), 0);
	assert_int_equal(ddns_state_parse(buf, &c2, &got), 0);
	assert_int_equal(got.sent.s_addr, ip("198.51.100.7").s_addr);
	assert_false(got.stopped);
	assert_string_equal(got.last_result, "");

	snprintf(buf + strlen(old), sizeof(buf) - strlen(old), "v2 zz 1\n");
	assert_int_equal(ddns_state_parse(buf, &c, &got), 0);
	assert_int_equal(got.sent.s_addr, ip("198.51.100.7").s_addr);
	assert_false(got.stopped);
}

static void test_fqdn_ok(void **state)
{
	(void)state;
	assert_true(ddns_fqdn_ok("h3cmsr.imwork.net"));
	assert_false(ddns_fqdn_ok(""));
	assert_false(ddns_fqdn_ok(".."));
	assert_false(ddns_fqdn_ok("../etc/passwd"));
	assert_false(ddns_fqdn_ok("a/b"));
}

/* ---- the worker thread, against a tiny HTTP responder on 127.0.0.1 ---- */

struct responder {
	int fd, port;
	atomic_int hits;
	char last[2048];
	const char *reply;
	pthread_t th;
};

static void *responder_loop(void *arg)
{
	struct responder *r = arg;
	int c;

	while ((c = accept(r->fd, NULL, NULL)) >= 0) {
		char buf[2048];
		ssize_t n = 0, k;

		while (n < (ssize_t)sizeof(buf) - 1 &&
		       (k = read(c, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0) {
			n += k;
			buf[n] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		buf[n > 0 ? n : 0] = '\0';
		memcpy(r->last, buf, sizeof(buf));
		atomic_fetch_add(&r->hits, 1);
		if (write(c, r->reply, strlen(r->reply)) < 0)
			break;
		close(c);
	}
	return NULL;
}

static void responder_start(struct responder *r, const char *reply)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(r, 0, sizeof(*r));
	r->reply = reply;
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r->fd, 8), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sa, &len), 0);
	r->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&r->th, NULL, responder_loop, r), 0);
}

static void responder_stop(struct responder *r)
{
	shutdown(r->fd, SHUT_RDWR);
	close(r->fd);
	pthread_join(r->th, NULL);
}

struct wtest {
	char dir[64];
	struct xdpnat_config cfg;
};

static void wtest_config(struct wtest *w, const char *url)
{
	char text[2048], pw[128];

	snprintf(pw, sizeof(pw), "%s/pw", w->dir);
	write_file(pw, "s3cr&t\n", 7);
	chmod(pw, 0600);
	snprintf(text, sizeof(text),
		 "wan eth0\nlan eth1\nstate-dir %s/state\nrun-dir %s/run\n"
		 "ddns eth0 custom w.example password-file %s url %s\n", w->dir, w->dir, pw, url);
	assert_int_equal(cfg_parse_string(&w->cfg, "test", text, stderr), 0);
}

/* The first entry of ddns.json once `key` has the string value `want`,
 * within 5 s; NULL if it never does. Caller puts the returned root. */
static struct json_object *status_when(struct wtest *w, const char *key, const char *want)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/run/ddns.json", w->dir);
	for (int i = 0; i < 100; i++) {
		struct json_object *root = json_object_from_file(path), *e, *v;

		if (root && (e = json_object_array_get_idx(root, 0)) &&
		    json_object_object_get_ex(e, key, &v) &&
		    strcmp(json_object_get_string(v), want) == 0)
			return root;
		json_object_put(root);
		usleep(50000);
	}
	return NULL;
}

static const char *field(struct json_object *root, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(json_object_array_get_idx(root, 0), key, &v));
	return json_object_get_string(v);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wtest_free(struct wtest *w)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);	/* our mkdtemp dir */
	assert_int_equal(system(cmd), 0);
	free(w);
}

static void test_worker_update_and_restart(void **state)
{
	struct wtest *w = calloc(1, sizeof(*w));
	struct responder r;
	struct json_object *st;
	char url[128], path[160], buf[128];
	struct ddns *d;
	double t0;
	FILE *f;

	(void)state;
	strcpy(w->dir, "/tmp/test_ddns_wXXXXXX");
	assert_non_null(mkdtemp(w->dir));
	responder_start(&r, "HTTP/1.0 200 OK\r\n\r\ngood 198.51.100.7\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/u?ip={addr}&p={password}", r.port);
	wtest_config(w, url);
	d = ddns_start(&w->cfg);
	assert_non_null(d);
	ddns_address_changed(d, "eth0", ip("198.51.100.7"));
	st = status_when(w, "state", "ok");
	assert_non_null(st);
	st = (json_object_put(st), status_when(w, "last_address", "198.51.100.7"));
	assert_non_null(st);
	assert_string_equal(field(st, "name"), "w.example");
	assert_string_equal(field(st, "provider"), "custom");
	assert_null(strstr(json_object_to_json_string(st), "s3cr"));
	json_object_put(st);
	assert_int_equal(atomic_load(&r.hits), 1);
	assert_non_null(strstr(r.last, "GET /u?ip=198.51.100.7&p=s3cr%26t "));
	assert_non_null(strstr(r.last, "User-Agent: xdpnat/0.1 ddns"));
	ddns_stop(d);

	snprintf(path, sizeof(path), "%s/state/ddns/w.example", w->dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_true(strncmp(buf, "198.51.100.7 ", 13) == 0);

	/* a restart with the same address sends nothing; a new one is sent */
	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.7"));
	usleep(500000);
	assert_int_equal(atomic_load(&r.hits), 1);
	t0 = now_s();
	ddns_address_changed(d, "eth0", ip("198.51.100.9"));
	assert_true(now_s() - t0 < 0.05);	/* only queues */
	st = status_when(w, "last_address", "198.51.100.9");
	assert_non_null(st);
	json_object_put(st);
	assert_int_equal(atomic_load(&r.hits), 2);
	ddns_stop(d);
	responder_stop(&r);
	wtest_free(w);
}

/* `failover eth2`: while eth0 is down and eth2 up, the name gets eth2's
 * address; one update per change; both down: its own address again. */
static void test_worker_failover(void **state)
{
	struct wtest *w = calloc(1, sizeof(*w));
	struct responder r;
	struct json_object *st;
	char url[128], pw[128], text[1024];
	struct ddns *d;

	(void)state;
	strcpy(w->dir, "/tmp/test_ddns_wXXXXXX");
	assert_non_null(mkdtemp(w->dir));
	responder_start(&r, "HTTP/1.0 200 OK\r\n\r\ngood\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/u?ip={addr}", r.port);
	snprintf(pw, sizeof(pw), "%s/pw", w->dir);
	write_file(pw, "s3cr&t\n", 7);
	chmod(pw, 0600);
	snprintf(text, sizeof(text),
		 "wan eth0\nwan eth2\nlan eth1\nstate-dir %s/state\nrun-dir %s/run\n"
		 "ddns eth0 custom w.example password-file %s url %s failover eth2\n",
		 w->dir, w->dir, pw, url);
	assert_int_equal(cfg_parse_string(&w->cfg, "test", text, stderr), 0);
	d = ddns_start(&w->cfg);
	assert_non_null(d);
	ddns_address_changed(d, "eth0", ip("198.51.100.7"));
	ddns_address_changed(d, "eth2", ip("192.0.2.20"));
	st = status_when(w, "last_address", "198.51.100.7");
	assert_non_null(st);
	assert_string_equal(field(st, "failover"), "eth2");
	json_object_put(st);

	ddns_wan_state(d, "eth0", false);
	st = status_when(w, "last_address", "192.0.2.20");
	assert_non_null(st);
	json_object_put(st);
	assert_non_null(strstr(r.last, "GET /u?ip=192.0.2.20 "));
	ddns_wan_state(d, "eth0", false);		/* no change: nothing sent */
	ddns_address_changed(d, "eth0", ip("198.51.100.8"));	/* still down */
	usleep(300000);
	assert_int_equal(atomic_load(&r.hits), 2);

	/* both down: nothing to fail over to, its own (new) address */
	ddns_wan_state(d, "eth2", false);
	st = status_when(w, "last_address", "198.51.100.8");
	assert_non_null(st);
	json_object_put(st);
	ddns_wan_state(d, "eth2", true);
	st = status_when(w, "last_address", "192.0.2.20");
	assert_non_null(st);
	json_object_put(st);
	ddns_wan_state(d, "eth0", true);
	st = status_when(w, "last_address", "198.51.100.8");
	assert_non_null(st);
	json_object_put(st);
	usleep(300000);
	assert_int_equal(atomic_load(&r.hits), 5);
	ddns_stop(d);
	responder_stop(&r);
	wtest_free(w);
}

static void test_worker_failures(void **state)
{
	struct wtest *w = calloc(1, sizeof(*w));
	struct responder r;
	struct json_object *st;
	char url[128], pw[128];
	struct ddns *d;
	long long next;

	(void)state;
	strcpy(w->dir, "/tmp/test_ddns_wXXXXXX");
	assert_non_null(mkdtemp(w->dir));
	responder_start(&r, "HTTP/1.0 200 OK\r\n\r\nbadauth\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/u?ip={addr}", r.port);
	wtest_config(w, url);
	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.7"));
	st = status_when(w, "state", "stopped");
	assert_non_null(st);
	assert_string_equal(field(st, "last_result"), "badauth");
	json_object_put(st);
	ddns_address_changed(d, "eth0", ip("198.51.100.8"));
	usleep(300000);
	assert_int_equal(atomic_load(&r.hits), 1);	/* stopped: nothing more */
	ddns_reload(d, &w->cfg);			/* same config: still stopped */
	usleep(300000);
	assert_int_equal(atomic_load(&r.hits), 1);

	/* a new password in the secret file + reload: tried again */
	snprintf(pw, sizeof(pw), "%s/pw", w->dir);
	write_file(pw, "n3w-secret\n", 11);
	ddns_reload(d, &w->cfg);
	for (int i = 0; i < 100 && atomic_load(&r.hits) < 2; i++)
		usleep(50000);
	assert_int_equal(atomic_load(&r.hits), 2);

	/* a changed entry starts again; connection refused -> retrying in 60 s */
	snprintf(url, sizeof(url), "http://127.0.0.1:1/u?ip={addr}");
	wtest_config(w, url);
	ddns_reload(d, &w->cfg);
	st = status_when(w, "state", "retrying");
	assert_non_null(st);
	assert_non_null(strstr(field(st, "last_result"), "connection error"));
	next = atoll(field(st, "next_attempt")) - atoll(field(st, "last_time"));
	assert_int_equal(next, DDNS_BACKOFF_FIRST);
	json_object_put(st);
	ddns_stop(d);
	responder_stop(&r);
	wtest_free(w);
}

/* Until `hits` requests arrived (at most 5 s). */
static void wait_hits(struct responder *r, int hits)
{
	for (int i = 0; i < 100 && atomic_load(&r->hits) < hits; i++)
		usleep(50000);
	assert_int_equal(atomic_load(&r->hits), hits);
}

/*
 * A badauth survives a restart: the new worker shows the name stopped with
 * the same result and does not send, whatever address it is told, until
 * the secret file changes (then once more). A file of an older version
 * (the first line alone) sends nothing for the address it names.
 */
static void test_worker_stop_survives_restart(void **state)
{
	struct wtest *w = calloc(1, sizeof(*w));
	struct responder r;
	struct json_object *st;
	char url[128], pw[128], path[160], old[128];
	struct ddns *d;
	long long t1;
	FILE *f;

	(void)state;
	strcpy(w->dir, "/tmp/test_ddns_wXXXXXX");
	assert_non_null(mkdtemp(w->dir));
	responder_start(&r, "HTTP/1.0 200 OK\r\n\r\nbadauth\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/u?ip={addr}", r.port);
	wtest_config(w, url);
	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.7"));
	st = status_when(w, "state", "stopped");
	assert_non_null(st);
	t1 = atoll(field(st, "last_time"));
	json_object_put(st);
	ddns_stop(d);
	assert_int_equal(atomic_load(&r.hits), 1);

	/* a restart (its status file gone with the run dir): still stopped */
	snprintf(path, sizeof(path), "%s/run/ddns.json", w->dir);
	assert_int_equal(unlink(path), 0);
	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.8"));
	st = status_when(w, "state", "stopped");
	assert_non_null(st);
	assert_string_equal(field(st, "last_result"), "badauth");
	assert_int_equal(atoll(field(st, "last_time")), t1);
	assert_string_equal(field(st, "next_attempt"), "0");
	json_object_put(st);
	usleep(300000);
	assert_int_equal(atomic_load(&r.hits), 1);
	ddns_stop(d);

	/* a new secret: the next start tries again */
	snprintf(pw, sizeof(pw), "%s/pw", w->dir);
	write_file(pw, "n3w-secret\n", 11);
	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.8"));
	wait_hits(&r, 2);
	ddns_stop(d);
	responder_stop(&r);

	/* an upgrade: the old one-line file, the address it names is not resent */
	responder_start(&r, "HTTP/1.0 200 OK\r\n\r\ngood 198.51.100.9\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/u?ip={addr}", r.port);
	wtest_config(w, url);
	snprintf(path, sizeof(path), "%s/state/ddns/w.example", w->dir);
	snprintf(old, sizeof(old), "198.51.100.9 %lld %016llx\n", (long long)time(NULL) - 10,
		 (unsigned long long)ddns_fingerprint(&w->cfg.ddns[0]));
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(old, f) >= 0, 1);
	fclose(f);
	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.9"));
	st = status_when(w, "last_address", "198.51.100.9");
	assert_non_null(st);
	assert_string_equal(field(st, "state"), "ok");
	json_object_put(st);
	usleep(300000);
	assert_int_equal(atomic_load(&r.hits), 0);
	ddns_stop(d);
	responder_stop(&r);
	wtest_free(w);
}

/* A backoff survives a restart: the retry stays where it was scheduled,
 * nothing is sent at once. */
static void test_worker_backoff_survives_restart(void **state)
{
	struct wtest *w = calloc(1, sizeof(*w));
	struct responder r;
	struct json_object *st;
	char url[128], next[32];
	struct ddns *d;

	(void)state;
	strcpy(w->dir, "/tmp/test_ddns_wXXXXXX");
	assert_non_null(mkdtemp(w->dir));
	responder_start(&r, "HTTP/1.0 503 Busy\r\n\r\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/u?ip={addr}", r.port);
	wtest_config(w, url);
	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.7"));
	st = status_when(w, "state", "retrying");
	assert_non_null(st);
	assert_int_equal(atoll(field(st, "next_attempt")) - atoll(field(st, "last_time")),
			 DDNS_BACKOFF_FIRST);
	snprintf(next, sizeof(next), "%s", field(st, "next_attempt"));
	json_object_put(st);
	ddns_stop(d);
	assert_int_equal(atomic_load(&r.hits), 1);

	d = ddns_start(&w->cfg);
	ddns_address_changed(d, "eth0", ip("198.51.100.7"));
	st = status_when(w, "next_attempt", next);
	assert_non_null(st);
	assert_string_equal(field(st, "state"), "retrying");
	json_object_put(st);
	usleep(300000);
	assert_int_equal(atomic_load(&r.hits), 1);
	ddns_stop(d);
	responder_stop(&r);
	wtest_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_success),
		cmocka_unit_test(test_reply_permanent),
		cmocka_unit_test(test_reply_temporary),
		cmocka_unit_test(test_reply_garbage),
		cmocka_unit_test(test_classify_http),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_expand_url),
		cmocka_unit_test(test_update_urls),
		cmocka_unit_test(test_parent_zone),
		cmocka_unit_test(test_cloudflare_json),
		cmocka_unit_test(test_read_secret),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_state_format),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_old_and_other),
		cmocka_unit_test(test_fqdn_ok),
		cmocka_unit_test(test_worker_update_and_restart),
		cmocka_unit_test(test_worker_failures),
		cmocka_unit_test(test_worker_failover),
		cmocka_unit_test(test_worker_stop_survives_restart),
		cmocka_unit_test(test_worker_backoff_survives_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
