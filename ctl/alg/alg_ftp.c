/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_ftp.c - the FTP ALG's protocol core. See alg_ftp.h for the API and
 * doc/readme/alg.md for the behaviour and the security rules.
 *
 * Model: each direction is a byte stream in original sequence space. New
 * bytes (seq == next_seq) are split into lines and parsed; bytes already
 * seen (retransmissions) are never parsed again but replayed through the
 * rewrite records, so they get exactly the bytes sent the first time;
 * bytes past a hole are dropped while inspecting, so the ALG sees every
 * byte once and in order. A rewrite is only made when the replaced text
 * lies in the segment being processed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "alg/alg_ftp.h"

enum alg_ftp_cmd_kind {
	CMD_OTHER = 0,
	CMD_PORT,
	CMD_EPRT,
	CMD_PASV,
	CMD_EPSV,
	CMD_AUTH,
};

/* A line as handed to the parsers: content without its CR LF. */
struct line {
	const char *p;
	size_t n;
	bool crlf;		/* ended in CR LF */
	bool overflow;		/* longer than ALG_FTP_LINE_MAX: p holds the start only */
	uint32_t seq;		/* original seq of p[0] */
};

struct plan {			/* a rewrite planned in the segment being processed */
	size_t off;		/* in data[] */
	uint16_t olen, nlen;
	uint8_t bytes[ALG_FTP_RW_MAX];
};

/* One call of alg_ftp_process. */
struct seg {
	struct alg_ftp_conn *c;
	enum alg_ftp_dir dir;
	uint32_t seq;		/* original seq of data[0] */
	const uint8_t *data;
	size_t len;
	size_t new_off;		/* data[new_off..] is new */
	size_t budget;		/* out bytes available for data[new_off..] */
	int32_t grow;		/* length change planned so far */
	unsigned n_plan;
	struct plan plan[ALG_FTP_SEG_RW_MAX];
	struct alg_ftp_result *res;
};

/* ---------------------------------------------------------------------
 * Sequence arithmetic and the rewrite records
 */

static int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static bool seq_ge(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) >= 0;
}

static bool seq_gt(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) > 0;
}

static int32_t map_delta_before(const struct alg_ftp_seqmap *m, unsigned i)
{
	return i ? m->rw[i - 1].delta : m->base_delta;
}

static int32_t map_delta_end(const struct alg_ftp_seqmap *m)
{
	return map_delta_before(m, m->n);
}

static void map_add(struct alg_ftp_seqmap *m, uint32_t seq, uint16_t olen,
		    const uint8_t *bytes, uint16_t nlen)
{
	struct alg_ftp_rw *rw;
	int32_t before;

	if (m->n == ALG_FTP_SEQMAP_MAX) {	/* merge the oldest into the base */
		m->base_delta = m->rw[0].delta;
		m->merged = true;
		m->merged_end = m->rw[0].seq + m->rw[0].olen;
		memmove(&m->rw[0], &m->rw[1], sizeof(m->rw[0]) * (m->n - 1));
		m->n--;
	}
	before = map_delta_end(m);
	rw = &m->rw[m->n++];
	memset(rw, 0, sizeof(*rw));
	rw->seq = seq;
	rw->olen = olen;
	rw->nlen = nlen;
	rw->delta = before + (int32_t)nlen - (int32_t)olen;
	memcpy(rw->bytes, bytes, nlen);
}

/* Original -> translated. A seq inside a replaced span maps to the span's
 * start, which keeps the mapping monotonic. */
static uint32_t map_seq_out(const struct alg_ftp_seqmap *m, uint32_t seq)
{
	unsigned i;

	for (i = m->n; i-- > 0;) {
		const struct alg_ftp_rw *rw = &m->rw[i];

		if (seq_ge(seq, rw->seq + rw->olen))
			return seq + (uint32_t)rw->delta;
		if (seq_gt(seq, rw->seq))
			return rw->seq + (uint32_t)map_delta_before(m, i);
	}
	return seq + (uint32_t)m->base_delta;
}

/* Translated -> original; inside a written span round down (up = false)
 * to its start or up (up = true) to its end. */
static uint32_t map_seq_in(const struct alg_ftp_seqmap *m, uint32_t tseq, bool up)
{
	unsigned i;

	for (i = m->n; i-- > 0;) {
		const struct alg_ftp_rw *rw = &m->rw[i];
		uint32_t tstart = rw->seq + (uint32_t)map_delta_before(m, i);

		if (seq_ge(tseq, tstart + rw->nlen))
			return tseq - (uint32_t)rw->delta;
		if (seq_gt(tseq, tstart))
			return up ? rw->seq + rw->olen : rw->seq;
	}
	return tseq - (uint32_t)m->base_delta;
}

static bool rw_overlaps(const struct alg_ftp_rw *rw, uint32_t seq, uint32_t end)
{
	return seq_gt(end, rw->seq) && seq_gt(rw->seq + rw->olen, seq);
}

static int replay_copy(uint8_t *out, size_t cap, size_t *o, const void *src, size_t n)
{
	if (n > cap - *o)
		return -1;
	if (n)
		memcpy(out + *o, src, n);
	*o += n;
	return 0;
}

/*
 * Old bytes data[0..n) at original seq: rewrite them as they were rewritten
 * the first time. Returns 0 if no rewrite touches them, 1 if written to out
 * (*olen bytes starting at translated *oseq, which is earlier than seq's
 * translation when a rewrite straddles the start), -1 if out is too small
 * or the bytes reach back before a forgotten rewrite (fail closed: a drop,
 * never bytes that differ from the first transmission).
 */
static int replay(const struct alg_ftp_seqmap *m, uint32_t seq, const uint8_t *data,
		  size_t n, uint8_t *out, size_t cap, size_t *olen, uint32_t *oseq)
{
	uint32_t end = seq + (uint32_t)n, pos = seq;
	size_t o = 0;
	unsigned i = 0;

	if (m->merged && seq_gt(m->merged_end, seq))
		return -1;
	while (i < m->n && !rw_overlaps(&m->rw[i], seq, end))
		i++;
	if (i == m->n)
		return 0;
	if (seq_gt(seq, m->rw[i].seq))
		pos = m->rw[i].seq;
	*oseq = map_seq_out(m, pos);
	for (; i < m->n && seq_gt(end, m->rw[i].seq); i++) {
		const struct alg_ftp_rw *rw = &m->rw[i];
		size_t k = (size_t)seq_diff(rw->seq, pos);

		if (k && replay_copy(out, cap, &o, data + seq_diff(pos, seq), k))
			return -1;
		if (replay_copy(out, cap, &o, rw->bytes, rw->nlen))
			return -1;
		pos = rw->seq + rw->olen;
	}
	if (seq_gt(end, pos) &&
	    replay_copy(out, cap, &o, data + seq_diff(pos, seq), (size_t)seq_diff(end, pos)))
		return -1;
	*olen = o;
	return 1;
}

/* ---------------------------------------------------------------------
 * Number parsers
 */

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* 1..maxdig decimal digits at s[*i], value <= max, not followed by a digit. */
static int parse_uint(const char *s, size_t n, size_t *i, unsigned maxdig,
		      unsigned max, unsigned *val)
{
	size_t j = *i;
	unsigned v = 0, d = 0;

	while (j < n && d < maxdig && is_digit(s[j])) {
		v = v * 10 + (unsigned)(s[j] - '0');
		j++;
		d++;
	}
	if (d == 0 || v > max || (j < n && is_digit(s[j])))
		return -1;
	*i = j;
	*val = v;
	return 0;
}

static uint32_t make_addr(const unsigned o[4])
{
	return htonl((uint32_t)o[0] << 24 | (uint32_t)o[1] << 16 |
		     (uint32_t)o[2] << 8 | (uint32_t)o[3]);
}

/* h1,h2,h3,h4,p1,p2 at s[*i]. */
static int parse_tuple(const char *s, size_t n, size_t *i, uint32_t *addr, uint16_t *port)
{
	unsigned v[6];
	size_t j = *i;
	int k;

	for (k = 0; k < 6; k++) {
		if (k && (j >= n || s[j++] != ','))
			return -1;
		if (parse_uint(s, n, &j, 3, 255, &v[k]))
			return -1;
	}
	if (v[4] * 256 + v[5] < ALG_FTP_PORT_MIN)
		return -1;
	*addr = make_addr(v);
	*port = (uint16_t)(v[4] * 256 + v[5]);
	*i = j;
	return 0;
}

int alg_ftp_parse_port_args(const char *s, size_t n, uint32_t *addr, uint16_t *port_host)
{
	size_t i = 0;

	if (parse_tuple(s, n, &i, addr, port_host) || i != n)
		return -1;
	return 0;
}

static bool eprt_delim_ok(char d)
{
	return d >= 33 && d <= 126 && !is_digit(d) && d != '.';
}

/* a.b.c.d at s[*i] */
static int parse_dotted(const char *s, size_t n, size_t *i, uint32_t *addr)
{
	unsigned v[4];
	size_t j = *i;
	int k;

	for (k = 0; k < 4; k++) {
		if (k && (j >= n || s[j++] != '.'))
			return -1;
		if (parse_uint(s, n, &j, 3, 255, &v[k]))
			return -1;
	}
	*addr = make_addr(v);
	*i = j;
	return 0;
}

/* <d>1<d>a.b.c.d<d>port<d> and nothing else */
int alg_ftp_parse_eprt_args(const char *s, size_t n, uint32_t *addr, uint16_t *port_host)
{
	size_t i = 3;
	unsigned port;
	char d;

	if (n < 3 || !eprt_delim_ok(s[0]))
		return -1;
	d = s[0];
	if (s[1] != '1' || s[2] != d)
		return -1;
	if (parse_dotted(s, n, &i, addr) || i >= n || s[i++] != d)
		return -1;
	if (parse_uint(s, n, &i, 5, 65535, &port) || port < ALG_FTP_PORT_MIN)
		return -1;
	if (i + 1 != n || s[i] != d)
		return -1;
	*port_host = (uint16_t)port;
	return 0;
}

int alg_ftp_parse_227(const char *s, size_t n, uint32_t *addr, uint16_t *port_host,
		      size_t *off, size_t *len)
{
	size_t j, i;

	for (j = 0; j < n; j++) {
		if (!is_digit(s[j]) || (j && (is_digit(s[j - 1]) || s[j - 1] == ',')))
			continue;	/* a run of numbers is taken whole or not at all */
		i = j;
		if (parse_tuple(s, n, &i, addr, port_host))
			continue;
		if (i < n && s[i] == ',')
			continue;
		*off = j;
		*len = i - j;
		return 0;
	}
	return -1;
}

/* (<d><d><d>port<d>) anywhere in s */
int alg_ftp_parse_229(const char *s, size_t n, uint16_t *port_host)
{
	size_t j, i;
	unsigned port;

	for (j = 0; j + 6 < n; j++) {
		char d = s[j + 1];

		if (s[j] != '(' || !eprt_delim_ok(d) || s[j + 2] != d || s[j + 3] != d)
			continue;
		i = j + 4;
		if (parse_uint(s, n, &i, 5, 65535, &port) || port < ALG_FTP_PORT_MIN)
			continue;
		if (i + 1 >= n || s[i] != d || s[i + 1] != ')')
			continue;
		*port_host = (uint16_t)port;
		return 0;
	}
	return -1;
}

/* ---------------------------------------------------------------------
 * Formatting replacement text
 */

static void addr_octets(uint32_t addr, unsigned o[4])
{
	uint32_t h = ntohl(addr);

	o[0] = (uint8_t)(h >> 24);
	o[1] = (uint8_t)(h >> 16);
	o[2] = (uint8_t)(h >> 8);
	o[3] = (uint8_t)h;
}

static int fmt_tuple(char *buf, size_t cap, uint32_t addr, uint16_t port)
{
	unsigned o[4];

	addr_octets(addr, o);
	return snprintf(buf, cap, "%u,%u,%u,%u,%u,%u", o[0] & 255, o[1] & 255,
			o[2] & 255, o[3] & 255, (unsigned)(port >> 8), (unsigned)(port & 255));
}

static int fmt_eprt(char *buf, size_t cap, char d, uint32_t addr, uint16_t port)
{
	unsigned o[4];

	addr_octets(addr, o);
	return snprintf(buf, cap, "%c1%c%u.%u.%u.%u%c%u%c", d, d, o[0] & 255, o[1] & 255,
			o[2] & 255, o[3] & 255, d, (unsigned)port, d);
}

/* ---------------------------------------------------------------------
 * Command queue, events, state changes
 */

static struct alg_ftp_cmd *cmdq_push(struct alg_ftp_conn *c)
{
	struct alg_ftp_cmd *cmd;

	if (c->cmd_n == ALG_FTP_CMDQ_MAX)
		return NULL;
	cmd = &c->cmdq[(c->cmd_head + c->cmd_n++) % ALG_FTP_CMDQ_MAX];
	memset(cmd, 0, sizeof(*cmd));
	return cmd;
}

static struct alg_ftp_cmd *cmdq_peek(struct alg_ftp_conn *c)
{
	return c->cmd_n ? &c->cmdq[c->cmd_head] : NULL;
}

static struct alg_ftp_cmd *cmdq_pop(struct alg_ftp_conn *c)
{
	struct alg_ftp_cmd *cmd = cmdq_peek(c);

	if (cmd) {
		c->cmd_head = (c->cmd_head + 1) % ALG_FTP_CMDQ_MAX;
		c->cmd_n--;
	}
	return cmd;
}

static bool parsing(const struct alg_ftp_conn *c)
{
	return c->state == ALG_FTP_ST_GREETING || c->state == ALG_FTP_ST_INSPECT;
}

static void push_event(struct alg_ftp_result *res, const struct alg_ftp_event *ev)
{
	if (res && res->n_events < ALG_FTP_MAX_EVENTS)
		res->ev[res->n_events++] = *ev;
}

/* Stop parsing for good and tell the caller to hand the flow back. */
static void give_up(struct alg_ftp_conn *c, struct alg_ftp_result *res,
		    enum alg_ftp_opaque_reason why)
{
	struct alg_ftp_event ev = { .kind = ALG_FTP_EV_GO_OPAQUE, .reason = why };

	if (!parsing(c))
		return;
	c->state = why == ALG_FTP_WHY_NOT_FTP ? ALG_FTP_ST_NOT_FTP : ALG_FTP_ST_OPAQUE;
	c->why = why;
	c->half[0].line_len = c->half[1].line_len = 0;
	push_event(res, &ev);
}

/* One slot is always kept for GO_OPAQUE. */
static bool event_room(struct seg *s)
{
	if (s->res->n_events + 1 < ALG_FTP_MAX_EVENTS)
		return true;
	give_up(s->c, s->res, ALG_FTP_WHY_OVERFLOW);
	return false;
}

static void emit_expect(struct seg *s, enum alg_ftp_event_kind kind, enum alg_ftp_source src,
			uint32_t remote, uint32_t outside, uint16_t oport,
			uint32_t inside, uint16_t iport)
{
	struct alg_ftp_event ev = {
		.kind = kind, .source = src, .remote_addr = remote,
		.outside_addr = outside, .outside_port_host = oport,
		.inside_addr = inside, .inside_port_host = iport, .proto = IPPROTO_TCP,
	};

	if (event_room(s))
		push_event(s->res, &ev);
}

/* ---------------------------------------------------------------------
 * Rewrite planning
 */

/* Can text of olen bytes at original seq rseq become up to nlen bytes? */
static bool can_plan(const struct seg *s, uint32_t rseq, size_t olen, size_t nlen)
{
	int64_t after;

	if (!seq_ge(rseq, s->seq + (uint32_t)s->new_off))
		return false;		/* the text went out in an earlier segment */
	if (s->n_plan == ALG_FTP_SEG_RW_MAX || olen > UINT16_MAX)
		return false;
	after = (int64_t)(s->len - s->new_off) + s->grow + (int64_t)nlen - (int64_t)olen;
	return after <= (int64_t)s->budget;
}

static void add_plan(struct seg *s, uint32_t rseq, size_t olen, const char *text, size_t nlen)
{
	struct plan *p = &s->plan[s->n_plan++];

	p->off = (size_t)seq_diff(rseq, s->seq);
	p->olen = (uint16_t)olen;
	p->nlen = (uint16_t)nlen;
	memcpy(p->bytes, text, nlen);
	s->grow += (int32_t)nlen - (int32_t)olen;
}

static int ask_port(struct alg_ftp_conn *c, uint32_t remote, uint32_t outside,
		    uint32_t inside, uint16_t iport, uint16_t *oport)
{
	struct alg_ftp_map_req req = {
		.remote_addr = remote, .outside_addr = outside, .inside_addr = inside,
		.inside_port_host = iport, .proto = IPPROTO_TCP,
	};

	*oport = 0;
	if (!c->map_port || c->map_port(c->map_ctx, &req, oport) || !*oport)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------------
 * Client commands
 */

static bool verb_is(const char *p, size_t vlen, const char *verb)
{
	size_t i;

	if (vlen != strlen(verb))
		return false;
	for (i = 0; i < vlen; i++)
		if ((p[i] & ~0x20) != verb[i])
			return false;
	return true;
}

static enum alg_ftp_cmd_kind alg_ftp_classify(const struct line *l, size_t vlen)
{
	const char *arg = l->p + vlen + 1;
	size_t alen = l->n > vlen ? l->n - vlen - 1 : 0;

	if (verb_is(l->p, vlen, "PORT"))
		return CMD_PORT;
	if (verb_is(l->p, vlen, "EPRT"))
		return CMD_EPRT;
	if (verb_is(l->p, vlen, "PASV"))
		return CMD_PASV;
	if (verb_is(l->p, vlen, "AUTH"))
		return CMD_AUTH;
	if (verb_is(l->p, vlen, "EPSV") && (alen == 0 || (alen == 1 && arg[0] == '1')))
		return CMD_EPSV;
	return CMD_OTHER;
}

/* PORT/EPRT from a masqueraded client: C:p -> W:p' (case A, and hairpin). */
static void alg_ftp_active(struct seg *s, struct alg_ftp_cmd *cmd, const struct line *l,
			   size_t vlen)
{
	struct alg_ftp_conn *c = s->c;
	const char *arg = l->p + vlen + 1;
	size_t alen = l->n - vlen - 1;
	uint32_t addr, rseq = l->seq + (uint32_t)(vlen + 1);
	uint16_t port, oport;
	char text[ALG_FTP_RW_MAX];
	int r, ok;

	if (!l->crlf || l->n <= vlen + 1 || l->p[vlen] != ' ')
		return;
	ok = cmd->kind == CMD_PORT ? alg_ftp_parse_port_args(arg, alen, &addr, &port)
				   : alg_ftp_parse_eprt_args(arg, alen, &addr, &port);
	if (ok != 0 || addr != c->nat.client_addr)
		return;			/* malformed, or a bounce: untouched */
	r = cmd->kind == CMD_PORT ? fmt_tuple(text, sizeof(text), c->nat.client_outside, 65535)
				  : fmt_eprt(text, sizeof(text), arg[0], c->nat.client_outside, 65535);
	if (!can_plan(s, rseq, alen, (size_t)r))	/* longest the new text can be */
		return;
	if (ask_port(c, c->nat.server_addr, c->nat.client_outside, addr, port, &oport))
		return;
	r = cmd->kind == CMD_PORT ? fmt_tuple(text, sizeof(text), c->nat.client_outside, oport)
				  : fmt_eprt(text, sizeof(text), arg[0], c->nat.client_outside, oport);
	add_plan(s, rseq, alen, text, (size_t)r);
	cmd->pending = true;
	cmd->outside_port_host = oport;
	cmd->inside_addr = addr;
	cmd->inside_port_host = port;
}

/* Telnet IAC sequences (IAC IP, IAC DM before ABOR) are skipped. */
static void skip_telnet(struct line *l)
{
	while (l->n >= 2 && (uint8_t)l->p[0] == 0xff) {
		l->p += 2;
		l->n -= 2;
		l->seq += 2;
	}
}

static void alg_ftp_command(struct seg *s, struct line *l)
{
	struct alg_ftp_conn *c = s->c;
	struct alg_ftp_cmd *cmd;
	size_t vlen = 0;

	skip_telnet(l);
	if (l->n == 0)
		return;
	while (vlen < l->n && vlen < 5 && is_alpha(l->p[vlen]))
		vlen++;
	if (vlen < 3 || vlen > 4 || (vlen < l->n && l->p[vlen] != ' ')) {
		give_up(c, s->res, ALG_FTP_WHY_NOT_FTP);
		return;
	}
	cmd = cmdq_push(c);
	if (!cmd) {
		give_up(c, s->res, ALG_FTP_WHY_OVERFLOW);
		return;
	}
	cmd->kind = (uint8_t)alg_ftp_classify(l, vlen);
	if ((cmd->kind == CMD_PORT || cmd->kind == CMD_EPRT) && !l->overflow &&
	    (c->nat.mode == ALG_FTP_MASQ || c->nat.mode == ALG_FTP_HAIRPIN))
		alg_ftp_active(s, cmd, l, vlen);
}

/* ---------------------------------------------------------------------
 * Server replies
 */

/* 227 in case B (and hairpin): S:p is rewritten to W:p'; W:p is taken as it is. */
static void alg_ftp_reply_227(struct seg *s, const struct line *l, size_t from)
{
	struct alg_ftp_conn *c = s->c;
	const struct alg_ftp_nat *nat = &c->nat;
	uint32_t addr, rseq;
	uint16_t port, oport;
	size_t off, len;
	char text[ALG_FTP_RW_MAX];
	int r;

	if (alg_ftp_parse_227(l->p + from, l->n - from, &addr, &port, &off, &len))
		return;
	c->reply_acted = true;		/* the first valid tuple counts, whatever it names */
	if (addr == nat->server_outside) {
		emit_expect(s, ALG_FTP_EV_EXPECT_OPEN, ALG_FTP_SRC_PASV, nat->client_addr,
			    nat->server_outside, port, nat->server_addr, port);
		return;
	}
	if (addr != nat->server_addr)
		return;
	rseq = l->seq + (uint32_t)(from + off);
	r = fmt_tuple(text, sizeof(text), nat->server_outside, 65535);
	if (!event_room(s) || !can_plan(s, rseq, len, (size_t)r))
		return;
	if (ask_port(c, nat->client_addr, nat->server_outside, addr, port, &oport))
		return;
	r = fmt_tuple(text, sizeof(text), nat->server_outside, oport);
	add_plan(s, rseq, len, text, (size_t)r);
	emit_expect(s, ALG_FTP_EV_EXPECT_OPEN, ALG_FTP_SRC_PASV, nat->client_addr,
		    nat->server_outside, oport, nat->server_addr, port);
}

static void alg_ftp_reply_229(struct seg *s, const struct line *l, size_t from)
{
	struct alg_ftp_conn *c = s->c;
	uint16_t port;

	if (alg_ftp_parse_229(l->p + from, l->n - from, &port))
		return;
	c->reply_acted = true;
	emit_expect(s, ALG_FTP_EV_EXPECT_OPEN, ALG_FTP_SRC_EPSV, c->nat.client_addr,
		    c->nat.server_outside, port, c->nat.server_addr, port);
}

/* Any line of a 227/229 reply may carry the numbers; from skips the code. */
static void alg_ftp_reply_text(struct seg *s, const struct line *l, size_t from)
{
	struct alg_ftp_conn *c = s->c;
	struct alg_ftp_cmd *head = cmdq_peek(c);

	if (c->state != ALG_FTP_ST_INSPECT || l->overflow || c->reply_acted || !head ||
	    (c->nat.mode != ALG_FTP_FORWARD && c->nat.mode != ALG_FTP_HAIRPIN) || from > l->n)
		return;
	if (c->reply_code == 227 && head->kind == CMD_PASV)
		alg_ftp_reply_227(s, l, from);
	else if (c->reply_code == 229 && head->kind == CMD_EPSV)
		alg_ftp_reply_229(s, l, from);
}

/* The reply with this code is complete. */
static void alg_ftp_reply_done(struct seg *s, unsigned code)
{
	struct alg_ftp_conn *c = s->c;
	struct alg_ftp_cmd *cmd;

	c->reply_multi = false;
	c->reply_code = 0;
	if (c->state == ALG_FTP_ST_GREETING) {
		if (code == 220)
			c->state = ALG_FTP_ST_INSPECT;
		else if (code != 120)
			give_up(c, s->res, ALG_FTP_WHY_NOT_FTP);
		return;
	}
	if (code < 200)
		return;			/* preliminary: the command waits on */
	cmd = cmdq_pop(c);
	if (!cmd)
		return;			/* unsolicited (421) */
	if (cmd->kind == CMD_AUTH && code == 234) {
		give_up(c, s->res, ALG_FTP_WHY_AUTH);
		return;
	}
	if (cmd->pending)
		emit_expect(s, code == 200 ? ALG_FTP_EV_EXPECT_OPEN : ALG_FTP_EV_EXPECT_CANCEL,
			    cmd->kind == CMD_PORT ? ALG_FTP_SRC_PORT : ALG_FTP_SRC_EPRT,
			    c->nat.server_addr, c->nat.client_outside, cmd->outside_port_host,
			    cmd->inside_addr, cmd->inside_port_host);
}

/* "xyz" followed by ' ', '-' or the end of the line. Returns the code or 0. */
static unsigned reply_code(const struct line *l, char *sep)
{
	unsigned code;

	if (l->n < 3 || l->p[0] < '1' || l->p[0] > '5' || !is_digit(l->p[1]) ||
	    !is_digit(l->p[2]))
		return 0;
	*sep = l->n > 3 ? l->p[3] : ' ';
	if (*sep != ' ' && *sep != '-')
		return 0;
	code = (unsigned)(l->p[0] - '0') * 100 + (unsigned)(l->p[1] - '0') * 10 +
	       (unsigned)(l->p[2] - '0');
	return code;
}

static void alg_ftp_reply(struct seg *s, const struct line *l)
{
	struct alg_ftp_conn *c = s->c;
	unsigned code;
	char sep = 0;

	code = reply_code(l, &sep);
	if (c->reply_multi) {
		bool last = code == c->reply_code && sep == ' ';

		alg_ftp_reply_text(s, l, code ? 4 : 0);
		if (last)
			alg_ftp_reply_done(s, code);
		return;
	}
	if (!code) {
		give_up(c, s->res, ALG_FTP_WHY_NOT_FTP);
		return;
	}
	c->reply_code = (uint16_t)code;
	c->reply_acted = false;
	alg_ftp_reply_text(s, l, 4);
	if (sep == '-')
		c->reply_multi = true;
	else
		alg_ftp_reply_done(s, code);
}

/* ---------------------------------------------------------------------
 * Line assembly
 */

/* While waiting for the greeting, the server's first bytes must read
 * "220" or "120" followed by ' ' or '-'. */
static bool greeting_prefix_ok(const uint8_t *p, size_t n)
{
	if (n >= 1 && p[0] != '1' && p[0] != '2')
		return false;
	if ((n >= 2 && p[1] != '2') || (n >= 3 && p[2] != '0'))
		return false;
	return n < 4 || p[3] == ' ' || p[3] == '-' || p[3] == '\r' || p[3] == '\n';
}

static void alg_ftp_line(struct seg *s, struct alg_ftp_half *h)
{
	struct line l = {
		.p = (const char *)h->line, .n = h->line_len,
		.overflow = h->line_overflow, .seq = h->line_seq,
	};

	if (!l.overflow) {
		l.n--;			/* the LF */
		if (l.n && l.p[l.n - 1] == '\r') {
			l.n--;
			l.crlf = true;
		}
	}
	if (s->dir == ALG_FTP_FROM_CLIENT)
		alg_ftp_command(s, &l);
	else
		alg_ftp_reply(s, &l);
}

static void alg_ftp_byte(struct seg *s, struct alg_ftp_half *h, size_t i)
{
	struct alg_ftp_conn *c = s->c;
	uint8_t b = s->data[i];

	if (h->line_len == 0 && !h->line_overflow)
		h->line_seq = s->seq + (uint32_t)i;
	if (h->line_len < ALG_FTP_LINE_MAX)
		h->line[h->line_len++] = b;
	else
		h->line_overflow = true;
	if (c->state == ALG_FTP_ST_GREETING &&
	    (s->dir == ALG_FTP_FROM_CLIENT ||	/* the client spoke first */
	     (!c->reply_multi && h->line_len <= 4 &&
	      !greeting_prefix_ok(h->line, h->line_len)))) {
		give_up(c, s->res, ALG_FTP_WHY_NOT_FTP);
		return;
	}
	if (b != '\n')
		return;
	alg_ftp_line(s, h);
	h->line_len = 0;
	h->line_overflow = false;
}

static void alg_ftp_feed(struct seg *s, struct alg_ftp_half *h)
{
	size_t i;

	for (i = s->new_off; i < s->len && parsing(s->c); i++)
		alg_ftp_byte(s, h, i);
	h->next_seq = s->seq + (uint32_t)s->len;
}

/* ---------------------------------------------------------------------
 * Segments
 */

static void result_init(struct alg_ftp_result *res, uint32_t seq)
{
	res->verdict = ALG_FTP_PASS;
	res->seq = seq;
	res->out_len = 0;
	res->n_events = 0;
}

/* Data past a hole: dropped while parsing, so every byte is seen in order. */
static enum alg_ftp_verdict alg_ftp_gap(struct alg_ftp_conn *c, struct alg_ftp_half *h,
					uint32_t seq, size_t len, struct alg_ftp_result *res)
{
	if (parsing(c) && ++c->gap_drops > ALG_FTP_GAP_DROPS_MAX)
		give_up(c, res, ALG_FTP_WHY_GAP);
	if (parsing(c)) {
		res->verdict = ALG_FTP_DROP;
		return res->verdict;
	}
	h->next_seq = seq + (uint32_t)len;	/* opaque: only offsets matter */
	return res->verdict;
}

/* Writes the new part with its planned rewrites behind out[o..]. */
static size_t apply_plans(struct seg *s, struct alg_ftp_seqmap *m, uint8_t *out, size_t o)
{
	size_t pos = s->new_off;
	unsigned i;

	for (i = 0; i < s->n_plan; i++) {
		const struct plan *p = &s->plan[i];

		memcpy(out + o, s->data + pos, p->off - pos);
		o += p->off - pos;
		memcpy(out + o, p->bytes, p->nlen);
		o += p->nlen;
		pos = p->off + p->olen;
		map_add(m, s->seq + (uint32_t)p->off, p->olen, p->bytes, p->nlen);
	}
	memcpy(out + o, s->data + pos, s->len - pos);
	return o + s->len - pos;
}

enum alg_ftp_verdict alg_ftp_process(struct alg_ftp_conn *c, enum alg_ftp_dir dir,
				     uint32_t seq, const uint8_t *data, size_t len,
				     uint8_t *out, size_t out_cap,
				     struct alg_ftp_result *res)
{
	struct alg_ftp_half *h = &c->half[dir];
	struct seg s = { .c = c, .dir = dir, .seq = seq, .data = data, .len = len, .res = res };
	size_t old_n, old_out;
	uint32_t oseq;
	int32_t ahead;
	int replayed = 0;

	result_init(res, alg_ftp_seq_out(c, dir, seq));
	if (!alg_ftp_in_window(c, dir, seq)) {
		res->verdict = ALG_FTP_DROP;	/* not counted as a gap: see ALG_FTP_WINDOW_MAX */
		return res->verdict;
	}
	if (len == 0)
		return res->verdict;
	if (!h->seq_known)
		alg_ftp_set_isn(c, dir, seq - 1);
	ahead = seq_diff(seq, h->next_seq);
	if (ahead > 0)
		return alg_ftp_gap(c, h, seq, len, res);
	old_n = (size_t)-(int64_t)ahead < len ? (size_t)-(int64_t)ahead : len;
	old_out = old_n;
	oseq = res->seq;
	if (old_n)
		replayed = replay(&h->map, seq, data, old_n, out, out_cap, &old_out, &oseq);
	if (replayed < 0 || (replayed && old_out + (len - old_n) > out_cap)) {
		res->verdict = ALG_FTP_DROP;
		return res->verdict;
	}
	s.new_off = old_n;
	if (old_n < len) {
		c->gap_drops = 0;
		s.budget = out_cap > old_out ? out_cap - old_out : 0;
		alg_ftp_feed(&s, h);
	}
	if (!replayed && !s.n_plan)
		return res->verdict;
	if (!replayed)
		memcpy(out, data, old_n);
	res->out_len = apply_plans(&s, &h->map, out, old_out);
	res->seq = oseq;
	res->verdict = ALG_FTP_REWRITTEN;
	return res->verdict;
}

/* ---------------------------------------------------------------------
 * The rest of the API
 */

void alg_ftp_init(struct alg_ftp_conn *c, const struct alg_ftp_nat *nat,
		  alg_ftp_map_port_fn map_port, void *map_ctx)
{
	memset(c, 0, sizeof(*c));
	c->nat = *nat;
	c->map_port = map_port;
	c->map_ctx = map_ctx;
	c->state = ALG_FTP_ST_GREETING;
}

bool alg_ftp_conn_valid(const struct alg_ftp_conn *c)
{
	if (c->nat.mode != ALG_FTP_MASQ && c->nat.mode != ALG_FTP_FORWARD &&
	    c->nat.mode != ALG_FTP_HAIRPIN)
		return false;
	if (c->state > ALG_FTP_ST_NOT_FTP || c->why > ALG_FTP_WHY_GAP)
		return false;
	if (c->cmd_head >= ALG_FTP_CMDQ_MAX || c->cmd_n > ALG_FTP_CMDQ_MAX)
		return false;
	for (int d = 0; d < 2; d++) {
		const struct alg_ftp_half *h = &c->half[d];

		if (h->line_len > ALG_FTP_LINE_MAX || h->map.n > ALG_FTP_SEQMAP_MAX)
			return false;
		for (unsigned i = 0; i < h->map.n; i++)
			if (h->map.rw[i].nlen > ALG_FTP_RW_MAX)
				return false;
	}
	return true;
}

bool alg_ftp_in_window(const struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t seq)
{
	const struct alg_ftp_half *h = &c->half[dir];
	int32_t d = seq_diff(seq, h->next_seq);

	/* -d of INT32_MIN overflows: compare each side on its own */
	return !h->seq_known || (d >= 0 ? d <= (int32_t)ALG_FTP_WINDOW_MAX
					: d >= -(int32_t)ALG_FTP_WINDOW_MAX);
}

void alg_ftp_set_isn(struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t isn)
{
	struct alg_ftp_half *h = &c->half[dir];

	h->seq_known = true;
	h->next_seq = isn + 1;
	h->line_seq = isn + 1;
}

uint32_t alg_ftp_seq_out(const struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t seq)
{
	return map_seq_out(&c->half[dir].map, seq);
}

uint32_t alg_ftp_ack_in(struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t ack)
{
	struct alg_ftp_half *other = &c->half[!dir];
	uint32_t o = map_seq_in(&other->map, ack, false);

	if (other->seq_known && seq_gt(o, other->next_seq))
		return o;	/* acknowledges bytes never seen: not believed */
	if (!other->ack_known || seq_gt(o, other->max_ack)) {
		other->max_ack = o;
		other->ack_known = true;
	}
	return o;
}

bool alg_ftp_sack_in(const struct alg_ftp_conn *c, enum alg_ftp_dir dir,
		     uint32_t *left, uint32_t *right)
{
	const struct alg_ftp_seqmap *m = &c->half[!dir].map;
	uint32_t l = map_seq_in(m, *left, true), r = map_seq_in(m, *right, false);

	if (!seq_gt(r, l))
		return false;
	*left = l;
	*right = r;
	return true;
}

bool alg_ftp_rewrites_acked(const struct alg_ftp_conn *c)
{
	int d;

	for (d = 0; d < 2; d++) {
		const struct alg_ftp_half *h = &c->half[d];
		const struct alg_ftp_rw *last;

		if (!h->map.n)
			continue;
		last = &h->map.rw[h->map.n - 1];
		if (!h->ack_known || !seq_ge(h->max_ack, last->seq + last->olen))
			return false;
	}
	return true;
}

int32_t alg_ftp_delta(const struct alg_ftp_conn *c, enum alg_ftp_dir dir)
{
	return map_delta_end(&c->half[dir].map);
}

enum alg_ftp_state alg_ftp_get_state(const struct alg_ftp_conn *c)
{
	return c->state;
}

const char *alg_ftp_event_name(enum alg_ftp_event_kind kind)
{
	switch (kind) {
	case ALG_FTP_EV_EXPECT_OPEN:	return "expect-open";
	case ALG_FTP_EV_EXPECT_CANCEL:	return "expect-cancel";
	case ALG_FTP_EV_GO_OPAQUE:	return "go-opaque";
	}
	return "?";
}

const char *alg_ftp_state_name(enum alg_ftp_state st)
{
	switch (st) {
	case ALG_FTP_ST_GREETING:	return "greeting";
	case ALG_FTP_ST_INSPECT:	return "inspect";
	case ALG_FTP_ST_OPAQUE:		return "opaque";
	case ALG_FTP_ST_NOT_FTP:	return "not-ftp";
	}
	return "?";
}
