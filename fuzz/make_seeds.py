#!/usr/bin/env python3
"""Writes the committed seed inputs under seeds/<target>/.

Run from anywhere: python3 fuzz/make_seeds.py. The files are binary-exact;
rerunning rewrites them identically.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")

# RFC 6455 §5.7's masking key.
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(opcode, payload=b"", fin=True, key=None):
    """One frame with the minimal length encoding, masked if key is given."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mask = 0x80 if key else 0
    if n <= 125:
        head = bytes([b0, mask | n])
    elif n <= 0xFFFF:
        head = bytes([b0, mask | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mask | 127]) + struct.pack(">Q", n)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def chunks(data, size=127):
    """The connection target's input steps: a length byte (< 0x80), then bytes."""
    out = b""
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        out += bytes([len(piece)]) + piece
    return out


# Connection target flags and commands (see fuzz_targets/connection.rs).
CLIENT, SERVER, SMALL, STREAM, LAZY, DIRECT, DEFLATE = 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def cmd(op, *args):
    return bytes([0x80 | op]) + b"".join(
        a if isinstance(a, bytes) else bytes([a]) for a in args
    )


def send_text(text):
    return cmd(0, len(text), text)


def send_binary(data):
    return cmd(1, len(data), data)


def ping(data):
    return cmd(2, len(data), data)


def close(code=None, reason=b""):
    if code is None:
        return cmd(4)
    return cmd(5, struct.pack(">H", code), len(reason), reason)


def fragment(data, text=False, last=False):
    return cmd(6, (1 if text else 0) | (2 if last else 0), len(data), data)


WRITE_ALL, WRITE_SOME, EOF, POLL = cmd(8), lambda n: cmd(9, n), cmd(10), cmd(11)


def send_big(units, fill=0x41):
    """A binary message of units * 64 bytes."""
    return cmd(12, units, fill)


def consume_past_end(extra):
    return cmd(13, extra)

hello_masked = frame(0x1, b"Hello", key=KEY)
assert hello_masked == bytes.fromhex("818537fa213d7f9f4d5158")

SEED_FILES = {
    "frame_header": {
        # RFC 6455 §5.7 examples.
        "text_hello_unmasked": frame(0x1, b"Hello"),
        "text_hello_masked": hello_masked,
        "fragment_first_hel": frame(0x1, b"Hel", fin=False),
        "fragment_last_lo": frame(0x0, b"lo"),
        "ping_hello": frame(0x9, b"Hello"),
        "pong_hello_masked": frame(0xA, b"Hello", key=KEY),
        "binary_256_header": bytes([0x82, 0x7E, 0x01, 0x00]),
        "binary_64k_header": bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0, 0]),
        "close_1000_masked": frame(0x8, close_payload(1000, b"bye"), key=KEY),
        "close_empty": frame(0x8),
    },
    "connection": {
        # RFC 7692 §7.2.3.1: "Hello" compressed, one frame with RSV1; then
        # the same message sent back, compressed by the connection.
        "server_deflate_hello": bytes([SERVER | DEFLATE])
        + chunks(frame(0x41, bytes.fromhex("f248cdc9c90700"), key=KEY))
        + send_text(b"Hello Hello Hello Hello"),
        "client_deflate_hello_split": bytes([CLIENT | DEFLATE])
        + chunks(frame(0x41, bytes.fromhex("f248cdc9c90700")), 3),
        "server_text_hello": bytes([SERVER]) + chunks(hello_masked),
        "server_hello_split": bytes([SERVER]) + chunks(hello_masked, 3),
        "server_fragmented_with_ping": bytes([SERVER])
        + chunks(frame(0x1, b"Hel", fin=False, key=KEY))
        + chunks(frame(0x9, b"Hello", key=KEY))
        + chunks(frame(0x0, b"lo", key=KEY)),
        "server_ping_then_close": bytes([SERVER])
        + chunks(frame(0x9, b"Hello", key=KEY) + frame(0x8, close_payload(1000, b"bye"), key=KEY)),
        "server_commands_close_handshake": bytes([SERVER])
        + send_text(b"hi")
        + ping(b"x")
        + chunks(frame(0xA, b"x", key=KEY))
        + close(1000, b"bye")
        + chunks(frame(0x8, close_payload(1000), key=KEY)),
        "client_text_hello": bytes([CLIENT]) + chunks(frame(0x1, b"Hello")),
        "client_fragmented": bytes([CLIENT])
        + chunks(frame(0x1, b"Hel", fin=False))
        + chunks(frame(0x0, b"lo")),
        "client_binary_256": bytes([CLIENT]) + chunks(frame(0x2, bytes(range(256)))),
        "client_small_limits_too_big": bytes([CLIENT | SMALL]) + chunks(frame(0x2, bytes(200))),
        "client_streaming_utf8": bytes([CLIENT | STREAM])
        + chunks(frame(0x1, "h\u00e9".encode()[:2], fin=False))
        + chunks(frame(0x0, "h\u00e9\u20ac".encode()[2:])),
        "client_lazy_fragments_and_pings": bytes([CLIENT | LAZY])
        + fragment(b"ab")
        + chunks(frame(0x9, b"1") + frame(0x9, b"2"))
        + POLL
        + fragment(b"cd", last=True)
        + WRITE_SOME(1)
        + send_binary(b"xyz")
        + POLL
        + close()
        + WRITE_ALL
        + chunks(frame(0x8)),
        "client_lazy_pong_backlog": bytes([CLIENT | LAZY])
        + send_big(80)
        + chunks(frame(0x9, b"a") + frame(0x9, b"b"))
        + POLL
        + POLL
        + WRITE_SOME(255)
        + chunks(frame(0x9, b"c"))
        + POLL
        + consume_past_end(9)
        + close(1001)
        + WRITE_ALL,
        "client_invalid_close_code": bytes([CLIENT]) + chunks(frame(0x8, close_payload(1005))),
        "client_eof_mid_message": bytes([CLIENT]) + chunks(frame(0x1, b"Hel", fin=False)) + EOF,
    },
    "handshake_request": {
        # RFC 6455 §1.3.
        "rfc6455_example": b"GET /chat HTTP/1.1\r\n"
        b"Host: server.example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Origin: http://example.com\r\n"
        b"Sec-WebSocket-Protocol: chat, superchat\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
        "trailing_frame": b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n"
        b"upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
        b"sec-websocket-key: x3JJHMbDL1EzLkh9GBhXDw==\r\nsec-websocket-version: 13\r\n\r\n"
        + hello_masked,
        "version_8": b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        "post": b"POST /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "partial": b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgr",
    },
    "handshake_response": {
        # @ACCEPT@ is replaced with the right Sec-WebSocket-Accept by the target.
        "switching_protocols_chat": b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: @ACCEPT@\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
        "switching_protocols_trailing_frame": b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        b"Sec-WebSocket-Accept: @ACCEPT@\r\n\r\n\x81\x05Hello",
        "switching_protocols_wrong_accept": b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "switching_protocols_extension": b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: @ACCEPT@\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        "too_many_requests_body": b"HTTP/1.1 429 Too Many Requests\r\n"
        b"Retry-After: 30\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nslow",
        "forbidden_no_length": b"HTTP/1.1 403 Forbidden\r\n\r\nno",
    },
}

# pair: flags (bit 0 deflate, bit 1 small limits, bit 2 short timers), then
# steps `c` (`c % 12`: 0 text, 1 binary, 2 ping, 3 close, 4-7 deliver,
# 8-9 advance the clock by 50 ms units, 10-11 take events; bit 7 picks the
# server's side for sends, pings, closes and deliveries).
PAIR_CLIENT, PAIR_SERVER = 0x00, 0x80


def step(op, side=PAIR_CLIENT):
    return bytes([side | op])


def pair_deliver(side, units):
    return step(4, side) + bytes([units])


def pair_advance(units):
    return step(8) + bytes([units])


SEED_FILES["pair"] = {
    # Messages both ways, delivered, then the client closes.
    "echo_then_close": bytes([0])
    + step(0) + bytes([5]) + pair_deliver(PAIR_CLIENT, 50)
    + step(1, PAIR_SERVER) + bytes([7]) + pair_deliver(PAIR_SERVER, 50)
    + step(3) + bytes([0]) + pair_deliver(PAIR_CLIENT, 50) + pair_deliver(PAIR_SERVER, 50),
    # Short timers: pings answered while the clock moves 0.5 s at a time.
    "keepalive_answered": bytes([4])
    + (pair_advance(10) + pair_deliver(PAIR_CLIENT, 50) + pair_deliver(PAIR_SERVER, 50)) * 8,
    # Short timers: the server never hears back; keepalive fails it.
    "keepalive_silent": bytes([4]) + pair_advance(30) + pair_advance(30) + step(10, PAIR_SERVER),
    # Compressed messages both ways, partly delivered, then the idle timeout.
    "deflate_partial_then_idle": bytes([5])
    + step(0) + bytes([40]) + pair_deliver(PAIR_CLIENT, 3)
    + step(0, PAIR_SERVER) + bytes([40]) + pair_deliver(PAIR_SERVER, 200) + pair_deliver(PAIR_CLIENT, 200)
    + pair_advance(70),
    # The server closes and the client never answers: the close timeout.
    "close_unanswered": bytes([4]) + step(3, PAIR_SERVER) + bytes([1]) + pair_advance(50),
}

for target, files in SEED_FILES.items():
    directory = os.path.join(SEEDS, target)
    os.makedirs(directory, exist_ok=True)
    for name, data in files.items():
        assert len(data) <= 400, (target, name, len(data))
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
