//! Fuzzes the head scanner and parser: the properties are in `fogdeft_engine::fuzzing::check_head`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fogdeft_engine::fuzzing::check_head(data));
