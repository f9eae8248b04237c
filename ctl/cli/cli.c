/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli.c - what every read-only command needs before and while it runs:
 * the daemon's pid, its network namespace, its pinned maps, and the one
 * JSON printer. The commands themselves are cli_<command>.c (cli.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "common/flowdesc.h"
#include "common/runfiles.h"

pid_t cli_daemon_pid(const struct xdpnat_config *cfg)
{
	return run_read_pid(cfg->run_dir);
}

/* Same network namespace as the daemon? Compares the nsfs inodes. */
static bool same_netns(pid_t pid)
{
	char path[64];
	struct stat self, other;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &self) || stat(path, &other))
		return true;	/* cannot tell: stay where we are */
	return self.st_ino == other.st_ino && self.st_dev == other.st_dev;
}

int cli_enter_daemon_netns(pid_t pid)
{
	char path[64];
	int fd, err;

	if (!pid || same_netns(pid))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -1 : setns(fd, CLONE_NEWNET);
	if (err)
		fprintf(stderr, "xdpnat: cannot enter the daemon's network namespace (%s): %s; "
			"interface names and attach checks refer to this one\n", path,
			strerror(errno));
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * The daemon's own view of pin-dir comes first: /proc/<pid>/root reaches
 * its mount namespace (under `ip netns exec` that has its own bpffs), and
 * it is never another daemon's pins that happen to sit at the same path
 * here. Without a daemon, the local pin-dir is all there is.
 */
int cli_open_map(const struct cli_ctx *c, const char *name)
{
	char local[PATH_MAX], remote[PATH_MAX + 32];
	int fd;

	snprintf(local, sizeof(local), "%s/%s", c->cfg->pin_dir, name);
	if (c->daemon_pid) {
		snprintf(remote, sizeof(remote), "/proc/%d/root%s", (int)c->daemon_pid, local);
		fd = bpf_obj_get(remote);
		if (fd >= 0)
			return fd;
		fprintf(stderr, "xdpnat: cannot open %s: %s\n", remote, strerror(errno));
		return -1;
	}
	fd = bpf_obj_get(local);
	if (fd < 0)
		fprintf(stderr, "xdpnat: cannot open %s: %s (is the daemon running?)\n", local,
			strerror(errno));
	return fd;
}

int cli_open_ct(const struct cli_ctx *c, struct nat_cttab *t)
{
	int fd = cli_open_map(c, XDPNAT_MAP_CT), err;

	if (fd < 0)
		return -1;
	err = cttab_map(t, fd);
	close(fd);	/* the mapping stays */
	if (err) {
		fprintf(stderr, "xdpnat: cannot map %s: %s\n", XDPNAT_MAP_CT, strerror(-err));
		return -1;
	}
	return 0;
}

void cli_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

int cli_match_init(const struct cli_ctx *c, struct cli_match *m)
{
	m->f = &c->filter;
	m->wan_ifindex = 0;
	if (!c->filter.wan[0])
		return 0;
	m->wan_ifindex = if_nametoindex(c->filter.wan);
	if (!m->wan_ifindex) {
		fprintf(stderr, "xdpnat: --wan %s: no such interface\n", c->filter.wan);
		return -1;
	}
	return 0;
}

bool cli_match_flow(const struct cli_match *m, const struct nat_ct_key *k,
		    const struct nat_ct_value *v)
{
	const struct cli_filter *f = m->f;
	struct flowdesc_ends e;

	if (f->kind && v->kind != f->kind)
		return false;
	if (m->wan_ifindex && v->wan_ifindex != m->wan_ifindex)
		return false;
	flowdesc_ends(k, v, &e);
	if (f->has_host && e.inside != f->host.s_addr && e.outside != f->host.s_addr &&
	    e.remote != f->host.s_addr)
		return false;
	if (f->port && ntohs(e.inside_port) != f->port && ntohs(e.outside_port) != f->port &&
	    ntohs(e.remote_port) != f->port)
		return false;
	return true;
}
