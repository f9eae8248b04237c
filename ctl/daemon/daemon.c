/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * daemon.c - the daemon: start-up, the event loop, reload and stop.
 *
 * It owns no map itself; it wires the modules that do. The loader
 * (daemon/loader.c) attaches, wan/wanstate.c is told about every attached
 * interface and address event and tells DDNS, daemon/gc.c expires,
 * wan/routegen.c invalidates cached next hops, and the FTP ALG runs its
 * own thread (alg/alg.c). The DDNS worker is another thread (wan/ddns.c),
 * fed through ddns_address_changed() and never waited on.
 *
 * The PCP/NAT-PMP server (portmap/portmap.c) runs in the loop: its
 * sockets are polled, its expiry rides the GC tick, and a reload restarts
 * it on its saved table.
 *
 * The loop is one thread around poll(): a signalfd (SIGINT/SIGTERM stop,
 * SIGHUP reloads), a 1 s timerfd (GC), the address watcher's and the
 * route watcher's netlink sockets, and the link watcher's: a configured
 * interface that appears (pppd created ppp0) is attached, one that is
 * deleted is forgotten until it comes back (loader_relink). The metrics
 * endpoint serves scrapes from a thread of its own (daemon/metrics.h).
 *
 * Under systemd (Type=notify) the daemon says READY=1 once every interface
 * is attached and the loop is about to run, RELOADING=1 / READY=1 around a
 * reload and STOPPING=1 when it stops (sd_notify(3); nothing without
 * NOTIFY_SOCKET).
 *
 * Lifecycle. The data path outlives the daemon: stopping (or a crash)
 * leaves the programs attached and the maps pinned, so flows keep being
 * translated and the WAN keeps its leak guard; only expiry and address
 * tracking pause. A new run adopts it all (daemon/migrate.h) and swaps its
 * programs in atomically; `xdpnat detach` removes it. One daemon per
 * run-dir and pin-dir: a lock, held while the daemon lives.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include "alg/alg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/runfiles.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/flowlog.h"
#include "daemon/gc.h"
#include "daemon/linkwatch.h"
#include "daemon/loader.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"
#include "daemon/status.h"
#include "daemon/udpkeyed.h"
#include "portmap/portmap.h"
#include "wan/addrwatch.h"
#include "wan/ddns.h"
#include "wan/failover.h"
#include "wan/routegen.h"
#include "wan/wanstate.h"

struct daemon_ctx {
	struct nat_daemon *d;
	struct nat_maps maps;		/* filled once after load */
	struct wanstate ws;
	struct daemon_status st;
	struct addrwatch *aw;
	struct linkwatch *lw;		/* interfaces created and deleted (ppp0) */
	struct routegen *rg;		/* next-hop cache invalidation */
	struct ddns *ddns;
	struct metrics *metrics;	/* the Prometheus endpoint's thread, NULL without */
	int metrics_fd;			/* its socket, bound before the start attaches */
	struct failover *fo;		/* `track`: probes and steering, or NULL */
	struct alg *alg;		/* FTP ALG over AF_XDP, NULL without `alg ftp` */
	struct portmap *pm;		/* PCP/NAT-PMP server, NULL without `port-mapping` */
	struct alg_iface alg_ifs[XDPNAT_MAX_IFACES];	/* what it was started on */
	int alg_nifs;
	struct status_record prev;	/* what the previous run recorded */
	int lock_fd, pin_lock_fd;
	int signal_fd, timer_fd;
	bool running;			/* the start completed */
	bool status_dirty;
	bool gc_failing;
	struct gc_cursor gc;		/* where the GC's walk of nat_ct stands */
	struct flowlog *fl;		/* the NAT log (`flow-log`); always reads the ring */
};

/* Parse into *cfg; the parser prints every error as FILE:LINE: message. */
static int load_config(const char *path, struct xdpnat_config *cfg, FILE *err)
{
	cfg_init(cfg);
	return cfg_parse_file(cfg, path, err);
}

/* ---------------------------------------------------------------- events */

/* wanstate's word that a WAN's address changed: DDNS follows it. */
static void on_wan_addr(void *arg, uint32_t ifindex, struct in_addr addr)
{
	struct daemon_ctx *x = arg;
	struct nat_link *l = loader_find_link(x->d, (int)ifindex);

	if (l)
		ddns_address_changed(x->ddns, l->ifname, addr);
	portmap_wan_changed(x->pm, ifindex);
}

static void on_addr_event(void *arg, const struct addrwatch_event *ev)
{
	struct daemon_ctx *x = arg;

	if (!loader_find_link(x->d, ev->ifindex))
		return;
	wanstate_apply(&x->ws, ev);	/* logs WAN changes itself */
	x->status_dirty = true;
}

/* The ALG thread may stop on its own (it then hands its sessions back):
 * status.json says the daemon is degraded until a reload restarts it. */
static void alg_watch(struct daemon_ctx *x)
{
	const char *now = !x->alg ? "off" : alg_failed(x->alg) ? "failed" : "running";

	if (x->st.alg && !strcmp(x->st.alg, now))
		return;
	if (!strcmp(now, "failed"))
		nat_log_at(LOG_WARNING, "alg: the FTP ALG has stopped: degraded until a reload (SIGHUP) "
			"restarts it; FTP control flows pass uninspected meanwhile");
	x->st.alg = now;
	x->status_dirty = true;
}

/* One GC step a second: GC_ENTRIES_PER_SEC entries of nat_ct, so a large
 * table costs the loop the same per second as a small one. */
static void on_gc_tick(struct daemon_ctx *x)
{
	struct gc_result r;
	uint64_t expirations;
	int rc;

	if (read(x->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	alg_watch(x);
	portmap_tick(x->pm);
	rc = gc_step(&x->maps, &x->gc, nat_now_ns(), GC_ENTRIES_PER_SEC, &r);
	if (rc < 0 && !x->gc_failing)
		nat_log_at(LOG_WARNING, "gc: %s (logged once until it recovers)", strerror(-rc));
	else if (rc >= 0 && x->gc_failing)
		nat_log("gc: recovered");
	x->gc_failing = rc < 0;
	flowlog_tick(x->fl);
	if (rc == 1 && (r.flows_expired || r.orphans_deleted || r.expects_expired ||
			r.gates_expired || r.algs_deleted))
		nat_log("gc: %llu flows expired, %llu orphan entries, %llu expectations, "
			"%llu gates, %llu ALG states",
			(unsigned long long)r.flows_expired, (unsigned long long)r.orphans_deleted,
			(unsigned long long)r.expects_expired, (unsigned long long)r.gates_expired,
			(unsigned long long)r.algs_deleted);
}

/* What the data path must know of how an interface is attached: a
 * generic-mode interface takes no redirect from a native program
 * (NAT_IFACE_F_XDP_GENERIC in xdpnat.h). */
static __u8 link_flags(const struct nat_link *l)
{
	/* before the attach: the mode of the program found there */
	__u32 mode = l->xdp_mode ? l->xdp_mode : l->xdp_mode_found;
	bool generic = mode == XDP_FLAGS_SKB_MODE;

	return (generic ? NAT_IFACE_F_XDP_GENERIC : 0) | (l->l3 ? NAT_IFACE_F_L3 : 0) |
	       /* senders on this machine (veth, tun/tap), or whatever hands
		* the skb in to generic XDP (a bridge port): unfinished
		* checksums possible */
	       (l->local_senders || generic ? NAT_IFACE_F_PARTIAL_CSUM : 0);
}

/* Every attached interface, as wanstate must know it. */
static int put_ifaces(struct daemon_ctx *x)
{
	int err = 0;

	for (int i = 0; i < x->d->nlinks; i++) {
		const struct nat_link *l = &x->d->links[i];

		err |= wanstate_put_iface(&x->ws, (uint32_t)l->ifindex, l->ifname, l->role,
					  l->slot, link_flags(l));
	}
	return err ? -1 : 0;
}

/* The loader detaches an interface or swaps its role: it leaves wanstate
 * first (its address, flows and nat_ifaces entry go). */
static void on_link_leaving(void *arg, const struct nat_link *l)
{
	struct daemon_ctx *x = arg;

	wanstate_remove_iface(&x->ws, (uint32_t)l->ifindex);
}

/* The interfaces the FTP ALG opens sockets on: the attached links, with
 * their nat_ifaces.slot. */
static int alg_ifaces(const struct nat_daemon *d, struct alg_iface *ifs)
{
	int n = 0;

	for (int i = 0; i < d->nlinks && n < XDPNAT_MAX_IFACES; i++, n++) {
		memset(&ifs[n], 0, sizeof(ifs[n]));
		snprintf(ifs[n].name, sizeof(ifs[n].name), "%s", d->links[i].ifname);
		ifs[n].ifindex = d->links[i].ifindex;
		ifs[n].slot = d->links[i].slot;
		ifs[n].l3 = d->links[i].l3;
	}
	return n;
}

/* Tell the next-hop cache keeper which interfaces (slots) are attached. */
static void routegen_links(struct daemon_ctx *x)
{
	struct routegen_link l[XDPNAT_MAX_IFACES];
	int n = 0;

	for (int i = 0; i < x->d->nlinks && n < XDPNAT_MAX_IFACES; i++, n++) {
		l[n].ifindex = x->d->links[i].ifindex;
		l[n].slot = x->d->links[i].slot;
	}
	if (routegen_set_links(x->rg, l, n, nat_now_ms()))
		nat_log_at(LOG_ERR, "cannot read the interfaces' MTU and MAC addresses; retrying "
			"(until then every packet takes a FIB lookup)");
}

static void start_alg(struct daemon_ctx *x)
{
	struct nat_daemon *d = x->d;

	x->alg = NULL;
	x->alg_nifs = alg_ifaces(d, x->alg_ifs);
	if (!d->cfg.alg_ftp.enabled) {
		alg_off(&x->maps);	/* sessions saved by an earlier ALG go back to XDP */
		return;
	}
	x->alg = alg_start(&d->cfg, &x->maps, x->alg_ifs, x->alg_nifs);
	if (!x->alg)
		nat_log_at(LOG_WARNING, "alg ftp: not running; FTP control flows pass uninspected");
}

/* After a reload: restart the ALG only if `alg ftp` or the interfaces
 * changed, or its thread failed (a restart here hands the inspected
 * control flows back to XDP), or an interface's rx queue count changed
 * (then the sessions are kept and resumed: nothing else changed). */
static void reload_alg(struct daemon_ctx *x)
{
	struct alg_iface now[XDPNAT_MAX_IFACES];
	int n = alg_ifaces(x->d, now);

	if (!!x->alg == x->d->cfg.alg_ftp.enabled && n == x->alg_nifs &&
	    !memcmp(now, x->alg_ifs, sizeof(now[0]) * (size_t)n) && !alg_failed(x->alg)) {
		if (!alg_queues_changed(x->alg))
			return;
		nat_log("reload: rx queues changed: the FTP ALG restarts on them");
		alg_stop(x->alg, false);
		start_alg(x);
		return;
	}
	alg_stop(x->alg, true);
	start_alg(x);
}

static void log_lines(int prio, const char *prefix, char *text)
{
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		nat_log_at(prio, "%s%s", prefix, line);
}

/* The metrics socket for cfg, -1 (errors logged) if it cannot be had;
 * -2 when cfg has no `metrics` line. */
static int metrics_socket(const struct xdpnat_config *cfg, int prio, const char *prefix)
{
	char *errors = NULL;
	size_t len = 0;
	FILE *err;
	int fd;

	if (!cfg->metrics.enabled)
		return -2;
	err = open_memstream(&errors, &len);
	fd = metrics_http_listen(cfg, err);
	if (err)
		fclose(err);
	log_lines(prio, prefix, errors);
	free(errors);
	return fd;
}

static bool metrics_changed(const struct cfg_metrics *a, const struct cfg_metrics *b)
{
	return a->enabled != b->enabled || a->addr.s_addr != b->addr.s_addr ||
	       a->port != b->port || a->allow_wan != b->allow_wan;
}

/* Serve fd (or nothing for fd < 0) from now on. */
static void start_metrics(struct daemon_ctx *x, int fd)
{
	x->metrics = fd >= 0 ? metrics_start(fd, &x->maps) : NULL;
	x->st.metrics[0] = '\0';
	if (!x->metrics)
		return;
	metrics_update(x->metrics, &x->d->cfg, x->ddns, x->st.started);
	metrics_http_addr(&x->d->cfg.metrics, x->st.metrics, sizeof(x->st.metrics));
	nat_log("metrics: serving http://%s/metrics", x->st.metrics);
}

/* After a reload or a link change: the PCP/NAT-PMP server starts again on
 * its saved table; mappings a new static forward overlaps, or of a LAN no
 * longer served, go; those of a WAN device made anew follow it. */
static void restart_portmap(struct daemon_ctx *x, const char *why)
{
	portmap_stop(x->pm);
	if (portmap_start(&x->pm, &x->d->cfg, &x->maps))
		nat_log("%s: port-mapping is not served until the next reload", why);
}

/* The tracked WANs' health, for the metrics endpoint. */
static void health_to_metrics(struct daemon_ctx *x)
{
	struct failover_health h[CFG_MAX_IFACES];

	metrics_set_health(x->metrics, h, failover_health(x->fo, h, CFG_MAX_IFACES));
}

/* SIGHUP: a bad file changes nothing; a good one is applied in place. */
static void on_reload(struct daemon_ctx *x)
{
	static struct xdpnat_config next;
	const struct loader_link_ops ops = { .leaving = on_link_leaving, .arg = x };
	char *errors = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&errors, &len);
	int nerr;

	bool new_metrics;
	int mfd = -2;

	sd_notify(0, "RELOADING=1");
	nat_log("reload: reading %s", x->d->cfg.path);
	nerr = load_config(x->d->cfg.path, &next, err ? err : stderr);
	if (err)
		fclose(err);
	new_metrics = !nerr && metrics_changed(&x->d->cfg.metrics, &next.metrics);
	if (new_metrics && next.metrics.enabled) {
		/* the old endpoint goes only once the new one is bound; the
		 * same port on another address needs the old one closed first */
		if (x->d->cfg.metrics.port == next.metrics.port) {
			metrics_stop(x->metrics);
			x->metrics = NULL;
		}
		mfd = metrics_socket(&next, LOG_WARNING, "reload: ");
		if (mfd == -1)
			nerr = 1;
	}
	if (nerr) {
		log_lines(LOG_WARNING, "reload: ", errors);
		nat_log_at(LOG_WARNING, "reload: %d error(s), keeping the running configuration", nerr);
		if (new_metrics && !x->metrics) {	/* the old one back, if it can be */
			start_metrics(x, metrics_socket(&x->d->cfg, LOG_WARNING, "reload: "));
			x->status_dirty = true;
		}
	} else if (loader_reload(x->d, &next, &ops) == 0) {
		nat_log_set_level(x->d->cfg.log_level);
		if (new_metrics) {
			metrics_stop(x->metrics);
			start_metrics(x, mfd);
		} else {
			metrics_update(x->metrics, &x->d->cfg, x->ddns, x->st.started);
		}
		put_ifaces(x);
		reload_alg(x);
		alg_watch(x);
		ddns_reload(x->ddns, &x->d->cfg);
		failover_reload(&x->fo, &x->d->cfg, &x->ws, x->ddns);
		health_to_metrics(x);
		x->st.fo = x->fo;
		addrwatch_dump(x->aw, on_addr_event, x);	/* addresses of added interfaces */
		restart_portmap(x, "reload");
		routegen_links(x);
		x->status_dirty = true;
	} else if (mfd >= 0) {
		close(mfd);
		if (!x->metrics)
			start_metrics(x, metrics_socket(&x->d->cfg, LOG_WARNING, "reload: "));
		x->status_dirty = true;
	}
	free(errors);
	sd_notify(0, "READY=1");
}

/* The kernel's interfaces changed under the configured names: attach
 * what appeared, forget what went, then everything that follows the set
 * of interfaces follows, as after a reload. Also run from the 1 s tick:
 * a look costs one if_nametoindex() per configured interface. */
static void on_links_changed(struct daemon_ctx *x)
{
	const struct loader_link_ops ops = { .leaving = on_link_leaving, .arg = x };
	int rc = loader_relink(x->d, &ops);

	if (rc == 0)
		return;
	if (rc < 0)
		nat_log("link: cannot rewrite nat_config or nat_forwards; retrying");
	put_ifaces(x);
	reload_alg(x);
	alg_watch(x);
	restart_portmap(x, "link");	/* a WAN's new ifindex */
	if (addrwatch_dump(x->aw, on_addr_event, x))	/* the new device's address */
		nat_log("link: cannot read the current addresses; waiting for changes");
	routegen_links(x);
	x->status_dirty = true;
}

/* Returns false when the daemon should stop. */
static bool on_signal(struct daemon_ctx *x)
{
	struct signalfd_siginfo si;

	if (read(x->signal_fd, &si, sizeof(si)) != sizeof(si))
		return true;
	if (si.ssi_signo == SIGHUP) {
		on_reload(x);
		/* reopened on every SIGHUP, also when the file had errors:
		 * logrotate moved it away */
		flowlog_set_target(x->fl, x->d->cfg.flow_log);
		return true;
	}
	nat_log("%s received, stopping", strsignal((int)si.ssi_signo));
	return false;
}

#define POLL_BASE	7		/* signal, timer, address, route and link watchers,
				 * failover, flow log */

static int event_loop(struct daemon_ctx *x)
{
	struct pollfd pfd[POLL_BASE + CFG_MAX_IFACES] = {
		{ .fd = x->signal_fd, .events = POLLIN },
		{ .fd = x->timer_fd, .events = POLLIN },
		{ .fd = addrwatch_fd(x->aw), .events = POLLIN },
		{ .fd = routegen_fd(x->rg), .events = POLLIN },
		{ .fd = linkwatch_fd(x->lw), .events = POLLIN },
		{ .fd = -1, .events = POLLIN },		/* failover, after a reload too */
		{ .fd = flowlog_fd(x->fl), .events = POLLIN },
	};
	bool rg_failing = false;
	int npm;

	for (;;) {
		if (x->status_dirty) {
			status_write(&x->st);
			x->status_dirty = false;
		}
		/* a reload may have reopened them */
		pfd[5].fd = failover_fd(x->fo);
		npm = portmap_pollfds(x->pm, pfd + POLL_BASE, CFG_MAX_IFACES);
		if (poll(pfd, (nfds_t)(POLL_BASE + npm),
			 routegen_timeout_ms(x->rg, nat_now_ms())) < 0) {
			if (errno == EINTR)
				continue;
			nat_log_at(LOG_ERR, "poll: %s", strerror(errno));
			return 1;
		}
		if ((pfd[0].revents & POLLIN) && !on_signal(x))
			return 0;
		if (pfd[1].revents & POLLIN) {
			on_gc_tick(x);
			on_links_changed(x);	/* a safety net for the link watch */
		}
		/* before addresses: a new ppp0's address needs it attached */
		if ((pfd[4].revents & POLLIN) && linkwatch_process(x->lw))
			on_links_changed(x);
		if ((pfd[2].revents & POLLIN) && addrwatch_process(x->aw, on_addr_event, x))
			nat_log_at(LOG_ERR, "address watch: cannot read netlink events");
		if (pfd[3].revents & POLLIN) {
			int err = routegen_process(x->rg, nat_now_ms());

			if (err && !rg_failing)
				nat_log_at(LOG_WARNING, "route watch: %s (logged once)", strerror(-err));
			rg_failing = err != 0;
		}
		if ((pfd[5].revents & POLLIN) && failover_process(x->fo)) {
			x->status_dirty = true;
			health_to_metrics(x);
		}
		routegen_flush(x->rg, nat_now_ms());	/* a bump held back by the rate limit */
		for (int i = POLL_BASE; i < POLL_BASE + npm; i++)
			if (pfd[i].revents & POLLIN)
				portmap_input(x->pm, pfd[i].fd);
		if (pfd[6].revents & POLLIN)
			flowlog_process(x->fl);	/* a batch; more keeps the fd readable */
		flowlog_flush(x->fl);		/* flows the GC or wanstate removed */
	}
}

/* ---------------------------------------------------------------- start, stop */

/*
 * One daemon (or `detach`) at a time per run-dir and per pin-dir: an
 * flock on <run-dir>/xdpnat.lock and on the pin directory if it exists,
 * held until the process exits (daemon() keeps them: the child inherits
 * the open file). A lock, unlike a pid file, cannot be left stale by a
 * killed daemon.
 */
static int lock_path(const char *path, bool dir, const char *what, const char *run_dir)
{
	int fd = open(path, dir ? O_RDONLY | O_DIRECTORY | O_CLOEXEC
				: O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	pid_t other;

	if (fd < 0)
		return dir && errno == ENOENT ? -2 : -1;
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return fd;
	close(fd);
	if (errno != EWOULDBLOCK)
		return -1;
	other = run_read_pid(run_dir);
	if (other)
		nat_log("another xdpnat (pid %d) holds the lock of this %s (%s); leaving it alone",
			(int)other, what, path);
	else
		nat_log("another xdpnat holds the lock of this %s (%s); leaving it alone", what,
			path);
	errno = EWOULDBLOCK;
	return -1;
}

static int take_locks(const struct xdpnat_config *cfg, int *run_lock, int *pin_lock)
{
	char path[PATH_MAX];

	if (run_mkdir_p(cfg->run_dir, 0755) ||
	    run_path(path, sizeof(path), cfg->run_dir, RUN_LOCK_FILE)) {
		nat_log("run-dir %s: %s", cfg->run_dir,
			errno == EPERM && run_dir_unsafe(cfg->run_dir) ? run_dir_unsafe(cfg->run_dir)
								       : strerror(errno));
		return -1;
	}
	*run_lock = lock_path(path, false, "run-dir", cfg->run_dir);
	if (*run_lock < 0) {
		if (errno != EWOULDBLOCK)
			nat_log_at(LOG_ERR, "cannot lock %s: %s", path, strerror(errno));
		return -1;
	}
	*pin_lock = lock_path(cfg->pin_dir, true, "pin-dir", cfg->run_dir);
	if (*pin_lock == -1) {
		close(*run_lock);
		*run_lock = -1;
		return -1;
	}
	return 0;
}

/* The previous run's record: a mount or directory it made stays ours. */
static void keep_previous_record(struct daemon_ctx *x)
{
	struct nat_daemon *d = x->d;

	if (status_read_record(d->cfg.run_dir, &x->prev))
		return;
	if (!d->bpffs_mounted[0])
		snprintf(d->bpffs_mounted, sizeof(d->bpffs_mounted), "%s", x->prev.bpffs_mounted);
	if (!d->pin_dir_made[0])
		snprintf(d->pin_dir_made, sizeof(d->pin_dir_made), "%s", x->prev.pin_dir_made);
}

/* A clsact qdisc the previous run made is still ours to remove one day. */
static void previous_clsacts(struct daemon_ctx *x)
{
	for (int i = 0; i < x->prev.nlinks; i++) {
		struct nat_link *l = loader_find_link(x->d, x->prev.links[i].ifindex);

		if (l && !strcmp(l->ifname, x->prev.links[i].ifname))
			l->clsact_created = x->prev.links[i].clsact_created;
	}
}

/* Interfaces the previous run was attached to and this configuration no
 * longer names: detach them, as a reload that removes them would. */
static void detach_unconfigured(struct daemon_ctx *x)
{
	for (int i = 0; i < x->prev.nlinks; i++) {
		const struct status_link *p = &x->prev.links[i];
		int ifindex = (int)if_nametoindex(p->ifname);
		struct nat_link *l = ifindex ? loader_find_link(x->d, ifindex) : NULL;

		if (!ifindex || l)
			continue;
		wanstate_remove_iface(&x->ws, (uint32_t)ifindex);
		if (loader_detach_ours(p->ifname, ifindex, p->clsact_created))
			nat_log("%s: no longer in the configuration, detached", p->ifname);
	}
}

static int block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, mask, NULL)) {
		nat_log_at(LOG_ERR, "cannot block signals: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int open_event_fds(struct daemon_ctx *x, const sigset_t *mask)
{
	struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

	x->signal_fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	x->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (x->signal_fd < 0 || x->timer_fd < 0 || timerfd_settime(x->timer_fd, 0, &tick, NULL)) {
		nat_log_at(LOG_ERR, "cannot create signalfd/timerfd: %s", strerror(errno));
		return -1;
	}
	x->aw = addrwatch_open();
	if (!x->aw) {
		nat_log_at(LOG_ERR, "cannot open the address watcher: %s", strerror(errno));
		return -1;
	}
	x->lw = linkwatch_open();
	if (!x->lw) {
		nat_log("cannot open the link watcher: %s", strerror(errno));
		return -1;
	}
	x->rg = routegen_open(x->maps.routegen, x->maps.ifslots);
	if (!x->rg) {
		nat_log_at(LOG_ERR, "cannot open the route watcher: %s", strerror(errno));
		return -1;
	}
	routegen_links(x);
	return 0;
}

/* Everything up to the first event; each step logs its own failure. */
static int daemon_start(struct daemon_ctx *x, bool foreground, const sigset_t *mask)
{
	struct nat_daemon *d = x->d;

	x->st.started = time(NULL);
	/* before anything is attached: a metrics address that cannot be had
	 * stops the start (no daemon runs half-configured) */
	x->metrics_fd = metrics_socket(&d->cfg, LOG_ERR, "");
	if (x->metrics_fd == -1)
		return -1;
	/* the NAT log's file too: a daemon that cannot keep it does not start */
	x->fl = flowlog_new(2 * (size_t)d->cfg.conntrack_max);
	if (!x->fl || flowlog_set_target(x->fl, d->cfg.flow_log))
		return -1;
	if (d->cfg.nddns && run_mkdir_p(d->cfg.state_dir, 0700)) {
		nat_log("state-dir %s: %s", d->cfg.state_dir,
			errno == EPERM && run_dir_unsafe(d->cfg.state_dir)
				? run_dir_unsafe(d->cfg.state_dir) : strerror(errno));
		return -1;
	}
	if (loader_load(d))
		return -1;
	loader_maps(d, &x->maps);
	if (flowlog_attach(x->fl, &x->maps))
		return -1;
	x->ws = (struct wanstate){ .m = &x->maps, .cfg = &d->cfg, .addr_changed = on_wan_addr,
				   .arg = x };
	x->st.d = d;
	x->st.m = &x->maps;
	keep_previous_record(x);
	/* nat_ifaces before the programs: from its first packet the data
	 * path knows which interface is a WAN (the leak guard needs that) */
	if (loader_fill_maps(d) || loader_pin_maps(d) || loader_links(d))
		return -1;
	previous_clsacts(x);
	if (put_ifaces(x) || loader_attach_all(d))
		return -1;
	put_ifaces(x);	/* again, with the attach mode each interface got */
	detach_unconfigured(x);
	loader_adopt_finish(d);
	loader_moved_fill(&x->maps);
	udpkeyed_fill(&x->maps);	/* unmapped: logged by loader_maps() */
	if (!foreground && daemon(0, 1)) {
		nat_log_at(LOG_ERR, "cannot go to the background: %s", strerror(errno));
		return -1;
	}
	start_alg(x);	/* after daemon(): the ALG runs a thread */
	alg_watch(x);
	if (status_daemon_started(&x->st) || open_event_fds(x, mask))
		return -1;
	x->ddns = ddns_start(&d->cfg);
	start_metrics(x, x->metrics_fd);	/* a thread: after daemon() */
	x->metrics_fd = -1;
	if (addrwatch_dump(x->aw, on_addr_event, x))
		nat_log_at(LOG_ERR, "cannot read the current addresses; waiting for changes");
	for (int i = 0; i < d->nlinks; i++)	/* addresses adopted unchanged, too */
		wanstate_announce(&x->ws, (uint32_t)d->links[i].ifindex);
	if (portmap_start(&x->pm, &d->cfg, &x->maps))
		return -1;
	x->fo = failover_start(&d->cfg, &x->ws, x->ddns);
	if (!x->fo && errno)
		return -1;
	x->st.fo = x->fo;
	health_to_metrics(x);
	x->status_dirty = true;
	x->running = true;
	nat_log("running: %d interfaces, %d forwards, pins in %s", d->nlinks, d->cfg.nforwards,
		d->cfg.pin_dir);
	sd_notifyf(0, "READY=1\nSTATUS=running: %d interfaces, %d forwards", d->nlinks,
		   d->cfg.nforwards);
	return 0;
}

/* Stop the daemon; the data path stays as it is (see the top). Safe
 * after a partial start. */
static void daemon_stop(struct daemon_ctx *x)
{
	struct nat_daemon *d = x->d;

	sd_notify(0, "STOPPING=1");
	metrics_stop(x->metrics);	/* it reads the DDNS state */
	if (x->metrics_fd >= 0)
		close(x->metrics_fd);
	portmap_stop(x->pm);	/* mappings stay saved and in nat_forwards */
	failover_stop(x->fo);	/* routes back as they were */
	x->fo = NULL;
	x->st.fo = NULL;
	ddns_stop(x->ddns);
	addrwatch_close(x->aw);
	linkwatch_close(x->lw);
	routegen_close(x->rg);
	alg_stop(x->alg, false);	/* sessions stay saved for the next run */
	if (!x->running) {
		if (loader_rollback(d)) {
			status_daemon_stopped(&x->st);
			status_remove(d->cfg.run_dir);
			d->nlinks = 0;
		} else {
			nat_log_at(LOG_ERR, "start failed; the data path of the previous run stays attached");
			status_daemon_stopped(&x->st);
		}
	} else if (d->skel) {
		status_daemon_stopped(&x->st);
	}
	loader_close(d);
	if (x->signal_fd >= 0)
		close(x->signal_fd);
	if (x->timer_fd >= 0)
		close(x->timer_fd);
	flowlog_free(x->fl);
	if (d->nlinks)
		nat_log("stopped; the data path stays attached and keeps translating "
			"(`xdpnat detach` removes it)");
	else
		nat_log("stopped");
}

int daemon_run(const char *config_path, bool foreground)
{
	static struct nat_daemon d;
	struct daemon_ctx x = { .d = &d, .signal_fd = -1, .timer_fd = -1, .lock_fd = -1,
				.pin_lock_fd = -1, .metrics_fd = -1 };
	sigset_t mask;
	int nerr, rc = 1;

	if (block_signals(&mask))
		return 1;
	nerr = load_config(config_path, &d.cfg, stderr);
	if (nerr) {
		nat_log_at(LOG_ERR, "%s: %d error(s), nothing changed", config_path, nerr);
		return 1;
	}
	nat_log_set_level(d.cfg.log_level);
	if (take_locks(&d.cfg, &x.lock_fd, &x.pin_lock_fd))
		return 1;
	if (daemon_start(&x, foreground, &mask) == 0)
		rc = event_loop(&x);
	daemon_stop(&x);
	return rc;
}

int daemon_detach(const char *config_path)
{
	static struct xdpnat_config cfg;
	struct status_record rec;
	int lock_fd = -1, pin_lock_fd = -1, n = 0;
	bool have_rec;

	if (load_config(config_path, &cfg, stderr)) {
		nat_log_at(LOG_ERR, "%s: not detaching with a configuration that has errors", config_path);
		return 1;
	}
	if (take_locks(&cfg, &lock_fd, &pin_lock_fd))
		return 1;
	have_rec = status_read_record(cfg.run_dir, &rec) == 0;
	/* what the record names, and what the configuration names */
	for (int i = 0; have_rec && i < rec.nlinks; i++) {
		int ifindex = (int)if_nametoindex(rec.links[i].ifname);

		if (ifindex)
			n += loader_detach_ours(rec.links[i].ifname, ifindex,
						rec.links[i].clsact_created);
	}
	const char *name;

	for (int i = 0; (name = cfg_iface_name(&cfg, i)); i++) {
		int ifindex = (int)if_nametoindex(name);
		bool done = false;

		for (int j = 0; have_rec && j < rec.nlinks && !done; j++)
			done = !strcmp(rec.links[j].ifname, name);
		if (ifindex && !done)
			n += loader_detach_ours(name, ifindex, false);
	}
	n += loader_unpin_all(cfg.pin_dir);
	if (have_rec && rec.pin_dir_made[0] && rmdir(rec.pin_dir_made) && errno != ENOENT)
		nat_log_at(LOG_ERR, "cannot remove %s: %s", rec.pin_dir_made, strerror(errno));
	if (have_rec && rec.bpffs_mounted[0] && umount2(rec.bpffs_mounted, MNT_DETACH) &&
	    errno != EINVAL && errno != ENOENT)
		nat_log_at(LOG_ERR, "cannot unmount %s: %s", rec.bpffs_mounted, strerror(errno));
	status_remove(cfg.run_dir);
	nat_log(n ? "detached: programs, filters and pins of xdpnat removed"
		  : "nothing of xdpnat was attached");
	close(lock_fd);
	if (pin_lock_fd >= 0)
		close(pin_lock_fd);
	return 0;
}
