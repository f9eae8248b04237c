/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * udpkeyed.c - nat_udp_keyed from the controller's side: the fill at
 * start and the rebuild of every GC pass (udpkeyed.h; the protocol is
 * described with the map in include/xdpnat.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include "common/cttab.h"
#include "daemon/udpkeyed.h"

/* An entry the bit of its port must cover: a UDP entry that may be keyed
 * by a tuple to a WAN port, i.e. every one but a masquerade flow's ORIG
 * entry (marking more is only a lookup more). */
static bool keyed_needs(const struct nat_ct_key *k, const struct nat_ct_value *v)
{
	return k->proto == IPPROTO_UDP && !(v->dir == NAT_DIR_ORIG && v->kind == NAT_KIND_MASQ);
}

static void keyed_set(struct nat_udp_keyed *t, int epoch, const struct nat_ct_key *k)
{
	__u16 port = ntohs(k->dport);

	__atomic_fetch_or(&t[nat_port_word(port)].bits[epoch], nat_port_bit(port),
			  __ATOMIC_SEQ_CST);
}

static __u64 *keyed_ctl(const struct nat_maps *m, int which)
{
	return &m->keyed[NAT_UDP_KEYED_CTL].bits[which];
}

struct fill_arg {
	const struct nat_maps *m;
	int epoch;
};

static int fill_visit(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	const struct fill_arg *a = arg;

	udpkeyed_mark(a->m, a->epoch, k, v);
	return 0;
}

int udpkeyed_fill(const struct nat_maps *m)
{
	struct fill_arg a = { .m = m };

	if (!m->keyed)
		return -EBADF;
	a.epoch = (int)(__atomic_load_n(keyed_ctl(m, NAT_UDP_KEYED_EPOCH), __ATOMIC_SEQ_CST) & 1);
	ct_for_each(&m->cttab, fill_visit, &a);
	__atomic_store_n(keyed_ctl(m, NAT_UDP_KEYED_READY), 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* Has the kernel the barrier of grace()? Asked once. */
static bool grace_supported(void)
{
	static int known = -1;

	if (known < 0) {
		long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

		known = cmds >= 0 && (cmds & MEMBARRIER_CMD_GLOBAL);
	}
	return known;
}

bool udpkeyed_grace_exact(const char *uts_version, long cpus_online)
{
	return !strstr(uts_version, "PREEMPT_RT") || cpus_online > 1;
}

/* `uname -v`, read once ("" if it cannot be). */
static const char *kernel_version(void)
{
	static struct utsname u;
	static bool known;

	if (!known && uname(&u))
		u.version[0] = '\0';
	known = true;
	return u.version;
}

static bool grace_exact_now(void)
{
	return udpkeyed_grace_exact(kernel_version(), sysconf(_SC_NPROCESSORS_ONLN));
}

/*
 * Return once every BPF program that was running when it was called has
 * returned: MEMBARRIER_CMD_GLOBAL is synchronize_rcu(), and XDP and tc
 * programs run inside RCU read-side sections. With one CPU online it
 * returns at once, which is exact only where a softirq cannot be
 * preempted: on PREEMPT_RT (softirqs in threads) a single CPU counts as
 * no barrier (-EAGAIN), asked before and after the call, so that a CPU
 * taken offline meanwhile is seen too (short of one taken offline and
 * brought back within the call).
 */
static int grace(void)
{
	if (!grace_exact_now())
		return -EAGAIN;
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		return -errno;
	return grace_exact_now() ? 0 : -EAGAIN;
}

int udpkeyed_begin(const struct nat_maps *m)
{
	int epoch;

	if (!m->keyed || !grace_supported() ||
	    !__atomic_load_n(keyed_ctl(m, NAT_UDP_KEYED_READY), __ATOMIC_SEQ_CST))
		return -1;
	epoch = !(__atomic_load_n(keyed_ctl(m, NAT_UDP_KEYED_EPOCH), __ATOMIC_SEQ_CST) & 1);
	__atomic_store_n(keyed_ctl(m, NAT_UDP_KEYED_EPOCH), (__u64)epoch, __ATOMIC_SEQ_CST);
	return grace() ? -1 : epoch;
}

void udpkeyed_mark(const struct nat_maps *m, int epoch, const struct nat_ct_key *k,
		   const struct nat_ct_value *v)
{
	if (epoch >= 0 && m->keyed && keyed_needs(k, v))
		keyed_set(m->keyed, epoch, k);
}

void udpkeyed_end(const struct nat_maps *m, int epoch)
{
	if (epoch < 0 || !m->keyed || grace())
		return;
	for (__u32 i = 0; i < NAT_PORT_WORDS; i++)
		__atomic_store_n(&m->keyed[i].bits[!epoch], 0, __ATOMIC_SEQ_CST);
}
