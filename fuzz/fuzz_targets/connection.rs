//! Fuzzes a whole connection, driven as a worker drives it: the properties are in `tiny_http::fuzzing::check_connection`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tiny_http::fuzzing::check_connection(data));
