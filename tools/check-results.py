#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check kunit.py's JSON results: every expected suite ran and was not skipped.

usage: check-results.py [--junit-out OUT.xml] RESULTS.json EXPECTED.suites [FILTER_GLOB]
       check-results.py --total RESULTS.json...
       check-results.py --failed RESULTS.json
       check-results.py --junit RESULTS.json OUT.xml
       check-results.py --list-failed RESULTS.json
       check-results.py --list-all RESULTS.json

EXPECTED.suites lists one suite name a line ('#' starts a comment). With a
kunit.py filter glob ("suite" or "suite.test"), only the suites it selects
are expected. A suite that is missing from the results was not built, most
often because a Kconfig dependency turned its CONFIG_*_KUNIT_TEST off.
"""
import fnmatch
import json
import sys
import xml.etree.ElementTree as ET


def cases(group):
    """Yield the status of every test case under a group, at any depth."""
    for case in group.get("test_cases", []):
        yield case["status"]
    for sub in group.get("sub_groups", []):
        yield from cases(sub)


def load(path):
    """kunit.py's JSON results in file path."""
    with open(path) as f:
        return json.load(f)


def total(paths, out=None):
    """Print one 'total: N passed, N failed, N skipped' line for all legs."""
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for path in paths:
        for status in cases(load(path)):
            counts["PASS" if status == "PASS" else
                   "SKIP" if status == "SKIP" else "FAIL"] += 1
    print(f"total: {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIP']} skipped", file=out or sys.stdout)
    return 0


def count(path):
    """How many test cases ran, and how many of them failed."""
    statuses = list(cases(load(path)))
    return len(statuses), sum(s not in ("PASS", "SKIP") for s in statuses)


def failed(path):
    """Print how many test cases ran and how many of them failed."""
    print(*count(path))
    return 0


def read_expected(path):
    """The suite names of an EXPECTED.suites file."""
    with open(path) as f:
        expected = [line.split("#")[0].strip() for line in f]
    return [s for s in expected if s]


def problems(results, expected, glob="*"):
    """Why results (kunit.py's JSON) do not have every suite of expected
    that filter glob selects: one message each, none if they do."""
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
    return bad


def leaves(group, prefix=""):
    """Yield (name, status) of every test case, parameters as case.param."""
    for case in group.get("test_cases", []):
        yield prefix + case["name"], case["status"]
    for sub in group.get("sub_groups", []):
        yield from leaves(sub, prefix + sub["name"] + ".")


def junit(json_path, xml_path):
    """Write kunit.py's JSON results as JUnit XML (Jenkins, GitLab)."""
    with open(json_path) as f:
        results = json.load(f)
    root = ET.Element("testsuites", name="kunit")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for group in results.get("sub_groups", []):
        suite = ET.SubElement(root, "testsuite", name=group["name"])
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for name, status in leaves(group):
            case = ET.SubElement(suite, "testcase", name=name,
                                 classname=group["name"])
            counts["tests"] += 1
            if status == "SKIP":
                ET.SubElement(case, "skipped")
                counts["skipped"] += 1
            elif status != "PASS":
                ET.SubElement(case, "failure", message=status,
                              type=status)
                counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.ElementTree(root).write(xml_path, encoding="utf-8",
                               xml_declaration=True)
    return 0


def main(argv):
    if len(argv) > 2 and argv[1] == "--junit-out":
        # The check below, after writing the JUnit report: one Python
        # start per leg instead of two.
        xml_path = argv[2]
        argv = argv[:1] + argv[3:]
        if len(argv) not in (3, 4):
            sys.exit(__doc__)
        junit(argv[1], xml_path)
    if len(argv) == 4 and argv[1] == "--junit":
        return junit(argv[2], argv[3])
    if len(argv) == 3 and argv[1] in ("--list-failed", "--list-all"):
        with open(argv[2]) as f:
            results = json.load(f)
        for group in results.get("sub_groups", []):
            for name, status in leaves(group, group["name"] + "."):
                if argv[1] == "--list-all" or status not in ("PASS", "SKIP"):
                    print(f"{name} {status}")
        return 0
    if len(argv) > 1 and argv[1] == "--total":
        return total(argv[2:])
    if len(argv) == 3 and argv[1] == "--failed":
        return failed(argv[2])
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    results = load(argv[1])
    glob = argv[3] if len(argv) == 4 and argv[3] else "*"
    suite_glob = glob.split(".")[0]
    expected = [s for s in read_expected(argv[2])
                if fnmatch.fnmatchcase(s, suite_glob)]
    suites = {g["name"]: list(cases(g)) for g in results.get("sub_groups", [])}
    bad = problems(results, expected, glob)
    for msg in bad:
        print(f"iommu-kunit: error: {msg}", file=sys.stderr)
    if not bad and expected:
        n = sum(len(suites[s]) for s in expected)
        print(f"[iommu-kunit] all {len(expected)} expected suites ran "
              f"({n} test cases): {', '.join(expected)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
