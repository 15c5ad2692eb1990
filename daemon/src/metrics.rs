//! Prometheus metrics: requests by operation and outcome, latency histograms, audit write
//! latency, seal state, keys, the data directory's free space and its reserve.
//! Served as text on `metrics_listen` (off unless configured).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::operation::Operation;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

#[derive(Debug, Default)]
struct Counters {
    /// (operation, gRPC code name) -> count
    requests: BTreeMap<(&'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    /// Appending one audit record (synced or not).
    audit_writes: Histogram,
    /// Connections closed at accept, by the cap that refused them.
    connections_refused: BTreeMap<&'static str, u64>,
    /// Calls ended with RESOURCE_EXHAUSTED before any work, by the cap that refused them.
    calls_refused: BTreeMap<&'static str, u64>,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }

    /// The histogram's lines, with `labels` (`key="value",` or empty) before `le`.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let labels = match labels.trim_end_matches(',') {
            "" => String::new(),
            some => format!("{{{some}}}"),
        };
        let _ = writeln!(out, "{name}_sum{labels} {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count{labels} {}", self.count);
    }
}

/// Request counters and latency histograms, shared by every listener.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counters: Mutex<Counters>,
}

/// Point-in-time values read when a scrape happens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gauges {
    pub sealed: bool,
    pub keys: u64,
    pub locked_bytes: usize,
    pub disk: DiskGauges,
}

/// The data directory's free space against its reserve.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskGauges {
    /// `None` when it cannot be read.
    pub free_bytes: Option<u64>,
    pub reserve_bytes: u64,
    /// Calls refused because the free space was under the reserve.
    pub refusals: u64,
}

impl DiskGauges {
    fn render(&self, out: &mut String) {
        if let Some(free) = self.free_bytes {
            let _ = writeln!(
                out,
                "# HELP arca_disk_free_bytes Free bytes on the data directory's filesystem.\n\
                 # TYPE arca_disk_free_bytes gauge\narca_disk_free_bytes {free}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP arca_disk_reserve_bytes New work is refused under this much free space (0: never).\n\
             # TYPE arca_disk_reserve_bytes gauge\narca_disk_reserve_bytes {}",
            self.reserve_bytes
        );
        let _ = writeln!(
            out,
            "# HELP arca_disk_reserve_refusals_total Calls refused for want of free disk space.\n\
             # TYPE arca_disk_reserve_refusals_total counter\narca_disk_reserve_refusals_total {}",
            self.refusals
        );
    }
}

impl Metrics {
    pub(crate) fn record(&self, operation: Operation, code: &'static str, elapsed: Duration) {
        let Ok(mut counters) = self.counters.lock() else { return };
        let operation = operation.name();
        *counters.requests.entry((operation, code)).or_default() += 1;
        counters.latency.entry(operation).or_default().observe(elapsed);
    }

    /// How long appending one audit record took.
    pub(crate) fn record_audit_write(&self, elapsed: Duration) {
        if let Ok(mut counters) = self.counters.lock() {
            counters.audit_writes.observe(elapsed);
        }
    }

    /// A connection closed at accept because `reason` (a connection cap) was reached.
    pub(crate) fn record_connection_refused(&self, reason: &'static str) {
        if let Ok(mut counters) = self.counters.lock() {
            *counters.connections_refused.entry(reason).or_default() += 1;
        }
    }

    /// A call refused before any work because `reason` (a call cap) was reached.
    pub(crate) fn record_call_refused(&self, reason: &'static str) {
        if let Ok(mut counters) = self.counters.lock() {
            *counters.calls_refused.entry(reason).or_default() += 1;
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub(crate) fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP arca_sealed 1 while the store is sealed.\n# TYPE arca_sealed gauge");
        let _ = writeln!(out, "arca_sealed {}", u8::from(gauges.sealed));
        let _ = writeln!(
            out,
            "# HELP arca_keys Keys in the store.\n# TYPE arca_keys gauge\narca_keys {}",
            gauges.keys
        );
        let _ = writeln!(
            out,
            "# HELP arca_locked_memory_bytes Bytes of mlocked secret memory.\n\
             # TYPE arca_locked_memory_bytes gauge\narca_locked_memory_bytes {}",
            gauges.locked_bytes
        );
        gauges.disk.render(&mut out);
        let Ok(counters) = self.counters.lock() else { return out };
        let _ = writeln!(out, "# HELP arca_requests_total Requests by operation and gRPC code.");
        let _ = writeln!(out, "# TYPE arca_requests_total counter");
        for ((operation, code), count) in &counters.requests {
            let _ = writeln!(out, "arca_requests_total{{operation=\"{operation}\",code=\"{code}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP arca_request_duration_seconds Request latency by operation.");
        let _ = writeln!(out, "# TYPE arca_request_duration_seconds histogram");
        for (operation, histogram) in &counters.latency {
            histogram.render(
                &mut out,
                "arca_request_duration_seconds",
                &format!("operation=\"{operation}\","),
            );
        }
        let _ = writeln!(out, "# HELP arca_audit_write_duration_seconds Time to append one audit record.");
        let _ = writeln!(out, "# TYPE arca_audit_write_duration_seconds histogram");
        counters.audit_writes.render(&mut out, "arca_audit_write_duration_seconds", "");
        render_refusals(&mut out, &counters);
        out
    }
}

fn render_refusals(out: &mut String, counters: &Counters) {
    let families = [
        (
            "arca_connections_refused_total",
            "Connections closed at accept by a connection cap.",
            &counters.connections_refused,
        ),
        (
            "arca_calls_refused_total",
            "Calls refused with RESOURCE_EXHAUSTED by a call cap.",
            &counters.calls_refused,
        ),
    ];
    for (name, help, by_reason) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (reason, count) in by_reason {
            let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {count}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counts_add_up() {
        let metrics = Metrics::default();
        metrics.record(Operation::Encrypt, "Ok", Duration::from_micros(300));
        metrics.record(Operation::Encrypt, "Ok", Duration::from_millis(20));
        metrics.record(Operation::Encrypt, "NotFound", Duration::from_micros(50));
        let text = metrics.render(Gauges {
            sealed: false,
            keys: 3,
            locked_bytes: 65536,
            disk: DiskGauges::default(),
        });
        assert!(text.contains("arca_requests_total{operation=\"Encrypt\",code=\"Ok\"} 2"));
        assert!(text.contains("arca_requests_total{operation=\"Encrypt\",code=\"NotFound\"} 1"));
        assert!(text.contains("arca_request_duration_seconds_bucket{operation=\"Encrypt\",le=\"0.0005\"} 2"));
        assert!(text.contains("arca_request_duration_seconds_bucket{operation=\"Encrypt\",le=\"+Inf\"} 3"));
        assert!(text.contains("arca_sealed 0") && text.contains("arca_keys 3"));
        assert!(text.contains("arca_request_duration_seconds_sum{operation=\"Encrypt\"}"), "{text}");
        metrics.record_audit_write(Duration::from_micros(300));
        let text = metrics.render(Gauges {
            sealed: false,
            keys: 3,
            locked_bytes: 65536,
            disk: DiskGauges::default(),
        });
        assert!(text.contains("arca_audit_write_duration_seconds_bucket{le=\"0.0005\"} 1"), "{text}");
        assert!(text.contains("arca_audit_write_duration_seconds_bucket{le=\"0.00025\"} 0"), "{text}");
        assert!(text.contains("arca_audit_write_duration_seconds_count 1"), "{text}");
        assert!(!text.contains("arca_disk_free_bytes"), "{text}");
    }

    #[test]
    fn the_disk_reserve_is_exposed() {
        let disk = DiskGauges { free_bytes: Some(1000), reserve_bytes: 4096, refusals: 7 };
        let text = Metrics::default().render(Gauges { sealed: false, keys: 0, locked_bytes: 0, disk });
        assert!(text.contains("\narca_disk_free_bytes 1000\n"), "{text}");
        assert!(text.contains("\narca_disk_reserve_bytes 4096\n"), "{text}");
        assert!(text.contains("\narca_disk_reserve_refusals_total 7\n"), "{text}");
    }
}
