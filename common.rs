//! The few pieces all three programs share: their settings (flags, variables, `--help`), stop
//! signals, and text fit for one log line. This file is the library `fogdeft` (Cargo.toml's
//! `[lib]`), compiled once and used by each program as `fogdeft::...`.
//! The consumer and the autoscaler also make HTTP calls, all through `fogdeft::http`; the
//! producer and the autoscaler check their own health for Docker with `fogdeft::health`, and
//! write their metrics with `fogdeft::exposition`; every call to the operating system beyond std
//! is in `fogdeft::sys`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::time::Duration;

// The library's root is this file, at the top level: its parts are in common/.
#[path = "common/exposition.rs"]
pub mod exposition;
#[path = "common/health.rs"]
pub mod health;
#[path = "common/histogram.rs"]
pub mod histogram;
#[path = "common/http.rs"]
pub mod http;
#[path = "common/sys.rs"]
pub mod sys;

/// `println!` that cannot panic: a closed stdout (`consumer | head -3`) must not kill us.
/// Each line is flushed at once, since Rust's stdout is line-buffered even inside Docker.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Exit code for invalid configuration, as in most Unix tools (and `docker run` users expect it).
pub const EXIT_BAD_CONFIG: i32 = 2;

/// Prints `<program>: <message>` on one line to stderr and exits with code 2.
pub fn exit_bad_config(program: &str, message: &str) -> ! {
    eprintln!("{program}: {message} (try --help)");
    std::process::exit(EXIT_BAD_CONFIG)
}

// ---------------------------------------------------------------------------------------------
// Settings. Each program lists its settings once, one line each, in its `Config`:
//
//     impl Settings for Config {
//         fn declare(&mut self, s: &mut impl Declare) {
//             s.setting(&mut self.port, "--port", "PORT", "TCP port (0 = any free one)");
//         }
//     }
//
// The same list reads the command line and the environment (`read_command`) and prints the
// table of `--help` (`settings_table`). Defaults are `Config::default()`, in one place.

/// A program's settings: their defaults (`Default`), their declarations, and the checks that
/// involve several of them.
pub trait Settings: Default {
    fn declare(&mut self, s: &mut impl Declare);

    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A program's settings from its command line and environment. `--help` and `--version` print
/// and exit 0; bad settings print one line and exit 2. Returns the subcommand given, if any.
pub fn settings_or_exit<C: Settings>(
    program: &str,
    usage: fn() -> String,
    subcommands: &[&'static str],
) -> (C, Option<&'static str>) {
    // The raw bytes (args_os, var_os): a value that is not UTF-8 is refused below, never a panic
    // and never taken for "unset".
    let args = std::env::args_os().skip(1).collect();
    match read_command(args, &|name| std::env::var_os(name), subcommands) {
        Ok(Command::Run(config, subcommand)) => (config, subcommand),
        Ok(Command::Help) => {
            say!("{}", usage());
            std::process::exit(0)
        }
        Ok(Command::Version) => {
            say!("{program} {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        Err(message) => exit_bad_config(program, &message),
    }
}

/// What a command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command<C> {
    Help,
    Version,
    /// Run with these settings, and the subcommand given, if any.
    Run(C, Option<&'static str>),
}

/// Reads the command line (without the program's name) and the environment: `-h`/`--help` and
/// `-V`/`--version` win over everything; then the settings over their defaults, and at most one
/// of `subcommands`.
pub fn read_command<C: Settings>(
    args: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<OsString>,
    subcommands: &[&'static str],
) -> Result<Command<C>, String> {
    let args = args
        .into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|bad| format!("the argument '{}' is not UTF-8 text", escape_os(&bad)))
        })
        .collect::<Result<Vec<String>, String>>()?;
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help);
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        return Ok(Command::Version);
    }
    let mut parse = Parse::new(args, env);
    let subcommand = subcommands.iter().copied().find(|word| parse.word(word));
    let mut config = C::default();
    config.declare(&mut parse);
    parse.finish()?;
    config.check()?;
    Ok(Command::Run(config, subcommand))
}

/// The settings table of `--help`, with the defaults.
pub fn settings_table<C: Settings>() -> String {
    let mut usage = Usage::default();
    C::default().declare(&mut usage);
    usage.switch(&mut false, "-h, --help", "", "print this help");
    usage.switch(&mut false, "-V, --version", "", "print the version");
    usage.table()
}

/// What a program declares about each of its settings.
pub trait Declare {
    /// A setting with a value: `--flag VALUE`, `--flag=VALUE` or the variable `env`.
    fn setting<T: Value>(&mut self, value: &mut T, flag: &str, env: &str, help: &str);

    /// A setting whose value must lie within `range` (`--help` does not show it).
    fn bounded<T: Value + PartialOrd>(
        &mut self,
        value: &mut T,
        _range: RangeInclusive<T>,
        flag: &str,
        env: &str,
        help: &str,
    ) {
        self.setting(value, flag, env, help);
    }

    /// A flag without a value, off unless given (or `env` is 1, true or yes; "" for none).
    fn switch(&mut self, value: &mut bool, flag: &str, env: &str, help: &str);
}

/// A setting's type: how it reads from text, and how `--help` shows it.
pub trait Value: Sized {
    /// How `--help` names the value: N, D, IP, URL, TEXT, X.
    const PLACEHOLDER: &'static str;
    /// Reads the value, or says what was expected.
    fn parse(text: &str) -> Result<Self, String>;
    /// The value as `--help` shows a default.
    fn show(&self) -> String;
    /// Given text as an error message may repeat it (a URL hides its password).
    fn redact(text: &str) -> String {
        text.to_string()
    }
}

/// `http://user:password@host/` as `http://user:***@host/`, so that logs never show a password.
pub fn hide_password(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    match url[start..end].rsplit_once('@') {
        Some((user, _)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!(
                "{}{name}:***@{}",
                &url[..start],
                &url[start + user.len() + 1..]
            )
        }
        _ => url.to_string(),
    }
}

/// Text as one log line may show it: control characters (a newline, an escape sequence) are
/// written as escapes such as `\n`, so that a name or a peer's message cannot forge a line.
pub fn escape(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Bytes that are not UTF-8, as `\xff`.
fn escape_os(text: &std::ffi::OsStr) -> String {
    text.as_encoded_bytes().escape_ascii().to_string()
}

/// Durations a setting may take: from a millisecond to an hour.
pub const DURATIONS: RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_secs(3600);

impl Value for String {
    const PLACEHOLDER: &'static str = "TEXT";
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
    fn show(&self) -> String {
        self.clone()
    }
}

macro_rules! number_value {
    ($($type:ty),*) => {$(
        impl Value for $type {
            const PLACEHOLDER: &'static str = "N";
            fn parse(text: &str) -> Result<Self, String> {
                text.parse().map_err(|_| {
                    format!("expected a whole number from {} to {}", <$type>::MIN, <$type>::MAX)
                })
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
number_value!(u16, u32, i32, usize);

impl Value for std::net::IpAddr {
    const PLACEHOLDER: &'static str = "IP";
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| "expected an IP address such as 0.0.0.0".to_string())
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// `3`, `3s`, `500ms` or `1m`. A bare number means seconds, as in the tutorial's `time.sleep(3)`.
impl Value for Duration {
    const PLACEHOLDER: &'static str = "D";
    fn parse(text: &str) -> Result<Self, String> {
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
            Err(_) => Err("expected a duration such as 3, 3s, 500ms or 1m".to_string()),
        }
    }
    fn show(&self) -> String {
        duration_text(*self)
    }
}

/// A duration as every program writes it, in settings, logs and pages: `500ms`, `45s`, `2m`,
/// `1m40s`, `90m5s`. Minutes, seconds and milliseconds, each left out when zero (`0s` for none),
/// exactly: round first to show whole seconds. Minutes are the largest unit, as in the settings
/// (`60m`, not `1h`, which they do not read).
pub fn duration_text(duration: Duration) -> String {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let mut text = String::new();
    for (n, unit) in [(ms / 60_000, "m"), (ms / 1000 % 60, "s"), (ms % 1000, "ms")] {
        if n > 0 {
            let _ = write!(text, "{n}{unit}"); // writing to a String cannot fail
        }
    }
    if text.is_empty() {
        text.push_str("0s");
    }
    text
}

/// A setting that may be off, where its zero means something (`FAULT_UNHEALTHY_AFTER=0s`: from
/// the start): unset, empty or `off` is `None`, which `--help` shows as `off`.
impl<T: Value> Value for Option<T> {
    const PLACEHOLDER: &'static str = T::PLACEHOLDER;
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(None),
            text => T::parse(text).map(Some),
        }
    }
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "off".to_string(), T::show)
    }
    fn redact(text: &str) -> String {
        T::redact(text)
    }
}

/// A number such as the autoscaler's tolerance, `0.1`.
impl Value for f64 {
    const PLACEHOLDER: &'static str = "X";
    fn parse(text: &str) -> Result<Self, String> {
        number(text).ok_or_else(|| "expected a number such as 0.1".to_string())
    }
    fn show(&self) -> String {
        self.to_string() // exact: 0.99 stays 0.99
    }
}

/// A decimal number such as `0.1` or `152.25`. serde_json's reader, which the autoscaler has for
/// the APIs' answers, rather than std's `parse::<f64>()`: one float parser in the binary, not two,
/// keeps it under 1 MiB.
pub fn number(text: &str) -> Option<f64> {
    serde_json::from_str(text.trim()).ok()
}

/// Reads the declared settings from the command line, then the environment: a flag wins over
/// its variable, and an empty variable counts as unset (so that a Compose or stack file can pass
/// `${NAME:-}` through). Collects the first error; `finish` reports it, or an undeclared
/// argument.
struct Parse<'a> {
    /// The arguments still unclaimed by a declaration.
    args: Vec<Option<String>>,
    env: &'a dyn Fn(&str) -> Option<OsString>,
    error: Option<String>,
}

impl<'a> Parse<'a> {
    fn new(args: Vec<String>, env: &'a dyn Fn(&str) -> Option<OsString>) -> Parse<'a> {
        Parse {
            args: args.into_iter().map(Some).collect(),
            env,
            error: None,
        }
    }

    /// Takes `word` (a subcommand such as `healthcheck`) if it was given.
    fn word(&mut self, word: &str) -> bool {
        self.take_where(|arg| arg == word)
    }

    /// The first error, or the first argument that no declaration claimed.
    fn finish(self) -> Result<(), String> {
        if let Some(error) = self.error {
            return Err(error);
        }
        match self.args.into_iter().flatten().next() {
            Some(arg) if arg.starts_with("--") => {
                let name = arg.split('=').next().unwrap_or(&arg);
                Err(format!("unknown flag '{name}'"))
            }
            Some(arg) => Err(format!("unexpected argument '{arg}'")),
            None => Ok(()),
        }
    }

    fn take_where(&mut self, test: impl Fn(&str) -> bool) -> bool {
        let found = self
            .args
            .iter_mut()
            .find(|a| a.as_deref().is_some_and(&test));
        found.map(Option::take).is_some()
    }

    /// The text of `--flag VALUE` or `--flag=VALUE` (the last one given), else of `env`.
    fn text(&mut self, flag: &str, env: &str) -> Option<String> {
        let mut found = None;
        let mut i = 0;
        while i < self.args.len() {
            let Some(arg) = self.args[i].as_deref() else {
                i += 1;
                continue;
            };
            if let Some(value) = arg.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
                found = Some(value.to_string());
                self.args[i] = None;
            } else if arg == flag {
                self.args[i] = None;
                match self.args.get_mut(i + 1).and_then(Option::take) {
                    Some(value) => found = Some(value),
                    None => self.fail(format!("{flag} needs a value")),
                }
            }
            i += 1;
        }
        found.or_else(|| self.variable(env).filter(|value| !value.trim().is_empty()))
    }

    /// The variable's text, if it is set; one that is not UTF-8 is an error, not "unset".
    fn variable(&mut self, name: &str) -> Option<String> {
        if name.is_empty() {
            return None;
        }
        match (self.env)(name)?.into_string() {
            Ok(text) => Some(text),
            Err(bad) => {
                self.fail(format!(
                    "invalid {name}: its value '{}' is not UTF-8 text",
                    escape_os(&bad)
                ));
                None
            }
        }
    }

    fn fail(&mut self, error: String) {
        self.error.get_or_insert(error);
    }
}

impl Declare for Parse<'_> {
    fn setting<T: Value>(&mut self, value: &mut T, flag: &str, env: &str, _help: &str) {
        if let Some(text) = self.text(flag, env) {
            match T::parse(text.trim()) {
                Ok(parsed) => *value = parsed,
                Err(expected) => {
                    let text = escape(&T::redact(&text));
                    self.fail(format!("invalid {flag}/{env} '{text}': {expected}"))
                }
            }
        }
    }

    fn bounded<T: Value + PartialOrd>(
        &mut self,
        value: &mut T,
        range: RangeInclusive<T>,
        flag: &str,
        env: &str,
        help: &str,
    ) {
        self.setting(value, flag, env, help);
        if !range.contains(value) {
            let (low, high) = (range.start().show(), range.end().show());
            self.fail(format!(
                "invalid {flag}/{env} '{}': expected {} from {low} to {high}",
                value.show(),
                T::PLACEHOLDER
            ));
        }
    }

    fn switch(&mut self, value: &mut bool, flag: &str, env: &str, _help: &str) {
        if self.take_where(|arg| arg == flag) {
            *value = true;
            return;
        }
        match self.variable(env).as_deref().map(str::trim) {
            None | Some("" | "0" | "false" | "no") => {}
            Some("1" | "true" | "yes") => *value = true,
            Some(other) => self.fail(format!("invalid {env} '{}': use 1 or 0", escape(other))),
        }
    }
}

/// Writes the settings table of `--help`: flag, variable, what it does, and its default.
#[derive(Default)]
struct Usage {
    rows: Vec<[String; 3]>,
}

impl Usage {
    fn table(&self) -> String {
        let width = |column: usize| self.rows.iter().map(|r| r[column].len()).max().unwrap_or(0);
        let (flags, envs) = (width(0), width(1));
        let lines: Vec<String> = self
            .rows
            .iter()
            .map(|[flag, env, help]| format!("  {flag:flags$}  {env:envs$}  {help}"))
            .collect();
        lines.join("\n")
    }
}

impl Declare for Usage {
    fn setting<T: Value>(&mut self, value: &mut T, flag: &str, env: &str, help: &str) {
        self.rows.push([
            format!("{flag} {}", T::PLACEHOLDER),
            env.to_string(),
            format!("{help} [default: {}]", value.show()),
        ]);
    }

    fn switch(&mut self, _value: &mut bool, flag: &str, env: &str, help: &str) {
        let env = if env.is_empty() {
            String::new()
        } else {
            format!("{env}=1")
        };
        self.rows.push([flag.to_string(), env, help.to_string()]);
    }
}

/// Blocks SIGTERM and SIGINT (call it first thing, before any thread exists) and starts a
/// thread that, when one arrives, says `last_words` with its name and exits 0 at once.
pub fn exit_on_stop_signal(last_words: impl FnOnce(&'static str) + Send + 'static) {
    let stop_signals = sys::StopSignals::block();
    std::thread::spawn(move || {
        let signal = stop_signals.wait();
        last_words(signal);
        std::process::exit(0);
    });
}

// ---------------------------------------------------------------------------------------------
// For the programs' tests of their settings. (Not `#[cfg(test)]`: a program's tests use the
// library as built for programs. No program calls them, so none of them is in a binary.)

/// The environment of a test: these variables, and no other.
pub fn test_env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| OsString::from(v))
    }
}

/// What a command line and these variables ask for, as `main` reads them.
pub fn test_command<C: Settings>(
    args: &[&str],
    vars: &[(&str, &str)],
    subcommands: &[&'static str],
) -> Result<Command<C>, String> {
    let env = test_env(vars);
    read_command(args.iter().map(OsString::from).collect(), &env, subcommands)
}

/// The settings these arguments and variables give, which must be valid.
pub fn test_config<C: Settings + std::fmt::Debug>(args: &[&str], vars: &[(&str, &str)]) -> C {
    match test_command(args, vars, &[]) {
        Ok(Command::Run(config, None)) => config,
        other => panic!("expected settings from {args:?} {vars:?}, got {other:?}"),
    }
}

/// Checks that each case is refused with one line that contains its message. A case is a line
/// `WORDS | MESSAGE`: the words are arguments, or `NAME=value` for a variable, and a word with
/// spaces goes in single quotes.
pub fn assert_refused<C: Settings + std::fmt::Debug>(cases: &str) {
    for case in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (words, needle) = case.split_once(" | ").expect("WORDS | MESSAGE");
        let words = quoted_words(words);
        let is_variable = |w: &String| {
            w.split_once('=')
                .is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        };
        let (vars, args): (Vec<&String>, Vec<&String>) = words.iter().partition(|w| is_variable(w));
        let vars: Vec<(&str, &str)> = vars.iter().filter_map(|v| v.split_once('=')).collect();
        let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        let error = test_command::<C>(&args, &vars, &[]).expect_err(case);
        assert!(error.contains(needle.trim()), "{case}: {error:?}");
        assert!(!error.contains('\n'), "one line: {error:?}");
    }
}

/// `a 'b c' d` as `a`, `b c` and `d`.
fn quoted_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for (i, part) in text.split('\'').enumerate() {
        if i % 2 == 1 {
            words.push(part.to_string());
        } else {
            words.extend(part.split_whitespace().map(str::to_string));
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Config {
        port: u16,
        delay: Duration,
        workers: usize,
        once: bool,
    }

    impl Default for Config {
        fn default() -> Config {
            Config {
                port: 5000,
                delay: Duration::from_secs(3),
                workers: 2,
                once: false,
            }
        }
    }

    impl Settings for Config {
        fn declare(&mut self, s: &mut impl Declare) {
            s.setting(&mut self.port, "--port", "PORT", "TCP port");
            s.setting(&mut self.delay, "--delay", "DELAY", "pause");
            s.bounded(&mut self.workers, 1..=8, "--workers", "WORKERS", "threads");
            s.switch(&mut self.once, "--once", "ONCE", "just once");
        }
    }

    #[test]
    fn durations_accept_the_documented_forms() {
        for (text, ms) in [("3", 3000), ("3s", 3000), ("500ms", 500), ("1m", 60_000)] {
            assert_eq!(Duration::parse(text), Ok(Duration::from_millis(ms)));
        }
        for bad in ["", "s", "abc", "-1", "1.5s", "3h", "ms"] {
            assert!(Duration::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let shown: Vec<String> = [1500, 3000, 120_000, 0, 100_000, 3_600_000, 5_405_000]
            .map(|ms| Duration::from_millis(ms).show())
            .into();
        assert_eq!(
            shown,
            ["1s500ms", "3s", "2m", "0s", "1m40s", "60m", "90m5s"]
        );
    }

    #[test]
    fn a_setting_that_may_be_off_keeps_off_apart_from_zero() {
        let zero = Duration::ZERO;
        assert_eq!(Option::<Duration>::parse("0s"), Ok(Some(zero)));
        assert_eq!(Option::<Duration>::parse("off"), Ok(None));
        assert!(Option::<Duration>::parse("soon").is_err());
        assert_eq!(
            (Some(zero).show(), None::<Duration>.show()),
            ("0s".into(), "off".into())
        );
    }

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(number(" 0.25 "), Some(0.25));
        assert_eq!(number("150"), Some(150.0));
        for bad in ["NaN", "+Inf", "1e999", "fast", ""] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn flags_win_over_the_environment_in_both_forms() {
        assert_eq!(test_config::<Config>(&[], &[]), Config::default());
        let vars = [("PORT", "6000"), ("DELAY", " 2s "), ("WORKERS", "")];
        let c: Config = test_config(&["--workers=3", "--once"], &vars);
        assert_eq!(
            (c.port, c.delay, c.workers, c.once),
            (6000, Duration::from_secs(2), 3, true)
        );
        let c: Config = test_config(&["--port", "7000", "--port=7001"], &vars);
        assert_eq!(c.port, 7001, "the last flag wins");
        assert_eq!(c.workers, 2, "an empty variable counts as unset");
        assert!(test_config::<Config>(&[], &[("ONCE", "yes")]).once);
    }

    #[test]
    fn errors_are_one_line_that_names_the_setting() {
        assert_refused::<Config>(
            "--port abc   | invalid --port/PORT 'abc': expected a whole number
             DELAY=soon   | invalid --delay/DELAY 'soon'
             --workers 9  | expected N from 1 to 8
             --port       | --port needs a value
             --bogus=1    | unknown flag '--bogus'
             extra        | unexpected argument 'extra'
             ONCE=maybe   | invalid ONCE 'maybe': use 1 or 0
             --delay ' '  | --delay/DELAY",
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_never_taken_for_unset() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'8', 0xff]);
        let read = |args: Vec<OsString>, name: &'static str| {
            let value = bad.clone();
            let env = move |n: &str| (n == name).then(|| value.clone());
            read_command::<Config>(args, &env, &[])
        };
        let error = read(vec!["--port".into(), bad.clone()], "").unwrap_err();
        assert_eq!(error, "the argument '8\\xff' is not UTF-8 text");
        for name in ["PORT", "ONCE"] {
            let error = read(vec![], name).unwrap_err();
            let expected = format!("invalid {name}: its value '8\\xff' is not UTF-8 text");
            assert_eq!(error, expected);
        }
        // A flag wins, and a variable that is not ours may hold anything.
        assert!(read(vec!["--port".into(), "1".into()], "PORT").is_ok());
        assert!(read(vec![], "LS_COLORS").is_ok());
    }

    #[test]
    fn errors_show_control_characters_escaped() {
        let error = test_command::<Config>(&[], &[("DELAY", "1\n2")], &[]).unwrap_err();
        assert!(
            error.starts_with("invalid --delay/DELAY '1\\n2': "),
            "{error}"
        );
        assert_eq!(escape("a\nb\u{1b}[31m\tc é"), "a\\nb\\u{1b}[31m\\tc é");
    }

    #[test]
    fn help_version_and_subcommands() {
        let command = |args: &[&str]| test_command::<Config>(args, &[], &["check"]);
        assert_eq!(command(&["--port", "x", "--help"]), Ok(Command::Help));
        assert_eq!(command(&["-V"]), Ok(Command::Version));
        assert_eq!(
            command(&["check", "--port", "1"]),
            Ok(Command::Run(
                Config {
                    port: 1,
                    ..Config::default()
                },
                Some("check")
            ))
        );
    }

    #[test]
    fn the_help_table_shows_every_setting_and_its_default() {
        let table = settings_table::<Config>();
        assert_eq!(table.lines().count(), 6, "4 settings, --help and --version");
        assert!(table.contains("--port N"), "{table}");
        assert!(table.contains("DELAY"), "{table}");
        assert!(table.contains("pause [default: 3s]"), "{table}");
        assert!(table.contains("--once"), "{table}");
    }
}
