//! Incremental UTF-8 validation: equivalent to `core::str::from_utf8` over a
//! whole stream, however it is split, and failing at the first byte that no
//! continuation can make valid.

mod common;

use common::Rng;
use std::collections::HashMap;
use ws13_codec::utf8::{InvalidUtf8, Utf8Validator};

// ---------------------------------------------------------------------------
// The reference: brute force over continuations.

/// Bytes to try as continuations: the two ends of every class of bytes that
/// the UTF-8 grammar (Unicode Standard, Table 3-7) tells apart. Every byte of
/// a class behaves like the others in the grammar, so trying these is as good
/// as trying all 256 values, and keeps 3-byte continuations cheap.
const CANDIDATES: [u8; 24] = [
    0x00, 0x7F, // ASCII
    0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, // continuation bytes
    0xC0, 0xC1, // never valid
    0xC2, 0xDF, // 2-byte leads
    0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, // 3-byte leads
    0xF0, 0xF1, 0xF3, 0xF4, // 4-byte leads
    0xF5, 0xFF, // never valid
];

/// Whether some byte string `s` of at most 3 bytes makes `p + s` valid UTF-8.
fn completable_by_brute_force(p: &[u8]) -> bool {
    let valid = |buf: &[u8]| std::str::from_utf8(buf).is_ok();
    let n = p.len();
    let mut buf = [p, &[0; 3]].concat();
    if valid(&buf[..n]) {
        return true;
    }
    for a in CANDIDATES {
        buf[n] = a;
        if valid(&buf[..n + 1]) {
            return true;
        }
    }
    for a in CANDIDATES {
        buf[n] = a;
        for b in CANDIDATES {
            buf[n + 1] = b;
            if valid(&buf[..n + 2]) {
                return true;
            }
        }
    }
    for a in CANDIDATES {
        buf[n] = a;
        for b in CANDIDATES {
            buf[n + 1] = b;
            for c in CANDIDATES {
                buf[n + 2] = c;
                if valid(&buf[..n + 3]) {
                    return true;
                }
            }
        }
    }
    false
}

/// The reference fail-fast point: the length of the shortest prefix of `x`
/// that no continuation can make valid, or `None` if every prefix can still
/// be completed.
///
/// If `x[..j]` is valid then `x[..k] + s` is valid exactly when `x[j..k] + s`
/// is (UTF-8 decodes left to right, one character at a time), so validity is
/// checked, and continuations brute-forced, only past the last valid prefix.
fn first_bad_prefix(x: &[u8], memo: &mut HashMap<Vec<u8>, bool>) -> Option<usize> {
    let mut last_valid = 0;
    for k in 1..=x.len() {
        if std::str::from_utf8(&x[last_valid..k]).is_ok() {
            last_valid = k;
            continue;
        }
        let tail = &x[last_valid..k];
        let ok = *memo
            .entry(tail.to_vec())
            .or_insert_with(|| completable_by_brute_force(tail));
        if !ok {
            return Some(k);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Test inputs.

fn valid_cases() -> Vec<Vec<u8>> {
    let strs = [
        "",
        "a",
        "Hello, world! The quick brown fox jumps over the lazy dog.",
        "\u{0}\u{7F}",
        "κόσμε",                                        // Autobahn 6.2
        "\u{80}\u{7FF}",                                // 2-byte boundaries
        "\u{800}\u{FFFF}\u{D7FF}\u{E000}\u{FFFD}",      // 3-byte boundaries
        "\u{10000}\u{10FFFF}",                          // 4-byte boundaries
        "\u{FFFE}\u{FFFF}\u{1FFFE}\u{1FFFF}\u{10FFFE}", // noncharacters are valid
        "你好，世界！这是一个用来测试的中文句子。",
        "mixed 中文 and ASCII: 速度 test 123",
        "😀👍🏽👨‍👩‍👧‍👦🇺🇳",
        "a\u{80}b\u{800}c\u{10000}d",
    ];
    let mut cases: Vec<Vec<u8>> = strs.iter().map(|s| s.as_bytes().to_vec()).collect();
    // Long enough for the block-wise ASCII path, with a split character at
    // every position relative to the blocks.
    for pad in 0..40 {
        let mut s = "x".repeat(pad);
        s.push_str("€ and 𝄞 after ");
        s.push_str(&"y".repeat(70));
        s.push('中');
        cases.push(s.into_bytes());
    }
    cases
}

fn invalid_cases() -> Vec<Vec<u8>> {
    let mut cases: Vec<Vec<u8>> = vec![
        // Autobahn 6.3: a surrogate inside valid text.
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64".to_vec(),
        // Autobahn 6.4: above U+10FFFF, fail-fast in the middle of a message.
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64".to_vec(),
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90".to_vec(),
        // 5- and 6-byte forms (6.8, 6.10).
        b"\xf8\x88\x80\x80\x80".to_vec(),
        b"\xfc\x84\x80\x80\x80\x80".to_vec(),
        b"\xf7\xbf\xbf\xbf".to_vec(),
        b"\xfb\xbf\xbf\xbf\xbf".to_vec(),
        b"\xfd\xbf\xbf\xbf\xbf\xbf".to_vec(),
        // Above U+10FFFF (6.11).
        b"\xf4\x90\x80\x80".to_vec(),
        // Unexpected continuation bytes (6.12).
        b"\x80".to_vec(),
        b"\xbf".to_vec(),
        b"\x80\xbf".to_vec(),
        b"\x80\xbf\x80".to_vec(),
        b"\x80\xbf\x80\xbf".to_vec(),
        b"\x80\xbf\x80\xbf\x80".to_vec(),
        b"\x80\xbf\x80\xbf\x80\xbf".to_vec(),
        b"\x80\xbf\x80\xbf\x80\xbf\x80".to_vec(),
        (0x80..=0xbf).collect(),
        // Sequences with their last byte missing (6.14), some concatenated
        // (6.15).
        b"\xc0".to_vec(),
        b"\xe0\x80".to_vec(),
        b"\xf0\x80\x80".to_vec(),
        b"\xf8\x80\x80\x80".to_vec(),
        b"\xfc\x80\x80\x80\x80".to_vec(),
        b"\xdf".to_vec(),
        b"\xef\xbf".to_vec(),
        b"\xf7\xbf\xbf".to_vec(),
        b"\xfb\xbf\xbf\xbf".to_vec(),
        b"\xfd\xbf\xbf\xbf\xbf".to_vec(),
        b"\xc2".to_vec(),
        b"\xe1\x80".to_vec(),
        b"\xf0\x90\x80".to_vec(),
        b"\xf4\x8f\xbf".to_vec(),
        b"\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf".to_vec(),
        b"\xc2\xe1\x80\xf0\x90\x80".to_vec(),
        b"ok \xe2\x82".to_vec(),
        b"\xe2\x82 ok".to_vec(),
        // Impossible bytes (6.16).
        b"\xfe".to_vec(),
        b"\xff".to_vec(),
        b"\xfe\xfe\xff\xff".to_vec(),
        // Overlong ASCII (6.17), maximal overlongs (6.18), overlong NUL (6.19).
        b"\xc0\xaf".to_vec(),
        b"\xe0\x80\xaf".to_vec(),
        b"\xf0\x80\x80\xaf".to_vec(),
        b"\xf8\x80\x80\x80\xaf".to_vec(),
        b"\xfc\x80\x80\x80\x80\xaf".to_vec(),
        b"\xc1\xbf".to_vec(),
        b"\xe0\x9f\xbf".to_vec(),
        b"\xf0\x8f\xbf\xbf".to_vec(),
        b"\xf8\x87\xbf\xbf\xbf".to_vec(),
        b"\xfc\x83\xbf\xbf\xbf\xbf".to_vec(),
        b"\xc0\x80".to_vec(),
        b"\xe0\x80\x80".to_vec(),
        b"\xf0\x80\x80\x80".to_vec(),
        b"\xf8\x80\x80\x80\x80".to_vec(),
        b"\xfc\x80\x80\x80\x80\x80".to_vec(),
        // Single and paired surrogates (6.20, 6.21).
        b"\xed\xa0\x80".to_vec(),
        b"\xed\xad\xbf".to_vec(),
        b"\xed\xae\x80".to_vec(),
        b"\xed\xaf\xbf".to_vec(),
        b"\xed\xb0\x80".to_vec(),
        b"\xed\xbe\x80".to_vec(),
        b"\xed\xbf\xbf".to_vec(),
        b"\xed\xa0\x80\xed\xb0\x80".to_vec(),
        b"\xed\xaf\xbf\xed\xbf\xbf".to_vec(),
        // Invalid bytes after a long ASCII run (the block-wise path).
        [&[b'a'; 100][..], b"\xc3\x28"].concat(),
        [&[b'a'; 64][..], b"\xed\xa0\x80"].concat(),
        [&[b'a'; 31][..], b"\xff", &[b'b'; 40][..]].concat(),
    ];
    // A lone continuation byte among NULs, at every position of a block.
    for pos in 0..70 {
        let mut x = vec![0; 70];
        x[pos] = 0x80;
        cases.push(x);
    }
    // Lonely start bytes followed by a space (6.13).
    for lead in 0xc0..=0xfd_u8 {
        cases.push(vec![lead, b' ']);
    }
    cases
}

/// Every surrogate, ED A0 80..ED BF BF.
fn all_surrogates() -> impl Iterator<Item = [u8; 3]> {
    (0xa0..=0xbf_u8).flat_map(|b| (0x80..=0xbf_u8).map(move |c| [0xed, b, c]))
}

/// A sample of sequences above U+10FFFF: F4 90..BF xx xx and F5..FF leads.
fn above_max_sample() -> Vec<[u8; 4]> {
    let mut v: Vec<[u8; 4]> = (0x90..=0xbf).map(|b| [0xf4, b, 0x80, 0x80]).collect();
    v.extend((0xf5..=0xff).map(|lead| [lead, 0x80, 0x80, 0x80]));
    v.push([0xf4, 0xbf, 0xbf, 0xbf]);
    v
}

// ---------------------------------------------------------------------------
// Drivers.

/// Feeds `pieces` in order, then finishes. Returns the index of the call that
/// failed (`pieces.len()` for `finish`), or `None` if all succeeded.
fn feed_pieces(pieces: &[&[u8]]) -> Option<usize> {
    let mut v = Utf8Validator::new();
    for (i, piece) in pieces.iter().enumerate() {
        if v.feed(piece).is_err() {
            assert_eq!(v, Utf8Validator::new(), "an error resets the validator");
            return Some(i);
        }
    }
    v.finish().err().map(|InvalidUtf8| pieces.len())
}

/// Checks one split of `x`: the whole stream is accepted exactly when
/// `from_utf8` accepts it, and a piece fails exactly when it contains the end
/// of the shortest bad prefix.
fn check_split(x: &[u8], cuts: &[usize], first_bad: Option<usize>) {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([x.len()].iter()) {
        pieces.push(&x[start..cut]);
        start = cut;
    }
    let expected = match first_bad {
        // The piece holding byte `bad - 1`; an empty piece at that position
        // does not count.
        Some(bad) => Some(
            pieces
                .iter()
                .scan(0, |end, p| {
                    *end += p.len();
                    Some(*end)
                })
                .position(|end| end >= bad)
                .expect("bad <= len"),
        ),
        None if std::str::from_utf8(x).is_err() => Some(pieces.len()),
        None => None,
    };
    assert_eq!(
        feed_pieces(&pieces),
        expected,
        "input {x:02x?} cut at {cuts:?}: from_utf8 says {:?}",
        std::str::from_utf8(x).map(|_| ())
    );
    // Whole-stream equivalence, stated directly.
    assert_eq!(
        feed_pieces(&pieces).is_none(),
        std::str::from_utf8(x).is_ok()
    );
}

/// Checks `x` cut at every single point and, for short inputs, at every pair
/// of points.
fn check_all_splits(x: &[u8], memo: &mut HashMap<Vec<u8>, bool>) {
    let first_bad = first_bad_prefix(x, memo);
    for i in 0..=x.len() {
        check_split(x, &[i], first_bad);
        if x.len() <= 16 {
            for j in i..=x.len() {
                check_split(x, &[i, j], first_bad);
            }
        }
    }
}

/// Feeds `x` one byte at a time: the error must come at exactly the last byte
/// of the shortest bad prefix.
fn check_byte_by_byte(x: &[u8], memo: &mut HashMap<Vec<u8>, bool>) {
    let first_bad = first_bad_prefix(x, memo);
    let mut v = Utf8Validator::new();
    let failed_at = x.iter().position(|&b| v.feed(&[b]).is_err());
    assert_eq!(failed_at, first_bad.map(|k| k - 1), "input {x:02x?}");
    if failed_at.is_none() {
        assert_eq!(
            v.finish().is_ok(),
            std::str::from_utf8(x).is_ok(),
            "input {x:02x?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn reference_agrees_with_known_fail_fast_points() {
    let mut memo = HashMap::new();
    let known: [(&[u8], Option<usize>); 12] = [
        (b"abc", None),
        (b"\xe2\x82", None),
        (b"\xf4\x90", Some(2)),
        (b"\xed\xa0", Some(2)),
        (b"\xed\x9f", None),
        (b"\xe0\x80", Some(2)),
        (b"\xe0\xa0", None),
        (b"\xf0\x8f", Some(2)),
        (b"\xf5", Some(1)),
        (b"\xc0", Some(1)),
        (b"\xc1", Some(1)),
        (b"a\x80", Some(2)),
    ];
    for (x, bad) in known {
        assert_eq!(first_bad_prefix(x, &mut memo), bad, "{x:02x?}");
    }
}

#[test]
fn valid_inputs_pass_at_every_split() {
    let mut memo = HashMap::new();
    for x in valid_cases() {
        assert!(std::str::from_utf8(&x).is_ok());
        check_all_splits(&x, &mut memo);
    }
}

#[test]
fn invalid_inputs_fail_at_every_split() {
    let mut memo = HashMap::new();
    for x in invalid_cases() {
        assert!(std::str::from_utf8(&x).is_err(), "{x:02x?}");
        check_all_splits(&x, &mut memo);
        // Also behind valid text and before more text.
        let wrapped = [b"valid \xe2\x82\xac text ".as_slice(), &x, b" more"].concat();
        check_all_splits(&wrapped, &mut memo);
    }
}

#[test]
fn every_surrogate_fails_at_its_second_byte() {
    let mut memo = HashMap::new();
    for s in all_surrogates() {
        check_all_splits(&s, &mut memo);
        check_byte_by_byte(&s, &mut memo);
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&s[..1]), Ok(()));
        assert_eq!(v.feed(&s[1..2]), Err(InvalidUtf8), "{s:02x?}");
    }
}

#[test]
fn code_points_above_u10ffff_fail_fast() {
    let mut memo = HashMap::new();
    for s in above_max_sample() {
        check_all_splits(&s, &mut memo);
        check_byte_by_byte(&s, &mut memo);
    }
    let mut v = Utf8Validator::new();
    assert_eq!(v.feed(b"\xf4"), Ok(()));
    assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
}

#[test]
fn byte_by_byte_fails_at_the_first_hopeless_byte() {
    let mut memo = HashMap::new();
    for x in invalid_cases().iter().chain(valid_cases().iter()) {
        check_byte_by_byte(x, &mut memo);
    }
}

#[test]
fn every_two_byte_prefix_fails_fast_exactly_when_hopeless() {
    let mut memo = HashMap::new();
    for a in 0..=255_u8 {
        for b in 0..=255_u8 {
            check_byte_by_byte(&[a, b], &mut memo);
        }
    }
}

/// Mostly valid text with occasional damage: random bytes, truncated and
/// overlong sequences, surrogates.
fn random_input(rng: &mut Rng, max_len: usize, damage_per_mille: usize) -> Vec<u8> {
    let len = rng.below(max_len + 1);
    let mut x = Vec::with_capacity(len + 4);
    while x.len() < len {
        if rng.below(1000) < damage_per_mille {
            match rng.below(4) {
                0 => x.push(rng.next() as u8),
                1 => x.extend_from_slice(&"中😀é".as_bytes()[..1 + rng.below(3)]),
                2 => x.extend_from_slice(&[0xed, 0xa0 + rng.below(32) as u8, 0x80]),
                _ => x.extend_from_slice(&[0xe0, 0x80 + rng.below(32) as u8, 0x80]),
            }
            continue;
        }
        let c = match rng.below(10) {
            0..=4 => char::from(rng.below(0x80) as u8),
            5 => char::from_u32(0x80 + rng.below(0x780) as u32).unwrap(),
            6..=7 => char::from_u32(0x4e00 + rng.below(0x5200) as u32).unwrap(),
            8 => char::from_u32(0x800 + rng.below(0xF800) as u32).unwrap_or('\u{FFFD}'),
            _ => char::from_u32(0x10000 + rng.below(0x100000) as u32).unwrap(),
        };
        let mut buf = [0; 4];
        x.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    x
}

#[test]
fn random_inputs_split_at_random_points() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut memo = HashMap::new();
    let (mut valid, mut invalid) = (0, 0);
    for round in 0..3000 {
        let damage = [0, 2, 20, 200][round % 4];
        // Long inputs exercise the SIMD validator's main loop.
        let max_len = match round % 8 {
            4 | 5 => 5000,
            1 | 3 => 400,
            _ => 40,
        };
        let x = random_input(&mut rng, max_len, damage);
        if std::str::from_utf8(&x).is_ok() {
            valid += 1;
        } else {
            invalid += 1;
        }
        let first_bad = first_bad_prefix(&x, &mut memo);
        for _ in 0..4 {
            let mut cuts: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(x.len() + 1)).collect();
            cuts.sort_unstable();
            check_split(&x, &cuts, first_bad);
        }
        if x.len() <= 40 {
            check_byte_by_byte(&x, &mut memo);
        }
    }
    assert!(
        valid > 500 && invalid > 500,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn finish_rejects_a_pending_sequence_and_resets() {
    for partial in [
        &b"\xc3"[..],
        b"\xe2\x82",
        b"\xf0\x9f\x98",
        b"abc\xf4\x8f\xbf",
    ] {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(partial), Ok(()));
        assert!(!v.is_char_boundary());
        assert_eq!(v.finish(), Err(InvalidUtf8));
        assert_eq!(v, Utf8Validator::new());
        assert!(v.is_char_boundary());
        // Usable again: the next stream starts fresh.
        assert_eq!(v.feed(b"\x80"), Err(InvalidUtf8));
        assert_eq!(v.feed("ok ✓".as_bytes()), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }
}

#[test]
fn is_char_boundary_tracks_pending_sequences() {
    let mut v = Utf8Validator::default();
    assert_eq!(v, Utf8Validator::new());
    assert!(v.is_char_boundary());
    for (piece, boundary) in [
        (&b"a"[..], true),
        (b"\xf0", false),
        (b"\x9f", false),
        (b"", false),
        (b"\x98", false),
        (b"\x80", true),
        (b"\xe4\xb8\xad\xe6", false),
        (b"\x96\x87", true),
    ] {
        assert_eq!(v.feed(piece), Ok(()));
        assert_eq!(v.is_char_boundary(), boundary, "after {piece:02x?}");
    }
    assert_eq!(v.finish(), Ok(()));
}

#[test]
fn reset_forgets_a_pending_sequence() {
    let mut v = Utf8Validator::new();
    assert_eq!(v.feed(b"\xe2\x82"), Ok(()));
    v.reset();
    assert_eq!(v, Utf8Validator::new());
    // Without the reset this would complete the euro sign; now it is a lone
    // continuation byte.
    assert_eq!(v.feed(b"\xac"), Err(InvalidUtf8));
}

#[test]
fn error_displays_a_sentence() {
    assert_eq!(InvalidUtf8.to_string(), "invalid UTF-8 in text data");
}
