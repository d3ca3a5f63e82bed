# shellcheck shell=bash disable=SC2153
# Apache Kafka 4.x broker+controller (KRaft, single node) from its jars on Maven Central.
# native/kafka/pom.xml names the jars; they are copied into native/.cache/kafka/libs.

KAFKA_POM="$NATIVE_DIR/kafka/pom.xml"
KAFKA_LIBS="$CACHE_DIR/kafka/libs"
KAFKA_HOME="$RUN_DIR/kafka"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_PROPS="$KAFKA_HOME/server.properties"
KAFKA_LOG="$LOG_DIR/kafka.log"
KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export KAFKA_BROKERS

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

kafka_write_config() {
  mkdir -p "$KAFKA_DATA"
  cat >"$KAFKA_PROPS" <<PROPS
# Written by native/lib/kafka.sh on every \`infra.sh up\`; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=12
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
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

# Formats the KRaft storage once, with a cluster id kept in .run/kafka/cluster.id.
kafka_format() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cid_file="$KAFKA_HOME/cluster.id" cid
  if [[ ! -s "$cid_file" ]]; then
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding (22 characters).
    node -e "process.stdout.write(require('crypto').randomBytes(16).toString('base64url'))" >"$cid_file"
  fi
  cid="$(cat "$cid_file")"
  log "formatting Kafka KRaft storage (cluster id $cid)"
  kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$KAFKA_PROPS" \
    >>"$KAFKA_LOG" 2>&1 || die "Kafka storage format failed; see $KAFKA_LOG"
}

kafka_listening() { port_listening "$KAFKA_PORT"; }

# Transactional produce + read-committed consume on _platform.readiness (node + kafkajs).
kafka_ready() {
  (cd "$ROOT_DIR" && KAFKA_BROKERS="$KAFKA_BROKERS" node "$NATIVE_DIR/lib/kafka-ready.js")
}

kafka_start() {
  kafka_fetch_libs
  mkdir -p "$KAFKA_HOME"
  kafka_write_config
  if ! is_running kafka; then
    check_port_free kafka "$KAFKA_PORT"
    check_port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
    kafka_format
    log "starting kafka $(kafka_version) on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)"
    local KAFKA_JVM
    kafka_jvm
    start_bg kafka "$KAFKA_LOG" "${KAFKA_JVM[@]}" kafka.Kafka "$KAFKA_PROPS"
  fi
  wait_for kafka 90 "$KAFKA_LOG" kafka_listening
  wait_for kafka 120 "$KAFKA_LOG" kafka_ready
}

kafka_create_topics() {
  log "creating the platform topics (libs/contracts/src/topics.ts)"
  (cd "$ROOT_DIR" && KAFKA_BROKERS="$KAFKA_BROKERS" node -r @swc-node/register libs/kafka/src/create-topics.main.ts) ||
    die "topic creation failed (node -r @swc-node/register libs/kafka/src/create-topics.main.ts)"
}

kafka_stop() { stop_component kafka TERM 60; }
