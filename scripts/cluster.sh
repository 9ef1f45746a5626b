#!/usr/bin/env bash
# A real multi-process cluster on loopback, for developers and benchmarks: redis-server, the upstream simulator,
# N silos and M gateways in Redis production mode, every one a background OS process on free 127.0.0.1 ports.
#
#   scripts/cluster.sh up [--silos N] [--gateways M] [--api-key KEY] [--configuration Release|Debug] [--no-build]
#                         [--silo-arg --Key=value]... [--gateway-arg --Key=value]...   (defaults: 2 silos, 1 gateway)
#   scripts/cluster.sh status            each process: pid, alive/dead, url, /readyz
#   scripts/cluster.sh kill NAME         SIGKILL one process (silo1, gateway2, simulator, redis)
#   scripts/cluster.sh start NAME        start one stopped/killed process again, same ports and arguments
#   scripts/cluster.sh logs NAME         tail -f its log
#   scripts/cluster.sh down              SIGTERM everything (SIGKILL after 15 s), gateways first
#
# State lives in .cache/cluster/: <name>.log (stdout+stderr), <name>.args (its command line), pids
# ("name pid url" per line) and cluster.env (URLs, ports and the cluster id, sourceable).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state="$root/.cache/cluster"
pids_file="$state/pids"
ready_timeout=${CLUSTER_READY_TIMEOUT:-90}
stop_timeout=${CLUSTER_STOP_TIMEOUT:-15}

die() { echo "cluster.sh: $*" >&2; exit 1; }

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------------------------------------------------------
# ports

# Prints COUNT distinct free ports. They are taken below the kernel's ephemeral range (so no outgoing connection
# takes one while its process is down between `kill` and `start`) and checked free on every address (silos listen
# on 0.0.0.0).
free_ports() {
  local count=$1 low=32768
  [ -r /proc/sys/net/ipv4/ip_local_port_range ] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  [ "$low" -gt 21000 ] || low=60000
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$count" "$low" <<'PY'
import random, socket, sys
count, ceiling = int(sys.argv[1]), int(sys.argv[2])
socks, ports = [], []
while len(ports) < count:
    port = random.randrange(20000, ceiling)
    if port in ports:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))
    except OSError:
        s.close()
        continue
    socks.append(s)
    ports.append(port)
print(" ".join(map(str, ports)))
for s in socks:
    s.close()
PY
  else
    # No python3: random ports where nothing answers a connect (bash /dev/tcp).
    local ports=() port tries=0
    while [ "${#ports[@]}" -lt "$count" ]; do
      tries=$((tries + 1)); [ "$tries" -gt 2000 ] && die "no free ports found"
      port=$((20000 + RANDOM % (low - 20000)))
      [[ " ${ports[*]-} " == *" $port "* ]] && continue
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ports+=("$port"); fi
    done
    echo "${ports[*]}"
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# probes

# Prints the HTTP status of a GET (000 when nothing answers).
http_status() {
  local url=$1
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null || true
  else
    local rest=${url#http://} hostport path line
    hostport=${rest%%/*}; path=/${rest#*/}
    if exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" 2>/dev/null; then
      printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
      IFS= read -r -t 2 line <&3 || true
      exec 3>&- 3<&- || true
      line=${line#HTTP/* }; echo "${line:0:3}"
    else
      echo 000
    fi
  fi
}

redis_ping() {
  local port=$1 reply=""
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" = "PONG" ]
  else
    exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || true
    exec 3>&- 3<&- || true
    [[ "$reply" == +PONG* ]]
  fi
}

# True when PID is alive and is still the process we started (its command line contains MARKER).
owns_pid() {
  local pid=$1 marker=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# ---------------------------------------------------------------------------------------------------------------
# state file: "name pid url" per line

entry() { [ -f "$pids_file" ] && awk -v n="$1" '$1 == n { print; exit }' "$pids_file" || true; }
entry_pid() { entry "$1" | awk '{ print $2 }'; }
entry_url() { entry "$1" | awk '{ print $3 }'; }
names() { [ -f "$pids_file" ] && awk '{ print $1 }' "$pids_file" || true; }

set_entry() {
  local name=$1 pid=$2 url=$3 tmp
  tmp=$(mktemp "$state/pids.XXXXXX")
  { [ -f "$pids_file" ] && awk -v n="$name" '$1 != n' "$pids_file"; echo "$name $pid $url"; } >"$tmp" || true
  mv "$tmp" "$pids_file"
}

# The text that identifies a process of ours in /proc/PID/cmdline.
marker_of() {
  case $1 in
    redis) echo "redis-server" ;;
    simulator) echo "CodexLb.UpstreamSimulator.dll" ;;
    silo*) echo "CodexLb.Silo.dll" ;;
    gateway*) echo "CodexLb.Gateway.dll" ;;
    *) echo "$1" ;;
  esac
}

# ---------------------------------------------------------------------------------------------------------------
# processes

# launch NAME URL COMMAND...: starts it in the background (log appended), remembers its pid and command line.
launch() {
  local name=$1 url=$2; shift 2
  printf '%s\0' "$@" >"$state/$name.args"
  printf '\n==== %s start %s: %s\n' "$(date -u +%FT%TZ)" "$name" "$*" >>"$state/$name.log"
  nohup "$@" >>"$state/$name.log" 2>&1 </dev/null &
  set_entry "$name" "$!" "$url"
}

relaunch() {
  local name=$1 args=()
  [ -f "$state/$name.args" ] || die "unknown process '$name' (see: scripts/cluster.sh status)"
  mapfile -d '' args <"$state/$name.args"
  launch "$name" "$(entry_url "$name")" "${args[@]}"
}

tail_log() {
  local name=$1
  echo "---- last lines of $state/$name.log ----" >&2
  tail -n "${2:-40}" "$state/$name.log" >&2 || true
  echo "----" >&2
}

# wait_ready NAME: until its readiness probe passes; fails (with the log's tail) if it dies or times out.
wait_ready() {
  local name=$1 pid url deadline code=000
  pid=$(entry_pid "$name"); url=$(entry_url "$name")
  deadline=$((SECONDS + ready_timeout))
  while true; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log "$name"; echo "cluster.sh: $name (pid $pid) exited before it was ready" >&2; return 1
    fi
    case $name in
      redis) redis_ping "${url##*:}" && return 0 ;;
      simulator) code=$(http_status "${url%/v1}/v1/models"); [ "$code" = 200 ] && return 0 ;;
      *) code=$(http_status "$url/readyz"); [ "$code" = 200 ] && return 0 ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail_log "$name"; echo "cluster.sh: $name (pid $pid) not ready after ${ready_timeout}s (last status $code)" >&2; return 1
    fi
    sleep 0.3
  done
}

# stop_names SIGNAL NAME...: signals each live process of ours, then waits (SIGKILL after the stop timeout).
stop_names() {
  local name pid waiting=() deadline
  for name in "$@"; do
    pid=$(entry_pid "$name")
    if owns_pid "$pid" "$(marker_of "$name")"; then kill -TERM "$pid" 2>/dev/null || true; waiting+=("$name"); fi
  done
  deadline=$((SECONDS + stop_timeout))
  for name in "${waiting[@]+"${waiting[@]}"}"; do
    pid=$(entry_pid "$name")
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "$name (pid $pid) ignored SIGTERM for ${stop_timeout}s: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true; break
      fi
      sleep 0.2
    done
    echo "stopped $name (pid $pid)"
  done
}

any_alive() {
  local name
  for name in $(names); do owns_pid "$(entry_pid "$name")" "$(marker_of "$name")" && return 0; done
  return 1
}

# ---------------------------------------------------------------------------------------------------------------
# build

needs_build() {
  local configuration=$1 dll newest
  for dll in "${dlls[@]}"; do [ -f "$dll" ] || return 0; done
  # Any source or project file newer than the oldest output?
  newest=$(ls -t "${dlls[@]}" | tail -n 1)
  [ -n "$(find "$root/src" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
    \( -path '*/bin' -o -path '*/obj' \) -prune -o -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' \) \
    -newer "$newest" -print -quit)" ]
}

# ---------------------------------------------------------------------------------------------------------------
# commands

cmd_up() {
  local silos=2 gateways=1 configuration=Release build=1 api_key="" silo_args=() gateway_args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --silos) silos=${2:?--silos N}; shift 2 ;;
      --gateways) gateways=${2:?--gateways M}; shift 2 ;;
      --api-key) api_key=${2:?--api-key KEY}; shift 2 ;;
      --configuration|-c) configuration=${2:?--configuration Release|Debug}; shift 2 ;;
      --no-build) build=0; shift ;;
      --silo-arg) silo_args+=("${2:?--silo-arg --Key=value}"); shift 2 ;;
      --gateway-arg) gateway_args+=("${2:?--gateway-arg --Key=value}"); shift 2 ;;
      -h|--help) usage; return 0 ;;
      *) die "up: unknown option '$1'" ;;
    esac
  done
  [[ "$silos" =~ ^[1-9][0-9]*$ ]] || die "--silos must be a positive number"
  [[ "$gateways" =~ ^[0-9]+$ ]] || die "--gateways must be a number"
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found (apt-get install -y redis-server)"
  command -v dotnet >/dev/null 2>&1 || die "dotnet not found"

  mkdir -p "$state"
  if any_alive; then die "a cluster is already running (scripts/cluster.sh status / down)"; fi

  local bin="bin/$configuration/net10.0"
  dlls=("$root/src/Silo/$bin/CodexLb.Silo.dll" "$root/src/Gateway/$bin/CodexLb.Gateway.dll" "$root/src/UpstreamSimulator/$bin/CodexLb.UpstreamSimulator.dll")
  if [ "$build" = 1 ] && needs_build "$configuration"; then
    echo "building ($configuration)..."
    (cd "$root" && dotnet build src/Silo/Silo.csproj -c "$configuration" -nologo -v q) || die "build failed"
    (cd "$root" && dotnet build src/Gateway/Gateway.csproj -c "$configuration" -nologo -v q) || die "build failed"
  fi
  local dll
  for dll in "${dlls[@]}"; do [ -f "$dll" ] || die "$dll missing (build with: dotnet build -c $configuration)"; done

  # A fresh state directory (old logs go away with the old cluster).
  rm -f "$pids_file" "$state"/*.log "$state"/*.args "$state/cluster.env"

  local ports count=$((2 + 3 * silos + gateways)) i
  read -r -a ports <<<"$(free_ports "$count")"
  [ "${#ports[@]}" -eq "$count" ] || die "could not find $count free ports"
  local redis_port=${ports[0]} sim_port=${ports[1]} next=2
  local cluster_id="dev-$(date +%s)-$$"
  local redis_conn="127.0.0.1:$redis_port" sim_url="http://127.0.0.1:$sim_port"

  # Whatever goes wrong from here on (a process dies, a timeout, Ctrl-C), stop what was started.
  up_done=0
  trap 'if [ "$up_done" = 0 ]; then echo "start-up failed: stopping what was started (logs in $state)" >&2; cmd_down >/dev/null 2>&1 || true; fi' EXIT
  trap 'exit 130' INT TERM

  launch redis "redis://127.0.0.1:$redis_port" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
  launch simulator "$sim_url/v1" dotnet "${dlls[2]}" --urls "$sim_url"
  wait_ready redis
  wait_ready simulator

  local key_args=()
  [ -n "$api_key" ] && key_args=(--CodexLb:Gateway:ApiKeys:0 "$api_key")
  for i in $(seq 1 "$silos"); do
    local http=${ports[$next]} silo_port=${ports[$((next + 1))]} gw_port=${ports[$((next + 2))]}
    next=$((next + 3))
    launch "silo$i" "http://127.0.0.1:$http" dotnet "${dlls[0]}" --urls "http://127.0.0.1:$http" \
      --CodexLb:Redis:ConnectionString "$redis_conn" --CodexLb:Cluster:SiloPort "$silo_port" \
      --CodexLb:Cluster:GatewayPort "$gw_port" --CodexLb:Cluster:ClusterId "$cluster_id" \
      --CodexLb:Upstream:BaseUrl "$sim_url/v1" --CodexLb:Upstream:ApiKey sk-upstream-harness \
      --CodexLb:Silo:ServeClients true "${key_args[@]+"${key_args[@]}"}" "${silo_args[@]+"${silo_args[@]}"}"
  done
  for i in $(seq 1 "$silos"); do wait_ready "silo$i"; done

  # Gateways after the silos: an Orleans client needs a live silo in the membership table to start.
  for i in $(seq 1 "$gateways"); do
    local http=${ports[$next]}
    next=$((next + 1))
    launch "gateway$i" "http://127.0.0.1:$http" dotnet "${dlls[1]}" --urls "http://127.0.0.1:$http" \
      --CodexLb:Redis:ConnectionString "$redis_conn" --CodexLb:Cluster:ClusterId "$cluster_id" \
      "${key_args[@]+"${key_args[@]}"}" "${gateway_args[@]+"${gateway_args[@]}"}"
  done
  for i in $(seq 1 "$gateways"); do wait_ready "gateway$i"; done
  up_done=1
  trap - INT TERM

  {
    echo "CLUSTER_ID=$cluster_id"
    echo "REDIS=$redis_conn"
    echo "SIMULATOR=$sim_url"
    for i in $(seq 1 "$silos"); do echo "SILO$i=$(entry_url "silo$i")"; done
    for i in $(seq 1 "$gateways"); do echo "GATEWAY$i=$(entry_url "gateway$i")"; done
  } >"$state/cluster.env"

  echo
  echo "cluster $cluster_id is up ($configuration), every /readyz answered 200"
  for i in $(seq 1 "$gateways"); do printf '  %-10s %s/v1   (pid %s)\n' "gateway$i" "$(entry_url "gateway$i")" "$(entry_pid "gateway$i")"; done
  for i in $(seq 1 "$silos"); do printf '  %-10s %s/v1   (pid %s, gateway endpoints co-hosted)\n' "silo$i" "$(entry_url "silo$i")" "$(entry_pid "silo$i")"; done
  printf '  %-10s %s   (pid %s; /_sim/ledger, /_sim/faults)\n' simulator "$sim_url" "$(entry_pid simulator)"
  printf '  %-10s %s   (pid %s)\n' redis "$redis_conn" "$(entry_pid redis)"
  echo "logs: $state/<name>.log   urls: $state/cluster.env   stop: scripts/cluster.sh down"
}

cmd_down() {
  [ -f "$pids_file" ] || { echo "no cluster state in $state"; return 0; }
  local gateways=() silos=() rest=() name
  for name in $(names); do
    case $name in gateway*) gateways+=("$name") ;; silo*) silos+=("$name") ;; *) rest+=("$name") ;; esac
  done
  # Gateways first (they drain), then silos, then what they depend on (the simulator, redis last).
  stop_names "${gateways[@]+"${gateways[@]}"}"
  stop_names "${silos[@]+"${silos[@]}"}"
  stop_names "${rest[@]+"${rest[@]}"}"
  rm -f "$pids_file"
  echo "cluster down (logs kept in $state)"
}

cmd_status() {
  [ -f "$pids_file" ] || { echo "no cluster (scripts/cluster.sh up)"; return 0; }
  [ -f "$state/cluster.env" ] && grep '^CLUSTER_ID=' "$state/cluster.env" || true
  printf '%-10s %-8s %-6s %-32s %s\n' NAME PID STATE URL READY
  local name pid url alive ready
  while read -r name pid url; do
    if owns_pid "$pid" "$(marker_of "$name")"; then alive=up; else alive=dead; fi
    ready=-
    if [ "$alive" = up ]; then
      case $name in
        redis) if redis_ping "${url##*:}"; then ready=PONG; else ready=no; fi ;;
        simulator) ready="models $(http_status "$url/models")" ;;
        *) ready="readyz $(http_status "$url/readyz")" ;;
      esac
    fi
    printf '%-10s %-8s %-6s %-32s %s\n' "$name" "$pid" "$alive" "$url" "$ready"
  done <"$pids_file"
}

cmd_kill() {
  local name=${1:?usage: scripts/cluster.sh kill NAME} pid
  pid=$(entry_pid "$name")
  [ -n "$pid" ] || die "unknown process '$name' (see: scripts/cluster.sh status)"
  owns_pid "$pid" "$(marker_of "$name")" || die "$name (pid $pid) is not running"
  kill -KILL "$pid"
  echo "SIGKILL sent to $name (pid $pid)"
}

cmd_start() {
  local name=${1:?usage: scripts/cluster.sh start NAME}
  [ -n "$(entry "$name")" ] || die "unknown process '$name' (see: scripts/cluster.sh status)"
  owns_pid "$(entry_pid "$name")" "$(marker_of "$name")" && die "$name is already running"
  relaunch "$name"
  wait_ready "$name"
  echo "started $name (pid $(entry_pid "$name")) at $(entry_url "$name")"
}

cmd_logs() {
  local name=${1:?usage: scripts/cluster.sh logs NAME}
  [ -f "$state/$name.log" ] || die "no log for '$name'"
  exec tail -n 100 -f "$state/$name.log"
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kill) cmd_kill "$@" ;;
  start) cmd_start "$@" ;;
  logs) cmd_logs "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
