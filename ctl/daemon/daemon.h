/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * daemon.h - `xdpnat run`: bring the data path up, then one thread around
 * poll() that reacts to signals, the GC timer, address and route changes,
 * until SIGINT/SIGTERM; then leave every interface as it was found.
 */
#ifndef XDPNAT_DAEMON_H
#define XDPNAT_DAEMON_H

#include <stdbool.h>

/* Returns the process exit status. */
int daemon_run(const char *config_path, bool foreground);

#endif /* XDPNAT_DAEMON_H */
