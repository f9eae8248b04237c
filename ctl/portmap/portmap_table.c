/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* portmap_table.c - the PCP/NAT-PMP mapping table (see portmap_table.h). */
#include <string.h>
#include <arpa/inet.h>
#include "portmap/portmap_table.h"

void portmap_table_init(struct portmap_table *t)
{
	memset(t, 0, sizeof(*t));
}

uint32_t portmap_lifetime(const struct portmap_limits *lim, uint32_t asked)
{
	uint32_t min = lim->max_lifetime < PORTMAP_LIFETIME_MIN ? lim->max_lifetime
								 : PORTMAP_LIFETIME_MIN;

	if (asked > lim->max_lifetime)
		return lim->max_lifetime;
	return asked < min ? min : asked;
}

static struct portmap_entry *find_int(struct portmap_table *t, uint32_t addr, uint8_t proto,
				      uint16_t port)
{
	for (int i = 0; i < PORTMAP_MAX; i++) {
		struct portmap_entry *e = &t->e[i];

		if (e->used && e->int_addr == addr && e->proto == proto && e->int_port == port)
			return e;
	}
	return NULL;
}

struct portmap_entry *portmap_table_find_ext(struct portmap_table *t, uint32_t wan_ifindex,
					     uint8_t proto, uint16_t port)
{
	for (int i = 0; i < PORTMAP_MAX; i++) {
		struct portmap_entry *e = &t->e[i];

		if (e->used && e->wan_ifindex == wan_ifindex && e->proto == proto &&
		    e->ext_port == port)
			return e;
	}
	return NULL;
}

unsigned portmap_table_host_count(const struct portmap_table *t, uint32_t int_addr)
{
	unsigned n = 0;

	for (int i = 0; i < PORTMAP_MAX; i++)
		n += t->e[i].used && t->e[i].int_addr == int_addr;
	return n;
}

static bool port_free(struct portmap_table *t, const struct portmap_req *r, uint16_t port,
		      portmap_taken_fn taken, void *arg)
{
	return port && !portmap_table_find_ext(t, r->wan_ifindex, r->proto, port) &&
	       !(taken && taken(arg, r, port));
}

/* The port of the inside endpoint's RFC 4787 mapping if it has one (the
 * outside port its peers already see: one mapping per endpoint, not two),
 * else the suggested port if free, else the inside port, else the first
 * free one from a point the seed picks; 0 when the range is full. With
 * PREFER_FAILURE only the suggested port. */
static uint16_t pick_port(struct portmap_table *t, const struct portmap_req *r,
			  const struct portmap_limits *lim, portmap_taken_fn taken, void *arg)
{
	uint32_t range = (uint32_t)lim->port_hi - lim->port_lo + 1;
	uint16_t want[3] = { r->ext_implicit, r->ext_port, r->int_port };

	if (r->prefer_failure)	/* RFC 6887 13.2: no other port than suggested */
		want[0] = want[2] = 0;

	if (lim->port_hi < lim->port_lo)
		return 0;
	for (int i = 0; i < 3; i++)
		if (want[i] >= lim->port_lo && want[i] <= lim->port_hi &&
		    port_free(t, r, want[i], taken, arg))
			return want[i];
	if (r->prefer_failure)
		return 0;
	for (uint32_t k = 0; k < range; k++) {
		uint16_t p = (uint16_t)(lim->port_lo + (r->seed + k) % range);

		if (port_free(t, r, p, taken, arg))
			return p;
	}
	return 0;
}

enum portmap_status portmap_table_request(struct portmap_table *t, const struct portmap_req *r,
					  const struct portmap_limits *lim, portmap_taken_fn taken,
					  void *arg, uint64_t now, struct portmap_entry **out,
					  bool *created)
{
	struct portmap_entry *e = find_int(t, r->int_addr, r->proto, r->int_port);
	uint16_t port;

	*out = NULL;
	*created = false;
	if (e) {
		if (r->by == PORTMAP_BY_PCP && e->by == PORTMAP_BY_PCP &&
		    memcmp(e->nonce, r->nonce, PORTMAP_NONCE_LEN))
			return PORTMAP_NONCE_MISMATCH;
		if (r->prefer_failure && r->ext_port && r->ext_port != e->ext_port)
			return PORTMAP_PREFER_FAILED;
		if (r->by == PORTMAP_BY_PCP)
			memcpy(e->nonce, r->nonce, PORTMAP_NONCE_LEN);
		e->by = r->by;
		e->lan_ifindex = r->lan_ifindex;
		e->expires = now + portmap_lifetime(lim, r->lifetime);
		*out = e;
		return PORTMAP_OK;
	}
	if (lim->max_per_host && portmap_table_host_count(t, r->int_addr) >= lim->max_per_host)
		return PORTMAP_HOST_LIMIT;
	if (t->n >= PORTMAP_MAX)
		return PORTMAP_TABLE_FULL;
	port = pick_port(t, r, lim, taken, arg);
	if (!port)
		return r->prefer_failure ? PORTMAP_PREFER_FAILED : PORTMAP_NO_PORT;
	for (int i = 0; i < PORTMAP_MAX; i++) {
		if (t->e[i].used)
			continue;
		e = &t->e[i];
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->by = r->by;
		e->proto = r->proto;
		e->lan_ifindex = r->lan_ifindex;
		e->wan_ifindex = r->wan_ifindex;
		e->int_addr = r->int_addr;
		e->int_port = r->int_port;
		e->ext_port = port;
		if (r->by == PORTMAP_BY_PCP)
			memcpy(e->nonce, r->nonce, PORTMAP_NONCE_LEN);
		e->expires = now + portmap_lifetime(lim, r->lifetime);
		t->n++;
		*out = e;
		*created = true;
		return PORTMAP_OK;
	}
	return PORTMAP_TABLE_FULL;
}

static void drop(struct portmap_table *t, struct portmap_entry *e, portmap_gone_fn gone,
		 void *arg)
{
	struct portmap_entry copy = *e;

	memset(e, 0, sizeof(*e));
	t->n--;
	if (gone)
		gone(arg, &copy);
}

enum portmap_status portmap_table_delete(struct portmap_table *t, uint32_t int_addr, uint8_t proto,
					 uint16_t int_port, const uint8_t *nonce, bool check_nonce,
					 portmap_gone_fn gone, void *arg)
{
	enum portmap_status st = PORTMAP_OK;

	for (int i = 0; i < PORTMAP_MAX; i++) {
		struct portmap_entry *e = &t->e[i];

		if (!e->used || e->int_addr != int_addr || (proto && e->proto != proto) ||
		    (int_port && e->int_port != int_port))
			continue;
		if (check_nonce && e->by == PORTMAP_BY_PCP &&
		    memcmp(e->nonce, nonce, PORTMAP_NONCE_LEN)) {
			st = PORTMAP_NONCE_MISMATCH;
			continue;
		}
		drop(t, e, gone, arg);
	}
	return st;
}

int portmap_table_expire(struct portmap_table *t, uint64_t now, portmap_gone_fn gone, void *arg)
{
	int n = 0;

	for (int i = 0; i < PORTMAP_MAX; i++) {
		if (t->e[i].used && t->e[i].expires <= now) {
			drop(t, &t->e[i], gone, arg);
			n++;
		}
	}
	return n;
}

int portmap_table_purge(struct portmap_table *t,
			bool (*want_drop)(void *arg, const struct portmap_entry *e), void *arg,
			portmap_gone_fn gone, void *gone_arg)
{
	int n = 0;

	for (int i = 0; i < PORTMAP_MAX; i++) {
		if (t->e[i].used && want_drop(arg, &t->e[i])) {
			drop(t, &t->e[i], gone, gone_arg);
			n++;
		}
	}
	return n;
}

/* ---------------------------------------------------------------- JSON */

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(const char *s, uint8_t *b, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -1;
		b[i / 2] = (uint8_t)(i % 2 ? b[i / 2] | v : v << 4);
	}
	return 0;
}

json_object *portmap_table_to_json(const struct portmap_table *t, uint64_t now)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < PORTMAP_MAX; i++) {
		const struct portmap_entry *e = &t->e[i];
		json_object *o;
		char a[INET_ADDRSTRLEN], n[2 * PORTMAP_NONCE_LEN + 1];

		if (!e->used)
			continue;
		o = json_object_new_object();
		inet_ntop(AF_INET, &e->int_addr, a, sizeof(a));
		hex(e->nonce, PORTMAP_NONCE_LEN, n);
		json_object_object_add(o, "by", json_object_new_string(
			e->by == PORTMAP_BY_PCP ? "pcp" : "natpmp"));
		json_object_object_add(o, "proto", json_object_new_string(
			e->proto == 6 ? "tcp" : "udp"));
		json_object_object_add(o, "lan_ifindex", json_object_new_int64(e->lan_ifindex));
		json_object_object_add(o, "wan_ifindex", json_object_new_int64(e->wan_ifindex));
		json_object_object_add(o, "inside", json_object_new_string(a));
		json_object_object_add(o, "inside_port", json_object_new_int(e->int_port));
		json_object_object_add(o, "outside_port", json_object_new_int(e->ext_port));
		json_object_object_add(o, "nonce", json_object_new_string(n));
		json_object_object_add(o, "lifetime_left", json_object_new_int64(
			e->expires > now ? (int64_t)(e->expires - now) : 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

static bool jget(json_object *o, const char *k, json_type type, json_object **v)
{
	return json_object_object_get_ex(o, k, v) && json_object_is_type(*v, type);
}

/* One saved entry, every field checked; -1 if anything is off. */
static int entry_from_json(json_object *o, struct portmap_entry *e, uint64_t now,
			   uint64_t elapsed)
{
	json_object *by, *proto, *lan, *wan, *in, *ip, *ep, *nonce, *left;
	int64_t l, i, x;

	if (!jget(o, "by", json_type_string, &by) || !jget(o, "proto", json_type_string, &proto) ||
	    !jget(o, "lan_ifindex", json_type_int, &lan) ||
	    !jget(o, "wan_ifindex", json_type_int, &wan) ||
	    !jget(o, "inside", json_type_string, &in) || !jget(o, "inside_port", json_type_int, &ip) ||
	    !jget(o, "outside_port", json_type_int, &ep) ||
	    !jget(o, "nonce", json_type_string, &nonce) ||
	    !jget(o, "lifetime_left", json_type_int, &left))
		return -1;
	memset(e, 0, sizeof(*e));
	e->by = !strcmp(json_object_get_string(by), "pcp") ? PORTMAP_BY_PCP
		: !strcmp(json_object_get_string(by), "natpmp") ? PORTMAP_BY_NATPMP : 0;
	e->proto = !strcmp(json_object_get_string(proto), "tcp") ? 6
		   : !strcmp(json_object_get_string(proto), "udp") ? 17 : 0;
	i = json_object_get_int64(ip);
	x = json_object_get_int64(ep);
	l = json_object_get_int64(left);
	if (!e->by || !e->proto || i < 1 || i > 65535 || x < 1 || x > 65535 ||
	    inet_pton(AF_INET, json_object_get_string(in), &e->int_addr) != 1 ||
	    unhex(json_object_get_string(nonce), e->nonce, PORTMAP_NONCE_LEN) ||
	    json_object_get_int64(lan) <= 0 || json_object_get_int64(wan) <= 0 ||
	    json_object_get_int64(lan) > UINT32_MAX || json_object_get_int64(wan) > UINT32_MAX ||
	    l <= 0 || (uint64_t)l <= elapsed)
		return -1;
	e->lan_ifindex = (uint32_t)json_object_get_int64(lan);
	e->wan_ifindex = (uint32_t)json_object_get_int64(wan);
	e->int_port = (uint16_t)i;
	e->ext_port = (uint16_t)x;
	e->expires = now + (uint64_t)l - elapsed;
	e->used = true;
	return 0;
}

int portmap_table_from_json(struct portmap_table *t, json_object *arr, uint64_t now,
			    uint64_t elapsed)
{
	size_t n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;

	portmap_table_init(t);
	for (size_t k = 0; k < n && t->n < PORTMAP_MAX; k++) {
		struct portmap_entry e;

		if (entry_from_json(json_object_array_get_idx(arr, k), &e, now, elapsed) ||
		    find_int(t, e.int_addr, e.proto, e.int_port) ||
		    portmap_table_find_ext(t, e.wan_ifindex, e.proto, e.ext_port))
			continue;
		t->e[t->n++] = e;	/* loaded densely from slot 0 */
	}
	return t->n;
}
