//! A test harness that drives a `Connection` the way an I/O driver would: a
//! growable buffer, input appended in chunks, events copied out, and every
//! frame from `poll_transmit` collected.
#![allow(dead_code)]

use ws13_codec::{CloseCode, Connection, Event, MaskKeySource, MessageKind};

/// Deterministic masking keys for tests (a real client uses a strong RNG).
pub struct TestKeys(pub u32);

impl MaskKeySource for TestKeys {
    fn next_mask_key(&mut self) -> [u8; 4] {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0.to_be_bytes()
    }
}

/// A small deterministic PRNG (xorshift64*), so property tests are repeatable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn fill(&mut self, bytes: &mut [u8]) {
        for byte in bytes {
            *byte = self.next() as u8;
        }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// An owned copy of an event (or of the error that ended the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Data {
        kind: MessageKind,
        payload: Vec<u8>,
        start: bool,
        end: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
    /// The connection failed with this close code.
    Failed(u16),
}

/// What feeding a byte stream produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub seen: Vec<Seen>,
    /// Everything `poll_transmit` produced, in order.
    pub transmitted: Vec<u8>,
    /// The largest the receive buffer ever got.
    pub peak_buffer: usize,
}

impl Outcome {
    /// Data chunks merged into whole messages.
    pub fn messages(&self) -> Vec<(MessageKind, Vec<u8>)> {
        let mut messages = Vec::new();
        let mut current: Option<(MessageKind, Vec<u8>)> = None;
        for seen in &self.seen {
            if let Seen::Data {
                kind,
                payload,
                start,
                end,
            } = seen
            {
                if *start {
                    assert!(current.is_none(), "a message started inside another");
                    current = Some((*kind, Vec::new()));
                }
                let message = current.as_mut().expect("data chunk outside a message");
                assert_eq!(message.0, *kind);
                message.1.extend_from_slice(payload);
                if *end {
                    messages.push(current.take().unwrap());
                }
            }
        }
        messages
    }

    pub fn failed_with(&self) -> Option<u16> {
        self.seen.iter().find_map(|s| match s {
            Seen::Failed(code) => Some(*code),
            _ => None,
        })
    }

    pub fn non_data(&self) -> Vec<Seen> {
        self.seen
            .iter()
            .filter(|s| !matches!(s, Seen::Data { .. }))
            .cloned()
            .collect()
    }
}

/// Feeds `wire` to `conn` in chunks whose sizes `next_chunk` picks; stops at the
/// first error. `max_buffer` caps how much the harness buffers (a fixed-size
/// receive buffer); `usize::MAX` for a growable one.
pub fn feed<K: MaskKeySource>(
    conn: &mut Connection<K>,
    wire: &[u8],
    mut next_chunk: impl FnMut() -> usize,
    max_buffer: usize,
) -> Outcome {
    let mut out = Outcome::default();
    let mut buffer: Vec<u8> = Vec::new();
    let mut offset = 0;
    loop {
        let room = max_buffer.saturating_sub(buffer.len());
        let take = next_chunk().max(1).min(wire.len() - offset).min(room);
        buffer.extend_from_slice(&wire[offset..offset + take]);
        offset += take;
        out.peak_buffer = out.peak_buffer.max(buffer.len());
        loop {
            let result = conn.receive(&mut buffer);
            drain(conn, &mut out.transmitted);
            match result {
                Ok(received) => {
                    let event = received.event.map(|e| own(&e));
                    let consumed = received.consumed;
                    buffer.drain(..consumed);
                    match event {
                        Some(seen) => out.seen.push(seen),
                        None => break,
                    }
                }
                Err(e) => {
                    out.seen.push(Seen::Failed(e.close_code().0));
                    return out;
                }
            }
        }
        if offset == wire.len() {
            return out;
        }
        assert!(
            take > 0,
            "the {max_buffer}-byte buffer is full and the connection consumed nothing"
        );
    }
}

/// Feeds all of `wire` at once.
pub fn feed_all<K: MaskKeySource>(conn: &mut Connection<K>, wire: &[u8]) -> Outcome {
    feed(conn, wire, || usize::MAX, usize::MAX)
}

pub fn drain<K: MaskKeySource>(conn: &mut Connection<K>, out: &mut Vec<u8>) {
    while let Some(frame) = conn.poll_transmit() {
        out.extend_from_slice(&frame);
    }
}

pub fn own(event: &Event<'_>) -> Seen {
    match event {
        Event::Data(chunk) => Seen::Data {
            kind: chunk.kind,
            payload: chunk.payload.to_vec(),
            start: chunk.message_start,
            end: chunk.message_end,
        },
        Event::Ping(p) => Seen::Ping(p.to_vec()),
        Event::Pong(p) => Seen::Pong(p.to_vec()),
        Event::Close(frame) => Seen::Close(frame.map(|f| (f.code.0, f.reason.to_string()))),
        _ => panic!("unknown event {event:?}"),
    }
}

/// Builds a frame by hand (for crafting violations the API refuses to produce).
pub fn raw_frame(first_byte: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first_byte];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => frame.push(mask_bit | n as u8),
        n if n <= 0xFFFF => {
            frame.push(mask_bit | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(mask_bit | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            frame.extend_from_slice(&key);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => frame.extend_from_slice(payload),
    }
    frame
}

/// A masked client frame, as a server receives it.
pub fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(first_byte, Some([0x11, 0x22, 0x33, 0x44]), payload)
}

/// A close frame's expected bytes from a server (unmasked) with `code` and an
/// arbitrary reason: returns the code the transmitted close carries.
pub fn close_code_of(frame: &[u8]) -> Option<u16> {
    assert_eq!(frame[0], 0x88, "not a close frame: {frame:?}");
    let len = (frame[1] & 0x7F) as usize;
    let body_at = if frame[1] & 0x80 != 0 { 6 } else { 2 };
    let mut body = frame[body_at..body_at + len].to_vec();
    if frame[1] & 0x80 != 0 {
        let key = [frame[2], frame[3], frame[4], frame[5]];
        for (i, b) in body.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    (len >= 2).then(|| u16::from_be_bytes([body[0], body[1]]))
}

pub const NORMAL: CloseCode = CloseCode::NORMAL;
