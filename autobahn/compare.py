#!/usr/bin/env python3
"""Compare an Autobahn report with the committed expected results.

    compare.py REPORT_DIR EXPECTED.json [--update]

Each case's `behavior` and `behaviorClose` must equal the expected ones.
Independently of the expected file, any FAILED case, any UNIMPLEMENTED case
in groups 1-10 and any FAILED/UNCLEAN close fails; and outside --update,
so does any case whose behavior or close behavior is not OK or
INFORMATIONAL (NON-STRICT, UNIMPLEMENTED...) unless ALLOWED below names it
with a reason, so that an expected file cannot quietly accept a weaker
result. --update rewrites EXPECTED.json from the report (after a
deliberate change; review the diff). Exit 0 when everything matches, 1
otherwise. Python 3 stdlib only.
"""
import json
import sys
from pathlib import Path


# Cases allowed a result other than OK or INFORMATIONAL, with the reason.
# Empty: every case of every run is OK or INFORMATIONAL.
ALLOWED = {}

# Results that need no allowance.
PASSING = ("OK", "INFORMATIONAL")


def case_key(case_id):
    return tuple(int(p) for p in case_id.split("."))


def load_report(report_dir):
    index = json.loads((Path(report_dir) / "index.json").read_text())
    if len(index) != 1:
        sys.exit(f"compare.py: expected one agent in {report_dir}, found {sorted(index)}")
    (cases,) = index.values()
    return {
        case: {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"]}
        for case, r in cases.items()
    }


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    update = "--update" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    report_dir, expected_path = args
    actual = load_report(report_dir)
    problems = []
    for case in sorted(actual, key=case_key):
        r = actual[case]
        group = case_key(case)[0]
        if r["behavior"] == "FAILED":
            problems.append(f"{case}: FAILED")
        if r["behavior"] == "UNIMPLEMENTED" and group <= 10:
            problems.append(f"{case}: UNIMPLEMENTED in group {group}")
        if r["behaviorClose"] in ("FAILED", "UNCLEAN"):
            problems.append(f"{case}: close {r['behaviorClose']}")
        weaker = r["behavior"] not in PASSING or r["behaviorClose"] not in PASSING
        if weaker and not update and case not in ALLOWED:
            problems.append(
                f"{case}: {r['behavior']} (close {r['behaviorClose']}), not OK or INFORMATIONAL,"
                " and not in compare.py's ALLOWED"
            )
    if update:
        ordered = {c: actual[c] for c in sorted(actual, key=case_key)}
        Path(expected_path).write_text(json.dumps(ordered, indent=1) + "\n")
        print(f"compare.py: wrote {len(ordered)} cases to {expected_path}")
    else:
        expected = json.loads(Path(expected_path).read_text())
        for case in sorted(set(expected) | set(actual), key=case_key):
            want, got = expected.get(case), actual.get(case)
            if want != got:
                problems.append(f"{case}: expected {want}, got {got}")
    counts = {}
    for r in actual.values():
        counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    for p in problems:
        print(f"compare.py: {p}")
    verdict = "matches" if not problems else f"{len(problems)} problem(s)"
    print(f"compare.py: {report_dir}: {len(actual)} cases ({summary}); {verdict} vs {expected_path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
