/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* ctflow.c - remove a whole flow (see ctflow.h). */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <bpf/bpf.h>
#include "nat_ct_key.h"
#include "common/ctflow.h"

static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctflow_retired retired;

/* One entry's counters into the totals of its WAN. */
static void retire(const struct nat_ct_value *v)
{
	int d, i, slot = -1;

	if (v->kind == NAT_KIND_HAIRPIN || v->dir == NAT_DIR_HAIRPIN_EGRESS || !v->wan_ifindex)
		return;
	d = ct_from_lan(v) ? 1 : 0;	/* tx : rx */
	pthread_mutex_lock(&retired_lock);
	for (i = 0; i < CTFLOW_RETIRED_WANS; i++) {
		if (retired.ifindex[i] == v->wan_ifindex) {
			slot = i;
			break;
		}
		if (slot < 0 && !retired.ifindex[i])
			slot = i;
	}
	if (slot >= 0) {
		retired.ifindex[slot] = v->wan_ifindex;
		retired.packets[slot][d] += v->packets;
		retired.bytes[slot][d] += v->bytes;
	}
	pthread_mutex_unlock(&retired_lock);
}

void ctflow_retired_read(struct ctflow_retired *out)
{
	pthread_mutex_lock(&retired_lock);
	memcpy(out, &retired, sizeof(*out));
	pthread_mutex_unlock(&retired_lock);
}

/*
 * The data path adds one to nat_gate when an FTP control session becomes
 * ESTABLISHED and takes it away when the session reaches CLOSING (RST or
 * both FINs); NAT_CT_F_GATE_COUNTED marks a session that holds its count.
 * One removed before it closed gives the count back, and the linger time
 * restarts from now.
 */
static void gate_release(int gate_fd, const struct nat_ct_key *okey,
			 const struct nat_ct_value *oval, uint64_t now)
{
	struct nat_gate_key k = { .raddr = okey->saddr, .inside_addr = oval->to_daddr };
	struct nat_gate_value v;

	if (gate_fd < 0 || !(oval->flags & NAT_CT_F_GATE_COUNTED))
		return;
	if (bpf_map_lookup_elem(gate_fd, &k, &v) || !v.sessions)
		return;
	v.sessions--;
	v.last_seen = now;
	bpf_map_update_elem(gate_fd, &k, &v, BPF_EXIST);
}

/* counted: whether this call removed the flow (its counters go to the
 * retired totals once, by whoever deleted the ORIG entry). */
static void remove_halves(const struct nat_maps *m, const struct nat_ct_key *okey,
			  const struct nat_ct_value *oval, bool counted)
{
	struct nat_ct_key k;
	struct nat_ct_value twin;

	ct_twin_key(&k, oval, okey->proto);
	if (!ct_take(&m->cttab, &k, &twin)) {
		if (counted)
			retire(&twin);
	} else if (errno != ENOENT) {
		ct_del(&m->cttab, &k);
	}
	if (oval->kind == NAT_KIND_HAIRPIN) {
		ct_hairpin_egress_key(&k, okey, oval);
		ct_del(&m->cttab, &k);
		ct_key_flip(&k, &k);
		ct_del(&m->cttab, &k);
	}
}

static ctflow_end_fn end_hook;
static void *end_hook_arg;

void ctflow_set_end_hook(ctflow_end_fn fn, void *arg)
{
	end_hook = fn;
	end_hook_arg = arg;
}

/* Tell the hook, with the REPLY entry's counters read before it goes. */
static void tell_end(const struct nat_maps *m, const struct nat_ct_key *okey,
		     const struct nat_ct_value *oval, uint64_t now, enum nat_flow_end why)
{
	struct nat_ct_key rk;
	struct nat_ct_value rv;

	if (!end_hook)
		return;
	ct_twin_key(&rk, oval, okey->proto);
	end_hook(end_hook_arg, okey, oval, ct_get(&m->cttab, &rk, &rv) ? NULL : &rv,
		 why, now);
}

void ctflow_remove_rest(const struct nat_maps *m, const struct nat_ct_key *okey,
			const struct nat_ct_value *oval, uint64_t now_ns, enum nat_flow_end why)
{
	tell_end(m, okey, oval, now_ns, why);
	retire(oval);
	remove_halves(m, okey, oval, true);
	gate_release(m->gate, okey, oval, now_ns);
}

bool ctflow_remove(const struct nat_maps *m, const struct nat_ct_key *okey,
		   const struct nat_ct_value *oval, uint64_t now_ns, enum nat_flow_end why)
{
	bool deleted = ct_del(&m->cttab, okey) == 0;

	/* Halves without their ORIG are removed either way; the gate count
	 * belongs to whoever deleted the ORIG entry, so it is given back once. */
	if (deleted)
		ctflow_remove_rest(m, okey, oval, now_ns, why);
	else
		remove_halves(m, okey, oval, false);
	return deleted;
}
