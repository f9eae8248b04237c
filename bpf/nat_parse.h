/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_parse.h - validate an IPv4 packet and extract its NAT tuple.
 *
 * The parser is strict because whatever it accepts may be rewritten: a
 * header whose lengths do not add up is reported as malformed, and the
 * caller drops and counts it instead of translating garbage. Anything that
 * is not IPv4 (IPv6, ARP, VLAN-tagged frames) is "not ours" and passes
 * untouched. A VLAN-tagged frame is told apart (PARSE_VLAN) so that it is
 * counted: xdpnat is attached to an interface untagged, and a tagged frame
 * there belongs to another network (a VLAN WAN is attached to its VLAN
 * subinterface, e.g. eth0.7).
 */
#ifndef NAT_PARSE_H
#define NAT_PARSE_H

#define ETH_HLEN_	14
#define ETH_P_IP_	0x0800
#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88a8
#define IP_MF_		0x2000
#define IP_OFFMASK_	0x1fff
#define ICMP_ECHOREPLY_	0
#define ICMP_DEST_UNREACH_ 3
#define ICMP_ECHO_	8
#define ICMP_TIME_EXCEEDED_ 11
#define ICMP_PARAMETERPROB_ 12
#define TCP_FIN_	0x01
#define TCP_SYN_	0x02
#define TCP_RST_	0x04
#define TCP_ACK_	0x10

enum nat_parse_rc {
	PARSE_OK,
	PARSE_NOT_OURS,		/* not IPv4, or a protocol we do not translate */
	PARSE_MALFORMED,
	PARSE_VLAN,		/* 802.1Q/802.1ad tagged: not ours either */
};

enum nat_frag {
	FRAG_NONE,
	FRAG_FIRST,		/* offset 0, MF set: carries the L4 header */
	FRAG_LATER,		/* offset > 0: addresses only */
};

struct nat_pkt {
	struct nat_ct_key key;	/* tuple as on the wire (ICMP: see xdpnat.h) */
	__u32 l3_off;
	__u32 l4_off;
	__u32 inner_l3_off;	/* ICMP error: the embedded IP header */
	__u32 inner_l4_off;
	__u16 tot_len;		/* IP total length */
	__be16 ip_id;
	__u8 frag;		/* enum nat_frag */
	__u8 icmp_type;
	__u8 icmp_error;	/* ICMP error: key is the embedded packet's tuple */
	__u8 tcp_flags;
	__u8 ttl;
	__u8 has_options;
	__u8 pad[2];
	__u32 tcp_seq;		/* TCP, host order: sequence number */
	__u32 tcp_end;		/* ... plus payload length, SYN and FIN */
	__u32 tcp_ack;		/* ... acknowledgment number */
};

/* Tuple of a TCP/UDP/ICMP-echo header at l4; ICMP echo ids follow the
 * request/reply convention of struct nat_ct_key. */
static __always_inline int parse_l4_ports(void *l4, void *data_end, __u8 proto,
					  struct nat_ct_key *k, __u8 *icmp_type)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > data_end)
			return PARSE_MALFORMED;
		k->sport = ports[0];
		k->dport = ports[1];
		return PARSE_OK;
	}
	if (proto == IPPROTO_ICMP) {
		struct icmphdr *ic = l4;

		if ((void *)(ic + 1) > data_end)
			return PARSE_MALFORMED;
		*icmp_type = ic->type;
		if (ic->type == ICMP_ECHO_) {
			k->sport = ic->un.echo.id;
			k->dport = 0;
		} else if (ic->type == ICMP_ECHOREPLY_) {
			k->sport = 0;
			k->dport = ic->un.echo.id;
		}
		return PARSE_OK;
	}
	return PARSE_NOT_OURS;
}

/*
 * The packet embedded in an ICMP error: an IPv4 header without options and
 * at least the first 8 bytes of its L4 header (RFC 792). Its tuple goes to
 * p->key; the caller looks up the flow of the *reverse* of that tuple.
 */
static __always_inline int parse_icmp_error(void *data, void *data_end, struct nat_pkt *p)
{
	struct iphdr *in = data + p->inner_l3_off;
	__u8 type = 0;

	if ((void *)(in + 1) > data_end)
		return PARSE_MALFORMED;
	if (in->version != 4 || in->ihl < 5)
		return PARSE_MALFORMED;
	if (in->ihl != 5)
		/* options in the quoted header: it cannot be translated, and
		 * passed as it is it would carry an inside address out */
		return PARSE_MALFORMED;
	if (in->frag_off & bpf_htons(IP_OFFMASK_))
		return PARSE_NOT_OURS;	/* no L4 header inside */
	p->inner_l4_off = p->inner_l3_off + sizeof(*in);
	/* the quote must lie within the error's own datagram, not in bytes
	 * that trail it in the frame */
	if (data + p->inner_l4_off + 8 > data_end ||
	    p->inner_l4_off + 8 > p->l3_off + p->tot_len)
		return PARSE_MALFORMED;
	p->key.saddr = in->saddr;
	p->key.daddr = in->daddr;
	p->key.proto = in->protocol;
	if (parse_l4_ports(data + p->inner_l4_off, data_end, in->protocol, &p->key, &type) != PARSE_OK)
		return PARSE_NOT_OURS;
	if (in->protocol == IPPROTO_ICMP && type != ICMP_ECHO_ && type != ICMP_ECHOREPLY_)
		return PARSE_NOT_OURS;	/* never an error about an error */
	return PARSE_OK;
}

/*
 * pkt_len is the length of the whole frame (XDP: data_end - data; tc:
 * skb->len, the linear part may be shorter). data_end bounds what can be
 * read directly.
 */
static __always_inline int nat_parse(void *data, void *data_end, __u32 pkt_len, struct nat_pkt *p,
				     const __u32 l2)
{
	struct iphdr *iph;
	__u32 ihl, l4_len;
	__u16 frag_off;

	if (l2) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > data_end)
			return PARSE_NOT_OURS;
		if (eth->h_proto != bpf_htons(ETH_P_IP_))
			return eth->h_proto == bpf_htons(ETH_P_8021Q_) ||
			       eth->h_proto == bpf_htons(ETH_P_8021AD_) ? PARSE_VLAN : PARSE_NOT_OURS;
	} else {
		/* a link without a link-layer header (tun, PPP, WireGuard):
		 * the IP header is first, its version says which IP */
		__u8 *vb = data;

		if ((void *)(vb + 1) > data_end || (*vb >> 4) != 4)
			return PARSE_NOT_OURS;
	}
	p->l3_off = l2;
	iph = data + l2;
	if ((void *)(iph + 1) > data_end)
		return PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_MALFORMED;
	ihl = iph->ihl * 4;
	p->tot_len = bpf_ntohs(iph->tot_len);
	if (p->tot_len < ihl || p->tot_len > pkt_len - l2)
		return PARSE_MALFORMED;
	if ((void *)iph + ihl > data_end)
		return PARSE_MALFORMED;
	p->has_options = ihl > 20;
	p->ttl = iph->ttl;
	p->ip_id = iph->id;
	p->key.saddr = iph->saddr;
	p->key.daddr = iph->daddr;
	p->key.proto = iph->protocol;
	p->l4_off = l2 + ihl;
	l4_len = p->tot_len - ihl;

	/* Meaningful for TCP only. Set on every path from a packet word, not
	 * left zero: the verifier cannot prune a path whose stack holds
	 * zeros against one that holds unknown bytes, and the zeros of
	 * UDP and ICMP packets made it explore half the program again. */
	p->tcp_seq = p->tcp_end = p->tcp_ack = iph->saddr;
	frag_off = bpf_ntohs(iph->frag_off);
	if (frag_off & IP_OFFMASK_) {
		p->frag = FRAG_LATER;
		if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP &&
		    iph->protocol != IPPROTO_ICMP)
			return PARSE_NOT_OURS;
		return PARSE_OK;
	}
	p->frag = (frag_off & IP_MF_) ? FRAG_FIRST : FRAG_NONE;

	switch (iph->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *th = data + p->l4_off;

		if ((void *)(th + 1) > data_end || l4_len < sizeof(*th))
			return PARSE_MALFORMED;
		if (th->doff < 5 || th->doff * 4 > l4_len)
			return PARSE_MALFORMED;
		p->tcp_flags = ((__u8 *)th)[13];
		p->tcp_seq = bpf_ntohl(th->seq);
		p->tcp_ack = bpf_ntohl(th->ack_seq);
		/* the first fragment's tot_len is its own, not the datagram's:
		 * its end is not known (nor needed, only a bare segment moves
		 * state) */
		p->tcp_end = p->tcp_seq + (l4_len - th->doff * 4) +
			     !!(p->tcp_flags & TCP_SYN_) + !!(p->tcp_flags & TCP_FIN_);
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = data + p->l4_off;

		if ((void *)(uh + 1) > data_end || l4_len < sizeof(*uh))
			return PARSE_MALFORMED;
		if (bpf_ntohs(uh->len) < sizeof(*uh))
			return PARSE_MALFORMED;
		if (p->frag == FRAG_NONE && bpf_ntohs(uh->len) > l4_len)
			return PARSE_MALFORMED;
		break;
	}
	case IPPROTO_ICMP:
		if (l4_len < sizeof(struct icmphdr))
			return PARSE_MALFORMED;
		break;
	default:
		return PARSE_NOT_OURS;
	}
	if (parse_l4_ports(data + p->l4_off, data_end, iph->protocol, &p->key, &p->icmp_type) != PARSE_OK)
		return PARSE_MALFORMED;

	if (iph->protocol == IPPROTO_ICMP) {
		if (p->icmp_type == ICMP_DEST_UNREACH_ || p->icmp_type == ICMP_TIME_EXCEEDED_ ||
		    p->icmp_type == ICMP_PARAMETERPROB_) {
			if (p->frag != FRAG_NONE)
				return PARSE_NOT_OURS;
			p->icmp_error = 1;
			p->inner_l3_off = p->l4_off + sizeof(struct icmphdr);
			return parse_icmp_error(data, data_end, p);
		}
		if (p->icmp_type != ICMP_ECHO_ && p->icmp_type != ICMP_ECHOREPLY_)
			return PARSE_NOT_OURS;
	}
	return PARSE_OK;
}

#endif /* NAT_PARSE_H */
