"""A Python `websockets` client that speaks Redis's protocol (RESP) through
`rws bridge --listen ws://... --to tcp://REDIS`, as noVNC speaks RFB
through websockify: binary messages, the `binary` subprotocol.

    python bridge/client.py ws://127.0.0.1:PORT/redis

Prints `PASS`/`FAIL` lines; exits 1 if any check failed.
"""

import asyncio
import os
import sys

import websockets

# The PASS/FAIL reporting of the interop checks.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import common  # noqa: E402
from common import check  # noqa: E402


def resp(*words):
    """A command in Redis's protocol: an array of bulk strings."""
    out = b"*%d\r\n" % len(words)
    for word in words:
        word = word.encode() if isinstance(word, str) else word
        out += b"$%d\r\n%s\r\n" % (len(word), word)
    return out


async def ask(ws, request, want):
    """Sends `request`, reads until `want` came (replies may be split)."""
    await ws.send(request)
    got = b""
    while len(got) < len(want):
        message = await asyncio.wait_for(ws.recv(), 10)
        if not isinstance(message, bytes):
            return f"a text message {message!r}"
        got += message
    return got


async def main(url):
    async with websockets.connect(url, subprotocols=["binary"], compression=None) as ws:
        check(ws.subprotocol == "binary", f"the bridge selected 'binary' ({ws.subprotocol!r})")
        got = await ask(ws, b"PING\r\n", b"+PONG\r\n")
        check(got == b"+PONG\r\n", f"PING through the bridge: {got!r}")
        value = "héllo ✓".encode()
        got = await ask(ws, resp("SET", "rws:bridge", value), b"+OK\r\n")
        check(got == b"+OK\r\n", f"SET through the bridge: {got!r}")
        want = b"$%d\r\n%s\r\n" % (len(value), value)
        got = await ask(ws, resp("GET", "rws:bridge"), want)
        check(got == want, f"GET through the bridge: {got!r}")
        # 1 MiB in one message: the bridge writes it all to Redis, which
        # answers once it has the whole command.
        big = b"x" * (1 << 20)
        got = await ask(ws, resp("SET", "rws:big", big), b"+OK\r\n")
        check(got == b"+OK\r\n", f"a 1 MiB SET through the bridge: {got!r}")
        got = await ask(ws, b"STRLEN rws:big\r\n", b":1048576\r\n")
        check(got == b":1048576\r\n", f"STRLEN of it: {got!r}")
    check(ws.close_code == 1000, f"closed with 1000 ({ws.close_code})")


asyncio.run(main(sys.argv[1]))
sys.exit(1 if common.FAILED else 0)
