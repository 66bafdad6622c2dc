//! Fuzzes a whole connection, driven as a worker drives it: the properties are in `fogdeft_engine::fuzzing::check_connection`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fogdeft_engine::fuzzing::check_connection(data));
