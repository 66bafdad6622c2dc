//! Settings of all three programs: an argument or a variable that is not UTF-8 gets one line on
//! stderr and exit code 2, never a panic, and never counts as unset.

mod support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

use support::*;

const AUTOSCALER: &str = env!("CARGO_BIN_EXE_autoscaler");

fn not_utf8() -> OsString {
    OsString::from_vec(b"8\xff".to_vec())
}

#[test]
fn bytes_that_are_not_utf8_are_refused_in_arguments_and_variables() {
    for (binary, flag, variable) in [
        (PRODUCER, "--port", "PORT"),
        (CONSUMER, "--url", "PRODUCER_URL"),
        (AUTOSCALER, "--interval", "AUTOSCALE_INTERVAL"),
        // A switch: a value that is not UTF-8 must not read as "off" (live mode).
        (AUTOSCALER, "--dry-run", "AUTOSCALE_DRY_RUN"),
    ] {
        let mut command = Command::new(binary);
        command.arg(flag).arg(not_utf8());
        let stderr = assert_refuses(&mut command, &format!("{binary} {flag} 8\\xff"));
        assert!(
            stderr.contains("the argument '8\\xff' is not UTF-8 text"),
            "{stderr}"
        );

        let mut command = Command::new(binary);
        command.env(variable, not_utf8());
        let stderr = assert_refuses(&mut command, &format!("{binary} with {variable}=8\\xff"));
        let expected = format!("invalid {variable}: its value '8\\xff' is not UTF-8 text");
        assert!(stderr.contains(&expected), "{stderr}");
    }
}
