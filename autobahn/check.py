#!/usr/bin/env python3
"""Check Autobahn|Testsuite JSON reports; exit non-zero unless every case passed.

    python3 autobahn/check.py REPORT_DIR [--agent NAME] [--expected FILE]

REPORT_DIR holds wstest's index.json (agent -> case id -> {behavior,
behaviorClose, duration, reportfile, ...}) and the per-case JSON files it names.

A case passes only if its `behavior` is OK or INFORMATIONAL *and* its
`behaviorClose` is OK or INFORMATIONAL. NON-STRICT, FAILED, NO_CLOSE and any
close verdict of FAILED, WRONG CODE, UNCLEAN or FAILED BY CLIENT fail it.
UNIMPLEMENTED (the compression sections, against a peer without
permessage-deflate) is allowed only for cases that were not selected, i.e. in
sections excluded by autobahn/cases.json.

Every selected case must be in the report: the selection is read from
--expected (a JSON list of case ids; run.sh writes REPORT_DIR/expected-cases.json
with wstest's own resolution of cases.json, and that file is used when present),
otherwise every case of sections 1-10 of autobahntestsuite 25.10.1 is required.

Prints a per-section table, the failed cases with their result text, and the
wall time of the run (from the cases' start times and durations).
Exit status: 0 all passed, 1 some case failed or is missing, 2 unusable report.
"""

import argparse
import collections
import datetime
import json
import os
import re
import sys

PASS = ("OK", "INFORMATIONAL")
COLUMNS = ("OK", "NON-STRICT", "FAILED", "INFORMATIONAL", "UNIMPLEMENTED", "MISSING")

# Cases per section in autobahntestsuite 25.10.1 (sections 1-10; there is no 8),
# used only when no list of expected case ids is given.
DEFAULT_SECTION_COUNTS = {1: 16, 2: 11, 3: 7, 4: 10, 5: 20, 6: 145, 7: 37, 9: 54, 10: 1}


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def section_of(case_id):
    head = case_id.split(".", 1)[0]
    return int(head) if head.isdigit() else head


def classify(entry, selected):
    """Returns (column, passed) for one index.json entry."""
    behavior = entry.get("behavior")
    close = entry.get("behaviorClose")
    if behavior == "UNIMPLEMENTED":
        return "UNIMPLEMENTED", not selected
    if behavior not in PASS and behavior != "NON-STRICT":
        return "FAILED", False
    if close not in PASS:
        return "FAILED", False
    if behavior == "NON-STRICT":
        return "NON-STRICT", False
    return behavior, True


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def case_details(report_dir, entry):
    """The per-case report (result texts, start time), or {} if unreadable."""
    name = entry.get("reportfile")
    if not name:
        return {}
    try:
        return load_json(os.path.join(report_dir, name))
    except (OSError, ValueError):
        return {}


def parse_started(value):
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.strptime(value.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        try:
            return datetime.datetime.strptime(value.rstrip("Z")[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return None


def shorten(text, limit=240):
    text = re.sub(r"<br\s*/?>", " ", str(text))
    text = " ".join(re.sub(r"</?[a-z]+>", "", text).split())
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def check_agent(report_dir, agent, cases, expected, out):
    """Prints the table and failures for one agent; returns the failure count."""
    if expected is not None:
        selected = set(expected)
        expected_by_section = collections.Counter(section_of(c) for c in expected)
        missing_ids = sorted(selected - set(cases), key=case_key)
    else:
        selected = {c for c in cases if section_of(c) in DEFAULT_SECTION_COUNTS}
        expected_by_section = collections.Counter(DEFAULT_SECTION_COUNTS)
        missing_ids = []

    rows = collections.defaultdict(collections.Counter)
    failures = []
    duration_by_section = collections.Counter()
    spans = []
    for case_id in sorted(cases, key=case_key):
        entry = cases[case_id]
        sec = section_of(case_id)
        column, passed = classify(entry, case_id in selected)
        rows[sec][column] += 1
        rows[sec]["cases"] += 1
        duration = entry.get("duration") or 0
        duration_by_section[sec] += duration
        details = case_details(report_dir, entry)
        started = parse_started(details.get("started"))
        if started is not None:
            spans.append((started, started + datetime.timedelta(milliseconds=duration)))
        if not passed:
            failures.append((case_id, entry, details))

    if expected is None:
        for sec, want in expected_by_section.items():
            have = rows[sec]["cases"]
            if have < want:
                rows[sec]["MISSING"] += want - have
    else:
        for case_id in missing_ids:
            rows[section_of(case_id)]["MISSING"] += 1

    header = ("section", "cases") + COLUMNS + ("time s",)
    widths = [max(7, len(h)) for h in header]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths))
    print(f"Autobahn results for agent {agent!r} ({report_dir})", file=out)
    print(line, file=out)
    print("-" * len(line), file=out)
    totals = collections.Counter()
    total_ms = 0
    sections = sorted(set(rows) | set(expected_by_section), key=lambda s: (isinstance(s, str), s))
    for sec in sections:
        r = rows[sec]
        cells = [str(sec), str(r["cases"])] + [str(r[c]) for c in COLUMNS]
        cells.append(f"{duration_by_section[sec] / 1000:.1f}")
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths)), file=out)
        totals.update(r)
        total_ms += duration_by_section[sec]
    print("-" * len(line), file=out)
    cells = ["total", str(totals["cases"])] + [str(totals[c]) for c in COLUMNS]
    cells.append(f"{total_ms / 1000:.1f}")
    print("  ".join(c.rjust(w) for c, w in zip(cells, widths)), file=out)

    if spans:
        wall = (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds()
        print(f"wall time: {wall:.1f} s (first case start to last case end; "
              f"sum of case durations {total_ms / 1000:.1f} s)", file=out)
    else:
        print(f"wall time: unknown (sum of case durations {total_ms / 1000:.1f} s)", file=out)

    if failures:
        print(f"\n{len(failures)} case(s) not OK:", file=out)
        for case_id, entry, details in failures:
            behavior = entry.get("behavior")
            close = entry.get("behaviorClose")
            print(f"  {case_id}: behavior={behavior} behaviorClose={close} "
                  f"remoteCloseCode={entry.get('remoteCloseCode')}", file=out)
            if details.get("description"):
                print(f"      case:   {shorten(details['description'])}", file=out)
            if behavior not in PASS:
                print(f"      result: {shorten(details.get('result', '?'))}", file=out)
            if close not in PASS:
                print(f"      close:  {shorten(details.get('resultClose', '?'))}", file=out)
    if missing_ids:
        print(f"\n{len(missing_ids)} selected case(s) missing from the report: "
              f"{shorten(' '.join(missing_ids), 600)}", file=out)
    elif totals["MISSING"]:
        print(f"\n{totals['MISSING']} case(s) of sections 1-10 missing from the report", file=out)

    bad = len(failures) + totals["MISSING"]
    passed = totals["cases"] - len(failures)
    print(f"\n{agent}: {passed} passed, {bad} failed", file=out)
    return bad


def main(argv=None, out=sys.stdout):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("report_dir")
    ap.add_argument("--agent", help="agent to check (default: every agent in index.json)")
    ap.add_argument("--expected", help="JSON list of the case ids that must be in the report "
                    "(default: REPORT_DIR/expected-cases.json if present, else sections 1-10)")
    args = ap.parse_args(argv)

    index_path = os.path.join(args.report_dir, "index.json")
    try:
        index = load_json(index_path)
    except (OSError, ValueError) as e:
        print(f"check.py: cannot read {index_path}: {e}", file=out)
        return 2
    if not isinstance(index, dict):
        print(f"check.py: {index_path}: not an agent -> case map", file=out)
        return 2

    expected_path = args.expected
    if expected_path is None:
        default = os.path.join(args.report_dir, "expected-cases.json")
        expected_path = default if os.path.exists(default) else None
    expected = None
    if expected_path is not None:
        try:
            expected = [str(c) for c in load_json(expected_path)]
        except (OSError, ValueError, TypeError) as e:
            print(f"check.py: cannot read {expected_path}: {e}", file=out)
            return 2

    if args.agent is not None:
        if args.agent not in index:
            print(f"check.py: agent {args.agent!r} not in {index_path} "
                  f"(agents: {', '.join(sorted(index)) or 'none'})", file=out)
            return 1
        agents = [args.agent]
    else:
        agents = sorted(index)
        if not agents:
            print(f"check.py: {index_path} has no agents", file=out)
            return 1

    bad = 0
    for i, agent in enumerate(agents):
        if i:
            print(file=out)
        bad += check_agent(args.report_dir, agent, index[agent], expected, out)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
