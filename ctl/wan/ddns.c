/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ddns.c - dynamic DNS updates: the worker thread, libcurl requests, the
 * persisted state, the status file and `xdpnat ddns update`.
 *
 * All network I/O happens in one worker thread (or in `xdpnat ddns
 * update`, which is synchronous by design). The daemon's calls only take
 * the mutex for a few assignments and signal the condvar. Each request is
 * bounded (connect 10 s, total 30 s, reply 64 KiB) and a transfer in
 * flight is aborted by ddns_stop() through the progress callback.
 *
 * Secrets are read from their files right before a request, wiped after
 * it, and every message that leaves this file has them redacted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "wan/ddns.h"
#include "common/log.h"
#include "common/runfiles.h"

#define DDNS_USER_AGENT		"xdpnat/0.1 ddns"
#define DDNS_CONNECT_TIMEOUT	10L	/* seconds */
#define DDNS_TOTAL_TIMEOUT	30L
#define DDNS_MAX_SLEEP		60	/* re-check at least this often (clock steps) */

enum entry_state { ST_OK, ST_RETRYING, ST_STOPPED };

struct ddns_entry {
	struct cfg_ddns cfg;
	unsigned id;			/* identifies the entry across reloads */
	struct ddns_sched s;
	char last_result[DDNS_MSG_MAX];
	time_t last_time;
	struct stat secret_st;		/* secret file at a permanent failure */
	uint64_t failures_total;	/* failed answers since the daemon started
					 * (metrics; kept across reloads) */
};

struct ddns {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	atomic_bool stop;
	/* under lock: */
	char state_dir[CFG_PATH_MAX];
	char run_dir[CFG_PATH_MAX];
	struct ddns_entry e[CFG_MAX_DDNS];
	int n;
	struct {
		char ifname[IF_NAMESIZE];
		struct in_addr addr;
		bool down;		/* wan/failover.c found it dead */
	} wan[CFG_MAX_IFACES];
	int nwan;
	unsigned next_id;
	bool dirty;			/* status file needs writing */
	/* worker only: */
	struct ddns_entry snap[CFG_MAX_DDNS];
};

static void dlog_at(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dlog_at(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	nat_log_at(prio, "ddns: %s", line);
}

#define dlog(...) dlog_at(LOG_INFO, __VA_ARGS__)

static const char *provider_name(enum cfg_ddns_provider p)
{
	switch (p) {
	case DDNS_DYNDNS2:	return "dyndns2";
	case DDNS_ORAY:		return "oray";
	case DDNS_NOIP:		return "noip";
	case DDNS_CLOUDFLARE:	return "cloudflare";
	case DDNS_CUSTOM:	return "custom";
	}
	return "?";
}

static const char *secret_path(const struct cfg_ddns *c)
{
	return c->provider == DDNS_CLOUDFLARE ? c->token_file : c->password_file;
}

/* ---- HTTP ----------------------------------------------------------- */

struct http_req {
	const char *url;
	const char *method;		/* NULL = GET */
	const char *body;		/* JSON, with method */
	const char *user, *password;	/* Basic auth when user */
	const char *bearer;
	const char *ca_file;		/* "" = system bundle */
	atomic_bool *stop;
};

struct http_reply {
	long status;
	char data[DDNS_REPLY_MAX + 1];
	size_t len;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct http_reply *r = arg;
	size_t add = size * n;

	if (add > DDNS_REPLY_MAX - r->len) {
		r->too_big = true;
		return 0;	/* aborts the transfer */
	}
	memcpy(r->data + r->len, p, add);
	r->len += add;
	r->data[r->len] = '\0';
	return add;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	atomic_bool *stop = arg;

	(void)dt; (void)dn; (void)ut; (void)un;
	return stop && atomic_load(stop);
}

static void http_error(CURLcode rc, const struct http_reply *r, const char *eb,
		       char *msg, size_t msgsz)
{
	const char *detail = eb[0] ? eb : curl_easy_strerror(rc);

	if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(msg, msgsz, "reply larger than %d bytes, aborted", DDNS_REPLY_MAX);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(msg, msgsz, "timeout: %s", detail);
	else if (rc == CURLE_ABORTED_BY_CALLBACK)
		snprintf(msg, msgsz, "aborted (stopping)");
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
		snprintf(msg, msgsz, "TLS certificate verification failed: %s", detail);
	else
		snprintf(msg, msgsz, "connection error: %s", detail);
}

static void http_setup(CURL *c, const struct http_req *q, struct http_reply *r, char *eb)
{
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_USERAGENT, DDNS_USER_AGENT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, DDNS_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, DDNS_TOTAL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)DDNS_REPLY_MAX);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, q->stop);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, eb);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (q->ca_file && q->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, q->ca_file);
	if (q->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, q->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, q->password ? q->password : "");
	}
	if (q->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
}

static struct curl_slist *http_headers(const struct http_req *q)
{
	char auth[DDNS_SECRET_MAX + 32];
	struct curl_slist *h = NULL, *t;

	if (q->bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", q->bearer);
		t = curl_slist_append(h, auth);
		memset(auth, 0, sizeof(auth));
		if (!t)
			return h;
		h = t;
	}
	if (q->body && (t = curl_slist_append(h, "Content-Type: application/json")))
		h = t;
	return h;
}

/* One request. 0 with r->status and the body, or -1 with msg. */
static int http_do(const struct http_req *q, struct http_reply *r, char *msg, size_t msgsz)
{
	char eb[CURL_ERROR_SIZE] = "";
	struct curl_slist *h;
	CURL *c = curl_easy_init();
	CURLcode rc;

	r->status = 0;
	r->len = 0;
	r->too_big = false;
	r->data[0] = '\0';
	if (!c) {
		snprintf(msg, msgsz, "curl_easy_init failed");
		return -1;
	}
	http_setup(c, q, r, eb);
	h = http_headers(q);
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		http_error(rc, r, eb, msg, msgsz);
	curl_easy_cleanup(c);
	for (struct curl_slist *p = h; p; p = p->next)
		memset(p->data, 0, strlen(p->data));	/* the bearer token */
	curl_slist_free_all(h);
	return rc == CURLE_OK ? 0 : -1;
}

/* ---- one update ---------------------------------------------------------- */

struct update_ctx {
	const struct cfg_ddns *c;
	const char *addr;		/* dotted quad */
	char secret[DDNS_SECRET_MAX];
	atomic_bool *stop;
	struct http_reply *r;
	char url[DDNS_URL_MAX];
};

static int load_secret(struct update_ctx *x, char *msg, size_t msgsz)
{
	const char *path = secret_path(x->c);
	int err;

	if (!path[0]) {
		x->secret[0] = '\0';
		return 0;
	}
	err = ddns_read_secret(path, x->secret, sizeof(x->secret));
	if (err)
		snprintf(msg, msgsz, "cannot read secret file %s: %s", path,
			 err == -EINVAL ? "empty or more than one line" : strerror(-err));
	return err;
}

static enum ddns_outcome update_dyndns2(struct update_ctx *x, char *msg, size_t msgsz)
{
	struct http_req q = { .url = x->url, .ca_file = x->c->ca_file, .stop = x->stop };

	if (ddns_update_url(x->c->provider, x->c->server, x->c->fqdn, x->addr,
			    x->url, sizeof(x->url))) {
		snprintf(msg, msgsz, "update URL too long");
		return DDNS_PERMFAIL;
	}
	if (x->c->user[0]) {
		q.user = x->c->user;
		q.password = x->secret;
	}
	if (http_do(&q, x->r, msg, msgsz))
		return DDNS_TEMPFAIL;
	return ddns_classify(x->r->status, x->r->data, x->r->len, false, msg, msgsz);
}

static enum ddns_outcome update_custom(struct update_ctx *x, char *msg, size_t msgsz)
{
	struct http_req q = { .url = x->url, .ca_file = x->c->ca_file, .stop = x->stop };

	if (ddns_expand_url(x->c->url, x->c->fqdn, x->addr, x->c->user, x->secret,
			    x->url, sizeof(x->url))) {
		snprintf(msg, msgsz, "custom URL too long after expansion");
		return DDNS_PERMFAIL;
	}
	if (http_do(&q, x->r, msg, msgsz))
		return DDNS_TEMPFAIL;
	return ddns_classify(x->r->status, x->r->data, x->r->len, true, msg, msgsz);
}

/* Cloudflare GET of a list; DDNS_OK with *found and id (and content). */
static enum ddns_outcome cf_list(struct update_ctx *x, bool *found, char *id, size_t idsz,
				 char *content, size_t csz, char *msg, size_t msgsz)
{
	struct http_req q = { .url = x->url, .bearer = x->secret, .ca_file = x->c->ca_file,
			      .stop = x->stop };
	long st;

	*found = false;
	if (http_do(&q, x->r, msg, msgsz))
		return DDNS_TEMPFAIL;
	st = x->r->status;
	if (st >= 500 || st == 429 || st == 408) {
		snprintf(msg, msgsz, "HTTP %ld", st);
		return DDNS_TEMPFAIL;
	}
	return ddns_cf_parse_list(x->r->data, x->r->len, found, id, idsz, content, csz,
				  msg, msgsz);
}

/* Walk up the fqdn's labels until a zone of that name exists. */
static enum ddns_outcome cf_find_zone(struct update_ctx *x, char *zid, size_t zsz,
				      char *msg, size_t msgsz)
{
	for (const char *z = x->c->fqdn; z; z = ddns_parent_zone(z)) {
		enum ddns_outcome o;
		bool found;

		if (ddns_cf_zone_url(x->c->server, z, x->url, sizeof(x->url)))
			break;
		o = cf_list(x, &found, zid, zsz, NULL, 0, msg, msgsz);
		if (o != DDNS_OK || found)
			return o;
	}
	snprintf(msg, msgsz, "no cloudflare zone for %s", x->c->fqdn);
	return DDNS_PERMFAIL;
}

static enum ddns_outcome cf_patch(struct update_ctx *x, const char *zid, const char *rid,
				  char *msg, size_t msgsz)
{
	struct json_object *o = json_object_new_object();
	struct http_req q = { .url = x->url, .method = "PATCH", .bearer = x->secret,
			      .ca_file = x->c->ca_file, .stop = x->stop };
	enum ddns_outcome res = DDNS_TEMPFAIL;
	long st;

	if (!o || ddns_cf_record_url(x->c->server, zid, rid, x->url, sizeof(x->url))) {
		snprintf(msg, msgsz, "cannot build the cloudflare request");
		json_object_put(o);
		return DDNS_PERMFAIL;
	}
	json_object_object_add(o, "content", json_object_new_string(x->addr));
	q.body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (http_do(&q, x->r, msg, msgsz) == 0) {
		st = x->r->status;
		if (st >= 500 || st == 429 || st == 408)
			snprintf(msg, msgsz, "HTTP %ld", st);
		else
			res = ddns_cf_parse_result(x->r->data, x->r->len, msg, msgsz);
	}
	json_object_put(o);
	if (res == DDNS_OK)
		snprintf(msg, msgsz, "good %s", x->addr);
	return res;
}

static enum ddns_outcome update_cloudflare(struct update_ctx *x, char *msg, size_t msgsz)
{
	char zid[80], rid[80], content[64];
	enum ddns_outcome o;
	bool found;

	o = cf_find_zone(x, zid, sizeof(zid), msg, msgsz);
	if (o != DDNS_OK)
		return o;
	if (ddns_cf_records_url(x->c->server, zid, x->c->fqdn, x->url, sizeof(x->url))) {
		snprintf(msg, msgsz, "cloudflare URL too long");
		return DDNS_PERMFAIL;
	}
	o = cf_list(x, &found, rid, sizeof(rid), content, sizeof(content), msg, msgsz);
	if (o != DDNS_OK)
		return o;
	if (!found) {
		snprintf(msg, msgsz, "nohost (no A record %s in the zone)", x->c->fqdn);
		return DDNS_PERMFAIL;
	}
	if (strcmp(content, x->addr) == 0) {
		snprintf(msg, msgsz, "nochg %s", x->addr);
		return DDNS_OK;
	}
	return cf_patch(x, zid, rid, msg, msgsz);
}

/* Send one update of c with addr. msg gets a redacted one-line result. */
static enum ddns_outcome update_once(const struct cfg_ddns *c, struct in_addr addr,
				     atomic_bool *stop, char *msg, size_t msgsz)
{
	struct update_ctx *x = calloc(1, sizeof(*x));
	struct http_reply *r = malloc(sizeof(*r));
	char a[INET_ADDRSTRLEN];
	enum ddns_outcome o = DDNS_TEMPFAIL;

	snprintf(msg, msgsz, "out of memory");
	if (!x || !r)
		goto out;
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	*x = (struct update_ctx){ .c = c, .addr = a, .stop = stop, .r = r };
	if (load_secret(x, msg, msgsz)) {
		o = DDNS_PERMFAIL;
		goto out;
	}
	if (c->provider == DDNS_CLOUDFLARE)
		o = update_cloudflare(x, msg, msgsz);
	else if (c->provider == DDNS_CUSTOM)
		o = update_custom(x, msg, msgsz);
	else
		o = update_dyndns2(x, msg, msgsz);
	ddns_redact(msg, x->secret);
out:
	if (x)
		memset(x, 0, sizeof(*x));
	free(x);
	free(r);
	return o;
}

/* ---- files ----------------------------------------------------------------- */

static void state_path(const char *state_dir, const char *fqdn, char *out, size_t sz)
{
	snprintf(out, sz, "%s/" STATE_DDNS_DIR "/%s", state_dir, fqdn);
}

/* What <state_dir>/ddns/<fqdn> says of c: all zero if nothing, or if it
 * was written for another destination. */
static void state_load(const char *state_dir, const struct cfg_ddns *c, struct ddns_state *st)
{
	char path[CFG_PATH_MAX + 300], buf[2 * DDNS_MSG_MAX + 256];
	size_t n;
	FILE *f;

	memset(st, 0, sizeof(*st));
	if (!ddns_fqdn_ok(c->fqdn))
		return;
	state_path(state_dir, c->fqdn, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	ddns_state_parse(buf, c, st);
	fclose(f);
}

static void state_save(const char *state_dir, const struct cfg_ddns *c, const struct ddns_state *st)
{
	char dir[CFG_PATH_MAX + 8], path[CFG_PATH_MAX + 300], buf[2 * DDNS_MSG_MAX + 256];

	if (!ddns_fqdn_ok(c->fqdn))
		return;
	snprintf(dir, sizeof(dir), "%s/" STATE_DDNS_DIR, state_dir);
	state_path(state_dir, c->fqdn, path, sizeof(path));
	if (ddns_state_format(buf, sizeof(buf), c, st) || run_mkdir_p(dir, 0700) ||
	    run_write_atomic(path, buf, strlen(buf)))
		dlog_at(LOG_ERR, "%s: cannot save state to %s: %s", c->fqdn, path, strerror(errno));
}

static struct ddns_file_id file_id(const struct stat *st)
{
	return (struct ddns_file_id){ .ino = st->st_ino, .size = st->st_size,
				      .mtime_sec = st->st_mtim.tv_sec,
				      .mtime_nsec = st->st_mtim.tv_nsec };
}

/* The persisted part of an entry. */
static void entry_state(const struct ddns_entry *e, struct ddns_state *st)
{
	memset(st, 0, sizeof(*st));
	st->sent = e->s.sent;
	st->sent_time = e->s.sent_time;
	st->failures = e->s.failures;
	st->retry_at = e->s.retry_at;
	st->stopped = e->s.stopped;
	st->secret = file_id(&e->secret_st);
	st->last_time = e->last_time;
	snprintf(st->last_result, sizeof(st->last_result), "%s", e->last_result);
}

/* An entry as a restart finds it. A permanent failure holds only while the
 * secret file is the one it was answered to (the rule ddns_reload()
 * applies): e->secret_st must be the file as it is now. */
static void entry_restore(struct ddns_entry *e, const struct ddns_state *st)
{
	struct ddns_file_id now = file_id(&e->secret_st);

	e->s.sent = st->sent;
	e->s.sent_time = st->sent_time;
	e->s.failures = st->failures;
	e->s.retry_at = st->retry_at;
	e->s.stopped = st->stopped && !memcmp(&now, &st->secret, sizeof(now));
	e->last_time = st->last_time;
	snprintf(e->last_result, sizeof(e->last_result), "%s", st->last_result);
	if (st->stopped && !e->s.stopped)
		dlog("%s: its secret file changed since the permanent failure (%s): trying again",
		     e->cfg.fqdn, st->last_result);
}

static const char *state_name(const struct ddns_sched *s)
{
	return s->stopped ? "stopped" : s->failures ? "retrying" : "ok";
}

static struct json_object *status_entry(const struct ddns_entry *e)
{
	struct json_object *o = json_object_new_object();
	char a[INET_ADDRSTRLEN] = "";
	time_t at = 0;

	if (!o)
		return NULL;
	if (e->s.sent.s_addr)
		inet_ntop(AF_INET, &e->s.sent, a, sizeof(a));
	if (!ddns_due(&e->s, &at))
		at = 0;
	json_object_object_add(o, "name", json_object_new_string(e->cfg.fqdn));
	json_object_object_add(o, "wan", json_object_new_string(e->cfg.wan));
	if (e->cfg.failover[0])
		json_object_object_add(o, "failover", json_object_new_string(e->cfg.failover));
	json_object_object_add(o, "provider", json_object_new_string(provider_name(e->cfg.provider)));
	json_object_object_add(o, "last_address", json_object_new_string(a));
	json_object_object_add(o, "last_result", json_object_new_string(e->last_result));
	json_object_object_add(o, "last_time", json_object_new_int64(e->last_time));
	json_object_object_add(o, "next_attempt", json_object_new_int64(at));
	json_object_object_add(o, "state", json_object_new_string(state_name(&e->s)));
	return o;
}

static void status_write(const char *run_dir, const struct ddns_entry *e, int n)
{
	struct json_object *arr = json_object_new_array();
	char path[CFG_PATH_MAX + 16];
	const char *text;

	if (!arr)
		return;
	for (int i = 0; i < n; i++)
		json_object_array_add(arr, status_entry(&e[i]));
	text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY);
	if (run_path(path, sizeof(path), run_dir, RUN_DDNS_FILE) || run_mkdir_p(run_dir, 0755) ||
	    run_write_atomic(path, text, strlen(text)))
		dlog_at(LOG_ERR, "cannot write %s: %s", path, strerror(errno));
	json_object_put(arr);
}

/* ---- the worker ------------------------------------------------------------ */

static int wan_find(const struct ddns *d, const char *ifname)
{
	for (int i = 0; i < d->nwan; i++)
		if (strcmp(d->wan[i].ifname, ifname) == 0)
			return i;
	return -1;
}

/* The WAN's slot, added if new; -1 if the table is full. */
static int wan_get(struct ddns *d, const char *ifname)
{
	int i = wan_find(d, ifname);

	if (i < 0 && d->nwan < CFG_MAX_IFACES) {
		i = d->nwan++;
		snprintf(d->wan[i].ifname, sizeof(d->wan[i].ifname), "%s", ifname);
		d->wan[i].addr.s_addr = 0;
		d->wan[i].down = false;
	}
	return i;
}

/* The address entry c publishes: its WAN's own, or with `failover W`,
 * W's while its own WAN is down and W is up with an address. */
static struct in_addr entry_addr(const struct ddns *d, const struct cfg_ddns *c)
{
	int own = wan_find(d, c->wan), alt;
	struct in_addr none = { 0 };

	if (own < 0)
		return none;
	if (c->failover[0] && d->wan[own].down) {
		alt = wan_find(d, c->failover);
		if (alt >= 0 && !d->wan[alt].down && d->wan[alt].addr.s_addr)
			return d->wan[alt].addr;
	}
	return d->wan[own].addr;
}

/* Every entry's wanted address after a WAN changed; with lock held. */
static void entries_follow(struct ddns *d)
{
	for (int i = 0; i < d->n; i++)
		d->e[i].s.want = entry_addr(d, &d->e[i].cfg);
	d->dirty = true;
	pthread_cond_signal(&d->wake);
}

/* The entry due first; *wake = when to look again if none is due now. */
static struct ddns_entry *pick_due(struct ddns *d, time_t now, time_t *wake)
{
	struct ddns_entry *best = NULL;
	time_t best_at = 0;

	*wake = now + DDNS_MAX_SLEEP;
	for (int i = 0; i < d->n; i++) {
		time_t at;

		if (!ddns_due(&d->e[i].s, &at))
			continue;
		if (at > now) {
			if (at < *wake)
				*wake = at;
		} else if (!best || at < best_at) {
			best = &d->e[i];
			best_at = at;
		}
	}
	return best;
}

static struct ddns_entry *find_id(struct ddns *d, unsigned id)
{
	for (int i = 0; i < d->n; i++)
		if (d->e[i].id == id)
			return &d->e[i];
	return NULL;
}

/* What an answer does to an entry (secret_st: the secret file as the
 * answer found it, kept for a permanent failure). */
static void apply_result(struct ddns_entry *e, struct in_addr addr, enum ddns_outcome o,
			 const char *msg, time_t now, const struct stat *secret_st)
{
	snprintf(e->last_result, sizeof(e->last_result), "%s", msg);
	e->last_time = now;
	e->failures_total += o != DDNS_OK;
	if (o == DDNS_OK) {
		e->s.sent = addr;
		e->s.sent_time = now;
		e->s.failures = 0;
		e->s.retry_at = 0;
		e->s.stopped = false;
	} else if (o == DDNS_TEMPFAIL) {
		e->s.failures++;
		e->s.retry_at = now + ddns_backoff(e->s.failures);
	} else {
		e->s.stopped = true;
		e->s.failures = 0;
		e->s.retry_at = 0;
		e->secret_st = *secret_st;
	}
}

static void log_result(const struct ddns_entry *e, enum ddns_outcome o, const char *msg)
{
	if (o == DDNS_OK)
		dlog("%s (%s on %s): %s", e->cfg.fqdn, provider_name(e->cfg.provider),
		     e->cfg.wan, msg);
	else if (o == DDNS_TEMPFAIL)
		dlog_at(LOG_WARNING, "%s (%s on %s): update failed: %s; retry in %u s", e->cfg.fqdn,
		     provider_name(e->cfg.provider), e->cfg.wan, msg, ddns_backoff(e->s.failures));
	else
		dlog_at(LOG_ERR, "%s (%s on %s): permanent failure: %s; no more updates until its "
		     "configuration or secret file changes", e->cfg.fqdn,
		     provider_name(e->cfg.provider), e->cfg.wan, msg);
}

static void timed_wait(struct ddns *d, time_t now, time_t wake)
{
	struct timespec ts;
	time_t secs = wake > now ? wake - now : 0;

	if (secs > DDNS_MAX_SLEEP)
		secs = DDNS_MAX_SLEEP;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += secs;
	pthread_cond_timedwait(&d->wake, &d->lock, &ts);
}

/* Write the status outside the lock from a snapshot. Called with lock held. */
static void flush_status(struct ddns *d)
{
	char run_dir[CFG_PATH_MAX];
	int n = d->n;

	if (!d->dirty)
		return;
	d->dirty = false;
	memcpy(d->snap, d->e, sizeof(d->e[0]) * (size_t)n);
	memcpy(run_dir, d->run_dir, sizeof(run_dir));
	pthread_mutex_unlock(&d->lock);
	status_write(run_dir, d->snap, n);
	pthread_mutex_lock(&d->lock);
}

static void secret_stat(const struct cfg_ddns *c, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (secret_path(c)[0])
		stat(secret_path(c), st);
}

static bool same_file_version(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Run the update of e with the lock released; lock held again on return.
 * The answer is applied to a copy and saved to the state file before the
 * entry takes it: a restart right after still knows it (a badauth is not
 * sent again, a backoff goes on). A transfer aborted because the daemon
 * stops is no answer: nothing is saved or applied for it.
 */
static void run_update(struct ddns *d, struct ddns_entry *e)
{
	struct ddns_entry *r = malloc(sizeof(*r));
	struct in_addr addr = e->s.want;
	char state_dir[CFG_PATH_MAX], msg[DDNS_MSG_MAX];
	unsigned id = e->id;
	enum ddns_outcome o;
	struct stat st;
	bool aborted, other;
	int own;

	if (!r) {
		dlog("%s: out of memory", e->cfg.fqdn);
		return;
	}
	*r = *e;
	memcpy(state_dir, d->state_dir, sizeof(state_dir));
	own = wan_find(d, e->cfg.wan);
	other = e->cfg.failover[0] && own >= 0 && d->wan[own].down &&
		addr.s_addr != d->wan[own].addr.s_addr;
	pthread_mutex_unlock(&d->lock);
	if (other) {
		char a[INET_ADDRSTRLEN];

		dlog("%s: %s is down: sending %s's address %s", r->cfg.fqdn, r->cfg.wan,
		     r->cfg.failover, inet_ntop(AF_INET, &addr, a, sizeof(a)));
	}
	o = update_once(&r->cfg, addr, &d->stop, msg, sizeof(msg));
	aborted = o != DDNS_OK && atomic_load(&d->stop);
	if (!aborted) {
		secret_stat(&r->cfg, &st);	/* a later change of the file restarts */
		apply_result(r, addr, o, msg, time(NULL), &st);
		log_result(r, o, msg);
		{
			struct ddns_state ps;

			entry_state(r, &ps);
			state_save(state_dir, &r->cfg, &ps);
		}
	}
	pthread_mutex_lock(&d->lock);
	e = find_id(d, id);
	if (e && !aborted && !atomic_load(&d->stop)) {	/* else reloaded away meanwhile */
		e->s.sent = r->s.sent;
		e->s.sent_time = r->s.sent_time;
		e->s.failures = r->s.failures;
		e->s.retry_at = r->s.retry_at;
		e->s.stopped = r->s.stopped;
		e->secret_st = r->secret_st;
		e->last_time = r->last_time;
		e->failures_total += o != DDNS_OK;	/* r's copy counted it too */
		memcpy(e->last_result, r->last_result, sizeof(e->last_result));
		d->dirty = true;
	}
	free(r);
}

static void *worker(void *arg)
{
	struct ddns *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!atomic_load(&d->stop)) {
		time_t now = time(NULL), wake;
		struct ddns_entry *e;

		flush_status(d);
		if (atomic_load(&d->stop))
			break;
		e = pick_due(d, now, &wake);
		if (e)
			run_update(d, e);
		else
			timed_wait(d, now, wake);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- the public API ---------------------------------------------------------- */

/* Fresh entries for cfg, persisted state loaded (no lock needed). */
static int fresh_entries(const struct xdpnat_config *cfg, struct ddns_entry *out)
{
	int n = 0;

	for (int i = 0; i < cfg->nddns && i < CFG_MAX_DDNS; i++) {
		struct ddns_entry *e = &out[n++];

		struct ddns_state st;

		memset(e, 0, sizeof(*e));
		e->cfg = cfg->ddns[i];
		e->s.interval = e->cfg.interval;
		secret_stat(&e->cfg, &e->secret_st);
		state_load(cfg->state_dir, &e->cfg, &st);
		entry_restore(e, &st);
		if (!ddns_fqdn_ok(e->cfg.fqdn))
			dlog("%s: name not usable as a state file name; its last address is "
			     "not kept across restarts", e->cfg.fqdn);
	}
	return n;
}

/* Keep the state of unchanged entries; with lock held. */
static void merge_entries(struct ddns *d, struct ddns_entry *fresh, int n)
{
	bool used[CFG_MAX_DDNS] = { false };

	for (int i = 0; i < n; i++) {
		struct ddns_entry *f = &fresh[i];
		int j;

		for (j = 0; j < d->n; j++)
			if (!used[j] && ddns_cfg_equal(&d->e[j].cfg, &f->cfg))
				break;
		if (j < d->n && !(d->e[j].s.stopped &&
				  !same_file_version(&d->e[j].secret_st, &f->secret_st))) {
			int line = f->cfg.line;

			used[j] = true;
			*f = d->e[j];
			f->cfg.line = line;
			continue;
		}
		f->id = ++d->next_id;
		f->s.want = entry_addr(d, &f->cfg);
		if (!f->last_result[0])		/* else what the state file kept */
			snprintf(f->last_result, sizeof(f->last_result), "not sent yet");
	}
	memcpy(d->e, fresh, sizeof(d->e[0]) * (size_t)n);
	d->n = n;
	for (int i = 0; i < n; i++)	/* kept entries too: a WAN may be down */
		d->e[i].s.want = entry_addr(d, &d->e[i].cfg);
	d->dirty = true;
}

struct ddns *ddns_start(const struct xdpnat_config *cfg)
{
	struct ddns *d;
	pthread_condattr_t ca;
	struct ddns_entry *fresh;
	int n;

	if (cfg->nddns <= 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	fresh = calloc(CFG_MAX_DDNS, sizeof(*fresh));
	if (!d || !fresh) {
		dlog("cannot start: out of memory");
		free(d);
		free(fresh);
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dlog("cannot start: curl_global_init failed");
		free(d);
		free(fresh);
		return NULL;
	}
	snprintf(d->state_dir, sizeof(d->state_dir), "%s", cfg->state_dir);
	snprintf(d->run_dir, sizeof(d->run_dir), "%s", cfg->run_dir);
	n = fresh_entries(cfg, fresh);
	merge_entries(d, fresh, n);
	free(fresh);
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&d->thread, NULL, worker, d)) {
		dlog("cannot start the worker thread");
		pthread_cond_destroy(&d->wake);
		pthread_mutex_destroy(&d->lock);
		free(d);
		curl_global_cleanup();
		return NULL;
	}
	return d;
}

void ddns_address_changed(struct ddns *d, const char *wan_ifname, struct in_addr addr)
{
	int i;

	if (!d || !wan_ifname)
		return;
	pthread_mutex_lock(&d->lock);
	i = wan_get(d, wan_ifname);
	if (i >= 0)
		d->wan[i].addr = addr;
	entries_follow(d);
	pthread_mutex_unlock(&d->lock);
}

void ddns_wan_state(struct ddns *d, const char *wan_ifname, bool up)
{
	int i;

	if (!d || !wan_ifname)
		return;
	pthread_mutex_lock(&d->lock);
	i = wan_get(d, wan_ifname);
	if (i >= 0 && d->wan[i].down != !up) {
		d->wan[i].down = !up;
		entries_follow(d);
	}
	pthread_mutex_unlock(&d->lock);
}

void ddns_reload(struct ddns *d, const struct xdpnat_config *cfg)
{
	struct ddns_entry *fresh;
	int n;

	if (!d)
		return;
	fresh = calloc(CFG_MAX_DDNS, sizeof(*fresh));
	if (!fresh) {
		dlog("reload: out of memory, keeping the old configuration");
		return;
	}
	n = fresh_entries(cfg, fresh);	/* file reads: before taking the lock */
	pthread_mutex_lock(&d->lock);
	snprintf(d->state_dir, sizeof(d->state_dir), "%s", cfg->state_dir);
	snprintf(d->run_dir, sizeof(d->run_dir), "%s", cfg->run_dir);
	merge_entries(d, fresh, n);
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	free(fresh);
}

void ddns_stop(struct ddns *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	atomic_store(&d->stop, true);
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
	curl_global_cleanup();		/* pairs with ddns_start's init */
}

/* ---- xdpnat ddns update ------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: xdpnat ddns update [-c FILE] --wan IF --address A [--force]\n"
		   "  Update every ddns name bound to IF with address A now, once.\n"
		   "  IF is the config's wan name (the interface need not exist here).\n"
		   "  Without --force nothing is sent for a name whose last update\n"
		   "  (kept in STATE-DIR/ddns/NAME) already sent A within its interval.\n"
		   "  Exit: 0 updated or nothing to send, 1 temporary failure,\n"
		   "  3 permanent failure, 2 usage or configuration error.\n");
}

struct update_args {
	const char *conf, *wan;
	struct in_addr addr;
	bool force;
};

static int parse_args(int argc, char **argv, struct update_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "wan", required_argument, NULL, 'w' },
		{ "address", required_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*a = (struct update_args){ .conf = "/etc/xdpnat.conf" };
	optind = 0;
	while ((o = getopt_long(argc, argv, "c:w:a:fh", opts, NULL)) != -1) {
		switch (o) {
		case 'c': a->conf = optarg; break;
		case 'w': a->wan = optarg; break;
		case 'f': a->force = true; break;
		case 'h': usage(stdout); exit(0);
		case 'a':
			if (inet_pton(AF_INET, optarg, &a->addr) != 1 || a->addr.s_addr == 0) {
				fprintf(stderr, "xdpnat ddns: bad --address %s\n", optarg);
				return -1;
			}
			break;
		default: return -1;
		}
	}
	if (optind != argc || !a->wan || a->addr.s_addr == 0) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static const char *utc(time_t t, char *buf, size_t sz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/*
 * One name: 0 updated or skipped, 1 temporary, 3 permanent failure. A
 * person asked: a stop or a backoff the state file holds does not keep
 * the request from going out, but its answer is saved as the daemon's
 * would be (a daemon started later goes on from it).
 */
static int update_one_name(const struct xdpnat_config *cfg, const struct cfg_ddns *c,
			   const struct update_args *a)
{
	struct ddns_entry *e = calloc(1, sizeof(*e));
	struct ddns_sched s = { .want = a->addr, .interval = c->interval };
	char msg[DDNS_MSG_MAX], ad[INET_ADDRSTRLEN], t1[32], t2[32];
	struct ddns_state st;
	enum ddns_outcome o;
	time_t at = 0, now = time(NULL);
	struct stat sst;

	if (!e)
		return 1;
	inet_ntop(AF_INET, &a->addr, ad, sizeof(ad));
	state_load(cfg->state_dir, c, &st);
	e->cfg = *c;
	secret_stat(c, &e->secret_st);
	entry_restore(e, &st);
	s.sent = st.sent;
	s.sent_time = st.sent_time;
	if (!a->force && (!ddns_due(&s, &at) || at > now)) {
		free(e);
		printf("%s (%s on %s): not sent: %s was sent at %s, next forced refresh at %s "
		       "(--force sends now)\n", c->fqdn, provider_name(c->provider), c->wan, ad,
		       utc(s.sent_time, t1, sizeof(t1)), utc(at, t2, sizeof(t2)));
		return 0;
	}
	o = update_once(c, a->addr, NULL, msg, sizeof(msg));
	secret_stat(c, &sst);
	apply_result(e, a->addr, o, msg, now, &sst);
	entry_state(e, &st);
	state_save(cfg->state_dir, c, &st);
	free(e);
	if (o == DDNS_OK) {
		printf("%s (%s on %s): %s\n", c->fqdn, provider_name(c->provider), c->wan, msg);
		return 0;
	}
	printf("%s (%s on %s): %s failure: %s\n", c->fqdn, provider_name(c->provider), c->wan,
	       o == DDNS_PERMFAIL ? "permanent" : "temporary", msg);
	return o == DDNS_PERMFAIL ? 3 : 1;
}

static int run_updates(const struct xdpnat_config *cfg, const struct update_args *a)
{
	int rc = 0, n = 0;

	for (int i = 0; i < cfg->nddns; i++) {
		int r;

		if (strcmp(cfg->ddns[i].wan, a->wan) != 0)
			continue;
		n++;
		r = update_one_name(cfg, &cfg->ddns[i], a);
		if (r > rc)
			rc = r;
	}
	if (n == 0) {
		fprintf(stderr, "xdpnat ddns: no ddns name is bound to %s in %s\n", a->wan, a->conf);
		return 2;
	}
	return rc;
}

int ddns_main(int argc, char **argv)
{
	struct xdpnat_config *cfg;
	struct update_args a;
	int rc;

	if (argc > 1 && strcmp(argv[1], "ddns") == 0)	/* called with the whole argv */
		argc--, argv++;
	if (argc < 2 || strcmp(argv[1], "update") != 0) {
		usage(argc > 1 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (parse_args(argc - 1, argv + 1, &a))
		return 2;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return 2;
	cfg_init(cfg);
	if (cfg_parse_file(cfg, a.conf, stderr) != 0) {
		free(cfg);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(cfg);
		return 2;
	}
	rc = run_updates(cfg, &a);
	curl_global_cleanup();
	free(cfg);
	return rc;
}

int ddns_snapshot(struct ddns *d, struct ddns_name_state *out, int max)
{
	int n = 0;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->n && n < max; i++, n++) {
		const struct ddns_entry *e = &d->e[i];
		struct ddns_name_state *o = &out[n];

		memset(o, 0, sizeof(*o));
		snprintf(o->fqdn, sizeof(o->fqdn), "%s", e->cfg.fqdn);
		snprintf(o->wan, sizeof(o->wan), "%s", e->cfg.wan);
		o->provider = e->cfg.provider;
		o->answered = e->last_time != 0;
		o->last_ok = o->answered && !e->s.stopped && !e->s.failures;
		o->stopped = e->s.stopped;
		o->last_time = e->last_time;
		o->last_success = e->s.sent_time;
		o->failures_total = e->failures_total;
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}
