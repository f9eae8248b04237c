/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * portmap_table.h - the mappings LAN hosts asked for with PCP or NAT-PMP:
 * who owns each (inside address, protocol, inside port, PCP nonce), which
 * outside port of which WAN it holds, and until when.
 *
 * The table is the one record of dynamic mappings; portmap.c mirrors each
 * entry into nat_forwards (flag NAT_FWD_F_PCP) and saves the table in the
 * state-dir so mappings survive a restart. Nothing here does I/O: times
 * are whole seconds of a clock the caller chooses (`now`), and whether an
 * outside port is taken by something else (a static `forward`) is the
 * caller's `taken` callback.
 *
 * Limits: at most PORTMAP_MAX mappings, `max-per-host` per inside
 * address, lifetimes clamped to [min(PORTMAP_LIFETIME_MIN, max), max].
 */
#ifndef XDPNAT_PORTMAP_TABLE_H
#define XDPNAT_PORTMAP_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#define PORTMAP_MAX		1024	/* mappings, all hosts and LANs together */
#define PORTMAP_LIFETIME_MIN	120	/* RFC 6887 §15: shortest lifetime granted */
#define PORTMAP_NONCE_LEN	12

enum portmap_by {
	PORTMAP_BY_PCP = 1,
	PORTMAP_BY_NATPMP = 2,
};

struct portmap_entry {
	bool used;
	uint8_t by;			/* enum portmap_by: who asked last */
	uint8_t proto;			/* IPPROTO_TCP / IPPROTO_UDP */
	uint32_t lan_ifindex;		/* where the request came in */
	uint32_t wan_ifindex;		/* whose outside port it holds */
	uint32_t int_addr;		/* inside host, network order */
	uint16_t int_port;		/* host order */
	uint16_t ext_port;		/* host order */
	uint8_t nonce[PORTMAP_NONCE_LEN];	/* PCP: the owner's; NAT-PMP: zeros */
	uint64_t expires;		/* seconds, the caller's clock */
};

struct portmap_table {
	struct portmap_entry e[PORTMAP_MAX];
	int n;				/* entries in use */
};

struct portmap_limits {
	uint16_t port_lo, port_hi;	/* outside ports handed out, host order */
	unsigned max_per_host;
	uint32_t max_lifetime;		/* seconds */
};

/* A request to create or refresh one mapping (lifetime > 0). */
struct portmap_req {
	uint8_t by;			/* enum portmap_by */
	uint8_t proto;
	uint32_t lan_ifindex, wan_ifindex;
	uint32_t int_addr;
	uint16_t int_port;
	uint16_t ext_port;		/* suggested, 0 = any */
	uint32_t lifetime;		/* asked for, > 0 */
	uint8_t nonce[PORTMAP_NONCE_LEN];
	bool prefer_failure;		/* PCP: the suggested port or nothing */
	uint16_t ext_implicit;		/* the port of the inside endpoint's RFC 4787
					 * mapping (nat_eim_ports), 0 = none: preferred */
	uint32_t seed;			/* where the search for a free port starts */
};

enum portmap_status {
	PORTMAP_OK = 0,
	PORTMAP_NONCE_MISMATCH,		/* the mapping is another client's (PCP nonce) */
	PORTMAP_HOST_LIMIT,		/* max-per-host reached */
	PORTMAP_TABLE_FULL,		/* PORTMAP_MAX reached */
	PORTMAP_NO_PORT,		/* every port of the range is taken */
	PORTMAP_PREFER_FAILED,		/* PREFER_FAILURE and the suggested port is taken */
};

/* Is outside port `port` of request r's WAN and protocol taken by
 * something outside the table for r (a static forward, another inside
 * endpoint's RFC 4787 mapping)? */
typedef bool (*portmap_taken_fn)(void *arg, const struct portmap_req *r, uint16_t port);

/* Called for every entry the table drops (expiry, deletion, a purge). */
typedef void (*portmap_gone_fn)(void *arg, const struct portmap_entry *e);

void portmap_table_init(struct portmap_table *t);

/* The lifetime granted for `asked` seconds. */
uint32_t portmap_lifetime(const struct portmap_limits *lim, uint32_t asked);

/*
 * Create or refresh the mapping of (int_addr, proto, int_port). A refresh
 * keeps its outside port (even if the suggestion differs) and needs the
 * same nonce when the mapping was made by PCP and the request is PCP.
 * *out points into the table on PORTMAP_OK; *created says whether it is
 * new (the caller then writes its forward).
 */
enum portmap_status portmap_table_request(struct portmap_table *t, const struct portmap_req *r,
					  const struct portmap_limits *lim, portmap_taken_fn taken,
					  void *arg, uint64_t now, struct portmap_entry **out,
					  bool *created);

/*
 * Delete (lifetime 0). int_port 0 deletes every mapping of that host and
 * protocol (proto 0: every protocol). With check_nonce, only PCP-made
 * mappings whose nonce matches are deleted, and one that does not match
 * gives PORTMAP_NONCE_MISMATCH. `gone` is called for each deleted entry.
 * Deleting what does not exist is PORTMAP_OK (RFC 6887 §15, RFC 6886 §3.4).
 */
enum portmap_status portmap_table_delete(struct portmap_table *t, uint32_t int_addr, uint8_t proto,
					 uint16_t int_port, const uint8_t *nonce, bool check_nonce,
					 portmap_gone_fn gone, void *arg);

/* Drop the entries whose lifetime has run out; returns how many. */
int portmap_table_expire(struct portmap_table *t, uint64_t now, portmap_gone_fn gone, void *arg);

/* Drop every entry `drop` says so of; returns how many. */
int portmap_table_purge(struct portmap_table *t,
			bool (*drop)(void *arg, const struct portmap_entry *e), void *arg,
			portmap_gone_fn gone, void *gone_arg);

/* The entry holding outside port `port`, or NULL. */
struct portmap_entry *portmap_table_find_ext(struct portmap_table *t, uint32_t wan_ifindex,
					     uint8_t proto, uint16_t port);

/* Mappings held by inside address `int_addr`. */
unsigned portmap_table_host_count(const struct portmap_table *t, uint32_t int_addr);

/* The table as JSON (an array; lifetimes as seconds left at `now`), and
 * back. Loading skips malformed entries and entries with no time left
 * once `elapsed` seconds are taken off; returns how many it kept. */
json_object *portmap_table_to_json(const struct portmap_table *t, uint64_t now);
int portmap_table_from_json(struct portmap_table *t, json_object *arr, uint64_t now,
			    uint64_t elapsed);

#endif /* XDPNAT_PORTMAP_TABLE_H */
