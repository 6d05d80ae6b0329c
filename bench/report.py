#!/usr/bin/env python3
"""Turns one bench/results/<timestamp>.jsonl file (written by bench/run.sh)
into BENCHMARKS.md: machine, versions, method, a table per configuration,
a summary with rws's ratios to the best peer and to raw TCP, the idle
connection table, and whether each goal of issue 6 is met.

    python3 bench/report.py bench/results/20260101T000000Z.jsonl -o BENCHMARKS.md

Python 3 standard library only.
"""

import argparse
import collections
import json
import os
import statistics
import sys

PEERS = ["tungstenite", "fastwebsockets", "tokio-websockets", "yawc"]
SERVER_ORDER = ["rws"] + PEERS + ["raw"]
SERVER_LABEL = {
    "rws": "rws",
    "tungstenite": "tokio-tungstenite",
    "fastwebsockets": "fastwebsockets",
    "tokio-websockets": "tokio-websockets",
    "yawc": "yawc",
    "raw": "raw TCP echo",
}

# The goals of issue 6.
GOAL_RATIO = 1.0  # rws >= best peer msg/s everywhere ...
GOAL_RATIO_HEADROOM = 1.15  # ... and >= 1.15x where the best peer is ...
HEADROOM_BELOW_RAW = 0.9  # ... below 0.9x raw TCP.
GOAL_CPU = 0.87  # server CPU/msg <= 0.87x the best peer's where both sides are saturated.
GOAL_IDLE_KIB = 5.5  # memory per idle connection.

# A run during which other processes used more than this much CPU (percent
# of one CPU) is marked as disturbed.
DISTURBED_PCT = 10.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a .jsonl file written by bench/run.sh")
    parser.add_argument("-o", "--output", help="where to write the report (default: stdout)")
    args = parser.parse_args()

    meta, loads, idles, errors, profiles = read_results(args.results)
    text = render(meta, loads, idles, errors, os.path.basename(args.results), profiles)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


# ---------------------------------------------------------------- reading


def read_results(path):
    """The meta line, the load runs by (configuration, server), the idle
    runs by server, the failed runs, and the CPU profiles."""
    meta = {}
    loads = collections.defaultdict(list)
    idles = collections.defaultdict(list)
    errors = []
    profiles = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append({"server": "?", "error": f"line {number} is not JSON: {e}"})
                continue
            mode = record.get("mode")
            if mode == "meta":
                meta = record
            elif "error" in record:
                errors.append(record)
            elif mode == "load":
                loads[(config_key(record), record["server"])].append(record)
            elif mode == "idle":
                idles[record["server"]].append(record)
            elif mode == "profile":
                profiles.append(record)
    return meta, loads, idles, errors, profiles


def config_key(record):
    return (record["connections"], record["size"], record["depth"], record["kind"],
            bool(record.get("deflate_offered")))


# ---------------------------------------------------------------- figures


class Figures:
    """The medians of one server's reps of one configuration."""

    def __init__(self, runs):
        rates = [r["messages_per_sec"] for r in runs]
        self.reps = len(runs)
        self.rate = statistics.median(rates)
        self.rate_min = min(rates)
        self.rate_max = max(rates)
        self.mib = statistics.median(r.get("mib_per_sec") or 0.0 for r in runs)
        self.p99 = median_of(r.get("latency_us", {}).get("p99") for r in runs)
        self.cpu = median_of(r.get("server_cpu_us_per_msg") for r in runs)
        self.client_cpu = median_of(r.get("client_cpu_us_per_msg") for r in runs)
        others = [r.get("other_cpu_pct") for r in runs if r.get("other_cpu_pct") is not None]
        self.other = max(others) if others else None
        saturations = [r.get("saturated") for r in runs if r.get("saturated")]
        self.saturated = collections.Counter(saturations).most_common(1)[0][0] if saturations else None
        self.frame_len = median_of(r.get("frame_len") for r in runs)
        # What permessage-deflate agreement the runs had (None: declined).
        self.agreed = sorted({r.get("deflate") or "declined" for r in runs if r.get("deflate_offered")})
        self.errors = collections.Counter()
        for r in runs:
            for kind, n in (r.get("errors") or {}).items():
                self.errors[kind] += n


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- formatting


def size_label(size):
    for unit, name in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


def config_label(key):
    conns, size, depth, kind, deflate = key
    noun = "connection" if conns == 1 else "connections"
    extension = ", permessage-deflate" if deflate else ""
    return f"{conns} {noun}, {size_label(size)} {kind}, depth {depth}{extension}"


def config_short(key):
    conns, size, depth, kind, deflate = key
    return f"c={conns} {size_label(size)} {kind} d={depth}" + (" deflate" if deflate else "")


def num(value):
    if value is None:
        return "–"
    return f"{value:,.0f}"


def micros(value):
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def times(r):
    return "–" if r is None else f"{r:.2f}×"


def verdict(ok, detail):
    return f"met ({detail})" if ok else f"**not met** ({detail})"


# ---------------------------------------------------------------- rendering


def render(meta, loads, idles, errors, source, profiles=()):
    out = []
    w = out.append
    versions = meta.get("versions", {})
    configs = ordered_configs(meta, loads, errors)
    figures = {k: Figures(v) for k, v in loads.items()}

    w("# Benchmarks\n")
    w(
        "rws against the other tokio WebSocket servers and a raw-TCP echo, on one "
        f"machine, by `bench/run.sh` (results file `bench/results/{source}`, "
        f"rws commit `{meta.get('commit', '?')}`, {meta.get('timestamp', '?')}). "
        "Regenerate with `bench/run.sh`; rebuild this page from a results file with "
        "`python3 bench/report.py bench/results/FILE.jsonl -o BENCHMARKS.md`.\n"
    )

    if str(meta.get("commit", "?")).endswith("+dirty"):
        w("> **From a tree with uncommitted changes, not for publication**: the figures are "
          "for no commit. Commit, then rerun `bench/run.sh`.\n")

    measured = (meta.get("reps") or 0) * (meta.get("duration_s") or 0)
    if (meta.get("reps") or 0) < 5 or measured < 4:
        w(f"> **Smoke test, not for publication**: {meta.get('reps', '?')} run(s) of "
          f"{meta.get('duration_s', '?')} s per configuration (the published figures use 10 runs "
          "of 0.5 s).\n")

    # Machine and versions.
    w("## Machine\n")
    w(f"- CPU: {meta.get('cpu_model', '?')}, {meta.get('cores', '?')} cores")
    w(f"- Kernel: {meta.get('kernel', '?')}")
    w(f"- Compiler: {meta.get('rustc', '?')}; release profile (`opt-level = 3`, "
      "`debug = \"line-tables-only\"`, no LTO, default codegen units), the same for every server")
    w(f"- Load average when the run started: {meta.get('loadavg', '?')}\n")

    w("## Servers\n")
    w("Each is a small program in `bench/servers/src/bin/`: tokio's current-thread runtime, one "
      "task per connection, `TCP_NODELAY`, a listen backlog of `net.core.somaxconn`, every path accepted, every text and binary message "
      "echoed as it came, pings answered, message and frame limits raised to 64 MiB. "
      f"All use tokio {versions.get('tokio', '?')}.\n")
    w("| server | crate | features and notes |")
    w("|---|---|---|")
    w(f"| rws | rws {versions.get('rws', '?')} (`{str(meta.get('commit', '?'))[:12]}`) | "
      "`default-features = false, features = [\"tokio\"]`; `recv()` → `feed()` (its docs' pattern for request/response loops: `recv` writes the queued replies before it waits for input, so replies to pipelined messages leave in one write) |")
    w(f"| tungstenite | tokio-tungstenite {versions.get('tokio-tungstenite', '?')} "
      f"(tungstenite {versions.get('tungstenite', '?')}) | "
      "`default-features = false, features = [\"handshake\"]` (no TLS); "
      "`accept_async_with_config`, then its echo example's pattern: `split()`, and the "
      "stream `forward()`ed into the sink, which writes a batch of replies with one flush "
      "when more messages are already waiting |")
    w(f"| fastwebsockets | fastwebsockets {versions.get('fastwebsockets', '?')} | "
      "`features = [\"simd\"]` (SIMD UTF-8 validation), no hyper: the HTTP upgrade is done "
      "by hand, then `WebSocket::after_handshake`, auto close and pong, in a "
      "`FragmentCollector`; `read_frame()` → `write_frame()` |")
    w(f"| tokio-websockets | tokio-websockets {versions.get('tokio-websockets', '?')} | "
      "`features = [\"server\", \"sha1_smol\"]`; SIMD masking and UTF-8 validation are "
      "detected at run time (no feature needed on stable); `next()` → `send()` |")
    w(f"| yawc | yawc {versions.get('yawc', '?')} | "
      "`default-features = false, features = [\"zlib\", \"simd\"]` (a fastwebsockets "
      "descendant with permessage-deflate; zlib-rs through flate2, like rws); no hyper server: "
      "the request head is read by hand and answered by yawc's `upgrade_with_options`, then "
      "`from_stream_with_extensions`; UTF-8 checking on (`with_utf8`, off by default), "
      "deflate at level 6, threshold 64 B, client window 15 bits; `next_frame()` → `send()` |")
    w("| raw | — | the ceiling: after the HTTP upgrade, every byte read is written back "
      "through one 1 MiB buffer; no framing, no allocation per read |\n")

    # Method.
    w("## Method\n")
    reps = meta.get("reps", "?")
    w(f"- Each server runs pinned to CPU {meta.get('server_cpu', 0)} "
      f"(`taskset -c {meta.get('server_cpu', 0)}`), the load generator `rws bench` "
      f"(one thread) to CPU {meta.get('client_cpu', 1)}; `ulimit -n` raised for both.")
    w(f"- Every configuration runs {reps} time(s) per server, each run "
      f"{meta.get('warmup_s', '?')} s of warmup then {meta.get('duration_s', '?')} s measured, "
      "all connections open before the load starts. Each connection keeps `depth` messages "
      "in flight; latency is the round trip of each message. Many short runs rather than a "
      "few long ones: this machine is a VM whose speed swings by up to 40% for several seconds "
      "at a time (the raw-TCP echo alone ranges from 208k to 317k msg/s in one configuration), "
      "and short interleaved runs spread those phases over all servers alike.")
    w("- All servers run at the same time (the idle ones use no CPU) and the runs are "
      "interleaved: for each configuration, each rep runs every server in turn, the order "
      "rotating with the rep, so that a slow phase of the machine falls on all servers alike.")
    w("- Figures are the **medians** of the runs; the spread is the lowest and highest "
      "msg/s of the runs. Server CPU per message is the server process's CPU time (from "
      "/proc) over the messages echoed.")
    w("- \"saturated\" is the side above 90% of its CPU in most runs: `server`, `client` (the "
      "load generator: these rows measure the client as much as the server), `both`, `neither`.")
    w("- \"others' CPU\" is the CPU time the rest of the machine used during a run (all CPUs' "
      "busy time minus the server's and the load generator's, in % of one CPU; kernel threads "
      "doing loopback work count here), the highest of the runs; above "
      f"{DISTURBED_PCT:.0f}% it is marked ⚠ as disturbed. `bench/run.sh` also waits for any "
      "cargo or rustc process to end before each run.")
    w(f"- Idle connections: {meta.get('idle_connections', '?')} connections opened and held on a "
      "freshly started server; memory per connection is its RSS growth over the connections "
      "opened; handshakes/s is how fast they were opened.\n")
    w("Commands (the port is chosen by the server, which listens on port 0):\n")
    w("```sh")
    w("taskset -c 0 bench/servers/target/release/echo-SERVER 127.0.0.1:0")
    example = first_command(loads, "load")
    if example:
        w(example)
    example = first_command(idles, "idle")
    if example:
        w(example)
    w("```\n")
    w("The configurations (connections, payload, depth, kind, permessage-deflate) are those of `MATRIX` in "
      "`bench/run.sh`: " + "; ".join(config_short(k) for k in configs) + ".\n")

    # Goals and summary.
    summary = [summarize(key, figures) for key in configs]
    idle_figures = {s: idle_summary(runs) for s, runs in idles.items()}
    w("## Goals (issue 6)\n")
    w(goal_lines(summary, idle_figures))

    if profiles:
        w(profile_section(profiles))

    w("## Summary\n")
    w("Best peer = the peer (tokio-tungstenite, fastwebsockets, tokio-websockets, yawc) with the "
      "highest median msg/s in that configuration. The rws/best-peer goal is 1.00×, or 1.15× "
      "where the best peer is below 0.90× raw TCP. p99 and CPU ratios are rws / best peer "
      "(lower is better); the CPU goal (≤ 0.87×) applies where both sides were saturated.\n")
    w("| configuration | rws msg/s | best peer | peer msg/s | rws / best peer | goal | "
      "best peer / raw | rws / raw | p99 ratio | CPU/msg ratio | saturated (rws) |")
    w("|---|--:|---|--:|--:|---|--:|--:|--:|--:|---|")
    for s in summary:
        w("| {label} | {rws} | {peer} | {peer_rate} | {ratio} | {goal} | {peer_raw} | "
          "{rws_raw} | {p99} | {cpu} | {sat} |".format(
              label=config_short(s["key"]),
              rws=num(s["rws"].rate) if s["rws"] else "–",
              peer=SERVER_LABEL.get(s["best"], "–") if s["best"] else "–",
              peer_rate=num(s["peer"].rate) if s["peer"] else "–",
              ratio=times(s["ratio"]),
              goal=s["rate_verdict"],
              peer_raw=times(s["peer_raw"]),
              rws_raw=times(s["rws_raw"]),
              p99=times(s["p99_ratio"]) + ("" if s["p99_ok"] in (None, True) else " ✗"),
              cpu=times(s["cpu_ratio"]) + ("" if s["cpu_ok"] in (None, True) else " ✗"),
              sat=(s["rws"].saturated or "–") if s["rws"] else "–",
          ))
    w("")

    deflate_rows = [s for s in summary if s["key"][4]]
    if deflate_rows:
        w("## permessage-deflate\n")
        w("The rows marked deflate run `rws bench --deflate`, which offers "
          "`permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
          "client_max_window_bits`, against the servers that implement RFC 7692 "
          f"({', '.join(SERVER_LABEL.get(x, x) for x in meta.get('deflate_servers', []))}). "
          "The payload is prose-like ASCII words; the client compresses it once (the "
          "library's own compressor, level 6) and sends that frame again and again. Every "
          "server inflates every message, validates its UTF-8 and compresses its echo afresh "
          "(level 6, 15-bit window): no context takeover either way, so that a repeated "
          "message is not compressed to a reference to the last one. The same rows without "
          "deflate are in the table above (\"off\").\n")
        w("| configuration | rws off msg/s | rws on msg/s | on / off | best peer on | peer msg/s | "
          "rws / peer | rws CPU µs/msg (off → on) | peer CPU µs/msg | bytes on the wire per message |")
        w("|---|--:|--:|--:|---|--:|--:|--:|--:|--:|")
        for s in deflate_rows:
            key = s["key"]
            off = figures.get((key[:4] + (False,), "rws"))
            on, peer = s["rws"], s["peer"]
            wire = on.frame_len if on else None
            w("| {label} | {off} | {on} | {onoff} | {peer} | {peer_rate} | {ratio} | "
              "{cpu} | {peer_cpu} | {wire} |".format(
                  label=config_short(key),
                  off=num(off.rate) if off else "–",
                  on=num(on.rate) if on else "–",
                  onoff=times(ratio(on.rate, off.rate) if on and off else None),
                  peer=SERVER_LABEL.get(s["best"], "–") if s["best"] else "–",
                  peer_rate=num(peer.rate) if peer else "–",
                  ratio=times(s["ratio"]),
                  cpu=(f"{micros(off.cpu) if off else '–'} → {micros(on.cpu) if on else '–'}"),
                  peer_cpu=micros(peer.cpu) if peer else "–",
                  wire=(f"{num(wire)} of {num(key[1])}" if wire else "–"),
              ))
        declined = sorted({(config_short(k), SERVER_LABEL.get(srv, srv))
                           for (k, srv), f in figures.items() if k[4] and "declined" in f.agreed})
        if declined:
            w("\nDeclined the offer (these runs sent uncompressed messages): "
              + ", ".join(f"{srv} in {cfg}" for cfg, srv in declined) + ".")
        w("")

    # Per configuration.
    w("## Each configuration\n")
    for s in summary:
        key = s["key"]
        w(f"### {config_label(key)}\n")
        w("| server | msg/s (median) | spread (min–max) | MiB/s | p99 µs | server CPU µs/msg | "
          "saturated | others' CPU | rws / this |")
        w("|---|--:|---|--:|--:|--:|---|--:|--:|")
        for server in SERVER_ORDER:
            f = figures.get((key, server))
            failed = [e for e in errors if e.get("server") == server and error_key(e) == key]
            if f is None:
                if failed:
                    w(f"| {SERVER_LABEL[server]} | failed: {failed[0].get('error')} | | | | | | | |")
                continue
            reps_note = f" ({f.reps} of {f.reps + len(failed)} runs)" if failed else ""
            errs = ""
            if f.errors:
                errs = " (errors: " + ", ".join(f"{k} {n}" for k, n in sorted(f.errors.items())) + ")"
            rws_this = "—" if server == "rws" else times(ratio(s["rws"].rate, f.rate) if s["rws"] else None)
            other = "–" if f.other is None else f"{f.other:.0f}%"
            if f.other is not None and f.other > DISTURBED_PCT:
                other += " ⚠"
            sat = f.saturated or "–"
            if f.saturated == "client":
                sat = "client ‡"
            w(f"| {SERVER_LABEL[server]}{reps_note}{errs} | {num(f.rate)} | "
              f"{num(f.rate_min)}–{num(f.rate_max)} | {f.mib:,.1f} | {micros(f.p99)} | "
              f"{micros(f.cpu)} | {sat} | {other} | {rws_this} |")
        w("")
        if s["rws"] and s["peer"]:
            line = (f"rws / best peer ({SERVER_LABEL[s['best']]}) = {times(s['ratio'])}; "
                    f"rws / raw TCP = {times(s['rws_raw'])}. Throughput goal: {s['rate_verdict']}.")
            if s["p99_ok"] is not None:
                line += " p99: " + verdict(s["p99_ok"], f"{times(s['p99_ratio'])} of the best peer's") + "."
            if s["cpu_ok"] is not None:
                line += " Server CPU/msg (both sides saturated): " + verdict(
                    s["cpu_ok"], f"{times(s['cpu_ratio'])}, needs ≤ {GOAL_CPU:.2f}×") + "."
            w(line + "\n")
        client_bound = [SERVER_LABEL[srv] for srv in SERVER_ORDER
                        if figures.get((key, srv)) and figures[(key, srv)].saturated == "client"]
        if client_bound:
            w(f"‡ The load generator was the saturated side for {', '.join(client_bound)}: "
              "msg/s there is bounded by the client, compare server CPU/msg instead.\n")

    # Idle connections.
    w("## Idle connections\n")
    w("| server | connections opened | KiB per connection | handshakes/s | server CPU µs per handshake | errors |")
    w("|---|--:|--:|--:|--:|---|")
    for server in SERVER_ORDER:
        f = idle_figures.get(server)
        if f is None:
            failed = [e for e in errors if e.get("server") == server and e.get("mode") == "idle"]
            if failed:
                w(f"| {SERVER_LABEL[server]} | failed: {failed[0].get('error')} | | | | |")
            continue
        errs = ", ".join(f"{k} {n}" for k, n in sorted(f["errors"].items())) or "none"
        w(f"| {SERVER_LABEL[server]} | {num(f['opened'])} | {f['kib']:.1f} | "
          f"{num(f['handshakes'])} | {micros(f['cpu'])} | {errs} |")
    w("")

    # Disturbed runs.
    disturbed = [(key, srv, r) for (key, srv), runs in sorted(loads.items(), key=lambda kv: str(kv[0]))
                 for r in runs if (r.get("other_cpu_pct") or 0) > DISTURBED_PCT]
    disturbed += [(None, srv, r) for srv, runs in idles.items()
                  for r in runs if (r.get("other_cpu_pct") or 0) > DISTURBED_PCT]
    if disturbed:
        w("## Disturbed runs\n")
        w(f"Other processes used more than {DISTURBED_PCT:.0f}% of a CPU during these runs; "
          "their figures are less trustworthy (rerun on a quieter machine):\n")
        for key, srv, r in disturbed:
            label = config_short(key) if key else f"idle {r.get('connections')}"
            w(f"- {SERVER_LABEL.get(srv, srv)}, {label}, rep {r.get('rep')}: "
              f"{r['other_cpu_pct']:.0f}%")
        w("")

    # Failures.
    if errors:
        w("## Failed runs\n")
        w("Each failed run is recorded in the results file with its error and the "
          "load generator's stderr.\n")
        w("| server | configuration | rep | error |")
        w("|---|---|--:|---|")
        for e in errors:
            label = config_short(error_key(e)) if error_key(e) else e.get("mode", "?")
            detail = e.get("error", "?")
            stderr = (e.get("stderr") or "").strip().splitlines()
            if stderr:
                detail += ": " + stderr[-1].replace("|", "\\|")[:200]
            w(f"| {SERVER_LABEL.get(e.get('server'), e.get('server'))} | {label} | "
              f"{e.get('rep', '?')} | {detail} |")
        w("")
    return "\n".join(out).rstrip() + "\n"


def profile_section(profiles):
    """Where the servers' CPU time went (bench/profile.sh), and what that
    means for the CPU-per-message goal."""
    servers = list(dict.fromkeys(p["server"] for p in profiles))
    configs = list(dict.fromkeys(p["config"] for p in profiles))
    share = {(p["server"], p["config"]): p.get("shares", {}) for p in profiles}
    lines = ["## Where the server's CPU time goes\n",
             "`bench/profile.sh` (perf, 5 kHz, 2 s per configuration, the server alone on CPU 0) "
             "splits each server's CPU time between the kernel, the server's own binary (the "
             "library, tokio, the echo loop) and libc. \"idle\" is opening 10,000 connections.\n",
             "| configuration | " + " | ".join(f"{SERVER_LABEL.get(x, x)}: kernel / own / libc"
                                             for x in servers) + " |",
             "|---|" + "--:|" * len(servers)]
    for config in configs:
        cells = []
        for server in servers:
            sh = share.get((server, config))
            if sh is None:
                cells.append("–")
            else:
                cells.append(f"{sh.get('kernel', 0):.0f}% / {sh.get('server', 0):.0f}% / "
                             f"{sh.get('libc', 0):.0f}%")
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    # Small messages: the rows where every server sits at the raw-TCP ceiling.
    small = [c for c in configs if c != "idle" and len(c.split()) >= 2
             and c.split()[1].isdigit() and int(c.split()[1]) <= 1024]
    kernel = [(share[(srv, c)].get("kernel", 0), srv, c) for srv in servers if srv != "rws"
              for c in small if (srv, c) in share]
    if kernel:
        low, peer, config = min(kernel)
        lines.append(
            f"\nWith small messages every server makes one read and one write per message "
            f"(`strace -c` shows it for rws and fastwebsockets at 100 × 16 B), so the kernel's "
            f"CPU per message is much the same for all of them. The kernel held {low:.0f}% of "
            f"{SERVER_LABEL.get(peer, peer)}'s CPU time ({config}): a server whose own code took "
            f"no time at all would still use about {low / 100:.2f}× its CPU per message, so "
            f"the goal of ≤ {GOAL_CPU:.2f}× cannot be met on loopback where both sides are "
            "saturated. What a library controls is its own share, which the table shows.")
    lines.append("")
    return "\n".join(lines) + "\n"


def ordered_configs(meta, loads, errors):
    """The matrix's order, then any configuration found only in the runs."""
    keys = []
    for m in meta.get("matrix", []):
        keys.append((m["connections"], m["size"], m["depth"], m["kind"], bool(m.get("deflate"))))
    for key, _ in loads:
        if key not in keys:
            keys.append(key)
    for e in errors:
        key = error_key(e)
        if key and key not in keys:
            keys.append(key)
    return keys


def error_key(e):
    try:
        return config_key(e) if e.get("mode") == "load" else None
    except KeyError:
        return None


def first_command(runs, mode):
    for rs in runs.values():
        for r in rs:
            if r.get("command") and r.get("mode") == mode:
                return r["command"]
    return None


def summarize(key, figures):
    rws = figures.get((key, "rws"))
    raw = figures.get((key, "raw"))
    peers = [(figures[(key, p)], p) for p in PEERS if (key, p) in figures]
    best = max(peers, key=lambda fp: fp[0].rate)[1] if peers else None
    peer = figures.get((key, best)) if best else None
    s = {"key": key, "rws": rws, "raw": raw, "best": best, "peer": peer}
    s["ratio"] = ratio(rws.rate, peer.rate) if rws and peer else None
    s["rws_raw"] = ratio(rws.rate, raw.rate) if rws and raw else None
    s["peer_raw"] = ratio(peer.rate, raw.rate) if peer and raw else None
    s["needed"] = GOAL_RATIO
    if s["peer_raw"] is not None and s["peer_raw"] < HEADROOM_BELOW_RAW:
        s["needed"] = GOAL_RATIO_HEADROOM
    if s["ratio"] is None:
        s["rate_ok"] = None
        s["rate_verdict"] = "n/a (no data)"
    else:
        s["rate_ok"] = s["ratio"] >= s["needed"]
        s["rate_verdict"] = verdict(s["rate_ok"], f"{times(s['ratio'])}, needs ≥ {s['needed']:.2f}×")
    s["p99_ratio"] = ratio(rws.p99, peer.p99) if rws and peer else None
    s["p99_ok"] = None if s["p99_ratio"] is None else s["p99_ratio"] <= 1.0
    s["cpu_ratio"] = ratio(rws.cpu, peer.cpu) if rws and peer else None
    both = rws and peer and "both" in (rws.saturated, peer.saturated)
    s["cpu_ok"] = s["cpu_ratio"] <= GOAL_CPU if both and s["cpu_ratio"] is not None else None
    return s


def idle_summary(runs):
    return {
        "opened": statistics.median(r.get("opened", 0) for r in runs),
        "kib": statistics.median(r.get("kib_per_connection", 0.0) for r in runs),
        "handshakes": statistics.median(r.get("handshakes_per_sec", 0.0) for r in runs),
        "cpu": median_of(r.get("server_cpu_us_per_handshake") for r in runs),
        "errors": sum((collections.Counter(r.get("errors") or {}) for r in runs),
                      collections.Counter()),
    }


def goal_lines(summary, idle):
    lines = []
    with_data = [s for s in summary if s["rate_ok"] is not None]
    missed = [s for s in with_data if not s["rate_ok"]]
    if not with_data:
        lines.append("- Throughput: n/a (no configuration has both rws and a peer).")
    elif missed:
        worst = ", ".join(f"{config_short(s['key'])} {times(s['ratio'])} (needs ≥ {s['needed']:.2f}×)"
                          for s in missed)
        lines.append(f"- Throughput (rws ≥ best peer, ≥ 1.15× where the best peer is below 0.9× raw): "
                     f"**not met** in {len(missed)} of {len(with_data)} configurations: {worst}.")
    else:
        lines.append(f"- Throughput (rws ≥ best peer, ≥ 1.15× where the best peer is below 0.9× raw): "
                     f"met in all {len(with_data)} configurations.")
    p99 = [s for s in summary if s["p99_ok"] is not None]
    p99_missed = [s for s in p99 if not s["p99_ok"]]
    if p99_missed:
        lines.append("- p99 latency no worse than the best peer's: **not met** in "
                     f"{len(p99_missed)} of {len(p99)} configurations: "
                     + ", ".join(f"{config_short(s['key'])} {times(s['p99_ratio'])}" for s in p99_missed) + ".")
    elif p99:
        lines.append(f"- p99 latency no worse than the best peer's: met in all {len(p99)} configurations.")
    cpu = [s for s in summary if s["cpu_ok"] is not None]
    cpu_missed = [s for s in cpu if not s["cpu_ok"]]
    if not cpu:
        lines.append("- Server CPU/msg ≤ 0.87× the best peer's where both sides are saturated: "
                     "no configuration had both sides saturated.")
    elif cpu_missed:
        lines.append("- Server CPU/msg ≤ 0.87× the best peer's where both sides are saturated: "
                     f"**not met** in {len(cpu_missed)} of {len(cpu)}: "
                     + ", ".join(f"{config_short(s['key'])} {times(s['cpu_ratio'])}" for s in cpu_missed) + ".")
    else:
        lines.append("- Server CPU/msg ≤ 0.87× the best peer's where both sides are saturated: "
                     f"met in all {len(cpu)}.")
    rws_idle = idle.get("rws")
    if rws_idle is None:
        lines.append(f"- Memory per idle connection ≤ {GOAL_IDLE_KIB} KiB: n/a (no idle run of rws).")
    else:
        ok = rws_idle["kib"] <= GOAL_IDLE_KIB
        lines.append(f"- Memory per idle connection ≤ {GOAL_IDLE_KIB} KiB: "
                     + verdict(ok, f"{rws_idle['kib']:.1f} KiB") + ".")
    peer_idle = [(idle[p]["handshakes"], p) for p in PEERS if p in idle]
    if rws_idle is None or not peer_idle:
        lines.append("- Handshakes/s ≥ best peer: n/a (no data).")
    else:
        best_rate, best = max(peer_idle)
        r = ratio(rws_idle["handshakes"], best_rate)
        lines.append("- Handshakes/s ≥ best peer: "
                     + verdict(r is not None and r >= 1.0,
                               f"{num(rws_idle['handshakes'])}/s, {times(r)} of {SERVER_LABEL[best]}'s") + ".")
        peer_cpu = [(idle[p]["cpu"], p) for p in PEERS if p in idle and idle[p]["cpu"]]
        if rws_idle.get("cpu") and peer_cpu:
            low, low_peer = min(peer_cpu)
            lines.append(f"  Server CPU per handshake: rws {micros(rws_idle['cpu'])} µs, "
                         f"{times(ratio(rws_idle['cpu'], low))} of the leanest peer's "
                         f"({SERVER_LABEL[low_peer]}, {micros(low)} µs); both sides are "
                         "saturated while connections open, so this decides where the rates "
                         "are within the spread.")
    client = [config_short(s["key"]) for s in summary
              if s["rws"] and s["rws"].saturated == "client"]
    if client:
        lines.append("- The load generator, not the server, was the saturated side for rws in: "
                     + ", ".join(client) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
