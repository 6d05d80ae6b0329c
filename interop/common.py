"""Shared by interop/client.py and interop/server.py: check reporting,
payloads, and a spy on the permessage-deflate extension of a connection.

Each check prints one line, `PASS <what>` or `FAIL <what>`, which
interop/run.sh counts.
"""

import random
import sys
import zlib

from websockets.frames import Opcode

FAILED = 0


def check(ok, what):
    """Prints PASS or FAIL for one check; counts failures."""
    global FAILED
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED += 1
    return ok


def repetitive_text(size):
    """Text of `size` UTF-8 bytes repeating a ~5000-byte block: its matches
    lie 5000 bytes back, beyond windows of 12 bits or less, so a compressor
    that ignores a smaller agreed window produces data the peer cannot
    inflate. Non-ASCII characters test UTF-8 across frame and window edges."""
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyz      .,éü✓"
    block = "".join(rng.choice(alphabet) for _ in range(4800))
    data = (block * (size // len(block.encode()) + 1)).encode()[:size]
    # Cut at a character boundary, then pad back to `size` with ASCII.
    text = data.decode("utf-8", errors="ignore")
    return text + "x" * (size - len(text.encode()))


def mixed_bytes(size, seed=2):
    """`size` pseudo-random bytes: incompressible."""
    return random.Random(seed).randbytes(size)


def describe(data):
    kind = "text" if isinstance(data, str) else "binary"
    size = len(data.encode()) if isinstance(data, str) else len(data)
    return f"{kind} of {size} bytes"


class DeflateSpy:
    """Watches the compressed data a connection receives, below websockets'
    own permessage-deflate decoder.

    `compressed` gets, per data message, whether it arrived compressed
    (RSV1). Each compressed message is also inflated a second time with a
    window of exactly the agreed size (the extension's
    remote_max_window_bits), reset per message under no context takeover,
    and with at most CHUNK bytes of output per zlib call: a back-reference
    further than the agreed window then fails with "invalid distance too far
    back", which one large inflate call would not notice. `checked` counts
    the messages that passed, `errors` holds the failures.
    """

    CHUNK = 256

    def __init__(self, connection):
        self.compressed = []
        self.checked = 0
        self.errors = []
        self._inflater = None
        self._parts = None
        extensions = connection.protocol.extensions
        if not extensions:
            return
        extension = extensions[0]
        self.bits = extension.remote_max_window_bits
        self.no_context_takeover = extension.remote_no_context_takeover
        original = extension.decode

        def decode(frame, *, max_size=None):
            self._observe(frame)
            return original(frame, max_size=max_size)

        extension.decode = decode

    def _observe(self, frame):
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.compressed.append(frame.rsv1)
            self._parts = [] if frame.rsv1 else None
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT) or self._parts is None:
            return
        self._parts.append(bytes(frame.data))
        if frame.fin:
            data, self._parts = b"".join(self._parts), None
            self._check(data)

    def _check(self, data):
        if self.no_context_takeover or self._inflater is None:
            self._inflater = zlib.decompressobj(wbits=-self.bits)
        inflater = self._inflater
        data += b"\x00\x00\xff\xff"  # RFC 7692 7.2.2
        try:
            while True:
                out = inflater.decompress(data, self.CHUNK)
                data = inflater.unconsumed_tail
                if not data and len(out) < self.CHUNK:
                    break
            self.checked += 1
        except zlib.error as e:
            self.errors.append(str(e))
            self._inflater = None


def deflate_line(extension, role):
    """The agreed parameters in interop_client's `deflate: ...` format, from
    this end's PerMessageDeflate object (local/remote → server/client)."""
    if extension is None:
        return "deflate: none"
    if role == "server":
        snct, cnct = extension.local_no_context_takeover, extension.remote_no_context_takeover
        sbits, cbits = extension.local_max_window_bits, extension.remote_max_window_bits
    else:
        snct, cnct = extension.remote_no_context_takeover, extension.local_no_context_takeover
        sbits, cbits = extension.remote_max_window_bits, extension.local_max_window_bits
    return (
        f"deflate: server_no_context_takeover={str(snct).lower()} "
        f"client_no_context_takeover={str(cnct).lower()} "
        f"server_max_window_bits={sbits} client_max_window_bits={cbits}"
    )


def exit_status():
    return 1 if FAILED else 0


def log(*args):
    print(*args, file=sys.stderr, flush=True)
