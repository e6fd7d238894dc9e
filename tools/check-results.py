#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check kunit.py's JSON results: every expected suite ran and was not skipped.

usage: check-results.py RESULTS.json EXPECTED.suites [FILTER_GLOB]
       check-results.py --total RESULTS.json...
       check-results.py --failed RESULTS.json

EXPECTED.suites lists one suite name a line ('#' starts a comment). With a
kunit.py filter glob ("suite" or "suite.test"), only the suites it selects
are expected. A suite that is missing from the results was not built, most
often because a Kconfig dependency turned its CONFIG_*_KUNIT_TEST off.
"""
import fnmatch
import json
import sys


def cases(group):
    """Yield the status of every test case under a group, at any depth."""
    for case in group.get("test_cases", []):
        yield case["status"]
    for sub in group.get("sub_groups", []):
        yield from cases(sub)


def total(paths):
    """Print one 'total: N passed, N failed, N skipped' line for all legs."""
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for path in paths:
        with open(path) as f:
            for status in cases(json.load(f)):
                counts["PASS" if status == "PASS" else
                       "SKIP" if status == "SKIP" else "FAIL"] += 1
    print(f"total: {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIP']} skipped")
    return 0


def failed(path):
    """Print how many test cases ran and how many of them failed."""
    with open(path) as f:
        statuses = list(cases(json.load(f)))
    print(len(statuses), sum(s not in ("PASS", "SKIP") for s in statuses))
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--total":
        return total(argv[2:])
    if len(argv) == 3 and argv[1] == "--failed":
        return failed(argv[2])
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    with open(argv[1]) as f:
        results = json.load(f)
    with open(argv[2]) as f:
        expected = [line.split("#")[0].strip() for line in f]
    expected = [s for s in expected if s]
    glob = argv[3] if len(argv) == 4 and argv[3] else "*"
    suite_glob = glob.split(".")[0]
    expected = [s for s in expected if fnmatch.fnmatchcase(s, suite_glob)]

    suites = {g["name"]: list(cases(g)) for g in results.get("sub_groups", [])}
    bad = []
    for name in expected:
        if name not in suites:
            bad.append(f"suite {name} is missing from the results: it was not "
                       "built or did not run (check its CONFIG_*_KUNIT_TEST "
                       "and their dependencies in the build's .config)")
        elif not suites[name]:
            bad.append(f"suite {name} ran no test case")
        elif all(s == "SKIP" for s in suites[name]):
            bad.append(f"suite {name} was skipped entirely")
    for msg in bad:
        print(f"iommu-kunit: error: {msg}", file=sys.stderr)
    if not bad and expected:
        n = sum(len(suites[s]) for s in expected)
        print(f"[iommu-kunit] all {len(expected)} expected suites ran "
              f"({n} test cases): {', '.join(expected)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
