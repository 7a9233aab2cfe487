#!/usr/bin/env bash
# The local servers the project needs, without Docker:
#   scripts/infra.sh up     PostgreSQL and RabbitMQ (machine services: started if stopped, with
#                           RabbitMQ's management UI), Kafka (KRaft, from Maven Central) and
#                           Azurite (blob, on 127.0.0.1:10000, data in .run/azurite); and the
#                           tools the tests use: the Node versions they run on (.run/node/),
#                           docker-compose (to validate the compose file), kubectl (kustomize),
#                           Prometheus (promtool, and a Prometheus the dashboard tests run) and
#                           Chromium and Firefox ESR (the console's browser tests)
#   scripts/infra.sh down   stops what the project itself runs: Kafka and Azurite
#   scripts/infra.sh status
# npm run infra:up / infra:down call this. Each step fails loudly; nothing is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
run="$PWD/.run"

fail() { echo "infra: $*" >&2; exit 1; }
port_open() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

postgres_up() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    command -v pg_ctlcluster >/dev/null || fail "PostgreSQL is not installed"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 -q || fail "PostgreSQL did not come up on 127.0.0.1:5432"
  echo "postgres: up on 127.0.0.1:5432"
}

# The benchmark counts SQL statements per saga with pg_stat_statements, which must be preloaded:
# set it once (ALTER SYSTEM) and restart the server, then create the extension.
postgres_statistics() {
  local psql=(psql -h 127.0.0.1 -U postgres -d postgres -Atq)
  if ! "${psql[@]}" -c 'SHOW shared_preload_libraries' | grep -q pg_stat_statements; then
    local current; current=$("${psql[@]}" -c 'SHOW shared_preload_libraries')
    "${psql[@]}" -c "ALTER SYSTEM SET shared_preload_libraries = '${current:+$current,}pg_stat_statements'" || fail "could not preload pg_stat_statements"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main restart || fail "could not restart PostgreSQL to load pg_stat_statements"
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  "${psql[@]}" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' || fail "could not create the pg_stat_statements extension"
  echo "postgres: pg_stat_statements on"
}

rabbitmq_up() {
  command -v rabbitmqctl >/dev/null && command -v rabbitmq-server >/dev/null || fail "RabbitMQ is not installed (rabbitmqctl, rabbitmq-server)"
  rabbitmqctl status >/dev/null 2>&1 || rabbitmq-server -detached || fail "rabbitmq-server -detached failed"
  # The node may be up with its application stopped (a broker-restart test cut short): start it.
  local deadline=$((SECONDS + 60)) up=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    if rabbitmqctl start_app >/dev/null 2>&1 && rabbitmqctl await_startup --timeout 5 >/dev/null 2>&1; then up=1; break; fi
    sleep 1
  done
  [ -n "$up" ] || fail "RabbitMQ did not come up within 60 s (rabbitmqctl await_startup)"
  rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus >/dev/null || fail "could not enable rabbitmq_management and rabbitmq_prometheus"
  echo "rabbitmq: up on 127.0.0.1:5672, management UI on http://127.0.0.1:15672, Prometheus metrics on http://127.0.0.1:15692/metrics"
}

java_and_maven() {
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then apt_install openjdk-17-jre-headless maven; fi
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  command -v apt-get >/dev/null || fail "$1 is missing and there is no apt-get to install it"
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq "$@" >/dev/null; } || fail "could not install $* with apt-get"
}

# The tests run every suite on each Node version of scripts/test-nodes.json, taken from the npm
# registry's `node` package (a binary per platform), so nothing else is downloaded.
node_versions_up() {
  local v
  for v in $(node -e 'console.log(require("./scripts/test-nodes.json").versions.join(" "))'); do
    local dir="$run/node/$v"
    if [ -x "$dir/node_modules/.bin/node" ] && [ "$("$dir/node_modules/.bin/node" -v)" = "v$v" ]; then continue; fi
    rm -rf "$dir"; mkdir -p "$dir"
    echo '{"private":true}' > "$dir/package.json"
    (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error "node@$v" >/dev/null 2>&1) || fail "could not install Node $v from the npm registry"
    [ "$("$dir/node_modules/.bin/node" -v)" = "v$v" ] || fail "Node $v did not install into $dir"
  done
  echo "node: $(node -e 'console.log(require("./scripts/test-nodes.json").versions.join(", "))') in .run/node"
}

# test/deploy validates the compose file with docker-compose (Debian's, which needs no Docker
# engine for `config`) and renders k8s/ with kubectl's kustomize (v4+). Prometheus (Debian's
# package: its daemon is not started, the tests run their own) checks observability/'s scrape
# config with promtool and evaluates every dashboard query against the running services.
deploy_tools_up() {
  command -v docker-compose >/dev/null || apt_install docker-compose
  command -v kubectl >/dev/null || apt_install kubectl
  kubectl kustomize --help >/dev/null 2>&1 || fail "kubectl has no kustomize (kubectl 1.21+ is needed)"
  { command -v prometheus >/dev/null && command -v promtool >/dev/null; } || apt_install --no-install-recommends prometheus
  echo "tools: docker-compose $(docker-compose version --short 2>/dev/null), kubectl with kustomize, prometheus $(prometheus --version 2>&1 | sed -n 's/^prometheus, version \([^ ]*\).*/\1/p')"
}

# The console's browser tests drive Debian's Chromium and Firefox ESR with playwright-core
# (which cannot download a browser of its own here; it speaks WebDriver BiDi to stock Firefox).
browser_up() {
  [ -x /usr/bin/chromium ] || apt_install chromium
  [ -x /usr/bin/firefox-esr ] || apt_install firefox-esr
  local b
  for b in chromium firefox-esr; do
    "/usr/bin/$b" --version >/dev/null 2>&1 || fail "$b is installed but does not start: /usr/bin/$b --version"
    echo "browser: $("/usr/bin/$b" --version 2>/dev/null | head -1)"
  done
}

azurite_up() {
  [ -f node_modules/azurite/dist/src/blob/main.js ] || fail "Azurite is not installed: run npm ci first"
  if port_open 10000; then
    # Ours (pid file) or one started elsewhere: an Azurite on the port serves either way.
    echo "azurite: already running on 127.0.0.1:10000"; return
  fi
  mkdir -p "$run/azurite"
  # A session of its own, as Kafka's (scripts/kafka.sh): it outlives the shell job that started it.
  rm -f "$run/azurite.pid"
  AZURITE_PID_FILE="$run/azurite.pid" setsid bash -c 'echo $$ > "$AZURITE_PID_FILE"; exec "$@"' azurite \
    node node_modules/azurite/dist/src/blob/main.js --blobHost 127.0.0.1 --blobPort 10000 \
    --location "$run/azurite" --disableTelemetry --skipApiVersionCheck --silent </dev/null >"$run/azurite.log" 2>&1 &
  for _ in $(seq 1 20); do [ -s "$run/azurite.pid" ] && break; sleep 0.1; done
  for _ in $(seq 1 60); do port_open 10000 && { echo "azurite: up on 127.0.0.1:10000 (blob)"; return; }; sleep 0.25; done
  tail -20 "$run/azurite.log" >&2; fail "Azurite did not come up"
}

azurite_down() {
  if [ -f "$run/azurite.pid" ] && kill -0 "$(cat "$run/azurite.pid")" 2>/dev/null; then kill "$(cat "$run/azurite.pid")"; fi
  rm -f "$run/azurite.pid"; echo "azurite: down"
}

case "${1:-}" in
  up) postgres_up; postgres_statistics; rabbitmq_up; java_and_maven; scripts/kafka.sh up || fail "Kafka did not start"; azurite_up; node_versions_up; deploy_tools_up; browser_up ;;
  down) scripts/kafka.sh down; azurite_down ;;
  status)
    pg_isready -h 127.0.0.1 -p 5432 -q && echo "postgres: up" || echo "postgres: down"
    rabbitmqctl await_startup --timeout 2 >/dev/null 2>&1 && echo "rabbitmq: up" || echo "rabbitmq: down"
    scripts/kafka.sh status || true
    port_open 10000 && echo "azurite: up" || echo "azurite: down" ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
