#!/usr/bin/env bash
# compare.sh: run the same `mqtls bench` workloads against Debian's Mosquitto
# and against `mqtls broker`, with equivalent configurations, and print one
# table of mqtls/Mosquitto ratios. Run it from the repository: `make compare`.
#
# The broker runs on CPU 0 and the load generator on CPU 1 (taskset), so that
# they do not compete for a core. Scenarios:
#   plain        TCP listener, anonymous, no persistence
#   mtls         mutual-TLS listener, use_identity_as_username, dynamic
#                security with a client -> group -> role ACL, no persistence
#   mtls+persist the same with persistence on
#
# Environment:
#   BROKERS="mosquitto mqtls"  which brokers to run (in this order)
#   DURATION=8s WARMUP=2s      length of every throughput run
#   CONNECTIONS=1000           connections of the connect runs
#   RESULTS=DIR                keep the JSON results and logs there
#   REPEAT=1                   run everything N times; the table shows medians
#   QUICK=1                    a short smoke run (1s runs, 100 connections)
#   TABLE_ONLY=1 RESULTS=DIR   print the table of earlier results again
#   SCENARIOS="plain mtls mtls+persist"  which scenarios to run
#   PERSISTENCE_SYNC=batch     mqtls's persistence_sync in mtls+persist
#                              (batch, always or none)
#   ACL=dynsec|aclfile         access control of the mtls scenarios: the
#                              dynamic-security plugin (default when this
#                              mqtls has the dynsec command) or an acl_file
#   CALLGRIND=1                count the broker's instructions per message
#                              instead: each broker runs under valgrind's
#                              callgrind, and QoS 0 and QoS 1 at CG_RATE
#                              msg/s (default 300) run for 2 s and for 6 s;
#                              the difference of the two counts divided by
#                              the difference of messages cancels connects
#                              and start-up. User-space instructions only
#                              (no kernel time), but repeatable to about 1 %
#                              however loaded the machine is.
#                              CG_RATE=0 runs closed loop (as fast as the
#                              broker under callgrind takes them), where a
#                              broker reads and writes in bursts.
#   CG_QOS="0 1"               the QoS levels counted under callgrind
#   CG_MQTLS=FILE              the mqtls built without cgo to run under
#                              callgrind (default: built from this tree)
#   MQTLS_OPTS="line; line"    extra mosquitto.conf lines for mqtls only
#   WORKLOADS="qos0 qos1 ..."  run only these of qos0 qos1 qos0@10k qos1@10k
#                              fanout connect fleet (default: all but fleet,
#                              which takes minutes: ask for it by name)
#   FLEET_CLIENTS=10000        the fleet workload: devices on a fresh broker,
#   FLEET_INTERVAL=1s          each publishing once an interval for
#   FLEET_DURATION=60s         FLEET_DURATION at QoS FLEET_QOS, connected
#   FLEET_QOS=1                at most 16 at a time and FLEET_CONNECT_RATE
#   FLEET_CONNECT_RATE=500     per second; each connection is an open file,
#                              so the shell's soft limit is raised to its
#                              hard limit for both brokers
#   QOS0MAX_RATES="5000 ..."   the qos0max workload (ask for it by name): the
#                              highest offered QoS 0 rate that a broker
#                              delivers with 0 lost. pubsub runs at each rate
#                              of the ladder (default 5000 10000 20000 40000
#                              80000 160000) until one loses a message or the
#                              load generator cannot send it, then halves the
#                              gap between the last clean rate and that one
#                              QOS0MAX_STEPS times (default 2)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${MQTLS:-$ROOT/bin/mqtls}
BROKERS=${BROKERS:-mosquitto mqtls}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-1000}
REPEAT=${REPEAT:-1}
SCENARIOS=${SCENARIOS:-plain mtls mtls+persist}
PERSISTENCE_SYNC=${PERSISTENCE_SYNC:-}
CALLGRIND=${CALLGRIND:-}
CG_RATE=${CG_RATE:-300}
CG_QOS=${CG_QOS:-0 1}
MQTLS_OPTS=${MQTLS_OPTS:-}
WORKLOADS=${WORKLOADS:-qos0 qos1 qos0@10k qos1@10k fanout connect}
FLEET_CLIENTS=${FLEET_CLIENTS:-10000}
FLEET_INTERVAL=${FLEET_INTERVAL:-1s}
FLEET_DURATION=${FLEET_DURATION:-60s}
FLEET_QOS=${FLEET_QOS:-1}
FLEET_CONNECT_RATE=${FLEET_CONNECT_RATE:-500}
QOS0MAX_RATES=${QOS0MAX_RATES:-5000 10000 20000 40000 80000 160000}
QOS0MAX_STEPS=${QOS0MAX_STEPS:-2}
if [[ -n "${QUICK:-}" ]]; then
	DURATION=1s WARMUP=200ms CONNECTIONS=100 FLEET_CLIENTS=100 FLEET_DURATION=5s
fi
# Mosquitto does not raise its own open files limit, and the fleet holds
# one file per device in the broker and in the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
DYNSEC_PLUGIN=${DYNSEC_PLUGIN:-$(ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so 2>/dev/null | head -1 || true)}

die() { echo "compare: $*" >&2; exit 1; }
for p in mosquitto taskset awk; do
	command -v "$p" >/dev/null || die "$p is not installed (Debian packages: mosquitto util-linux gawk)"
done
[[ -n "$DYNSEC_PLUGIN" ]] || die "mosquitto_dynamic_security.so not found (Debian package mosquitto)"
if [[ ! -x "$BIN" || -n "${REBUILD:-}" ]]; then
	go build -o "$ROOT/bin/mqtls" ./cmd/mqtls
	BIN=$ROOT/bin/mqtls
fi
# Under callgrind the broker is a build without cgo and runs without
# asynchronous preemption: valgrind 3.19 aborts on the signals of cgo
# threads and of Go's preemption.
BROKER_BIN=$BIN
if [[ -n $CALLGRIND ]]; then
	for p in valgrind callgrind_control; do
		command -v "$p" >/dev/null || die "$p is not installed (Debian package valgrind)"
	done
	BROKER_BIN=${CG_MQTLS:-}
	if [[ -z $BROKER_BIN ]]; then
		BROKER_BIN=$(mktemp -d)/mqtls
		CGO_ENABLED=0 go build -o "$BROKER_BIN" ./cmd/mqtls
	fi
fi
ACL=${ACL:-}
if [[ -z "$ACL" ]]; then
	if "$BIN" dynsec --help >/dev/null 2>&1; then ACL=dynsec; else ACL=aclfile; fi
fi
CPUS=$(nproc)
if ((CPUS >= 2)); then
	PIN_BROKER="taskset -c 0"
	PIN_LOAD="taskset -c 1"
else
	echo "compare: only one CPU: broker and load share it" >&2
	PIN_BROKER="" PIN_LOAD=""
fi

WORK=$(mktemp -d)
RESULTS=${RESULTS:-$WORK/results}
mkdir -p "$RESULTS"
BROKER_PID=""
cleanup() {
	if [[ -n "$BROKER_PID" ]]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
	rm -rf "$WORK/pki" "$WORK/devices" "$WORK"/*.conf "$WORK"/dynsec*.json "$WORK"/acl-* "$WORK"/persist*
}
trap cleanup EXIT

# --- certificates: a CA, a server certificate and device certificates ------
# made by mqtls itself: a root and issuing CA, a server certificate for
# localhost/127.0.0.1 and device certificates dev0001..dev0016.
PKI=$WORK/pki
DEVICES=$WORK/devices
mkdir -p "$DEVICES"
NDEV=16
gen_pki() {
	local i out
	out=$("$BIN" ca init --pki "$PKI" --name "compare" --no-password --insecure 2>&1) || die "mqtls ca init: $out"
	out=$("$BIN" cert server --pki "$PKI" --host localhost --ip 127.0.0.1 2>&1) || die "mqtls cert server: $out"
	for i in $(seq -f %04g 1 $NDEV); do
		out=$("$BIN" cert client "dev$i" --pki "$PKI" --days 2 2>&1) || die "mqtls cert client: $out"
		ln -s "$PKI/issued/dev$i.crt" "$DEVICES/dev$i.crt"
		ln -s "$PKI/issued/dev$i.key" "$DEVICES/dev$i.key"
	done
}

# --- dynamic security: every device is in group "devices", whose role lets
# it publish and subscribe under bench/ and nothing else ----------------------
dynsec_json() {
	local clients="" members="" i
	for i in $(seq -f %04g 1 $NDEV); do
		clients+="${clients:+, }{\"username\": \"dev$i\", \"roles\": []}"
		members+="${members:+, }{\"username\": \"dev$i\"}"
	done
	cat <<JSON
{
	"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
	"clients": [$clients],
	"groups": [{"groupname": "devices", "roles": [{"rolename": "device"}], "clients": [$members]}],
	"roles": [{
		"rolename": "device",
		"acls": [
			{"acltype": "publishClientSend", "topic": "bench/forbidden/#", "priority": 10, "allow": false},
			{"acltype": "publishClientSend", "topic": "bench/#", "priority": 0, "allow": true},
			{"acltype": "subscribePattern", "topic": "bench/#", "priority": 0, "allow": true},
			{"acltype": "publishClientReceive", "topic": "bench/#", "priority": 0, "allow": true}
		]
	}]
}
JSON
}

# The same policy as an acl_file, for brokers without dynamic security.
acl_file() {
	local i
	echo "topic deny bench/forbidden/#"
	for i in $(seq -f %04g 1 $NDEV); do
		printf 'user dev%s\ntopic readwrite bench/#\n' "$i"
	done
}

PORT_PLAIN=$((20000 + RANDOM % 20000))
PORT_TLS=$((PORT_PLAIN + 1))

# write_conf broker scenario file: the shared body plus Mosquitto-only lines.
write_conf() {
	local broker=$1 scenario=$2 f=$3 n=$4
	{
		if [[ $broker == mosquitto ]]; then
			[[ $(id -u) == 0 ]] && echo "user root"
			echo "set_tcp_nodelay true"
		fi
		echo "per_listener_settings false"
		case $scenario in
		plain)
			echo "allow_anonymous true"
			echo "persistence false"
			echo "listener $PORT_PLAIN 127.0.0.1"
			;;
		mtls*)
			echo "allow_anonymous false"
			if [[ $scenario == mtls+persist ]]; then
				mkdir -p "$WORK/persist-$n"
				echo "persistence true"
				echo "persistence_location $WORK/persist-$n/"
				if [[ $broker == mqtls && -n $PERSISTENCE_SYNC ]]; then
					echo "persistence_sync $PERSISTENCE_SYNC"
				fi
			else
				echo "persistence false"
			fi
			if [[ $ACL == dynsec ]]; then
				dynsec_json >"$WORK/dynsec-$n.json"
				echo "plugin $DYNSEC_PLUGIN"
				echo "plugin_opt_config_file $WORK/dynsec-$n.json"
			else
				acl_file >"$WORK/acl-$n"
				echo "acl_file $WORK/acl-$n"
			fi
			echo "listener $PORT_TLS 127.0.0.1"
			echo "cafile $PKI/chain.pem"
			echo "certfile $PKI/issued/server.crt"
			echo "keyfile $PKI/issued/server.key"
			echo "require_certificate true"
			echo "use_identity_as_username true"
			;;
		esac
		if [[ $broker == mqtls && -n $MQTLS_OPTS ]]; then
			tr ';' '\n' <<<"$MQTLS_OPTS" | sed 's/^ *//'
		fi
	} >"$f"
}

RUN=0
start_broker() { # broker scenario
	local broker=$1 scenario=$2 port
	RUN=$((RUN + 1))
	local conf=$WORK/$broker-$RUN.conf log=$RESULTS/$broker-$scenario-$RUN.log
	write_conf "$broker" "$scenario" "$conf" "$RUN"
	local cmd=(mosquitto -c "$conf")
	[[ $broker == mosquitto ]] || cmd=("$BROKER_BIN" broker -c "$conf")
	if [[ -n $CALLGRIND ]]; then
		CG_OUT=$RESULTS/$broker-$scenario-$RUN.callgrind
		GODEBUG=asyncpreemptoff=1 $PIN_BROKER valgrind --tool=callgrind --callgrind-out-file="$CG_OUT" "${cmd[@]}" >"$log" 2>&1 &
	else
		$PIN_BROKER "${cmd[@]}" >"$log" 2>&1 &
	fi
	BROKER_PID=$!
	port=$PORT_PLAIN
	[[ $scenario == plain ]] || port=$PORT_TLS
	for _ in $(seq 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$BROKER_PID" 2>/dev/null || { cat "$log" >&2; die "$broker exited at start ($scenario)"; }
		sleep 0.1
	done
	die "$broker does not listen on $port ($scenario)"
}
stop_broker() {
	local sig=TERM
	[[ -z $CALLGRIND ]] || sig=KILL # callgrind aborts on a signal; its counts are dumped already
	kill -s $sig "$BROKER_PID" 2>/dev/null || true
	wait "$BROKER_PID" 2>/dev/null || true
	BROKER_PID=""
}

# bench broker scenario name args...: one run, JSON kept as broker.name.json
bench() {
	local broker=$1 scenario=$2 name=$3
	shift 3
	local url=tcp://127.0.0.1:$PORT_PLAIN tls=()
	if [[ $scenario != plain ]]; then
		url=ssl://127.0.0.1:$PORT_TLS
		tls=(--cafile "$PKI/chain.pem")
		if [[ $1 == connect || $1 == fleet ]]; then
			tls+=(--cert-dir "$DEVICES")
		else
			tls+=(--cert "$DEVICES/dev0001.crt" --key "$DEVICES/dev0001.key")
		fi
	fi
	[[ -n $CALLGRIND || " $WORKLOADS " == *" ${name#*.} "* ]] || return 0
	echo "  $broker $name (run $REP of $REPEAT)" >&2
	if ! $PIN_LOAD "$BIN" bench "$@" --url "$url" "${tls[@]}" --pid "$BROKER_PID" --json \
		>"$RESULTS/$broker.$name.r$REP.json" 2>"$RESULTS/$broker.$name.r$REP.err"; then
		echo "compare: $broker $name failed: $(tail -1 "$RESULTS/$broker.$name.r$REP.err")" >&2
	fi
}

# instr broker scenario name args...: instructions per message of one
# workload, from two runs of 2 s and 6 s at CG_RATE msg/s counted by
# callgrind (zeroed before, dumped after each run); kept as broker.name.json.
instr() {
	local broker=$1 scenario=$2 name=$3 d ir=() n=()
	shift 3
	for d in 2 6; do
		callgrind_control -z "$BROKER_PID" >/dev/null 2>&1
		REP=$REP-$d bench "$broker" "$scenario" "$name.run" "$@" --rate "$CG_RATE" --duration ${d}s --drain 60s
		callgrind_control -d "$BROKER_PID" >/dev/null 2>&1
		local dump
		dump=$(ls -t "$CG_OUT".* | head -1)
		ir+=("$(awk '/^totals:/ {print $2}' "$dump")")
		n+=("$(awk '$1 == "\"received\":" { sub(/,$/, "", $2); print $2; exit }' "$RESULTS/$broker.$name.run.r$REP-$d.json")")
	done
	awk -v a="${ir[0]}" -v b="${ir[1]}" -v m="${n[0]}" -v k="${n[1]}" \
		'BEGIN { printf "{\n  \"instructions_per_msg\": %.0f,\n  \"messages\": %d\n}\n", (b - a) / (k - m), k - m }' \
		>"$RESULTS/$broker.$name.r$REP.json"
}

# clean file rate: whether the run in file lost nothing and sent at least
# 95 % of rate after its warm-up (below that the load generator, not the
# broker, set the pace, and the rate says nothing).
clean() {
	[[ -s $1 ]] || return 1
	awk -v r="$2" '$1 == "\"lost\":" { l = $2 } $1 == "\"sent_per_s\":" { s = $2 }
		END { sub(/,$/, "", l); sub(/,$/, "", s); exit !(l + 0 == 0 && s + 0 >= 0.95 * r) }' "$1"
}

# num file key: the number under key in a bench JSON file, 0 if none.
num() {
	awk -v k="\"$2\":" '$1 == k { v = $2; sub(/,$/, "", v); print v + 0; f = 1; exit } END { if (!f) print 0 }' "$1" 2>/dev/null || echo 0
}

# qos0max broker scenario: the highest offered QoS 0 rate delivered with 0
# lost, up the ladder QOS0MAX_RATES and then by halving the gap; kept as
# broker.scenario.qos0max.json with the rate tried first that was not clean.
qos0max() {
	local broker=$1 scenario=$2 name=$2.qos0max good=0 bad=0 r f i
	[[ " $WORKLOADS " == *" qos0max "* ]] || return 0
	for r in $QOS0MAX_RATES; do
		bench "$broker" "$scenario" "$name" pubsub --qos 0 --rate "$r" "${flow[@]}"
		f=$RESULTS/$broker.$name.r$REP.json
		mv "$f" "$RESULTS/$broker.$name.at$r.r$REP.json" 2>/dev/null || true
		if clean "$RESULTS/$broker.$name.at$r.r$REP.json" "$r"; then good=$r; else bad=$r; break; fi
	done
	for ((i = 0; i < QOS0MAX_STEPS && bad > 0; i++)); do
		r=$(((good + bad) / 2))
		bench "$broker" "$scenario" "$name" pubsub --qos 0 --rate "$r" "${flow[@]}"
		f=$RESULTS/$broker.$name.r$REP.json
		mv "$f" "$RESULTS/$broker.$name.at$r.r$REP.json" 2>/dev/null || true
		if clean "$RESULTS/$broker.$name.at$r.r$REP.json" "$r"; then good=$r; else bad=$r; fi
	done
	# why the first unclean rate was not clean: its run's losses and what the
	# load generator managed to send (below 95 % of the rate: the generator's limit)
	f=$RESULTS/$broker.$name.at$bad.r$REP.json
	printf '{\n  "lossless_rate": %d,\n  "first_unclean_rate": %d,\n  "first_unclean_lost": %s,\n  "first_unclean_sent_per_s": %s\n}\n' \
		"$good" "$bad" "$(num "$f" lost)" "$(num "$f" sent_per_s)" >"$RESULTS/$broker.$name.r$REP.json"
}

flow=(--duration "$DURATION" --warmup "$WARMUP")
run_broker=()
[[ -n "${TABLE_ONLY:-}" ]] && BROKERS=""
for broker in $BROKERS; do
	if [[ $broker == mqtls ]] && ! "$BIN" broker --help >/dev/null 2>&1; then
		echo "compare: this mqtls has no broker command yet; skipping it" >&2
		continue
	fi
	run_broker+=("$broker")
done
((${#run_broker[@]} == 0)) || gen_pki
# Scenario by scenario, each broker in turn, so that both see the machine in
# the same state; with REPEAT, the whole round again.
for REP in $( ((${#run_broker[@]} > 0)) && seq "$REPEAT"); do
for scenario in $SCENARIOS; do
	echo "$scenario:" >&2
	for broker in "${run_broker[@]}"; do
		if [[ -n $CALLGRIND ]]; then
			start_broker "$broker" "$scenario"
			for q in $CG_QOS; do
				instr "$broker" "$scenario" "$scenario.qos$q.instr" pubsub --qos "$q"
			done
			stop_broker
			continue
		fi
		start_broker "$broker" "$scenario"
		bench "$broker" "$scenario" "$scenario.qos0" pubsub --qos 0 "${flow[@]}"
		bench "$broker" "$scenario" "$scenario.qos1" pubsub --qos 1 "${flow[@]}"
		if [[ $scenario != mtls+persist ]]; then
			bench "$broker" "$scenario" "$scenario.qos0@10k" pubsub --qos 0 --rate 10000 "${flow[@]}"
			bench "$broker" "$scenario" "$scenario.qos1@10k" pubsub --qos 1 --rate 10000 "${flow[@]}"
			bench "$broker" "$scenario" "$scenario.fanout" fanout --qos 0 --subscribers 20 --rate 2000 "${flow[@]}"
			qos0max "$broker" "$scenario"
		fi
		stop_broker
		if [[ $scenario != mtls+persist && " $WORKLOADS " == *" connect "* ]]; then
			# A fresh broker, so that memory freed by earlier runs does not
			# hide what the idle connections cost.
			start_broker "$broker" "$scenario"
			bench "$broker" "$scenario" "$scenario.connect" connect --connections "$CONNECTIONS" --concurrency 16 --hold 3s
			stop_broker
		fi
		if [[ " $WORKLOADS " == *" fleet "* ]]; then
			start_broker "$broker" "$scenario"
			bench "$broker" "$scenario" "$scenario.fleet" fleet --clients "$FLEET_CLIENTS" --interval "$FLEET_INTERVAL" \
				--duration "$FLEET_DURATION" --qos "$FLEET_QOS" --connect-rate "$FLEET_CONNECT_RATE" --concurrency 16
			stop_broker
		fi
	done
done
done

# --- the table -------------------------------------------------------------
# val file key: the first number after "key": in a result file.
val() {
	[[ -s $1 ]] || { echo "-"; return; }
	if [[ $2 == lost_pct ]]; then
		awk '$1 == "\"lost\":" { l = $2 } $1 == "\"expected\":" { e = $2 } END { sub(/,$/, "", l); sub(/,$/, "", e); if (e + 0 > 0) print 100 * l / e; else print "-" }' "$1"
		return
	fi
	awk -v k="\"$2\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$1"
}
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "-" || v == "") print "-"; else printf "%.*f\n", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx\n", a / b }'; }

# med broker run key: the median of key over the repeated runs.
med() {
	local f
	for f in "$RESULTS/$1.$2".r*.json; do val "$f" "$3"; done | { grep -v '^-$' || true; } | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

row() { # label run key decimals [target] [divisor]
	local a b
	a=$(med mqtls "$2" "$3")
	b=$(med mosquitto "$2" "$3")
	if [[ -n "${6:-}" ]]; then
		a=$(awk -v v="$a" -v d="$6" 'BEGIN { if (v == "-") print v; else print v / d }')
		b=$(awk -v v="$b" -v d="$6" 'BEGIN { if (v == "-") print v; else print v / d }')
	fi
	printf '%-40s %12s %12s %8s   %s\n' "$1" "$(fmt "$b" "$4")" "$(fmt "$a" "$4")" "$(ratio "$a" "$b")" "${5:-}"
}

echo
echo "mqtls $("$BIN" --version 2>/dev/null | awk '{print $NF}') vs $(mosquitto -h 2>/dev/null | awk 'NR==1 {print $1, $3}'); $CPUS CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); $(if [[ -n "${TABLE_ONLY:-}" ]]; then echo "results from $RESULTS"; else echo "median of $REPEAT run(s) of $DURATION after $WARMUP warm-up"; fi); mtls access control: $ACL"
printf '%-40s %12s %12s %8s   %s\n' "" "mosquitto" "mqtls" "ratio" "target"
for s in $SCENARIOS; do
	if [[ -n $CALLGRIND ]]; then
		row "$s: qos 0 instructions per msg @${CG_RATE}/s" "$s.qos0.instr" instructions_per_msg 0
		row "$s: qos 1 instructions per msg @${CG_RATE}/s" "$s.qos1.instr" instructions_per_msg 0
		continue
	fi
	row "$s: qos 0 received msg/s" "$s.qos0" received_per_s 0 "$([[ $s == mtls ]] && echo '>= 1.0x')"
	row "$s: qos 0 lost %" "$s.qos0" lost_pct 2
	if [[ " $WORKLOADS " == *" qos0max "* ]]; then
		row "$s: qos 0 highest rate with 0 lost" "$s.qos0max" lossless_rate 0 "$([[ $s == mtls ]] && echo '>= 1.2x')"
		row "$s: qos 0 first rate not clean" "$s.qos0max" first_unclean_rate 0
		row "$s: qos 0 sent msg/s at that rate" "$s.qos0max" first_unclean_sent_per_s 0
		row "$s: qos 0 lost at that rate" "$s.qos0max" first_unclean_lost 0
	fi
	row "$s: qos 0 msg per broker core-s" "$s.qos0" per_core_second 0
	row "$s: qos 1 received msg/s" "$s.qos1" received_per_s 0 "$([[ $s == mtls ]] && echo '>= 1.0x')"
	row "$s: qos 1 lost %" "$s.qos1" lost_pct 3 "$([[ $s == mtls ]] && echo '0')"
	row "$s: qos 1 msg per broker core-s" "$s.qos1" per_core_second 0
	[[ $s == mtls+persist ]] && continue
	row "$s: qos 0 @10k/s p50 ms" "$s.qos0@10k" p50_ms 3
	row "$s: qos 0 @10k/s p99 ms" "$s.qos0@10k" p99_ms 3 "$([[ $s == mtls ]] && echo '< 2 ms')"
	row "$s: qos 0 @10k/s broker cpu (cores)" "$s.qos0@10k" cpu_cores 2
	row "$s: qos 1 @10k/s p99 ms" "$s.qos1@10k" p99_ms 3
	row "$s: fanout 1->20 @2k/s received msg/s" "$s.fanout" received_per_s 0
	row "$s: fanout msg per broker core-s" "$s.fanout" per_core_second 0
	row "$s: connects/s" "$s.connect" connects_per_s 0 "$([[ $s == mtls ]] && echo '>= 1.0x')"
	row "$s: connects per broker core-s" "$s.connect" per_core_second 0
	row "$s: connect p99 ms" "$s.connect" p99_ms 2
	row "$s: broker KiB per idle connection" "$s.connect" rss_per_conn_bytes 1 "$([[ $s == mtls ]] && echo '<= 1.5x')" 1024
done
for s in $SCENARIOS; do
	[[ -z $CALLGRIND && " $WORKLOADS " == *" fleet "* ]] || continue
	f="$s: fleet $FLEET_CLIENTS"
	row "$f lost" "$s.fleet" lost 0 "$([[ $s == mtls* ]] && echo '0')"
	row "$f duplicates" "$s.fleet" duplicates 0
	row "$f disconnects" "$s.fleet" disconnects 0 "$([[ $s == mtls* ]] && echo '0')"
	row "$f received" "$s.fleet" received 0
	row "$f p99 ms" "$s.fleet" p99_ms 1
	row "$f ramp broker core-s" "$s.fleet" ramp_cpu_seconds 1
	row "$f broker core-s publishing" "$s.fleet" cpu_seconds 1
	row "$f broker µs per msg" "$s.fleet" cpu_us_per_msg 1
	row "$f broker MiB connected" "$s.fleet" rss_connected_bytes 1 "" 1048576
	row "$f broker MiB peak" "$s.fleet" rss_peak_bytes 1 "" 1048576
done
echo
echo "lower is better for latency, cpu and memory; higher for the rest. JSON results: $RESULTS" >&2
