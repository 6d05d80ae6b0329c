"""Python `websockets` client against an rws echo server (`rws serve`), with
permessage-deflate in several negotiated variants.

    python interop/client.py ws://127.0.0.1:PORT/echo
    python interop/client.py wss://localhost:PORT/echo CA.pem

Over wss:// it trusts only the CA certificate given (and checks the name).

For each variant it connects, checks the agreed extension (the response's
`Sec-WebSocket-Extensions` and the extension object websockets built from
it), sends a set of messages and checks that each echo has the same kind and
content, then closes with 1000. Prints `PASS`/`FAIL` lines; exits 1 if any
check failed.
"""

import asyncio
import ssl
import sys

import websockets
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)

from common import check, deflate_line, describe, exit_status, log, mixed_bytes
from common import DeflateSpy, repetitive_text

MAX_SIZE = 16 << 20
BIG_TEXT = repetitive_text(100 << 10)


def messages():
    """(what, payload, compressible): payloads are str (text) or bytes
    (binary); a list is sent as one fragmented message."""
    return [
        ("text 'hello'", "hello", False),
        ("100 KiB repetitive text", BIG_TEXT, True),
        # Again: with context takeover it refers to the first copy.
        ("100 KiB repetitive text, again", BIG_TEXT, True),
        ("50 KiB binary of mixed bytes (incompressible)", mixed_bytes(50 << 10), False),
        ("1 MiB binary of zeros (ratio ~1000:1)", bytes(1 << 20), True),
        ("empty text", "", False),
        ("empty binary", b"", False),
        ("3-byte binary", b"\x00\xff\x80", False),
        ("text in 5 fragments", ["fragment %d é " % i * 40 for i in range(5)], True),
        ("non-ASCII text", "héllo wörld ✓ 🦀 " * 20, True),
    ]


# name, connect() keyword arguments, what the answer must contain, what the
# agreed extension must be (None: no extension) as websockets sees it.
VARIANTS = [
    (
        "default compression='deflate'",
        dict(compression="deflate"),
        # What else the answer holds is the server's policy.
        ["permessage-deflate"],
        dict(),
    ),
    (
        "no context takeover, 10-bit windows",
        dict(
            extensions=[
                ClientPerMessageDeflateFactory(
                    server_no_context_takeover=True,
                    client_no_context_takeover=True,
                    server_max_window_bits=10,
                    client_max_window_bits=10,
                )
            ],
            compression=None,
        ),
        ["permessage-deflate", "server_no_context_takeover",
         "server_max_window_bits=10", "client_max_window_bits=10"],
        dict(
            remote_no_context_takeover=True,
            local_no_context_takeover=True,
            remote_max_window_bits=10,
            local_max_window_bits=10,
        ),
    ),
    (
        "9-bit windows (the smallest a server can produce)",
        dict(
            extensions=[
                ClientPerMessageDeflateFactory(
                    server_max_window_bits=9, client_max_window_bits=9
                )
            ],
            compression=None,
        ),
        ["permessage-deflate", "server_max_window_bits=9", "client_max_window_bits=9"],
        dict(remote_max_window_bits=9, local_max_window_bits=9),
    ),
    (
        "server_max_window_bits=8 (must be declined, RFC 7692 7.1.2.1)",
        dict(
            extensions=[ClientPerMessageDeflateFactory(server_max_window_bits=8)],
            compression=None,
        ),
        None,
        None,
    ),
    ("no compression offered", dict(compression=None), None, None),
]


def same(sent, echo):
    if isinstance(sent, list):
        sent = "".join(sent) if isinstance(sent[0], str) else b"".join(sent)
    return type(sent) is type(echo) and sent == echo, sent


async def run_variant(url, name, kwargs, must_contain, expected, tls):
    log(f"--- {name}")
    if tls is not None:
        kwargs = dict(kwargs, ssl=tls)
    async with connect(url, max_size=MAX_SIZE, open_timeout=10, close_timeout=10,
                       **kwargs) as ws:
        header = ws.response.headers.get("Sec-WebSocket-Extensions")
        extensions = ws.protocol.extensions
        extension = extensions[0] if extensions else None
        log(f"offered:  {ws.request.headers.get('Sec-WebSocket-Extensions')}")
        log(f"answered: {header}")
        log(deflate_line(extension, "client"))
        if must_contain is None:
            check(header is None and not extensions,
                  f"[{name}] no extension agreed (answer: {header!r})")
        else:
            params = [p.strip() for p in (header or "").split(";")]
            missing = [p for p in must_contain if p not in params]
            check(header is not None and not missing,
                  f"[{name}] answer {header!r} has {must_contain}"
                  + (f" (missing {missing})" if missing else ""))
            ok = len(extensions) == 1 and isinstance(extension, PerMessageDeflate)
            wrong = {k: getattr(extension, k, None) for k, v in expected.items()
                     if getattr(extension, k, None) != v}
            check(ok and not wrong,
                  f"[{name}] websockets agreed {extension!r}"
                  + (f" (expected {expected})" if wrong else ""))
            offer = ws.request.headers.get("Sec-WebSocket-Extensions") or ""
            if "client_no_context_takeover" in offer:
                log("note: client_no_context_takeover offered; the answer "
                    + ("echoes it" if "client_no_context_takeover" in params
                       else "does not echo it (allowed: RFC 7692 7.1.1.2)"))

        spy = DeflateSpy(ws)
        for what, payload, compressible in messages():
            before = len(spy.compressed)
            await ws.send(payload)
            echo = await asyncio.wait_for(ws.recv(), 20)
            ok, sent = same(payload, echo)
            check(ok, f"[{name}] {what} echoed"
                  + ("" if ok else f" (sent {describe(sent)}, got {describe(echo)})"))
            if extension is not None and compressible:
                compressed = spy.compressed[before] if len(spy.compressed) > before else None
                check(compressed is True, f"[{name}] rws compressed its echo of the {what}")
        if extension is not None:
            expected_checked = sum(spy.compressed)
            check(not spy.errors and spy.checked == expected_checked,
                  f"[{name}] rws's {spy.checked}/{expected_checked} compressed echoes inflate "
                  f"within the agreed {spy.bits}-bit window"
                  + (f" (errors: {spy.errors})" if spy.errors else ""))
        await ws.close(1000, "done")
        received = ws.protocol.close_rcvd
        check(received is not None and received.code == 1000,
              f"[{name}] close handshake: rws answered {received}")


async def main(url, cafile):
    log(f"websockets {websockets.__version__}")
    tls = ssl.create_default_context(cafile=cafile) if cafile else None
    if tls is not None:
        log(f"TLS: trusting only {cafile}")
    for name, kwargs, must_contain, expected in VARIANTS:
        try:
            await run_variant(url, name, kwargs, must_contain, expected, tls)
        except Exception as e:  # any failure of a variant is one failed check
            check(False, f"[{name}] {type(e).__name__}: {e}")
    return exit_status()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: client.py ws://HOST:PORT/echo | wss://HOST:PORT/echo CA.pem")
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)))
