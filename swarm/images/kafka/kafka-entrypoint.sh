#!/bin/bash
# The *_OPTS variables are lists of JVM flags: split on purpose.
# shellcheck disable=SC2086
# apache/kafka's environment interface: every KAFKA_* variable but the JVM ones becomes a
# server.properties key; CLUSTER_ID formats the log directory on first start; then the broker
# runs in the foreground as PID 1 (SIGTERM is a controlled shutdown).
set -euo pipefail
props=/opt/kafka/config/server.properties
: >"$props"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_OPTS | KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_VERSION | KAFKA_JMX_EXPORTER_PORT) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key="${name#KAFKA_}"
  key="${key,,}"
  key="${key//___/-}"
  key="${key//__/@}"
  key="${key//_/.}"
  key="${key//@/_}"
  printf '%s=%s\n' "$key" "$value" >>"$props"
done < <(env)
: "${CLUSTER_ID:?CLUSTER_ID is required}"
KAFKA_HEAP_OPTS=-Xmx256m /opt/kafka/bin/kafka-run-class.sh kafka.tools.StorageTool format \
  --ignore-formatted -t "$CLUSTER_ID" -c "$props"
# The Prometheus JMX exporter agent serves the broker's metrics on this port (empty: off).
agent=()
if [[ -n "${KAFKA_JMX_EXPORTER_PORT:-}" ]]; then
  agent=("-javaagent:/opt/jmx-exporter/jmx_prometheus_javaagent.jar=$KAFKA_JMX_EXPORTER_PORT:/opt/kafka/config/jmx-exporter.yml")
fi
exec java "${agent[@]}" ${KAFKA_HEAP_OPTS:--Xms1g -Xmx1g} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError} \
  ${KAFKA_OPTS:-} -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$props"
