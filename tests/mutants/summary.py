#!/usr/bin/env python3
"""Summarizes Stryker.NET JSON reports (bench/results/tmp/stryker-*/reports/mutation-report.json) as the markdown
tables of tests/mutants/FOLDER.md: score per file, then every survivor and uncovered mutant. Several reports
(per-file runs) may be given; for a mutant tested in more than one, the latest report given wins.

    python3 tests/mutants/summary.py REPORT.json [REPORT.json ...]
"""
import json
import sys

DETECTED = {"Killed", "Timeout"}
UNDETECTED = {"Survived", "NoCoverage"}


def main(paths):
    files = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        for name, entry in report["files"].items():
            short = name.split("src/IJepa/", 1)[-1]
            mutants = [m for m in entry["mutants"] if m["status"] in DETECTED | UNDETECTED]
            if mutants:
                files[short] = mutants
    print("| file | score | killed | survived | timeout | no coverage |")
    print("|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for name in sorted(files):
        counts = [sum(m["status"] == s for m in files[name]) for s in ("Killed", "Survived", "Timeout", "NoCoverage")]
        totals = [a + b for a, b in zip(totals, counts)]
        print(f"| {name} | {score(counts)} | {counts[0]} | {counts[1]} | {counts[2]} | {counts[3]} |")
    print(f"| **all** | **{score(totals)}** | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} |")
    print()
    print("| where | status | mutator | replacement |")
    print("|---|---|---|---|")
    for name in sorted(files):
        for m in sorted(files[name], key=lambda m: (m["location"]["start"]["line"], m["location"]["start"]["column"])):
            if m["status"] in UNDETECTED:
                replacement = m.get("replacement", "").replace("|", "\\|").replace("\n", " ")[:70]
                print(f"| {name}:{m['location']['start']['line']} | {m['status']} | {m['mutatorName']} | `{replacement}` |")


def score(counts):
    killed, survived, timeout, uncovered = counts
    total = killed + survived + timeout + uncovered
    return f"{100.0 * (killed + timeout) / total:.2f} %" if total else "n/a"


if __name__ == "__main__":
    main(sys.argv[1:])
