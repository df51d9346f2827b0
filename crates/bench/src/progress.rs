//! Progress bars on stderr for long work (hidden when stderr is not a terminal or with --json).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar whose length and message follow `update(step, done, total)`.
pub struct Progress {
    bar: ProgressBar,
    enabled: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        let bar = if enabled {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} {elapsed_precise}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Self { bar, enabled }
    }

    pub fn update(&self, step: &str, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        if self.bar.message() != step {
            self.bar.set_message(step.to_string());
        }
    }

    /// Prints a line on stderr above the bar (or plainly when the bar is hidden).
    pub fn println(&self, line: &str) {
        if self.enabled {
            self.bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
