//! Outgoing bytes waiting for the transport: frame headers and small payloads
//! copied into one arena, large server payloads kept as their own [`Bytes`]
//! segments, so that everything produced while handling one read goes out in a
//! single vectored write and a large payload is never copied.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};

/// Payloads at least this long are queued by reference instead of copied.
const COPY_BELOW: usize = 4096;

/// The most slices handed to one vectored write (Linux's `UIO_MAXIOV` is 1024).
const MAX_SLICES: usize = 64;

/// A drained arena keeps its allocation up to this size, for the next batch;
/// a larger one (after a burst) is freed.
const ARENA_KEEP: usize = 16 * 1024;

#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    /// Segments ready to write, in order.
    segments: VecDeque<Bytes>,
    /// Bytes appended after the last segment; those before `arena_start`
    /// are written already. A plain `Vec`: once written out it is reused
    /// from its start, with no bookkeeping for shared views.
    arena: Vec<u8>,
    arena_start: usize,
    /// Total bytes queued.
    len: usize,
}

impl OutQueue {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a copy of `bytes`.
    pub(crate) fn push_copy(&mut self, bytes: &[u8]) {
        self.arena.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Queues `bytes`, by reference when large.
    pub(crate) fn push_bytes(&mut self, bytes: Bytes) {
        if bytes.len() < COPY_BELOW {
            return self.push_copy(&bytes);
        }
        self.seal_arena();
        self.len += bytes.len();
        self.segments.push_back(bytes);
    }

    /// Queues `bytes` by reference whatever its size: bytes shared with
    /// other connections (a prepared message) are never copied per queue.
    pub(crate) fn push_shared(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        self.seal_arena();
        self.len += bytes.len();
        self.segments.push_back(bytes);
    }

    /// Appends `len` bytes from `bytes` and returns them for in-place changes
    /// (masking).
    pub(crate) fn push_copy_mut(&mut self, bytes: &[u8]) -> &mut [u8] {
        let start = self.arena.len();
        self.push_copy(bytes);
        &mut self.arena[start..]
    }

    /// The arena's bytes not written yet.
    fn unwritten_arena(&self) -> &[u8] {
        &self.arena[self.arena_start..]
    }

    fn seal_arena(&mut self) {
        if !self.unwritten_arena().is_empty() {
            // The segment takes the allocation along, without a copy.
            let arena = Bytes::from(std::mem::take(&mut self.arena));
            self.segments.push_back(arena.slice(self.arena_start..));
            self.arena_start = 0;
        }
    }

    /// Calls `write` with the front of the queue as I/O slices, and returns
    /// what it returns. When the queue is one contiguous slice (the usual
    /// case: small frames are copied into the arena) `write` gets exactly
    /// one, so a driver can make a plain write (`send` on a socket), which
    /// costs the kernel less than a one-element `writev`.
    pub(crate) fn with_io_slices<R>(&self, write: impl FnOnce(&[IoSlice<'_>]) -> R) -> R {
        if let Some(only) = self.as_single_slice() {
            return write(&[IoSlice::new(only)]);
        }
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let count = self.io_slices(&mut slices);
        write(&slices[..count])
    }

    /// The whole queue when it is one contiguous slice.
    fn as_single_slice(&self) -> Option<&[u8]> {
        match (self.segments.len(), self.unwritten_arena().is_empty()) {
            (0, _) => Some(self.unwritten_arena()),
            (1, true) => self.segments.front().map(|segment| &segment[..]),
            _ => None,
        }
    }

    /// Fills `out` with the front of the queue for a vectored write and returns
    /// how many slices it used.
    fn io_slices<'a>(&'a self, out: &mut [IoSlice<'a>; MAX_SLICES]) -> usize {
        let mut count = 0;
        for segment in self.segments.iter().take(MAX_SLICES) {
            out[count] = IoSlice::new(segment);
            count += 1;
        }
        let arena = self.unwritten_arena();
        if count < MAX_SLICES && count == self.segments.len() && !arena.is_empty() {
            out[count] = IoSlice::new(arena);
            count += 1;
        }
        count
    }

    /// Drops `written` bytes from the front after a write.
    pub(crate) fn advance(&mut self, mut written: usize) {
        self.len -= written;
        while written > 0 {
            match self.segments.front_mut() {
                Some(front) if front.len() <= written => {
                    written -= front.len();
                    self.segments.pop_front();
                }
                Some(front) => {
                    front.advance(written);
                    return;
                }
                None => {
                    self.arena_start += written;
                    if self.arena_start == self.arena.len() {
                        self.arena_start = 0;
                        if self.arena.capacity() > ARENA_KEEP {
                            self.arena = Vec::new();
                        } else {
                            self.arena.clear();
                        }
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(queue: &OutQueue) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let count = queue.io_slices(&mut slices);
        slices[..count]
            .iter()
            .flat_map(|s| s.iter().copied())
            .collect()
    }

    #[test]
    fn a_single_slice_is_offered_only_when_it_is_the_whole_queue() {
        let mut queue = OutQueue::default();
        assert_eq!(queue.as_single_slice(), Some(&[][..]));
        queue.push_copy(b"head");
        queue.push_bytes(Bytes::from_static(b"small"));
        assert_eq!(queue.as_single_slice(), Some(&b"headsmall"[..]));

        let large = Bytes::from(vec![7u8; 10_000]);
        queue.push_bytes(large.clone());
        assert_eq!(queue.as_single_slice(), None);
        queue.advance(b"headsmall".len() + 1);
        assert_eq!(queue.as_single_slice(), Some(&large[1..]));
        queue.push_copy(b"tail");
        assert_eq!(queue.as_single_slice(), None);
        queue.advance(large.len() - 1);
        assert_eq!(queue.as_single_slice(), Some(&b"tail"[..]));
    }

    #[test]
    fn small_and_large_pieces_keep_their_order_across_partial_writes() {
        let mut queue = OutQueue::default();
        let large = Bytes::from(vec![7u8; 10_000]);
        queue.push_copy(b"head1");
        queue.push_bytes(large.clone());
        queue.push_copy(b"head2");
        queue.push_bytes(Bytes::from_static(b"small"));
        let mut expected = b"head1".to_vec();
        expected.extend_from_slice(&large);
        expected.extend_from_slice(b"head2small");
        assert_eq!(queue.len(), expected.len());
        assert_eq!(collect(&queue), expected);
        // Write in awkward pieces: the rest is always the expected suffix.
        let mut written = 0;
        for step in [3, 2, 9_000, 1_000, 4, 1] {
            queue.advance(step);
            written += step;
            assert_eq!(collect(&queue), expected[written..]);
        }
        queue.advance(expected.len() - written);
        assert!(queue.is_empty());
    }

    #[test]
    fn shared_bytes_are_queued_by_reference_in_order() {
        let mut queue = OutQueue::default();
        let shared = Bytes::from_static(b"\x81\x03abc");
        queue.push_copy(b"pong");
        queue.push_shared(shared.clone());
        queue.push_shared(shared.clone());
        queue.push_copy(b"close");
        assert_eq!(queue.len(), 4 + 2 * shared.len() + 5);
        assert_eq!(collect(&queue), b"pong\x81\x03abc\x81\x03abcclose");
        // The queue holds the very bytes, not a copy of them.
        assert_eq!(queue.segments[1].as_ptr(), shared.as_ptr());
        assert_eq!(queue.segments[2].as_ptr(), shared.as_ptr());
        queue.advance(6);
        assert_eq!(collect(&queue), b"abc\x81\x03abcclose");
    }

    #[test]
    fn a_drained_arena_is_reused_and_a_large_one_freed() {
        let mut queue = OutQueue::default();
        queue.push_copy(b"first batch");
        let allocation = queue.arena.as_ptr();
        queue.advance(5);
        queue.advance(queue.len());
        queue.push_copy(b"second");
        assert_eq!(queue.arena.as_ptr(), allocation);
        assert_eq!(queue.as_single_slice(), Some(&b"second"[..]));
        queue.advance(queue.len());

        for _ in 0..100 {
            queue.push_copy(&[1; 1000]);
        }
        queue.advance(queue.len());
        assert_eq!(queue.arena.capacity(), 0);
    }
}
