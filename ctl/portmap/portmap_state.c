/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* portmap_state.c - the PCP/NAT-PMP state file (see portmap_state.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "common/runfiles.h"
#include "portmap/portmap_state.h"

#define COUNTERS(X)	X(requests) X(answered) X(dropped_not_lan) X(dropped_rate) \
			X(dropped_malformed) X(errors_sent) X(created) X(deleted) \
			X(expired) X(purged)

int portmap_state_save(const char *path, const struct portmap_state *st, uint64_t now,
		       time_t wall, portmap_annotate_fn annotate, void *arg)
{
	json_object *root = json_object_new_object(), *c = json_object_new_object();
	json_object *arr = portmap_table_to_json(&st->table, now);
	const char *text;
	int rc;

	for (size_t i = 0; annotate && i < json_object_array_length(arr); i++)
		annotate(arg, json_object_array_get_idx(arr, i));
#define PUT(f) json_object_object_add(c, #f, json_object_new_int64((int64_t)st->n.f));
	COUNTERS(PUT)
#undef PUT
	json_object_object_add(root, "epoch", json_object_new_int64(st->epoch));
	json_object_object_add(root, "saved_at", json_object_new_int64((int64_t)wall));
	json_object_object_add(root, "mappings", arr);
	json_object_object_add(root, "counters", c);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	rc = run_write_atomic(path, text, strlen(text));
	json_object_put(root);
	return rc;
}

static int64_t jint(json_object *o, const char *k, int64_t dflt)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v) : dflt;
}

int portmap_state_load(const char *path, struct portmap_state *st, uint64_t now, time_t wall)
{
	int fd = run_open_read(path), err = errno;
	json_object *root, *o;
	int64_t saved_at, ep, elapsed;

	memset(st, 0, sizeof(*st));
	if (fd < 0)
		return err == ENOENT ? 1 : -1;
	root = json_object_from_fd(fd);
	close(fd);
	if (!root)
		return -1;
	saved_at = jint(root, "saved_at", -1);
	ep = jint(root, "epoch", -1);
	elapsed = (int64_t)wall - saved_at;
	if (saved_at < 0 || ep < 0 || ep > UINT32_MAX || elapsed < 0 ||
	    ep + elapsed > UINT32_MAX) {
		json_object_put(root);
		return -1;
	}
	st->epoch = (uint32_t)(ep + elapsed);
	if (json_object_object_get_ex(root, "counters", &o)) {
#define GET(f) st->n.f = (uint64_t)jint(o, #f, 0);
		COUNTERS(GET)
#undef GET
	}
	if (json_object_object_get_ex(root, "mappings", &o))
		portmap_table_from_json(&st->table, o, now, (uint64_t)elapsed);
	json_object_put(root);
	return 0;
}
