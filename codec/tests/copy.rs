//! `copy`: payload copies split into pieces exactly in `memcpy`'s slow
//! window (destination 0–31 bytes past the source modulo 4096), and every
//! way of copying gives the source back.

use ws13_codec::copy::{copy_payload, copy_pieces, extend_payload};

const PAGE: usize = 4096;
const PIECE: usize = 2048;

fn piece_lengths(src: &[u8], dst: *const u8) -> Vec<usize> {
    copy_pieces(src, dst).map(<[u8]>::len).collect()
}

#[test]
fn one_piece_unless_the_destination_is_just_ahead_modulo_4096() {
    let src = vec![0u8; 3 * PAGE];
    let base = src.as_ptr();
    for ahead in [32, 33, 100, 2048, 4064, 4095] {
        for pages in [0, 1, 7] {
            let dst = base.wrapping_add(pages * PAGE + ahead);
            assert_eq!(piece_lengths(&src, dst), [src.len()], "ahead {ahead}");
        }
    }
    for ahead in [0, 1, 8, 14, 31] {
        let dst = base.wrapping_add(5 * PAGE + ahead);
        let lengths = piece_lengths(&src, dst);
        assert_eq!(lengths, [PIECE; 6], "ahead {ahead}");
    }
    // Below the source, outside the window: one piece.
    assert_eq!(piece_lengths(&src, base.wrapping_sub(8)), [src.len()]);
    // A short source in the window is still one piece; an empty one has none.
    assert_eq!(piece_lengths(&src[..100], base.wrapping_add(8)), [100]);
    assert_eq!(piece_lengths(&[], base), Vec::<usize>::new());
}

#[test]
fn copies_and_appends_give_the_source_back_at_every_offset() {
    let src: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut dst = vec![0u8; src.len() + 64];
    for shift in 0..64 {
        let from = shift % 5;
        let to = shift..shift + src.len() - from;
        copy_payload(&mut dst[to.clone()], &src[from..]);
        assert_eq!(&dst[to], &src[from..], "shift {shift}");
    }
    let mut message = Vec::new();
    for piece in src.chunks(4099) {
        extend_payload(&mut message, piece);
    }
    assert_eq!(message, src);
}
