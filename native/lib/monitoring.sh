# shellcheck shell=bash
# Prometheus (PROMETHEUS_PORT) and Alertmanager (ALERTMANAGER_PORT), configs under monitoring/.

PROMETHEUS_CONFIG="$ROOT_DIR/monitoring/prometheus/prometheus.native.yml"
ALERTMANAGER_CONFIG="$ROOT_DIR/monitoring/alertmanager/alertmanager.yml"
PROMETHEUS_LOG="$LOG_DIR/prometheus.log"
ALERTMANAGER_LOG="$LOG_DIR/alertmanager.log"

alertmanager_ready() { http_ok "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready"; }
prometheus_ready() { http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }

alertmanager_start() {
  [[ -f "$ALERTMANAGER_CONFIG" ]] || die "missing $ALERTMANAGER_CONFIG"
  amtool check-config "$ALERTMANAGER_CONFIG" >>"$ALERTMANAGER_LOG" 2>&1 ||
    die "amtool check-config $ALERTMANAGER_CONFIG failed; see $ALERTMANAGER_LOG"
  mkdir -p "$RUN_DIR/alertmanager"
  if is_running alertmanager; then
    # Picks up config edits; a no-op otherwise.
    curl -fsS --max-time 5 -X POST -o /dev/null "http://127.0.0.1:$ALERTMANAGER_PORT/-/reload" || true
  else
    check_port_free alertmanager "$ALERTMANAGER_PORT"
    log "starting alertmanager on 127.0.0.1:$ALERTMANAGER_PORT"
    start_bg alertmanager "$ALERTMANAGER_LOG" /usr/bin/prometheus-alertmanager \
      --config.file="$ALERTMANAGER_CONFIG" --storage.path="$RUN_DIR/alertmanager" \
      --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
      --web.external-url="http://127.0.0.1:$ALERTMANAGER_PORT/" --cluster.listen-address=
  fi
  wait_for alertmanager 30 "$ALERTMANAGER_LOG" alertmanager_ready
}

prometheus_start() {
  # With NATIVE_PORT_OFFSET the scrape targets move too: a copy with every 127.0.0.1 port shifted,
  # next to the original so that its relative rule paths still resolve.
  if ((NATIVE_PORT_OFFSET)); then
    local shifted="$ROOT_DIR/monitoring/prometheus/.prometheus.native.offset-$NATIVE_PORT_OFFSET.yml"
    perl -pe 's/127\.0\.0\.1:(\d+)/"127.0.0.1:".($1+'"$NATIVE_PORT_OFFSET"')/ge' \
      "$ROOT_DIR/monitoring/prometheus/prometheus.native.yml" >"$shifted"
    PROMETHEUS_CONFIG="$shifted"
  fi
  [[ -f "$PROMETHEUS_CONFIG" ]] || die "missing $PROMETHEUS_CONFIG"
  promtool check config "$PROMETHEUS_CONFIG" >>"$PROMETHEUS_LOG" 2>&1 ||
    die "promtool check config $PROMETHEUS_CONFIG failed; see $PROMETHEUS_LOG"
  mkdir -p "$RUN_DIR/prometheus"
  if is_running prometheus; then
    curl -fsS --max-time 5 -X POST -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/reload" || true
  else
    check_port_free prometheus "$PROMETHEUS_PORT"
    log "starting prometheus on 127.0.0.1:$PROMETHEUS_PORT"
    start_bg prometheus "$PROMETHEUS_LOG" /usr/bin/prometheus \
      --config.file="$PROMETHEUS_CONFIG" --storage.tsdb.path="$RUN_DIR/prometheus" \
      --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
      --web.external-url="http://127.0.0.1:$PROMETHEUS_PORT/" --web.enable-lifecycle
  fi
  wait_for prometheus 60 "$PROMETHEUS_LOG" prometheus_ready
}

prometheus_stop() { stop_component prometheus TERM 30; }
alertmanager_stop() { stop_component alertmanager TERM 20; }

# Host metrics (disk, CPU, memory) for the disk-filling alerts.
NODE_EXPORTER_LOG="$LOG_DIR/node-exporter.log"
node_exporter_ready() { http_ok "http://127.0.0.1:$NODE_EXPORTER_PORT/metrics"; }
node_exporter_start() {
  if ! is_running node-exporter; then
    check_port_free node-exporter "$NODE_EXPORTER_PORT"
    log "starting node-exporter on 127.0.0.1:$NODE_EXPORTER_PORT"
    start_bg node-exporter "$NODE_EXPORTER_LOG" /usr/bin/prometheus-node-exporter \
      --web.listen-address="127.0.0.1:$NODE_EXPORTER_PORT" --collector.disable-defaults \
      --collector.filesystem --collector.cpu --collector.meminfo --collector.loadavg --collector.diskstats
  fi
  wait_for node-exporter 30 "$NODE_EXPORTER_LOG" node_exporter_ready
}
node_exporter_stop() { stop_component node-exporter TERM 10; }
