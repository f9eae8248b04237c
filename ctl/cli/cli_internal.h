/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli_internal.h - what the command files of ctl/cli/ share and main.c
 * has no use for: reaching the daemon's pinned maps and printing JSON.
 * Defined in cli.c.
 */
#ifndef XDPNAT_CLI_INTERNAL_H
#define XDPNAT_CLI_INTERNAL_H

#include "common/cttab.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include "cli/cli.h"
#include "xdpnat.h"

/* Open a pinned map by name; -1 with a message on stderr if unreachable. */
int cli_open_map(const struct cli_ctx *c, const char *name);

/* nat_ct, mapped (common/cttab.h): 0, or -1 after saying why. */
int cli_open_ct(const struct cli_ctx *c, struct nat_cttab *t);

/* Print o to stdout the way every --json output looks (pretty, one
 * trailing newline, slashes left alone so paths stay readable). */
void cli_print_json(json_object *o);

/* A filter with its WAN resolved to an ifindex (in the daemon's network
 * namespace). */
struct cli_match {
	const struct cli_filter *f;
	uint32_t wan_ifindex;		/* 0 = any */
};

/* Resolve c->filter; -1 with a message when its WAN does not exist. */
int cli_match_init(const struct cli_ctx *c, struct cli_match *m);

/* Does the flow whose ORIG entry is (k, v) pass the filter? */
bool cli_match_flow(const struct cli_match *m, const struct nat_ct_key *k,
		    const struct nat_ct_value *v);

#endif /* XDPNAT_CLI_INTERNAL_H */
