//! Reading `.tar.gz` archives: in Rust (flate2 and tar check the gzip CRC
//! and length, and the tar headers), and with the system's `gzip` and `tar`.

use std::io::Read;
use std::process::Command;

use super::files::TempDir;
use super::tools;

/// One entry of an archive: its name, its size, and its first 200 bytes.
pub type Entry = (String, u64, Vec<u8>);

/// The entries of a `.tar.gz`, failing the test if it is not one.
pub fn untar(body: &[u8]) -> Vec<Entry> {
    let gz = flate2::read::GzDecoder::new(body);
    let mut archive = tar::Archive::new(gz);
    archive
        .entries()
        .expect("a tar stream")
        .map(|e| {
            let mut e = e.expect("a tar entry");
            let name = e.path().expect("an entry path").display().to_string();
            let size = e.header().size().expect("an entry size");
            let mut head = vec![0; 200.min(size as usize)];
            e.read_exact(&mut head).expect("the entry's first bytes");
            (name, size, head)
        })
        .collect()
}

/// The whole decompressed content of a gzip stream, failing the test if it
/// is not a valid one (a wrong CRC or length included).
pub fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut all = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut all)
        .expect("a valid gzip stream");
    all
}

/// Checks `body` with the system's `gzip -t`, then lists it with `tar -tzf`:
/// the names of its entries, one a line. Fails the test if either tool is
/// missing or refuses the archive.
pub fn system_tar_list(body: &[u8]) -> String {
    tools::require("gzip");
    tools::require("tar");
    let dir = TempDir::new("system-tar");
    let path = dir.write("archive.tar.gz", body);
    let out = tools::run(Command::new("gzip").arg("-t").arg(&path));
    assert!(
        out.status.success(),
        "gzip -t: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tools::run(Command::new("tar").arg("-tzf").arg(&path));
    assert!(
        out.status.success(),
        "tar -tzf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
