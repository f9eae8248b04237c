/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_ftp.h - the FTP ALG's protocol core: pure, I/O-free, no allocation.
 *
 * One struct alg_ftp_conn follows one FTP control connection. The caller
 * (the AF_XDP glue) feeds it the TCP payload of every control segment, in
 * either direction, as it arrives (original sequence numbers, before any
 * translation), and gets back:
 *   - a verdict: forward the payload untouched, forward the rewritten
 *     payload the ALG wrote into the caller's buffer, or drop the segment;
 *   - the sequence number the forwarded segment must carry;
 *   - events: expectations to open or cancel, and "go opaque" (hand the
 *     flow back to the XDP fast path; nothing will ever be parsed again).
 * The caller also maps the ack number and SACK blocks of every segment
 * (pure ACKs included) with alg_ftp_ack_in() / alg_ftp_sack_in().
 *
 * Conventions: addresses are IPv4 in network byte order (like s_addr);
 * ports named *_port_host are in host byte order; sequence numbers are in
 * host byte order (ntohl of the header field).
 *
 * Deployment cases (struct alg_ftp_nat.mode):
 *  ALG_FTP_MASQ     (A) LAN client C masqueraded to WAN address W, server S
 *                   on the Internet. PORT/EPRT naming C:p is rewritten to
 *                   W:p' (p' from the map_port callback) and, after the
 *                   server's 200, an expectation S -> W:p' => C:p opens.
 *                   PASV/EPSV need nothing.
 *  ALG_FTP_FORWARD  (B) Internet client R connected to W:21, forwarded to
 *                   server S inside. A 227 naming S:p is rewritten to W:p'
 *                   (p' from map_port) with an expectation R -> W:p' => S:p;
 *                   a 227 naming W:p and a 229 (|||p|) open R -> W:p => S:p
 *                   without a rewrite. PORT needs nothing.
 *  ALG_FTP_HAIRPIN  both at once: LAN client C connected to W:21, forwarded
 *                   to server S on a LAN; the server sees C as W (hairpin
 *                   translates both halves). PORT/EPRT naming C:p become
 *                   W:p' with S -> W:p' => C:p, a 227 naming S:p becomes
 *                   W:p' with C -> W:p' => S:p, as in A and B; the data
 *                   connections arrive from a LAN, and their expectations
 *                   say so (NAT_EXPECT_HAIRPIN).
 *
 * The implicit-TLS port (990) is never fed to the ALG: the caller decides
 * by port. Everything else follows from the bytes: see doc/readme/alg.md.
 */
#ifndef XDPNAT_ALG_FTP_H
#define XDPNAT_ALG_FTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALG_FTP_LINE_MAX	512	/* longest line inspected, CRLF included */
#define ALG_FTP_SEQMAP_MAX	16	/* rewrites remembered per direction */
#define ALG_FTP_RW_MAX		32	/* longest replaced text (an address+port) */
#define ALG_FTP_SEG_RW_MAX	4	/* rewrites in one segment */
#define ALG_FTP_CMDQ_MAX	16	/* commands awaiting their reply */
#define ALG_FTP_MAX_EVENTS	8	/* events returned by one call */
#define ALG_FTP_PORT_MIN	1024	/* lowest data port accepted */
#define ALG_FTP_GAP_DROPS_MAX	4	/* drops past a hole before giving up */
/* A segment whose sequence number is further than this from the next new
 * byte of its direction, ahead or behind, is not of this connection (an
 * FTP control connection never has a MiB in flight): alg_ftp_process()
 * drops it without looking at it, and it neither counts as a drop past a
 * hole nor moves anything. */
#define ALG_FTP_WINDOW_MAX	(1U << 20)

enum alg_ftp_dir {
	ALG_FTP_FROM_CLIENT = 0,
	ALG_FTP_FROM_SERVER = 1,
};

enum alg_ftp_mode {
	ALG_FTP_MASQ = 1,		/* (A) client inside, masqueraded */
	ALG_FTP_FORWARD = 2,		/* (B) server inside, behind a forward */
	ALG_FTP_HAIRPIN = 3,		/* client and server inside, through a forward */
};

/* The NAT context of the control connection, fixed at creation. */
struct alg_ftp_nat {
	enum alg_ftp_mode mode;
	uint32_t client_addr;		/* the client as it really is: A: C, B: R, hairpin: C */
	uint32_t client_outside;	/* the client as the server sees it: A: W, B: R, hairpin: W */
	uint32_t server_addr;		/* the server as it really is: A: S, B: S (inside), hairpin: S */
	uint32_t server_outside;	/* the server as the client sees it: A: S, B: W, hairpin: W */
};

/* What the ALG asks the caller for: an outside port on outside_addr that
 * remote_addr may use to reach inside_addr:inside_port. */
struct alg_ftp_map_req {
	uint32_t remote_addr;
	uint32_t outside_addr;
	uint32_t inside_addr;
	uint16_t inside_port_host;
	uint8_t proto;			/* IPPROTO_TCP */
	uint8_t pad;
};

/*
 * Returns 0 and sets *outside_port_host (>= 1) on success, non-zero if no
 * port is available (then nothing is rewritten or opened). The port is
 * used in an EXPECT_OPEN later (PORT/EPRT: after the server's 200) or an
 * EXPECT_CANCEL says it is not needed; a caller that reserves the port
 * must also let the reservation expire (the conn may go opaque or end
 * between the two). Never called for a retransmission: the ALG replays
 * the bytes it wrote the first time.
 */
typedef int (*alg_ftp_map_port_fn)(void *ctx, const struct alg_ftp_map_req *req,
				   uint16_t *outside_port_host);

enum alg_ftp_state {
	ALG_FTP_ST_GREETING = 0,	/* waiting for the server's 220 */
	ALG_FTP_ST_INSPECT = 1,		/* parsing both directions */
	ALG_FTP_ST_OPAQUE = 2,		/* AUTH answered 234 (or gave up): never parse again */
	ALG_FTP_ST_NOT_FTP = 3,		/* did not look like FTP: never parsed */
};

enum alg_ftp_event_kind {
	ALG_FTP_EV_EXPECT_OPEN = 1,	/* insert remote -> outside:port => inside:port */
	ALG_FTP_EV_EXPECT_CANCEL = 2,	/* a port from map_port will not be used */
	ALG_FTP_EV_GO_OPAQUE = 3,	/* hand the flow back to XDP (state says why) */
};

enum alg_ftp_source {
	ALG_FTP_SRC_NONE = 0,
	ALG_FTP_SRC_PORT,
	ALG_FTP_SRC_EPRT,
	ALG_FTP_SRC_PASV,		/* 227 */
	ALG_FTP_SRC_EPSV,		/* 229 */
};

enum alg_ftp_opaque_reason {
	ALG_FTP_WHY_NONE = 0,
	ALG_FTP_WHY_AUTH,		/* AUTH ... answered 234: control channel protected */
	ALG_FTP_WHY_NOT_FTP,		/* no 220 greeting, or a line that is not FTP */
	ALG_FTP_WHY_OVERFLOW,		/* too many commands in flight or events in one call */
	ALG_FTP_WHY_GAP,		/* data kept arriving past a hole the ALG never saw filled */
};

struct alg_ftp_event {
	enum alg_ftp_event_kind kind;
	enum alg_ftp_source source;
	enum alg_ftp_opaque_reason reason;	/* GO_OPAQUE */
	uint32_t remote_addr;		/* who may connect */
	uint32_t outside_addr;		/* to this address ... */
	uint16_t outside_port_host;	/* ... and port */
	uint16_t inside_port_host;	/* translated to inside_addr:inside_port */
	uint32_t inside_addr;
	uint8_t proto;			/* IPPROTO_TCP */
};

enum alg_ftp_verdict {
	ALG_FTP_PASS = 0,		/* forward the payload as it was, with seq = res.seq */
	ALG_FTP_REWRITTEN = 1,		/* forward out[0..out_len) with seq = res.seq */
	ALG_FTP_DROP = 2,		/* drop: out-of-order data, a replay that does not fit,
					 * or a segment out of the window */
};

struct alg_ftp_result {
	enum alg_ftp_verdict verdict;
	uint32_t seq;			/* sequence number for the forwarded segment */
	size_t out_len;			/* REWRITTEN: bytes written to out */
	unsigned n_events;
	struct alg_ftp_event ev[ALG_FTP_MAX_EVENTS];
};

/* ---- internal state, exposed only so the caller can embed the conn ---- */

struct alg_ftp_rw {			/* one rewrite, in original sequence space */
	uint32_t seq;			/* first replaced byte */
	uint16_t olen;			/* bytes replaced */
	uint16_t nlen;			/* bytes written instead */
	int32_t delta;			/* cumulative length change after this rewrite */
	uint8_t bytes[ALG_FTP_RW_MAX];	/* what was written: replayed on retransmission */
};

struct alg_ftp_seqmap {
	int32_t base_delta;		/* delta before the oldest kept rewrite */
	bool merged;			/* rewrites were forgotten: bytes before */
	uint32_t merged_end;		/* merged_end cannot be replayed */
	unsigned n;
	struct alg_ftp_rw rw[ALG_FTP_SEQMAP_MAX];	/* stream order */
};

struct alg_ftp_half {			/* one direction */
	bool seq_known;
	bool line_overflow;		/* current line is longer than ALG_FTP_LINE_MAX */
	bool ack_known;
	uint16_t line_len;
	uint32_t next_seq;		/* original seq of the next new byte */
	uint32_t line_seq;		/* original seq of the current line's first byte */
	uint32_t max_ack;		/* highest ack the peer sent for this stream (original) */
	struct alg_ftp_seqmap map;
	uint8_t line[ALG_FTP_LINE_MAX];
};

struct alg_ftp_cmd {			/* a command awaiting its reply */
	uint8_t kind;			/* enum alg_ftp_cmd_kind (alg_ftp.c) */
	bool pending;			/* PORT/EPRT rewritten: expectation on 200 */
	uint16_t outside_port_host;
	uint16_t inside_port_host;
	uint32_t inside_addr;
};

struct alg_ftp_conn {
	struct alg_ftp_nat nat;
	alg_ftp_map_port_fn map_port;
	void *map_ctx;
	enum alg_ftp_state state;
	enum alg_ftp_opaque_reason why;
	uint16_t reply_code;		/* reply being received (0: between replies) */
	bool reply_multi;		/* inside a "xyz-" multi-line reply */
	bool reply_acted;		/* this 227/229 already produced its expectation */
	uint8_t gap_drops;		/* consecutive drops of data past a hole */
	unsigned cmd_head, cmd_n;
	struct alg_ftp_cmd cmdq[ALG_FTP_CMDQ_MAX];
	struct alg_ftp_half half[2];
};

/* ---- API ---- */

/* Set up a conn for a new control connection (at its SYN). */
void alg_ftp_init(struct alg_ftp_conn *c, const struct alg_ftp_nat *nat,
		  alg_ftp_map_port_fn map_port, void *map_ctx);

/* A conn copied back from bytes (a session the ALG saved before a
 * restart), its callback set again: true when every index and length in it
 * is within its array, so that feeding it cannot reach outside the conn.
 * It says nothing about whether the bytes make sense as a session. */
bool alg_ftp_conn_valid(const struct alg_ftp_conn *c);

/* Optional: the ISN of a direction (the seq of its SYN / SYN-ACK). Without
 * it the first data segment seen in that direction sets the start. */
void alg_ftp_set_isn(struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t isn);

/*
 * Is a segment of dir with original sequence number seq within
 * ALG_FTP_WINDOW_MAX of the next new byte of its direction? Always true
 * while that is not known yet (no SYN and no data seen in dir). A caller
 * drops a segment that is not, before anything of it (its ack included)
 * reaches the conn: a forged or stray segment must leave it untouched.
 */
bool alg_ftp_in_window(const struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t seq);

/*
 * Feed one segment's payload (data, len) travelling in dir with original
 * sequence number seq. out/out_cap is the caller's buffer for a rewritten
 * payload (the rewrite is skipped, as if it were not needed, when it would
 * not fit; out may be NULL with out_cap 0). Fills *res; returns res->verdict.
 * Pure ACKs may be fed too (len 0): PASS with the translated seq. A
 * segment out of the window (alg_ftp_in_window()) is DROP, the conn
 * untouched.
 */
enum alg_ftp_verdict alg_ftp_process(struct alg_ftp_conn *c, enum alg_ftp_dir dir,
				     uint32_t seq, const uint8_t *data, size_t len,
				     uint8_t *out, size_t out_cap,
				     struct alg_ftp_result *res);

/* Sequence number seq of a segment in dir (original) -> as forwarded. */
uint32_t alg_ftp_seq_out(const struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t seq);

/* Ack number carried by a segment travelling in dir (it acknowledges the
 * other direction's stream, in translated space) -> original. Rounds down
 * inside a rewritten span (never acknowledges a byte not received).
 * Remembers the highest ack seen (alg_ftp_rewrites_acked), but only one
 * that acknowledges bytes the ALG has seen: an ack beyond them is forged
 * (or the bytes went past the ALG) and must not make a rewrite look
 * acknowledged, which would hand the flow back too early. */
uint32_t alg_ftp_ack_in(struct alg_ftp_conn *c, enum alg_ftp_dir dir, uint32_t ack);

/* A SACK block [*left, *right) carried by a segment travelling in dir ->
 * original. Rounds inwards; returns false if the block became empty (the
 * caller then removes it or replaces it by a copy of another block). */
bool alg_ftp_sack_in(const struct alg_ftp_conn *c, enum alg_ftp_dir dir,
		     uint32_t *left, uint32_t *right);

/* True when every rewrite so far has been acknowledged in both directions
 * (as seen through alg_ftp_ack_in): after GO_OPAQUE the glue should keep
 * the flow until this holds, because XDP can shift sequence numbers but
 * cannot replay a rewrite for a retransmission. */
bool alg_ftp_rewrites_acked(const struct alg_ftp_conn *c);

/* Cumulative length change of dir after everything seen so far: what the
 * XDP fast path adds to seq (this dir) / subtracts from ack (other dir). */
int32_t alg_ftp_delta(const struct alg_ftp_conn *c, enum alg_ftp_dir dir);

enum alg_ftp_state alg_ftp_get_state(const struct alg_ftp_conn *c);
const char *alg_ftp_event_name(enum alg_ftp_event_kind kind);
const char *alg_ftp_state_name(enum alg_ftp_state st);

/* Parsers, exposed for tests. Return 0 on success. addr in network order. */
int alg_ftp_parse_port_args(const char *s, size_t n, uint32_t *addr, uint16_t *port_host);
int alg_ftp_parse_eprt_args(const char *s, size_t n, uint32_t *addr, uint16_t *port_host);
/* Finds h1,h2,h3,h4,p1,p2 anywhere in s: its span is s[*off .. *off + *len). */
int alg_ftp_parse_227(const char *s, size_t n, uint32_t *addr, uint16_t *port_host,
		      size_t *off, size_t *len);
int alg_ftp_parse_229(const char *s, size_t n, uint16_t *port_host);

#endif /* XDPNAT_ALG_FTP_H */
