/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* flowlog.c - the NAT log's I/O (see flowlog.h). */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "nat_ct_key.h"
#include "common/clock.h"
#include "common/ctflow.h"
#include "common/log.h"
#include "config/config.h"
#include "daemon/flowlog.h"
#include "daemon/flowlog_fmt.h"

#define FLOWLOG_BATCH		8192	/* events per flowlog_process() */
#define FLOWLOG_BUF		(1 << 20)	/* stdio buffer of the file */
#define FLOWLOG_LINE		512
#define FLOWLOG_WANS		16	/* WAN names cached */

/* When a flow started (CLOCK_MONOTONIC), by its ORIG key: a tsearch tree. */
struct flow_start {
	struct nat_ct_key key;
	uint64_t ns;
};

struct flowlog {
	char target[CFG_PATH_MAX];
	FILE *out;			/* a file target */
	bool syslog;			/* the syslog target */
	struct ring_buffer *rb;
	int stats_fd;			/* nat_stats: flowlog_lost */
	int ncpus;
	void *starts;			/* tree of struct flow_start */
	size_t nstarts, max_starts;
	uint64_t ring_lost_seen;	/* nat_stats.flowlog_lost already reported */
	uint64_t write_lost, write_lost_seen;
	uint64_t written, in_buffer;
	int64_t real_minus_mono;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, per batch */
	unsigned batch;
	struct { uint32_t ifindex; char json[2 * IF_NAMESIZE + 8]; } wans[FLOWLOG_WANS];
};

static int start_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct flow_start *)a)->key, &((const struct flow_start *)b)->key,
		      sizeof(struct nat_ct_key));
}

static void clock_offset(struct flowlog *fl)
{
	struct timespec r;

	clock_gettime(CLOCK_REALTIME, &r);
	fl->real_minus_mono = (int64_t)((uint64_t)r.tv_sec * NS_PER_SEC + (uint64_t)r.tv_nsec) -
			      (int64_t)nat_now_ns();
}

/* The WAN's name as a JSON string, cached: a line must not cost a syscall. */
static const char *wan_json(struct flowlog *fl, uint32_t ifindex)
{
	unsigned slot = ifindex % FLOWLOG_WANS;
	char name[IF_NAMESIZE];

	if (fl->wans[slot].ifindex != ifindex || !fl->wans[slot].json[0]) {
		fl->wans[slot].ifindex = ifindex;
		if (!if_indextoname(ifindex, name))
			snprintf(name, sizeof(name), "#%u", ifindex);
		if (flowlog_json_string(name, fl->wans[slot].json, sizeof(fl->wans[slot].json)) < 0)
			snprintf(fl->wans[slot].json, sizeof(fl->wans[slot].json), "\"#%u\"", ifindex);
	}
	return fl->wans[slot].json;
}

/* Remember when the flow started; forget it and say how long it lived. */
static void note_start(struct flowlog *fl, const struct nat_flow_event *ev)
{
	struct flow_start *s, **found;

	if (fl->nstarts >= fl->max_starts || !(s = malloc(sizeof(*s))))
		return;
	s->key = ev->orig;
	s->ns = ev->time_ns;
	found = tsearch(s, &fl->starts, start_cmp);
	if (!found) {
		free(s);
		return;
	}
	if (*found != s) {		/* a start whose end we missed: the newer wins */
		(*found)->ns = ev->time_ns;
		free(s);
		return;
	}
	fl->nstarts++;
}

static int64_t take_start(struct flowlog *fl, const struct nat_flow_event *ev, uint64_t end_ns)
{
	struct flow_start key = { .key = ev->orig }, **found, *s;
	uint64_t start;

	found = tfind(&key, &fl->starts, start_cmp);
	if (!found)
		return -1;
	s = *found;
	start = s->ns;
	tdelete(&key, &fl->starts, start_cmp);
	free(s);
	fl->nstarts--;
	return end_ns >= start ? (int64_t)(end_ns - start) : 0;
}

static void write_line(struct flowlog *fl, const char *line)
{
	if (fl->syslog) {
		syslog(LOG_INFO, "%s", line);
		fl->written++;
	} else if (fl->out) {
		fputs(line, fl->out);
		fputc('\n', fl->out);
		fl->in_buffer++;
	}
}

/* One event, from the ring or from ctflow; end_ns: the flow's last
 * activity for "duration_s". */
static void log_event(struct flowlog *fl, const struct nat_flow_event *ev, uint64_t end_ns)
{
	char line[FLOWLOG_LINE];
	int64_t dur = -1;

	if (ev->event == NAT_FLOW_EV_START)
		note_start(fl, ev);
	else
		dur = take_start(fl, ev, end_ns);
	if (!fl->syslog && !fl->out)
		return;
	if (flowlog_format(ev, (uint64_t)((int64_t)ev->time_ns + fl->real_minus_mono),
			   wan_json(fl, ev->wan_ifindex), dur, line, sizeof(line)) < 0)
		return;
	write_line(fl, line);
}

static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct flowlog *fl = ctx;
	const struct nat_flow_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	log_event(fl, ev, ev->time_ns);
	/* a batch at a time: the loop has other work */
	return ++fl->batch >= FLOWLOG_BATCH ? -EAGAIN : 0;
}

/* ctflow removed a flow (timeout, TCP close, address change, flush). */
static void on_flow_end(void *arg, const struct nat_ct_key *okey, const struct nat_ct_value *oval,
			const struct nat_ct_value *rval, enum nat_flow_end why, uint64_t now_ns)
{
	struct flowlog *fl = arg;
	struct nat_flow_event ev = {
		.time_ns = now_ns, .orig = *okey, .wan_ifindex = oval->wan_ifindex,
		.event = NAT_FLOW_EV_END, .reason = (__u8)why, .kind = oval->kind,
		.packets = { oval->packets, rval ? rval->packets : 0 },
		.bytes = { oval->bytes, rval ? rval->bytes : 0 },
	};
	__u32 last = oval->last_seen;
	uint64_t last_ns;

	ct_twin_key(&ev.reply, oval, okey->proto);
	if (rval && nat_ticks_since(rval->last_seen, last) > 0)
		last = rval->last_seen;
	/* ticks are the top bits of CLOCK_MONOTONIC ns: the flow's last packet */
	last_ns = (now_ns & ~((1ULL << (NAT_TICK_SHIFT + 32)) - 1)) |
		  ((uint64_t)last << NAT_TICK_SHIFT);
	if (last_ns > now_ns)
		last_ns -= 1ULL << (NAT_TICK_SHIFT + 32);
	clock_offset(fl);
	log_event(fl, &ev, last_ns);
}

struct flowlog *flowlog_new(size_t max_starts)
{
	struct flowlog *fl = calloc(1, sizeof(*fl));

	if (!fl)
		return NULL;
	fl->stats_fd = -1;
	fl->max_starts = max_starts;
	fl->ncpus = libbpf_num_possible_cpus();
	return fl;
}

static int open_target(struct flowlog *fl, const char *target);

static void close_target(struct flowlog *fl)
{
	flowlog_flush(fl);
	if (fl->out)
		fclose(fl->out);
	fl->out = NULL;
	if (fl->syslog)
		closelog();
	fl->syslog = false;
}

/* ctflow tells us of the flows it removes only while there is a log: it
 * reads each flow's REPLY entry for us. */
static void update_hook(struct flowlog *fl)
{
	if (fl->rb)
		ctflow_set_end_hook(fl->out || fl->syslog ? on_flow_end : NULL, fl);
}

int flowlog_set_target(struct flowlog *fl, const char *target)
{
	int rc = open_target(fl, target);

	update_hook(fl);
	return rc;
}

static int open_target(struct flowlog *fl, const char *target)
{
	int fd;

	close_target(fl);
	memset(fl->wans, 0, sizeof(fl->wans));	/* names may have changed too */
	snprintf(fl->target, sizeof(fl->target), "%s", target);
	if (!target[0])
		return 0;
	if (!strcmp(target, "syslog")) {
		openlog("xdpnat", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		fl->syslog = true;
		return 0;
	}
	fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd >= 0)
		fl->out = fdopen(fd, "a");
	if (!fl->out) {
		nat_log("flow-log %s: %s", target, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setvbuf(fl->out, NULL, _IOFBF, FLOWLOG_BUF);
	return 0;
}

static uint64_t ring_lost(const struct flowlog *fl)
{
	struct nat_stats *per;
	uint64_t sum = 0;
	__u32 zero = 0;

	if (fl->stats_fd < 0 || fl->ncpus <= 0 || !(per = calloc((size_t)fl->ncpus, sizeof(*per))))
		return 0;
	if (!bpf_map_lookup_elem(fl->stats_fd, &zero, per))
		for (int i = 0; i < fl->ncpus; i++)
			sum += per[i].flowlog_lost;
	free(per);
	return sum;
}

int flowlog_attach(struct flowlog *fl, const struct nat_maps *m)
{
	fl->rb = ring_buffer__new(m->flowlog, on_ring_event, fl, NULL);
	if (!fl->rb) {
		nat_log("flow-log: cannot read the ring buffer nat_flowlog: %s", strerror(errno));
		return -1;
	}
	fl->stats_fd = m->stats;
	fl->ring_lost_seen = ring_lost(fl);
	update_hook(fl);
	return 0;
}

int flowlog_fd(const struct flowlog *fl)
{
	return fl->rb ? ring_buffer__epoll_fd(fl->rb) : -1;
}

bool flowlog_process(struct flowlog *fl)
{
	int rc;

	if (!fl->rb)
		return false;
	clock_offset(fl);
	fl->batch = 0;
	rc = ring_buffer__consume(fl->rb);
	flowlog_flush(fl);
	return rc == -EAGAIN;
}

void flowlog_flush(struct flowlog *fl)
{
	if (!fl->out || !fl->in_buffer)
		return;
	/* a failed write (disk full) loses what was buffered: counted and
	 * reported by flowlog_tick(), never retried or waited on */
	if (fflush(fl->out) == EOF || ferror(fl->out)) {
		fl->write_lost += fl->in_buffer;
		clearerr(fl->out);
		__fpurge(fl->out);
	} else {
		fl->written += fl->in_buffer;
	}
	fl->in_buffer = 0;
}

static void report(struct flowlog *fl, uint64_t n, const char *what)
{
	char line[FLOWLOG_LINE];
	struct timespec r;

	nat_log("flow-log: %llu events lost (%s)", (unsigned long long)n, what);
	clock_gettime(CLOCK_REALTIME, &r);
	if (flowlog_format_lost((uint64_t)r.tv_sec * NS_PER_SEC + (uint64_t)r.tv_nsec, n, what,
				line, sizeof(line)) > 0)
		write_line(fl, line);
}

void flowlog_tick(struct flowlog *fl)
{
	uint64_t lost = ring_lost(fl);

	if (lost > fl->ring_lost_seen)
		report(fl, lost - fl->ring_lost_seen, "ring buffer full");
	fl->ring_lost_seen = lost;
	if (fl->write_lost > fl->write_lost_seen)
		report(fl, fl->write_lost - fl->write_lost_seen, "write failed");
	fl->write_lost_seen = fl->write_lost;
	flowlog_flush(fl);
}

uint64_t flowlog_written(const struct flowlog *fl)
{
	return fl->written;
}

void flowlog_free(struct flowlog *fl)
{
	if (!fl)
		return;
	ctflow_set_end_hook(NULL, NULL);
	close_target(fl);
	ring_buffer__free(fl->rb);
	tdestroy(fl->starts, free);
	free(fl);
}
