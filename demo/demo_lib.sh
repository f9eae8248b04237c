# shellcheck shell=bash
# demo/demo_lib.sh - helpers of demo/demo.sh (source after tests/e2e/lib.sh,
# ddns_lib.sh and ftp_lib.sh): the seed topology, printing, checks, and the
# small clients the story needs. Nothing here touches the host: namespaces,
# files under $E2E_TMP, mounts only in private mount namespaces.

# ---------------------------------------------------------------- printing

step() { printf '\n### %s\n' "$*"; }
say() { printf '%s\n' "$*" | fold -s -w 100 | sed 's/^/# /'; }
indent() { sed 's/^/    /'; }

# on ROLE CMD... : show "[ROLE]$ CMD" and run it in that namespace, output indented.
on() {
	local role=$1
	shift
	printf '[%s]$ %s\n' "$role" "$*"
	e2e_in "$role" "$@" 2>&1 | indent
	return "${PIPESTATUS[0]}"
}

# nat ARGS... : show "[router]$ xdpnat ARGS" and run it against the running daemon.
nat() {
	printf '[router]$ xdpnat %s\n' "$*"
	e2e_xdpnat "$@" 2>&1 | indent
	return "${PIPESTATUS[0]}"
}

# The config file as the reader should see it: temporary paths shortened.
show_conf() { sed -e "s#$E2E_TMP#\$TMP#g" -e "s#$E2E_RUN_DIR#\$RUN#g" "$1" | indent; }

# ---------------------------------------------------------------- checks

DEMO_FAILED=()

# ck DESC CMD... : a check; a failure is reported at once and at the end.
ck() {
	e2e_check "$@" && return 0
	DEMO_FAILED+=("$1")
	return 1
}

# ck_not DESC CMD... : CMD must fail.
ck_not() {
	e2e_check_not "$@" && return 0
	DEMO_FAILED+=("$1")
	return 1
}

# ck_test DESC DETAILS TEST-ARGS... : a `test` with details shown on failure.
ck_test() {
	local desc=$1 details=$2
	shift 2
	if test "$@"; then
		e2e_ok "$desc"
	else
		e2e_fail "$desc" "$details"
		DEMO_FAILED+=("$desc")
		return 1
	fi
}

# need DESC CMD... : a check the rest of the demo depends on: stop if it fails.
need() {
	ck "$@" && return 0
	demo_logs
	demo_abort "$1"
}

demo_abort() {
	printf '\nDEMO FAILED: %s (the rest depends on it; stopping)\n' "$1" >&2
	exit 1
}

demo_logs() {
	local f
	for f in "${E2E_XDPNAT_LOG:-}" "${DHCLIENT_LOG:-}" "${DNSMASQ_LOG:-}"; do
		if [ -z "$f" ] || [ ! -f "$f" ]; then continue; fi
		echo "# --- last lines of ${f##*/}"
		tail -n 15 "$f" | sed 's/^/#   /'
	done
}

demo_end() {
	local t=$((SECONDS - DEMO_T0)) f
	echo "1..$E2E_N"
	if [ ${#DEMO_FAILED[@]} = 0 ] && [ "$E2E_NFAIL" = 0 ]; then
		printf '\nDemo complete: all %d checks passed in %d s.\n' "$E2E_N" "$t"
		exit 0
	fi
	demo_logs >&2
	printf '\nDEMO FAILED: %d of %d checks failed (%d s):\n' "$E2E_NFAIL" "$E2E_N" "$t" >&2
	for f in "${DEMO_FAILED[@]}"; do printf '  - %s\n' "$f" >&2; done
	exit 1
}

# ---------------------------------------------------------------- topology
#
#   other 192.0.2.66 ----+
#   inet 203.0.113.10 ---+- isp (DHCP server 198.51.100.1) -- wan0 [router] lan0 -- sw -- lanc, lans
#
# isp routes between its three links and has no route to 192.168.0.0/24, like
# the real Internet. The router's wan0 starts without an address.
demo_topo() {
	e2e_ns_add isp inet other router || return 1
	e2e_sysctl router net.ipv4.ip_forward=1
	e2e_sysctl isp net.ipv4.ip_forward=1
	e2e_veth router wan0 isp down0 || return 1
	e2e_veth isp up0 inet eth0 || return 1
	e2e_veth isp up1 other eth0 || return 1
	e2e_addr isp down0 198.51.100.1/24
	e2e_addr isp up0 203.0.113.1/24
	e2e_addr inet eth0 203.0.113.10/24
	e2e_addr isp up1 192.0.2.1/24
	e2e_addr other eth0 192.0.2.66/24
	ip -n "$(e2e_ns inet)" route add default via 203.0.113.1
	ip -n "$(e2e_ns other)" route add default via 192.0.2.1
	e2e_router_peer_if isp down0
	local d
	for d in down0 up0 up1; do e2e_host_if isp $d; done
	e2e_host_if inet eth0
	e2e_host_if other eth0
	_e2e_lan || return 1
	_e2e_settle
}

# ---------------------------------------------------------------- DHCP
# As tests/e2e/test_dhcp.sh: dnsmasq (DHCP only) in isp, dhclient on the
# router's wan0 with our own script (address and default route only: never
# the host's resolv.conf or any other file).

demo_dnsmasq_start() {	# ADDRESS: the only one it hands out
	e2e_bg isp dnsmasq --no-daemon --port=0 --conf-file=/dev/null --interface=down0 \
		--bind-interfaces --dhcp-authoritative --dhcp-range="$1,$1,255.255.255.0,1h" \
		--dhcp-option=3,198.51.100.1 --dhcp-leasefile="$E2E_TMP/dnsmasq.leases" \
		--pid-file="$E2E_TMP/dnsmasq.pid" --log-dhcp
	DNSMASQ_LOG=$E2E_BG_LOG
	e2e_wait_for -t 5 grep -q "DHCP, IP range" "$DNSMASQ_LOG"
}

demo_dhclient_start() {
	e2e_bg router dhclient -d -v -cf "$E2E_TMP/dhclient.conf" -sf "$E2E_TMP/dhclient-script" \
		-lf "$E2E_TMP/dhclient.leases" -pf "$E2E_TMP/dhclient.pid" wan0
	DHCLIENT_LOG=$E2E_BG_LOG
}

wan_addr() { ip -n "$(e2e_ns router)" -4 -o addr show dev wan0 | awk '{ sub("/.*", "", $4); print $4; exit }'; }
wan_has() { [ "$(wan_addr)" = "$1" ]; }
status_wan() { e2e_xdpnat status 2>/dev/null | grep -E "^ *wan0 .*$1"; }
status_ddns_ok() { e2e_xdpnat status 2>/dev/null | grep -E "^ *$1 .*sent $2, result good .* ok$"; }

# The DDNS requests the test server received, one line each, without the
# Authorization header.
ddns_show_requests() {
	python3 -c '
import json, sys
from urllib.parse import urlencode
for line in open(sys.argv[1]):
    r = json.loads(line)
    q = urlencode({k: v[0] for k, v in r.get("query", {}).items()}, safe=":")
    print("%s %s?%s  (user agent %s)" % (r.get("method"), r.get("path"), q, r.get("agent")))
' "$DDNS_LOG"
}

# ---------------------------------------------------------------- FTP

# The 227 lines of a vsftpd protocol log (what the server sent).
ftp_log_227() { grep -o '"227 [^"]*"' "$1" | tr -d '"'; }

# curl's view of an FTP session (from -v): the lines that tell the story.
curl_story() {
	grep -E '^(< 227|< 229|< 234|> AUTH|> PASV|> EPSV|\* +Trying|\* Connecting|\* Connected to|\* Failed|\* connect to|< 226|curl: )' "$1" |
		grep -v -E '^\* Connected to .* port 21 ' | head -n 16
}

# The established FTP control flow of PEER to the WAN's port 21 in
# `xdpnat flows --json`: "packets user_packets alg_state peer_port"
# (packets: both directions).
ctl_flow() {
	e2e_xdpnat flows --json 2>/dev/null | python3 -c '
import json, sys
peer = sys.argv[1]
for f in json.load(sys.stdin):
    if f.get("kind") == "forward" and f["remote"].startswith(peer + ":") \
            and f["outside"].endswith(":21") and f["state"] == "established" and "alg" in f:
        print(f["packets_orig"] + f["packets_reply"], f["alg"]["user_packets"], f["alg"]["state"],
              f["remote"].split(":")[1])
        break' "$1"
}

# show_ctl_flow PEER PORT : the lines of that control flow in `xdpnat flows`.
show_ctl_flow() {
	printf '[router]$ xdpnat flows | grep -A1 %s:%s\n' "$1" "$2"
	e2e_xdpnat flows 2>&1 | grep -A1 -F " $1:$2 " | indent
}

# show_nat_alg PEER PORT : its nat_alg entry, read with bpftool.
show_nat_alg() {
	printf '[router]$ bpftool -j map dump pinned %s/nat_alg | tests/e2e/ftp_maps.py alg | grep "^%s %s "\n' \
		"$E2E_BPFFS/xdpnat" "$1" "$2"
	ftp_alg_entries | awk -v c="$1" -v p="$2" '$1 == c && $2 == p {
		split("greeting inspect opaque not-ftp", st, " ")
		printf "%s:%s -> %s:%s  state %s (%s)  user_packets %s  offsets %+d/%+d\n",
			$1, $2, $3, $4, $5, st[$5 + 1], $6, $8, $9 }' | indent
}

# vsftpd resolves pasv_address (pasv_addr_resolve=YES) once, at start-up.
# The name's DNS record is what the DDNS server received; it is handed to
# vsftpd as an /etc/hosts bind-mounted in a private mount namespace of its
# own process (the host's /etc is not touched). ftp_server (ftp_lib.sh) runs
# `vsftpd CONF` through PATH, so a wrapper first in PATH does it.
demo_resolver_wrapper() {	# NAME ADDRESS
	mkdir -p "$E2E_TMP/resolver"
	printf '# DNS as the DDNS provider publishes it\n%s %s\n' "$2" "$1" >"$E2E_TMP/resolver/hosts"
	chmod 644 "$E2E_TMP/resolver/hosts"
	cat >"$E2E_TMP/resolver/vsftpd" <<-EOF
	#!/bin/sh
	exec unshare -m --propagation private sh -c \
		'mount --bind "\$0" /etc/hosts && exec $(command -v vsftpd) "\$@"' "$E2E_TMP/resolver/hosts" "\$@"
	EOF
	chmod 755 "$E2E_TMP/resolver/vsftpd"
}

# A TCP connect from ROLE to ADDR:PORT (timeout 2 s): prints the outcome;
# exit 0 only if it connected.
tcp_try() {
	e2e_in "$1" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except socket.timeout:
    print("no answer (timed out after 2 s)"); sys.exit(1)
except OSError as e:
    print(e.strerror); sys.exit(2)' "$2" "$3"
}

# An FTPS client session that stays open between steps of the demo
# (Python ftplib, explicit TLS). It honours the 227 address, like the
# report's client. Steps are driven by files in DIR: it logs in
# (AUTH TLS, PBSZ 0, PROT P), prints "logged in", waits for DIR/go, sends
# 10 NOOPs and downloads FILE (prints its sha256), waits for DIR/quit.
demo_ftps_session_py() {
	cat >"$E2E_TMP/ftps_session.py" <<-'EOF'
	import ftplib, hashlib, os, ssl, sys, time
	host, path, d = sys.argv[1:4]
	def wait(name):
	    for _ in range(600):
	        if os.path.exists(os.path.join(d, name)):
	            return
	        time.sleep(0.05)
	    sys.exit("timed out waiting for " + name)
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	f = ftplib.FTP_TLS(context=ctx, timeout=10)
	f.trust_server_pasv_ipv4_address = True
	f.connect(host, 21)
	f.auth()
	f.login()
	f.prot_p()
	print("logged in", flush=True)
	wait("go")
	for _ in range(10):
	    f.voidcmd("NOOP")
	h = hashlib.sha256()
	f.retrbinary("RETR " + path, h.update)
	print("sha256 " + h.hexdigest(), flush=True)
	wait("quit")
	f.quit()
	print("bye", flush=True)
	EOF
}
