# SPDX-License-Identifier: GPL-2.0-only
"""Turn the guest's kmemleak scan into a KUnit-style result.

scan(GUEST_OUT, RESULTS.json, RESULTS.xml): GUEST_OUT is what the QEMU guest's /init (tools/qemu/init) sent out on its
second serial port after the suites: a "=== kmemleak" section holding
/sys/kernel/debug/kmemleak after two scans (kmemleak reports an object
only once its contents stayed the same across two scans, and none younger
than 5 s: /init waits that long first), and "=== kmemleak end".

A leak whose allocation backtrace goes through the code under test (the
IOMMU core, dma-iommu, the IOVA allocator, the fake, a KUnit case) fails
the check; other reports (the rest of the kernel's boot) are counted and
left alone. The result is added to kunit.py's JSON (and to the JUnit XML,
if there is one) as the case no_leak_from_code_under_test of the suite
iommu_kmemleak, so totals, make mutate and CI count it like any case. A
missing or cut-off section (the guest did not get that far) or a failed
scan fails it too: no scan is not a clean scan.

scan() returns whether the check passed.
"""
import json
import os
import re
import sys
from typing import List, Optional, Tuple

from .common import log, write_text

SUITE = 'iommu_kmemleak'
CASE = 'no_leak_from_code_under_test'

# A backtrace frame, as 6.12 and 7.x print them: "[<address>] func+off/len"
# (the address may be hidden, or absent).
FRAME = re.compile(r'^\s*(?:\[<[0-9a-fA-Fx?]*>\]\s*)?([A-Za-z_][\w]*)'
				   r'(?:\.[\w.]+)?\+0x[0-9a-f]+/0x[0-9a-f]+')

# Functions of the code under test: the IOMMU core and its drivers
# (iommu_*, __iommu_*, s390_iommu_*), dma-iommu and the DMA API (dma_*,
# __dma_*), the IOVA allocator, scatterlists, the fake, the IOVA-link
# API's callers, and anything a KUnit case allocated.
UNDER_TEST = re.compile(r'^_*(iommu|s390_iommu|fake_iommu|dma|iova|alloc_iova|'
						r'sg_alloc|sgl_alloc|blk_rq_dma|kunit_try_run_case)')


def section(text: str) -> Optional[List[str]]:
	"""The lines of the kmemleak section, or None if it is missing or cut off."""
	lines: List[str] = []
	inside = False
	for raw in text.splitlines():
		line = raw.rstrip('\r')
		if line.strip() == '=== kmemleak':
			lines, inside = [], True
		elif line.strip() == '=== kmemleak end' and inside:
			return lines
		elif inside:
			lines.append(line)
	return None


def reports(lines: List[str]) -> List[List[str]]:
	"""Split the section into reports, one per unreferenced object."""
	out: List[List[str]] = []
	for line in lines:
		if line.startswith('unreferenced object'):
			out.append([line])
		elif out:
			out[-1].append(line)
	return out


def frames(report: List[str]) -> List[str]:
	"""The function names of a report's backtrace, innermost first."""
	names: List[str] = []
	in_trace = False
	for line in report:
		if line.strip().startswith('backtrace'):
			in_trace = True
			continue
		if in_trace:
			m = FRAME.match(line)
			if m:
				names.append(m.group(1))
	return names


def under_test(report: List[str]) -> bool:
	"""Whether a report's backtrace goes through the code under test."""
	return any(UNDER_TEST.match(name) for name in frames(report))


def check(text: str) -> Tuple[bool, str]:
	"""(passed, message) for the guest's output."""
	lines = section(text)
	if lines is None:
		return False, ('kmemleak did not report: the guest did not get to '
					   'its scan after the suites, or was cut off during it')
	bad = [line for line in lines if line.startswith('kmemleak:')]
	if bad:
		return False, '\n'.join(bad)
	found = reports(lines)
	leaks = [r for r in found if under_test(r)]
	other = len(found) - len(leaks)
	if not leaks:
		return True, (f'kmemleak: no leak from the code under test '
					  f'({other} other report(s) left alone)')
	msg = [f'kmemleak: {len(leaks)} leak(s) from the code under test '
		   f'({other} other report(s) left alone):']
	for r in leaks:
		msg.extend(r)
	return False, '\n'.join(msg)


def add_json(path: str, passed: bool) -> None:
	"""Add the iommu_kmemleak suite to kunit.py's JSON results."""
	with open(path) as f:
		results = json.load(f)
	status = 'PASS' if passed else 'FAIL'
	misc = {'tests': 1, 'passed': int(passed), 'failed': int(not passed),
			'crashed': 0, 'skipped': 0, 'errors': 0}
	group = {key: value for key, value in results.items()
			 if key not in ('sub_groups', 'test_cases', 'misc', 'name')}
	group.update(name=SUITE, sub_groups=[], misc=misc,
				 test_cases=[{'name': CASE, 'status': status}])
	results.setdefault('sub_groups', []).append(group)
	top = results.setdefault('misc', {})
	for key in ('tests', 'passed', 'failed'):
		top[key] = top.get(key, 0) + misc[key]
	write_text(path, json.dumps(results, indent=4))


def add_junit(path: str, passed: bool, message: str) -> None:
	"""Add the iommu_kmemleak suite to a JUnit XML report (kunit.py's or ours)."""
	import xml.etree.ElementTree as ET
	tree = ET.parse(path)
	root = tree.getroot()
	suite = ET.SubElement(root, 'testsuite', name=SUITE, tests='1',
						  failures=str(int(not passed)), skipped='0',
						  errors='0')
	case = ET.SubElement(suite, 'testcase', name=CASE, classname=SUITE)
	if passed:
		ET.SubElement(case, 'system-out').text = message
	else:
		ET.SubElement(case, 'failure', message='kmemleak',
					  type='FAIL').text = message
	for key, add in (('tests', 1), ('failures', int(not passed))):
		value = root.get(key)
		if value is not None:
			root.set(key, str(int(value) + add))
	tree.write(path, encoding='utf-8', xml_declaration=True)


def report(passed: bool, message: str) -> None:
	"""Says what the check found: a line, or the leaks on stderr."""
	if passed:
		log(message)
	else:
		sys.stdout.flush()
		print('iommu-kunit: error: ' + message.replace('\n', '\n    '),
		      file=sys.stderr, flush=True)


def scan(guest_out: str, json_path: str, xml_path: Optional[str] = None) -> bool:
	"""Adds kmemleak's verdict on the guest's output guest_out to the
	results (json_path, and the JUnit XML xml_path if it is there); says
	what it found; whether the check passed."""
	try:
		with open(guest_out, errors='replace') as f:
			text = f.read()
	except FileNotFoundError:
		text = ''
	passed, message = check(text)
	report(passed, message)
	add_json(json_path, passed)
	if xml_path and os.path.exists(xml_path):
		add_junit(xml_path, passed, message)
	return passed
