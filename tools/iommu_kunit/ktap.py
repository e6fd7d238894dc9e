# SPDX-License-Identifier: GPL-2.0-only
"""KTAP out of kunit.py's test.log, and what each case printed.

kunit.py exec keeps the kernel's whole console output in the build
directory's test.log. extract() takes the KTAP out of it the way
kunit_parser.extract_tap_lines() does (from the first "KTAP version" or
"TAP version" line, whose prefix, a timestamp say, is cut from every line,
to kunit's end marker); the runner saves it as results/<tree>/
kunit-<arch>.ktap. case_logs() gives each case the lines printed since the
previous result line (its expectation failures, and the
kernel's messages while it ran, a WARN's backtrace say), for the JUnit
XML's failure text."""

import re
from typing import Dict, Iterable, List

KTAP_START = re.compile(r'\s*KTAP version ([0-9]+)$')
TAP_START = re.compile(r'\s*TAP version ([0-9]+)$')
KTAP_END = re.compile(r'\s*(List of all partitions:|'
		      r'Kernel panic - not syncing: VFS:|reboot: System halted)')
EXECUTOR_ERROR = re.compile(r'\s*kunit executor: (.*)$')

RESULT = re.compile(r'^(ok|not ok) [0-9]+ ?(- )?([^#]*)( # .*)?$')
SUBTEST = re.compile(r'^# Subtest: (.*)$')
PLAN = re.compile(r'^[0-9]+\.\.[0-9]+')


def extract(lines: Iterable[str]) -> List[str]:
	"""The KTAP lines of a kernel's output, prefixes cut."""
	out: List[str] = []
	started = False
	prefix = 0
	for raw in lines:
		line = raw.rstrip('\r\n').rstrip()
		if not started and KTAP_START.search(line):
			prefix = len(line.split('KTAP version')[0])
			started = True
			out.append(line[prefix:])
		elif not started and TAP_START.search(line):
			prefix = len(line.split('TAP version')[0])
			started = True
			out.append(line[prefix:])
		elif started and KTAP_END.search(line):
			break
		elif started:
			out.append(line[prefix:])
		elif EXECUTOR_ERROR.search(line):
			out.append(line)
	return out


def indent(line: str) -> int:
	return len(line) - len(line.lstrip(' \t'))


def case_logs(ktap: Iterable[str]) -> Dict[str, List[str]]:
	"""{"suite.case" or "suite.case.param": the lines printed for it}.

	A result line ("ok N name", "not ok N name") at indentation L closes
	the test name; "# Subtest: name" lines (at the level of their
	children) give the path above it. A case's log is what came after the
	previous result line, structure lines (KTAP version, plans, subtest
	headers) left out: for a case with parameters, what came after its
	last parameter's result (its summary line)."""
	lines = list(ktap)
	names: Dict[int, str] = {}
	since = -1
	out: Dict[str, List[str]] = {}
	for i, raw in enumerate(lines):
		level = indent(raw)
		text = raw.strip()
		m = SUBTEST.match(text)
		if m:
			names[level] = m.group(1).strip()
			continue
		m = RESULT.match(text)
		if not m:
			continue
		name = m.group(3).strip()
		path = [names[lvl] for lvl in sorted(names) if 0 < lvl <= level]
		log = [line for line in lines[since + 1:i]
		       if not (KTAP_START.match(line.strip()) or TAP_START.match(line.strip()) or
			       PLAN.match(line.strip()) or SUBTEST.match(line.strip()))]
		out['.'.join(path + [name])] = log
		since = i
		for lvl in [lvl for lvl in names if lvl > level]:
			del names[lvl]
	return out
