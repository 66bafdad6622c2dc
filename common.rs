//! The few pieces both programs share: reading flags and env, durations, and stop signals.
//! Each binary includes this file with `mod common;`.

use std::time::Duration;

/// `println!` that cannot panic: a closed stdout (`consumer | head -3`) must not kill us.
/// Each line is flushed at once, since Rust's stdout is line-buffered even inside Docker.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use say;

/// Exit code for invalid configuration, as in most Unix tools (and `docker run` users expect it).
pub const EXIT_BAD_CONFIG: i32 = 2;

/// Prints `<program>: <message>` on one line to stderr and exits with code 2.
pub fn exit_bad_config(program: &str, message: &str) -> ! {
    eprintln!("{program}: {message} (try --help)");
    std::process::exit(EXIT_BAD_CONFIG)
}

/// Splits `--name=value` into its name and value; a bare `--name` has no value yet.
pub fn split_flag(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (arg, None),
    }
}

/// The value of flag `name`: the part after `=`, or else the next argument.
pub fn flag_value(
    name: &str,
    inline: Option<&str>,
    rest: &mut impl Iterator<Item = String>,
) -> Result<String, String> {
    match inline {
        Some(value) => Ok(value.to_string()),
        None => rest.next().ok_or_else(|| format!("{name} needs a value")),
    }
}

/// Parses `3`, `3s`, `500ms` or `1m`. A bare number means seconds, as in the tutorial's
/// `time.sleep(3)`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        (text, 1_000)
    };
    match number.trim().parse::<u64>() {
        Ok(n) => Ok(Duration::from_millis(n.saturating_mul(unit_ms))),
        Err(_) => Err(format!(
            "'{text}' is not a duration (use 3, 3s, 500ms or 1m)"
        )),
    }
}

/// Blocks SIGTERM and SIGINT in the calling thread. Call it first thing in `main`: every thread
/// started later inherits the mask, so the signals wait for `wait_for_stop_signal` instead of
/// killing the process at a random point. Blocked signals also reach PID 1 in a container, which
/// otherwise drops SIGTERM and makes `docker stop` wait 10 s before it sends SIGKILL.
pub fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a sigset_t that lives on our stack.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits until SIGTERM or SIGINT arrives and returns its name.
pub fn wait_for_stop_signal(set: &libc::sigset_t) -> &'static str {
    let mut signal = 0;
    // SAFETY: `set` is a valid, initialised signal set; sigwait only writes `signal`.
    unsafe { libc::sigwait(set, &mut signal) };
    if signal == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_the_documented_forms() {
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration(" 2s "), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn durations_reject_garbage() {
        for bad in ["", "s", "abc", "-1", "1.5s", "3h", "ms"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn flags_take_values_both_ways() {
        assert_eq!(split_flag("--port=80"), ("--port", Some("80")));
        assert_eq!(split_flag("--port"), ("--port", None));
        let mut rest = vec!["5000".to_string()].into_iter();
        assert_eq!(flag_value("--port", None, &mut rest), Ok("5000".into()));
        assert_eq!(flag_value("--port", Some("80"), &mut rest), Ok("80".into()));
        assert!(flag_value("--port", None, &mut rest).is_err());
    }
}
