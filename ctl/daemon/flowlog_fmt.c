/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* flowlog_fmt.c - the NAT log's JSON lines (see flowlog_fmt.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "common/flowdesc.h"
#include "daemon/flowlog_fmt.h"

const char *flowlog_reason_name(uint8_t reason)
{
	switch (reason) {
	case NAT_FLOW_END_CLOSED: return "closed";
	case NAT_FLOW_END_TIMEOUT: return "timeout";
	case NAT_FLOW_END_EVICTED: return "evicted";
	case NAT_FLOW_END_ADDR_CHANGE: return "addr-change";
	case NAT_FLOW_END_WAN_DOWN: return "wan-down";
	case NAT_FLOW_END_FLUSH: return "flush";
	}
	return NULL;
}

void flowlog_rfc3339(uint64_t real_ns, char *buf, size_t len)
{
	/* gmtime_r and strftime once a second, not once a line */
	static __thread time_t last = -1;
	static __thread char stamp[24];
	time_t sec = (time_t)(real_ns / 1000000000ULL);
	unsigned ms = (unsigned)(real_ns % 1000000000ULL / 1000000ULL);
	struct tm tm;

	if (sec != last) {
		gmtime_r(&sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		last = sec;
	}
	snprintf(buf, len, "%s.%03uZ", stamp, ms);
}

int flowlog_json_string(const char *s, char *buf, size_t len)
{
	json_object *o = json_object_new_string(s);
	const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(j);
	int rc = -1;

	if (n < len) {
		memcpy(buf, j, n + 1);
		rc = (int)n;
	}
	json_object_put(o);
	return rc;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* json-c prints the object; one copy into the caller's buffer. */
static int emit(json_object *o, char *buf, size_t len)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	int rc = -1;

	if (n < len) {
		memcpy(buf, s, n + 1);
		rc = (int)n;
	}
	json_object_put(o);
	return rc;
}

/*
 * Every value of a flow line is a number, a dotted quad with a port, or a
 * fixed name, none of which JSON escapes; the one free-form string, the
 * WAN's name, comes quoted and escaped by flowlog_json_string() (cached by
 * the caller). So the line is one snprintf: building it as json-c objects
 * cost ~2.8 us a line here, a third of the writer's budget at 100,000
 * flows a second.
 */
int flowlog_format(const struct nat_flow_event *ev, uint64_t real_ns, const char *wan_json,
		   int64_t duration_ns, char *buf, size_t len)
{
	/* the ORIG entry as the table holds it: its translated tuple is the
	 * reverse of the REPLY key */
	struct nat_ct_value v = {
		.to_saddr = ev->reply.daddr, .to_daddr = ev->reply.saddr,
		.to_sport = ev->reply.dport, .to_dport = ev->reply.sport, .kind = ev->kind,
	};
	char t[32], p[8], in[FLOWDESC_EP_LEN], out[FLOWDESC_EP_LEN], rem[FLOWDESC_EP_LEN];
	char dur[48] = "";
	const char *reason = flowlog_reason_name(ev->reason);
	int o_dir = flowdesc_orig_is_out(ev->kind) ? NAT_DIR_ORIG : NAT_DIR_REPLY;
	int n, m;

	if (ev->event != NAT_FLOW_EV_START && (ev->event != NAT_FLOW_EV_END || !reason))
		return -1;
	flowlog_rfc3339(real_ns, t, sizeof(t));
	flowdesc_endpoints(&ev->orig, &v, in, out, rem);
	n = snprintf(buf, len, "{\"time\":\"%s\",\"event\":\"%s\",\"proto\":\"%s\",\"kind\":\"%s\","
		     "\"inside\":\"%s\",\"outside\":\"%s\",\"remote\":\"%s\",\"wan\":%s", t,
		     ev->event == NAT_FLOW_EV_START ? "start" : "end",
		     flowdesc_proto(ev->orig.proto, p, sizeof(p)), flowdesc_kind(ev->kind), in, out,
		     rem, wan_json);
	if (n < 0 || (size_t)n >= len)
		return -1;
	if (ev->event == NAT_FLOW_EV_START)
		m = snprintf(buf + n, len - (size_t)n, "}");
	else {
		if (duration_ns >= 0)
			snprintf(dur, sizeof(dur), ",\"duration_s\":%llu.%03llu",
				 (unsigned long long)duration_ns / 1000000000ULL,
				 (unsigned long long)duration_ns % 1000000000ULL / 1000000ULL);
		m = snprintf(buf + n, len - (size_t)n, ",\"reason\":\"%s\",\"packets_out\":%llu,"
			     "\"bytes_out\":%llu,\"packets_in\":%llu,\"bytes_in\":%llu%s}", reason,
			     (unsigned long long)ev->packets[o_dir],
			     (unsigned long long)ev->bytes[o_dir],
			     (unsigned long long)ev->packets[!o_dir],
			     (unsigned long long)ev->bytes[!o_dir], dur);
	}
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -1;
	return n + m;
}

int flowlog_format_lost(uint64_t real_ns, uint64_t count, const char *what, char *buf,
			size_t len)
{
	json_object *o = json_object_new_object();
	char t[32];

	flowlog_rfc3339(real_ns, t, sizeof(t));
	add_str(o, "time", t);
	add_str(o, "event", "lost");
	add_u64(o, "count", count);
	add_str(o, "why", what);
	return emit(o, buf, len);
}
