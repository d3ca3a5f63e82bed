// cAdvisor for machines that reach no image registry: the container metrics of the monitoring
// overlay (swarm/monitoring.yml), built by swarm/lib/images.sh from cAdvisor's published Go modules
// (the upstream command, github.com/google/cadvisor/cmd, is not a published module). Glue only:
// the collection is cAdvisor's own manager, docker provider and Prometheus collector, with the
// upstream binary's flag names and port. Exported: CPU, memory, network and disk I/O per container,
// labelled with the Swarm service, task, node and stack of each container.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	_ "github.com/google/cadvisor/container/docker/install" // registers the docker provider
	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/manager"
	"github.com/google/cadvisor/lib/metrics"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/utils/sysfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

var (
	listenIP        = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	port            = flag.Int("port", 8080, "port to listen on (/metrics, /healthz)")
	storageDuration = flag.Duration("storage_duration", 2*time.Minute, "how long to keep data in memory")
	rawPrefixes     = flag.String("raw_cgroup_prefix_whitelist", "",
		"comma-separated cgroup path prefixes collected even with -docker_only")
	labels = flag.String("whitelisted_container_labels",
		"com.docker.swarm.service.name,com.docker.swarm.task.name,com.docker.swarm.node.id,com.docker.stack.namespace",
		"comma-separated container labels exported as container_label_* (dots become underscores)")
	// CPU, memory, network and disk I/O: what the operations doc watches per container.
	enabled = container.MetricSet{
		container.CpuUsageMetrics:     struct{}{},
		container.MemoryUsageMetrics:  struct{}{},
		container.NetworkUsageMetrics: struct{}{},
		container.DiskIOMetrics:       struct{}{},
	}
)

func main() {
	klog.InitFlags(nil)
	defer klog.Flush()
	flag.Var(&enabled, "enable_metrics", "comma-separated metric sets: "+container.AllMetrics.String())
	flag.Parse()

	m, err := manager.New(memory.New(*storageDuration, nil), sysfs.NewRealSysFs(), manager.HousekeepingConfigFlags,
		enabled, strings.Split(*rawPrefixes, ","), nil, "", 0)
	if err != nil {
		klog.Fatalf("cannot create the container manager: %v", err)
	}
	if err := m.Start(); err != nil {
		klog.Fatalf("cannot start the container manager: %v", err)
	}

	opts := info.RequestOptions{IdType: info.TypeName, Count: 1, Recursive: true}
	registry := prometheus.NewRegistry()
	registry.MustRegister(
		metrics.NewPrometheusCollector(m, metrics.BaseContainerLabels(strings.Split(*labels, ",")), enabled, clock.RealClock{}, opts),
		metrics.NewPrometheusMachineCollector(m, enabled),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorLog: klogErrors{}}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.Exists("/") {
			http.Error(w, "root container not tracked yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-stop
		if err := m.Stop(); err != nil {
			klog.Errorf("stopping the container manager: %v", err)
		}
		klog.Infof("exiting on %v", sig)
		klog.Flush()
		os.Exit(0)
	}()

	addr := fmt.Sprintf("%s:%d", *listenIP, *port)
	klog.Infof("cAdvisor (swarm/images/cadvisor) listening on %s", addr)
	klog.Fatal(http.ListenAndServe(addr, mux))
}

type klogErrors struct{}

func (klogErrors) Println(v ...interface{}) { klog.Error(v...) }
