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
	case NAT_FLOW_END_FLUSH: return "flush";
	}
	return NULL;
}

void flowlog_rfc3339(uint64_t real_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(real_ns / 1000000000ULL);
	unsigned ms = (unsigned)(real_ns % 1000000000ULL / 1000000ULL);
	char stamp[24];
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", stamp, ms);
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

int flowlog_format(const struct nat_flow_event *ev, uint64_t real_ns, const char *wan,
		   int64_t duration_ns, char *buf, size_t len)
{
	/* the ORIG entry as the table holds it: its translated tuple is the
	 * reverse of the REPLY key */
	struct nat_ct_value v = {
		.to_saddr = ev->reply.daddr, .to_daddr = ev->reply.saddr,
		.to_sport = ev->reply.dport, .to_dport = ev->reply.sport, .kind = ev->kind,
	};
	char t[32], p[8], in[FLOWDESC_EP_LEN], out[FLOWDESC_EP_LEN], rem[FLOWDESC_EP_LEN];
	const char *reason = flowlog_reason_name(ev->reason);
	int o_dir = flowdesc_orig_is_out(ev->kind) ? NAT_DIR_ORIG : NAT_DIR_REPLY;
	json_object *o;

	if (ev->event != NAT_FLOW_EV_START && (ev->event != NAT_FLOW_EV_END || !reason))
		return -1;
	flowlog_rfc3339(real_ns, t, sizeof(t));
	flowdesc_endpoints(&ev->orig, &v, in, out, rem);
	o = json_object_new_object();
	add_str(o, "time", t);
	add_str(o, "event", ev->event == NAT_FLOW_EV_START ? "start" : "end");
	add_str(o, "proto", flowdesc_proto(ev->orig.proto, p, sizeof(p)));
	add_str(o, "kind", flowdesc_kind(ev->kind));
	add_str(o, "inside", in);
	add_str(o, "outside", out);
	add_str(o, "remote", rem);
	add_str(o, "wan", wan);
	if (ev->event == NAT_FLOW_EV_END) {
		add_str(o, "reason", reason);
		add_u64(o, "packets_out", ev->packets[o_dir]);
		add_u64(o, "bytes_out", ev->bytes[o_dir]);
		add_u64(o, "packets_in", ev->packets[!o_dir]);
		add_u64(o, "bytes_in", ev->bytes[!o_dir]);
		if (duration_ns >= 0) {
			char d[32];

			snprintf(d, sizeof(d), "%.3f", (double)duration_ns / 1e9);
			json_object_object_add(o, "duration_s",
					       json_object_new_double_s((double)duration_ns / 1e9, d));
		}
	}
	return emit(o, buf, len);
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
