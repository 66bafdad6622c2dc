//! Fuzzes the head scanner and parser: the properties are in `tiny_http::fuzzing::check_head`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tiny_http::fuzzing::check_head(data));
