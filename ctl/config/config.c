/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * config.c - parse /etc/xdpnat.conf; the grammar is in xdpnat.conf(5).
 *
 * Each line is split into words and handed to its statement's handler,
 * which checks everything visible on that line and reports at most one
 * error for it.  Checks that need the whole file (an `outbound`, `forward`
 * or `ddns` naming something that is not a `wan`, at least one wan and one
 * lan) run after the last line, so statements may come in any order.  The
 * parser never stops early: `xdpnat check` should show every mistake at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "xdpnat.h"
#include "config/config.h"

#define MAX_WORDS	32		/* the longest statement, ddns, has 22 */
#define CFG_FILE_MAX	(1 << 20)	/* a config file is small; refuse a huge one */
#define SPACE		" \t\r\f\v"

struct outbound {
	char ifname[IF_NAMESIZE];
	uint16_t lo, hi;
	uint8_t filtering;		/* enum cfg_filtering */
	int line;
};

struct inbound {
	char ifname[IF_NAMESIZE];
	bool accept;
	int line;
};

struct parser {
	struct xdpnat_config *cfg;
	const char *name;
	FILE *err;
	int line;
	int nerr;
	/* outbound may precede its wan: keep it until the end of the file */
	struct outbound outb[CFG_MAX_IFACES];
	int noutb;
	struct inbound inb[CFG_MAX_IFACES];	/* the same for inbound */
	int ninb;
	/* line of each single-valued statement already seen, 0 = none */
	int timeout_line[5];
	int ctmax_line, pin_line, state_line, run_line, log_line, flowlog_line;
	int alg_line;			/* an `alg ftp` line, even a bad one */
	unsigned long fwd_ports;	/* nat_forwards entries the forwards expand to */
};

static void perr_at(struct parser *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
perr_at(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	p->nerr++;
	if (p->err == NULL)
		return;
	fprintf(p->err, "%s:%d: ", p->name, line);
	va_start(ap, fmt);
	vfprintf(p->err, fmt, ap);
	va_end(ap);
	fputc('\n', p->err);
}

#define perr(p, ...)	perr_at((p), (p)->line, __VA_ARGS__)

/* Index of s in a NULL-terminated table, -1 if absent. */
static int
lookup(const char *const *names, const char *s)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static char *
copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
}

/* ------------------------------------------------------------------ */
/* Words */

/*
 * Strict decimal: digits only, so "1e3", "0x10", "+5", "-1" and "80abc"
 * are all refused.  Returns 0, or -1 (not a number) or -2 (above max).
 */
static int
str_to_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0, d;
	int big = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned long)(*s - '0');
		if (big || max < d || v > (max - d) / 10)
			big = 1;	/* keep scanning: junk beats range */
		else
			v = v * 10 + d;
	}
	if (big)
		return -2;
	*out = v;
	return 0;
}

static int
parse_num(struct parser *p, const char *what, const char *s,
    unsigned long lo, unsigned long hi, unsigned long *out)
{
	int r = str_to_ulong(s, hi, out);

	if (r == -1) {
		perr(p, "bad %s '%s': not a decimal number", what, s);
		return -1;
	}
	if (r == -2 || *out < lo) {
		perr(p, "%s %s out of range (%lu-%lu)", what, s, lo, hi);
		return -1;
	}
	return 0;
}

static int
parse_port(struct parser *p, const char *s, uint16_t *port)
{
	unsigned long v;

	if (str_to_ulong(s, 65535, &v) == 0 && v == 0) {
		perr(p, "port 0 is not allowed");
		return -1;
	}
	if (parse_num(p, "port", s, 1, 65535, &v) == -1)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "<port>" or "<lo>-<hi>"; one port gives lo == hi. */
static int
parse_range(struct parser *p, const char *s, uint16_t *lo, uint16_t *hi)
{
	char buf[32], *dash;
	unsigned long v;

	if (strlen(s) >= sizeof(buf) || strchr(s, '-') != strrchr(s, '-'))
		goto bad;
	copy(buf, sizeof(buf), s);
	if ((dash = strchr(buf, '-')) == NULL) {
		if (parse_port(p, buf, lo) == -1)
			return -1;
		*hi = *lo;
		return 0;
	}
	*dash++ = '\0';
	if (buf[0] == '\0' || *dash == '\0')
		goto bad;
	if (parse_port(p, buf, lo) == -1)
		return -1;
	if (str_to_ulong(dash, 0xffffffffUL, &v) == 0 && v > 65535) {
		perr(p, "port range %s goes past 65535", s);
		return -1;
	}
	if (parse_port(p, dash, hi) == -1)
		return -1;
	if (*lo > *hi) {
		perr(p, "port range %s is backwards (%u > %u)", s, *lo, *hi);
		return -1;
	}
	return 0;
bad:
	perr(p, "bad port range '%s' (expected <port> or <lo>-<hi>)", s);
	return -1;
}

/* A host we may send to or forward to: not 0/8, loopback or class D/E. */
static int
parse_host(struct parser *p, const char *s, struct in_addr *a)
{
	uint32_t h;

	if (inet_pton(AF_INET, s, a) != 1) {
		perr(p, "bad IPv4 address '%s'", s);
		return -1;
	}
	h = ntohl(a->s_addr);
	if ((h >> 24) == 0 || (h >> 24) == 127 || (h >> 24) >= 224) {
		perr(p, "%s is not a unicast host address", s);
		return -1;
	}
	return 0;
}

/* What the kernel's dev_valid_name() accepts. */
static int
parse_ifname(struct parser *p, const char *s, char *dst)
{
	if (strlen(s) >= IF_NAMESIZE) {
		perr(p, "interface name '%s' is too long (max %d characters)",
		    s, IF_NAMESIZE - 1);
		return -1;
	}
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
	    strpbrk(s, "/:") != NULL) {
		perr(p, "bad interface name '%s'", s);
		return -1;
	}
	copy(dst, IF_NAMESIZE, s);
	return 0;
}

static int
parse_str(struct parser *p, const char *what, const char *s, char *dst,
    size_t size)
{
	if (strlen(s) >= size) {
		perr(p, "%s is too long (max %zu characters)", what, size - 1);
		return -1;
	}
	copy(dst, size, s);
	return 0;
}

/* Absolute, because the daemon's working directory is not the admin's. */
static int
parse_path(struct parser *p, const char *what, const char *s, char *dst)
{
	if (s[0] != '/') {
		perr(p, "%s %s must be an absolute path", what, s);
		return -1;
	}
	return parse_str(p, what, s, dst, CFG_PATH_MAX);
}

static int
parse_url(struct parser *p, const char *what, const char *s, char *dst,
    size_t size)
{
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) {
		perr(p, "%s '%s' is not an http:// or https:// URL", what, s);
		return -1;
	}
	return parse_str(p, what, s, dst, size);
}

/* Letters, digits, '-' and '_' in dot-separated labels of 1-63. */
static int
parse_hostname(struct parser *p, const char *s, char *dst, size_t size)
{
	size_t label = 0, len = strlen(s);
	const char *c;

	if (len > 253 || len >= size)
		goto bad;
	for (c = s; *c != '\0'; c++) {
		if (*c == '.') {
			if (label == 0)
				goto bad;
			label = 0;
		} else if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_') {
			if (++label > 63)
				goto bad;
		} else
			goto bad;
	}
	if (label == 0)
		goto bad;
	copy(dst, size, s);
	return 0;
bad:
	perr(p, "bad host name '%s'", s);
	return -1;
}

/* A password or token must not be visible to other local users. */
static int
parse_secret(struct parser *p, const char *what, const char *s, char *dst)
{
	struct stat st;
	const char *how;

	if (parse_path(p, what, s, dst) == -1)
		return -1;
	if (stat(s, &st) == -1) {
		perr(p, "%s %s: %s", what, s, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		perr(p, "%s %s is not a regular file", what, s);
		return -1;
	}
	if ((st.st_mode & 077) == 0)
		return 0;
	how = st.st_mode & 044 ? "readable" :
	    st.st_mode & 022 ? "writable" : "executable";
	perr(p, "%s %s is %s by group or others (chmod 600)", what, s, how);
	return -1;
}

/*
 * Options are `name value` pairs.  Returns the option's index, or -1
 * after reporting an unknown, valueless or repeated option.
 */
static int
parse_opt(struct parser *p, const char *stmt, const char *const *names,
    int ac, char **av, int i, unsigned *seen)
{
	int k;

	if ((k = lookup(names, av[i])) == -1) {
		perr(p, "unknown %s option '%s'", stmt, av[i]);
		return -1;
	}
	if (i + 1 >= ac) {
		perr(p, "%s %s needs a value", stmt, av[i]);
		return -1;
	}
	if (*seen & (1U << k)) {
		perr(p, "%s option %s given twice", stmt, av[i]);
		return -1;
	}
	*seen |= 1U << k;
	return k;
}

/* ------------------------------------------------------------------ */
/* Statements: av[0] is the keyword, the word counts are already checked. */

/* A name may be declared once, as a wan or as a lan. */
static int
iface_taken(struct parser *p, const char *kind, const char *name)
{
	const struct xdpnat_config *cfg = p->cfg;
	int i;

	for (i = 0; i < cfg->nwans; i++) {
		if (strcmp(cfg->wans[i].ifname, name) != 0)
			continue;
		if (strcmp(kind, "wan") == 0)
			perr(p, "wan %s already declared at line %d", name,
			    cfg->wans[i].line);
		else
			perr(p, "%s is already a wan (line %d); an interface "
			    "cannot be both wan and lan", name, cfg->wans[i].line);
		return 1;
	}
	for (i = 0; i < cfg->nlans; i++) {
		if (strcmp(cfg->lans[i].ifname, name) != 0)
			continue;
		if (strcmp(kind, "lan") == 0)
			perr(p, "lan %s already declared at line %d", name,
			    cfg->lans[i].line);
		else
			perr(p, "%s is already a lan (line %d); an interface "
			    "cannot be both wan and lan", name, cfg->lans[i].line);
		return 1;
	}
	if ((strcmp(kind, "wan") == 0 ? cfg->nwans : cfg->nlans) >=
	    CFG_MAX_IFACES) {
		perr(p, "too many %s interfaces (max %d)", kind, CFG_MAX_IFACES);
		return 1;
	}
	return 0;
}

/* "192.0.2.1" or "192.0.2.1,198.51.100.1": `track` targets, no repeats. */
static int
parse_track_list(struct parser *p, const char *s, struct cfg_wan *w)
{
	char buf[CFG_TRACK_MAX * 16 + 1], *tok, *next;
	struct in_addr a;
	int i;

	if (strlen(s) >= sizeof(buf) || s[0] == ',' || s[strlen(s) - 1] == ',' ||
	    strstr(s, ",,") != NULL) {
		perr(p, "bad track list '%s' (at most %d addresses, "
		    "comma-separated)", s, CFG_TRACK_MAX);
		return -1;
	}
	copy(buf, sizeof(buf), s);
	w->ntrack = 0;
	for (tok = buf; tok != NULL; tok = next) {
		if ((next = strchr(tok, ',')) != NULL)
			*next++ = '\0';
		if (parse_host(p, tok, &a) == -1)
			return -1;
		for (i = 0; i < w->ntrack; i++) {
			if (w->track[i].s_addr == a.s_addr) {
				perr(p, "track address %s listed twice", tok);
				return -1;
			}
		}
		if (w->ntrack == CFG_TRACK_MAX) {
			perr(p, "too many track addresses (max %d)", CFG_TRACK_MAX);
			return -1;
		}
		w->track[w->ntrack++] = a;
	}
	return 0;
}

/* wan option bits, in the order of wan_opts */
enum { W_GATEWAY, W_MSS, W_TRACK, W_INTERVAL, W_DOWN, W_UP };
static const char *const wan_opts[] = { "gateway", "mss-clamp", "track",
    "interval", "down", "up", NULL };

static int
wan_opt(struct parser *p, struct cfg_wan *w, int k, const char *v)
{
	unsigned long n;

	switch (k) {
	case W_GATEWAY:
		return parse_host(p, v, &w->gateway);
	case W_MSS:
		if (strcmp(v, "auto") == 0) {
			w->mss_clamp = CFG_MSS_AUTO;
			return 0;
		}
		if (parse_num(p, "mss-clamp", v, CFG_MSS_MIN, CFG_MSS_MAX, &n) == -1)
			return -1;
		w->mss_clamp = (uint16_t)n;
		return 0;
	case W_TRACK:
		return parse_track_list(p, v, w);
	case W_INTERVAL:
		if (parse_num(p, "interval", v, 1, CFG_TRACK_INTERVAL_MAX, &n) == -1)
			return -1;
		w->track_interval = (unsigned)n;
		return 0;
	default:
		if (parse_num(p, k == W_DOWN ? "down" : "up", v, 1,
		    CFG_TRACK_COUNT_MAX, &n) == -1)
			return -1;
		if (k == W_DOWN)
			w->track_down = (unsigned)n;
		else
			w->track_up = (unsigned)n;
		return 0;
	}
}

/* A point-to-point link's peer is its gateway. An interface that does not
 * exist yet (ppp0 before pppd runs) is given the benefit of the doubt:
 * the daemon says so when it cannot probe. */
static bool
iface_not_p2p(const char *ifname)
{
	char path[64], buf[32];
	unsigned long flags;
	FILE *f;
	bool no;

	snprintf(path, sizeof(path), "/sys/class/net/%s/flags", ifname);
	if ((f = fopen(path, "re")) == NULL)
		return false;
	no = fgets(buf, sizeof(buf), f) != NULL &&
	    !((flags = strtoul(buf, NULL, 16)) & 0x10 /* IFF_POINTOPOINT */);
	fclose(f);
	return no;
}

/*
 * The wan is declared even if an option is bad, so that the lines naming
 * it do not add a misleading "not a wan" to the one real error.
 * Options, in any order: gateway <ipv4>, mss-clamp [<bytes>|auto] (alone,
 * or followed by the next option: auto), track <ip>[,<ip>...], and with
 * track: interval <s>, down <n>, up <n>.
 */
static int
st_wan(struct parser *p, int ac, char **av)
{
	char name[IF_NAMESIZE];
	struct cfg_wan *w;
	unsigned seen = 0;
	int i, k;

	if (parse_ifname(p, av[1], name) == -1 || iface_taken(p, "wan", name))
		return -1;
	w = &p->cfg->wans[p->cfg->nwans++];
	memset(w, 0, sizeof(*w));
	copy(w->ifname, sizeof(w->ifname), name);
	w->port_lo = XDPNAT_PORT_LO_DEFAULT;
	w->port_hi = XDPNAT_PORT_HI_DEFAULT;
	w->track_interval = CFG_TRACK_INTERVAL_DEFAULT;
	w->track_down = CFG_TRACK_COUNT_DEFAULT;
	w->track_up = CFG_TRACK_COUNT_DEFAULT;
	w->line = p->line;
	for (i = 2; i < ac; i += 2) {
		if (strcmp(av[i], "mss-clamp") == 0 &&
		    (i + 1 >= ac || lookup(wan_opts, av[i + 1]) != -1)) {
			/* no value: auto */
			if (seen & (1U << W_MSS)) {
				perr(p, "wan option mss-clamp given twice");
				return -1;
			}
			seen |= 1U << W_MSS;
			w->mss_clamp = CFG_MSS_AUTO;
			i--;
			continue;
		}
		if ((k = parse_opt(p, "wan", wan_opts, ac, av, i, &seen)) == -1 ||
		    wan_opt(p, w, k, av[i + 1]) == -1)
			return -1;
	}
	if ((seen & (1U << W_INTERVAL | 1U << W_DOWN | 1U << W_UP)) &&
	    !(seen & (1U << W_TRACK))) {
		perr(p, "wan %s: interval, down and up belong to track", name);
		return -1;
	}
	if ((seen & (1U << W_TRACK)) && !w->gateway.s_addr && iface_not_p2p(name)) {
		perr(p, "wan %s: track needs a gateway to probe through: add "
		    "'gateway <ip>' (%s is not a point-to-point link)", name, name);
		return -1;
	}
	return 0;
}

static int
st_lan(struct parser *p, int ac, char **av)
{
	struct cfg_lan l;

	(void)ac;
	memset(&l, 0, sizeof(l));
	if (parse_ifname(p, av[1], l.ifname) == -1 ||
	    iface_taken(p, "lan", l.ifname))
		return -1;
	l.line = p->line;
	p->cfg->lans[p->cfg->nlans++] = l;
	return 0;
}

static int
st_outbound(struct parser *p, int ac, char **av)
{
	static const char *const opts[] = { "ports", "filtering", NULL };
	static const char *const filters[] = { "address-port-dependent", "address-dependent",
					       "endpoint-independent", NULL };
	struct outbound o;
	unsigned seen = 0;
	int i, k, f;

	memset(&o, 0, sizeof(o));
	o.lo = XDPNAT_PORT_LO_DEFAULT;
	o.hi = XDPNAT_PORT_HI_DEFAULT;
	o.filtering = CFG_FILTER_APD;
	if (parse_ifname(p, av[1], o.ifname) == -1)
		return -1;
	for (i = 2; i < ac; i += 2) {
		if ((k = parse_opt(p, "outbound", opts, ac, av, i, &seen)) == -1)
			return -1;
		if (k == 0 && parse_range(p, av[i + 1], &o.lo, &o.hi) == -1)
			return -1;
		if (k == 1) {
			if ((f = lookup(filters, av[i + 1])) == -1) {
				perr(p, "outbound filtering '%s': one of address-port-dependent, "
				     "address-dependent, endpoint-independent", av[i + 1]);
				return -1;
			}
			o.filtering = (uint8_t)f;
		}
	}
	for (i = 0; i < p->noutb; i++) {
		if (strcmp(p->outb[i].ifname, o.ifname) == 0) {
			perr(p, "outbound %s already declared at line %d",
			    o.ifname, p->outb[i].line);
			return -1;
		}
	}
	if (p->noutb >= CFG_MAX_IFACES) {
		perr(p, "too many outbound statements (max %d)", CFG_MAX_IFACES);
		return -1;
	}
	o.line = p->line;
	p->outb[p->noutb++] = o;
	return 0;
}

/* inbound <wan-if> accept|drop: what becomes of unsolicited packets from
 * that WAN to LAN addresses. */
static int
st_inbound(struct parser *p, int ac, char **av)
{
	struct inbound in;
	int i;

	(void)ac;
	memset(&in, 0, sizeof(in));
	if (parse_ifname(p, av[1], in.ifname) == -1)
		return -1;
	if (strcmp(av[2], "accept") != 0 && strcmp(av[2], "drop") != 0) {
		perr(p, "inbound %s: '%s' is neither accept nor drop", in.ifname, av[2]);
		return -1;
	}
	in.accept = strcmp(av[2], "accept") == 0;
	for (i = 0; i < p->ninb; i++) {
		if (strcmp(p->inb[i].ifname, in.ifname) == 0) {
			perr(p, "inbound %s already declared at line %d", in.ifname,
			    p->inb[i].line);
			return -1;
		}
	}
	if (p->ninb >= CFG_MAX_IFACES) {
		perr(p, "too many inbound statements (max %d)", CFG_MAX_IFACES);
		return -1;
	}
	in.line = p->line;
	p->inb[p->ninb++] = in;
	return 0;
}

/* "<ip>[:<port>[-<port>]]"; no port keeps the outside ports. */
static int
parse_inside(struct parser *p, const char *s, struct cfg_forward *f)
{
	char buf[64], *colon;
	unsigned n_out, n_in;

	if (strlen(s) >= sizeof(buf)) {
		perr(p, "bad inside address '%s'", s);
		return -1;
	}
	copy(buf, sizeof(buf), s);
	if ((colon = strchr(buf, ':')) != NULL)
		*colon++ = '\0';
	if (parse_host(p, buf, &f->to_addr) == -1)
		return -1;
	if (colon == NULL) {
		f->to_lo = f->port_lo;
		f->to_hi = f->port_hi;
		return 0;
	}
	if (parse_range(p, colon, &f->to_lo, &f->to_hi) == -1)
		return -1;
	n_out = (unsigned)(f->port_hi - f->port_lo) + 1;
	n_in = (unsigned)(f->to_hi - f->to_lo) + 1;
	if (n_in != 1 && n_in != n_out) {
		perr(p, "inside range %s has %u ports; it must be one port or "
		    "%u ports like the outside range", colon, n_in, n_out);
		return -1;
	}
	return 0;
}

static int
forward_overlaps(struct parser *p, const struct cfg_forward *f)
{
	const struct cfg_forward *g;
	int i;

	for (i = 0; i < p->cfg->nforwards; i++) {
		g = &p->cfg->forwards[i];
		if (g->proto != f->proto || strcmp(g->wan, f->wan) != 0 ||
		    f->port_lo > g->port_hi || g->port_lo > f->port_hi)
			continue;
		perr(p, "forward %s %s %u-%u overlaps the forward at line %d",
		    f->proto == IPPROTO_TCP ? "tcp" : "udp", f->wan,
		    f->port_lo, f->port_hi, g->line);
		return 1;
	}
	return 0;
}

static int
st_forward(struct parser *p, int ac, char **av)
{
	struct cfg_forward f;
	unsigned long n;

	memset(&f, 0, sizeof(f));
	if (strcmp(av[1], "tcp") == 0)
		f.proto = IPPROTO_TCP;
	else if (strcmp(av[1], "udp") == 0)
		f.proto = IPPROTO_UDP;
	else {
		perr(p, "unknown protocol '%s' (tcp or udp)", av[1]);
		return -1;
	}
	if (parse_ifname(p, av[2], f.wan) == -1 ||
	    parse_range(p, av[3], &f.port_lo, &f.port_hi) == -1)
		return -1;
	if (strcmp(av[4], "to") != 0) {
		perr(p, "expected 'to' after the outside ports, got '%s'", av[4]);
		return -1;
	}
	if (parse_inside(p, av[5], &f) == -1)
		return -1;
	if (ac > 6) {
		if (strcmp(av[6], "gate") != 0) {
			perr(p, "unexpected '%s' (only 'gate ftp' may follow)", av[6]);
			return -1;
		}
		if (ac == 7) {
			perr(p, "gate needs a kind (gate ftp)");
			return -1;
		}
		if (strcmp(av[7], "ftp") != 0) {
			perr(p, "unknown gate '%s' (only 'gate ftp')", av[7]);
			return -1;
		}
		if (f.proto != IPPROTO_TCP) {
			perr(p, "gate ftp is only valid on tcp forwards");
			return -1;
		}
		f.gate_ftp = true;
	}
	if (forward_overlaps(p, &f))
		return -1;
	n = (unsigned long)(f.port_hi - f.port_lo) + 1;
	if (p->fwd_ports + n > XDPNAT_MAX_FORWARD_PORTS) {
		perr(p, "forwards cover more than %d ports in total",
		    XDPNAT_MAX_FORWARD_PORTS);
		return -1;
	}
	if (p->cfg->nforwards >= CFG_MAX_FORWARDS) {
		perr(p, "too many forwards (max %d)", CFG_MAX_FORWARDS);
		return -1;
	}
	p->fwd_ports += n;
	f.line = p->line;
	p->cfg->forwards[p->cfg->nforwards++] = f;
	return 0;
}

static int
st_timeout(struct parser *p, int ac, char **av)
{
	static const char *const names[] = { "tcp-syn", "tcp-established",
	    "tcp-closing", "udp", "icmp", NULL };
	struct cfg_timeouts *t = &p->cfg->timeouts;
	unsigned *slot[] = { &t->tcp_syn, &t->tcp_est, &t->tcp_closing,
	    &t->udp, &t->icmp };
	unsigned long v;
	int k;

	(void)ac;
	if ((k = lookup(names, av[1])) == -1) {
		perr(p, "unknown timeout '%s' (tcp-syn, tcp-established, "
		    "tcp-closing, udp, icmp)", av[1]);
		return -1;
	}
	if (p->timeout_line[k] != 0) {
		perr(p, "timeout %s already set at line %d", av[1],
		    p->timeout_line[k]);
		return -1;
	}
	if (parse_num(p, "timeout", av[2], 1, CFG_TIMEOUT_MAX, &v) == -1)
		return -1;
	*slot[k] = (unsigned)v;
	p->timeout_line[k] = p->line;
	return 0;
}

static int
st_ctmax(struct parser *p, int ac, char **av)
{
	unsigned long v;

	(void)ac;
	if (p->ctmax_line != 0) {
		perr(p, "conntrack-max already set at line %d", p->ctmax_line);
		return -1;
	}
	if (parse_num(p, "conntrack-max", av[1], CFG_CT_MAX_MIN,
	    CFG_CT_MAX_MAX, &v) == -1)
		return -1;
	p->cfg->conntrack_max = (unsigned)v;
	p->ctmax_line = p->line;
	return 0;
}

static int
st_dir(struct parser *p, int ac, char **av)
{
	struct xdpnat_config *cfg = p->cfg;
	char *dst;
	int *line;

	(void)ac;
	if (strcmp(av[0], "pin-dir") == 0) {
		dst = cfg->pin_dir;
		line = &p->pin_line;
	} else if (strcmp(av[0], "state-dir") == 0) {
		dst = cfg->state_dir;
		line = &p->state_line;
	} else {
		dst = cfg->run_dir;
		line = &p->run_line;
	}
	if (*line != 0) {
		perr(p, "%s already set at line %d", av[0], *line);
		return -1;
	}
	if (parse_path(p, av[0], av[1], dst) == -1)
		return -1;
	*line = p->line;
	return 0;
}

/*
 * port-mapping <lan-if> [protocols pcp,natpmp] [wan <wan-if>]
 *     [ports <lo>-<hi>] [max-per-host <n>] [max-lifetime <seconds>]
 */
static int
st_portmap(struct parser *p, int ac, char **av)
{
	static const char *const opts[] = { "protocols", "wan", "ports",
	    "max-per-host", "max-lifetime", NULL };
	struct cfg_portmap m;
	unsigned seen = 0;
	unsigned long v;
	char buf[32], *w, *save;
	int i, k;

	memset(&m, 0, sizeof(m));
	if (parse_ifname(p, av[1], m.lan) == -1)
		return -1;
	m.pcp = m.natpmp = true;
	m.port_lo = XDPNAT_PORT_LO_DEFAULT;
	m.port_hi = XDPNAT_PORT_HI_DEFAULT;
	m.max_per_host = CFG_PORTMAP_PER_HOST_DEFAULT;
	m.max_lifetime = CFG_PORTMAP_LIFETIME_DEFAULT;
	for (i = 2; i < ac; i += 2) {
		if ((k = parse_opt(p, "port-mapping", opts, ac, av, i, &seen)) == -1)
			return -1;
		switch (k) {
		case 0:
			m.pcp = m.natpmp = false;
			/* strtok_r would skip empty words: refuse them here */
			if (strlen(av[i + 1]) >= sizeof(buf) ||
			    av[i + 1][0] == ',' ||
			    av[i + 1][strlen(av[i + 1]) - 1] == ',' ||
			    strstr(av[i + 1], ",,") != NULL)
				goto bad_proto;
			copy(buf, sizeof(buf), av[i + 1]);
			for (w = strtok_r(buf, ",", &save); w != NULL;
			    w = strtok_r(NULL, ",", &save)) {
				if (strcmp(w, "pcp") == 0)
					m.pcp = true;
				else if (strcmp(w, "natpmp") == 0)
					m.natpmp = true;
				else
					goto bad_proto;
			}
			if (!m.pcp && !m.natpmp)
				goto bad_proto;
			break;
		case 1:
			if (parse_ifname(p, av[i + 1], m.wan) == -1)
				return -1;
			break;
		case 2:
			if (parse_range(p, av[i + 1], &m.port_lo, &m.port_hi) == -1)
				return -1;
			break;
		case 3:
			if (parse_num(p, "max-per-host", av[i + 1], 1,
			    CFG_PORTMAP_PER_HOST_MAX, &v) == -1)
				return -1;
			m.max_per_host = (unsigned)v;
			break;
		default:
			if (parse_num(p, "max-lifetime", av[i + 1], 1,
			    CFG_TIMEOUT_MAX, &v) == -1)
				return -1;
			m.max_lifetime = (unsigned)v;
			break;
		}
	}
	for (i = 0; i < p->cfg->nportmaps; i++) {
		if (strcmp(p->cfg->portmaps[i].lan, m.lan) == 0) {
			perr(p, "port-mapping %s already declared at line %d",
			    m.lan, p->cfg->portmaps[i].line);
			return -1;
		}
	}
	if (p->cfg->nportmaps >= CFG_MAX_IFACES) {
		perr(p, "too many port-mapping statements (max %d)",
		    CFG_MAX_IFACES);
		return -1;
	}
	m.line = p->line;
	p->cfg->portmaps[p->cfg->nportmaps++] = m;
	return 0;
bad_proto:
	perr(p, "port-mapping protocols '%s': expected pcp, natpmp or "
	    "pcp,natpmp", av[i + 1]);
	return -1;
}

/*
 * flow-log <path>|syslog: the NAT log. The file is opened by the daemon
 * (appended to, created 0640); its directory must exist and be writable
 * now, and a file already there must be a writable regular file, so that
 * a typo is a `check` error and not a daemon that starts without its log.
 */
static int
st_flowlog(struct parser *p, int ac, char **av)
{
	char dir[CFG_PATH_MAX], *slash;
	struct stat st;

	(void)ac;
	if (p->flowlog_line != 0) {
		perr(p, "flow-log already set at line %d", p->flowlog_line);
		return -1;
	}
	if (strcmp(av[1], "syslog") == 0) {
		copy(p->cfg->flow_log, sizeof(p->cfg->flow_log), av[1]);
		p->flowlog_line = p->line;
		return 0;
	}
	if (parse_path(p, "flow-log", av[1], p->cfg->flow_log) == -1)
		return -1;
	copy(dir, sizeof(dir), p->cfg->flow_log);
	slash = strrchr(dir, '/');
	if (slash[1] == '\0') {
		perr(p, "flow-log %s names a directory, not a file", av[1]);
		goto bad;
	}
	*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(dir, &st) == -1) {
		perr(p, "flow-log %s: directory %s: %s", av[1], dir, strerror(errno));
		goto bad;
	}
	if (!S_ISDIR(st.st_mode)) {
		perr(p, "flow-log %s: %s is not a directory", av[1], dir);
		goto bad;
	}
	if (stat(av[1], &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			perr(p, "flow-log %s is not a regular file", av[1]);
			goto bad;
		}
		if (access(av[1], W_OK) == -1) {
			perr(p, "flow-log %s: %s", av[1], strerror(errno));
			goto bad;
		}
	} else if (access(dir, W_OK | X_OK) == -1) {
		perr(p, "flow-log %s: directory %s: %s", av[1], dir, strerror(errno));
		goto bad;
	}
	p->flowlog_line = p->line;
	return 0;
bad:
	p->cfg->flow_log[0] = '\0';
	return -1;
}

/* ddns options, in the order of their bits in `needs` below */
enum { O_USER, O_PASSWORD_FILE, O_TOKEN_FILE, O_SERVER, O_CA_FILE,
    O_INTERVAL, O_URL, O_FAILOVER };
static const char *const ddns_opts[] = { "user", "password-file",
    "token-file", "server", "ca-file", "interval", "url", "failover", NULL };

/* Indexed by enum cfg_ddns_provider. */
static const struct provider {
	const char *name;
	unsigned needs;		/* bits of the options it cannot work without */
} providers[] = {
	[DDNS_DYNDNS2]    = { "dyndns2", 1U << O_USER | 1U << O_PASSWORD_FILE },
	[DDNS_ORAY]       = { "oray", 1U << O_USER | 1U << O_PASSWORD_FILE },
	[DDNS_NOIP]       = { "noip", 1U << O_USER | 1U << O_PASSWORD_FILE },
	[DDNS_CLOUDFLARE] = { "cloudflare", 1U << O_TOKEN_FILE },
	[DDNS_CUSTOM]     = { "custom", 1U << O_URL },
};
#define NPROVIDERS	(int)(sizeof(providers) / sizeof(providers[0]))

static int
ddns_opt(struct parser *p, struct cfg_ddns *d, int k, const char *v)
{
	unsigned long n;

	switch (k) {
	case O_USER:
		return parse_str(p, "user", v, d->user, sizeof(d->user));
	case O_PASSWORD_FILE:
		return parse_secret(p, "password-file", v, d->password_file);
	case O_TOKEN_FILE:
		return parse_secret(p, "token-file", v, d->token_file);
	case O_SERVER:
		/* a bare host[:port][/path] means https:// (ddns_proto.c) */
		if (strstr(v, "://") == NULL)
			return parse_str(p, "server", v, d->server,
			    sizeof(d->server));
		return parse_url(p, "server", v, d->server, sizeof(d->server));
	case O_CA_FILE:
		return parse_path(p, "ca-file", v, d->ca_file);
	case O_INTERVAL:
		if (parse_num(p, "interval", v, CFG_DDNS_INTERVAL_MIN,
		    CFG_DDNS_INTERVAL_MAX, &n) == -1)
			return -1;
		d->interval = (unsigned)n;
		return 0;
	case O_FAILOVER:	/* checked against the wans at the end */
		return parse_ifname(p, v, d->failover);
	default:
		return parse_url(p, "url", v, d->url, sizeof(d->url));
	}
}

/* An http:// URL to anything but this host (loopback never leaves it). */
static bool
cleartext_remote(const char *url)
{
	const char *h = url + 7;
	size_t n = strcspn(h, ":/?#");

	if (strncmp(url, "http://", 7) != 0)
		return false;
	if (strncmp(h, "[::1]", 5) == 0)
		return false;
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return false;
	return !(n >= 4 && strncmp(h, "127.", 4) == 0 &&
	    strspn(h, "0123456789.") == n);
}

static int
st_ddns(struct parser *p, int ac, char **av)
{
	struct cfg_ddns d;
	unsigned seen = 0, missing;
	int i, k;

	memset(&d, 0, sizeof(d));
	d.interval = CFG_DDNS_INTERVAL_DEFAULT;
	if (parse_ifname(p, av[1], d.wan) == -1)
		return -1;
	for (k = 0; k < NPROVIDERS; k++)
		if (strcmp(providers[k].name, av[2]) == 0)
			break;
	if (k == NPROVIDERS) {
		perr(p, "unknown ddns provider '%s' (dyndns2, oray, noip, "
		    "cloudflare, custom)", av[2]);
		return -1;
	}
	d.provider = (enum cfg_ddns_provider)k;
	if (parse_hostname(p, av[3], d.fqdn, sizeof(d.fqdn)) == -1)
		return -1;
	for (i = 4; i < ac; i += 2) {
		if ((k = parse_opt(p, "ddns", ddns_opts, ac, av, i, &seen)) == -1 ||
		    ddns_opt(p, &d, k, av[i + 1]) == -1)
			return -1;
	}
	if ((missing = providers[d.provider].needs & ~seen) != 0) {
		perr(p, "ddns provider %s needs %s", providers[d.provider].name,
		    ddns_opts[__builtin_ctz(missing)]);
		return -1;
	}
	/* a password or token over plain HTTP is readable on every hop */
	if ((d.password_file[0] || d.token_file[0]) &&
	    (cleartext_remote(d.server) || cleartext_remote(d.url))) {
		perr(p, "ddns %s: %s would be sent in clear over http://; use https://",
		    d.fqdn, d.password_file[0] ? "the password" : "the token");
		return -1;
	}
	for (i = 0; i < p->cfg->nddns; i++) {
		if (strcmp(p->cfg->ddns[i].wan, d.wan) == 0 &&
		    strcasecmp(p->cfg->ddns[i].fqdn, d.fqdn) == 0) {
			perr(p, "ddns %s %s already declared at line %d", d.wan,
			    d.fqdn, p->cfg->ddns[i].line);
			return -1;
		}
	}
	if (p->cfg->nddns >= CFG_MAX_DDNS) {
		perr(p, "too many ddns statements (max %d)", CFG_MAX_DDNS);
		return -1;
	}
	d.line = p->line;
	p->cfg->ddns[p->cfg->nddns++] = d;
	return 0;
}

/* "21" or "21,2121"; no repeats. */
static int
parse_port_list(struct parser *p, const char *s, struct cfg_alg_ftp *a)
{
	char buf[128], *tok, *next;
	uint16_t port;
	int i;

	if (strlen(s) >= sizeof(buf) || s[0] == ',' || s[strlen(s) - 1] == ',' ||
	    strstr(s, ",,") != NULL) {
		perr(p, "bad port list '%s'", s);
		return -1;
	}
	copy(buf, sizeof(buf), s);
	a->nports = 0;
	for (tok = buf; tok != NULL; tok = next) {
		if ((next = strchr(tok, ',')) != NULL)
			*next++ = '\0';
		if (parse_port(p, tok, &port) == -1)
			return -1;
		for (i = 0; i < a->nports; i++) {
			if (a->ports[i] == port) {
				perr(p, "port %u listed twice", port);
				return -1;
			}
		}
		if (a->nports >= XDPNAT_FTP_PORTS) {
			perr(p, "too many ftp ports (the data path inspects at most %d)",
			    XDPNAT_FTP_PORTS);
			return -1;
		}
		a->ports[a->nports++] = port;
	}
	return 0;
}

static int
st_alg(struct parser *p, int ac, char **av)
{
	static const char *const opts[] = { "ports", "implicit-tls",
	    "expect-timeout", NULL };
	struct cfg_alg_ftp a = p->cfg->alg_ftp;	/* cfg_init() defaults */
	unsigned long v;
	unsigned seen = 0;
	int i, k, r;

	if (strcmp(av[1], "ftp") != 0) {
		perr(p, "unknown alg '%s' (only ftp)", av[1]);
		return -1;
	}
	if (a.enabled) {
		perr(p, "alg ftp already declared at line %d", a.line);
		return -1;
	}
	p->alg_line = p->line;
	for (i = 2; i < ac; i += 2) {
		if ((k = parse_opt(p, "alg ftp", opts, ac, av, i, &seen)) == -1)
			return -1;
		if (k == 0)
			r = parse_port_list(p, av[i + 1], &a);
		else if (k == 1)
			r = parse_port(p, av[i + 1], &a.implicit_tls_port);
		else if ((r = parse_num(p, "expect-timeout", av[i + 1], 1,
		    CFG_EXPECT_TIMEOUT_MAX, &v)) == 0)
			a.expect_timeout = (unsigned)v;
		if (r == -1)
			return -1;
	}
	for (i = 0; i < a.nports; i++) {
		if (a.ports[i] == a.implicit_tls_port) {
			perr(p, "implicit-tls port %u is also in ports",
			    a.implicit_tls_port);
			return -1;
		}
	}
	a.enabled = true;
	a.line = p->line;
	p->cfg->alg_ftp = a;
	return 0;
}

/* log-level err|warning|notice|info|debug */
static int
st_log_level(struct parser *p, int ac, char **av)
{
	static const char *const names[] = { "err", "warning", "notice",
	    "info", "debug", NULL };
	static const int levels[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE,
	    LOG_INFO, LOG_DEBUG };
	int k;

	(void)ac;
	if (p->log_line != 0) {
		perr(p, "log-level already set at line %d", p->log_line);
		return -1;
	}
	if ((k = lookup(names, av[1])) == -1) {
		perr(p, "unknown log-level '%s' (err, warning, notice, info, "
		    "debug)", av[1]);
		return -1;
	}
	p->cfg->log_level = levels[k];
	p->log_line = p->line;
	return 0;
}

/*
 * metrics <ip>:<port> [allow-wan]. Only what the line shows is checked
 * here; whether the address is local and not a WAN's is a question for
 * the running system (metrics_http_check()).
 */
static int
st_metrics(struct parser *p, int ac, char **av)
{
	struct cfg_metrics *m = &p->cfg->metrics;
	char buf[32], *colon;
	uint32_t h;

	if (m->enabled) {
		perr(p, "metrics already declared at line %d", m->line);
		return -1;
	}
	if (strlen(av[1]) >= sizeof(buf) ||
	    (colon = strrchr(copy(buf, sizeof(buf), av[1]), ':')) == NULL) {
		perr(p, "bad metrics address '%s' (expected <ipv4>:<port>)", av[1]);
		return -1;
	}
	*colon++ = '\0';
	if (inet_pton(AF_INET, buf, &m->addr) != 1) {
		perr(p, "bad IPv4 address '%s'", buf);
		return -1;
	}
	h = ntohl(m->addr.s_addr);
	if ((h >> 24) >= 224 || (h != 0 && (h >> 24) == 0)) {
		perr(p, "%s is not an address to listen on", buf);
		return -1;
	}
	if (parse_port(p, colon, &m->port) == -1)
		return -1;
	if (ac > 2 && strcmp(av[2], "allow-wan") != 0) {
		perr(p, "unexpected '%s' (only 'allow-wan' may follow)", av[2]);
		return -1;
	}
	m->allow_wan = ac > 2;
	if (h == 0 && !m->allow_wan) {
		perr(p, "metrics on 0.0.0.0 listens on the WANs' addresses too; "
		    "name one address, or add allow-wan");
		return -1;
	}
	m->enabled = true;
	m->line = p->line;
	return 0;
}

static const struct statement {
	const char *name;
	int min, max;		/* words after the keyword */
	const char *usage;
	int (*parse)(struct parser *, int, char **);
} statements[] = {
	{ "wan", 1, 13, "wan <ifname> [gateway <ipv4>] "
	    "[mss-clamp [<bytes>|auto]] [track <ip>[,<ip>...] "
	    "[interval <s>] [down <n>] [up <n>]]", st_wan },
	{ "lan", 1, 1, "lan <ifname>", st_lan },
	{ "outbound", 1, 5, "outbound <wan-if> [ports <lo>-<hi>] [filtering "
	  "address-port-dependent|address-dependent|endpoint-independent]", st_outbound },
	{ "inbound", 2, 2, "inbound <wan-if> accept|drop", st_inbound },
	{ "forward", 5, 7, "forward <tcp|udp> <wan-if> <port>[-<port>] "
	    "to <ip>[:<port>[-<port>]] [gate ftp]", st_forward },
	{ "timeout", 2, 2, "timeout <tcp-syn|tcp-established|tcp-closing|"
	    "udp|icmp> <seconds>", st_timeout },
	{ "conntrack-max", 1, 1, "conntrack-max <entries>", st_ctmax },
	{ "ddns", 3, 3 + 2 * 8, "ddns <wan-if> <provider> <fqdn> "
	    "[<option> <value>]...", st_ddns },
	{ "alg", 1, 1 + 2 * 3, "alg ftp [ports <port>[,<port>...]] "
	    "[implicit-tls <port>] [expect-timeout <seconds>]", st_alg },
	{ "port-mapping", 1, 1 + 2 * 5, "port-mapping <lan-if> "
	    "[protocols pcp,natpmp] [wan <wan-if>] [ports <lo>-<hi>] "
	    "[max-per-host <n>] [max-lifetime <seconds>]", st_portmap },
	{ "pin-dir", 1, 1, "pin-dir <path>", st_dir },
	{ "state-dir", 1, 1, "state-dir <path>", st_dir },
	{ "run-dir", 1, 1, "run-dir <path>", st_dir },
	{ "log-level", 1, 1, "log-level err|warning|notice|info|debug",
	    st_log_level },
	{ "metrics", 1, 2, "metrics <ipv4>:<port> [allow-wan]", st_metrics },
	{ "flow-log", 1, 1, "flow-log <path>|syslog", st_flowlog },
};

static void
parse_line(struct parser *p, char *s)
{
	const struct statement *st;
	char *av[MAX_WORDS];
	int ac = 0;
	size_t i;

	for (;;) {
		s += strspn(s, SPACE);
		if (*s == '\0' || *s == '#')	/* '#' starts a comment only at a word */
			break;
		if (ac == MAX_WORDS) {
			perr(p, "too many words on one line (max %d)", MAX_WORDS);
			return;
		}
		av[ac++] = s;
		s += strcspn(s, SPACE);
		if (*s != '\0')
			*s++ = '\0';
	}
	if (ac == 0)
		return;
	for (i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
		st = &statements[i];
		if (strcmp(st->name, av[0]) != 0)
			continue;
		if (ac - 1 < st->min)
			perr(p, "missing arguments; usage: %s", st->usage);
		else if (ac - 1 > st->max)
			perr(p, "unexpected '%s'; usage: %s", av[st->max + 1],
			    st->usage);
		else
			st->parse(p, ac, av);
		return;
	}
	perr(p, "unknown statement '%s'", av[0]);
}

/* ------------------------------------------------------------------ */
/* Whole-file checks */

static int
need_wan(struct parser *p, int line, const char *stmt, const char *name)
{
	int i;

	if (cfg_find_wan(p->cfg, name) != NULL)
		return 0;
	for (i = 0; i < p->cfg->nlans; i++) {
		if (strcmp(p->cfg->lans[i].ifname, name) == 0) {
			perr_at(p, line, "%s: %s is a lan (line %d), not a wan",
			    stmt, name, p->cfg->lans[i].line);
			return -1;
		}
	}
	perr_at(p, line, "%s: %s is not a wan interface (no 'wan %s' line)",
	    stmt, name, name);
	return -1;
}

/* A port-mapping serves a lan and maps on a wan (the first by default). */
static void
check_portmap(struct parser *p, struct cfg_portmap *m)
{
	int i;

	for (i = 0; i < p->cfg->nlans; i++)
		if (strcmp(p->cfg->lans[i].ifname, m->lan) == 0)
			break;
	if (i == p->cfg->nlans) {
		const struct cfg_wan *w = cfg_find_wan(p->cfg, m->lan);

		if (w != NULL)
			perr_at(p, m->line, "port-mapping: %s is a wan (line %d), "
			    "not a lan: requests from a WAN are never served",
			    m->lan, w->line);
		else
			perr_at(p, m->line, "port-mapping: %s is not a lan "
			    "interface (no 'lan %s' line)", m->lan, m->lan);
		return;
	}
	if (m->wan[0] == '\0') {
		if (p->cfg->nwans > 0)
			copy(m->wan, sizeof(m->wan), p->cfg->wans[0].ifname);
		return;
	}
	need_wan(p, m->line, "port-mapping", m->wan);
}

static void
check_file(struct parser *p, int last)
{
	struct xdpnat_config *cfg = p->cfg;
	struct cfg_wan *w;
	struct cfg_forward *f;
	int i;

	if (cfg->nwans == 0)
		perr_at(p, last, "no wan interface in the file");
	if (cfg->nlans == 0)
		perr_at(p, last, "no lan interface in the file");
	for (i = 0; i < p->noutb; i++) {
		if (need_wan(p, p->outb[i].line, "outbound", p->outb[i].ifname))
			continue;
		w = (struct cfg_wan *)cfg_find_wan(cfg, p->outb[i].ifname);
		w->outbound = true;
		w->port_lo = p->outb[i].lo;
		w->port_hi = p->outb[i].hi;
		w->filtering = p->outb[i].filtering;
	}
	for (i = 0; i < p->ninb; i++) {
		if (need_wan(p, p->inb[i].line, "inbound", p->inb[i].ifname))
			continue;
		w = (struct cfg_wan *)cfg_find_wan(cfg, p->inb[i].ifname);
		w->inbound_accept = p->inb[i].accept;
	}
	for (i = 0; i < cfg->nforwards; i++) {
		f = &cfg->forwards[i];
		if (need_wan(p, f->line, "forward", f->wan))
			continue;
		/* the gate opens only for sessions the ALG has seen; a bad
		 * `alg ftp` line was reported already */
		if (f->gate_ftp && p->alg_line == 0)
			perr_at(p, f->line, "gate ftp needs an 'alg ftp' line");
	}
	for (i = 0; i < cfg->nddns; i++) {
		const struct cfg_ddns *d = &cfg->ddns[i];

		if (need_wan(p, d->line, "ddns", d->wan) || !d->failover[0])
			continue;
		if (strcmp(d->failover, d->wan) == 0)
			perr_at(p, d->line, "ddns %s: failover names its own wan %s",
			    d->fqdn, d->wan);
		else
			need_wan(p, d->line, "ddns failover", d->failover);
	}
	for (i = 0; i < cfg->nportmaps; i++)
		check_portmap(p, &cfg->portmaps[i]);
}

static int
parse_buf(struct xdpnat_config *cfg, const char *name, const char *text,
    size_t len, FILE *err)
{
	struct parser ps, *p = &ps;
	char *buf, *line, *end;

	cfg_init(cfg);
	copy(cfg->path, sizeof(cfg->path), name);
	/* a private copy: the words are cut out of it in place */
	if ((buf = malloc(len + 1)) == NULL) {
		if (err != NULL)
			fprintf(err, "%s: %s\n", name, strerror(ENOMEM));
		return 1;
	}
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->name = name;
	p->err = err;
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; line < buf + len; line = end + 1) {
		if ((end = memchr(line, '\n', (size_t)(buf + len - line))) == NULL)
			end = buf + len;
		*end = '\0';
		p->line++;
		if (strlen(line) != (size_t)(end - line))
			perr(p, "NUL byte in line");
		else
			parse_line(p, line);
	}
	free(buf);
	check_file(p, p->line > 0 ? p->line : 1);
	return p->nerr;
}

/* ------------------------------------------------------------------ */
/* API */

void
cfg_init(struct xdpnat_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeouts.tcp_syn = NAT_TIMEOUT_TCP_SYN_DEFAULT;
	cfg->timeouts.tcp_est = NAT_TIMEOUT_TCP_EST_DEFAULT;
	cfg->timeouts.tcp_closing = NAT_TIMEOUT_TCP_CLOSING_DEFAULT;
	cfg->timeouts.udp = NAT_TIMEOUT_UDP_DEFAULT;
	cfg->timeouts.icmp = NAT_TIMEOUT_ICMP_DEFAULT;
	cfg->conntrack_max = XDPNAT_CT_MAX_DEFAULT;
	cfg->log_level = LOG_INFO;
	cfg->alg_ftp.ports[0] = 21;
	cfg->alg_ftp.nports = 1;
	cfg->alg_ftp.expect_timeout = NAT_TIMEOUT_EXPECT_DEFAULT;
	copy(cfg->pin_dir, sizeof(cfg->pin_dir), XDPNAT_PIN_DIR_DEFAULT);
	copy(cfg->state_dir, sizeof(cfg->state_dir), CFG_STATE_DIR_DEFAULT);
	copy(cfg->run_dir, sizeof(cfg->run_dir), CFG_RUN_DIR_DEFAULT);
}

int
cfg_parse_string(struct xdpnat_config *cfg, const char *name,
    const char *text, FILE *err)
{
	return parse_buf(cfg, name, text, strlen(text), err);
}

/* The whole file in one buffer, or NULL with errno set. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf = NULL, *nb;
	size_t cap = 0, len = 0, n;
	int saved;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	do {
		if (len == cap) {
			if (cap >= CFG_FILE_MAX) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap != 0 ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		errno = EIO;
		goto fail;
	}
	fclose(f);
	*lenp = len;
	return buf != NULL ? buf : calloc(1, 1);
fail:
	saved = errno;
	free(buf);
	fclose(f);
	errno = saved;
	return NULL;
}

int
cfg_parse_file(struct xdpnat_config *cfg, const char *path, FILE *err)
{
	char *buf;
	size_t len = 0;
	int nerr;

	if ((buf = slurp(path, &len)) == NULL) {
		cfg_init(cfg);
		copy(cfg->path, sizeof(cfg->path), path);
		if (err != NULL)
			fprintf(err, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	nerr = parse_buf(cfg, path, buf, len, err);
	free(buf);
	return nerr;
}

uint16_t
cfg_forward_map(const struct cfg_forward *f, uint16_t port)
{
	if (port < f->port_lo || port > f->port_hi)
		return 0;	/* not this forward's port */
	if (f->to_lo == f->to_hi)
		return f->to_lo;	/* one inside port (or one-to-one) */
	/* the parser made both ranges equally long: keep the offset */
	return (uint16_t)(f->to_lo + (port - f->port_lo));
}

const struct cfg_wan *
cfg_find_wan(const struct xdpnat_config *cfg, const char *ifname)
{
	int i;

	for (i = 0; i < cfg->nwans; i++)
		if (strcmp(cfg->wans[i].ifname, ifname) == 0)
			return &cfg->wans[i];
	return NULL;
}

const char *
cfg_ddns_provider_name(enum cfg_ddns_provider p)
{
	if ((int)p < 0 || (int)p >= NPROVIDERS)
		return "unknown";
	return providers[p].name;
}

const char *
cfg_iface_name(const struct xdpnat_config *cfg, int i)
{
	if (i < cfg->nwans)
		return cfg->wans[i].ifname;
	if (i < cfg->nwans + cfg->nlans)
		return cfg->lans[i - cfg->nwans].ifname;
	return NULL;
}

const struct cfg_forward *
cfg_find_forward(const struct xdpnat_config *cfg, const char *wan,
    uint8_t proto, uint16_t port)
{
	const struct cfg_forward *f;
	int i;

	for (i = 0; i < cfg->nforwards; i++) {
		f = &cfg->forwards[i];
		if (f->proto == proto && port >= f->port_lo &&
		    port <= f->port_hi && strcmp(f->wan, wan) == 0)
			return f;
	}
	return NULL;
}
