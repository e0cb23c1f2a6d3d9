package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// replicaMetrics describe the read-replica router (store/postgres
// replicas.go); *Metrics is its ReplicaObserver.
type replicaMetrics struct {
	lag    *prometheus.GaugeVec
	usable *prometheus.GaugeVec
	reads  *prometheus.CounterVec
}

func newReplicaMetrics(r *prometheus.Registry) replicaMetrics {
	rm := replicaMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "graphdir_replica_lag_seconds",
			Help: "Replication lag of each read replica at its last check (+Inf when down or unknown).",
		}, []string{"replica"}),
		usable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "graphdir_replica_usable",
			Help: "1 when the read replica takes eventual reads, 0 when it is skipped (down, lagging, not a standby).",
		}, []string{"replica"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphdir_db_reads_total",
			Help: "User list and $count reads by the database that answered them (replica only for ConsistencyLevel: eventual).",
		}, []string{"target"}),
	}
	r.MustRegister(rm.lag, rm.usable, rm.reads)
	return rm
}

// ReplicaLag records one lag measurement of the replica named name.
func (m *Metrics) ReplicaLag(name string, seconds float64, usable bool) {
	if m == nil {
		return
	}
	m.replicas.lag.WithLabelValues(name).Set(seconds)
	u := 0.0
	if usable {
		u = 1
	}
	m.replicas.usable.WithLabelValues(name).Set(u)
}

// ReadServed counts one routable read by target ("primary" or "replica").
func (m *Metrics) ReadServed(target string) {
	if m != nil {
		m.replicas.reads.WithLabelValues(target).Inc()
	}
}
