#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/ktap.py and results.py: the KTAP taken
# out of kunit.py's test.log (prefixes, the end marker), what each case
# printed, kunit.py's JSON checked for missing or skipped suites, the
# JUnit XML written from it with each failure's text, the kernel version
# filled in, and the JSON+JUnit reports of make mutate, flake and
# presubmit.
#
#   python3 tools/tests/results_test.py [-v]

"""Unit tests for tools/iommu_kunit/ktap.py and results.py."""

import io
import json
import unittest
import xml.etree.ElementTree as ET

from helpers import TEST_LOG, TmpTestCase, kunit_json, read, write
from iommu_kunit import ktap, results


class KtapTest(unittest.TestCase):

	def test_extract(self) -> None:
		lines = ktap.extract(TEST_LOG.splitlines())
		self.assertEqual(lines[0], 'KTAP version 1')
		self.assertEqual(lines[-1], 'ok 2 kunit_script')
		self.assertNotIn('reboot: System halted', lines)

	def test_prefix_cut(self) -> None:
		"""A timestamp before every line (printk time) is cut."""
		log = ['[    0.06] console ready', '[    0.06] TAP version 14',
		       '[    0.06] \t# Subtest: s', '[    0.06] \t1..1',
		       '[    0.06] \tok 1 - c', '[    0.06] ok 1 - s',
		       '[    0.06] List of all partitions:', '[    0.06] junk']
		self.assertEqual(ktap.extract(log), ['TAP version 14', '\t# Subtest: s', '\t1..1',
						     '\tok 1 - c', 'ok 1 - s'])
		self.assertEqual(ktap.case_logs(ktap.extract(log)), {'s.c': [], 's': []})

	def test_executor_error(self) -> None:
		self.assertEqual(ktap.extract(['kunit executor: bad glob']),
				 ['kunit executor: bad glob'])
		self.assertEqual(ktap.extract(['no KTAP here']), [])

	def test_case_logs(self) -> None:
		logs = ktap.case_logs(ktap.extract(TEST_LOG.splitlines()))
		self.assertEqual(set(logs), {
			'iommu_map.iommu_map_test_success', 'iommu_map.iommu_map_test_unaligned',
			'iommu_map.iommu_map_test_sync_error.ENOMEM',
			'iommu_map.iommu_map_test_sync_error.EIO',
			'iommu_map.iommu_map_test_sync_error', 'iommu_map',
			'kunit_script.kunit_script_test_nth', 'kunit_script'})
		self.assertEqual([line.strip() for line in logs['iommu_map.iommu_map_test_unaligned']], [
			'# iommu_map_test_unaligned: EXPECTATION FAILED at '
			'drivers/iommu/tests/iommu_map_kunit.c:42',
			'Expected ret == -22, but', 'ret == 0 (0x0)'])
		self.assertEqual([line.strip() for line in
				  logs['iommu_map.iommu_map_test_sync_error.EIO']],
				 ['# iommu_map_test_sync_error: ASSERTION FAILED at x.c:7'])
		# A case with parameters: what came after its last parameter.
		self.assertEqual([line.strip() for line in logs['iommu_map.iommu_map_test_sync_error']],
				 ['# iommu_map_test_sync_error: pass:1 fail:1 skip:0 total:2'])
		self.assertEqual(logs['kunit_script.kunit_script_test_nth'], [])
		self.assertEqual(logs['iommu_map.iommu_map_test_success'], ['    # module: iommu_map_kunit'])


class CheckTest(TmpTestCase):
	"""Every expected suite ran and was not skipped entirely."""

	def check(self, suites: dict, expected: list, glob: str = '') -> tuple:
		path = write(self.path('r.json'), kunit_json(suites))
		out, err = io.StringIO(), io.StringIO()
		ok = results.check(path, expected, glob, out, err)
		return ok, out.getvalue(), err.getvalue()

	def test_all_ran(self) -> None:
		ok, out, err = self.check({'a': ['PASS', 'FAIL'], 'b': ['SKIP', 'PASS']}, ['a', 'b'])
		self.assertTrue(ok)
		self.assertEqual(out, '[iommu-kunit] all 2 expected suites ran (4 test cases): a, b\n')
		self.assertEqual(err, '')

	def test_missing_empty_skipped(self) -> None:
		ok, _, err = self.check({'b': [], 'c': ['SKIP']}, ['a', 'b', 'c'])
		self.assertFalse(ok)
		self.assertEqual(err.splitlines(), [
			'iommu-kunit: error: suite a is missing from the results: it was not built or '
			"did not run (check its CONFIG_*_KUNIT_TEST and their dependencies in the "
			"build's .config)",
			'iommu-kunit: error: suite b ran no test case',
			'iommu-kunit: error: suite c was skipped entirely'])

	def test_skipped_cases(self) -> None:
		"""With the leg's allowed skips, any other skipped case fails the
		check; without (a bare kunit.py run), only whole suites count."""
		path = write(self.path('r.json'), kunit_json({'a': ['PASS', 'SKIP', 'SKIP']}))
		err = io.StringIO()
		self.assertFalse(results.check(path, ['a'], skips=['a.case2'], err=err))
		self.assertEqual(err.getvalue().splitlines(), [
			'iommu-kunit: error: case a.case1 was skipped: the leg\'s configuration '
			'should give it what it needs (the skips a leg allows are the "skip:" '
			'lines of its kunitconfig/*.suites)'])
		self.assertTrue(results.check(path, ['a'], skips=['a.case[12]'], err=err))
		self.assertTrue(results.check(path, ['a'], err=err))
		self.assertEqual(results.problems(results.load(path), ['a'], skips=[]),
				 results.problems(results.load(path), ['a'], skips=['b.*']))

	def test_glob(self) -> None:
		"""A filter glob expects only the suites it selects."""
		self.assertTrue(self.check({'iommu_map': ['PASS']}, ['iommu_map', 'iommu_dma'],
					   'iommu_map.some_case')[0])
		self.assertFalse(self.check({'iommu_map': ['PASS']}, ['iommu_map', 'iommu_dma'],
					    'iommu_*')[0])

	def test_counts_and_lists(self) -> None:
		path = write(self.path('r.json'), kunit_json({'a': ['PASS', 'FAIL', 'SKIP'],
							     'b': ['ERROR']}))
		self.assertEqual(results.count(path), (4, 2))
		self.assertEqual(results.failed_cases(path), ['a.case1 FAIL', 'b.case0 ERROR'])
		self.assertEqual(results.all_cases(path)[0], 'a.case0 PASS')
		self.assertEqual(results.total_line([path, path]),
				 'total: 2 passed, 4 failed, 2 skipped')

	def test_set_kernel(self) -> None:
		path = write(self.path('r.json'), kunit_json({'a': ['PASS']}))
		results.set_kernel(path, '7.3.0')
		data = json.loads(read(path))
		self.assertEqual((data['kernel'], data['sub_groups'][0]['kernel']), ('7.3.0', '7.3.0'))

	def test_junit_of_params_and_skips(self) -> None:
		js = write(self.path('r.json'), json.dumps({'name': 'x', 'sub_groups': [
			{'name': 's', 'test_cases': [{'name': 'a', 'status': 'SKIP'},
						     {'name': 'b', 'status': 'ERROR'}],
			 'sub_groups': [{'name': 'p', 'sub_groups': [],
					 'test_cases': [{'name': 'one', 'status': 'PASS'}]}]}]}))
		xml = self.path('r.xml')
		results.junit(js, xml)
		root = ET.parse(xml).getroot()
		self.assertEqual((root.get('tests'), root.get('failures'), root.get('skipped')),
				 ('3', '1', '1'))
		cases = [c.get('name') for c in root.iter('testcase')]
		self.assertEqual(cases, ['a', 'b', 'p.one'])
		fail = root.find('testsuite/testcase[@name="b"]/failure')
		assert fail is not None
		self.assertEqual(fail.get('type'), 'ERROR')
		self.assertIn('kunit.py printed nothing', fail.text or '')


class ReportTest(TmpTestCase):
	"""make mutate, flake and presubmit's JSON+JUnit under results/."""

	def test_report(self) -> None:
		items = [results.Case('um/01-a', 'PASS', 'KILLED (3 of 50 cases failed)', cases=50),
			 results.Case('um/02-b', 'FAIL', 'SURVIVED (tests passed)'),
			 results.Case('s390', 'SKIP', 'left out')]
		js, xml = results.report(self.path('res'), 'mutate', 'mutate', '7.3.0', items,
					 {'killed': 1, 'total': 2})
		self.assertEqual((js, xml), (self.path('res', 'mutate.json'),
					     self.path('res', 'mutate.xml')))
		data = json.loads(read(js))
		self.assertEqual((data['kind'], data['kernel'], data['passed'], data['failed'],
				  data['skipped'], data['killed']), ('mutate', '7.3.0', 1, 1, 1, 1))
		self.assertEqual(data['items'][0], {'name': 'um/01-a', 'status': 'PASS',
						    'text': 'KILLED (3 of 50 cases failed)', 'cases': 50})
		root = ET.parse(xml).getroot()
		self.assertEqual((root.get('tests'), root.get('failures'), root.get('skipped')),
				 ('3', '1', '1'))
		fail = root.find('testsuite/testcase[@name="um/02-b"]/failure')
		assert fail is not None
		self.assertEqual(fail.text, 'SURVIVED (tests passed)')
		self.assertEqual(root.find('testsuite').get('name'), 'mutate (7.3.0)')  # type: ignore[union-attr]


if __name__ == '__main__':
	unittest.main()
