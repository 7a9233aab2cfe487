#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft) on 127.0.0.1:9092, from Maven Central artifacts.
#   scripts/kafka.sh fetch | up | down | status
# Data and logs under .run/kafka (KAFKA_HOME overrides). Needs Java 17+ and Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
home="${KAFKA_HOME:-$PWD/.run/kafka}"
lib="$home/lib"
port="${KAFKA_PORT:-9092}"
cport="${KAFKA_CONTROLLER_PORT:-9093}"

fetch() {
  if [ -f "$lib/kafka_2.13-4.1.1.jar" ]; then return; fi
  mkdir -p "$lib"
  mvn -q -B -f infra/kafka/pom.xml dependency:copy-dependencies -Dkafka.lib.dir="$lib"
}

listening() { (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; }

up() {
  fetch
  if listening; then
    # Ours (pid file) or another checkout's / the machine's: a broker on the port serves either way.
    echo "kafka: already running on 127.0.0.1:$port"; return
  fi
  mkdir -p "$home/data" "$home/logs"
  cat > "$home/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$home/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
  if [ ! -f "$home/cluster-id" ]; then
    # 16 random bytes, base64url without padding, not starting with '-'
    while :; do id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); [ "${id:0:1}" != "-" ] && break; done
    echo "$id" > "$home/cluster-id"
  fi
  java -cp "$lib/*" kafka.tools.StorageTool format -t "$(cat "$home/cluster-id")" -c "$home/server.properties" --ignore-formatted >/dev/null
  # A session of its own: the broker outlives whatever started it (a test, a shell job whose
  # process group is killed when it ends). The pid is the broker's, written from inside.
  rm -f "$home/kafka.pid"
  KAFKA_PID_FILE="$home/kafka.pid" setsid bash -c 'echo $$ > "$KAFKA_PID_FILE"; exec "$@"' kafka \
    java -Xms256m -Xmx512m -Dlog4j2.configurationFile="$PWD/infra/kafka/log4j2.yaml" -Dkafka.logs.dir="$home/logs" \
    -cp "$lib/*" kafka.Kafka "$home/server.properties" </dev/null >"$home/logs/stdout.log" 2>&1 &
  for _ in $(seq 1 20); do [ -s "$home/kafka.pid" ] && break; sleep 0.1; done
  for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$home/logs/server.log" 2>/dev/null && listening; then echo "kafka: up on 127.0.0.1:$port"; return; fi
    kill -0 "$(cat "$home/kafka.pid")" 2>/dev/null || { tail -30 "$home/logs/stdout.log" "$home/logs/server.log" 2>/dev/null; echo "kafka: died at start" >&2; exit 1; }
    sleep 0.5
  done
  echo "kafka: not up after 60 s" >&2; tail -30 "$home/logs/server.log" >&2; exit 1
}

down() {
  if [ -f "$home/kafka.pid" ] && kill -0 "$(cat "$home/kafka.pid")" 2>/dev/null; then
    pid=$(cat "$home/kafka.pid"); kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$home/kafka.pid"; echo "kafka: down"
}

status() { listening && echo "kafka: up on 127.0.0.1:$port" || { echo "kafka: down"; exit 1; }; }

case "${1:-}" in
  fetch) fetch ;; up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 fetch|up|down|status" >&2; exit 2 ;;
esac
