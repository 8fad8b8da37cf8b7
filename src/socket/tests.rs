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

// ------------------------------------------------------------ prepared messages

use ws13_codec::deflate::DeflateSettings;

use crate::prepared::PreparedMessage;

/// Everything queued, as one piece, then drops it from the queue.
fn take_transmit<K: MaskKeySource>(socket: &mut Socket<K>) -> Vec<u8> {
    let mut all = Vec::new();
    while socket.transmit_len() > 0 {
        let written = socket.with_transmit(|slices| {
            slices.iter().for_each(|slice| all.extend_from_slice(slice));
            slices.iter().map(|slice| slice.len()).sum::<usize>()
        });
        socket.advance_transmit(written);
    }
    all
}

/// The address of the first queued slice.
fn first_slice_at<K: MaskKeySource>(socket: &Socket<K>) -> *const u8 {
    socket.with_transmit(|slices| slices[0].as_ptr())
}

fn deflate_params(server_no_context_takeover: bool, server_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover,
        server_max_window_bits: server_bits,
        ..DeflateParams::default()
    }
}

fn deflate_server(params: DeflateParams, now: Instant) -> Socket {
    let extensions = Extensions::permessage_deflate(params, DeflateSettings::default());
    Socket::server(Config::default(), extensions, now)
}

fn deflate_client(params: DeflateParams, now: Instant) -> Socket<OsMaskKeys> {
    let extensions = Extensions::permessage_deflate(params, DeflateSettings::default());
    Socket::client(Config::default(), extensions, OsMaskKeys::new(), now)
}

/// Every message `bytes` carry, as the receiving socket delivers them.
fn receive_all<K: MaskKeySource>(socket: &mut Socket<K>, bytes: &[u8]) -> Vec<Message> {
    socket.handle_data(bytes);
    let mut messages = Vec::new();
    while let Some(message) = socket.poll_message().unwrap() {
        messages.push(message);
    }
    messages
}

/// A text long enough to be compressed, repetitive enough to shrink.
fn chatty_text(n: usize) -> String {
    (0..n)
        .map(|i| format!("line {} of the feed; ", i % 7))
        .collect()
}

#[test]
fn a_prepared_message_is_queued_on_every_server_socket_by_reference() {
    let now = Instant::now();
    let prepared = PreparedMessage::text("x".repeat(1024));
    let mut sockets: Vec<Socket> = (0..100).map(|_| server(now)).collect();
    for socket in &mut sockets {
        socket.send_prepared(&prepared).unwrap();
        assert_eq!(socket.transmit_len(), prepared.wire_len());
        // The very bytes of the prepared frame, not a copy.
        assert_eq!(first_slice_at(socket), prepared.frame().as_ptr());
        assert!(!socket.has_urgent_transmit(), "data is never urgent");
    }
    let mut client = Socket::client(
        Config::default(),
        Extensions::none(),
        OsMaskKeys::new(),
        now,
    );
    let bytes = take_transmit(&mut sockets[42]);
    assert_eq!(bytes, prepared.frame()[..]);
    assert_eq!(receive_all(&mut client, &bytes), [prepared.to_message()]);
}

#[test]
fn prepared_and_ordinary_messages_keep_their_order() {
    let now = Instant::now();
    let mut socket = server(now);
    let prepared = PreparedMessage::binary(vec![9u8; 300]);
    socket.send(Message::text("before")).unwrap();
    socket.send_prepared(&prepared).unwrap();
    socket.send(Message::text("after")).unwrap();
    socket.send_prepared(&prepared).unwrap();
    let mut client = Socket::client(
        Config::default(),
        Extensions::none(),
        OsMaskKeys::new(),
        now,
    );
    let bytes = take_transmit(&mut socket);
    let expected = [
        Message::text("before"),
        prepared.to_message(),
        Message::text("after"),
        prepared.to_message(),
    ];
    assert_eq!(receive_all(&mut client, &bytes), expected);
}

#[test]
fn a_prepared_message_after_our_close_is_refused_and_the_close_stays_last() {
    let now = Instant::now();
    let mut socket = server(now);
    let prepared = PreparedMessage::text("news");
    socket.send_prepared(&prepared).unwrap();
    socket.close(CloseCode::GOING_AWAY, "bye").unwrap();
    assert!(socket.has_urgent_transmit());
    assert!(matches!(
        socket.send_prepared(&prepared),
        Err(Error::Send(SendError::CloseAlreadySent))
    ));
    let bytes = take_transmit(&mut socket);
    // The message, then the close frame, and nothing after it.
    assert!(bytes.starts_with(b"\x81\x04news"));
    assert_eq!(&bytes[6..], b"\x88\x05\x03\xe9bye");
}

#[test]
fn a_pong_queued_behind_prepared_messages_is_urgent() {
    let now = Instant::now();
    let mut socket = server(now);
    let prepared = PreparedMessage::text("tick");
    socket.send_prepared(&prepared).unwrap();
    assert!(!socket.has_urgent_transmit());
    let mut client = Connection::client(Config::default(), OsMaskKeys::new());
    socket.handle_data(&client.ping(b"hb").unwrap());
    assert_eq!(
        socket.poll_message().unwrap(),
        Some(Message::Ping(Bytes::from_static(b"hb")))
    );
    assert!(socket.has_urgent_transmit());
    let bytes = take_transmit(&mut socket);
    assert_eq!(bytes, b"\x81\x04tick\x8a\x02hb");
}

#[test]
fn the_send_buffer_limit_counts_prepared_messages() {
    let now = Instant::now();
    let mut socket = server(now);
    let prepared = PreparedMessage::binary(vec![1u8; 1024]);
    let mut sent = 0;
    while !socket.is_send_buffer_full() {
        socket.send_prepared(&prepared).unwrap();
        sent += 1;
    }
    assert_eq!(sent, WRITE_HIGH_WATER / prepared.wire_len() + 1);
    assert_eq!(socket.transmit_len(), sent * prepared.wire_len());
}

#[test]
fn without_server_context_takeover_a_message_is_compressed_once_for_all() {
    let now = Instant::now();
    let params = deflate_params(true, 15);
    let prepared = PreparedMessage::text(chatty_text(60));
    let mut sockets: Vec<Socket> = (0..10).map(|_| deflate_server(params, now)).collect();
    for socket in &mut sockets {
        socket.send_prepared(&prepared).unwrap();
    }
    let first = first_slice_at(&sockets[0]);
    assert!(sockets.iter().all(|socket| first_slice_at(socket) == first));
    let compressed = take_transmit(&mut sockets[3]);
    assert!(compressed.len() < prepared.wire_len() / 4, "compressed");
    assert_eq!(compressed[0], 0x80 | 0x40 | 0x01, "FIN, RSV1, text");
    // What the connection's own compressor makes of it is the same.
    let mut own = deflate_server(params, now);
    own.send(prepared.to_message()).unwrap();
    assert_eq!(take_transmit(&mut own), compressed);
    // And a client inflates it, twice in a row (no context carried over).
    let mut client = deflate_client(params, now);
    let twice = [compressed.clone(), compressed].concat();
    let expected = [prepared.to_message(), prepared.to_message()];
    assert_eq!(receive_all(&mut client, &twice), expected);
}

#[test]
fn each_distinct_window_gets_its_own_shared_compression() {
    let now = Instant::now();
    let prepared = PreparedMessage::binary(chatty_text(200).into_bytes());
    let (small, large) = (deflate_params(true, 9), deflate_params(true, 15));
    let mut on_small = [deflate_server(small, now), deflate_server(small, now)];
    let mut on_large = [deflate_server(large, now), deflate_server(large, now)];
    for socket in on_small.iter_mut().chain(on_large.iter_mut()) {
        socket.send_prepared(&prepared).unwrap();
    }
    assert_eq!(first_slice_at(&on_small[0]), first_slice_at(&on_small[1]));
    assert_eq!(first_slice_at(&on_large[0]), first_slice_at(&on_large[1]));
    assert_ne!(first_slice_at(&on_small[0]), first_slice_at(&on_large[0]));
    let mut small_client = deflate_client(small, now);
    let mut large_client = deflate_client(large, now);
    let small_bytes = take_transmit(&mut on_small[1]);
    let large_bytes = take_transmit(&mut on_large[1]);
    assert_eq!(
        receive_all(&mut small_client, &small_bytes),
        [prepared.to_message()]
    );
    assert_eq!(
        receive_all(&mut large_client, &large_bytes),
        [prepared.to_message()]
    );
}

#[test]
fn with_context_takeover_each_connection_compresses_in_step_with_its_peer() {
    let now = Instant::now();
    let params = deflate_params(false, 15);
    let prepared = PreparedMessage::text(chatty_text(40));
    let mut socket = deflate_server(params, now);
    let mut client = deflate_client(params, now);
    socket.send_prepared(&prepared).unwrap();
    socket.send(Message::text(chatty_text(41))).unwrap();
    socket.send_prepared(&prepared).unwrap();
    let bytes = take_transmit(&mut socket);
    let expected = [
        prepared.to_message(),
        Message::text(chatty_text(41)),
        prepared.to_message(),
    ];
    assert_eq!(receive_all(&mut client, &bytes), expected);
    // The second copy referred back to the first: smaller than a fresh one.
    let mut fresh = deflate_server(deflate_params(true, 15), now);
    fresh.send_prepared(&prepared).unwrap();
    assert!(bytes.len() < 3 * fresh.transmit_len());
}

#[test]
fn a_short_prepared_message_goes_uncompressed_and_shared() {
    let now = Instant::now();
    let prepared = PreparedMessage::text("hi");
    let mut socket = deflate_server(deflate_params(true, 15), now);
    socket.send_prepared(&prepared).unwrap();
    assert_eq!(first_slice_at(&socket), prepared.frame().as_ptr());
    assert_eq!(take_transmit(&mut socket), b"\x81\x02hi");
}

#[test]
fn a_client_masks_a_prepared_message_with_its_own_key() {
    let now = Instant::now();
    let prepared = PreparedMessage::text("from the client");
    let mut client = Socket::client(
        Config::default(),
        Extensions::none(),
        OsMaskKeys::new(),
        now,
    );
    client.send_prepared(&prepared).unwrap();
    let bytes = take_transmit(&mut client);
    assert_eq!(bytes[1] & 0x80, 0x80, "masked");
    let mut server = server(now);
    assert_eq!(receive_all(&mut server, &bytes), [prepared.to_message()]);
}
