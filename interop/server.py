"""Python `websockets` echo server with permessage-deflate, for the rws
client (`examples/interop_client.rs`).

    python interop/server.py [default|lean]

Listens on 127.0.0.1 on a free port and prints `port: N` on stdout. For each
connection it prints the agreed parameters as this end sees them, in
interop_client's format (`deflate: ...`), and when the connection ends
`done: messages=N compressed=M window_checked=K window_errors=E close=CODE`:
M messages arrived compressed, K of them inflated within the agreed client
window (see common.DeflateSpy), E did not. Variants:

- default: `compression="deflate"` (websockets' defaults: 12-bit windows).
- lean: a ServerPerMessageDeflateFactory with no context takeover in both
  directions and server_max_window_bits=11.

Stops after 50 s if not killed first.
"""

import asyncio
import ssl
import sys

import websockets
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from common import DeflateSpy, deflate_line, log

MAX_SIZE = 16 << 20
LIFETIME = 50


def options(variant):
    if variant == "default":
        return dict(compression="deflate")
    if variant == "lean":
        return dict(
            compression=None,
            extensions=[
                ServerPerMessageDeflateFactory(
                    server_no_context_takeover=True,
                    client_no_context_takeover=True,
                    server_max_window_bits=11,
                )
            ],
        )
    sys.exit(f"unknown variant {variant!r}")


async def echo(ws):
    log(f"offered:  {ws.request.headers.get('Sec-WebSocket-Extensions')}")
    log(f"answered: {ws.response.headers.get('Sec-WebSocket-Extensions')}")
    extensions = ws.protocol.extensions
    print(deflate_line(extensions[0] if extensions else None, "server"), flush=True)
    spy = DeflateSpy(ws)
    count = 0
    try:
        async for message in ws:
            await ws.send(message)
            count += 1
    except ConnectionClosed as e:
        log(f"connection failed: {e}")
    for error in spy.errors:
        log(f"window check: {error}")
    received = ws.protocol.close_rcvd
    print(
        f"done: messages={count} compressed={sum(spy.compressed)} "
        f"window_checked={spy.checked} window_errors={len(spy.errors)} "
        f"close={received.code if received else None}",
        flush=True,
    )


async def main(variant, cert, key):
    log(f"websockets {websockets.__version__}, variant {variant}")
    tls = None
    if cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        log(f"TLS with {cert}")
    async with serve(echo, "127.0.0.1", 0, max_size=MAX_SIZE, ssl=tls,
                     **options(variant)) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"port: {port}", flush=True)
        await asyncio.sleep(LIFETIME)


if __name__ == "__main__":
    # server.py [VARIANT [CERT.pem KEY.pem]]: over TLS with a certificate.
    args = sys.argv[1:] + [None] * 3
    asyncio.run(main(args[0] or "default", args[1], args[2]))
