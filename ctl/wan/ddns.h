/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ddns.h - dynamic DNS updates for WAN addresses.
 *
 * A `ddns` line binds a name to a WAN: whenever that WAN's own address
 * changes (and every `interval` as a forced refresh) the name is updated
 * with that address at the provider. With `failover OTHER`, while the WAN
 * is down (ddns_wan_state) and OTHER is up, the name gets OTHER's address. One worker thread does all network
 * I/O; the public calls only queue events under a mutex, so a slow or
 * broken DDNS server never stalls the daemon.
 *
 * ddns.c holds the thread, libcurl and files; ddns_proto.c the pure parts
 * (reply parsing, URL building, backoff, scheduling) declared at the end.
 */
#ifndef XDPNAT_DDNS_H
#define XDPNAT_DDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <netinet/in.h>
#include "config/config.h"

struct ddns;

/* Start one worker thread for the `ddns` lines of cfg; NULL if there are
 * none (or on failure, logged). Nothing is sent until the caller reports
 * each WAN's address with ddns_address_changed(). */
struct ddns *ddns_start(const struct xdpnat_config *cfg);

/* Non-blocking: record the WAN's current address and wake the worker.
 * addr.s_addr == 0 means the WAN has no address (nothing is sent). */
void ddns_address_changed(struct ddns *d, const char *wan_ifname, struct in_addr addr);

/* Non-blocking: wan/failover.c's verdict on a tracked WAN. A name with
 * `failover OTHER` on a WAN that is down publishes OTHER's address while
 * OTHER is up; a WAN never reported is up. */
void ddns_wan_state(struct ddns *d, const char *wan_ifname, bool up);

/* Take a new configuration. Unchanged entries keep their state; a changed
 * entry (or a changed secret file) clears a permanent failure. */
void ddns_reload(struct ddns *d, const struct xdpnat_config *cfg);

/* What the metrics endpoint shows of one name. */
struct ddns_name_state {
	char fqdn[256];
	char wan[IF_NAMESIZE];
	enum cfg_ddns_provider provider;
	bool answered;			/* an answer came (this run or a saved one) */
	bool last_ok;			/* the last answer was a success */
	bool stopped;			/* permanent failure: no more updates */
	time_t last_time;		/* the last answer (unix), 0 = none */
	time_t last_success;		/* the last successful update (unix), 0 = never */
	uint64_t failures_total;	/* failed answers since the daemon started */
};

/* Copy the state of up to max names, under the worker's lock (it is held
 * for a few copies only, never across a transfer). Returns how many; 0
 * for d NULL. Safe from any thread while d lives. */
int ddns_snapshot(struct ddns *d, struct ddns_name_state *out, int max);

/* Stop the worker (aborting a transfer in flight) and free d. NULL is ok. */
void ddns_stop(struct ddns *d);

/* `xdpnat ddns update -c FILE --wan IF --address A [--force]`: one
 * synchronous update of every name bound to IF. Exit 0 = all updated or
 * nothing to send, 1 = temporary failure, 3 = permanent failure, 2 = usage
 * or configuration error. */
int ddns_main(int argc, char **argv);

/* ------------------------------------------------------------------
 * Pure helpers (ddns_proto.c), exposed for the unit tests.
 */

#define DDNS_BACKOFF_FIRST	60	/* seconds */
#define DDNS_BACKOFF_MAX	3600
#define DDNS_REPLY_MAX		(64 * 1024)	/* larger replies are aborted */
#define DDNS_SECRET_MAX		512
#define DDNS_URL_MAX		2048
#define DDNS_MSG_MAX		640

enum ddns_outcome {
	DDNS_OK,		/* updated (good) or already right (nochg) */
	DDNS_TEMPFAIL,		/* retry with backoff */
	DDNS_PERMFAIL,		/* stop until the config changes */
};

/* A dyndns2/oray reply body (not NUL-terminated). msg gets a printable
 * summary ("good 198.51.100.7", "badauth", "unexpected reply ..."). Sets
 * *known when the first word is a dyndns2 code. */
enum ddns_outcome ddns_parse_reply(const char *body, size_t len, bool *known,
				   char *msg, size_t msgsz);

/* Reply with HTTP status: dyndns2/oray/noip (custom = false) or a custom
 * URL (custom = true: any 2xx without a dyndns2 failure code is success). */
enum ddns_outcome ddns_classify(long http_status, const char *body, size_t len,
				bool custom, char *msg, size_t msgsz);

/* Seconds to wait after `failures` consecutive temporary failures (1 = the
 * first): 60, 120, 240, ... capped at 3600. 0 for failures == 0. */
unsigned ddns_backoff(unsigned failures);

/* Expand {host} {addr} {user} {password} in a custom URL template, each
 * value escaped with curl_easy_escape. Unknown {words} are copied as they
 * are. -1 if the result does not fit or escaping fails. */
int ddns_expand_url(const char *tmpl, const char *host, const char *addr,
		    const char *user, const char *password, char *out, size_t outsz);

/* Update URL of dyndns2, noip and oray; cloudflare's three request URLs.
 * server "" = the provider default. -1 if it does not fit. */
const char *ddns_default_server(enum cfg_ddns_provider p);
int ddns_update_url(enum cfg_ddns_provider p, const char *server, const char *fqdn,
		    const char *addr, char *out, size_t outsz);
int ddns_cf_zone_url(const char *server, const char *zone, char *out, size_t outsz);
int ddns_cf_records_url(const char *server, const char *zone_id, const char *fqdn,
			char *out, size_t outsz);
int ddns_cf_record_url(const char *server, const char *zone_id, const char *rec_id,
		       char *out, size_t outsz);

/* The zone to try after `name` when walking up an fqdn's labels: the part
 * after the first dot, or NULL when that would be a bare TLD. */
const char *ddns_parent_zone(const char *name);

/* Cloudflare list reply (zones or dns_records): DDNS_OK with the first
 * result's id (and content if wanted; *found false if the list is empty),
 * DDNS_PERMFAIL for success:false (msg = the API's error), DDNS_TEMPFAIL
 * for anything that is not the expected JSON. */
enum ddns_outcome ddns_cf_parse_list(const char *body, size_t len, bool *found,
				     char *id, size_t idsz, char *content, size_t csz,
				     char *msg, size_t msgsz);
/* Cloudflare PATCH reply: DDNS_OK, DDNS_PERMFAIL, DDNS_TEMPFAIL as above. */
enum ddns_outcome ddns_cf_parse_result(const char *body, size_t len, char *msg, size_t msgsz);

/* Read a password/token file, strip trailing CR/LF. 0, or -errno
 * (-EINVAL: empty or multi-line, -EFBIG: longer than sz - 1). */
int ddns_read_secret(const char *path, char *buf, size_t sz);

/* Replace every occurrence of secret (raw and URL-escaped) in s by "***". */
void ddns_redact(char *s, const char *secret);

/* What decides whether a name is due for an update. */
struct ddns_sched {
	struct in_addr want;	/* the WAN's address now, 0 = none */
	struct in_addr sent;	/* last address updated successfully, 0 = none */
	time_t sent_time;	/* when (unix), 0 = never */
	unsigned interval;	/* forced refresh period, 0 = none */
	unsigned failures;	/* consecutive temporary failures */
	time_t retry_at;	/* when failures > 0 */
	bool stopped;		/* permanent failure */
};

/* false: nothing to do until something changes; true: due at *at (a time
 * <= now means now). A backoff in progress holds even if want changed. */
bool ddns_due(const struct ddns_sched *s, time_t *at);

/* Which version of a secret file a permanent failure was answered to:
 * when the file changes, the name is tried again. */
struct ddns_file_id {
	uint64_t ino;
	int64_t size;
	int64_t mtime_sec, mtime_nsec;
};

/* What a restart must not forget of one name: the last address sent, and
 * where its failures stand (a badauth is not sent again, a backoff is not
 * cut short). */
struct ddns_state {
	struct in_addr sent;		/* last address updated successfully, 0 = none */
	time_t sent_time;		/* when (unix), 0 = never */
	unsigned failures;		/* consecutive temporary failures */
	time_t retry_at;		/* when failures > 0: the next attempt */
	bool stopped;			/* permanent failure */
	struct ddns_file_id secret;	/* stopped: the secret file it was answered to */
	time_t last_time;		/* the last answer (unix), 0 = none */
	char last_result[DDNS_MSG_MAX];	/* its text, one line */
};

/*
 * Persisted state, <state_dir>/ddns/<fqdn>, two lines:
 *   ADDR UNIXTIME FINGERPRINT
 *   v2 CFGPRINT FAILURES RETRY_AT STOPPED INO SIZE MTIME MTIME_NS LAST_TIME RESULT...
 * The first is the format of older versions (alone in their files, and
 * read as before: the last address sent, 0.0.0.0 0 when none); its
 * fingerprint covers what the update is sent to, so changing provider,
 * server, user or URL resends. The second is taken only while CFGPRINT
 * (ddns_cfg_fingerprint) still matches: any change of the `ddns` line
 * starts the name afresh, as a reload does.
 */
uint64_t ddns_fingerprint(const struct cfg_ddns *c);
/* Everything ddns_cfg_equal() compares. */
uint64_t ddns_cfg_fingerprint(const struct cfg_ddns *c);
/* 0, or -1 if it does not fit. Control characters of last_result become
 * spaces (it stays one line). */
int ddns_state_format(char *buf, size_t sz, const struct cfg_ddns *c, const struct ddns_state *st);
/* 0 and *st from a file's text for config c; -1 (st all zero) when the
 * text is not a state of c's destination. */
int ddns_state_parse(const char *buf, const struct cfg_ddns *c, struct ddns_state *st);

/* Two entries are the same config (ignoring the line number). */
bool ddns_cfg_equal(const struct cfg_ddns *a, const struct cfg_ddns *b);

/* A name usable as a file name under <state_dir>/ddns. */
bool ddns_fqdn_ok(const char *fqdn);

#endif /* XDPNAT_DDNS_H */
