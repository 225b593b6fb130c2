//! The fixtures parser: any text is a fixture set or an error with a place,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scalingo_db_fake::fixtures::parse_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = parse_str(text, std::path::Path::new("fuzz.json")) {
        // The error points into the text (line 0: the file as a whole).
        assert!(e.line <= text.lines().count() + 1, "{e}");
    }
});
