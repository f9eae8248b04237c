/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_metrics.c - ctl/daemon/metrics.c's text rendering: every sample
 * line follows the exposition format and belongs to a metric with one HELP
 * and one TYPE, counters end in _total and nothing else does, every data
 * path drop counter is a reason, the WAN, flow and DDNS series carry the
 * snapshot's values, and label values are escaped.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/counters.h"
#include "daemon/metrics.h"

static char *render(const struct metrics_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics_render(f, s), 0);
	fclose(f);
	return buf;
}

static struct metrics_snapshot *sample(void)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));

	s->version = "v1-test";
	s->start_time = 1700000000;
	s->stats.rx_packets = 1234;
	s->stats.drop_ct_full = 7;
	s->stats.drop_spoofed = 3;
	s->ctl.ct_expired = 42;
	s->alg.alg_sessions = 2;
	s->flows[NAT_KIND_MASQ][NAT_CT_ESTABLISHED] = 5;
	s->flows[NAT_KIND_FORWARD][NAT_CT_SYN_SENT] = 1;
	s->flows_limit = 65536;
	s->ct_entries = 12;
	s->ct_entries_limit = 131072;
	s->gate_sessions = 1;
	s->nwans = 2;
	strcpy(s->wans[0].ifname, "wan0");
	s->wans[0].packets[METRICS_RX] = 100;
	s->wans[0].bytes[METRICS_TX] = 5000;
	strcpy(s->wans[1].ifname, "ppp0");
	s->nddns = 1;
	strcpy(s->ddns[0].fqdn, "home.example.com");
	strcpy(s->ddns[0].wan, "wan0");
	s->ddns[0].answered = true;
	s->ddns[0].last_ok = false;
	s->ddns[0].last_success = 1700000100;
	s->ddns[0].failures_total = 3;
	return s;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* name of a sample line: up to '{' or ' ' */
static void sample_name(const char *line, char *name, size_t size)
{
	size_t n = strcspn(line, "{ ");

	assert_true(n < size);
	memcpy(name, line, n);
	name[n] = '\0';
}

/* Walk the text: HELP and TYPE once per metric, before its samples;
 * samples "name[{...}] value" with a numeric value. */
static void test_format(void **state)
{
	struct metrics_snapshot *s = sample();
	char *text = render(s), *save = NULL, *copy = strdup(text);
	char helped[256][96], typed[256][96], current[96] = "", type[16] = "";
	int nh = 0, nt = 0;

	(void)state;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[96], *value;

		if (!strncmp(l, "# HELP ", 7)) {
			sample_name(l + 7, name, sizeof(name));
			for (int i = 0; i < nh; i++)
				assert_string_not_equal(helped[i], name);
			strcpy(helped[nh++], name);
			continue;
		}
		if (!strncmp(l, "# TYPE ", 7)) {
			sample_name(l + 7, name, sizeof(name));
			for (int i = 0; i < nt; i++)
				assert_string_not_equal(typed[i], name);
			strcpy(typed[nt++], name);
			strcpy(current, name);
			snprintf(type, sizeof(type), "%s", l + 8 + strlen(name));
			/* counters and only counters end in _total */
			size_t n = strlen(name);
			bool total = n > 6 && !strcmp(name + n - 6, "_total");

			assert_int_equal(total, !strcmp(type, "counter"));
			continue;
		}
		assert_true(l[0] != '#');
		sample_name(l, name, sizeof(name));
		assert_string_equal(name, current);	/* after its own HELP/TYPE */
		assert_int_equal(strncmp(name, "xdpnat_", 7), 0);
		for (const char *c = name; *c; c++)
			assert_true(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
		value = strrchr(l, ' ');
		assert_non_null(value);
		assert_true(strspn(value + 1, "-0123456789") == strlen(value + 1));
	}
	assert_int_equal(nh, nt);
	assert_true(nh > 40);
	free(copy);
	free(text);
	free(s);
}

static void test_values(void **state)
{
	struct metrics_snapshot *s = sample();
	char *text = render(s);

	(void)state;
	assert_true(has_line(text, "xdpnat_build_info{version=\"v1-test\"} 1"));
	assert_true(has_line(text, "xdpnat_start_time_seconds 1700000000"));
	assert_true(has_line(text, "xdpnat_rx_packets_total 1234"));
	assert_true(has_line(text, "xdpnat_flows_expired_total 42"));
	assert_true(has_line(text, "xdpnat_alg_sessions 2"));
	assert_true(has_line(text, "xdpnat_drops_total{reason=\"ct_full\"} 7"));
	assert_true(has_line(text, "xdpnat_drops_total{reason=\"spoofed\"} 3"));
	assert_true(has_line(text, "xdpnat_flows{kind=\"masquerade\",state=\"established\"} 5"));
	assert_true(has_line(text, "xdpnat_flows{kind=\"forward\",state=\"syn_sent\"} 1"));
	assert_true(has_line(text, "xdpnat_flows{kind=\"routed\",state=\"closing\"} 0"));
	assert_true(has_line(text, "xdpnat_flows_limit 65536"));
	assert_true(has_line(text, "xdpnat_conntrack_entries 12"));
	assert_true(has_line(text, "xdpnat_conntrack_entries_limit 131072"));
	assert_true(has_line(text, "xdpnat_gate_sessions 1"));
	assert_true(has_line(text, "xdpnat_wan_packets_total{wan=\"wan0\",direction=\"rx\"} 100"));
	assert_true(has_line(text, "xdpnat_wan_bytes_total{wan=\"wan0\",direction=\"tx\"} 5000"));
	assert_true(has_line(text, "xdpnat_wan_packets_total{wan=\"ppp0\",direction=\"tx\"} 0"));
	assert_true(has_line(text, "xdpnat_ddns_last_result{name=\"home.example.com\",wan=\"wan0\"} 0"));
	assert_true(has_line(text, "xdpnat_ddns_last_success_timestamp_seconds"
				   "{name=\"home.example.com\",wan=\"wan0\"} 1700000100"));
	assert_true(has_line(text, "xdpnat_ddns_failures_total{name=\"home.example.com\",wan=\"wan0\"} 3"));
	/* the daemon's pid is not a metric */
	assert_null(strstr(text, "daemon_pid"));
	free(text);

	s->ddns[0].answered = false;
	text = render(s);
	assert_true(has_line(text, "xdpnat_ddns_last_result{name=\"home.example.com\",wan=\"wan0\"} -1"));
	free(text);
	s->nddns = 0;
	text = render(s);
	assert_null(strstr(text, "ddns"));
	free(text);
	free(s);
}

/* The WAN health of `track`: a series per tracked WAN, none without. */
static void test_health(void **state)
{
	struct metrics_snapshot *s = sample();
	char *text;

	(void)state;
	text = render(s);
	assert_null(strstr(text, "xdpnat_wan_up"));
	free(text);
	snprintf(s->health[0].ifname, sizeof(s->health[0].ifname), "wan0");
	s->health[0].up = false;
	s->health[0].since = 1700000200;
	s->health[0].rtt_ms = 12;
	s->health[0].changes = 2;
	s->health[0].flows_removed = 9;
	snprintf(s->health[1].ifname, sizeof(s->health[1].ifname), "wan1");
	s->health[1].up = true;
	s->nhealth = 2;
	text = render(s);
	assert_true(has_line(text, "xdpnat_wan_up{wan=\"wan0\"} 0"));
	assert_true(has_line(text, "xdpnat_wan_up{wan=\"wan1\"} 1"));
	assert_true(has_line(text, "xdpnat_wan_state_since_timestamp_seconds{wan=\"wan0\"} 1700000200"));
	assert_true(has_line(text, "xdpnat_wan_state_changes_total{wan=\"wan0\"} 2"));
	assert_true(has_line(text, "xdpnat_wan_probe_rtt_seconds{wan=\"wan0\"} 0.012"));
	assert_true(has_line(text, "xdpnat_wan_dead_flows_removed_total{wan=\"wan0\"} 9"));
	free(text);
	free(s);
}

/* Every data path drop counter of nat_stats, by the shared table. */
static void test_every_drop(void **state)
{
	struct metrics_snapshot *s = sample();
	char *text = render(s), want[128];
	int drops = 0;

	(void)state;
	for (size_t i = 0; i < counters_stats.n; i++) {
		const struct counter_field *f = &counters_stats.f[i];

		if (!strncmp(f->name, "drop_", 5))
			assert_int_equal(f->kind, COUNTER_DROP);
		if (f->kind != COUNTER_DROP)
			continue;
		snprintf(want, sizeof(want), "xdpnat_drops_total{reason=\"%s\"} %llu", f->metric,
			 (unsigned long long)counter_value(&s->stats, f));
		assert_true(has_line(text, want));
		drops++;
	}
	assert_int_equal(drops, 12);
	free(text);
	free(s);
}

static void test_escaping(void **state)
{
	struct metrics_snapshot *s = sample();
	char *text;

	(void)state;
	strcpy(s->ddns[0].fqdn, "a\"b\\c\nd");
	text = render(s);
	assert_non_null(strstr(text, "xdpnat_ddns_failures_total{name=\"a\\\"b\\\\c\\nd\",wan=\"wan0\"} 3"));
	free(text);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_every_drop),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
