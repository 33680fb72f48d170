//! Work off the UI thread: each job is a named thread whose result the window polls every frame
//! (a panic becomes an error message, never a dead window). A [`StreamingJob`] also streams
//! progress while it runs, one way for every job: a bounded channel, updates throttled at the
//! sender and dropped rather than queued when the window is behind, a repaint on each delivery,
//! and the stop flag the library's loops check (the command line's Ctrl-C sets the same kind).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eframe::egui;

/// A background computation returning `T`.
#[derive(Debug)]
pub struct Job<T> {
    /// What it does, for messages ("loading scan.npz").
    pub label: String,
    handle: Option<JoinHandle<anyhow::Result<T>>>,
    /// Set when the thread could not be started.
    failed: Option<String>,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a new thread named `ptychostudio-<label>`; asks for a repaint when done.
    pub fn spawn(
        label: impl Into<String>,
        ctx: &egui::Context,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Self {
        let label = label.into();
        let ctx = ctx.clone();
        let thread_name: String = format!("ptychostudio-{label}")
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(40)
            .collect();
        let handle = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let result = work();
                ctx.request_repaint();
                result
            });
        match handle {
            Ok(handle) => Self {
                label,
                handle: Some(handle),
                failed: None,
            },
            // No thread: the failure comes back through the normal path on the next poll.
            Err(e) => Self {
                failed: Some(format!("{label}: cannot start a thread: {e}")),
                label,
                handle: None,
            },
        }
    }
}

impl<T> Job<T> {
    /// The result once the thread has finished (`None` while it runs); a panic becomes `Err`.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        if let Some(message) = self.failed.take() {
            return Some(Err(message));
        }
        if !self.handle.as_ref().is_some_and(JoinHandle::is_finished) {
            return None;
        }
        let handle = self.handle.take()?;
        Some(match handle.join() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(format!("{error:#}")),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "unknown cause".into());
                Err(format!("{} crashed: {what}", self.label))
            }
        })
    }

    /// True until the result has been taken by [`Job::poll`].
    pub fn is_running(&self) -> bool {
        self.handle.is_some() || self.failed.is_some()
    }

    /// True once the thread has ended (its result is ready for [`Job::poll`]).
    pub fn is_finished(&self) -> bool {
        self.failed.is_some() || self.handle.as_ref().is_some_and(JoinHandle::is_finished)
    }
}

/// The threads the network's CPU work (Burn's `flex` back end, which splits work over the
/// current rayon pool) may use in the window. On Linux, every core, each compute thread at a
/// lower priority (nice +10) than the window's: the window is idle most of the time and takes
/// a core back only while it draws, so training on two cores does not run at half speed. On
/// other systems, where a thread's priority is not its own to lower here, all cores but one.
pub fn compute_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cfg!(target_os = "linux") {
        cores
    } else {
        cores.saturating_sub(1).max(1)
    }
}

/// The nice value the window's compute threads run at (Linux).
pub const COMPUTE_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`COMPUTE_NICE`] (Linux; a no-op
/// elsewhere). A failure (a sandbox that forbids it) leaves the thread as it was.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: `gettid` has no preconditions; `setpriority` with PRIO_PROCESS and a thread id
    // changes only that thread's nice value and reports failure through its return value.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS as _, tid as _, COMPUTE_NICE);
    }
}

/// The calling thread's nice value (Linux; `None` elsewhere), for the test that the compute
/// pool runs below the window.
#[cfg(test)]
fn this_threads_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: as above; `getpriority` reads the thread's nice value (−1 is also a valid value,
    // told apart from an error through errno, which the callers here do not need).
    unsafe {
        return Some(libc::getpriority(
            libc::PRIO_PROCESS as _,
            libc::gettid() as _,
        ));
    }
    #[allow(unreachable_code)]
    None
}

/// Runs `work` in the window's compute pool ([`compute_threads`] threads at a lower priority),
/// or on the calling thread's default pool when that pool cannot be built.
pub fn in_compute_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(compute_threads())
            .thread_name(|i| format!("ptychostudio-compute-{i}"))
            .start_handler(|_| lower_this_threads_priority())
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// A job that streams `U` updates while it runs and can be asked to stop.
#[derive(Debug)]
pub struct StreamingJob<T, U> {
    /// The thread.
    pub job: Job<T>,
    /// Its updates (bounded at the sender).
    pub updates: Receiver<U>,
    /// Set to ask it to stop at the next safe point.
    pub stop: Arc<AtomicBool>,
}

impl<T: Send + 'static, U: Send + 'static> StreamingJob<T, U> {
    /// Runs `work` on its own thread with a [`Progress`] that delivers at most `capacity`
    /// pending updates, at most one per `min_interval` (the last one always).
    pub fn spawn(
        label: impl Into<String>,
        ctx: &egui::Context,
        capacity: usize,
        min_interval: Duration,
        work: impl FnOnce(Progress<U>) -> anyhow::Result<T> + Send + 'static,
    ) -> Self {
        let (sender, updates) = sync_channel(capacity.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Progress {
            sender,
            ctx: ctx.clone(),
            stop: Arc::clone(&stop),
            min_interval,
            last_sent: None,
        };
        let job = Job::spawn(label, ctx, move || work(progress));
        Self { job, updates, stop }
    }
}

impl<T, U> StreamingJob<T, U> {
    /// Asks the job to stop.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// True once a stop was asked for.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A streaming job's side of its channel: offers updates, reads the stop flag.
#[derive(Debug)]
pub struct Progress<U> {
    sender: SyncSender<U>,
    ctx: egui::Context,
    stop: Arc<AtomicBool>,
    min_interval: Duration,
    last_sent: Option<Instant>,
}

impl<U: Send + 'static> Progress<U> {
    /// Offers an update, built only when one is due: `min_interval` after the last delivered
    /// one, or at once when `last`. Dropped (`false`) when the window has not taken the ones
    /// before; the window repaints on every delivery.
    pub fn offer(&mut self, last: bool, update: impl FnOnce() -> U) -> bool {
        let due = last
            || self
                .last_sent
                .is_none_or(|t| t.elapsed() >= self.min_interval);
        if !due {
            return false;
        }
        match self.sender.try_send(update()) {
            Ok(()) => {
                self.last_sent = Some(Instant::now());
                self.ctx.request_repaint();
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// True once the window asked the job to stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The stop flag, for library loops that check it themselves (training).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// The channel's sender, for library code that sends on its own terms (training's events:
    /// the per-batch ones droppable, the per-epoch ones never), with [`Progress::repaint`]
    /// after each delivery.
    pub fn sender(&self) -> SyncSender<U> {
        self.sender.clone()
    }

    /// What to call after a delivery made through [`Progress::sender`].
    pub fn repaint(&self) -> impl Fn() + Send + 'static {
        let ctx = self.ctx.clone();
        move || ctx.request_repaint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_errors_and_panics_come_back() {
        let ctx = egui::Context::default();
        let mut ok = Job::spawn("ok", &ctx, || Ok(7));
        let mut err: Job<()> = Job::spawn("err", &ctx, || anyhow::bail!("bad key 'diff3d'"));
        let mut panics: Job<()> = Job::spawn("boom", &ctx, || panic!("index out of bounds"));
        let wait = |job: &mut dyn FnMut() -> Option<String>| loop {
            if let Some(r) = job() {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(ok_value(&mut ok), 7);
        assert!(wait(&mut || err.poll().map(|r| r.unwrap_err())).contains("diff3d"));
        let message = wait(&mut || panics.poll().map(|r| r.unwrap_err()));
        assert!(
            message.contains("boom crashed: index out of bounds"),
            "{message}"
        );
        assert!(!panics.is_running());
    }

    #[test]
    fn a_streaming_job_throttles_drops_rather_than_queues_and_stops() {
        let ctx = egui::Context::default();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let mut job = StreamingJob::spawn(
            "stream",
            &ctx,
            2,
            Duration::from_secs(3600),
            move |mut progress: Progress<usize>| {
                // Throttled: of 100 offers within the interval, only the first is delivered.
                let delivered = (0..100).filter(|&i| progress.offer(false, || i)).count();
                // The last one always goes (the channel has room for one more).
                let last = progress.offer(true, || 100);
                // Full channel: dropped, not queued.
                let dropped = !progress.offer(true, || 101);
                let _ = wait.recv();
                Ok((delivered, last, dropped, progress.stopped()))
            },
        );
        job.request_stop();
        let _ = release.send(());
        let result = loop {
            if let Some(r) = job.job.poll() {
                break r.unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(result, (1, true, true, true));
        assert_eq!(job.updates.try_iter().collect::<Vec<_>>(), [0, 100]);
    }

    /// The compute pool uses every core on Linux, each thread below the caller's priority.
    #[test]
    #[cfg(target_os = "linux")]
    fn the_compute_pool_runs_below_the_window() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(compute_threads(), cores);
        let window = this_threads_nice().unwrap();
        let compute = in_compute_pool(this_threads_nice).unwrap();
        assert!(
            compute > window,
            "compute nice {compute}, window nice {window}"
        );
    }

    fn ok_value(job: &mut Job<i32>) -> i32 {
        loop {
            if let Some(r) = job.poll() {
                return r.unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
