/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* status.c - the daemon's run files and nat_ctl_stats fields (see status.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "common/linkinfo.h"
#include "common/log.h"
#include "common/runfiles.h"
#include "daemon/status.h"

static int set_daemon_fields(const struct daemon_status *st, pid_t pid)
{
	struct nat_ctl_stats cs = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(st->m->ctl_stats, &zero, &cs);
	cs.daemon_pid = (__u64)pid;
	cs.daemon_started = pid ? (__u64)st->started : 0;
	if (bpf_map_update_elem(st->m->ctl_stats, &zero, &cs, BPF_ANY)) {
		nat_log_at(LOG_ERR, "cannot write nat_ctl_stats: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int status_daemon_started(struct daemon_status *st)
{
	const char *dir = st->d->cfg.run_dir;
	char path[PATH_MAX], text[32];

	if (run_mkdir_p(dir, 0755)) {
		nat_log_at(LOG_ERR, "cannot create run-dir %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (run_path(path, sizeof(path), dir, RUN_PID_FILE) ||
	    run_write_atomic(path, text, strlen(text))) {
		nat_log_at(LOG_ERR, "cannot write %s/%s: %s", dir, RUN_PID_FILE, strerror(errno));
		return -1;
	}
	st->pid_file_written = true;
	return set_daemon_fields(st, getpid());
}

void status_daemon_stopped(struct daemon_status *st)
{
	const char *dir = st->d->cfg.run_dir;
	char path[PATH_MAX];

	if (!st->pid_file_written)
		return;
	set_daemon_fields(st, 0);
	st->stopped = true;
	st->stopped_at = time(NULL);
	status_write(st);
	if (!run_path(path, sizeof(path), dir, RUN_PID_FILE))
		unlink(path);
	st->pid_file_written = false;
}

void status_remove(const char *run_dir)
{
	char path[PATH_MAX];

	if (!run_path(path, sizeof(path), run_dir, RUN_STATUS_FILE))
		unlink(path);
	if (!run_path(path, sizeof(path), run_dir, RUN_PID_FILE))
		unlink(path);
}

static const char *addr_str(__be32 a, char *buf)
{
	if (!a)
		return "";
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* A LAN's primary address: the kernel's, the data path does not use it. */
static __be32 kernel_addr(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	__be32 a = 0;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(fd, SIOCGIFADDR, &ifr))
		a = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
	close(fd);
	return a;
}

/* What kind of link it is and the path packets take there (linkinfo.h):
 * link_type, arphrd, link_kind, path and, where a limitation applies,
 * note. */
static void link_type_json(json_object *o, const struct nat_link *l)
{
	const char *mode = loader_xdp_mode_name(l->xdp_mode), *note;
	struct linkinfo li;
	char buf[LINKINFO_KIND_MAX + 8];

	json_object_object_add(o, "path", json_object_new_string(linkinfo_path(mode,
										l->tc_attached)));
	if (linkinfo_get(l->ifindex, &li)) {
		json_object_object_add(o, "link_type", json_object_new_string("unknown"));
		return;
	}
	json_object_object_add(o, "link_type",
			       json_object_new_string(linkinfo_type_name(&li, buf, sizeof(buf))));
	json_object_object_add(o, "arphrd", json_object_new_int(li.arphrd));
	json_object_object_add(o, "link_kind", json_object_new_string(li.kind));
	note = linkinfo_note(&li, mode, l->tc_attached);
	if (note)
		json_object_object_add(o, "note", json_object_new_string(note));
}

static json_object *link_json(const struct daemon_status *st, const struct nat_link *l)
{
	json_object *o = json_object_new_object();
	__u32 key = (__u32)l->ifindex;
	struct nat_iface ifc = {};
	char buf[INET_ADDRSTRLEN];
	bool wan = l->role == NAT_IF_WAN;

	bpf_map_lookup_elem(st->m->ifaces, &key, &ifc);
	json_object_object_add(o, "name", json_object_new_string(l->ifname));
	json_object_object_add(o, "ifindex", json_object_new_int(l->ifindex));
	json_object_object_add(o, "role", json_object_new_string(wan ? "wan" : "lan"));
	json_object_object_add(o, "xdp_mode",
			       json_object_new_string(loader_xdp_mode_name(l->xdp_mode)));
	json_object_object_add(o, "xdp_prog_id", json_object_new_int64(l->xdp_prog_id));
	json_object_object_add(o, "tc_egress", json_object_new_boolean(l->tc_attached));
	json_object_object_add(o, "tc_handle", json_object_new_int64(l->tc_handle));
	json_object_object_add(o, "tc_priority", json_object_new_int64(l->tc_priority));
	json_object_object_add(o, "clsact_created", json_object_new_boolean(l->clsact_created));
	json_object_object_add(o, "address", json_object_new_string(
		addr_str(wan ? ifc.addr : kernel_addr(l->ifname), buf)));
	link_type_json(o, l);
	if (wan)
		json_object_object_add(o, "gateway",
				       json_object_new_string(addr_str(ifc.gateway, buf)));
	return o;
}

/* A configured interface the kernel has not (now): waited for. */
static json_object *absent_json(const char *name, bool wan)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "ifindex", json_object_new_int(0));
	json_object_object_add(o, "role", json_object_new_string(wan ? "wan" : "lan"));
	json_object_object_add(o, "absent", json_object_new_boolean(true));
	json_object_object_add(o, "path", json_object_new_string("none"));
	json_object_object_add(o, "link_type", json_object_new_string("absent"));
	json_object_object_add(o, "note", json_object_new_string(
		"no such interface now: attached as soon as it appears (pppd creates its "
		"device when the line comes up)"));
	return o;
}

int status_write(const struct daemon_status *st)
{
	const struct nat_daemon *d = st->d;
	json_object *root = json_object_new_object(), *ifs = json_object_new_array();
	const char *text;
	char path[PATH_MAX];
	int err;

	json_object_object_add(root, "state",
			       json_object_new_string(st->stopped ? "stopped" : "running"));
	json_object_object_add(root, "pid", json_object_new_int(getpid()));
	json_object_object_add(root, "started", json_object_new_int64(st->started));
	if (st->stopped)
		json_object_object_add(root, "stopped", json_object_new_int64(st->stopped_at));
	json_object_object_add(root, "alg", json_object_new_string(st->alg ? st->alg : "off"));
	json_object_object_add(root, "metrics", json_object_new_string(st->metrics));
	json_object_object_add(root, "bpffs_mounted", json_object_new_string(d->bpffs_mounted));
	json_object_object_add(root, "pin_dir_made", json_object_new_string(d->pin_dir_made));
	json_object_object_add(root, "config", json_object_new_string(d->cfg.path));
	json_object_object_add(root, "pin_dir", json_object_new_string(d->cfg.pin_dir));
	for (int i = 0; i < d->nlinks; i++)
		json_object_array_add(ifs, link_json(st, &d->links[i]));
	const char *name;

	for (int i = 0; (name = cfg_iface_name(&d->cfg, i)); i++)
		if (loader_link_absent(d, name))
			json_object_array_add(ifs, absent_json(name, i < d->cfg.nwans));
	json_object_object_add(root, "interfaces", ifs);
	if (st->fo)
		json_object_object_add(root, "failover", failover_status(st->fo));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	err = run_path(path, sizeof(path), d->cfg.run_dir, RUN_STATUS_FILE);
	if (!err)
		err = run_write_atomic(path, text, strlen(text));
	if (err)
		nat_log_at(LOG_ERR, "cannot write %s/%s: %s", d->cfg.run_dir, RUN_STATUS_FILE,
			strerror(errno));
	json_object_put(root);
	return err;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* run-dir's status.json parsed, NULL if there is none (or it is not JSON). */
static json_object *read_status_json(const char *run_dir)
{
	char path[PATH_MAX];
	json_object *root;
	int fd;

	if (run_path(path, sizeof(path), run_dir, RUN_STATUS_FILE) ||
	    (fd = run_open_read(path)) < 0)
		return NULL;
	root = json_object_from_fd(fd);
	close(fd);
	return root;
}

int status_read_record(const char *run_dir, struct status_record *out)
{
	json_object *root, *ifs;

	memset(out, 0, sizeof(*out));
	root = read_status_json(run_dir);
	if (!root)
		return -1;
	snprintf(out->bpffs_mounted, sizeof(out->bpffs_mounted), "%s", jstr(root, "bpffs_mounted"));
	snprintf(out->pin_dir_made, sizeof(out->pin_dir_made), "%s", jstr(root, "pin_dir_made"));
	if (json_object_object_get_ex(root, "interfaces", &ifs)) {
		for (size_t i = 0; i < json_object_array_length(ifs) &&
				   out->nlinks < (int)(sizeof(out->links) / sizeof(out->links[0])); i++) {
			json_object *o = json_object_array_get_idx(ifs, i);
			json_object *b;

			if (!jint(o, "ifindex"))
				continue;	/* absent: nothing of ours there */
			struct status_link *l = &out->links[out->nlinks++];

			snprintf(l->ifname, sizeof(l->ifname), "%s", jstr(o, "name"));
			l->ifindex = (int)jint(o, "ifindex");
			l->tc_handle = (__u32)jint(o, "tc_handle");
			l->tc_priority = (__u32)jint(o, "tc_priority");
			l->clsact_created = json_object_object_get_ex(o, "clsact_created", &b) &&
					    json_object_get_boolean(b);
		}
	}
	json_object_put(root);
	return 0;
}

int status_read_metrics(const char *run_dir, char *buf, size_t size)
{
	json_object *root = read_status_json(run_dir);

	if (!root)
		return -1;
	snprintf(buf, size, "%s", jstr(root, "metrics"));
	json_object_put(root);
	return 0;
}
