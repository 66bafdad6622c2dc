//! The fuzz targets' saved corpus (`fuzz/corpus/<target>/` at the top of the repository),
//! replayed through the same checks the targets run (`fogdeft_engine::fuzzing`), on stable Rust and
//! on every target the tests run on (a 32-bit one included). Each file is an input that once
//! found a bug, or one of the seeds: issue 28's requests and a few ordinary ones.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e} (the saved corpus is missing)", folder.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        // The check panics on a broken property; say which input broke it.
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails its check", path.display());
        count += 1;
    }
    assert!(count > 0, "{}: the saved corpus is empty", folder.display());
}

#[test]
fn the_head_corpus_holds() {
    replay("head", fogdeft_engine::fuzzing::check_head);
}

#[test]
fn the_chunked_corpus_holds() {
    replay("chunked", fogdeft_engine::fuzzing::check_chunked);
}

#[test]
fn the_connection_corpus_holds() {
    replay("connection", fogdeft_engine::fuzzing::check_connection);
}
