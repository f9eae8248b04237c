/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* metrics_http.c - see metrics_http.h. */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/runfiles.h"
#include "daemon/metrics_http.h"
#include "daemon/metrics_req.h"
#include "daemon/status.h"

void metrics_http_addr(const struct cfg_metrics *m, char *buf, size_t size)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &m->addr, a, sizeof(a));
	snprintf(buf, size, "%s:%u", a, m->port);
}

static void report(const struct xdpnat_config *cfg, FILE *err, const char *fmt, const char *a,
		   const char *b)
{
	if (!err)
		return;
	fprintf(err, "%s:%d: metrics: ", cfg->path, cfg->metrics.line);
	fprintf(err, fmt, a, b);
	fputc('\n', err);
}

/* The configured wan that has this address now, NULL if none. */
static const char *wan_with_addr(const struct xdpnat_config *cfg, struct in_addr a)
{
	static __thread char name[IF_NAMESIZE];
	struct ifaddrs *ifs, *i;
	const char *found = NULL;

	if (getifaddrs(&ifs))
		return NULL;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr != a.s_addr ||
		    !cfg_find_wan(cfg, i->ifa_name))
			continue;
		snprintf(name, sizeof(name), "%s", i->ifa_name);
		found = name;
	}
	freeifaddrs(ifs);
	return found;
}

/* A bound (not yet listening) socket, or -1 with errno. */
static int bind_endpoint(const struct cfg_metrics *m)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = m->addr,
				  .sin_port = htons(m->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, e;

	if (fd < 0)
		return -1;
	/* a restart must not wait for the last run's TIME_WAIT connections */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int checked_bind(const struct xdpnat_config *cfg, FILE *err, bool in_use_ok)
{
	const struct cfg_metrics *m = &cfg->metrics;
	char where[32], a[INET_ADDRSTRLEN];
	const char *wan;
	int fd;

	metrics_http_addr(m, where, sizeof(where));
	inet_ntop(AF_INET, &m->addr, a, sizeof(a));
	if (!m->allow_wan && (wan = wan_with_addr(cfg, m->addr))) {
		report(cfg, err, "%s is the address of wan %s: the endpoint would face the "
		       "Internet (add allow-wan if that is meant)", a, wan);
		return -1;
	}
	fd = bind_endpoint(m);
	if (fd >= 0)
		return fd;
	if (errno == EADDRINUSE && in_use_ok)
		return -2;
	report(cfg, err, "cannot listen on %s: %s", where,
	       errno == EADDRNOTAVAIL ? "no interface of this host has that address"
				      : strerror(errno));
	return -1;
}

int metrics_http_listen(const struct xdpnat_config *cfg, FILE *err)
{
	int fd = checked_bind(cfg, err, false);
	char where[32];

	if (fd < 0)
		return -1;
	if (listen(fd, METRICS_HTTP_CONNS)) {
		metrics_http_addr(&cfg->metrics, where, sizeof(where));
		report(cfg, err, "cannot listen on %s: %s", where, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int metrics_http_check(const struct xdpnat_config *cfg, FILE *err)
{
	char where[32], served[32];
	int fd = checked_bind(cfg, err, true);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -1)
		return -1;
	/* in use: by the daemon of this run-dir? */
	metrics_http_addr(&cfg->metrics, where, sizeof(where));
	if (run_read_pid(cfg->run_dir) && !status_read_metrics(cfg->run_dir, served, sizeof(served)) &&
	    !strcmp(served, where))
		return 0;
	report(cfg, err, "cannot listen on %s: %s", where, strerror(EADDRINUSE));
	return -1;
}

/* ------------------------------------------------------------ the server */

struct conn {
	int fd;				/* -1 = free */
	uint64_t deadline;		/* ms, nat_now_ms() */
	size_t len;			/* request bytes read */
	char req[METRICS_HTTP_REQ_MAX];	/* not NUL-terminated */
	char *out;			/* the answer, once the request is complete */
	size_t out_len, out_off;
};

struct metrics_http {
	int listen_fd, stop_fd;
	metrics_http_fn fn;
	void *arg;
	pthread_t thread;
	struct conn c[METRICS_HTTP_CONNS];
};

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->len = c->out_len = c->out_off = 0;
}

static void answer(struct conn *c, const char *status, const char *body, size_t body_len,
		   bool head_only)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status,
			 body_len && !strncmp(status, "200", 3)
				 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
			 body_len);

	c->out = malloc((size_t)n + (head_only ? 0 : body_len));
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, hdr, (size_t)n);
	if (!head_only)
		memcpy(c->out + n, body, body_len);
	c->out_len = (size_t)n + (head_only ? 0 : body_len);
	c->out_off = 0;
	c->deadline = nat_now_ms() + METRICS_HTTP_TIMEOUT_MS;	/* to read the answer */
}

static void error_answer(struct conn *c, const char *status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	answer(c, status, body, (size_t)n, false);
}

static void on_readable(struct metrics_http *h, struct conn *c)
{
	ssize_t n = recv(c->fd, c->req + c->len, sizeof(c->req) - c->len, 0);
	enum metrics_req r;
	char *body = NULL;
	size_t len = 0;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->len += (size_t)n;
	r = metrics_req_parse(c->req, c->len, sizeof(c->req));
	if (r == METRICS_REQ_INCOMPLETE)
		return;
	if (r != METRICS_REQ_GET && r != METRICS_REQ_HEAD) {
		error_answer(c, metrics_req_status(r));
		return;
	}
	if (h->fn(h->arg, &body, &len)) {
		error_answer(c, "500 Internal Server Error");
		return;
	}
	answer(c, metrics_req_status(r), body, len, r == METRICS_REQ_HEAD);
	free(body);
}

static void on_writable(struct conn *c)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out_off == c->out_len) {
		shutdown(c->fd, SHUT_WR);
		conn_close(c);
	}
}

static void on_accept(struct metrics_http *h)
{
	int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
		if (h->c[i].fd >= 0)
			continue;
		h->c[i].fd = fd;
		h->c[i].deadline = nat_now_ms() + METRICS_HTTP_TIMEOUT_MS;
		return;
	}
	close(fd);	/* all slots busy: each frees within its timeouts */
}

static void *serve(void *arg)
{
	struct metrics_http *h = arg;
	struct pollfd pfd[2 + METRICS_HTTP_CONNS];
	int slot[2 + METRICS_HTTP_CONNS];

	for (;;) {
		uint64_t now = nat_now_ms(), next = now + 60000;
		int n = 2, timeout;

		pfd[0] = (struct pollfd){ .fd = h->stop_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = h->listen_fd, .events = POLLIN };
		for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
			struct conn *c = &h->c[i];

			if (c->fd < 0)
				continue;
			if (now >= c->deadline) {
				conn_close(c);
				continue;
			}
			if (c->deadline < next)
				next = c->deadline;
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = c->out ? POLLOUT : POLLIN };
			slot[n++] = i;
		}
		timeout = (int)(next - now);
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			nat_log_at(LOG_ERR, "metrics: poll: %s; the endpoint stops", strerror(errno));
			return NULL;
		}
		if (pfd[0].revents)
			return NULL;
		for (int k = 2; k < n; k++) {
			struct conn *c = &h->c[slot[k]];

			if (!pfd[k].revents || c->fd < 0)
				continue;
			if (c->out && (pfd[k].revents & (POLLOUT | POLLERR | POLLHUP)))
				on_writable(c);
			else if (!c->out && (pfd[k].revents & (POLLIN | POLLERR | POLLHUP)))
				on_readable(h, c);
		}
		if (pfd[1].revents & POLLIN)
			on_accept(h);
	}
}

struct metrics_http *metrics_http_start(int listen_fd, metrics_http_fn fn, void *arg)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	int err;

	if (!h || (h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		nat_log_at(LOG_ERR, "metrics: cannot start: %s", strerror(errno));
		free(h);
		close(listen_fd);
		return NULL;
	}
	h->listen_fd = listen_fd;
	h->fn = fn;
	h->arg = arg;
	for (int i = 0; i < METRICS_HTTP_CONNS; i++)
		h->c[i].fd = -1;
	err = pthread_create(&h->thread, NULL, serve, h);
	if (err) {
		nat_log_at(LOG_ERR, "metrics: cannot start the thread: %s", strerror(err));
		close(h->stop_fd);
		close(listen_fd);
		free(h);
		return NULL;
	}
	return h;
}

void metrics_http_stop(struct metrics_http *h)
{
	uint64_t one = 1;

	if (!h)
		return;
	if (write(h->stop_fd, &one, sizeof(one)) != sizeof(one))
		nat_log_at(LOG_ERR, "metrics: cannot wake the thread: %s", strerror(errno));
	pthread_join(h->thread, NULL);
	for (int i = 0; i < METRICS_HTTP_CONNS; i++)
		if (h->c[i].fd >= 0)
			conn_close(&h->c[i]);
	close(h->listen_fd);
	close(h->stop_fd);
	free(h);
}
