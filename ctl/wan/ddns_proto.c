/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ddns_proto.c - the pure parts of DDNS updates: reply parsing, URL
 * building, backoff, scheduling and the persisted-state format. No
 * network, no threads; the unit tests drive all of it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "wan/ddns.h"

/* ---- dyndns2 / oray replies ---------------------------------------- */

static const char *const perm_codes[] = {
	"badauth", "notfqdn", "nohost", "!donator", "abuse", "badagent",
	"numhost", "!yours",
};
static const char *const temp_codes[] = { "911", "dnserr" };

static bool in_list(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(w, list[i]) == 0)
			return true;
	return false;
}

/* Printable copy of at most 40 bytes of untrusted text, for messages. */
static void printable(char *out, size_t sz, const char *s, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < len && i < 40 && j + 1 < sz; i++)
		out[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (sz)
		out[j] = '\0';
}

/* First line of body, leading and trailing blanks removed. */
static size_t first_line(const char *body, size_t len, const char **start)
{
	size_t i = 0, end;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	end = i;
	while (end < len && body[end] != '\n' && body[end] != '\r')
		end++;
	while (end > i && isspace((unsigned char)body[end - 1]))
		end--;
	*start = body + i;
	return end - i;
}

static enum ddns_outcome garbage(const char *line, size_t n, char *msg, size_t msgsz)
{
	char p[48];

	if (n == 0) {
		snprintf(msg, msgsz, "empty reply");
	} else {
		printable(p, sizeof(p), line, n);
		snprintf(msg, msgsz, "unexpected reply \"%s\"", p);
	}
	return DDNS_TEMPFAIL;
}

enum ddns_outcome ddns_parse_reply(const char *body, size_t len, bool *known,
				   char *msg, size_t msgsz)
{
	const char *line;
	size_t n = first_line(body, len, &line), wl = 0;
	char word[16], rest[64];
	struct in_addr a;

	*known = false;
	while (wl < n && !isspace((unsigned char)line[wl]))
		wl++;
	if (n == 0 || wl >= sizeof(word) || memchr(line, '\0', n))
		return garbage(line, n, msg, msgsz);
	memcpy(word, line, wl);
	word[wl] = '\0';
	while (wl < n && isspace((unsigned char)line[wl]))
		wl++;
	if (n - wl >= sizeof(rest))
		return garbage(line, n, msg, msgsz);
	memcpy(rest, line + wl, n - wl);
	rest[n - wl] = '\0';

	if (strcasecmp(word, "good") == 0 || strcasecmp(word, "nochg") == 0) {
		if (rest[0] && inet_pton(AF_INET, rest, &a) != 1)
			return garbage(line, n, msg, msgsz);
		*known = true;
		snprintf(msg, msgsz, "%s%s%s", word, rest[0] ? " " : "", rest);
		return DDNS_OK;
	}
	if (in_list(word, perm_codes, sizeof(perm_codes) / sizeof(perm_codes[0]))) {
		*known = true;
		snprintf(msg, msgsz, "%s", word);
		return DDNS_PERMFAIL;
	}
	if (in_list(word, temp_codes, sizeof(temp_codes) / sizeof(temp_codes[0]))) {
		*known = true;
		snprintf(msg, msgsz, "%s", word);
		return DDNS_TEMPFAIL;
	}
	return garbage(line, n, msg, msgsz);
}

enum ddns_outcome ddns_classify(long http_status, const char *body, size_t len,
				bool custom, char *msg, size_t msgsz)
{
	bool known;
	enum ddns_outcome o = ddns_parse_reply(body, len, &known, msg, msgsz);

	if (http_status >= 200 && http_status < 300) {
		if (custom && !known) {
			snprintf(msg, msgsz, "HTTP %ld", http_status);
			return DDNS_OK;
		}
		return o;
	}
	if (known && o != DDNS_OK)
		return o;
	if (http_status == 401 || http_status == 403) {
		snprintf(msg, msgsz, "HTTP %ld (authentication refused)", http_status);
		return DDNS_PERMFAIL;
	}
	snprintf(msg, msgsz, "HTTP %ld", http_status);
	if (http_status >= 400 && http_status < 500 && http_status != 408 && http_status != 429)
		return DDNS_PERMFAIL;
	return DDNS_TEMPFAIL;
}

unsigned ddns_backoff(unsigned failures)
{
	unsigned s = DDNS_BACKOFF_FIRST;

	if (failures == 0)
		return 0;
	for (unsigned i = 1; i < failures && s < DDNS_BACKOFF_MAX; i++)
		s *= 2;
	return s < DDNS_BACKOFF_MAX ? s : DDNS_BACKOFF_MAX;
}

/* ---- URLs ---------------------------------------------------------- */

/* Append s (escaped when esc) to out at *pos; -1 if it does not fit. */
static int append(char *out, size_t outsz, size_t *pos, const char *s, bool esc)
{
	char *e = esc ? curl_easy_escape(NULL, s, 0) : NULL;
	const char *v = esc ? e : s;
	size_t n;

	if (!v)
		return -1;
	n = strlen(v);
	if (*pos + n >= outsz) {
		curl_free(e);
		return -1;
	}
	memcpy(out + *pos, v, n);
	*pos += n;
	out[*pos] = '\0';
	curl_free(e);
	return 0;
}

int ddns_expand_url(const char *tmpl, const char *host, const char *addr,
		    const char *user, const char *password, char *out, size_t outsz)
{
	static const char *const names[] = { "{host}", "{addr}", "{user}", "{password}" };
	const char *vals[] = { host, addr, user, password };
	size_t pos = 0;
	char one[2] = "";

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	while (*tmpl) {
		size_t i;

		for (i = 0; i < 4; i++)
			if (strncmp(tmpl, names[i], strlen(names[i])) == 0)
				break;
		if (i < 4) {
			if (append(out, outsz, &pos, vals[i] ? vals[i] : "", true))
				return -1;
			tmpl += strlen(names[i]);
			continue;
		}
		one[0] = *tmpl++;
		if (append(out, outsz, &pos, one, false))
			return -1;
	}
	return 0;
}

const char *ddns_default_server(enum cfg_ddns_provider p)
{
	switch (p) {
	case DDNS_DYNDNS2:	return "https://members.dyndns.org";
	case DDNS_ORAY:		return "https://ddns.oray.com";
	case DDNS_NOIP:		return "https://dynupdate.no-ip.com";
	case DDNS_CLOUDFLARE:	return "https://api.cloudflare.com";
	case DDNS_CUSTOM:	break;
	}
	return "";
}

/* "server" without a trailing slash, "https://" added if it has no scheme. */
static int base(const char *server, enum cfg_ddns_provider p, char *out, size_t outsz)
{
	const char *s = server && server[0] ? server : ddns_default_server(p);
	size_t pos = 0, n;

	out[0] = '\0';
	if (!strstr(s, "://") && append(out, outsz, &pos, "https://", false))
		return -1;
	if (append(out, outsz, &pos, s, false))
		return -1;
	n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

/* base + pieces; odd-numbered pieces (1, 3, ...) are escaped. */
static int build(char *out, size_t outsz, enum cfg_ddns_provider p, const char *server,
		 const char *const *pieces, size_t n)
{
	size_t pos;

	if (base(server, p, out, outsz))
		return -1;
	pos = strlen(out);
	for (size_t i = 0; i < n; i++)
		if (append(out, outsz, &pos, pieces[i], i % 2 == 1))
			return -1;
	return 0;
}

int ddns_update_url(enum cfg_ddns_provider p, const char *server, const char *fqdn,
		    const char *addr, char *out, size_t outsz)
{
	const char *path = p == DDNS_ORAY ? "/ph/update?hostname=" : "/nic/update?hostname=";
	const char *pieces[] = { path, fqdn, "&myip=", addr };

	if (p != DDNS_DYNDNS2 && p != DDNS_NOIP && p != DDNS_ORAY)
		return -1;
	return build(out, outsz, p, server, pieces, 4);
}

int ddns_cf_zone_url(const char *server, const char *zone, char *out, size_t outsz)
{
	const char *pieces[] = { "/client/v4/zones?name=", zone };

	return build(out, outsz, DDNS_CLOUDFLARE, server, pieces, 2);
}

int ddns_cf_records_url(const char *server, const char *zone_id, const char *fqdn,
			char *out, size_t outsz)
{
	const char *pieces[] = { "/client/v4/zones/", zone_id,
				 "/dns_records?type=A&name=", fqdn };

	return build(out, outsz, DDNS_CLOUDFLARE, server, pieces, 4);
}

int ddns_cf_record_url(const char *server, const char *zone_id, const char *rec_id,
		       char *out, size_t outsz)
{
	const char *pieces[] = { "/client/v4/zones/", zone_id, "/dns_records/", rec_id };

	return build(out, outsz, DDNS_CLOUDFLARE, server, pieces, 4);
}

const char *ddns_parent_zone(const char *name)
{
	const char *dot = strchr(name, '.');

	if (!dot || !strchr(dot + 1, '.'))
		return NULL;
	return dot + 1;
}

/* ---- Cloudflare JSON ------------------------------------------------- */

static struct json_object *parse_json(const char *body, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok || len > DDNS_REPLY_MAX || memchr(body, '\0', len)) {
		if (tok)
			json_tokener_free(tok);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* msg = "cloudflare: CODE MESSAGE" from errors[0]. */
static void cf_error(struct json_object *root, char *msg, size_t msgsz)
{
	struct json_object *errs, *e0, *v;
	char text[48] = "";
	int64_t code = 0;

	if (json_object_object_get_ex(root, "errors", &errs) &&
	    json_object_is_type(errs, json_type_array) &&
	    (e0 = json_object_array_get_idx(errs, 0))) {
		if (json_object_object_get_ex(e0, "code", &v))
			code = json_object_get_int64(v);
		if (json_object_object_get_ex(e0, "message", &v) &&
		    json_object_is_type(v, json_type_string))
			printable(text, sizeof(text), json_object_get_string(v),
				  (size_t)json_object_get_string_len(v));
	}
	snprintf(msg, msgsz, "cloudflare error %" PRId64 " %s", code, text);
}

/* The API's success flag: 1 true, 0 false, -1 absent or not a boolean. */
static int cf_success(struct json_object *root)
{
	struct json_object *v;

	if (!json_object_object_get_ex(root, "success", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v) ? 1 : 0;
}

static bool id_ok(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s))
			return false;
	return true;
}

static bool copy_string(struct json_object *obj, const char *key, char *out, size_t sz)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	if (strlen(s) >= sz)
		return false;
	strcpy(out, s);
	return true;
}

static enum ddns_outcome cf_first(struct json_object *root, bool *found, char *id, size_t idsz,
				  char *content, size_t csz, char *msg, size_t msgsz)
{
	struct json_object *res, *r0;

	if (!json_object_object_get_ex(root, "result", &res) ||
	    !json_object_is_type(res, json_type_array)) {
		snprintf(msg, msgsz, "cloudflare reply without a result list");
		return DDNS_TEMPFAIL;
	}
	r0 = json_object_array_get_idx(res, 0);
	*found = r0 != NULL;
	if (!r0)
		return DDNS_OK;
	if (!copy_string(r0, "id", id, idsz) || !id_ok(id) ||
	    (content && !copy_string(r0, "content", content, csz))) {
		snprintf(msg, msgsz, "cloudflare reply with a bad id or content");
		return DDNS_TEMPFAIL;
	}
	return DDNS_OK;
}

enum ddns_outcome ddns_cf_parse_list(const char *body, size_t len, bool *found,
				     char *id, size_t idsz, char *content, size_t csz,
				     char *msg, size_t msgsz)
{
	struct json_object *root = parse_json(body, len);
	enum ddns_outcome o;
	int ok;

	*found = false;
	if (!root)
		return garbage(body, len, msg, msgsz);
	ok = cf_success(root);
	if (ok == 1) {
		o = cf_first(root, found, id, idsz, content, csz, msg, msgsz);
	} else if (ok == 0) {
		cf_error(root, msg, msgsz);
		o = DDNS_PERMFAIL;
	} else {
		o = garbage(body, len, msg, msgsz);
	}
	json_object_put(root);
	return o;
}

enum ddns_outcome ddns_cf_parse_result(const char *body, size_t len, char *msg, size_t msgsz)
{
	struct json_object *root = parse_json(body, len);
	enum ddns_outcome o;
	int ok;

	if (!root)
		return garbage(body, len, msg, msgsz);
	ok = cf_success(root);
	if (ok == 1) {
		snprintf(msg, msgsz, "good");
		o = DDNS_OK;
	} else if (ok == 0) {
		cf_error(root, msg, msgsz);
		o = DDNS_PERMFAIL;
	} else {
		o = garbage(body, len, msg, msgsz);
	}
	json_object_put(root);
	return o;
}

/* ---- secrets ---------------------------------------------------------- */

int ddns_read_secret(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r;

	if (sz == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf + len, sz - len)) > 0 && len + (size_t)r < sz)
		len += (size_t)r;
	close(fd);
	if (r < 0)
		return -errno;
	if (r > 0) {		/* buffer full: too long */
		memset(buf, 0, sz);
		return -EFBIG;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0 || memchr(buf, '\n', len) || memchr(buf, '\r', len) ||
	    strlen(buf) != len) {
		memset(buf, 0, sz);
		return -EINVAL;
	}
	return 0;
}

static void replace_all(char *s, const char *needle)
{
	size_t n = strlen(needle), m = n < 3 ? n : 3;	/* never grow s */
	char *p = s;

	if (n == 0)
		return;
	while ((p = strstr(p, needle))) {
		memmove(p + m, p + n, strlen(p + n) + 1);
		memset(p, '*', m);
		p += m;
	}
}

void ddns_redact(char *s, const char *secret)
{
	char *e;

	if (!s || !secret || !secret[0])
		return;
	replace_all(s, secret);
	e = curl_easy_escape(NULL, secret, 0);
	if (e)
		replace_all(s, e);
	curl_free(e);
}

/* ---- scheduling and state ---------------------------------------------- */

bool ddns_due(const struct ddns_sched *s, time_t *at)
{
	if (s->stopped || s->want.s_addr == 0)
		return false;
	if (s->failures > 0) {
		*at = s->retry_at;
		return true;
	}
	if (s->want.s_addr != s->sent.s_addr || s->sent_time == 0) {
		*at = 0;
		return true;
	}
	if (s->interval == 0)
		return false;
	*at = s->sent_time + (time_t)s->interval;
	return true;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	do {			/* include the NUL: "ab","c" != "a","bc" */
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++);
	return h;
}

uint64_t ddns_fingerprint(const struct cfg_ddns *c)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h ^= (uint64_t)c->provider;
	h *= 0x100000001b3ULL;
	h = fnv(h, c->fqdn);
	h = fnv(h, c->server);
	h = fnv(h, c->user);
	h = fnv(h, c->url);
	return h;
}

uint64_t ddns_cfg_fingerprint(const struct cfg_ddns *c)
{
	uint64_t h = ddns_fingerprint(c);

	h = fnv(h, c->wan);
	h = fnv(h, c->password_file);
	h = fnv(h, c->token_file);
	h = fnv(h, c->ca_file);
	h ^= (uint64_t)c->interval;
	h *= 0x100000001b3ULL;
	return h;
}

int ddns_state_format(char *buf, size_t sz, const struct cfg_ddns *c, const struct ddns_state *st)
{
	char a[INET_ADDRSTRLEN], text[DDNS_MSG_MAX];
	int n;

	inet_ntop(AF_INET, &st->sent, a, sizeof(a));
	snprintf(text, sizeof(text), "%s", st->last_result);
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	n = snprintf(buf, sz, "%s %lld %016" PRIx64 "\n"
		     "v2 %016" PRIx64 " %u %lld %d %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64
		     " %lld %s\n",
		     a, (long long)(st->sent.s_addr ? st->sent_time : 0), ddns_fingerprint(c),
		     ddns_cfg_fingerprint(c), st->failures, (long long)st->retry_at,
		     st->stopped ? 1 : 0, st->secret.ino, st->secret.size, st->secret.mtime_sec,
		     st->secret.mtime_nsec, (long long)st->last_time, text);
	return n > 0 && (size_t)n < sz ? 0 : -1;
}

/* The second line, if there is one and it is of this very configuration. */
static void state_parse_v2(const char *line, const struct cfg_ddns *c, struct ddns_state *st)
{
	unsigned long long ino;
	long long retry, size, msec, mnsec, last;
	unsigned failures;
	uint64_t cfp;
	int stopped, off = -1;

	if (sscanf(line, "v2 %" SCNx64 " %u %lld %d %llu %lld %lld %lld %lld %n", &cfp, &failures,
		   &retry, &stopped, &ino, &size, &msec, &mnsec, &last, &off) != 9 || off < 0 ||
	    cfp != ddns_cfg_fingerprint(c) || (stopped != 0 && stopped != 1) ||
	    (failures && retry <= 0))
		return;
	st->failures = stopped ? 0 : failures;
	st->retry_at = st->failures ? (time_t)retry : 0;
	st->stopped = stopped;
	st->secret = (struct ddns_file_id){ .ino = ino, .size = size, .mtime_sec = msec,
					    .mtime_nsec = mnsec };
	st->last_time = last > 0 ? (time_t)last : 0;
	snprintf(st->last_result, sizeof(st->last_result), "%.*s",
		 (int)strcspn(line + off, "\r\n"), line + off);
}

int ddns_state_parse(const char *buf, const struct cfg_ddns *c, struct ddns_state *st)
{
	char a[INET_ADDRSTRLEN + 1];
	const char *nl;
	long long t;
	uint64_t f;

	memset(st, 0, sizeof(*st));
	if (sscanf(buf, "%16s %lld %" SCNx64, a, &t, &f) != 3 || f != ddns_fingerprint(c) ||
	    t < 0 || inet_pton(AF_INET, a, &st->sent) != 1 || (t == 0) != (st->sent.s_addr == 0)) {
		memset(st, 0, sizeof(*st));
		return -1;
	}
	st->sent_time = (time_t)t;
	nl = strchr(buf, '\n');
	if (nl)
		state_parse_v2(nl + 1, c, st);
	return 0;
}

bool ddns_cfg_equal(const struct cfg_ddns *a, const struct cfg_ddns *b)
{
	return strcmp(a->wan, b->wan) == 0 && a->provider == b->provider &&
	       strcmp(a->fqdn, b->fqdn) == 0 && strcmp(a->user, b->user) == 0 &&
	       strcmp(a->password_file, b->password_file) == 0 &&
	       strcmp(a->token_file, b->token_file) == 0 &&
	       strcmp(a->server, b->server) == 0 && strcmp(a->ca_file, b->ca_file) == 0 &&
	       strcmp(a->url, b->url) == 0 && a->interval == b->interval &&
	       strcmp(a->failover, b->failover) == 0;
}

bool ddns_fqdn_ok(const char *fqdn)
{
	if (!fqdn[0] || fqdn[0] == '.' || strlen(fqdn) > 253)
		return false;
	for (const char *p = fqdn; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	return true;
}
