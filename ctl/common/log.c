/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* log.c - see log.h. Threads (DDNS, ALG) log through it too: each line is
 * formatted first and written with one stdio call. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"

void nat_log(const char *fmt, ...)
{
	char stamp[32], msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ xdpnat[%d]: %s\n", stamp, ts.tv_nsec / 1000000,
		(int)getpid(), msg);
}
