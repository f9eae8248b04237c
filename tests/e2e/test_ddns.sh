#!/bin/bash
# test_ddns.sh - `xdpnat ddns update` against a local HTTPS double of the
# DDNS providers (tests/e2e/ddns_server.py) on 127.0.0.1 with a test CA
# made here by openssl. For each provider the server must see exactly the
# expected request (host name, address, credentials, user agent); every
# reply code must give the documented exit code; slow, garbage, huge and
# wrongly-certified servers must fail cleanly and in bounded time; the
# persisted state must prevent a resend; no secret may appear in any output.
#
# `xdpnat ddns update` needs no root and no namespaces: it takes the address
# from --address and does not look at the interface (the wan names here do
# not exist). Traffic goes to 127.0.0.1 only; proxies from the environment
# are unset. As root, a last part runs `xdpnat run` in the basic topology
# with the test server on the router namespace's loopback: update at start
# and on an address change, ddns.json, no resend after a restart, and a
# hanging DDNS server that stalls neither `xdpnat status` nor SIGTERM
# (DDNS_SKIP_DAEMON=1 skips that part).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ddns_lib.sh"
e2e_require openssl python3 timeout "$E2E_XDPNAT"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

T=$E2E_TMP
ADDR=198.51.100.7
PASS='p&ss w0rd!'
PASS_ESC='p%26ss%20w0rd%21'
TOKEN='cf-T0ken-s3cret'
export PASS TOKEN
BASIC="Basic $(printf '%s' "alice:$PASS" | base64 -w0)"
export BASIC

# ---------------------------------------------------------------- setup

if ! ddns_mk_ca "$T/ca" || ! ddns_mk_server_cert "$T/ca" || ! ddns_mk_ca "$T/otherca"; then
	e2e_fail "make a test CA and server certificate with openssl"
	e2e_finish
fi
printf '%s\n' "$PASS" >"$T/pass"
printf 'wrong\n' >"$T/badpass"
printf '%s\n' "$TOKEN" >"$T/token"
printf 'nope\n' >"$T/badtoken"
chmod 600 "$T/pass" "$T/badpass" "$T/token" "$T/badtoken"

python3 "$E2E_LIB_DIR/ddns_server.py" --cert "$T/ca/srv.crt" --key "$T/ca/srv.key" \
	--log "$T/requests.jsonl" --port-file "$T/port" --user alice --password "$PASS" \
	--token "$TOKEN" >"$T/server.out" 2>&1 &
E2E_PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
if [ ! -s "$T/port" ]; then
	e2e_fail "start the HTTPS test server" "$(cat "$T/server.out")"
	e2e_finish
fi
URL="https://127.0.0.1:$(cat "$T/port")"
touch "$T/requests.jsonl"

# ---------------------------------------------------------------- helpers

# conf WAN PROVIDER FQDN OPTIONS... : a config with one ddns line
conf() {
	local wan=$1 p=$2 f=$3
	shift 3
	cat >"$T/xdpnat.conf" <<-EOF
	wan $wan
	lan lan0
	state-dir $T/state
	run-dir $T/run
	ddns $wan $p $f $*
	EOF
}
dyn_opts() { echo "server $URL ca-file $T/ca/ca.crt user alice password-file ${1:-$T/pass}"; }

# run [ARGS...] : xdpnat ddns update on the current config; sets RC, OUT,
# SECS and $T/new.jsonl (the requests the server got meanwhile)
run() {
	local n0 t0
	n0=$(wc -l <"$T/requests.jsonl")
	t0=$SECONDS
	OUT=$(timeout 90 "$E2E_XDPNAT" ddns update -c "$T/xdpnat.conf" "$@" 2>&1)
	RC=$?
	SECS=$((SECONDS - t0))
	sleep 0.2	# the server logs before it answers; this is just slack
	tail -n +$((n0 + 1)) "$T/requests.jsonl" >"$T/new.jsonl"
	printf '%s\n' "$OUT" >>"$T/all.out"
}
upd() { run --wan "${WAN:-eth0}" --address "${A:-$ADDR}" "$@"; }

# reqs PYEXPR : PYEXPR holds over r, the list of new requests
reqs() {
	python3 - "$T/new.jsonl" "$1" <<-'EOF'
	import json, os, sys
	r = [json.loads(l) for l in open(sys.argv[1])]
	env = dict(r=r, BASIC=os.environ["BASIC"], PASS=os.environ["PASS"],
	           BEARER="Bearer " + os.environ["TOKEN"], AGENT="xdpnat/0.1 ddns",
	           ADDR=os.environ["ADDR"],
	           json_ok=lambda b: json.loads(b) == {"content": os.environ["ADDR"]})
	sys.exit(0 if eval("(" + sys.argv[2] + ")", env) else 1)
	EOF
}
export ADDR

# expect DESC RC OUT-REGEX PYEXPR : one TAP line for the last run
expect() {
	local desc=$1 rc=$2 re=$3 py=$4
	if [ "$RC" = "$rc" ] && grep -Eq -- "$re" <<<"$OUT" && reqs "$py"; then
		e2e_ok "$desc"
	else
		e2e_fail "$desc" "exit $RC (want $rc), output:" "$OUT" "requests:" \
			"$(cat "$T/new.jsonl")"
	fi
}

# one GET of PATH for FQDN with Basic auth
dyn_req() {	# path fqdn [addr]
	echo "len(r) == 1 and r[0]['method'] == 'GET' and r[0]['path'] == '$1' and" \
	     "r[0]['query'] == {'hostname': ['$2'], 'myip': ['${3:-$ADDR}']} and" \
	     "r[0]['auth'] == BASIC and r[0]['agent'] == AGENT"
}

# ---------------------------------------------------------------- providers

conf eth0 dyndns2 dyn.example "$(dyn_opts)"
upd
expect "dyndns2: one GET /nic/update with hostname, myip and Basic auth" 0 \
	'^dyn\.example \(dyndns2 on eth0\): good 198\.51\.100\.7$' "$(dyn_req /nic/update dyn.example)"

conf eth0 noip noip.example "$(dyn_opts)"
upd
expect "noip: dyndns2 protocol, /nic/update" 0 'good 198\.51\.100\.7' \
	"$(dyn_req /nic/update noip.example)"

conf eth0 oray h3cmsr.imwork.net "$(dyn_opts)"
upd
expect "oray: one GET /ph/update with hostname, myip and Basic auth" 0 \
	'h3cmsr\.imwork\.net \(oray on eth0\): good 198\.51\.100\.7' \
	"$(dyn_req /ph/update h3cmsr.imwork.net)"

CF="server $URL ca-file $T/ca/ca.crt token-file $T/token"
conf eth0 cloudflare www.cf.example.com "$CF"
upd
expect "cloudflare: zone found by walking up the labels, record looked up, then PATCHed" 0 \
	'good 198\.51\.100\.7' \
	"([x['method'] + ' ' + x['path'] + ' ' + str(x['query']) for x in r] == [
	 \"GET /client/v4/zones {'name': ['www.cf.example.com']}\",
	 \"GET /client/v4/zones {'name': ['cf.example.com']}\",
	 \"GET /client/v4/zones {'name': ['example.com']}\",
	 \"GET /client/v4/zones/zone0001/dns_records {'type': ['A'], 'name': ['www.cf.example.com']}\",
	 'PATCH /client/v4/zones/zone0001/dns_records/rec0002 {}']
	 and json_ok(r[4]['body']) and all(x['auth'] == BEARER and x['agent'] == AGENT for x in r))"

upd --force
expect "cloudflare: record already right -> nochg, no PATCH" 0 'nochg 198\.51\.100\.7' \
	"len(r) == 4 and all(x['method'] == 'GET' for x in r)"

conf eth0 cloudflare nx.example.com "$CF"
upd
expect "cloudflare: no such A record -> permanent failure (exit 3)" 3 \
	'permanent failure: nohost' "len(r) == 3"

conf eth0 cloudflare cf.example.com "server $URL ca-file $T/ca/ca.crt token-file $T/badtoken"
upd
expect "cloudflare: token refused (403) -> permanent failure" 3 \
	'permanent failure: cloudflare error 10000 Authentication error' "len(r) == 1"

conf eth0 custom cust.example "ca-file $T/ca/ca.crt user al@ice password-file $T/pass" \
	"url $URL/custom?h={host}&ip={addr}&u={user}&p={password}"
upd
expect "custom: template expanded with every value URL-escaped" 0 'HTTP 200|good' \
	"len(r) == 1 and r[0]['path'] == '/custom' and r[0]['query'] == {'h': ['cust.example'],
	 'ip': [ADDR], 'u': ['al@ice'], 'p': [PASS]} and r[0]['auth'] == ''"

conf eth0 custom cust.example "user al@ice password-file $T/pass" \
	"url https://127.0.0.1:1/custom?p={password}"
upd
expect "custom: connection refused -> temporary failure (exit 1)" 1 \
	'temporary failure: connection error' "len(r) == 0"

conf nonexist9 dyndns2 anywan.example "$(dyn_opts)"
WAN=nonexist9 upd
expect "a wan that is no interface here is fine for ddns update" 0 'good' \
	"$(dyn_req /nic/update anywan.example)"

# ---------------------------------------------------------------- replies

for code in nochg good; do
	conf eth0 dyndns2 $code.example "$(dyn_opts)"
	upd
	expect "reply '$code' is success (exit 0)" 0 "$code" "len(r) == 1"
done
for code in badauth notfqdn nohost '!donator' abuse badagent numhost '!yours'; do
	conf eth0 dyndns2 "${code#!}.example" "$(dyn_opts)"
	upd
	expect "reply '$code' is a permanent failure (exit 3)" 3 \
		"permanent failure: $code\$" "len(r) == 1"
done
for code in 911 dnserr; do
	conf eth0 dyndns2 $code.example "$(dyn_opts)"
	upd
	expect "reply '$code' is a temporary failure (exit 1)" 1 "temporary failure: $code\$" \
		"len(r) == 1"
done

conf eth0 dyndns2 dyn2.example "$(dyn_opts "$T/badpass")"
upd
expect "wrong password: HTTP 401 badauth -> permanent failure" 3 'permanent failure: badauth' \
	"len(r) == 1 and r[0]['auth'] != BASIC"

conf eth0 oray 5xx.example "$(dyn_opts)"
upd
expect "HTTP 503 -> temporary failure" 1 'temporary failure: HTTP 503' "len(r) == 1"

conf eth0 dyndns2 garbage.example "$(dyn_opts)"
upd
expect "random bytes -> temporary failure, printable message" 1 \
	'temporary failure: unexpected reply' "len(r) == 1"
if LC_ALL=C grep -q '[^[:print:][:space:]]' <<<"$OUT"; then
	e2e_fail "no raw bytes of a garbage reply in the output" "$OUT"
else
	e2e_ok "no raw bytes of a garbage reply in the output"
fi

for big in big bigchunked; do
	conf eth0 dyndns2 $big.example "$(dyn_opts)"
	upd
	expect "10 MB reply ($big) aborted at the size limit" 1 \
		'temporary failure: reply larger than 65536 bytes' "len(r) == 1"
	if [ "$SECS" -le 10 ]; then e2e_ok "$big: aborted quickly ($SECS s)"
	else e2e_fail "$big: aborted quickly" "took $SECS s"; fi
done

conf eth0 dyndns2 slow.example "$(dyn_opts)"
upd
expect "server that never answers -> timeout, temporary failure" 1 \
	'temporary failure: timeout' "len(r) == 1"
if [ "$SECS" -ge 28 ] && [ "$SECS" -le 40 ]; then
	e2e_ok "slow server bounded by the 30 s total timeout ($SECS s)"
else
	e2e_fail "slow server bounded by the 30 s total timeout" "took $SECS s"
fi

# ---------------------------------------------------------------- TLS

conf eth0 dyndns2 dyn.example "server $URL ca-file $T/otherca/ca.crt user alice password-file $T/pass"
upd --force
expect "certificate from another CA refused, nothing sent" 1 \
	'temporary failure: TLS certificate verification failed' "len(r) == 0"

conf eth0 dyndns2 dyn.example "server $URL user alice password-file $T/pass"
upd --force
expect "without ca-file the system bundle is used: test CA refused" 1 \
	'TLS certificate verification failed' "len(r) == 0"

# ---------------------------------------------------------------- state

conf eth0 dyndns2 state.example "$(dyn_opts)"
upd
expect "state: first update sent" 0 'good' "$(dyn_req /nic/update state.example)"
if grep -Eq "^198\.51\.100\.7 [0-9]+ [0-9a-f]{16}$" "$T/state/ddns/state.example"; then
	e2e_ok "state: last address persisted in state-dir/ddns/NAME"
else
	e2e_fail "state: last address persisted in state-dir/ddns/NAME" \
		"$(cat "$T/state/ddns/state.example" 2>&1)"
fi
upd
expect "state: same address again -> nothing sent" 0 'not sent: 198\.51\.100\.7 was sent' \
	"len(r) == 0"
upd --force
expect "state: --force sends anyway" 0 'good' "$(dyn_req /nic/update state.example)"
A=198.51.100.8 upd
expect "state: a new address is sent" 0 'good 198\.51\.100\.8' \
	"$(dyn_req /nic/update state.example 198.51.100.8)"
conf eth0 dyndns2 state.example "$(dyn_opts) interval 60"
A=198.51.100.8 upd
expect "state: interval is not part of the fingerprint -> still nothing sent" 0 'not sent' \
	"len(r) == 0"
conf eth0 noip state.example "$(dyn_opts)"
A=198.51.100.8 upd
expect "state: another provider for the same name resends" 0 'good' "len(r) == 1"

# ---------------------------------------------------------------- usage

conf eth0 dyndns2 dyn.example "$(dyn_opts)"
run --address "$ADDR"
expect "usage: --wan missing -> exit 2" 2 'usage' "len(r) == 0"
run --wan eth7 --address "$ADDR"
expect "no name bound to the wan -> exit 2" 2 'no ddns name is bound to eth7' "len(r) == 0"
run --wan eth0 --address 300.1.2.3
expect "bad address -> exit 2" 2 'bad --address' "len(r) == 0"

# ---------------------------------------------------------------- daemon

# The worker inside `xdpnat run`: updates at start with the WAN's own
# address, again when DHCP-like changes move it, status in run-dir/ddns.json,
# no resend after a restart. Needs root (namespaces, XDP); the test server
# runs inside the router's namespace, on its loopback.
wait_req() {	# fqdn addr : a request for fqdn with addr arrives within 10 s
	local _
	for _ in $(seq 100); do
		grep -q "\"hostname\": \[\"$1\"\], \"myip\": \[\"$2\"\]" "$T/drequests.jsonl" \
			2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
status_is() {	# py-expr over s, the parsed ddns.json
	python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' \
		"$E2E_RUN_DIR/xdpnat/ddns.json" "$1" 2>/dev/null
}
daemon_tests() {
	local port
	e2e_topo_basic || { e2e_fail "daemon: build the basic topology"; return; }
	e2e_bg router python3 "$E2E_LIB_DIR/ddns_server.py" --cert "$T/ca/srv.crt" \
		--key "$T/ca/srv.key" --log "$T/drequests.jsonl" --port-file "$T/dport" \
		--user alice --password "$PASS" --token "$TOKEN"
	for _ in $(seq 50); do [ -s "$T/dport" ] && break; sleep 0.1; done
	port=$(cat "$T/dport")
	cat >"$T/daemon.conf" <<-EOF
	wan wan0
	lan lan0
	outbound wan0
	state-dir $T/dstate
	ddns wan0 oray daemon.example server https://127.0.0.1:$port ca-file $T/ca/ca.crt user alice password-file $T/pass
	EOF
	if ! e2e_xdpnat_start router "$T/daemon.conf"; then
		e2e_fail "daemon: xdpnat run starts with a ddns line"
		return
	fi
	if wait_req daemon.example 198.51.100.1; then
		e2e_ok "daemon: update at start with the WAN's own address"
	else
		e2e_fail "daemon: update at start with the WAN's own address" \
			"$(cat "$T/drequests.jsonl" 2>&1)" "$(cat "$E2E_XDPNAT_LOG")"
	fi
	for _ in $(seq 50); do
		status_is "s[0]['state'] == 'ok' and s[0]['last_address'] == '198.51.100.1'" && break
		sleep 0.1
	done
	if status_is "s[0]['state'] == 'ok' and s[0]['last_address'] == '198.51.100.1' and
	              s[0]['wan'] == 'wan0' and s[0]['provider'] == 'oray' and
	              s[0]['next_attempt'] > s[0]['last_time'] > 0"; then
		e2e_ok "daemon: run-dir/ddns.json shows the update"
	else
		e2e_fail "daemon: run-dir/ddns.json shows the update" \
			"$(cat "$E2E_RUN_DIR/xdpnat/ddns.json" 2>&1)"
	fi
	ip -n "$(e2e_ns router)" addr del 198.51.100.1/24 dev wan0
	ip -n "$(e2e_ns router)" addr add 198.51.100.23/24 dev wan0
	if wait_req daemon.example 198.51.100.23; then
		e2e_ok "daemon: new WAN address -> update with it"
	else
		e2e_fail "daemon: new WAN address -> update with it" \
			"$(cat "$T/drequests.jsonl" 2>&1)" "$(cat "$E2E_XDPNAT_LOG")"
	fi
	e2e_xdpnat_stop
	local n0
	n0=$(wc -l <"$T/drequests.jsonl")
	if e2e_xdpnat_start router "$T/daemon.conf"; then
		sleep 3
		if [ "$(wc -l <"$T/drequests.jsonl")" = "$n0" ]; then
			e2e_ok "daemon: restart with the same address sends nothing"
		else
			e2e_fail "daemon: restart with the same address sends nothing" \
				"$(tail -n 2 "$T/drequests.jsonl")"
		fi
		e2e_xdpnat_stop
	else
		e2e_fail "daemon: restart"
	fi
	hanging_server_tests
	cat "$E2E_TMP"/bg-*.log >>"$T/all.out" 2>/dev/null
	grep -h 'ddns' "$E2E_TMP"/bg-*.log 2>/dev/null | sed 's/^/# daemon: /'
}
# A DDNS server that never answers must not stall the daemon: status answers
# at once, and SIGTERM aborts the transfer in flight.
hanging_server_tests() {
	local t0 rc
	sed "s/^ddns wan0 oray daemon.example /ddns wan0 dyndns2 slow.example /" \
		"$T/daemon.conf" >"$T/slow.conf"
	grep '^ddns' "$T/daemon.conf" >>"$T/slow.conf"
	if ! e2e_xdpnat_start router "$T/slow.conf"; then
		e2e_fail "daemon: starts with a hanging DDNS server"
		return
	fi
	if wait_req slow.example 198.51.100.23; then
		e2e_ok "daemon: update sent to the hanging server"
	else
		e2e_fail "daemon: update sent to the hanging server" "$(cat "$E2E_XDPNAT_LOG")"
	fi
	t0=${EPOCHREALTIME/./}
	e2e_xdpnat status >/dev/null 2>&1
	rc=$?
	t0=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	if [ $rc = 0 ] && [ $t0 -lt 2000 ]; then
		e2e_ok "daemon: status answers while DDNS hangs (${t0} ms)"
	else
		e2e_fail "daemon: status answers while DDNS hangs" "exit $rc after ${t0} ms"
	fi
	t0=$SECONDS
	e2e_xdpnat_stop
	t0=$((SECONDS - t0))
	if [ $t0 -le 3 ]; then
		e2e_ok "daemon: SIGTERM aborts the hanging update (${t0} s)"
	else
		e2e_fail "daemon: SIGTERM aborts the hanging update" "took ${t0} s"
	fi
}

if [ "$(id -u)" = 0 ] && [ "${DDNS_SKIP_DAEMON:-0}" != 1 ]; then
	daemon_tests
else
	e2e_skip "daemon: xdpnat run updates DDNS" "needs root"
fi

# ---------------------------------------------------------------- secrets

leak=$(grep -F -e "$PASS" -e "$PASS_ESC" -e "$TOKEN" "$T/all.out" "$T"/state/ddns/* 2>/dev/null)
if [ -z "$leak" ] && [ -s "$T/all.out" ]; then
	e2e_ok "no password or token in any output or state file"
else
	e2e_fail "no password or token in any output or state file" "$leak"
fi

e2e_finish
