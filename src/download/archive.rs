//! TEMPORARY STUB (being replaced by the real generator).
#![allow(missing_docs, dead_code)]
use bytes::Bytes;
pub struct ArchiveSpec {
    pub size: u64,
    pub entry_name: String,
    pub header_text: String,
    pub mtime: u64,
    pub seed: u64,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveError {
    TooSmall { size: u64, min: u64 },
}
impl std::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "too small")
    }
}
impl std::error::Error for ArchiveError {}
pub fn min_size(_e: &str, _h: &str) -> u64 {
    2071
}
#[derive(Clone)]
pub struct Archive {
    size: u64,
}
impl Archive {
    pub fn new(spec: &ArchiveSpec) -> Result<Archive, ArchiveError> {
        Ok(Archive { size: spec.size })
    }
    pub fn len(&self) -> u64 {
        self.size
    }
    pub fn chunks(&self, range: std::ops::Range<u64>) -> Chunks {
        Chunks {
            left: range.end - range.start,
        }
    }
}
pub struct Chunks {
    left: u64,
}
impl Iterator for Chunks {
    type Item = Bytes;
    fn next(&mut self) -> Option<Bytes> {
        if self.left == 0 {
            None
        } else {
            let n = self.left.min(65536);
            self.left -= n;
            Some(Bytes::from(vec![0u8; n as usize]))
        }
    }
}
