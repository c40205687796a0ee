//! What every experiment receives: mode, seed, options, and progress reporting.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// Settings shared by all experiments.
pub struct Ctx {
    /// Quick mode: small problems, under a minute per experiment.
    pub quick: bool,
    /// Base seed; experiments derive their own streams from it.
    pub seed: u64,
    /// Experiment options from `--set key=value` (validated against the experiment's
    /// declared [`crate::experiments::Experiment::options`] before it runs).
    pub options: BTreeMap<String, String>,
}

impl Ctx {
    /// The value of option `key` parsed as `T`, or `default` when it was not set.
    pub fn opt<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.options.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("option `{key}`: cannot parse `{v}`")),
        }
    }

    /// Picks the quick or the full value.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick { quick } else { full }
    }

    /// A progress bar over `len` units of work, drawn on stderr; when stderr is not a
    /// terminal (CI logs, `nohup`), a plain line at most every [`LOG_INTERVAL`] instead.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        let bar = ProgressBar::new(len);
        if !std::io::stderr().is_terminal() {
            let lines = LogLines::new(Box::new(std::io::stderr()), LOG_INTERVAL);
            bar.set_draw_target(ProgressDrawTarget::term_like_with_hz(Box::new(lines), 1));
        }
        bar.set_style(
            ProgressStyle::with_template(
                "   {msg:<28} [{bar:30}] {pos}/{len} ({elapsed} / eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar
    }
}

/// How often a long run logs its progress when stderr is not a terminal.
pub const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// A progress "terminal" that writes each drawn bar as a plain line, at most one line per
/// `interval` (indicatif hides bars on non-terminals, which left long runs silent in logs).
struct LogLines {
    out: Mutex<(Box<dyn Write + Send>, Option<Instant>)>,
    interval: Duration,
}

impl LogLines {
    fn new(out: Box<dyn Write + Send>, interval: Duration) -> Self {
        LogLines { out: Mutex::new((out, None)), interval }
    }

    fn emit(&self, s: &str) -> std::io::Result<()> {
        let line = s.trim();
        if line.is_empty() {
            return Ok(());
        }
        // A poisoned lock only means another thread panicked while logging: keep going.
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let (out, last) = &mut *guard;
        if last.is_some_and(|t| t.elapsed() < self.interval) {
            return Ok(());
        }
        *last = Some(Instant::now());
        out.write_all(format!("{line}\n").as_bytes())
    }
}

impl std::fmt::Debug for LogLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogLines").field("interval", &self.interval).finish()
    }
}

impl TermLike for LogLines {
    fn width(&self) -> u16 {
        120
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.emit(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.emit(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_are_throttled_and_plain() {
        let buf = Shared::default();
        let slow = LogLines::new(Box::new(buf.clone()), Duration::from_secs(3600));
        slow.write_line("  step [==>   ] 1/10").unwrap();
        slow.write_line("step [===>  ] 2/10").unwrap();
        slow.write_str("   ").unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "step [==>   ] 1/10\n", "one line per interval, trimmed");
        let buf = Shared::default();
        let fast = LogLines::new(Box::new(buf.clone()), Duration::ZERO);
        fast.write_line("a").unwrap();
        fast.write_line("b").unwrap();
        assert_eq!(String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(), "a\nb\n");
    }
}
