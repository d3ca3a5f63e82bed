#!/bin/bash
# The *_OPTS variables are lists of JVM flags: split on purpose.
# shellcheck disable=SC2086
# Runs a Kafka class with the broker's classpath: kafka-run-class.sh <main class> [args].
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_JVM_PERFORMANCE_OPTS:-} ${KAFKA_OPTS:-} \
  -Djava.awt.headless=true -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp '/opt/kafka/libs/*' "$@"
