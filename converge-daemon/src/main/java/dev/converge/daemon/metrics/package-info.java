/**
 * {@code --metrics}: Prometheus' text format ({@link dev.converge.daemon.metrics.PrometheusText},
 * pure) served over HTTP ({@link dev.converge.daemon.metrics.MetricsServer}) from the daemon's own
 * QMP queries. Names and units: docs/metrics.md.
 */
package dev.converge.daemon.metrics;
