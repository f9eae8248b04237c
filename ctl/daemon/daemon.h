/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * daemon.h - `xdpnat run`: bring the data path up (or adopt the one a
 * previous run left), then one thread around poll() that reacts to
 * signals, the GC timer, address and route changes, until SIGINT/SIGTERM;
 * the data path stays. `xdpnat detach` removes it.
 */
#ifndef XDPNAT_DAEMON_H
#define XDPNAT_DAEMON_H

#include <stdbool.h>

/* `xdpnat run`. Returns the process exit status. */
int daemon_run(const char *config_path, bool foreground);

/* `xdpnat detach`: remove what xdpnat added (programs, filters, the clsact
 * qdiscs and pins it made) while no daemon runs. Exit status. */
int daemon_detach(const char *config_path);

#endif /* XDPNAT_DAEMON_H */
