//! Fake backup archives: a valid `.tar.gz` of an exact byte size, generated on
//! demand, deterministic, readable at any offset and streamable in constant
//! memory.
//!
//! This module owns the byte layout of the archives the fake serves for
//! backup downloads. It never holds an archive in memory: [`Archive`] stores
//! the head (gzip header and comment, tar header, text), one pre-built
//! 65 540-byte deflate block and the trailer, and computes every other byte
//! from its offset.
//!
//! # Layout
//!
//! ```text
//! gzip header (10) | FCOMMENT padding (0..=516, incl. NUL) |
//!   stored block 0 | stored block 1 | ... | stored block B-1 (BFINAL) |
//!   CRC32 (4, LE) | ISIZE (4, LE)
//! ```
//!
//! The deflate stream is made only of *stored* blocks (`BTYPE=00`): a 1-byte
//! block header, `LEN` and `NLEN` (2 bytes each, little endian), then `LEN`
//! raw bytes. Block `k` carries the uncompressed bytes
//! `[k * 65535, (k + 1) * 65535)`, so compressed offsets map to uncompressed
//! positions with one division.
//!
//! The uncompressed stream is a tar archive holding one regular file: a
//! 512-byte GNU header (sizes over 8 GiB - 1 in base-256), the file content
//! (`header_text`, then filler ending with a newline) and the two 512-byte
//! zero blocks that end a tar archive. The content length is always a
//! multiple of 512, so there is no padding.
//!
//! # The trick
//!
//! The filler byte at *uncompressed* position `p` is `G[p % 65535]`, where
//! `G` is one 65 535-byte pattern of printable text lines derived from the
//! seed. Since stored blocks are cut every 65 535 uncompressed bytes, every
//! block lying wholly inside the filler carries exactly `G`, so its
//! compressed form (`00 FF FF 00 00` followed by `G`) is the same 65 540
//! bytes every time. That block is built once per [`Archive`] as a
//! [`Bytes`], and [`Chunks`] streams the long middle of the archive as
//! slices of it: no copy, no allocation, whatever the size.
//!
//! The gzip trailer needs the CRC32 of the whole uncompressed stream. It is
//! computed in O(log n) without reading the filler: the CRC of `G` repeated
//! `k` times is obtained by doubling with [`crc32fast::Hasher::combine`].
//!
//! # Exact size
//!
//! For a requested size, the content length is the largest multiple of 512
//! (at least the text) whose framing fits; the few bytes left over (at most
//! 516) go into a gzip FCOMMENT field (`k` characters plus a NUL), so every
//! size from [`min_size`] up is reachable exactly.

use std::fmt;
use std::iter::FusedIterator;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use crc32fast::Hasher;

/// Uncompressed bytes carried by one full stored block.
const BLOCK_PAYLOAD: u64 = 65_535;
/// Stored block header: BFINAL/BTYPE byte, LEN, NLEN.
const BLOCK_HEADER: u64 = 5;
/// A full stored block, header included.
const BLOCK_TOTAL: u64 = BLOCK_PAYLOAD + BLOCK_HEADER;
/// Fixed gzip header length (ID1 ID2 CM FLG MTIME XFL OS).
const GZIP_HEADER: u64 = 10;
/// gzip trailer length (CRC32, ISIZE).
const GZIP_TRAILER: u64 = 8;
/// Fixed gzip framing: header and trailer.
const GZIP_FIXED: u64 = GZIP_HEADER + GZIP_TRAILER;
/// tar block size.
const TAR_BLOCK: u64 = 512;
/// The two zero blocks that end a tar archive.
const TAR_END: u64 = 2 * TAR_BLOCK;
/// Uncompressed bytes that are not file content: the header and the end.
const TAR_OVERHEAD: u64 = TAR_BLOCK + TAR_END;
/// Largest buffer [`Chunks`] materialises outside the shared block.
const MAX_CHUNK: u64 = 64 * 1024;
/// gzip FLG bit for a zero-terminated comment.
const FLG_FCOMMENT: u8 = 0x10;
/// Text the FCOMMENT padding is made of (repeated, then cut).
const COMMENT_TEXT: &[u8] = b"scalingo-db-fake padding ";
/// Longest name the tar `name` field holds.
const MAX_NAME: usize = 100;
/// Largest value an 11-digit octal tar field holds (8 GiB - 1 for sizes).
const OCTAL_11_MAX: u64 = 0o777_7777_7777;
/// Source of zero bytes for hashing the tar end.
static ZEROS: [u8; 2048] = [0; 2048];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSpec {
    /// Exact total length of the `.tar.gz`, in bytes.
    pub size: u64,
    /// File name inside the tar, e.g. `20180902010000_kibana-3938.pgsql`
    /// (1 to 100 bytes, no NUL, no trailing `/`).
    pub entry_name: String,
    /// Readable text the entry starts with (a few lines).
    pub header_text: String,
    /// tar mtime (unix seconds); its low 32 bits are the gzip MTIME.
    pub mtime: u64,
    /// Seed of everything variable (the filler): same spec, same bytes.
    pub seed: u64,
}

/// Why an archive cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveError {
    /// The requested size cannot hold a valid `.tar.gz` with this entry.
    TooSmall {
        /// The requested size.
        size: u64,
        /// The smallest size possible for this entry ([`min_size`]).
        min: u64,
    },
    /// The entry name does not fit a plain tar header.
    InvalidEntryName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::TooSmall { size, min } => write!(
                f,
                "an archive of {size} bytes is too small: a valid .tar.gz holding this entry needs at least {min} bytes"
            ),
            ArchiveError::InvalidEntryName { name, reason } => {
                write!(f, "invalid archive entry name {name:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for ArchiveError {}

/// The smallest archive size that can hold an entry with this text (the
/// content is the text alone, without filler). The name does not change it
/// (it only has to be valid, see [`ArchiveSpec::entry_name`]).
pub fn min_size(entry_name: &str, header_text: &str) -> u64 {
    let _ = entry_name;
    min_size_for(header_text.len() as u64)
}

/// [`min_size`] from the text length.
fn min_size_for(text_len: u64) -> u64 {
    let padded = text_len
        .div_ceil(TAR_BLOCK)
        .saturating_mul(TAR_BLOCK)
        .saturating_add(TAR_OVERHEAD);
    framed(padded)
}

/// Archive size for an uncompressed stream of `stream` bytes, no comment.
fn framed(stream: u64) -> u64 {
    stream
        .saturating_add(stream.div_ceil(BLOCK_PAYLOAD).saturating_mul(BLOCK_HEADER))
        .saturating_add(GZIP_FIXED)
}

/// How a requested size is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Bytes of FCOMMENT field (characters and NUL); 0 for none.
    comment: u64,
    /// Length of the tar entry's content.
    content: u64,
    /// Length of the uncompressed tar stream.
    stream: u64,
    /// Number of stored blocks.
    blocks: u64,
}

/// Splits `size` into framing, content and comment padding.
fn layout(size: u64, text_len: u64) -> Result<Layout, ArchiveError> {
    let min = min_size_for(text_len);
    if size < min {
        return Err(ArchiveError::TooSmall { size, min });
    }
    // Largest stream length whose stored blocks and gzip framing fit.
    let budget = size - GZIP_FIXED;
    let full = budget / BLOCK_TOTAL;
    let rest = budget % BLOCK_TOTAL;
    let max_stream = if rest > BLOCK_HEADER {
        full * BLOCK_PAYLOAD + rest - BLOCK_HEADER
    } else {
        full * BLOCK_PAYLOAD
    };
    // size >= min guarantees max_stream >= the smallest stream (framing grows
    // strictly with the stream), so this cannot underflow.
    let stream = TAR_OVERHEAD + (max_stream - TAR_OVERHEAD) / TAR_BLOCK * TAR_BLOCK;
    let blocks = stream.div_ceil(BLOCK_PAYLOAD);
    let comment = size - framed(stream);
    Ok(Layout {
        comment,
        content: stream - TAR_OVERHEAD,
        stream,
        blocks,
    })
}

/// Checks that `name` fits the 100-byte tar name field as a regular file.
fn check_name(name: &str) -> Result<(), ArchiveError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME {
        "it is longer than 100 bytes"
    } else if name.contains('\0') {
        "it contains a NUL byte"
    } else if name.ends_with('/') {
        "it ends with '/'"
    } else {
        return Ok(());
    };
    Err(ArchiveError::InvalidEntryName {
        name: name.to_owned(),
        reason,
    })
}

/// Writes `value` as zero-padded octal digits followed by a NUL.
fn put_octal(field: &mut [u8], mut value: u64) {
    let digits = field.len() - 1;
    field[digits] = 0;
    for slot in field[..digits].iter_mut().rev() {
        *slot = b'0' + (value & 7) as u8;
        value >>= 3;
    }
}

/// Writes a 12-byte numeric tar field: octal when it fits, else GNU base-256.
fn put_numeric(field: &mut [u8], value: u64) {
    if value <= OCTAL_11_MAX {
        put_octal(field, value);
    } else {
        field.fill(0);
        field[0] = 0x80;
        let at = field.len() - 8;
        field[at..].copy_from_slice(&value.to_be_bytes());
    }
}

/// The GNU tar header of a regular file.
fn tar_header(name: &str, size: u64, mtime: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    put_numeric(&mut h[124..136], size);
    put_numeric(&mut h[136..148], mtime);
    h[156] = b'0';
    h[257..265].copy_from_slice(b"ustar  \0");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put_octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    h
}

/// SplitMix64: small, fast, good enough for filler text.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The shared full block: stored-block header `00 FF FF 00 00`, then the
/// 65 535-byte filler pattern `G` (lines `-- <random letters>\n`).
fn filler_block(seed: u64) -> Vec<u8> {
    let mut block = vec![0u8; BLOCK_TOTAL as usize];
    block[..BLOCK_HEADER as usize].copy_from_slice(&[0x00, 0xFF, 0xFF, 0x00, 0x00]);
    let mut rng = SplitMix64(seed ^ 0x5CA1_1260_DB0F_A4E5);
    let pattern = &mut block[BLOCK_HEADER as usize..];
    // Sixteen letters per random word, eight at a time (SWAR): a nibble
    // picks one of `A..=P`, another bit of the word picks its case.
    const NIBBLES: u64 = 0x0F0F_0F0F_0F0F_0F0F;
    const CASE: u64 = 0x2020_2020_2020_2020;
    const UPPER_A: u64 = 0x4141_4141_4141_4141;
    let letters = |rng: &mut SplitMix64| {
        let r = rng.next();
        let low = ((r & NIBBLES) + UPPER_A) | ((r >> 1) & CASE);
        let high = (((r >> 4) & NIBBLES) + UPPER_A) | (r.rotate_left(3) & CASE);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&low.to_le_bytes());
        out[8..].copy_from_slice(&high.to_le_bytes());
        out
    };
    let mut sixteens = pattern.chunks_exact_mut(16);
    for sixteen in &mut sixteens {
        sixteen.copy_from_slice(&letters(&mut rng));
    }
    let rest = sixteens.into_remainder();
    let last = letters(&mut rng);
    rest.copy_from_slice(&last[..rest.len()]);
    let mut at = 0;
    while at < pattern.len() {
        let remaining = pattern.len() - at;
        let mut line = 40 + (rng.next() % 51) as usize;
        if remaining < line + 40 {
            line = remaining;
        }
        pattern[at..at + 3].copy_from_slice(b"-- ");
        pattern[at + line - 1] = b'\n';
        at += line;
    }
    block
}

/// CRC state of `unit` repeated `times` times, by doubling.
fn repeated(unit: &Hasher, mut times: u64) -> Hasher {
    let mut acc = Hasher::new();
    let mut power = unit.clone();
    while times > 0 {
        if times & 1 == 1 {
            acc.combine(&power);
        }
        times >>= 1;
        if times > 0 {
            let same = power.clone();
            power.combine(&same);
        }
    }
    acc
}

/// A fake backup archive: a valid `.tar.gz` of an exact size, computed on
/// demand. Cheap to build (no filler is hashed or stored beyond one block)
/// and cheap to clone (shared inside).
#[derive(Clone)]
pub struct Archive {
    inner: Arc<Inner>,
}

/// Everything an [`Archive`] needs to produce its bytes.
struct Inner {
    /// Total length.
    size: u64,
    /// gzip header and FCOMMENT field.
    prefix: Box<[u8]>,
    /// Uncompressed tar stream length.
    stream: u64,
    /// Number of stored blocks.
    blocks: u64,
    /// The tar header.
    tar_header: [u8; 512],
    /// The entry's leading text.
    text: Box<[u8]>,
    /// Uncompressed range of filler bytes `G[p % 65535]`.
    filler: Range<u64>,
    /// End of the entry content (uncompressed); a newline sits just before it
    /// when the content has filler.
    content_end: u64,
    /// The shared full block: stored-block header, then `G`.
    block: Bytes,
    /// CRC32 of the uncompressed stream.
    crc: u32,
    /// gzip trailer: CRC32 and ISIZE.
    trailer: [u8; 8],
    /// Compressed range made only of shared full blocks.
    bulk: Range<u64>,
}

/// The gzip header, with a comment of `comment` bytes (0: none) that pads
/// the archive to its exact size.
fn gzip_prefix(mtime: u64, comment: u64) -> Vec<u8> {
    let mut prefix = Vec::with_capacity((GZIP_HEADER + comment) as usize);
    prefix.extend_from_slice(&[0x1F, 0x8B, 0x08]);
    prefix.push(if comment > 0 { FLG_FCOMMENT } else { 0 });
    prefix.extend_from_slice(&(mtime as u32).to_le_bytes());
    prefix.extend_from_slice(&[0x00, 0x03]);
    if comment > 0 {
        let chars = (comment - 1) as usize;
        prefix.extend(COMMENT_TEXT.iter().cycle().take(chars));
        prefix.push(0);
    }
    prefix
}

/// The CRC32 of the uncompressed stream (tar header, text, filler of
/// `pattern` over `filler`, newline, zeros up to `stream`), without walking
/// the filler.
fn stream_crc(
    tar_header: &[u8],
    text: &[u8],
    pattern: &[u8],
    filler: Range<u64>,
    content_end: u64,
    stream: u64,
) -> u32 {
    let (filler_start, filler_end) = (filler.start, filler.end);
    let mut crc = Hasher::new();
    crc.update(tar_header);
    crc.update(text);
    let mut at = filler_start;
    if at < filler_end {
        let offset = (at % BLOCK_PAYLOAD) as usize;
        let first = (filler_end - at).min(BLOCK_PAYLOAD - offset as u64);
        crc.update(&pattern[offset..offset + first as usize]);
        at += first;
    }
    let whole = (filler_end - at) / BLOCK_PAYLOAD;
    if whole > 0 {
        let mut unit = Hasher::new();
        unit.update(pattern);
        crc.combine(&repeated(&unit, whole));
        at += whole * BLOCK_PAYLOAD;
    }
    crc.update(&pattern[..(filler_end - at) as usize]);
    if content_end > filler_end {
        crc.update(b"\n");
    }
    let mut zeros = stream - content_end;
    while zeros > 0 {
        let n = zeros.min(ZEROS.len() as u64);
        crc.update(&ZEROS[..n as usize]);
        zeros -= n;
    }
    crc.finalize()
}

impl Archive {
    /// Lays out the archive described by `spec`.
    ///
    /// Fails if `spec.size` is below [`min_size`] or the entry name does not
    /// fit a tar header.
    pub fn new(spec: &ArchiveSpec) -> Result<Archive, ArchiveError> {
        check_name(&spec.entry_name)?;
        let text = spec.header_text.as_bytes();
        let text_len = text.len() as u64;
        let lay = layout(spec.size, text_len)?;

        let prefix = gzip_prefix(spec.mtime, lay.comment);

        // Uncompressed regions.
        let text_start = TAR_BLOCK;
        let content_end = TAR_BLOCK + lay.content;
        let filler_start = text_start + text_len;
        let filler_end = if lay.content > text_len {
            content_end - 1
        } else {
            filler_start
        };

        let block = Bytes::from(filler_block(spec.seed));
        let pattern = &block[BLOCK_HEADER as usize..];
        let tar_header = tar_header(&spec.entry_name, lay.content, spec.mtime);

        let crc = stream_crc(
            &tar_header,
            text,
            pattern,
            filler_start..filler_end,
            content_end,
            lay.stream,
        );
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&crc.to_le_bytes());
        trailer[4..].copy_from_slice(&(lay.stream as u32).to_le_bytes());

        // Blocks wholly inside the filler are all the shared block.
        let first_bulk = filler_start.div_ceil(BLOCK_PAYLOAD);
        let end_bulk = filler_end / BLOCK_PAYLOAD;
        let start = prefix.len() as u64;
        let bulk = if first_bulk < end_bulk {
            start + first_bulk * BLOCK_TOTAL..start + end_bulk * BLOCK_TOTAL
        } else {
            0..0
        };

        Ok(Archive {
            inner: Arc::new(Inner {
                size: spec.size,
                prefix: prefix.into_boxed_slice(),
                stream: lay.stream,
                blocks: lay.blocks,
                tar_header,
                text: text.into(),
                filler: filler_start..filler_end,
                content_end,
                block,
                crc,
                trailer,
                bulk,
            }),
        })
    }

    /// Total length in bytes (the requested size).
    pub fn len(&self) -> u64 {
        self.inner.size
    }

    /// Always `false`: an archive is never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// CRC32 of the uncompressed tar stream (as in the gzip trailer).
    pub fn crc32(&self) -> u32 {
        self.inner.crc
    }

    /// Fills `buf` with the archive bytes starting at `offset`; returns how
    /// many were written (fewer than `buf.len()` only at the end, 0 past it).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> usize {
        let inner = &*self.inner;
        if offset >= inner.size {
            return 0;
        }
        let n = (buf.len() as u64).min(inner.size - offset) as usize;
        inner.fill(offset, &mut buf[..n]);
        n
    }

    /// The bytes in `range` (clamped to the archive), as an iterator of
    /// [`Bytes`] pieces.
    pub fn chunks(&self, range: Range<u64>) -> Chunks {
        let end = range.end.min(self.inner.size);
        let pos = range.start.min(end);
        Chunks {
            archive: self.clone(),
            pos,
            end,
        }
    }
}

impl fmt::Debug for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Archive")
            .field("size", &self.inner.size)
            .field("stream", &self.inner.stream)
            .field("crc32", &format_args!("{:#010x}", self.inner.crc))
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Start of the stored blocks.
    fn blocks_start(&self) -> u64 {
        self.prefix.len() as u64
    }

    /// Start of the gzip trailer.
    fn trailer_start(&self) -> u64 {
        self.blocks_start() + self.blocks * BLOCK_HEADER + self.stream
    }

    /// Header of stored block `k`.
    fn block_header(&self, k: u64) -> [u8; 5] {
        let len = (self.stream - k * BLOCK_PAYLOAD).min(BLOCK_PAYLOAD) as u16;
        let last = u8::from(k + 1 == self.blocks);
        let [l0, l1] = len.to_le_bytes();
        let [n0, n1] = (!len).to_le_bytes();
        [last, l0, l1, n0, n1]
    }

    /// Fills `out` with the compressed bytes at `offset..`; the range must lie
    /// within the archive.
    fn fill(&self, mut offset: u64, mut out: &mut [u8]) {
        let blocks_start = self.blocks_start();
        let trailer_start = self.trailer_start();
        while !out.is_empty() {
            let n = if offset < blocks_start {
                copy_from(&self.prefix, offset, out)
            } else if offset < trailer_start {
                let rel = offset - blocks_start;
                let k = rel / BLOCK_TOTAL;
                let within = rel % BLOCK_TOTAL;
                if within < BLOCK_HEADER {
                    copy_from(&self.block_header(k), within, out)
                } else {
                    let pos = k * BLOCK_PAYLOAD + (within - BLOCK_HEADER);
                    let block_end = ((k + 1) * BLOCK_PAYLOAD).min(self.stream);
                    let n = (out.len() as u64).min(block_end - pos) as usize;
                    self.fill_stream(pos, &mut out[..n]);
                    n
                }
            } else {
                copy_from(&self.trailer, offset - trailer_start, out)
            };
            debug_assert!(n > 0, "the layout covers every offset");
            if n == 0 {
                break;
            }
            offset += n as u64;
            out = &mut out[n..];
        }
    }

    /// Fills `out` with the uncompressed tar stream at `pos..`; the range must
    /// lie within the stream.
    fn fill_stream(&self, mut pos: u64, mut out: &mut [u8]) {
        let text_end = TAR_BLOCK + self.text.len() as u64;
        while !out.is_empty() {
            let n = if pos < TAR_BLOCK {
                copy_from(&self.tar_header, pos, out)
            } else if pos < text_end {
                copy_from(&self.text, pos - TAR_BLOCK, out)
            } else if pos < self.filler.end {
                let pattern = &self.block[BLOCK_HEADER as usize..];
                let n = (out.len() as u64).min(self.filler.end - pos) as usize;
                copy_from(pattern, pos % BLOCK_PAYLOAD, &mut out[..n])
            } else if pos < self.content_end {
                out[0] = b'\n';
                1
            } else {
                let n = (out.len() as u64).min(self.stream - pos) as usize;
                out[..n].fill(0);
                n
            };
            debug_assert!(n > 0, "the layout covers every offset");
            if n == 0 {
                break;
            }
            pos += n as u64;
            out = &mut out[n..];
        }
    }
}

/// Copies `src[at..]` into the start of `out`, as much as fits; returns the
/// count.
fn copy_from(src: &[u8], at: u64, out: &mut [u8]) -> usize {
    let src = &src[at as usize..];
    let n = src.len().min(out.len());
    out[..n].copy_from_slice(&src[..n]);
    n
}

/// The bytes of a range of an [`Archive`], in order, as [`Bytes`] pieces
/// whose concatenation is exactly that range.
///
/// Holds O(1) memory: in the filler region it yields slices of the archive's
/// one shared block (no copy, no allocation); elsewhere it materialises
/// pieces of at most 64 KiB through [`Archive::read_at`].
#[derive(Clone, Debug)]
pub struct Chunks {
    archive: Archive,
    pos: u64,
    end: u64,
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.pos >= self.end {
            return None;
        }
        let inner = &*self.archive.inner;
        let bulk = &inner.bulk;
        if bulk.contains(&self.pos) {
            let within = (self.pos - inner.blocks_start()) % BLOCK_TOTAL;
            let n = (BLOCK_TOTAL - within).min(self.end - self.pos);
            self.pos += n;
            return Some(inner.block.slice(within as usize..(within + n) as usize));
        }
        let boundary = if self.pos < bulk.start {
            bulk.start.min(self.end)
        } else {
            self.end
        };
        let n = (boundary - self.pos).min(MAX_CHUNK) as usize;
        let mut buf = vec![0u8; n];
        let got = self.archive.read_at(self.pos, &mut buf);
        debug_assert_eq!(got, n, "the range is clamped to the archive");
        self.pos += n as u64;
        Some(Bytes::from(buf))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end - self.pos;
        let lower = usize::try_from(left.div_ceil(BLOCK_TOTAL)).unwrap_or(usize::MAX);
        (lower, usize::try_from(left).ok())
    }
}

impl FusedIterator for Chunks {}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::{Read, Write};
    use std::process::{Command, Stdio};

    use proptest::prelude::*;

    const NAME: &str = "20180902010000_kibana-3938.pgsql";
    const TEXT: &str = "--\n-- PostgreSQL database dump\n--\n\n\
        -- Dumped from database version 10.4\n\
        -- Dumped by pg_dump version 10.4\n\n\
        SET statement_timeout = 0;\n";
    const MTIME: u64 = 1_535_850_000;
    /// The size of a real 17 GB backup.
    const HUGE: u64 = 17_484_513_608;

    fn spec_with(size: u64, seed: u64, text: &str) -> ArchiveSpec {
        ArchiveSpec {
            size,
            entry_name: NAME.to_owned(),
            header_text: text.to_owned(),
            mtime: MTIME,
            seed,
        }
    }

    fn spec(size: u64, seed: u64) -> ArchiveSpec {
        spec_with(size, seed, TEXT)
    }

    fn archive(size: u64, seed: u64) -> Archive {
        Archive::new(&spec(size, seed)).expect("a valid size")
    }

    /// Concatenated `chunks(range)`, checking each piece on the way.
    fn collect(archive: &Archive, range: Range<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in archive.chunks(range) {
            assert!(!chunk.is_empty(), "no empty chunk");
            assert!(chunk.len() as u64 <= BLOCK_TOTAL, "chunks stay small");
            out.extend_from_slice(&chunk);
        }
        out
    }

    fn read_all(archive: &Archive) -> Vec<u8> {
        let mut buf = vec![0xAA; archive.len() as usize + 10];
        let n = archive.read_at(0, &mut buf);
        assert_eq!(n as u64, archive.len(), "read_at is short only at the end");
        buf.truncate(n);
        buf
    }

    /// Decodes the archive of `spec` the way a consumer would and checks
    /// every property promised.
    fn check_valid(spec: &ArchiveSpec) {
        let archive = Archive::new(spec).expect("a valid spec");
        assert_eq!(archive.len(), spec.size);
        let bytes = collect(&archive, 0..spec.size);
        assert_eq!(bytes.len() as u64, spec.size, "size {}", spec.size);
        assert_eq!(bytes, read_all(&archive), "chunks and read_at agree");

        // gzip: flate2 checks the CRC32 and ISIZE of the trailer.
        let mut decoder = flate2::bufread::GzDecoder::new(&bytes[..]);
        let mut stream = Vec::new();
        decoder
            .read_to_end(&mut stream)
            .unwrap_or_else(|e| panic!("size {}: gzip does not decode: {e}", spec.size));
        let header = decoder.header().expect("a gzip header");
        assert_eq!(header.mtime(), spec.mtime as u32);
        assert_eq!(header.operating_system(), 3);
        let comment_len = header.comment().map_or(0, |c| c.len() as u64 + 1);
        assert!(decoder.into_inner().is_empty(), "nothing after the member");
        assert_eq!(crc32fast::hash(&stream), archive.crc32());
        assert_eq!(stream.len() as u64, archive.inner.stream);
        assert_eq!(stream.len() % 512, 0);

        // The content is the largest that fits, the comment makes up the rest.
        let stream_len = stream.len() as u64;
        assert_eq!(framed(stream_len) + comment_len, spec.size);
        assert!(comment_len <= 516);
        assert!(framed(stream_len + TAR_BLOCK) > spec.size, "a larger content would fit");

        // tar: exactly one regular entry, with the name, text and size.
        let mut tar = tar::Archive::new(&stream[..]);
        let mut entries = tar.entries().expect("tar entries");
        let mut entry = entries.next().expect("one entry").expect("a valid entry");
        assert_eq!(entry.path().expect("a path").to_str(), Some(spec.entry_name.as_str()));
        assert_eq!(entry.header().entry_type(), tar::EntryType::Regular);
        assert_eq!(entry.header().mode().expect("a mode"), 0o644);
        assert_eq!(entry.header().uid().expect("a uid"), 0);
        assert_eq!(entry.header().mtime().expect("a mtime"), spec.mtime);
        let size = entry.header().size().expect("a size");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("the content");
        drop(entry);
        assert!(entries.next().is_none(), "a single entry");
        assert_eq!(content.len() as u64, size);
        assert_eq!(size, stream_len - TAR_OVERHEAD);
        let text = spec.header_text.as_bytes();
        assert!(content.starts_with(text));

        // The filler is text lines, G[p % 65535] at stream position p.
        let pattern = &archive.inner.block[5..];
        if content.len() > text.len() {
            assert_eq!(content.last(), Some(&b'\n'));
            for (i, &b) in content.iter().enumerate().skip(text.len()) {
                assert!(b == b'\n' || (0x20..0x7F).contains(&b), "printable filler");
                if i + 1 < content.len() {
                    assert_eq!(b, pattern[(512 + i) % 65535]);
                }
            }
        }
    }

    #[test]
    fn min_size_of_a_typical_entry() {
        assert_eq!(min_size(NAME, TEXT), 2071);
        assert_eq!(min_size(NAME, ""), 1559);
        assert_eq!(min_size(NAME, &"x".repeat(512)), 2071);
        assert_eq!(min_size(NAME, &"x".repeat(513)), 2583);
    }

    #[test]
    fn every_size_from_the_minimum_is_valid() {
        let min = min_size(NAME, TEXT);
        for size in min..=min + 600 {
            check_valid(&spec(size, 7));
        }
    }

    #[test]
    fn sizes_around_block_boundaries_are_valid() {
        for blocks in 1..=3 {
            let edge = GZIP_FIXED + blocks * BLOCK_TOTAL;
            for size in (edge - 530..edge - 10).step_by(17) {
                check_valid(&spec(size, blocks));
            }
            for size in edge - 10..=edge + 10 {
                check_valid(&spec(size, blocks));
            }
            for size in (edge + 11..edge + 530).step_by(17) {
                check_valid(&spec(size, blocks));
            }
        }
    }

    #[test]
    fn large_sizes_are_valid() {
        check_valid(&spec(1_000_000, 1));
        check_valid(&spec(1_000_001, 2));
        check_valid(&spec(10_000_000, 3));
        check_valid(&spec(10_485_760, 4));
    }

    #[test]
    fn various_texts_are_valid() {
        let long = "-- a long header line of a dump, repeated\n".repeat(90);
        for text in ["", "x", &"y".repeat(512), &"z".repeat(513), long.as_str()] {
            let min = min_size(NAME, text);
            for size in [min, min + 1, min + 517, min + 70_000, 300_000] {
                check_valid(&spec_with(size.max(min), 9, text));
            }
        }
        let mut long_name = spec(5_000, 1);
        long_name.entry_name = "n".repeat(100);
        check_valid(&long_name);
    }

    #[test]
    fn every_size_is_laid_out_exactly() {
        let min = min_size(NAME, TEXT);
        let text = TEXT.len() as u64;
        let mut sizes: Vec<u64> = (min..min + 200_000).collect();
        sizes.extend(HUGE - 200_000..HUGE + 200_000);
        sizes.extend(u64::MAX - 1000..=u64::MAX);
        for size in sizes {
            let lay = layout(size, text).expect("size >= min");
            assert_eq!(framed(lay.stream) + lay.comment, size, "size {size}");
            assert_eq!(lay.stream, lay.content + TAR_OVERHEAD);
            assert_eq!(lay.content % TAR_BLOCK, 0);
            assert!(lay.content >= text);
            assert!(lay.comment <= 516, "size {size}");
            assert_eq!(lay.blocks, lay.stream.div_ceil(BLOCK_PAYLOAD));
            let bigger = u128::from(lay.stream) + 512;
            let bigger_framed = bigger + bigger.div_ceil(65_535) * 5 + 18;
            assert!(bigger_framed > u128::from(size), "size {size}: not the largest");
        }
    }

    #[test]
    fn same_spec_same_bytes_other_seed_other_bytes() {
        for size in [min_size(NAME, TEXT) + 3, 3_000, 200_000] {
            let first = collect(&archive(size, 11), 0..size);
            let again = collect(&archive(size, 11), 0..size);
            assert_eq!(first, again);
            let other = collect(&archive(size, 12), 0..size);
            assert_eq!(first.len(), other.len());
            assert_ne!(first, other);
        }
        let a = archive(500_000, 5);
        assert_eq!(a.crc32(), archive(500_000, 5).crc32());
        assert_ne!(a.crc32(), archive(500_000, 6).crc32());
    }

    #[test]
    fn too_small_is_an_error() {
        let min = min_size(NAME, TEXT);
        for size in [0, 1, 100, min - 1] {
            let err = Archive::new(&spec(size, 1)).expect_err("too small");
            assert_eq!(err, ArchiveError::TooSmall { size, min });
            let message = err.to_string();
            assert!(message.contains(&min.to_string()), "{message}");
            assert!(message.contains(&size.to_string()), "{message}");
        }
        assert_eq!(
            ArchiveError::TooSmall { size: 100, min: 2071 }.to_string(),
            "an archive of 100 bytes is too small: a valid .tar.gz holding this entry needs at least 2071 bytes"
        );
        assert!(Archive::new(&spec(min, 1)).is_ok());
    }

    #[test]
    fn bad_names_are_errors() {
        for name in [String::new(), "n".repeat(101), "a\0b".to_owned(), "dir/".to_owned()] {
            let mut s = spec(10_000, 1);
            s.entry_name = name.clone();
            match Archive::new(&s) {
                Err(ArchiveError::InvalidEntryName { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn reads_past_the_end_and_empty_ranges() {
        let a = archive(100_000, 1);
        let mut buf = [0u8; 16];
        assert_eq!(a.read_at(100_000, &mut buf), 0);
        assert_eq!(a.read_at(u64::MAX, &mut buf), 0);
        assert_eq!(a.read_at(99_990, &mut buf), 10);
        assert_eq!(a.read_at(5, &mut []), 0);
        assert_eq!(a.chunks(50..50).count(), 0);
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = a.chunks(60..50);
        assert_eq!(reversed.count(), 0);
        assert_eq!(a.chunks(200_000..300_000).count(), 0);
        assert_eq!(collect(&a, 99_000..u64::MAX).len(), 1_000);
        assert!(!a.is_empty());
    }

    #[test]
    fn big_mtime_uses_base_256() {
        let mut s = spec(5_000, 1);
        s.mtime = 1 << 40;
        check_valid(&s);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn chunks_read_at_and_full_body_agree(
            extra in prop_oneof![0u64..1_000, 0u64..400_000],
            seed in any::<u64>(),
            start in 0u64..420_000,
            len in prop_oneof![0u64..64, 0u64..140_000, 0u64..500_000],
        ) {
            let size = min_size(NAME, TEXT) + extra;
            let a = archive(size, seed);
            let full = collect(&a, 0..size);
            prop_assert_eq!(full.len() as u64, size);
            let end = start.saturating_add(len);
            let (s, e) = (start.min(size) as usize, end.min(size) as usize);
            let got = collect(&a, start..end);
            prop_assert_eq!(&got[..], &full[s..e]);
            let mut buf = vec![0u8; len as usize];
            let n = a.read_at(start, &mut buf);
            prop_assert_eq!(n, e - s);
            prop_assert_eq!(&buf[..n], &full[s..e]);
        }
    }

    /// The CRC32 transition over one `G`, as an affine map of the (finalized)
    /// CRC state: `f(s) = L(s) ^ c`. Applying it `k` times gives the CRC of
    /// `G` repeated `k` times, with neither combine nor doubling.
    struct Affine {
        columns: [u32; 32],
        constant: u32,
    }

    impl Affine {
        fn over(data: &[u8]) -> Affine {
            let step = |state: u32| {
                let mut h = Hasher::new_with_initial(state);
                h.update(data);
                h.finalize()
            };
            let constant = step(0);
            let mut columns = [0u32; 32];
            for (i, column) in columns.iter_mut().enumerate() {
                *column = step(1 << i) ^ constant;
            }
            Affine { columns, constant }
        }

        fn apply(&self, state: u32) -> u32 {
            let mut out = self.constant;
            for (i, column) in self.columns.iter().enumerate() {
                if state >> i & 1 == 1 {
                    out ^= column;
                }
            }
            out
        }
    }

    /// Offset of the deflate stream, from the gzip header (parsed here).
    fn deflate_start(bytes: &[u8]) -> usize {
        assert_eq!(&bytes[..3], &[0x1F, 0x8B, 0x08]);
        if bytes[3] & FLG_FCOMMENT == 0 {
            return 10;
        }
        let nul = bytes[10..].iter().position(|&b| b == 0).expect("a NUL");
        11 + nul
    }

    /// Payload of consecutive stored blocks (parsed here), and whether the
    /// last one was final.
    fn stored_payload(mut bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut last = false;
        while !bytes.is_empty() {
            assert!(!last, "nothing after the final block");
            assert_eq!(bytes[0] & !1, 0, "a stored block");
            last = bytes[0] & 1 == 1;
            let len = u16::from_le_bytes([bytes[1], bytes[2]]);
            let nlen = u16::from_le_bytes([bytes[3], bytes[4]]);
            assert_eq!(len, !nlen);
            out.extend_from_slice(&bytes[5..5 + usize::from(len)]);
            bytes = &bytes[5 + usize::from(len)..];
        }
        (out, last)
    }

    #[test]
    fn huge_archive_is_consistent() {
        let a = archive(HUGE, 42);
        assert_eq!(a.len(), HUGE);
        let inner = &*a.inner;
        assert!(inner.stream - TAR_OVERHEAD > OCTAL_11_MAX, "needs base-256");

        // The end, through chunks and read_at.
        let tail_start = HUGE - 300_000;
        let tail = collect(&a, tail_start..HUGE);
        let mut buf = vec![0u8; 300_000];
        assert_eq!(a.read_at(tail_start, &mut buf), 300_000);
        assert_eq!(tail, buf);
        let trailer = &tail[tail.len() - 8..];
        assert_eq!(trailer[..4], a.crc32().to_le_bytes());
        assert_eq!(trailer[4..], (inner.stream as u32).to_le_bytes());

        // Reference CRC: head and tail payloads parsed from the compressed
        // bytes, the bulk by iterating the affine map of G (no combine).
        let head = collect(&a, 0..inner.bulk.start);
        let start = deflate_start(&head);
        let (head_payload, last) = stored_payload(&head[start..]);
        assert!(!last);
        let bulk_blocks = (inner.bulk.end - inner.bulk.start) / BLOCK_TOTAL;
        let mut seen = 0;
        for chunk in a.chunks(inner.bulk.start..inner.bulk.start + 3 * BLOCK_TOTAL) {
            seen += chunk.len();
            assert_eq!(&chunk[..], &inner.block[..]);
        }
        assert_eq!(seen as u64, 3 * BLOCK_TOTAL);
        let end_part = collect(&a, inner.bulk.end..HUGE - 8);
        let (tail_payload, last) = stored_payload(&end_part);
        assert!(last, "the last block is final");
        assert_eq!(
            head_payload.len() as u64 + bulk_blocks * BLOCK_PAYLOAD + tail_payload.len() as u64,
            inner.stream
        );
        let pattern = &inner.block[5..];
        let step = Affine::over(pattern);
        let mut state = crc32fast::hash(&head_payload);
        for _ in 0..bulk_blocks {
            state = step.apply(state);
        }
        let mut h = Hasher::new_with_initial(state);
        h.update(&tail_payload);
        assert_eq!(h.finalize(), a.crc32());
        assert!(tail_payload.ends_with(&[0u8; 1024]));

        // The tar header reads back (size in base-256) through gzip and tar.
        let start = collect(&a, 0..1_000_000);
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&start[..]));
        let mut entries = tar.entries().expect("entries");
        let mut entry = entries.next().expect("an entry").expect("a valid header");
        assert_eq!(entry.header().as_bytes()[124], 0x80);
        assert_eq!(entry.header().size().expect("a size"), inner.stream - TAR_OVERHEAD);
        assert_eq!(entry.path().expect("a path").to_str(), Some(NAME));
        assert_eq!(entry.header().mtime().expect("a mtime"), MTIME);
        let mut text = vec![0u8; TEXT.len()];
        entry.read_exact(&mut text).expect("the text");
        assert_eq!(text, TEXT.as_bytes());
    }

    #[test]
    fn huge_archive_streams_the_shared_block() {
        let a = archive(HUGE, 42);
        let block = a.inner.block.as_ptr() as usize..a.inner.block.as_ptr() as usize + 65_540;
        let limit = 20_000_000;
        let (mut pos, mut shared, mut copied) = (0u64, 0u64, 0u64);
        for chunk in a.chunks(0..limit) {
            let at = chunk.as_ptr() as usize;
            let in_block = block.contains(&at) && at + chunk.len() <= block.end;
            if a.inner.bulk.contains(&pos) {
                assert!(in_block, "offset {pos}: not a slice of the shared block");
                shared += chunk.len() as u64;
            } else {
                assert!(!in_block);
                copied += chunk.len() as u64;
            }
            pos += chunk.len() as u64;
        }
        assert_eq!(pos, limit);
        assert!(copied < 2 * BLOCK_TOTAL, "only the head is materialised");
        assert_eq!(shared + copied, limit);

        // Same in the middle and up to near the end.
        for chunk in a.chunks(HUGE / 2..HUGE / 2 + 1_000_000) {
            assert!(block.contains(&(chunk.as_ptr() as usize)));
        }
        let near_end = a.inner.bulk.end - 500_000;
        let mut buf = vec![0u8; 700_000];
        let n = a.read_at(near_end, &mut buf);
        assert_eq!(n as u64, HUGE - near_end);
        assert_eq!(collect(&a, near_end..u64::MAX), buf[..n]);
    }

    #[test]
    fn archives_and_chunks_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Archive>();
        send_sync::<Chunks>();
        send_sync::<ArchiveError>();
    }

    #[test]
    fn clones_share_everything() {
        let a = archive(HUGE, 1);
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    /// Runs `program args` with `input` on stdin; `None` if it cannot start.
    fn run(program: &str, args: &[&str], input: Vec<u8>) -> Option<std::process::Output> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().ok()?;
        writer.join().ok()?;
        Some(output)
    }

    #[test]
    fn system_tools_read_the_archive() {
        let a = archive(1_000_000, 3);
        let bytes = collect(&a, 0..a.len());
        match run("tar", &["-tzf", "-"], bytes.clone()) {
            Some(out) => {
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{NAME}\n"));
            }
            None => eprintln!("no tar: skipped"),
        }
        match run("gzip", &["-dc"], bytes) {
            Some(out) => {
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                assert_eq!(out.stdout.len() as u64, a.inner.stream);
                assert_eq!(crc32fast::hash(&out.stdout), a.crc32());
            }
            None => eprintln!("no gzip: skipped"),
        }
    }
}
