/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * probe.c - consecutive-result thresholds for a tracked WAN (probe.h).
 */
#include "wan/probe.h"

void probe_init(struct probe_sm *sm, unsigned down_after, unsigned up_after, uint64_t now)
{
	*sm = (struct probe_sm){
		.down_after = down_after ? down_after : 1,
		.up_after = up_after ? up_after : 1,
		.state = PROBE_UP,
		.reason = PROBE_R_START,
		.since = now,
		.link_ok = true,
	};
}

static bool set_state(struct probe_sm *sm, enum probe_state s, enum probe_reason r,
		      uint64_t now)
{
	if (sm->state == s)
		return false;
	sm->state = s;
	sm->reason = r;
	sm->since = now;
	sm->changes++;
	return true;
}

bool probe_result(struct probe_sm *sm, bool answered, uint64_t now)
{
	if (!sm->link_ok)
		return false;
	sm->history = sm->history << 1 | (answered ? 1u : 0u);
	if (sm->rounds < PROBE_HISTORY)
		sm->rounds++;
	if (answered) {
		sm->fails = 0;
		if (sm->oks < sm->up_after)
			sm->oks++;
		return sm->oks >= sm->up_after && set_state(sm, PROBE_UP, PROBE_R_PROBES, now);
	}
	sm->oks = 0;
	if (sm->fails < sm->down_after)
		sm->fails++;
	return sm->fails >= sm->down_after && set_state(sm, PROBE_DOWN, PROBE_R_PROBES, now);
}

bool probe_link(struct probe_sm *sm, bool link_ok, uint64_t now)
{
	if (sm->link_ok == link_ok)
		return false;
	sm->link_ok = link_ok;
	sm->oks = 0;
	sm->fails = 0;
	if (!link_ok)
		return set_state(sm, PROBE_DOWN, PROBE_R_LINK, now);
	return false;	/* back: `up` good rounds before it is trusted */
}

const char *probe_state_name(enum probe_state s)
{
	return s == PROBE_UP ? "up" : "down";
}

const char *probe_reason_name(enum probe_reason r)
{
	switch (r) {
	case PROBE_R_START:
		return "start";
	case PROBE_R_PROBES:
		return "probes";
	default:
		return "link";
	}
}

void probe_history(const struct probe_sm *sm, char *buf, unsigned n)
{
	unsigned i;

	if (n > sm->rounds)
		n = sm->rounds;
	for (i = 0; i < n; i++)
		buf[i] = (sm->history >> i) & 1 ? '+' : '-';
	buf[i] = '\0';
}
