# shellcheck shell=bash
# tests/e2e/ddns_lib.sh - a DDNS test server for e2e tests (source after lib.sh).
#
#   ddns_mk_ca DIR             a test CA (DIR/ca.crt, ca.key)
#   ddns_mk_server_cert DIR [ADDR]  a server certificate for ADDR (127.0.0.1) signed
#                              by DIR's CA
#   ddns_server_start ROLE DIR [ADDR]  start tests/e2e/ddns_server.py on ADDR
#                              (127.0.0.1: the daemon's own loopback) inside the
#                              namespace ROLE with user
#                              "alice" / password "$DDNS_PASS"; sets DDNS_URL and
#                              DDNS_LOG (one JSON line per request) and writes the
#                              password file DIR/pass (mode 600)
#   ddns_requests FQDN         the myip= values the server received for FQDN, one a line

DDNS_PASS=${DDNS_PASS:-'p&ss w0rd!'}

ddns_mk_ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1/ca.key" -out "$1/ca.crt" -subj "/CN=xdpnat test CA ${1##*/}" -days 2 \
		>/dev/null 2>&1
}

ddns_mk_server_cert() {
	local d=$1 a=${2:-127.0.0.1}
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/srv.key" -out "$d/srv.csr" -subj "/CN=$a" >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$a" \
		>"$d/ext" &&
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/srv.crt" -days 2 -extfile "$d/ext" >/dev/null 2>&1
}

ddns_server_start() {	# ROLE DIR [ADDR]
	local role=$1 d=$2 a=${3:-127.0.0.1} _
	ddns_mk_ca "$d" && ddns_mk_server_cert "$d" "$a" || return 1
	printf '%s\n' "$DDNS_PASS" >"$d/pass"
	chmod 600 "$d/pass"
	DDNS_LOG=$d/requests.jsonl
	touch "$DDNS_LOG"
	e2e_bg "$role" python3 "$E2E_LIB_DIR/ddns_server.py" --cert "$d/srv.crt" \
		--key "$d/srv.key" --log "$DDNS_LOG" --port-file "$d/port" \
		--user alice --password "$DDNS_PASS" --token unused --addr "$a"
	for _ in $(seq 50); do [ -s "$d/port" ] && break; sleep 0.1; done
	[ -s "$d/port" ] || return 1
	DDNS_URL="https://$a:$(cat "$d/port")"
}

ddns_requests() {	# FQDN
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    q = r.get("query", {})
    if q.get("hostname", [""])[0] == sys.argv[2]:
        print(q.get("myip", [""])[0])' "$DDNS_LOG" "$1"
}
