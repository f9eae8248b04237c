/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli_internal.h - what the command files of ctl/cli/ share and main.c
 * has no use for: reaching the daemon's pinned maps and printing JSON.
 * Defined in cli.c.
 */
#ifndef XDPNAT_CLI_INTERNAL_H
#define XDPNAT_CLI_INTERNAL_H

#include <json-c/json.h>
#include "cli/cli.h"

/* Open a pinned map by name; -1 with a message on stderr if unreachable. */
int cli_open_map(const struct cli_ctx *c, const char *name);

/* Print o to stdout the way every --json output looks (pretty, one
 * trailing newline, slashes left alone so paths stay readable). */
void cli_print_json(json_object *o);

#endif /* XDPNAT_CLI_INTERNAL_H */
