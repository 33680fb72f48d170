//! Frame times: the interval between successive frames and the time spent building each one,
//! kept for the last few thousand frames, summarised (mean, median, 95th percentile, worst) for
//! the status bar and for `--frame-stats FILE`.

use std::collections::VecDeque;
use std::time::Instant;

/// A summary of recent frames.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FrameSummary {
    /// Frames summarised.
    pub frames: usize,
    /// Mean interval between frames, ms.
    pub mean_interval_ms: f64,
    /// Median interval, ms.
    pub p50_interval_ms: f64,
    /// 95th percentile interval, ms.
    pub p95_interval_ms: f64,
    /// Worst interval, ms.
    pub max_interval_ms: f64,
    /// 1000 / mean interval.
    pub frames_per_s: f64,
    /// Mean time building a frame's UI (our code), ms.
    pub mean_build_ms: f64,
    /// Worst time building a frame's UI, ms.
    pub max_build_ms: f64,
}

/// Frame-time recorder.
#[derive(Debug)]
pub struct FrameStats {
    last_frame: Option<Instant>,
    intervals_ms: VecDeque<f64>,
    builds_ms: VecDeque<f64>,
    capacity: usize,
}

impl Default for FrameStats {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl FrameStats {
    /// Keeps the last `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        Self {
            last_frame: None,
            intervals_ms: VecDeque::with_capacity(capacity),
            builds_ms: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// Records a frame that started at `start` and took `build_ms` to build.
    pub fn record(&mut self, start: Instant, build_ms: f64) {
        if let Some(last) = self.last_frame {
            push(
                &mut self.intervals_ms,
                (start - last).as_secs_f64() * 1e3,
                self.capacity,
            );
        }
        push(&mut self.builds_ms, build_ms, self.capacity);
        self.last_frame = Some(start);
    }

    /// Forgets the recorded frames (e.g. when a training run starts).
    pub fn reset(&mut self) {
        self.intervals_ms.clear();
        self.builds_ms.clear();
        self.last_frame = None;
    }

    /// The summary, once two frames were recorded.
    pub fn summary(&self) -> Option<FrameSummary> {
        if self.intervals_ms.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = self.intervals_ms.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        let builds = self.builds_ms.len().max(1) as f64;
        Some(FrameSummary {
            frames: sorted.len(),
            mean_interval_ms: mean,
            p50_interval_ms: at(0.5),
            p95_interval_ms: at(0.95),
            max_interval_ms: at(1.0),
            frames_per_s: 1e3 / mean.max(1e-9),
            mean_build_ms: self.builds_ms.iter().sum::<f64>() / builds,
            max_build_ms: self.builds_ms.iter().copied().fold(0.0, f64::max),
        })
    }
}

fn push(queue: &mut VecDeque<f64>, value: f64, capacity: usize) {
    if queue.len() == capacity {
        queue.pop_front();
    }
    queue.push_back(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn summarises_intervals_and_build_times() {
        let mut stats = FrameStats::new(100);
        let t0 = Instant::now();
        assert!(stats.summary().is_none());
        for i in 0..11u64 {
            // 10 ms apart, the last one 50 ms late.
            let extra = if i == 10 { 40 } else { 0 };
            stats.record(t0 + Duration::from_millis(10 * i + extra), 2.0);
        }
        let s = stats.summary().unwrap();
        assert_eq!(s.frames, 10);
        assert!((s.p50_interval_ms - 10.0).abs() < 1e-6);
        assert!((s.max_interval_ms - 50.0).abs() < 1e-6);
        assert!((s.mean_interval_ms - 14.0).abs() < 1e-6);
        assert!((s.mean_build_ms - 2.0).abs() < 1e-9);
        stats.reset();
        assert!(stats.summary().is_none());
    }
}
