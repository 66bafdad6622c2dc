//! Fuzzes the chunked body decoder: the properties are in `fogdeft_engine::fuzzing::check_chunked`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fogdeft_engine::fuzzing::check_chunked(data));
