# SPDX-License-Identifier: GPL-2.0-only
"""What kunit.py's results say, and what the runner writes for CI bots.

kunit.py's JSON (KernelCI format) is checked for missing or entirely
skipped suites: a suite missing from the results was not built, most
often because a Kconfig dependency turned its CONFIG_*_KUNIT_TEST off.
JUnit XML is kunit.py's own where the tree's kunit.py has --junit (7.2
on), else written here from the JSON, each failed case's <failure>
holding what it printed (ktap.case_logs). make total adds results up.
make mutate, make flake and make presubmit write a report each: JSON and
JUnit under results/<tree>/ (report())."""

import fnmatch
import json
import os
import sys
from typing import Any, Dict, IO, Iterator, List, Mapping, Optional, Sequence, Tuple

from . import table
from .common import UsageError, log, write_text

Json = Dict[str, Any]


def load(path: str) -> Json:
	"""kunit.py's JSON results in file path (ValueError if not JSON)."""
	with open(path) as f:
		data = json.load(f)
	if not isinstance(data, dict):
		raise ValueError('not a JSON object')
	return data


def cases(group: Json) -> Iterator[str]:
	"""The status of every test case under a group, at any depth."""
	for case in group.get('test_cases', []):
		yield case['status']
	for sub in group.get('sub_groups', []):
		yield from cases(sub)


def leaves(group: Json, prefix: str = '') -> Iterator[Tuple[str, str]]:
	"""(name, status) of every test case, parameters as case.param."""
	for case in group.get('test_cases', []):
		yield prefix + case['name'], case['status']
	for sub in group.get('sub_groups', []):
		yield from leaves(sub, prefix + sub['name'] + '.')


def failed_status(status: str) -> bool:
	return status not in ('PASS', 'SKIP')


def count(path: str) -> Tuple[int, int]:
	"""How many test cases ran, and how many of them failed."""
	statuses = list(cases(load(path)))
	return len(statuses), sum(failed_status(s) for s in statuses)


def all_cases(path: str) -> List[str]:
	"""'suite.case[.param] STATUS' of every case (make flake compares)."""
	out = []
	for group in load(path).get('sub_groups', []):
		for name, status in leaves(group, group['name'] + '.'):
			out.append(f'{name} {status}')
	return out


def failed_cases(path: str) -> List[str]:
	"""'suite.case[.param] STATUS' of the cases that failed."""
	return [c for c in all_cases(path) if failed_status(c.rsplit(' ', 1)[1])]


def counts(paths: Sequence[str]) -> Dict[str, int]:
	out = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
	for path in paths:
		for status in cases(load(path)):
			out[status if status in ('PASS', 'SKIP') else 'FAIL'] += 1
	return out


def total_line(paths: Sequence[str]) -> str:
	"""'total: N passed, N failed, N skipped' over all legs' results."""
	c = counts(paths)
	return f"total: {c['PASS']} passed, {c['FAIL']} failed, {c['SKIP']} skipped"


def problems(results: Json, expected: Sequence[str], glob: str = '*',
	     skips: Optional[Sequence[str]] = None) -> List[str]:
	"""Why results do not have every suite of expected that filter glob
	selects: one message each, none if they do. With skips (globs of
	"suite.case[.param]"), a skipped case no glob names is one too."""
	suite_glob = (glob or '*').split('.')[0]
	chosen = [s for s in expected if fnmatch.fnmatchcase(s, suite_glob)]
	groups = {g['name']: g for g in results.get('sub_groups', [])}
	suites = {name: list(cases(g)) for name, g in groups.items()}
	bad = []
	for name in chosen:
		if name not in suites:
			bad.append(f'suite {name} is missing from the results: it was not '
				   'built or did not run (check its CONFIG_*_KUNIT_TEST '
				   "and their dependencies in the build's .config)")
		elif not suites[name]:
			bad.append(f'suite {name} ran no test case')
		elif all(s == 'SKIP' for s in suites[name]):
			bad.append(f'suite {name} was skipped entirely')
		elif skips is not None:
			bad += [f'case {case} was skipped: the leg\'s configuration should give '
				'it what it needs (the skips a leg allows are the "skip:" lines '
				'of its kunitconfig/*.suites)'
				for case, status in leaves(groups[name], name + '.')
				if status == 'SKIP' and
				not any(fnmatch.fnmatchcase(case, g) for g in skips)]
	return bad


def check(path: str, expected: Sequence[str], glob: str = '',
	  out: Optional[IO[str]] = None, err: Optional[IO[str]] = None,
	  skips: Optional[Sequence[str]] = None) -> bool:
	"""Whether every expected suite (of those glob selects) ran and was
	not skipped (with skips: no case but those skipped); says which did
	not on err, or that all did on out."""
	results = load(path)
	suite_glob = (glob or '*').split('.')[0]
	chosen = [s for s in expected if fnmatch.fnmatchcase(s, suite_glob)]
	bad = problems(results, chosen, glob, skips)
	for msg in bad:
		print(f'iommu-kunit: error: {msg}', file=err or sys.stderr)
	if not bad and chosen:
		suites = {g['name']: list(cases(g)) for g in results.get('sub_groups', [])}
		n = sum(len(suites[s]) for s in chosen)
		log(f"all {len(chosen)} expected suites ran ({n} test cases): "
		    f"{', '.join(chosen)}", out)
	return not bad


def set_kernel(path: str, version: str) -> None:
	"""Fills in the KernelCI field "kernel" of kunit.py's JSON (it
	leaves it null) with the kernel version that ran, in every group."""
	results = load(path)

	def fill(group: Json) -> None:
		if group.get('kernel') is None:
			group['kernel'] = version
		for sub in group.get('sub_groups', []):
			fill(sub)
	fill(results)
	write_text(path, json.dumps(results, indent=4))


# ------------------------------------------------------------------ JUnit

def junit(json_path: str, xml_path: str,
	  logs: Optional[Mapping[str, List[str]]] = None) -> None:
	"""Writes kunit.py's JSON results as JUnit XML (Jenkins, GitLab): a
	testsuite per suite, a testcase per case (parameters as
	case.param); a failed case's <failure> holds what it printed (logs,
	by 'suite.case[.param]'), as does its <system-out>."""
	import xml.etree.ElementTree as ET
	results = load(json_path)
	logs = logs or {}
	root = ET.Element('testsuites', name='kunit')
	totals = {'tests': 0, 'failures': 0, 'skipped': 0}
	for group in results.get('sub_groups', []):
		suite = ET.SubElement(root, 'testsuite', name=group['name'])
		c = {'tests': 0, 'failures': 0, 'skipped': 0}
		for name, status in leaves(group):
			case = ET.SubElement(suite, 'testcase', name=name, classname=group['name'])
			c['tests'] += 1
			text = '\n'.join(logs.get(f"{group['name']}.{name}", []))
			if status == 'SKIP':
				ET.SubElement(case, 'skipped')
				c['skipped'] += 1
			elif status != 'PASS':
				fail = ET.SubElement(case, 'failure', message=status, type=status)
				fail.text = text or f'{status} (kunit.py printed nothing for this case)'
				c['failures'] += 1
			if text:
				ET.SubElement(case, 'system-out').text = text
		for key, value in c.items():
			suite.set(key, str(value))
			totals[key] += value
	for key, value in totals.items():
		root.set(key, str(value))
	os.makedirs(os.path.dirname(xml_path) or '.', exist_ok=True)
	ET.ElementTree(root).write(xml_path, encoding='utf-8', xml_declaration=True)


# ---------------------------------------------------------------- reports

class Case:
	"""One line of a report: a name, PASS/FAIL/SKIP/ERROR, what to say."""

	def __init__(self, name: str, status: str, text: str = '', **fields: Any):
		self.name = name
		self.status = status
		self.text = text
		self.fields = fields


def report(results_dir: str, name: str, kind: str, kernel: str,
	   items: Sequence[Case], extra: Optional[Json] = None) -> Tuple[str, str]:
	"""Writes results_dir/name.json and name.xml: a report of make
	mutate, make flake or make presubmit (kind), kernel the version that
	ran; each item a testcase of one testsuite, failing unless PASS."""
	import xml.etree.ElementTree as ET
	data: Json = {'kind': kind, 'kernel': kernel,
		      'passed': sum(c.status == 'PASS' for c in items),
		      'failed': sum(c.status not in ('PASS', 'SKIP') for c in items),
		      'skipped': sum(c.status == 'SKIP' for c in items),
		      'items': [dict(name=c.name, status=c.status, text=c.text, **c.fields)
				for c in items]}
	data.update(extra or {})
	json_path = os.path.join(results_dir, name + '.json')
	xml_path = os.path.join(results_dir, name + '.xml')
	write_text(json_path, json.dumps(data, indent=1) + '\n')
	root = ET.Element('testsuites', name=f'iommu-kunit {kind}')
	suite = ET.SubElement(root, 'testsuite', name=f'{kind} ({kernel})',
			      tests=str(len(items)), failures=str(data['failed']),
			      skipped=str(data['skipped']))
	for c in items:
		case = ET.SubElement(suite, 'testcase', name=c.name, classname=kind)
		if c.status == 'SKIP':
			ET.SubElement(case, 'skipped').text = c.text
		elif c.status != 'PASS':
			f = ET.SubElement(case, 'failure', message=c.status, type=c.status)
			f.text = c.text
		elif c.text:
			ET.SubElement(case, 'system-out').text = c.text
	for key in ('tests', 'failures', 'skipped'):
		root.set(key, suite.get(key, '0'))
	ET.ElementTree(root).write(xml_path, encoding='utf-8', xml_declaration=True)
	return json_path, xml_path


# ------------------------------------------------------------------ total

def total(top: str, results: str, scope: str = '', legs: Sequence[str] = (),
	  kernels: Sequence[str] = (), out: Optional[IO[str]] = None,
	  err: Optional[IO[str]] = None) -> int:
	"""make total: a line per kernel and leg of make test's matrix (under
	scope, legs, kernels), from results/debian-<kernel>/kunit-<leg>.json
	that separate jobs may have made. A leg passes if its JSON is there,
	every suite it expects on that kernel ran and no case failed.
	patches-check leaves no results: its job's exit status is its
	verdict. Then the total line of all the legs' cases and the verdict.
	Returns 0 if every leg passed, 1 otherwise."""
	out = out or sys.stdout
	err = err or sys.stderr
	matrix = table.test_matrix(scope, legs, kernels)
	if not matrix:
		raise UsageError(f"nothing to total: no kernel of KERNELS={' '.join(kernels)} "
				 f"has a leg of LEGS={' '.join(legs)} in make test's matrix"
				 + (f' (SCOPE={scope})' if scope else ''))
	rc, n, jsons = 0, 0, []
	for k, items in matrix:
		for leg in items:
			if leg == table.PATCHES_CHECK:
				continue
			n += 1
			json_path = os.path.join(results, f'debian-{k}', f'kunit-{leg}.json')
			what = f'KERNEL={k} leg {leg}'
			if not os.path.isfile(json_path):
				log(f'{what}: FAIL: no results in {json_path} (its job did '
				    'not run, or its results/ were not collected here)', out)
				rc = 1
				continue
			expected = table.expected_suites(top, leg, k)
			try:
				ncases, failed = count(json_path)
				bad = problems(load(json_path), expected,
					       skips=table.expected_skips(top, leg, k))
			except (ValueError, KeyError, TypeError) as e:
				log(f'{what}: FAIL: {json_path} is not kunit.py JSON ({e})', out)
				rc = 1
				continue
			for msg in bad:
				print(f'iommu-kunit: error: {msg}', file=err)
			if not bad and failed == 0:
				log(f'{what}: PASS ({ncases} cases)', out)
			else:
				log(f'{what}: FAIL ({failed} of {ncases} cases failed, or an '
				    f'expected suite did not run: see {json_path})', out)
				rc = 1
			jsons.append(json_path)
	if jsons:
		print(total_line(jsons), file=out, flush=True)
	log(f'make total: PASS, {n} legs' if rc == 0 else 'make total: FAIL', out)
	return rc
