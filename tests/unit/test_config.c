/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_config.c - ctl/config.c: the field configuration, defaults, forward
 * mapping, and every error path with its exact "NAME:LINE: " prefix.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <syslog.h>
#include <cmocka.h>

#include "xdpnat.h"
#include "config/config.h"

/* Secret files for ddns, made by the group setup with these modes. */
static char tmpdir[64];
static struct secret {
	const char *tag;	/* replaced by the path in test configs */
	const char *file;
	mode_t mode;
	char path[128];
} secrets[] = {
	{ "@PW600@", "pw600", 0600, "" },
	{ "@PW644@", "pw644", 0644, "" },
	{ "@TOK600@", "tok600", 0600, "" },
	{ "@TOK620@", "tok620", 0620, "" },
	{ "@TOK601@", "tok601", 0601, "" },
};
#define NSECRETS (sizeof(secrets) / sizeof(secrets[0]))

static struct xdpnat_config cfg;	/* ~50 KB: not on the stack */

static int
setup(void **state)
{
	size_t i;
	int fd;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	for (i = 0; i < NSECRETS; i++) {
		snprintf(secrets[i].path, sizeof(secrets[i].path), "%s/%s",
		    tmpdir, secrets[i].file);
		fd = open(secrets[i].path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd == -1 || write(fd, "s3cret\n", 7) != 7 ||
		    fchmod(fd, secrets[i].mode) == -1)
			return -1;
		close(fd);
	}
	return 0;
}

static int
teardown(void **state)
{
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < NSECRETS; i++)
		unlink(secrets[i].path);
	/* test_parse_file's files, if it failed half-way */
	snprintf(path, sizeof(path), "%s/xdpnat.conf", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ddns.pw", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

/* Replace @TAG@s by secret paths and @DIR@ by the temp dir; caller frees. */
static char *
expand(const char *text)
{
	size_t cap = strlen(text) + 1024, i, n;
	char *out = malloc(cap), *o = out;
	const char *s = text;

	assert_non_null(out);
	while (*s != '\0') {
		for (i = 0; i < NSECRETS; i++) {
			n = strlen(secrets[i].tag);
			if (strncmp(s, secrets[i].tag, n) == 0)
				break;
		}
		if (i < NSECRETS) {
			o += sprintf(o, "%s", secrets[i].path);
			s += n;
		} else if (strncmp(s, "@DIR@", 5) == 0) {
			o += sprintf(o, "%s", tmpdir);
			s += 5;
		} else
			*o++ = *s++;
		assert_true((size_t)(o - out) < cap - 200);
	}
	*o = '\0';
	return out;
}

/* Parse text as "t.conf"; *errs gets everything written to err. */
static int
parse(const char *text, char **errs)
{
	char *t = expand(text);
	size_t len;
	FILE *f;
	int n;

	*errs = NULL;
	f = open_memstream(errs, &len);
	assert_non_null(f);
	n = cfg_parse_string(&cfg, "t.conf", t, f);
	fclose(f);
	free(t);
	return n;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Exactly one error, on `line`, containing `phrase` right after the prefix
 * or later in the message. */
static void
expect_error(const char *text, int line, const char *phrase)
{
	char prefix[32], *errs;
	int n;

	n = parse(text, &errs);
	snprintf(prefix, sizeof(prefix), "t.conf:%d: ", line);
	if (n != 1 || count_lines(errs) != 1 ||
	    strncmp(errs, prefix, strlen(prefix)) != 0 ||
	    strstr(errs, phrase) == NULL)
		print_error("config:\n%s\nwant 1 error \"%s...%s...\"\n"
		    "got %d:\n%s", text, prefix, phrase, n, errs);
	assert_int_equal(n, 1);
	assert_int_equal(count_lines(errs), 1);
	assert_memory_equal(errs, prefix, strlen(prefix));
	assert_non_null(strstr(errs, phrase));
	free(errs);
}

static void
expect_ok(const char *text)
{
	char *errs;
	int n = parse(text, &errs);

	if (n != 0)
		print_error("config:\n%s\nunexpected errors:\n%s", text, errs);
	assert_int_equal(n, 0);
	assert_string_equal(errs, "");
	free(errs);
}

/* Lines 1-3 of every error case; the case's own text starts at line 4. */
#define BASE "wan eth0\nwan eth1\nlan eth2\n"

struct ecase {
	const char *body;
	int line;
	const char *phrase;
};

static void
run_cases(const struct ecase *c, size_t n)
{
	char text[2048];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), BASE "%s\n", c[i].body);
		expect_error(text, c[i].line, c[i].phrase);
	}
}
#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* ------------------------------------------------------------------ */

#define FIELD_CONF \
	"# the field configuration\n" \
	"wan eth0 gateway 203.0.113.1\n" \
	"wan eth1\n" \
	"lan eth2\n" \
	"outbound eth0\n" \
	"outbound eth1 ports 20000-29999\n" \
	"forward tcp eth0 21 to 192.168.0.254\n" \
	"forward tcp eth0 990 to 192.168.0.254\n" \
	"forward tcp eth0 49152-65534 to 192.168.0.254 gate ftp\n" \
	"\n" \
	"ddns eth0 dyndns2 home.example.com user alice password-file @PW600@ " \
	    "server https://members.dyndns.org\n" \
	"ddns eth1 cloudflare home2.example.com token-file @TOK600@ interval 3600\n" \
	"alg ftp ports 21,2121 implicit-tls 990 expect-timeout 30   # FTPS too\n" \
	"timeout tcp-established 3600\n" \
	"conntrack-max 262144\n" \
	"pin-dir /sys/fs/bpf/nat2\n" \
	"state-dir /var/lib/nat2\n" \
	"run-dir /run/nat2\n"

static void
test_field_config(void **state)
{
	const struct cfg_forward *f;
	const struct cfg_ddns *d;
	char addr[INET_ADDRSTRLEN];

	(void)state;
	expect_ok(FIELD_CONF);
	assert_string_equal(cfg.path, "t.conf");

	assert_int_equal(cfg.nwans, 2);
	assert_string_equal(cfg.wans[0].ifname, "eth0");
	assert_true(cfg.wans[0].outbound);
	assert_int_equal(cfg.wans[0].port_lo, 1024);
	assert_int_equal(cfg.wans[0].port_hi, 65535);
	inet_ntop(AF_INET, &cfg.wans[0].gateway, addr, sizeof(addr));
	assert_string_equal(addr, "203.0.113.1");
	assert_int_equal(cfg.wans[0].line, 2);
	assert_string_equal(cfg.wans[1].ifname, "eth1");
	assert_true(cfg.wans[1].outbound);
	assert_int_equal(cfg.wans[1].port_lo, 20000);
	assert_int_equal(cfg.wans[1].port_hi, 29999);
	assert_int_equal(cfg.wans[1].gateway.s_addr, 0);
	assert_int_equal(cfg.nlans, 1);
	assert_string_equal(cfg.lans[0].ifname, "eth2");
	assert_int_equal(cfg.lans[0].line, 4);

	assert_int_equal(cfg.nforwards, 3);
	f = &cfg.forwards[0];
	assert_int_equal(f->proto, IPPROTO_TCP);
	assert_string_equal(f->wan, "eth0");
	assert_int_equal(f->port_lo, 21);
	assert_int_equal(f->port_hi, 21);
	assert_int_equal(f->to_addr.s_addr, inet_addr("192.168.0.254"));
	assert_int_equal(f->to_lo, 21);
	assert_int_equal(f->to_hi, 21);
	assert_false(f->gate_ftp);
	assert_int_equal(f->line, 7);
	f = &cfg.forwards[1];
	assert_int_equal(f->port_lo, 990);
	assert_int_equal(f->to_lo, 990);
	assert_false(f->gate_ftp);
	f = &cfg.forwards[2];
	assert_int_equal(f->port_lo, 49152);
	assert_int_equal(f->port_hi, 65534);
	assert_int_equal(f->to_lo, 49152);
	assert_int_equal(f->to_hi, 65534);
	assert_true(f->gate_ftp);
	assert_int_equal(cfg_forward_map(f, 50000), 50000);
	assert_int_equal(f->line, 9);

	assert_int_equal(cfg.nddns, 2);
	d = &cfg.ddns[0];
	assert_string_equal(d->wan, "eth0");
	assert_int_equal(d->provider, DDNS_DYNDNS2);
	assert_string_equal(d->fqdn, "home.example.com");
	assert_string_equal(d->user, "alice");
	assert_string_equal(d->password_file, secrets[0].path);
	assert_string_equal(d->token_file, "");
	assert_string_equal(d->server, "https://members.dyndns.org");
	assert_string_equal(d->url, "");
	assert_int_equal(d->interval, 2160000);
	assert_int_equal(d->line, 11);
	d = &cfg.ddns[1];
	assert_string_equal(d->wan, "eth1");
	assert_int_equal(d->provider, DDNS_CLOUDFLARE);
	assert_string_equal(d->token_file, secrets[2].path);
	assert_string_equal(d->user, "");
	assert_int_equal(d->interval, 3600);

	assert_true(cfg.alg_ftp.enabled);
	assert_int_equal(cfg.alg_ftp.nports, 2);
	assert_int_equal(cfg.alg_ftp.ports[0], 21);
	assert_int_equal(cfg.alg_ftp.ports[1], 2121);
	assert_int_equal(cfg.alg_ftp.implicit_tls_port, 990);
	assert_int_equal(cfg.alg_ftp.expect_timeout, 30);
	assert_int_equal(cfg.alg_ftp.line, 13);

	assert_int_equal(cfg.timeouts.tcp_est, 3600);
	assert_int_equal(cfg.timeouts.tcp_syn, NAT_TIMEOUT_TCP_SYN_DEFAULT);
	assert_int_equal(cfg.timeouts.udp, NAT_TIMEOUT_UDP_DEFAULT);
	assert_int_equal(cfg.conntrack_max, 262144);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/nat2");
	assert_string_equal(cfg.state_dir, "/var/lib/nat2");
	assert_string_equal(cfg.run_dir, "/run/nat2");

	assert_ptr_equal(cfg_find_wan(&cfg, "eth1"), &cfg.wans[1]);
	assert_null(cfg_find_wan(&cfg, "eth2"));
	assert_null(cfg_find_wan(&cfg, "eth"));

	/* a server without a scheme is a host: ddns adds https:// */
	expect_ok(BASE "ddns eth0 cloudflare a.example.com token-file @TOK600@ "
	    "server api.example.net:8443/cf\n");
	assert_string_equal(cfg.ddns[0].server, "api.example.net:8443/cf");
}

static void
test_defaults(void **state)
{
	(void)state;
	expect_ok("wan eth0\nlan eth1\n");
	assert_int_equal(cfg.nwans, 1);
	assert_false(cfg.wans[0].outbound);
	assert_int_equal(cfg.wans[0].gateway.s_addr, 0);
	assert_int_equal(cfg.nforwards, 0);
	assert_int_equal(cfg.nddns, 0);
	assert_int_equal(cfg.timeouts.tcp_syn, NAT_TIMEOUT_TCP_SYN_DEFAULT);
	assert_int_equal(cfg.timeouts.tcp_est, NAT_TIMEOUT_TCP_EST_DEFAULT);
	assert_int_equal(cfg.timeouts.tcp_closing, NAT_TIMEOUT_TCP_CLOSING_DEFAULT);
	assert_int_equal(cfg.timeouts.udp, NAT_TIMEOUT_UDP_DEFAULT);
	assert_int_equal(cfg.timeouts.icmp, NAT_TIMEOUT_ICMP_DEFAULT);
	assert_int_equal(cfg.conntrack_max, XDPNAT_CT_MAX_DEFAULT);
	assert_false(cfg.alg_ftp.enabled);
	assert_int_equal(cfg.alg_ftp.nports, 1);
	assert_int_equal(cfg.alg_ftp.ports[0], 21);
	assert_int_equal(cfg.alg_ftp.implicit_tls_port, 0);
	assert_int_equal(cfg.alg_ftp.expect_timeout, NAT_TIMEOUT_EXPECT_DEFAULT);
	assert_string_equal(cfg.pin_dir, XDPNAT_PIN_DIR_DEFAULT);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/xdpnat");
	assert_string_equal(cfg.state_dir, "/var/lib/xdpnat");
	assert_string_equal(cfg.run_dir, "/run/xdpnat");

	/* alg ftp alone keeps the default port, timeout and no implicit TLS */
	expect_ok("wan eth0\nlan eth1\nalg ftp\noutbound eth0\n");
	assert_true(cfg.alg_ftp.enabled);
	assert_int_equal(cfg.alg_ftp.nports, 1);
	assert_int_equal(cfg.alg_ftp.ports[0], 21);
	assert_int_equal(cfg.alg_ftp.expect_timeout, NAT_TIMEOUT_EXPECT_DEFAULT);
	assert_true(cfg.wans[0].outbound);
	assert_int_equal(cfg.wans[0].port_lo, 1024);
	assert_int_equal(cfg.wans[0].port_hi, 65535);
}

/* Words, comments, whitespace and statement order. */
static void
test_lexical(void **state)
{
	(void)state;
	/* tabs, CRLF, trailing comment, no final newline, 15-char name */
	expect_ok("  # leading comment\r\n\twan\teth0   # the uplink\r\n"
	    "lan abcdefghijklmno\r\n\n   \n# end");
	assert_string_equal(cfg.wans[0].ifname, "eth0");
	assert_string_equal(cfg.lans[0].ifname, "abcdefghijklmno");
	/* '#' inside a word is not a comment */
	expect_ok(BASE "ddns eth0 custom a.example.com url https://x.example/u?h=<fqdn>#frag\n");
	assert_string_equal(cfg.ddns[0].url, "https://x.example/u?h=<fqdn>#frag");
	/* inbound: drop unless said otherwise */
	expect_ok(BASE "inbound eth0 accept\n");
	assert_true(cfg.wans[0].inbound_accept);
	expect_ok(BASE);
	assert_false(cfg.wans[0].inbound_accept);
	/* plain http:// is fine when no secret goes with it, or to this host */
	expect_ok(BASE "ddns eth0 custom a.example.com url http://x.example/u?ip={addr}\n");
	/* outbound, forward and ddns may come before their wan */
	expect_ok("outbound eth7 ports 5000-6000\n"
	    "forward udp eth7 53 to 10.0.0.5\n"
	    "ddns eth7 custom x.example.com url https://u.example/\n"
	    "wan eth7\nlan eth8\n");
	assert_true(cfg.wans[0].outbound);
	assert_int_equal(cfg.wans[0].port_lo, 5000);
	assert_int_equal(cfg.wans[0].port_hi, 6000);
	/* the same ports on another protocol or wan do not overlap */
	expect_ok(BASE "forward tcp eth0 80 to 192.168.0.1\n"
	    "forward udp eth0 80 to 192.168.0.1\n"
	    "forward tcp eth1 80 to 192.168.0.2\n"
	    "forward tcp eth0 81-90 to 192.168.0.3\n");
	assert_int_equal(cfg.nforwards, 4);
}

/* wan <if> [gateway <ip>] [mss-clamp [<bytes>|auto]], options in any order */
static void
test_wan_mss_clamp(void **state)
{
	(void)state;
	expect_ok("wan eth0\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, 0);
	expect_ok("wan eth0 mss-clamp 1452\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, 1452);
	expect_ok("wan eth0 mss-clamp\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, CFG_MSS_AUTO);
	expect_ok("wan eth0 mss-clamp auto\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, CFG_MSS_AUTO);
	expect_ok("wan eth0 mss-clamp 536\nwan eth1 mss-clamp 65495\nlan eth2\n");
	assert_int_equal(cfg.wans[0].mss_clamp, 536);
	assert_int_equal(cfg.wans[1].mss_clamp, 65495);
	expect_ok("wan eth0 gateway 203.0.113.1 mss-clamp 1400\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, 1400);
	assert_int_equal(ntohl(cfg.wans[0].gateway.s_addr), 0xcb007101);
	expect_ok("wan eth0 mss-clamp 1400 gateway 203.0.113.1\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, 1400);
	assert_int_equal(ntohl(cfg.wans[0].gateway.s_addr), 0xcb007101);
	/* mss-clamp without a value before another option: auto */
	expect_ok("wan eth0 mss-clamp gateway 203.0.113.1\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, CFG_MSS_AUTO);
	assert_int_equal(ntohl(cfg.wans[0].gateway.s_addr), 0xcb007101);
	expect_ok("wan eth0 gateway 203.0.113.1 mss-clamp\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, CFG_MSS_AUTO);
	expect_ok("wan eth0 gateway 203.0.113.1 mss-clamp auto\nlan eth1\n");
	assert_int_equal(cfg.wans[0].mss_clamp, CFG_MSS_AUTO);

	/* RFC 4787 filtering on outbound, in any order with ports */
	expect_ok(BASE "outbound eth0 filtering endpoint-independent ports 2000-3000\n"
	    "outbound eth1 filtering address-dependent\n");
	assert_int_equal(cfg.wans[0].filtering, CFG_FILTER_EI);
	assert_int_equal(cfg.wans[0].port_lo, 2000);
	assert_int_equal(cfg.wans[1].filtering, CFG_FILTER_AD);
	expect_ok(BASE "outbound eth0\n");
	assert_int_equal(cfg.wans[0].filtering, CFG_FILTER_APD);
	expect_error(BASE "outbound eth0 filtering full-cone", 4,
	    "outbound filtering 'full-cone': one of address-port-dependent, address-dependent, "
	    "endpoint-independent");
	expect_error(BASE "outbound eth0 filtering", 4, "outbound filtering needs a value");
	expect_error(BASE "outbound eth0 filtering endpoint-independent filtering "
	    "address-dependent", 4, "outbound option filtering given twice");

	expect_error(BASE "wan eth3 mss-clamp 535", 4, "mss-clamp 535 out of range (536-65495)");
	expect_error(BASE "wan eth3 mss-clamp 65496", 4, "mss-clamp 65496 out of range");
	expect_error(BASE "wan eth3 mss-clamp 0", 4, "out of range");
	expect_error(BASE "wan eth3 mss-clamp 1400x", 4, "bad mss-clamp '1400x'");
	expect_error(BASE "wan eth3 mss-clamp -1", 4, "bad mss-clamp '-1'");
	expect_error(BASE "wan eth3 mss-clamp 1400 mss-clamp 1300", 4,
	    "wan option mss-clamp given twice");
	expect_error(BASE "wan eth3 mss-clamp mss-clamp", 4, "wan option mss-clamp given twice");
	expect_error(BASE "wan eth3 mss-clamp gateway 10.0.0.1 mss-clamp", 4,
	    "wan option mss-clamp given twice");
	expect_error(BASE "wan eth3 mss-clamp 1400 gateway", 4, "wan gateway needs a value");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 gateway 10.0.0.2", 4,
	    "wan option gateway given twice");
	expect_error(BASE "wan eth3 mss-clamp 1400 via 10.0.0.1", 4, "unknown wan option 'via'");
	/* a wan with a bad mss-clamp still counts as a wan for later lines */
	expect_error(BASE "wan eth3 mss-clamp big\noutbound eth3", 4, "bad mss-clamp 'big'");
}

/* log-level and metrics: what the line alone shows. */
static void
test_log_level_metrics(void **state)
{
	(void)state;
	expect_ok("wan eth0\nlan eth1\n");
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_false(cfg.metrics.enabled);
	expect_ok("wan eth0\nlan eth1\nlog-level debug\nmetrics 192.168.0.1:9100\n");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_true(cfg.metrics.enabled);
	assert_int_equal(ntohl(cfg.metrics.addr.s_addr), 0xc0a80001);
	assert_int_equal(cfg.metrics.port, 9100);
	assert_false(cfg.metrics.allow_wan);
	assert_int_equal(cfg.metrics.line, 4);
	expect_ok("wan eth0\nlan eth1\nlog-level err\nmetrics 127.0.0.1:9100\n");
	assert_int_equal(cfg.log_level, LOG_ERR);
	expect_ok("wan eth0\nlan eth1\nmetrics 0.0.0.0:9100 allow-wan\n");
	assert_true(cfg.metrics.allow_wan);
	assert_int_equal(cfg.metrics.addr.s_addr, 0);

	expect_error(BASE "log-level loud", 4, "unknown log-level 'loud'");
	expect_error(BASE "log-level info\nlog-level err", 5, "log-level already set at line 4");
	expect_error(BASE "metrics 192.168.0.1", 4, "bad metrics address '192.168.0.1'");
	expect_error(BASE "metrics 192.168.0:9100", 4, "bad IPv4 address '192.168.0'");
	expect_error(BASE "metrics 192.168.0.1:0", 4, "port 0 is not allowed");
	expect_error(BASE "metrics 192.168.0.1:70000", 4, "port 70000 out of range");
	expect_error(BASE "metrics 224.0.0.1:9100", 4, "224.0.0.1 is not an address to listen on");
	expect_error(BASE "metrics 0.0.0.0:9100", 4,
	    "metrics on 0.0.0.0 listens on the WANs' addresses too");
	expect_error(BASE "metrics 10.0.0.1:9100 allow-lan", 4,
	    "unexpected 'allow-lan' (only 'allow-wan' may follow)");
	expect_error(BASE "metrics 10.0.0.1:9100\nmetrics 10.0.0.1:9101", 5,
	    "metrics already declared at line 4");
}

/* `track` on a wan, `failover` on a ddns line (issue 16). */
static void
test_track_failover(void **state)
{
	(void)state;
	expect_ok("wan eth0 gateway 198.51.100.2 track 203.0.113.10\nlan eth1\n");
	assert_int_equal(cfg.wans[0].ntrack, 1);
	assert_int_equal(ntohl(cfg.wans[0].track[0].s_addr), 0xcb00710a);
	assert_int_equal(cfg.wans[0].track_interval, CFG_TRACK_INTERVAL_DEFAULT);
	assert_int_equal(cfg.wans[0].track_down, 3);
	assert_int_equal(cfg.wans[0].track_up, 3);
	expect_ok("wan eth0 track 203.0.113.10,192.0.2.53 interval 2 down 4 up 6 "
	    "gateway 198.51.100.2 mss-clamp\nlan eth1\n");
	assert_int_equal(cfg.wans[0].ntrack, 2);
	assert_int_equal(ntohl(cfg.wans[0].track[1].s_addr), 0xc0000235);
	assert_int_equal(cfg.wans[0].track_interval, 2);
	assert_int_equal(cfg.wans[0].track_down, 4);
	assert_int_equal(cfg.wans[0].track_up, 6);
	assert_int_equal(cfg.wans[0].mss_clamp, CFG_MSS_AUTO);
	/* without track: not tracked, as before */
	expect_ok("wan eth0\nlan eth1\n");
	assert_int_equal(cfg.wans[0].ntrack, 0);
	/* an interface that does not exist (ppp0 before pppd) may be a
	 * point-to-point link: no gateway needed at check time */
	expect_ok("wan xnnoexist0 track 203.0.113.10\nlan eth1\n");

	/* lo exists and is not point-to-point: no gateway to probe through */
	expect_error("wan lo track 203.0.113.10\nlan eth1\n", 1,
	    "wan lo: track needs a gateway to probe through");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 interval 5", 4,
	    "interval, down and up belong to track");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 203.0.113.10 interval 0", 4,
	    "interval 0 out of range");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 203.0.113.10 down 0", 4,
	    "down 0 out of range");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 203.0.113.10 up 101", 4,
	    "up 101 out of range");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 203.0.113.10,203.0.113.10", 4,
	    "track address 203.0.113.10 listed twice");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 203.0.113.10,", 4, "bad track list");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5",
	    4, "too many track addresses (max 4)");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 127.0.0.1", 4, "127.0.0.1");
	expect_error(BASE "wan eth3 gateway 10.0.0.1 track 203.0.113.10 track 203.0.113.11", 4,
	    "wan option track given twice");

	expect_ok("wan eth0\nwan eth1\nlan eth2\n"
	    "ddns eth0 dyndns2 office.example.net user u password-file @PW600@ "
	    "failover eth1\n");
	assert_string_equal(cfg.ddns[0].failover, "eth1");
	expect_ok(BASE "ddns eth0 custom office.example.net url https://x/{addr}\n");
	assert_string_equal(cfg.ddns[0].failover, "");
	expect_error(BASE "ddns eth0 custom office.example.net url https://x/{addr} "
	    "failover eth0", 4, "failover names its own wan eth0");
	expect_error(BASE "ddns eth0 custom office.example.net url https://x/{addr} "
	    "failover eth9", 4, "ddns failover: eth9 is not a wan interface");
	expect_error(BASE "ddns eth0 custom office.example.net url https://x/{addr} "
	    "failover eth2", 4, "ddns failover: eth2 is a lan (line 3), not a wan");
}

static void
test_forward_map(void **state)
{
	const struct cfg_forward *f;

	(void)state;
	expect_ok(BASE
	    "forward tcp eth0 80 to 192.168.0.10\n"			/* same */
	    "forward tcp eth0 8000-8099 to 192.168.0.11\n"		/* same, range */
	    "forward tcp eth0 9000-9099 to 192.168.0.12:10000-10099\n"	/* shifted */
	    "forward udp eth0 5000-5009 to 192.168.0.13:53\n"		/* range -> one */
	    "forward tcp eth0 2222 to 192.168.0.14:22\n"		/* one -> other */
	    "forward tcp eth1 100-199 to 192.168.0.15:65436-65535\n");	/* up to the top */
	assert_int_equal(cfg.nforwards, 6);

	f = &cfg.forwards[0];
	assert_int_equal(cfg_forward_map(f, 80), 80);
	assert_int_equal(cfg_forward_map(f, 81), 0);

	f = &cfg.forwards[1];
	assert_int_equal(f->to_lo, 8000);
	assert_int_equal(f->to_hi, 8099);
	assert_int_equal(cfg_forward_map(f, 8000), 8000);
	assert_int_equal(cfg_forward_map(f, 8042), 8042);
	assert_int_equal(cfg_forward_map(f, 8099), 8099);

	f = &cfg.forwards[2];
	assert_int_equal(f->to_lo, 10000);
	assert_int_equal(f->to_hi, 10099);
	assert_int_equal(cfg_forward_map(f, 9000), 10000);
	assert_int_equal(cfg_forward_map(f, 9050), 10050);
	assert_int_equal(cfg_forward_map(f, 9099), 10099);
	assert_int_equal(cfg_forward_map(f, 8999), 0);
	assert_int_equal(cfg_forward_map(f, 9100), 0);

	f = &cfg.forwards[3];
	assert_int_equal(f->proto, IPPROTO_UDP);
	assert_int_equal(f->to_lo, 53);
	assert_int_equal(f->to_hi, 53);
	assert_int_equal(cfg_forward_map(f, 5000), 53);
	assert_int_equal(cfg_forward_map(f, 5009), 53);

	f = &cfg.forwards[4];
	assert_int_equal(cfg_forward_map(f, 2222), 22);

	f = &cfg.forwards[5];
	assert_int_equal(cfg_forward_map(f, 100), 65436);
	assert_int_equal(cfg_forward_map(f, 199), 65535);
}

/* ------------------------------------------------------------------ */
/* Errors: each case has exactly one error, at the given line. */

static void
test_err_syntax(void **state)
{
	static const struct ecase cases[] = {
		{ "frobnicate eth0", 4, "unknown statement 'frobnicate'" },
		{ "WAN eth3", 4, "unknown statement 'WAN'" },
		{ "lan", 4, "missing arguments; usage: lan <ifname>" },
		{ "wan", 4, "missing arguments; usage: wan <ifname>" },
		{ "forward tcp eth0 80 to", 4, "missing arguments; usage: forward" },
		{ "ddns eth0 dyndns2", 4, "missing arguments; usage: ddns" },
		{ "timeout udp", 4, "missing arguments; usage: timeout" },
		{ "conntrack-max", 4, "missing arguments" },
		{ "pin-dir", 4, "missing arguments; usage: pin-dir <path>" },
		{ "alg", 4, "missing arguments; usage: alg ftp" },
		{ "wan eth3 gateway", 4, "wan gateway needs a value" },
		{ "outbound eth0 ports", 4, "outbound ports needs a value" },
		{ "lan eth3 eth4", 4, "unexpected 'eth4'; usage: lan <ifname>" },
		{ "conntrack-max 2048 4096", 4, "unexpected '4096'" },
		{ "state-dir /a /b", 4, "unexpected '/b'" },
		{ "wan eth3 gateway 10.0.0.1 metric", 4, "unknown wan option 'metric'" },
		{ "wan eth3 gateway 10.0.0.1 mss-clamp 1400 metric", 4, "unknown wan option 'metric'" },
		{ "forward tcp eth0 80 to 192.168.0.10 gate ftp now", 4, "unexpected 'now'" },
		{ "wan eth3 via 10.0.0.1", 4, "unknown wan option 'via'" },
		{ "outbound eth0 range 1000-2000", 4, "unknown outbound option 'range'" },
		{ "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7",
		    4, "too many words on one line (max 32)" },
	};

	(void)state;
	RUN(cases);
}

static void
test_err_numbers(void **state)
{
	static const struct ecase cases[] = {
		{ "conntrack-max 12x", 4, "bad conntrack-max '12x': not a decimal number" },
		{ "conntrack-max -5", 4, "bad conntrack-max '-5'" },
		{ "conntrack-max +5000", 4, "bad conntrack-max '+5000'" },
		{ "conntrack-max 0x1000", 4, "bad conntrack-max '0x1000'" },
		{ "conntrack-max 99999999999999999999999", 4,
		    "conntrack-max 99999999999999999999999 out of range (1024-16777216)" },
		{ "conntrack-max 1023", 4, "conntrack-max 1023 out of range (1024-16777216)" },
		{ "conntrack-max 16777217", 4, "conntrack-max 16777217 out of range" },
		{ "conntrack-max 2048\nconntrack-max 4096", 5,
		    "conntrack-max already set at line 4" },
		{ "timeout udp 0", 4, "timeout 0 out of range (1-2592000)" },
		{ "timeout tcp-syn 2592001", 4, "timeout 2592001 out of range" },
		{ "timeout udp 60s", 4, "bad timeout '60s': not a decimal number" },
		{ "timeout icmp 18446744073709551616", 4, "timeout 18446744073709551616 out of range" },
		{ "timeout tcp-fin 10", 4, "unknown timeout 'tcp-fin'" },
		{ "timeout udp 30\ntimeout udp 40", 5, "timeout udp already set at line 4" },
		{ "forward tcp eth0 0 to 192.168.0.10", 4, "port 0 is not allowed" },
		{ "forward tcp eth0 00 to 192.168.0.10", 4, "port 0 is not allowed" },
		{ "forward tcp eth0 65536 to 192.168.0.10", 4, "port 65536 out of range (1-65535)" },
		{ "forward tcp eth0 99999999999999999999 to 192.168.0.10", 4,
		    "port 99999999999999999999 out of range" },
		{ "forward tcp eth0 80a to 192.168.0.10", 4, "bad port '80a': not a decimal number" },
		{ "forward tcp eth0 8000-7000 to 192.168.0.10", 4,
		    "port range 8000-7000 is backwards (8000 > 7000)" },
		{ "forward tcp eth0 8000- to 192.168.0.10", 4, "bad port range '8000-'" },
		{ "forward tcp eth0 -80 to 192.168.0.10", 4, "bad port range '-80'" },
		{ "forward tcp eth0 1-2-3 to 192.168.0.10", 4, "bad port range '1-2-3'" },
		{ "forward tcp eth0 80-90x to 192.168.0.10", 4, "bad port '90x'" },
		{ "outbound eth0 ports 2000-1000", 4, "port range 2000-1000 is backwards" },
		{ "outbound eth0 ports 0-1000", 4, "port 0 is not allowed" },
		{ "outbound eth0 ports 1000-70000", 4, "port range 1000-70000 goes past 65535" },
	};

	(void)state;
	RUN(cases);
}

static void
test_err_addresses(void **state)
{
	static const struct ecase cases[] = {
		{ "forward tcp eth0 80 to 192.168.0", 4, "bad IPv4 address '192.168.0'" },
		{ "forward tcp eth0 80 to 192.168.0.256", 4, "bad IPv4 address '192.168.0.256'" },
		{ "forward tcp eth0 80 to 192.168.010.1", 4, "bad IPv4 address '192.168.010.1'" },
		{ "forward tcp eth0 80 to host.lan", 4, "bad IPv4 address 'host.lan'" },
		{ "forward tcp eth0 80 to 224.0.0.1", 4, "224.0.0.1 is not a unicast host address" },
		{ "forward tcp eth0 80 to 127.0.0.1:80", 4, "127.0.0.1 is not a unicast host address" },
		{ "forward tcp eth0 80 to 255.255.255.255", 4, "is not a unicast host address" },
		{ "forward tcp eth0 80 to :80", 4, "bad IPv4 address ''" },
		{ "wan eth3 gateway 10.0.0", 4, "bad IPv4 address '10.0.0'" },
		{ "wan eth3 gateway 0.0.0.0", 4, "0.0.0.0 is not a unicast host address" },
		/* a wan with a bad gateway still counts as a wan for later lines */
		{ "wan eth3 gateway 10.0.0.256\noutbound eth3\nforward tcp eth3 80 to 10.0.0.1", 4,
		    "bad IPv4 address '10.0.0.256'" },
		{ "lan abcdefghijklmnop", 4,
		    "interface name 'abcdefghijklmnop' is too long (max 15 characters)" },
		{ "wan eth/1", 4, "bad interface name 'eth/1'" },
		{ "lan ..", 4, "bad interface name '..'" },
		{ "outbound eth0:1", 4, "bad interface name 'eth0:1'" },
		{ "forward tcp abcdefghijklmnopq 80 to 192.168.0.1", 4, "is too long (max 15" },
	};

	(void)state;
	RUN(cases);
}

static void
test_err_interfaces(void **state)
{
	static const struct ecase cases[] = {
		{ "wan eth0", 4, "wan eth0 already declared at line 1" },
		{ "lan eth2", 4, "lan eth2 already declared at line 3" },
		{ "lan eth0", 4,
		    "eth0 is already a wan (line 1); an interface cannot be both wan and lan" },
		{ "wan eth2", 4, "eth2 is already a lan (line 3)" },
		/* reported at the statement's line, after the whole file */
		{ "outbound eth5\nlan eth6", 4, "outbound: eth5 is not a wan interface" },
		{ "outbound eth2", 4, "outbound: eth2 is a lan (line 3), not a wan" },
		{ "inbound eth5 accept\nlan eth6", 4, "inbound: eth5 is not a wan interface" },
		{ "inbound eth0 maybe", 4, "inbound eth0: 'maybe' is neither accept nor drop" },
		{ "inbound eth0 accept\ninbound eth0 drop", 5, "inbound eth0 already declared at line 4" },
		{ "forward udp eth5 53 to 192.168.0.2\n# later", 4,
		    "forward: eth5 is not a wan interface (no 'wan eth5' line)" },
		{ "ddns eth2 custom a.example.com url https://x.example/", 4,
		    "ddns: eth2 is a lan (line 3), not a wan" },
		{ "outbound eth0\noutbound eth0 ports 2000-3000", 5,
		    "outbound eth0 already declared at line 4" },
	};

	(void)state;
	RUN(cases);
}

static void
test_err_forward(void **state)
{
	static const struct ecase cases[] = {
		{ "forward tcp eth0 8000-8099 to 192.168.0.10\n"
		  "forward tcp eth0 8050 to 192.168.0.11", 5,
		  "forward tcp eth0 8050-8050 overlaps the forward at line 4" },
		{ "forward udp eth1 100-200 to 192.168.0.10\n"
		  "forward udp eth1 50-100 to 192.168.0.11", 5, "overlaps the forward at line 4" },
		{ "forward udp eth1 100-200 to 192.168.0.10\n"
		  "forward udp eth1 200-300 to 192.168.0.11", 5,
		  "forward udp eth1 200-300 overlaps the forward at line 4" },
		{ "forward tcp eth0 8000-8099 to 192.168.0.10:9000-9010", 4,
		  "inside range 9000-9010 has 11 ports; it must be one port or 100 ports" },
		{ "forward tcp eth0 80 to 192.168.0.10:80-81", 4, "inside range 80-81 has 2 ports" },
		{ "forward tcp eth0 8000-8099 to 192.168.0.10:65500-65599", 4,
		  "port range 65500-65599 goes past 65535" },
		{ "forward tcp eth0 80 to 192.168.0.10:0", 4, "port 0 is not allowed" },
		{ "forward udp eth0 5000 to 192.168.0.10 gate ftp\nalg ftp", 4,
		  "gate ftp is only valid on tcp forwards" },
		{ "forward tcp eth0 80 to 192.168.0.10 gate sip", 4, "unknown gate 'sip'" },
		{ "forward tcp eth0 80 to 192.168.0.10 gate", 4, "gate needs a kind" },
		{ "forward tcp eth0 80 to 192.168.0.10 ftp gate", 4, "unexpected 'ftp'" },
		{ "forward tcp eth0 80 at 192.168.0.10", 4, "expected 'to' after the outside ports, got 'at'" },
		{ "forward icmp eth0 80 to 192.168.0.10", 4, "unknown protocol 'icmp' (tcp or udp)" },
		{ "forward tcp eth0 21 to 192.168.0.254 gate ftp", 4,
		  "gate ftp needs an 'alg ftp' line" },
	};

	(void)state;
	RUN(cases);
}

static void
test_err_ddns(void **state)
{
	static const struct ecase cases[] = {
		{ "ddns eth0 dyndns3 a.example.com", 4,
		  "unknown ddns provider 'dyndns3' (dyndns2, oray, noip, cloudflare, custom)" },
		{ "ddns eth0 dyndns2 a.example.com login bob", 4, "unknown ddns option 'login'" },
		{ "ddns eth0 dyndns2 a.example.com user", 4, "ddns user needs a value" },
		{ "ddns eth0 dyndns2 a.example.com user bob user al password-file @PW600@", 4,
		  "ddns option user given twice" },
		{ "ddns eth0 dyndns2 a.example.com user bob", 4,
		  "ddns provider dyndns2 needs password-file" },
		{ "ddns eth0 oray a.example.com password-file @PW600@", 4,
		  "ddns provider oray needs user" },
		{ "ddns eth0 noip a.example.com", 4, "ddns provider noip needs user" },
		{ "ddns eth0 cloudflare a.example.com user bob", 4,
		  "ddns provider cloudflare needs token-file" },
		{ "ddns eth0 custom a.example.com", 4, "ddns provider custom needs url" },
		{ "ddns eth0 custom a.example.com url ftp://x.example/", 4,
		  "url 'ftp://x.example/' is not an http:// or https:// URL" },
		{ "ddns eth0 dyndns2 a.example.com user bob password-file @PW600@ server http://dns.example", 4,
		  "ddns a.example.com: the password would be sent in clear over http://; use https://" },
		{ "ddns eth0 cloudflare a.example.com token-file @TOK600@ server http://dns.example/x", 4,
		  "ddns a.example.com: the token would be sent in clear over http://; use https://" },
		{ "ddns eth0 custom a.example.com password-file @PW600@ url http://x.example/?p={password}", 4,
		  "the password would be sent in clear over http://" },
		{ "ddns eth0 cloudflare a.example.com token-file @TOK600@ server ftp://dns.example", 4,
		  "server 'ftp://dns.example' is not an http:// or https:// URL" },
		{ "ddns eth0 custom bad..example.com url https://x.example/", 4,
		  "bad host name 'bad..example.com'" },
		{ "ddns eth0 custom a.example.com. url https://x.example/", 4, "bad host name" },
		{ "ddns eth0 custom a/b.example.com url https://x.example/", 4, "bad host name" },
		{ "ddns eth0 noip a.example.com user bob password-file /nonexistent/pw", 4,
		  "password-file /nonexistent/pw: No such file or directory" },
		{ "ddns eth0 noip a.example.com user bob password-file pw", 4,
		  "password-file pw must be an absolute path" },
		{ "ddns eth0 noip a.example.com user bob password-file @PW644@", 4,
		  "password-file @PW644@ is readable by group or others (chmod 600)" },
		{ "ddns eth0 cloudflare a.example.com token-file @TOK620@", 4,
		  "token-file @TOK620@ is writable by group or others (chmod 600)" },
		{ "ddns eth0 cloudflare a.example.com token-file @TOK601@", 4,
		  "token-file @TOK601@ is executable by group or others (chmod 600)" },
		{ "ddns eth0 cloudflare a.example.com token-file @DIR@", 4,
		  "token-file @DIR@ is not a regular file" },
		{ "ddns eth0 cloudflare a.example.com token-file @TOK600@ interval 10", 4,
		  "interval 10 out of range (60-31536000)" },
		{ "ddns eth0 cloudflare a.example.com token-file @TOK600@ ca-file ca.pem", 4,
		  "ca-file ca.pem must be an absolute path" },
		{ "ddns eth0 cloudflare a.example.com token-file @TOK600@\n"
		  "ddns eth0 cloudflare A.example.com token-file @TOK600@", 5,
		  "ddns eth0 A.example.com already declared at line 4" },
	};
	struct ecase c[sizeof(cases) / sizeof(cases[0])];
	char *phrases[sizeof(cases) / sizeof(cases[0])];
	size_t i;

	(void)state;
	/* the messages name the real paths */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c[i] = cases[i];
		c[i].phrase = phrases[i] = expand(cases[i].phrase);
	}
	RUN(c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		free(phrases[i]);
}

static void
test_err_alg_dirs(void **state)
{
	static const struct ecase cases[] = {
		{ "alg sip", 4, "unknown alg 'sip' (only ftp)" },
		{ "alg ftp\nalg ftp ports 2121", 5, "alg ftp already declared at line 4" },
		{ "alg ftp ports 21,,22", 4, "bad port list '21,,22'" },
		{ "alg ftp ports 21,", 4, "bad port list '21,'" },
		{ "alg ftp ports 21,21", 4, "port 21 listed twice" },
		/* a bad alg line does not also make its gated forwards errors */
		{ "alg ftp ports 21,21\nforward tcp eth0 21 to 192.168.0.2 gate ftp", 4,
		  "port 21 listed twice" },
		{ "alg ftp ports 21,0", 4, "port 0 is not allowed" },
		{ "alg ftp ports 1,2,3,4,5,6,7,8,9", 4, "too many ftp ports" },
		{ "alg ftp implicit-tls 21", 4, "implicit-tls port 21 is also in ports" },
		{ "alg ftp implicit-tls 99999", 4, "port 99999 out of range" },
		{ "alg ftp expect-timeout 0", 4, "expect-timeout 0 out of range (1-3600)" },
		{ "alg ftp expect-timeout", 4, "alg ftp expect-timeout needs a value" },
		{ "alg ftp passive 1", 4, "unknown alg ftp option 'passive'" },
		{ "pin-dir sys/fs/bpf", 4, "pin-dir sys/fs/bpf must be an absolute path" },
		{ "state-dir /a\nstate-dir /b", 5, "state-dir already set at line 4" },
		{ "run-dir /run/a\nrun-dir /run/a", 5, "run-dir already set at line 4" },
	};
	char text[600];

	(void)state;
	RUN(cases);
	memset(text, 0, sizeof(text));
	strcpy(text, BASE "run-dir /");
	memset(text + strlen(text), 'x', 300);
	expect_error(text, 4, "run-dir is too long (max 255 characters)");
}

/* `alg ftp ports` may list as many ports as nat_config.ftp_ports holds
 * (XDPNAT_FTP_PORTS, 4) and no more: a port the data path does not look
 * for would silently never reach the ALG. */
static void
test_alg_ftp_ports_limit(void **state)
{
	char list[128], text[256], phrase[64];
	int i, n = 0;

	(void)state;
	for (i = 0; i < XDPNAT_FTP_PORTS; i++)
		n += snprintf(list + n, sizeof(list) - n, "%s%d", i ? "," : "", 2100 + i);
	snprintf(text, sizeof(text), BASE "outbound eth0\n# ftp\nalg ftp ports %s\n", list);
	expect_ok(text);
	assert_true(cfg.alg_ftp.enabled);
	assert_int_equal(cfg.alg_ftp.line, 6);
	assert_int_equal(cfg.alg_ftp.nports, XDPNAT_FTP_PORTS);
	for (i = 0; i < XDPNAT_FTP_PORTS; i++)
		assert_int_equal(cfg.alg_ftp.ports[i], 2100 + i);

	snprintf(text, sizeof(text), BASE "outbound eth0\n# ftp\nalg ftp ports %s,%d\n", list,
	    2100 + XDPNAT_FTP_PORTS);
	snprintf(phrase, sizeof(phrase), "too many ftp ports (the data path inspects at most %d)",
	    XDPNAT_FTP_PORTS);
	expect_error(text, 6, phrase);
}

/* No wan or no lan: reported at the last line of the file (line 1 if empty). */
static void
test_err_missing_ifaces(void **state)
{
	char *errs;

	(void)state;
	expect_error("lan eth2\n# only a lan\n", 2, "no wan interface in the file");
	expect_error("wan eth0", 1, "no lan interface in the file");
	expect_error("# comment\nwan eth0\n\n", 3, "no lan interface in the file");
	assert_int_equal(parse("", &errs), 2);
	assert_string_equal(errs, "t.conf:1: no wan interface in the file\n"
	    "t.conf:1: no lan interface in the file\n");
	free(errs);
}

/* Every bad line is reported and good lines around them still count. */
static void
test_err_many(void **state)
{
	char *errs;

	(void)state;
	assert_int_equal(parse("wan eth0\n"
	    "bogus\n"
	    "lan eth2\n"
	    "conntrack-max 5\n"
	    "outbound eth9\n"
	    "forward tcp eth0 80 to 192.168.0.1\n"
	    "timeout udp x\n", &errs), 4);
	assert_string_equal(errs,
	    "t.conf:2: unknown statement 'bogus'\n"
	    "t.conf:4: conntrack-max 5 out of range (1024-16777216)\n"
	    "t.conf:7: bad timeout 'x': not a decimal number\n"
	    "t.conf:5: outbound: eth9 is not a wan interface (no 'wan eth9' line)\n");
	free(errs);
	assert_int_equal(cfg.nlans, 1);
	assert_int_equal(cfg.nforwards, 1);
	assert_int_equal(cfg.conntrack_max, XDPNAT_CT_MAX_DEFAULT);

	/* a NULL err stream only counts */
	assert_int_equal(cfg_parse_string(&cfg, "t.conf", "bogus\nlan eth2\n", NULL), 2);
}

/* Table sizes and the forward port budget. */
static void
test_err_limits(void **state)
{
	static char text[32768];
	char *o, *errs;
	int i;

	(void)state;
	o = text;
	for (i = 0; i < CFG_MAX_IFACES; i++)
		o += sprintf(o, "wan w%d\nlan l%d\n", i, i);
	sprintf(o, "wan w%d\nlan l%d\n", i, i);
	assert_int_equal(parse(text, &errs), 2);
	assert_string_equal(errs,
	    "t.conf:65: too many wan interfaces (max 32)\n"
	    "t.conf:66: too many lan interfaces (max 32)\n");
	free(errs);
	assert_int_equal(cfg.nwans, 32);
	assert_int_equal(cfg.nlans, 32);

	o = text + sprintf(text, BASE);
	for (i = 0; i <= CFG_MAX_FORWARDS; i++)
		o += sprintf(o, "forward udp eth0 %d to 192.168.0.1\n", 1000 + i);
	expect_error(text, 4 + CFG_MAX_FORWARDS, "too many forwards (max 256)");
	assert_int_equal(cfg.nforwards, CFG_MAX_FORWARDS);

	/* 4 x 65535 = 262140 ports fit, 5 more do not */
	expect_error("wan eth0\nwan eth1\nwan eth3\nlan eth2\n"
	    "forward tcp eth0 1-65535 to 192.168.0.1\n"
	    "forward udp eth0 1-65535 to 192.168.0.1\n"
	    "forward tcp eth1 1-65535 to 192.168.0.2\n"
	    "forward udp eth1 1-65535 to 192.168.0.2\n"
	    "forward tcp eth3 1-5 to 192.168.0.3\n"
	    "forward tcp eth3 6 to 192.168.0.3\n", 9,
	    "forwards cover more than 262144 ports in total");

	o = text + sprintf(text, BASE);
	for (i = 0; i <= CFG_MAX_DDNS; i++)
		o += sprintf(o, "ddns eth0 custom h%d.example.com url https://u.example/\n", i);
	expect_error(text, 4 + CFG_MAX_DDNS, "too many ddns statements (max 16)");
}

/* cfg_parse_file: a real file, the secret-file mode check, NUL bytes and
 * a missing file. */
static void
test_parse_file(void **state)
{
	char conf[128], pw[128], text[512], want[512], *errs;
	size_t len;
	FILE *f, *e;
	int n;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/xdpnat.conf", tmpdir);
	snprintf(pw, sizeof(pw), "%s/ddns.pw", tmpdir);
	f = fopen(pw, "w");
	assert_non_null(f);
	fputs("hunter2\n", f);
	fclose(f);
	assert_int_equal(chmod(pw, 0600), 0);
	snprintf(text, sizeof(text), "wan eth0\nwan eth1\nlan eth2\n"
	    "outbound eth0\noutbound eth1\n"
	    "ddns eth0 dyndns2 home.example.com user alice password-file %s\n", pw);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);

	e = open_memstream(&errs, &len);
	n = cfg_parse_file(&cfg, conf, e);
	fclose(e);
	assert_string_equal(errs, "");
	assert_int_equal(n, 0);
	free(errs);
	assert_string_equal(cfg.path, conf);
	assert_int_equal(cfg.nddns, 1);
	assert_string_equal(cfg.ddns[0].password_file, pw);
	assert_string_equal(cfg_ddns_provider_name(cfg.ddns[0].provider), "dyndns2");

	assert_int_equal(chmod(pw, 0644), 0);
	e = open_memstream(&errs, &len);
	n = cfg_parse_file(&cfg, conf, e);
	fclose(e);
	snprintf(want, sizeof(want), "%s:6: password-file %s is readable by group "
	    "or others (chmod 600)\n", conf, pw);
	assert_string_equal(errs, want);
	assert_int_equal(n, 1);
	free(errs);

	/* a NUL byte is an error of its own line */
	f = fopen(conf, "w");
	assert_non_null(f);
	fwrite("wan eth0\nlan e\0th2\n", 1, 19, f);
	fclose(f);
	e = open_memstream(&errs, &len);
	n = cfg_parse_file(&cfg, conf, e);
	fclose(e);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line\n"
	    "%s:2: no lan interface in the file\n", conf, conf);
	assert_string_equal(errs, want);
	assert_int_equal(n, 2);
	free(errs);

	unlink(conf);
	unlink(pw);
	e = open_memstream(&errs, &len);
	n = cfg_parse_file(&cfg, conf, e);
	fclose(e);
	snprintf(want, sizeof(want), "%s: No such file or directory\n", conf);
	assert_string_equal(errs, want);
	assert_int_equal(n, 1);
	free(errs);
}

/* doc/xdpnat.conf.example parses clean, with its secret file made real.
 * Needs the top of the tree as working directory, as tests/run.sh and the
 * Makefile give it; elsewhere it only says so (cmocka 1.1's TAP prints a
 * skip as "not ok", which tests/run.sh would count as a failure). */
static void
test_doc_example(void **state)
{
	static const char pwpath[] = "/etc/xdpnat/dyndns.pw";
	char *text, *t, *at, *errs;
	FILE *f;
	long n;

	(void)state;
	if ((f = fopen("doc/xdpnat.conf.example", "r")) == NULL) {
		print_message("# doc/xdpnat.conf.example not found: not checked\n");
		return;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	/* "...password-file /etc/xdpnat/dyndns.pw..." -> "...@PW600@..." */
	at = strstr(text, pwpath);
	assert_non_null(at);
	t = calloc(1, (size_t)n + 16);
	assert_non_null(t);
	memcpy(t, text, (size_t)(at - text));
	strcat(t, "@PW600@");
	strcat(t, at + strlen(pwpath));
	assert_int_equal(parse(t, &errs), 0);
	assert_string_equal(errs, "");
	free(errs);
	free(t);
	free(text);

	/* the field case */
	assert_int_equal(cfg.nwans, 2);
	assert_true(cfg.wans[0].outbound);
	assert_true(cfg.wans[1].outbound);
	assert_string_equal(cfg.lans[0].ifname, "eth2");
	assert_int_equal(cfg.nforwards, 3);
	assert_int_equal(cfg.forwards[0].port_lo, 21);
	assert_int_equal(cfg.forwards[1].port_lo, 990);
	assert_int_equal(cfg.forwards[2].port_lo, 49152);
	assert_int_equal(cfg.forwards[2].port_hi, 65534);
	assert_true(cfg.forwards[2].gate_ftp);
	assert_int_equal(cfg.forwards[2].to_addr.s_addr, inet_addr("192.168.0.254"));
	assert_true(cfg.alg_ftp.enabled);
	assert_int_equal(cfg.alg_ftp.implicit_tls_port, 990);
	assert_int_equal(cfg.nddns, 1);
	assert_int_equal(cfg.ddns[0].provider, DDNS_DYNDNS2);
}

static void
test_provider_names(void **state)
{
	(void)state;
	assert_string_equal(cfg_ddns_provider_name(DDNS_DYNDNS2), "dyndns2");
	assert_string_equal(cfg_ddns_provider_name(DDNS_ORAY), "oray");
	assert_string_equal(cfg_ddns_provider_name(DDNS_NOIP), "noip");
	assert_string_equal(cfg_ddns_provider_name(DDNS_CLOUDFLARE), "cloudflare");
	assert_string_equal(cfg_ddns_provider_name(DDNS_CUSTOM), "custom");
	assert_string_equal(cfg_ddns_provider_name((enum cfg_ddns_provider)99), "unknown");
}

/* port-mapping: defaults, every option, and its errors. */
static void
test_portmap(void **state)
{
	static const struct ecase cases[] = {
		{ "port-mapping eth9", 4, "port-mapping: eth9 is not a lan interface" },
		{ "port-mapping eth0", 4, "port-mapping: eth0 is a wan (line 1), not a lan" },
		{ "port-mapping eth2 wan eth2", 4, "port-mapping: eth2 is a lan (line 3), not a wan" },
		{ "port-mapping eth2 wan eth7", 4, "port-mapping: eth7 is not a wan interface" },
		{ "port-mapping eth2 protocols upnp", 4, "port-mapping protocols 'upnp'" },
		{ "port-mapping eth2 protocols pcp,", 4, "port-mapping protocols 'pcp,'" },
		{ "port-mapping eth2 protocols ,", 4, "port-mapping protocols ','" },
		{ "port-mapping eth2 ports 2000-1000", 4, "is backwards" },
		{ "port-mapping eth2 ports 0-10", 4, "port 0 is not allowed" },
		{ "port-mapping eth2 max-per-host 0", 4, "max-per-host 0 out of range (1-1024)" },
		{ "port-mapping eth2 max-per-host 1025", 4, "max-per-host 1025 out of range" },
		{ "port-mapping eth2 max-lifetime 0", 4, "max-lifetime 0 out of range" },
		{ "port-mapping eth2 max-lifetime 2592001", 4, "max-lifetime 2592001 out of range" },
		{ "port-mapping eth2 max-lifetime x", 4, "bad max-lifetime 'x'" },
		{ "port-mapping eth2 lifetime 10", 4, "unknown port-mapping option 'lifetime'" },
		{ "port-mapping eth2 ports", 4, "port-mapping ports needs a value" },
		{ "port-mapping eth2 ports 1-2 ports 3-4", 4, "port-mapping option ports given twice" },
		{ "port-mapping eth2\nport-mapping eth2", 5, "port-mapping eth2 already declared at line 4" },
	};

	(void)state;
	RUN(cases);
	expect_ok(BASE "port-mapping eth2\n");
	assert_int_equal(cfg.nportmaps, 1);
	assert_string_equal(cfg.portmaps[0].lan, "eth2");
	assert_string_equal(cfg.portmaps[0].wan, "eth0");	/* the first wan */
	assert_true(cfg.portmaps[0].pcp && cfg.portmaps[0].natpmp);
	assert_int_equal(cfg.portmaps[0].port_lo, XDPNAT_PORT_LO_DEFAULT);
	assert_int_equal(cfg.portmaps[0].port_hi, XDPNAT_PORT_HI_DEFAULT);
	assert_int_equal(cfg.portmaps[0].max_per_host, CFG_PORTMAP_PER_HOST_DEFAULT);
	assert_int_equal(cfg.portmaps[0].max_lifetime, CFG_PORTMAP_LIFETIME_DEFAULT);
	expect_ok(BASE "port-mapping eth2 protocols natpmp wan eth1 ports 20000-20999 "
	    "max-per-host 4 max-lifetime 7200\n");
	assert_string_equal(cfg.portmaps[0].wan, "eth1");
	assert_false(cfg.portmaps[0].pcp);
	assert_true(cfg.portmaps[0].natpmp);
	assert_int_equal(cfg.portmaps[0].port_lo, 20000);
	assert_int_equal(cfg.portmaps[0].port_hi, 20999);
	assert_int_equal(cfg.portmaps[0].max_per_host, 4);
	assert_int_equal(cfg.portmaps[0].max_lifetime, 7200);
	/* before its lan and wan lines: checked at the end of the file */
	expect_ok("port-mapping eth2 protocols pcp,natpmp wan eth1\n" BASE);
	assert_string_equal(cfg.portmaps[0].wan, "eth1");
	assert_true(cfg.portmaps[0].pcp && cfg.portmaps[0].natpmp);
	expect_ok(BASE "forward udp eth0 5000-5010 to 192.168.0.2\n");
	assert_non_null(cfg_find_forward(&cfg, "eth0", IPPROTO_UDP, 5005));
	assert_null(cfg_find_forward(&cfg, "eth0", IPPROTO_TCP, 5005));
	assert_null(cfg_find_forward(&cfg, "eth1", IPPROTO_UDP, 5005));
	assert_null(cfg_find_forward(&cfg, "eth0", IPPROTO_UDP, 5011));
}

/* flow-log: a file in a directory that is there and writable, or syslog;
 * anything else is the line's error (the daemon must not start without
 * its log). */
static void
test_flow_log(void **state)
{
	char text[512];

	(void)state;
	expect_ok(BASE "flow-log syslog");
	assert_string_equal(cfg.flow_log, "syslog");
	snprintf(text, sizeof(text), BASE "flow-log %s/flows.log", tmpdir);
	expect_ok(text);
	assert_non_null(strstr(cfg.flow_log, "/flows.log"));
	expect_ok(BASE);
	assert_string_equal(cfg.flow_log, "");
	expect_error(BASE "flow-log flows.log", 4, "must be an absolute path");
	snprintf(text, sizeof(text), BASE "flow-log %s/none/flows.log", tmpdir);
	expect_error(text, 4, "No such file or directory");
	snprintf(text, sizeof(text), BASE "flow-log %s/", tmpdir);
	expect_error(text, 4, "names a directory, not a file");
	snprintf(text, sizeof(text), BASE "flow-log %s", tmpdir);
	expect_error(text, 4, "is not a regular file");
	snprintf(text, sizeof(text), BASE "flow-log %s/x", secrets[0].path);
	expect_error(text, 4, "is not a directory");
	expect_error(BASE "flow-log syslog\nflow-log syslog", 5, "flow-log already set at line 4");
	expect_error(BASE "flow-log", 4, "missing arguments; usage: flow-log <path>|syslog");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_lexical),
		cmocka_unit_test(test_forward_map),
		cmocka_unit_test(test_wan_mss_clamp),
		cmocka_unit_test(test_log_level_metrics),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_numbers),
		cmocka_unit_test(test_err_addresses),
		cmocka_unit_test(test_err_interfaces),
		cmocka_unit_test(test_err_forward),
		cmocka_unit_test(test_err_ddns),
		cmocka_unit_test(test_err_alg_dirs),
		cmocka_unit_test(test_alg_ftp_ports_limit),
		cmocka_unit_test(test_err_missing_ifaces),
		cmocka_unit_test(test_track_failover),
		cmocka_unit_test(test_err_many),
		cmocka_unit_test(test_err_limits),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_doc_example),
		cmocka_unit_test(test_provider_names),
		cmocka_unit_test(test_portmap),
		cmocka_unit_test(test_flow_log),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
