/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* log.c - see log.h. Threads (DDNS, ALG, metrics) log through it too: each
 * line is formatted first and written with one stdio call. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "common/log.h"

static atomic_int threshold = LOG_INFO;
static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool to_journal;

static const char *const level_names[] = {
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the
 * journal; a stderr redirected elsewhere since no longer matches. */
static void detect_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	to_journal = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &st) &&
		     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void nat_log_at(int prio, const char *fmt, ...)
{
	char stamp[32], msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (prio > atomic_load(&threshold))
		return;
	pthread_once(&journal_once, detect_journal);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (to_journal) {
		fprintf(stderr, "<%d>%s\n", prio, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ xdpnat[%d]: %s\n", stamp, ts.tv_nsec / 1000000,
		(int)getpid(), msg);
}

void nat_log_set_level(int prio)
{
	atomic_store(&threshold, prio);
}

int nat_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i] && !strcmp(level_names[i], name))
			return (int)i;
	return -1;
}

const char *nat_log_level_name(int prio)
{
	if (prio < 0 || (size_t)prio >= sizeof(level_names) / sizeof(level_names[0]) ||
	    !level_names[prio])
		return "?";
	return level_names[prio];
}
