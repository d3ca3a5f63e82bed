# shellcheck shell=bash disable=SC2153
# Apache Kafka 4.x in KRaft mode from its jars on Maven Central: one combined broker+controller
# (default), or KAFKA_NODES=3 combined nodes on loopback forming a three-voter quorum with
# replication factor 3 and min.insync.replicas 2 (broker-loss drills: scripts/chaos/broker-loss.ts).
# native/kafka/pom.xml names the jars; they are copied into native/.cache/kafka/libs.
#
# Layout. One node: pid/log `kafka`, .run/kafka/{server.properties,data}, ports KAFKA_PORT and
# KAFKA_CONTROLLER_PORT. Three nodes: pid/log `kafka-0..2`, .run/kafka/node-N/{server.properties,data},
# node N on KAFKA_PORT + N*KAFKA_NODE_PORT_STEP (controller KAFKA_CONTROLLER_PORT + N*step).
# A data directory is formatted for one of the two layouts; switching needs a fresh cluster
# (`bash native/infra.sh reset`), see kafka_check_layout.

KAFKA_POM="$NATIVE_DIR/kafka/pom.xml"
KAFKA_LIBS="$CACHE_DIR/kafka/libs"
KAFKA_HOME="$RUN_DIR/kafka"
# +10 per node: +1/+2 would land on the controller port and on ALERTMANAGER_PORT (KAFKA_PORT + 2).
KAFKA_NODE_PORT_STEP=10

# The node count of the data on disk (nothing when there is none yet).
kafka_formatted_nodes() {
  if [[ -f "$KAFKA_HOME/data/meta.properties" ]]; then
    echo 1
  elif compgen -G "$KAFKA_HOME/node-*/data/meta.properties" >/dev/null; then
    compgen -G "$KAFKA_HOME/node-*/data/meta.properties" | wc -l
  fi
}

# KAFKA_NODES unset: the layout already on disk, else 1.
if [[ -z "${KAFKA_NODES:-}" ]]; then
  KAFKA_NODES="$(kafka_formatted_nodes)"
  KAFKA_NODES="${KAFKA_NODES:-1}"
fi
[[ "$KAFKA_NODES" == 1 || "$KAFKA_NODES" == 3 ]] || {
  echo "KAFKA_NODES must be 1 or 3, got '$KAFKA_NODES'" >&2
  exit 1
}
# Replication of the platform topics and of Kafka's internal topics.
KAFKA_RF="$KAFKA_NODES"
KAFKA_MIN_ISR=$((KAFKA_NODES >= 3 ? 2 : 1))

kafka_node_name() { if ((KAFKA_NODES == 1)); then echo kafka; else echo "kafka-$1"; fi; }
kafka_node_dir() { if ((KAFKA_NODES == 1)); then echo "$KAFKA_HOME"; else echo "$KAFKA_HOME/node-$1"; fi; }
kafka_node_port() { echo $((KAFKA_PORT + $1 * KAFKA_NODE_PORT_STEP)); }
kafka_controller_port() { echo $((KAFKA_CONTROLLER_PORT + $1 * KAFKA_NODE_PORT_STEP)); }
kafka_node_log() { echo "$LOG_DIR/$(kafka_node_name "$1").log"; }

KAFKA_LOG="$(kafka_node_log 0)"
KAFKA_BROKERS=""
KAFKA_VOTERS=""
for ((_i = 0; _i < KAFKA_NODES; _i++)); do
  KAFKA_BROKERS+="${KAFKA_BROKERS:+,}127.0.0.1:$(kafka_node_port "$_i")"
  KAFKA_VOTERS+="${KAFKA_VOTERS:+,}$((_i + 1))@127.0.0.1:$(kafka_controller_port "$_i")"
done
unset _i
export KAFKA_BROKERS KAFKA_NODES

# Copies the broker's jars once per pom content (mvn itself caches downloads in ~/.m2).
kafka_fetch_libs() {
  local stamp want
  stamp="$CACHE_DIR/kafka/libs.sha256"
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  log "resolving the Kafka jars with mvn (cached in ~/.m2 after the first time)"
  mkdir -p "$CACHE_DIR/kafka"
  rm -rf "$KAFKA_LIBS.tmp"
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS.tmp" \
    >>"$LOG_DIR/mvn.log" 2>&1 || die "mvn could not fetch the Kafka jars; see $LOG_DIR/mvn.log"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  printf '%s\n' "$want" >"$stamp"
}

kafka_version() {
  local jar
  jar="$(compgen -G "$KAFKA_LIBS/kafka-clients-*.jar" | head -n 1)"
  jar="${jar##*/kafka-clients-}"
  printf '%s\n' "${jar%.jar}"
}

kafka_jvm() {
  KAFKA_JVM=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$NATIVE_DIR/kafka/log4j2.properties"
    -Dkafka.logs.dir="$LOG_DIR" -cp "$KAFKA_LIBS/*")
}

kafka_java() {
  local KAFKA_JVM
  kafka_jvm
  "${KAFKA_JVM[@]}" "$@"
}

# A data directory formatted for the other layout is refused, never reused or deleted: the
# database keeps consumer offsets and outbox positions that belong to that Kafka cluster, so
# Kafka and PostgreSQL are reset together.
kafka_check_layout() {
  local have
  have="$(kafka_formatted_nodes)"
  [[ -z "$have" || "$have" == "$KAFKA_NODES" ]] && return 0
  die "the Kafka data in $KAFKA_HOME belongs to a ${have}-node cluster but KAFKA_NODES=$KAFKA_NODES.
  Switching between 1 and 3 Kafka nodes needs a fresh cluster, and the database holds positions
  in the old one (order-router offsets, outbox), so both go: 'bash native/infra.sh reset'
  (deletes ALL native data), then 'KAFKA_NODES=$KAFKA_NODES bash native/infra.sh up' and migrate.
  Or keep this cluster: run without KAFKA_NODES (it follows the data on disk)."
}

# kafka_write_config N: server.properties of node N.
kafka_write_config() {
  local i="$1" dir
  dir="$(kafka_node_dir "$i")"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<PROPS
# Written by native/lib/kafka.sh on every \`infra.sh up\`; edits are overwritten.
process.roles=broker,controller
node.id=$((i + 1))
controller.quorum.voters=$KAFKA_VOTERS
listeners=PLAINTEXT://127.0.0.1:$(kafka_node_port "$i"),CONTROLLER://127.0.0.1:$(kafka_controller_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(kafka_node_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
delete.topic.enable=true
unclean.leader.election.enable=false
num.partitions=12
default.replication.factor=$KAFKA_RF
min.insync.replicas=$KAFKA_MIN_ISR
offsets.topic.replication.factor=$KAFKA_RF
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$KAFKA_RF
transaction.state.log.min.isr=$KAFKA_MIN_ISR
transaction.state.log.num.partitions=12
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
log.retention.hours=24
log.retention.check.interval.ms=60000
PROPS
}

# kafka_format N: formats node N's KRaft storage once, with the cluster id kept in
# .run/kafka/cluster.id (shared by all nodes).
kafka_format() {
  local i="$1" dir cid_file="$KAFKA_HOME/cluster.id" cid
  dir="$(kafka_node_dir "$i")"
  [[ -f "$dir/data/meta.properties" ]] && return 0
  # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding (22 characters). Like Kafka's
  # own Uuid.randomUuid, never one that starts with '-': the storage tool would read it as an
  # option (1 run in 64 failed that way). A stored one from before is replaced while unused.
  if [[ ! -s "$cid_file" || "$(head -c1 "$cid_file")" == - ]]; then
    node -e "const c=require('crypto');let id;do id=c.randomBytes(16).toString('base64url');while(id[0]==='-');process.stdout.write(id)" >"$cid_file"
  fi
  cid="$(cat "$cid_file")"
  log "formatting Kafka KRaft storage of $(kafka_node_name "$i") (cluster id $cid)"
  kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$dir/server.properties" \
    >>"$(kafka_node_log "$i")" 2>&1 || die "Kafka storage format failed; see $(kafka_node_log "$i")"
}

# Transactional produce + read-committed consume on _platform.readiness (node + kafkajs); with
# three nodes its topic has replication factor 3, so it also waits for every broker to register.
kafka_ready() {
  (cd "$ROOT_DIR" && KAFKA_BROKERS="$KAFKA_BROKERS" KAFKA_READY_REPLICATION="$KAFKA_RF" \
    node "$NATIVE_DIR/lib/kafka-ready.js")
}

kafka_start() {
  kafka_fetch_libs
  kafka_check_layout
  mkdir -p "$KAFKA_HOME"
  local i name KAFKA_JVM
  kafka_jvm
  for ((i = 0; i < KAFKA_NODES; i++)); do
    name="$(kafka_node_name "$i")"
    kafka_write_config "$i"
    is_running "$name" && continue
    check_port_free "$name" "$(kafka_node_port "$i")"
    check_port_free "$name-controller" "$(kafka_controller_port "$i")"
    kafka_format "$i"
    log "starting $name $(kafka_version) on 127.0.0.1:$(kafka_node_port "$i") (controller :$(kafka_controller_port "$i"))"
    start_bg "$name" "$(kafka_node_log "$i")" "${KAFKA_JVM[@]}" kafka.Kafka "$(kafka_node_dir "$i")/server.properties"
  done
  for ((i = 0; i < KAFKA_NODES; i++)); do
    wait_for "$(kafka_node_name "$i")" 90 "$(kafka_node_log "$i")" port_listening "$(kafka_node_port "$i")"
  done
  wait_for "$(kafka_node_name 0)" 120 "$KAFKA_LOG" kafka_ready
}

kafka_create_topics() {
  log "creating the platform topics (libs/contracts/src/topics.ts, replication factor $KAFKA_RF)"
  (cd "$ROOT_DIR" && KAFKA_BROKERS="$KAFKA_BROKERS" KAFKA_REPLICATION_FACTOR="$KAFKA_RF" \
    node -r @swc-node/register libs/kafka/src/create-topics.main.ts) ||
    die "topic creation failed (node -r @swc-node/register libs/kafka/src/create-topics.main.ts)"
}

# Stops every Kafka node that has a pid file, whatever KAFKA_NODES says. All get SIGTERM at
# once: stopped one by one, the last ones would wait for a quorum that is already gone.
kafka_stop() {
  local f names=() name pid
  for f in "$PID_DIR"/kafka.pid "$PID_DIR"/kafka-[0-9].pid; do
    [[ -e "$f" ]] || continue
    name="${f##*/}"
    names+=("${name%.pid}")
  done
  for name in "${names[@]}"; do
    if pid="$(running_pid "$name")"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for name in "${names[@]}"; do stop_component "$name" TERM 60; done
}
