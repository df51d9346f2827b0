//! Standard output that ends the process quietly when the reader goes away
//! (`loadpart inspect resnet50 | head`), where `outln!` would panic.

use std::fmt;
use std::io::{ErrorKind, Write};

/// `outln!` for command output; see the module doc.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// Writes one line to stdout. A closed pipe exits with status 0 (the reader has what it wanted);
/// any other write error exits with status 1.
pub fn line(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}") {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}
