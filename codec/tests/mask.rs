//! Masking (RFC 6455 §5.3): every fast path agrees with the byte-wise
//! reference loop.

mod common;

use common::Rng;
use ws13_codec::mask::{AVX2_MIN_LEN, apply_mask, apply_mask_bytewise, apply_mask_portable};

/// A masking function under test.
type MaskFn = fn(&mut [u8], [u8; 4], usize);

/// The fast paths, each checked against [`apply_mask_bytewise`].
const FAST_PATHS: [(&str, MaskFn); 2] = [
    ("apply_mask", apply_mask),
    ("apply_mask_portable", apply_mask_portable),
];

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MAX_LEN: usize = 4096;
const MAX_ALIGN: usize = 15;
/// Untouched bytes on either side of the slice being masked.
const GUARD: usize = 64;

/// A buffer whose start is 64-byte aligned, so that `&buf.0[align..]` starts
/// `align` bytes past a cache line.
#[repr(C, align(64))]
struct Aligned([u8; GUARD + MAX_ALIGN + MAX_LEN + GUARD]);

#[test]
fn agrees_with_bytewise_for_every_length_alignment_and_offset() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut input = [0u8; MAX_LEN];
    rng.fill(&mut input);
    let mut guard_bytes = [0u8; GUARD + MAX_ALIGN + MAX_LEN + GUARD];
    rng.fill(&mut guard_bytes);
    let mut buf = Box::new(Aligned(guard_bytes));

    for offset in 0..=3 {
        // The reference for a length is a prefix of the reference for the
        // longest one.
        let mut expected = input;
        apply_mask_bytewise(&mut expected, KEY, offset);
        for align in 0..=MAX_ALIGN {
            let start = GUARD + align;
            for len in 0..=MAX_LEN {
                let (before, end) = (start - GUARD, start + len + GUARD);
                for (name, mask) in FAST_PATHS {
                    buf.0[start..start + len].copy_from_slice(&input[..len]);
                    mask(&mut buf.0[start..start + len], KEY, offset);
                    assert!(
                        buf.0[start..start + len] == expected[..len],
                        "{name}: len {len}, alignment {align}, offset {offset}"
                    );
                    assert!(
                        buf.0[before..start] == guard_bytes[before..start]
                            && buf.0[start + len..end] == guard_bytes[start + len..end],
                        "{name} wrote outside the slice: len {len}, alignment {align}, offset {offset}"
                    );
                    buf.0[start..start + len].copy_from_slice(&guard_bytes[start..start + len]);
                }
            }
        }
    }
}

#[test]
fn offset_only_matters_modulo_4() {
    let mut rng = Rng(7);
    let mut input = [0u8; 1000];
    rng.fill(&mut input);
    for offset in [4, 5, 1001, usize::MAX - 2, usize::MAX - 1, usize::MAX] {
        let mut expected = input;
        apply_mask_bytewise(&mut expected, KEY, offset % 4);
        for (name, mask) in FAST_PATHS {
            let mut got = input;
            mask(&mut got, KEY, offset);
            assert!(got == expected, "{name}: offset {offset}");
        }
    }
}

#[test]
fn masking_in_pieces_equals_masking_whole() {
    let mut rng = Rng(0xDEAD_BEEF);
    for round in 0..300 {
        let len = if round % 3 == 0 {
            rng.below(64)
        } else {
            rng.below(20_000)
        };
        let mut input = vec![0u8; len];
        rng.fill(&mut input);
        let key = (rng.next() as u32).to_ne_bytes();
        let mut expected = input.clone();
        apply_mask_bytewise(&mut expected, key, 0);

        for (name, mask) in FAST_PATHS {
            let mut got = input.clone();
            let mut pos = 0;
            while pos < len {
                // Mostly small pieces, sometimes large ones.
                let max = if rng.below(4) == 0 {
                    2 * AVX2_MIN_LEN + 100
                } else {
                    9
                };
                let piece = (1 + rng.below(max)).min(len - pos);
                mask(&mut got[pos..pos + piece], key, pos);
                pos += piece;
            }
            assert!(got == expected, "{name}: round {round}, len {len}");
        }
    }
}

#[test]
fn masking_twice_restores_the_input() {
    let mut rng = Rng(42);
    for len in [0, 1, 3, 7, 8, 63, 64, 255, 256, 1000, 4096, 65_536 + 13] {
        let mut input = vec![0u8; len];
        rng.fill(&mut input);
        for (name, mask) in FAST_PATHS {
            for offset in 0..4 {
                let mut data = input.clone();
                mask(&mut data, KEY, offset);
                if len >= 8 {
                    assert_ne!(data, input, "{name}: masking changed nothing");
                }
                mask(&mut data, KEY, offset);
                assert!(data == input, "{name}: len {len}, offset {offset}");
            }
        }
    }
}

#[test]
fn rfc6455_masked_hello_example() {
    // RFC 6455 §5.7: a single-frame masked text message containing "Hello".
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let key: [u8; 4] = frame[2..6].try_into().unwrap();
    for (name, mask) in FAST_PATHS {
        let mut payload = frame[6..].to_vec();
        mask(&mut payload, key, 0);
        assert_eq!(payload, b"Hello", "{name}");
    }
    let mut payload = frame[6..].to_vec();
    apply_mask_bytewise(&mut payload, key, 0);
    assert_eq!(payload, b"Hello");
}

#[test]
fn large_payloads_agree_with_bytewise() {
    let mut rng = Rng(3);
    let mut input = vec![0u8; (1 << 20) + 77];
    rng.fill(&mut input);
    for offset in 0..4 {
        for start in [0, 1, 31, 33] {
            let mut expected = input[start..].to_vec();
            apply_mask_bytewise(&mut expected, KEY, offset);
            for (name, mask) in FAST_PATHS {
                let mut got = input[start..].to_vec();
                mask(&mut got, KEY, offset);
                assert!(got == expected, "{name}: start {start}, offset {offset}");
            }
        }
    }
}
