//! Fuzzes the chunked body decoder: the properties are in `tiny_http::fuzzing::check_chunked`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tiny_http::fuzzing::check_chunked(data));
