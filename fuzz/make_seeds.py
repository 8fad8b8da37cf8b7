#!/usr/bin/env python3
"""Writes the hand-made seed inputs under fuzz/seeds/: the RFC 6455 §5.7
examples and the byte strings of codec/tests/*.rs and handshake/tests/*.rs,
framed in each target's input layout (see fuzz/targets/*.rs). The socket
target's hand-made seeds are written here too, in its input layout. The other
structured targets (roundtrip, handshake_structured) get their seeds from a
fuzzing run, minimised with `cargo fuzz cmin` (see README.md).

Run from anywhere: python3 fuzz/make_seeds.py
"""
import hashlib
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def masked(b0, payload, key=KEY):
    """A client frame (masked) with first byte b0."""
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n <= 0xFFFF:
        head = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return head + key + body


def plain(b0, payload):
    """A server frame (unmasked) with first byte b0."""
    n = len(payload)
    if n < 126:
        head = bytes([b0, n])
    elif n <= 0xFFFF:
        head = bytes([b0, 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 127]) + struct.pack(">Q", n)
    return head + payload


def code(c, reason=b""):
    return struct.pack(">H", c) + reason


# (name, [(first byte, payload)...]) streams, from RFC 6455 §5.7 and the
# codec tests (rfc6455_examples, protocol_violations, close_handshake, utf8).
STREAMS = [
    ("rfc_hello", [(0x81, b"Hello")]),
    ("rfc_fragmented_hello", [(0x01, b"Hel"), (0x80, b"lo")]),
    ("rfc_ping_hello", [(0x89, b"Hello")]),
    ("rfc_pong_hello", [(0x8A, b"Hello")]),
    ("rfc_binary_256", [(0x82, bytes(range(256)))]),
    ("close_1000_bye", [(0x81, b"hi"), (0x88, code(1000, b"bye"))]),
    ("close_empty", [(0x88, b"")]),
    ("close_one_byte", [(0x88, b"\x03")]),
    ("close_999", [(0x88, code(999))]),
    ("close_1005", [(0x88, code(1005))]),
    ("close_1015", [(0x88, code(1015))]),
    ("close_5000", [(0x88, code(5000))]),
    ("close_bad_utf8", [(0x88, code(1000, b"\xff\xfe"))]),
    ("reserved_opcode_3", [(0x83, b"")]),
    ("reserved_opcode_b", [(0x8B, b"")]),
    ("rsv1_text", [(0xC1, b"x")]),
    ("fragmented_ping", [(0x09, b"x")]),
    ("ping_126", [(0x89, b"a" * 126)]),
    ("continuation_first", [(0x80, b"x")]),
    ("text_inside_message", [(0x01, b"a"), (0x81, b"b")]),
    ("fragments_with_ping", [(0x02, b"ab"), (0x89, b"p"), (0x00, b"cd"), (0x80, b"ef")]),
    ("utf8_kosme", [(0x81, "κόσμε".encode())]),
    ("utf8_surrogate", [(0x81, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")]),
    ("utf8_truncated", [(0x81, b"ab\xe2\x82")]),
    ("utf8_split_over_frames", [(0x01, b"\xf4"), (0x80, b"\x90\x80\x80")]),
    ("data_after_close", [(0x88, code(1000)), (0x81, b"after")]),
    ("three_fragments", [(0x02, bytes(100)), (0x00, bytes(40)), (0x80, bytes(20))]),
    ("empty_frames", [(0x01, b""), (0x00, b""), (0x80, b"")]),
]

# Raw frames whose headers no helper can write.
RAW = [
    ("len16_non_minimal", bytes([0x82, 0xFE, 0x00, 0x05]) + KEY + b"\x01\x02\x03\x04\x05"),
    ("len64_non_minimal", bytes([0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00]) + KEY),
    ("len64_top_bit", bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + KEY),
    ("len64_minimal", bytes([0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]) + KEY + b"abc"),
]

REQUEST_KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="


def head(start, headers):
    return ("\r\n".join([start] + headers) + "\r\n\r\n").encode()


BASE = ["Host: example.com", "Upgrade: websocket", "Connection: Upgrade", REQUEST_KEY,
        "Sec-WebSocket-Version: 13"]

# From handshake/tests/server.rs.
REQUESTS = [
    ("minimal", head("GET /chat HTTP/1.1", BASE + ["Origin: https://example.com", "Cookie: a=1"])),
    ("chrome", head("GET /chat HTTP/1.1", [
        "Host: localhost:8080", "Connection: Upgrade", "Pragma: no-cache",
        "Cache-Control: no-cache",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Upgrade: websocket", "Origin: http://localhost:8080", "Sec-WebSocket-Version: 13",
        "Accept-Encoding: gzip, deflate, br", "Accept-Language: en-US,en;q=0.9", REQUEST_KEY,
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])),
    ("firefox", head("GET /chat HTTP/1.1", [
        "Host: localhost:8080", "Sec-WebSocket-Version: 13", "Origin: http://localhost:8080",
        "Sec-WebSocket-Extensions: permessage-deflate", REQUEST_KEY,
        "Connection: keep-alive, Upgrade", "Sec-Fetch-Mode: websocket", "Upgrade: websocket"])),
    ("protocols_extensions", head("GET /chat HTTP/1.1", BASE + [
        "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Protocol: v2",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10",
        "Sec-WebSocket-Extensions: x-bar; a=b"])),
    ("plain_http", head("GET /health HTTP/1.1", ["Host: example.com", "Accept: */*"])),
    ("h2c_upgrade", head("POST / HTTP/1.1", ["Host: a", "Connection: Upgrade, HTTP2-Settings",
                                             "Upgrade: h2c"])),
    ("nginx_stripped", head("GET /chat HTTP/1.1", ["Host: example.com", "Connection: close",
                                                   REQUEST_KEY, "Sec-WebSocket-Version: 13"])),
    ("version_8", head("GET /chat HTTP/1.1", [h if "Version" not in h else "Sec-WebSocket-Version: 8"
                                              for h in BASE])),
    ("duplicate_connection", head("GET /chat HTTP/1.1", BASE + ["Connection: keep-alive"])),
    ("bad_key", head("GET /chat HTTP/1.1", [h if "Key" not in h else "Sec-WebSocket-Key: short"
                                            for h in BASE])),
    ("quoted_ext", head("GET /chat HTTP/1.1", BASE + ['Sec-WebSocket-Extensions: x; a="a b"'])),
    ("http10", head("GET /chat HTTP/1.0", BASE)),
    ("lf_only", b"GET / HTTP/1.1\nHost: a\nUpgrade: websocket\n\n"),
    ("blank_lines_first", b"\r\n\r\n" + head("GET /chat HTTP/1.1", BASE)),
    ("frames_after", head("GET /chat HTTP/1.1", BASE) + masked(0x81, b"Hello")),
    ("pipelined", head("GET / HTTP/1.1", ["Host: a"]) + b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("tls_hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
]

ACCEPT = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
OK = ["Upgrade: websocket", "Connection: Upgrade", ACCEPT]

# From handshake/tests/client.rs.
RESPONSES = [
    ("ok", head("HTTP/1.1 101 Switching Protocols", OK)),
    ("ok_protocol", head("HTTP/1.1 101 Switching Protocols", OK + ["Sec-WebSocket-Protocol: chat"])),
    ("ok_deflate", head("HTTP/1.1 101 Switching Protocols",
                        OK + ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10"])),
    ("ok_then_frame", head("HTTP/1.1 101 Switching Protocols", OK) + b"\x81\x05hello"),
    ("two_connection", head("HTTP/1.1 101 Switching Protocols", OK + ["Connection: keep-alive"])),
    ("wrong_accept", head("HTTP/1.1 101 Switching Protocols",
                          ["Upgrade: websocket", "Connection: Upgrade",
                           "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="])),
    ("unoffered_protocol", head("HTTP/1.1 101 Switching Protocols", OK + ["Sec-WebSocket-Protocol: x"])),
    ("two_extensions", head("HTTP/1.1 101 Switching Protocols", OK + [
        "Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Extensions: permessage-deflate"])),
    ("status_503", b"HTTP/1.1 503 \r\n\r\n"),
    ("status_403", head("HTTP/1.1 403 Forbidden", ["Content-Length: 0"])),
    ("ssh", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
]


# The socket target (fuzz/targets/socket.rs): the raw stream, a Setup, then
# operations, each an opcode byte and little-endian arguments.
(FEED, READ, RAW_BYTES, FILLER, PEER_DATA, PEER_CONTROL, SEND, CLOSE, WRITE, ADVANCE, TIMEOUT, EOF,
 TRANSPORT_ERROR, POLL) = range(14)
CLIENT, DEFLATE, NO_AUTO_PONG, HEARTBEAT, LARGE_LIMITS = 1, 2, 4, 8, 16


def setup(flags=0, max_frame=0, max_message=0, partial=0, close_timeout=1000, interval=0,
          timeout=0, deflate_flags=0, server_bits=7, client_bits=7, level=6, min_compress=0,
          key_seed=0x0BADC0DE):
    return struct.pack("<BHHHHHHBBBBBI", flags, max_frame, max_message, partial, close_timeout,
                       interval, timeout, deflate_flags, server_bits, client_bits, level,
                       min_compress, key_seed)


def op(code, fmt="", *args):
    return bytes([code]) + struct.pack("<" + fmt, *args)


def feed(n=0xFFFF):
    return op(FEED, "H", n)


def read(n=0xFFFF):
    return op(READ, "H", n)


def peer_data(flags, length, seed=1, frames=0, at=0):
    """flags: 1 text, 2 compressed, 4 a ping after fragment `at`."""
    return op(PEER_DATA, "BHBBB", flags, length, seed, frames, at)


def peer_control(kind, length=0, code=0):
    """kind: 0 ping, 1 pong, 2 close (code index into CLOSE_CODES), 3 empty close, 4 pong
    answering our last ping."""
    return op(PEER_CONTROL, "BBH", kind, length, code)


def send(kind, length, seed=1):
    """kind: 0 text, 1 binary, 2 ping, 3 pong."""
    return op(SEND, "BHB", kind, length, seed)


def flush(n=0):
    return op(WRITE, "H", n)


def socket_input(stream, setup_bytes, *ops):
    return struct.pack("<H", len(stream)) + stream + setup_bytes + b"".join(ops)


SOCKETS = [
    # The peer's "hello" arrives, the application answers, the answer goes out.
    ("echo", socket_input(b"", setup(), peer_data(1, 5), feed(), send(0, 5), flush())),
    ("echo_client", socket_input(b"", setup(CLIENT), peer_data(1, 5), read(), send(0, 5),
                                 flush(3), flush())),
    # RFC 6455 §5.7's masked "Hello" as raw bytes, read in pieces.
    ("rfc_hello_pieces", socket_input(masked(0x81, b"Hello"), setup(), read(3), feed(4),
                                      read(0xFFFF), send(1, 5), flush())),
    ("fragmented", socket_input(b"", setup(), peer_data(0, 300, 2, 3), read(100), read(0),
                                feed(50), read(), flush())),
    ("ping_in_fragments", socket_input(b"", setup(CLIENT), peer_data(1 | 4, 40, 3, 2, 1),
                                       feed(7), feed(7), feed(7), feed(), flush())),
    ("peer_close", socket_input(b"", setup(), peer_control(2, 3, 0), feed(), flush(),
                                op(TIMEOUT, "B", 0), op(EOF))),
    ("our_close", socket_input(b"", setup(CLIENT), op(CLOSE, "HB", 0, 4), op(TIMEOUT, "B", 0),
                               flush(), peer_control(2, 0, 0), feed(), op(TIMEOUT, "B", 0))),
    ("deflate", socket_input(b"", setup(DEFLATE), peer_data(1 | 2, 200, 4, 1), feed(),
                             send(0, 300, 4), flush(), peer_data(2, 1000, 6), read())),
    ("deflate_client_no_takeover", socket_input(
        b"", setup(CLIENT | DEFLATE, deflate_flags=3, server_bits=1, client_bits=2),
        peer_data(2, 3000, 5, 2), read(1000), read(), send(1, 2000, 5), flush(100), flush())),
    ("garbage", socket_input(bytes([0x83, 0x80]) + KEY + b"\x00\xff" * 8, setup(), feed(3),
                             feed(), flush())),
    ("rsv1_without_deflate", socket_input(masked(0xC1, b"x"), setup(), feed(), flush())),
    ("heartbeat", socket_input(b"", setup(HEARTBEAT, interval=100, timeout=50),
                               op(TIMEOUT, "B", 0), flush(), peer_control(4), feed(),
                               op(ADVANCE, "H", 120), flush(), op(ADVANCE, "H", 60))),
    ("announced_16m", socket_input(bytes([0x82, 0xFF, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF]) + KEY,
                                   setup(LARGE_LIMITS), feed(), read(0),
                                   op(FILLER, "HB", 60000, 7), read(), read(), feed())),
    ("partial_frames", socket_input(b"", setup(partial=100), peer_data(0, 5000, 8), read(1000),
                                    read(1000), feed(10), read())),
    ("frame_too_big", socket_input(b"", setup(max_frame=100), peer_data(0, 200, 9), feed(),
                                   flush())),
]


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    for name, frames in STREAMS:
        client_bytes = b"".join(masked(b0, p) for b0, p in frames)
        server_bytes = b"".join(plain(b0, p) for b0, p in frames)
        write("connection_server", name, struct.pack("<H", len(client_bytes)) + client_bytes)
        write("connection_client", name, struct.pack("<H", len(server_bytes)) + server_bytes)
        b0, payload = frames[0]
        write("frame_header", name + "_server", b"\x00" + masked(b0, payload)[:14])
        write("frame_header", name + "_client", b"\x80" + plain(b0, payload)[:14])
    for name, raw in RAW:
        write("connection_server", name, struct.pack("<H", len(raw)) + raw)
        write("frame_header", name, b"\x00" + raw[:14])
    write("frame_header", "rsv1_allowed", b"\x04" + masked(0xC1, b"x"))
    write("frame_header", "rfc_binary_64k", b"\x80" + bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]))
    for name, data in REQUESTS:
        write("handshake_request", name, b"\x00\x07" + data)
    write("handshake_request", "lenient_duplicate_connection",
          b"\x01\x01" + dict(REQUESTS)["duplicate_connection"])
    write("handshake_request", "small_limits", b"\x08\x03" + dict(REQUESTS)["chrome"])
    for name, data in RESPONSES:
        write("handshake_response", name, b"\x06\x05" + data)
    write("handshake_response", "ok_no_offers", b"\x00\x01" + dict(RESPONSES)["ok"])
    for name, data in SOCKETS:
        write("socket", name, data)


if __name__ == "__main__":
    main()
