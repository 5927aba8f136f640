//! Prometheus metrics, in a registry owned by the application state.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The gateway's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    csp_reports: IntCounterVec,
    bill_batch: Histogram,
}

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// A fresh registry with the gateway's metrics registered.
    ///
    /// # Panics
    /// Never in practice: registration fails only for duplicate or malformed
    /// metric names, which are constants here and covered by tests.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status.",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response head, by route and status.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let csp_reports = IntCounterVec::new(
            Opts::new(
                "csp_violation_reports_total",
                "Content-Security-Policy violation reports received from browsers.",
            ),
            &["directive"],
        )
        .expect("valid metric");
        let bill_batch = Histogram::with_opts(
            HistogramOpts::new(
                "bill_batch_size",
                "New bills written per commit (group commit of POST /v1/bills).",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )
        .expect("valid metric");
        let build_info = IntGauge::with_opts(
            Opts::new(
                "gateway_build_info",
                "Always 1; the labels say which build runs.",
            )
            .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("valid metric");
        build_info.set(1);
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(csp_reports.clone()),
            Box::new(bill_batch.clone()),
            Box::new(build_info),
        ] {
            registry.register(collector).expect("unique metric");
        }
        Self {
            registry,
            http_requests,
            http_duration,
            csp_reports,
            bill_batch,
        }
    }

    /// Records one answered request.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one CSP violation report.
    pub fn observe_csp_report(&self, directive: &str) {
        self.csp_reports.with_label_values(&[directive]).inc();
    }

    /// The histogram of bills written per commit.
    pub fn bill_batch(&self) -> Histogram {
        self.bill_batch.clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let metrics = Metrics::new();
        metrics.observe_http("GET", "/healthz", 200, Duration::from_millis(3));
        metrics.observe_http("GET", "/healthz", 200, Duration::from_millis(30));
        let text = metrics.render().expect("renders");
        assert!(
            text.contains(
                "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
            )
        );
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains("gateway_build_info{version="));
    }
}
