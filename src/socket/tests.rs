//! The socket's buffer policy and timers, on virtual time.

use bytes::BufMut;
use ws13_codec::frame::OpCode;

use super::*;
use crate::mask_keys::OsMaskKeys;

/// Masked client frames carrying `payload`, split into `fragments` frames.
fn client_frames(payload: &[u8], fragments: usize) -> Vec<u8> {
    let mut client = Connection::client(Config::default(), OsMaskKeys::new());
    let mut out = Vec::new();
    let piece = payload.len().div_ceil(fragments).max(1);
    for (i, chunk) in payload.chunks(piece).enumerate() {
        let opcode = if i == 0 {
            OpCode::Binary
        } else {
            OpCode::Continuation
        };
        let fin = (i + 1) * piece >= payload.len();
        let mut frame = vec![0; chunk.len() + 14];
        let len = client
            .encode_data_frame(opcode, fin, chunk, &mut frame)
            .unwrap();
        out.extend_from_slice(&frame[..len]);
    }
    out
}

fn server(now: Instant) -> Socket {
    Socket::server(Config::default(), Extensions::none(), now)
}

impl<K: MaskKeySource> Socket<K> {
    /// Whether the read buffer owns more than [`READ_CHUNK`] bytes of room,
    /// whatever its view's `capacity` says (which counts only the room after
    /// the view; `try_reclaim` sees the whole allocation).
    fn owns_large_read_buffer(&mut self) -> bool {
        self.read_buf.capacity() > READ_CHUNK || self.read_buf.try_reclaim(READ_CHUNK + 1)
    }

    /// Reads `bytes` the way a driver that reads in place does.
    fn read_in_place(&mut self, bytes: &[u8]) {
        let buf = self
            .input_buffer()
            .expect("the socket wants the read in place");
        assert!(buf.capacity() - buf.len() >= bytes.len(), "room reserved");
        buf.put_slice(bytes);
        self.handle_read();
    }
}

#[test]
fn a_grown_buffer_is_reused_once_its_payload_is_gone_and_released_when_idle() {
    let start = Instant::now();
    let payload = vec![7u8; 64 * 1024];
    let mut socket = server(start);
    socket.handle_data(&client_frames(&payload, 1));
    let message = socket.poll_message().unwrap().unwrap();
    assert_eq!(message, Message::binary(payload.clone()));
    // Shared with the payload: not reusable, so let go of.
    assert!(socket.input_buffer().is_none());
    assert!(!socket.owns_large_read_buffer());
    assert!(!socket.holds_grown_read_buffer());
    assert_eq!(message, Message::binary(payload.clone()));

    socket.handle_data(&client_frames(&payload, 1));
    drop(socket.poll_message().unwrap().unwrap());
    // The payload is gone: the whole allocation is there to read into.
    let buffer = socket.input_buffer().expect("the kept buffer");
    assert!(buffer.capacity() > payload.len());
    // The keep timer started with the growth; past it, the buffer goes.
    assert_eq!(socket.poll_timeout(), Some(start));
    socket.handle_timeout(start);
    let release = socket.release_deadline().expect("armed");
    assert_eq!(release, start + KEEP_GROWN_READ_BUFFER);
    socket.handle_timeout(release);
    assert!(!socket.owns_large_read_buffer());
    assert!(socket.input_buffer().is_none());
}

#[test]
fn a_buffer_grown_for_a_short_frame_in_pieces_is_not_kept() {
    let frame = client_frames(b"a short message", 1);
    let mut socket = server(Instant::now());
    socket.handle_data(&frame[..5]);
    assert_eq!(socket.poll_message().unwrap(), None);
    socket.read_in_place(&frame[5..]);
    assert!(socket.holds_grown_read_buffer());
    assert_eq!(
        socket.poll_message().unwrap(),
        Some(Message::binary(b"a short message".to_vec()))
    );
    assert!(socket.input_buffer().is_none());
    assert!(!socket.owns_large_read_buffer());
}

#[test]
fn a_buffer_holding_part_of_a_frame_is_not_released() {
    let start = Instant::now();
    let frame = client_frames(&vec![1u8; 64 * 1024], 1);
    let mut socket = server(start);
    socket.handle_data(&frame[..READ_CHUNK]);
    assert_eq!(socket.poll_message().unwrap(), None);
    socket.handle_timeout(start);
    socket.handle_timeout(start + KEEP_GROWN_READ_BUFFER);
    assert!(socket.holds_grown_read_buffer());
    // Looked at again later.
    assert_eq!(
        socket.release_deadline(),
        Some(start + 2 * KEEP_GROWN_READ_BUFFER)
    );
}

#[test]
fn an_idle_buffer_is_released_after_a_large_fragmented_message() {
    let start = Instant::now();
    let payload: Vec<u8> = (0..80 * 1024).map(|i| i as u8).collect();
    let mut socket = server(start);
    socket.handle_data(&client_frames(&payload, 2));
    assert_eq!(
        socket.poll_message().unwrap().unwrap(),
        Message::binary(payload)
    );
    // The fragments were copied out; the buffer looks small but still
    // owns the allocation they arrived in, until the connection goes idle.
    socket.handle_timeout(start);
    socket.handle_timeout(start + KEEP_GROWN_READ_BUFFER);
    assert!(!socket.owns_large_read_buffer());
}

#[test]
fn the_first_read_of_a_large_frame_reserves_room_for_all_of_it() {
    let frame = client_frames(&vec![1u8; 64 * 1024], 1);
    let mut socket = server(Instant::now());
    socket.handle_data(&frame[..READ_CHUNK]);
    assert_eq!(socket.poll_message().unwrap(), None);
    let buffer = socket.input_buffer().unwrap();
    // Room for all of it and more: the read that completes the frame comes
    // back short, which tells the transport it drained the socket.
    assert!(buffer.capacity() > frame.len());
    let before = buffer.as_ptr();
    socket.read_in_place(&frame[READ_CHUNK..]);
    // The rest landed in the same allocation: no grow-and-copy.
    assert_eq!(socket.read_buf.as_ptr(), before);
    assert_eq!(
        socket.poll_message().unwrap(),
        Some(Message::binary(vec![1u8; 64 * 1024]))
    );
}

#[test]
fn an_announced_length_reserves_only_what_arrival_justifies() {
    // A 14-byte header announcing 16 MiB: the buffer grows with what
    // arrives, never with what was announced.
    let mut client = Connection::client(Config::default(), OsMaskKeys::new());
    let header = client
        .data_frame_header(OpCode::Binary, true, 16 << 20)
        .unwrap();
    let mut socket = server(Instant::now());
    socket.handle_data(header.bytes());
    assert_eq!(socket.poll_message().unwrap(), None);
    let reserved = socket.input_buffer().unwrap().capacity();
    assert!(
        reserved <= MIN_RESERVE_AHEAD + READ_SLACK + 64,
        "{reserved}"
    );
    // As bytes arrive, the room ahead grows geometrically.
    let mut arrived = header.bytes().len();
    let mut steps = 0;
    while arrived < 4 << 20 {
        let buf = socket.input_buffer().unwrap();
        let room = buf.capacity() - buf.len();
        assert!(room <= (MIN_RESERVE_AHEAD.max(buf.len())) + READ_SLACK + READ_CHUNK);
        buf.put_bytes(0, room);
        socket.handle_read();
        arrived += room;
        steps += 1;
        assert_eq!(socket.poll_message().unwrap(), None);
    }
    assert!(steps < 20, "geometric growth took {steps} steps");
}

#[test]
fn small_messages_keep_reusing_one_small_buffer() {
    let mut socket = server(Instant::now());
    let mut first_buffer = None;
    for round in 0..3u8 {
        let frames: Vec<u8> = (0..8)
            .flat_map(|_| client_frames(&[round; 16], 1))
            .collect();
        socket.handle_data(&frames);
        // Every round reads into the allocation of the first: no
        // allocation per read once the echoed payloads are gone.
        let buffer = socket.read_buf.as_ptr();
        assert_eq!(*first_buffer.get_or_insert(buffer), buffer);
        for _ in 0..8 {
            assert_eq!(
                socket.poll_message().unwrap(),
                Some(Message::binary(vec![round; 16]))
            );
        }
        assert!(socket.read_buf.is_empty());
        assert!(!socket.owns_large_read_buffer());
    }
}

#[test]
fn close_starts_its_timer_at_once_and_a_server_closes_the_transport_when_done() {
    let start = Instant::now();
    let mut socket = server(start);
    let later = start + Duration::from_secs(5);
    socket.close(CloseCode::NORMAL, "bye").unwrap();
    // A deadline in the past: call handle_timeout now.
    assert_eq!(socket.poll_timeout(), Some(start));
    socket.handle_timeout(later);
    assert_eq!(
        socket.poll_timeout(),
        Some(later + Config::default().close_timeout)
    );
    assert_eq!(socket.poll_transport(), TransportStatus::Open);
    // The peer never answers: the close timeout ends it.
    socket.handle_timeout(later + Config::default().close_timeout);
    assert_eq!(socket.state(), State::Closed);
    assert!(matches!(
        socket.poll_message(),
        Err(Error::ConnectionClosed)
    ));
    // The close frame is still queued (the peer reads nothing): finish it,
    // bounded.
    assert_eq!(socket.poll_transport(), TransportStatus::Finishing);
    socket.advance_transmit(socket.transmit_len());
    assert_eq!(socket.poll_transport(), TransportStatus::Close);
}

#[test]
fn a_close_reply_goes_out_even_when_the_peer_half_closed() {
    let mut client = Connection::client(Config::default(), OsMaskKeys::new());
    let close = client.close(CloseCode::NORMAL, "").unwrap();
    let mut socket = server(Instant::now());
    socket.handle_data(&close);
    socket.handle_eof();
    assert!(matches!(
        socket.poll_message(),
        Ok(Some(Message::Close(Some(_))))
    ));
    assert!(socket.transmit_len() > 0);
    assert_eq!(socket.poll_transport(), TransportStatus::Finishing);
    socket.advance_transmit(socket.transmit_len());
    assert_eq!(socket.poll_transport(), TransportStatus::Close);
    assert!(matches!(
        socket.poll_message(),
        Err(Error::ConnectionClosed)
    ));
}

#[test]
fn after_end_of_file_without_a_close_the_application_may_still_send_its_close() {
    let start = Instant::now();
    let mut socket = server(start);
    socket.handle_eof();
    assert!(matches!(socket.poll_message(), Err(Error::AbnormalClosure)));
    // The peer may only have half-closed: nothing is decided for it.
    assert_eq!(socket.poll_transport(), TransportStatus::Open);
    socket
        .close(CloseCode::GOING_AWAY, "shutting down")
        .unwrap();
    // Its answer will never come: finish by writing the close, then close.
    assert_eq!(socket.poll_transport(), TransportStatus::Finishing);
    socket.handle_timeout(start);
    assert_eq!(
        socket.poll_timeout(),
        Some(start + Config::default().close_timeout)
    );
    socket.advance_transmit(socket.transmit_len());
    assert_eq!(socket.poll_transport(), TransportStatus::Close);
}
