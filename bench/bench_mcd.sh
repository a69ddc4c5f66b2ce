#!/bin/sh
# bench_mcd — mcd against memcached 1.6, in one run, on free loopback ports:
#
#   1. throughput: memcaslap -T 4 -c 48 -t 10s against each server (no auth);
#      ops/s and the ratio mcd/memcached (target >= 1.0);
#   2. new-connection cost: bench/newconn (connect + auth + get + close, 4 threads)
#      against mcd with a tenants file (mcops auth) and memcached with -Y
#      (its ASCII auth); cycles/s and the ratio (target >= 1.0);
#   3. idle connections: RSS growth of each server (no auth) while
#      tests/tools/stormgen holds 10,000 connections that were each served once
#      (a `version`); bytes per connection and the ratio (target <= 1.0).
#
# Only a ratio measured in the same run means anything: the machine is shared.
# Throughput and new-connection cost run in rounds that alternate which server
# goes first, and each server's best round counts: noise from other work on the
# machine only ever lowers a rate.
# A missed target is reported, not an error; the exit status is non-zero only
# when a measurement could not be made.
#
# Environment: MCOPS_BIN (mcd, mctl), MCOPS_TOOLS (built bench/ and tests/tools/),
# BENCH_SECONDS (length of each memcaslap and newconn run, default 10),
# BENCH_ROUNDS (rounds of those two, default 2), BENCH_IDLE_CONNS (default 10000). Without $MCOPS_BIN/mcd only memcached is measured.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${MCOPS_BIN:-$ROOT/bin}
TOOLS=${MCOPS_TOOLS:-$ROOT/build/rel}
NEWCONN=$TOOLS/bench/newconn
STORMGEN=$TOOLS/tests/tools/stormgen
RUN_SECONDS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
NEWCONN_THREADS=4
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench_mcd.XXXXXX")
PIDS=""      # every process started here, killed by pid on exit
FAILED=0

# stop_pid PID: SIGTERM, SIGKILL after 5 s, reap; then forget it, so that the exit
# trap never signals a pid the system has given to someone else since.
stop_pid() {
	if kill -TERM "$1" 2>/dev/null; then
		i=0
		while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	# shellcheck disable=SC2086 # PIDS is a list of numbers, split on purpose
	PIDS=$(printf ' %s ' $PIDS | sed "s/ $1 / /")
	return 0
}

# shellcheck disable=SC2317 # run by the trap
cleanup() {
	for p in $PIDS; do
		stop_pid "$p"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "bench_mcd: $*" >&2
	FAILED=1
}

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT PID: until something accepts on 127.0.0.1:PORT (10 s), or PID died.
wait_port() {
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# start_server LOGNAME PORT CMD...: starts CMD, sets SERVER_PID, waits for the port.
start_server() {
	name=$1
	port=$2
	shift 2
	"$@" >"$WORK/$name.log" 2>&1 &
	SERVER_PID=$!
	PIDS="$PIDS $SERVER_PID"
	if ! wait_port "$port" "$SERVER_PID"; then
		fail "$name did not start: $*"
		sed 's/^/    /' "$WORK/$name.log" >&2
		return 1
	fi
	return 0
}

stop_server() {
	stop_pid "$SERVER_PID"
	SERVER_PID=""
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# verdict RATIO OP TARGET: "ok" or "MISSED" (">=" or "<=").
verdict() {
	awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN {
		if (r == "n/a") { print "-"; exit }
		ok = (op == ">=") ? (r + 0 >= t + 0) : (r + 0 <= t + 0)
		print ok ? "ok" : "MISSED" }'
}

# --- what is needed ------------------------------------------------------------------

for t in memcached memcaslap; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "bench_mcd: $t is not installed (scripts/setup installs it)" >&2
		exit 1
	fi
done
for t in "$NEWCONN" "$STORMGEN"; do
	if [ ! -x "$t" ]; then
		echo "bench_mcd: $t is not built (make tools)" >&2
		exit 1
	fi
done
HAVE_MCD=1
if [ ! -x "$BIN/mcd" ]; then
	HAVE_MCD=0
	echo "bench_mcd: $BIN/mcd is not built: measuring memcached only, every mcd figure is n/a"
fi
HAVE_MCTL=1
if [ $HAVE_MCD = 1 ] && [ ! -x "$BIN/mctl" ]; then
	HAVE_MCTL=0
	echo "bench_mcd: $BIN/mctl is not built: cannot make a tenants file, skipping mcd's new-connection cost"
fi

# --- 1. throughput ---------------------------------------------------------------------

# The measuring functions set RESULT instead of printing it: called in $(...) they
# would start servers in a subshell, out of reach of the EXIT trap.

# memcaslap_ops NAME CMD...: runs the server; RESULT = memcaslap's TPS.
memcaslap_ops() {
	RESULT=
	name=$1
	shift
	port=$(free_port)
	start_server "$name" "$port" "$@" -p "$port" || return 1
	out=$(timeout $((RUN_SECONDS + 60)) memcaslap -s "127.0.0.1:$port" -T 4 -c 48 -t "${RUN_SECONDS}s" 2>&1)
	stop_server
	tps=$(printf '%s\n' "$out" | sed -n 's/.*TPS: \([0-9][0-9]*\).*/\1/p' | tail -n 1)
	if [ -z "$tps" ]; then
		fail "memcaslap against $name gave no TPS:"
		printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /' >&2
		return 1
	fi
	RESULT=$tps
}

# better A B: the larger rate ("rate ..." lines compare on their first word); empty loses
better() {
	if [ -z "$1" ]; then
		echo "$2"
	elif [ -z "$2" ]; then
		echo "$1"
	else
		awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
			print (y[1] + 0 > x[1] + 0) ? b : a }'
	fi
}

# round_order R: memcached first in odd rounds, mcd first in even ones, so that
# neither always runs on the warmer (or the busier) side of the other
round_order() {
	if [ $(($1 % 2)) = 1 ]; then echo "memcached mcd"; else echo "mcd memcached"; fi
}

echo "1/3 throughput: memcaslap -T 4 -c 48 -t ${RUN_SECONDS}s (90% get, 10% set), best of $ROUNDS rounds"
MC_OPS=""
MCD_OPS=""
r=1
while [ $r -le "$ROUNDS" ]; do
	for srv in $(round_order $r); do
		if [ "$srv" = memcached ]; then
			memcaslap_ops memcached memcached -u nobody -l 127.0.0.1 -U 0 -t 4 -m 64
			MC_OPS=$(better "$MC_OPS" "$RESULT")
			echo "    round $r memcached: ${RESULT:-failed} ops/s"
		elif [ $HAVE_MCD = 1 ]; then
			memcaslap_ops mcd "$BIN/mcd" -l 127.0.0.1 -U 0 -t 4 -m 64
			MCD_OPS=$(better "$MCD_OPS" "$RESULT")
			echo "    round $r mcd:       ${RESULT:-failed} ops/s"
		fi
	done
	r=$((r + 1))
done

# --- 2. new-connection cost ---------------------------------------------------------------

# A generated password (32 characters, like mctl's) shared by both servers.
PASSWORD=$(/usr/bin/python3 -c 'import secrets, string
print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)))')
printf '%s\n' "$PASSWORD" >"$WORK/password"
chmod 600 "$WORK/password"
printf 'bench:%s\n' "$PASSWORD" >"$WORK/memcached.auth"
chmod 600 "$WORK/memcached.auth"
if [ "$(id -u)" = 0 ]; then
	# memcached reads its -Y file after becoming -u nobody
	chown nobody "$WORK/memcached.auth"
	chmod 711 "$WORK"
fi

# newconn_rate NAME STYLE CMD...: runs the server, newconn against it;
# RESULT = "rate p50_ms p99_ms".
newconn_rate() {
	RESULT=
	name=$1
	style=$2
	shift 2
	port=$(free_port)
	start_server "$name" "$port" "$@" -p "$port" || return 1
	out=$("$NEWCONN" --target "127.0.0.1:$port" --threads $NEWCONN_THREADS \
		--duration "${RUN_SECONDS}s" --auth "$style" --user bench \
		--password-file "$WORK/password" 2>&1)
	rc=$?
	stop_server
	line=$(printf '%s\n' "$out" | grep '^result ' | tail -n 1)
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		fail "newconn against $name failed (exit $rc):"
		printf '%s\n' "$out" | sed 's/^/    /' >&2
		return 1
	fi
	RESULT=$(printf '%s\n' "$line" | awk '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%s %.3f %.3f\n", v["rate"], v["p50_us"] / 1000, v["p99_us"] / 1000 }')
}

echo "2/3 new-connection cost: newconn, $NEWCONN_THREADS threads, ${RUN_SECONDS}s of connect + auth + get + close, best of $ROUNDS rounds"
HAVE_TENANTS=0
if [ $HAVE_MCD = 1 ] && [ $HAVE_MCTL = 1 ]; then
	if "$BIN/mctl" tenant add bench --file "$WORK/tenants" --password-file "$WORK/password" \
		>"$WORK/mctl.log" 2>&1; then
		HAVE_TENANTS=1
	else
		fail "mctl tenant add failed:"
		sed 's/^/    /' "$WORK/mctl.log" >&2
	fi
fi
MC_NEW=""
MCD_NEW=""
r=1
while [ $r -le "$ROUNDS" ]; do
	for srv in $(round_order $r); do
		if [ "$srv" = memcached ]; then
			newconn_rate memcached-Y memcached memcached -u nobody -l 127.0.0.1 -U 0 -t 4 \
				-m 64 -Y "$WORK/memcached.auth"
			MC_NEW=$(better "$MC_NEW" "$RESULT")
			echo "    round $r memcached -Y:    ${RESULT:-failed} (cycles/s, p50 ms, p99 ms)"
		elif [ $HAVE_TENANTS = 1 ]; then
			newconn_rate mcd-tenants mcops "$BIN/mcd" -l 127.0.0.1 -U 0 -t 4 -m 64 \
				--tenants "$WORK/tenants"
			MCD_NEW=$(better "$MCD_NEW" "$RESULT")
			echo "    round $r mcd --tenants:   ${RESULT:-failed} (cycles/s, p50 ms, p99 ms)"
		fi
	done
	r=$((r + 1))
done

# --- 3. idle connections ------------------------------------------------------------------

# idle_bytes NAME CMD...: RESULT = RSS growth per held connection, in bytes.
idle_bytes() {
	RESULT=
	name=$1
	shift
	port=$(free_port)
	# room for the held connections (both servers default to 1024)
	start_server "$name" "$port" "$@" -p "$port" -c $((IDLE_CONNS + 1000)) || return 1
	pid=$SERVER_PID
	# a few served connections first, so that per-thread start-up costs are paid
	"$STORMGEN" --target "127.0.0.1:$port" --count 16 --command version >/dev/null 2>&1
	sleep 0.5
	before=$(rss_kb "$pid")
	# the parent creates the file: a redirection of a background job happens in the
	# child, later, and the wait below must never read an older file
	sgout=$WORK/stormgen-$name.out
	: >"$sgout"
	"$STORMGEN" --target "127.0.0.1:$port" --hold "$IDLE_CONNS" --command version \
		--inflight 500 --duration 120s >>"$sgout" 2>&1 &
	sg=$!
	PIDS="$PIDS $sg"
	i=0
	while ! grep -q '^stormgen: holding' "$sgout" && [ $i -lt 600 ] &&
		kill -0 "$sg" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	held=$(sed -n 's/^stormgen: holding \([0-9]*\) connections/\1/p' "$sgout")
	sleep 1
	after=$(rss_kb "$pid")
	stop_pid "$sg"
	stop_server
	if [ "${held:-0}" -ne "$IDLE_CONNS" ]; then
		fail "stormgen held ${held:-no} of $IDLE_CONNS connections to $name:"
		sed 's/^/    /' "$sgout" >&2
		return 1
	fi
	RESULT=$(((after - before) * 1024 / IDLE_CONNS))
}

echo "3/3 idle connections: RSS growth with $IDLE_CONNS held connections"
idle_bytes memcached-idle memcached -u nobody -l 127.0.0.1 -U 0 -t 4 -m 64
MC_IDLE=$RESULT
echo "    memcached: ${MC_IDLE:-failed} bytes per connection"
MCD_IDLE=""
if [ $HAVE_MCD = 1 ]; then
	idle_bytes mcd-idle "$BIN/mcd" -l 127.0.0.1 -U 0 -t 4 -m 64
	MCD_IDLE=$RESULT
	echo "    mcd:       ${MCD_IDLE:-failed} bytes per connection"
fi

# --- the table ----------------------------------------------------------------------------

MC_RATE=${MC_NEW%% *}
MCD_RATE=${MCD_NEW%% *}
R_OPS=$(ratio "$MCD_OPS" "$MC_OPS")
R_NEW=$(ratio "$MCD_RATE" "$MC_RATE")
R_IDLE=$(ratio "$MCD_IDLE" "$MC_IDLE")
echo
printf '%-40s %12s %12s %14s %8s %s\n' "measure" "memcached" "mcd" "mcd/memcached" "target" ""
printf '%-40s %12s %12s %14s %8s %s\n' "throughput, memcaslap (ops/s)" "${MC_OPS:-n/a}" \
	"${MCD_OPS:-n/a}" "$R_OPS" ">= 1.0" "$(verdict "$R_OPS" ">=" 1.0)"
printf '%-40s %12s %12s %14s %8s %s\n' "new connections, auth (cycles/s)" "${MC_RATE:-n/a}" \
	"${MCD_RATE:-n/a}" "$R_NEW" ">= 1.0" "$(verdict "$R_NEW" ">=" 1.0)"
printf '%-40s %12s %12s\n' "  cycle latency p50 / p99 (ms)" \
	"$(echo "${MC_NEW:-}" | awk '{ if (NF) printf "%s / %s", $2, $3; else print "n/a" }')" \
	"$(echo "${MCD_NEW:-}" | awk '{ if (NF) printf "%s / %s", $2, $3; else print "n/a" }')"
printf '%-40s %12s %12s %14s %8s %s\n' "idle connection, RSS (bytes each)" "${MC_IDLE:-n/a}" \
	"${MCD_IDLE:-n/a}" "$R_IDLE" "<= 1.0" "$(verdict "$R_IDLE" "<=" 1.0)"
echo
echo "ratios: throughput $R_OPS, new connections $R_NEW, idle memory $R_IDLE"
exit $FAILED
