#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/kmemleak.py, on made-up guest output in the formats
# 6.12 and 7.x print.
#
#   python3 tools/tests/kmemleak_test.py [-v]

"""Unit tests for tools/iommu_kunit/kmemleak.py."""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from iommu_kunit import kmemleak  # noqa: E402

# 7.x: addresses before the symbols.
LEAK_DMA = '''\
unreferenced object 0xffff888104a1c000 (size 64):
  comm "kunit_try_catch", pid 91, jiffies 4294668421
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace (crc 0):
    [<ffffffff8149a4b6>] __kmalloc_cache_noprof+0x2b6/0x470
    [<ffffffff81c3d2e1>] iommu_dma_alloc_noncontiguous+0x41/0xd0
    [<ffffffff8125a7c9>] dma_alloc_noncontiguous+0x99/0x1c0
    [<ffffffff81c5e1a3>] op_alloc_noncontiguous_map.cold+0x12/0x30
'''

# 6.12: symbols only; a leak from boot, outside the code under test.
LEAK_BOOT = '''\
unreferenced object 0xffff888100b7f200 (size 128):
  comm "swapper/0", pid 1, jiffies 4294667296
  hex dump (first 32 bytes):
    6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b  kkkkkkkkkkkkkkkk
  backtrace (crc 5d1a6c2e):
    __kmalloc_noprof+0x1f4/0x3f0
    acpi_ut_allocate_object_desc_dbg+0x4a/0x90
    do_one_initcall+0x5b/0x300
'''

# A leak of a KUnit case, deep in helpers the name rule does not know.
LEAK_CASE = '''\
unreferenced object 0xffff888104a1d000 (size 32):
  comm "kunit_try_catch", pid 93, jiffies 4294668500
  backtrace (crc 1):
    kmalloc_trace+0x2b/0x40
    some_helper.isra.0+0x10/0x20
    kunit_try_run_case+0x90/0x190
'''


def guest(body, end=True):
    return ('=== kmemleak\n' + body + ('=== kmemleak end\n' if end else '')
            + '=== ./sys/kernel/debug/gcov/a.gcda\nAAAA\n=== end\n')


class CheckTest(unittest.TestCase):
    def test_clean_scan_passes(self):
        passed, msg = kmemleak.check(guest(''))
        self.assertTrue(passed)
        self.assertIn('no leak', msg)

    def test_leak_from_dma_iommu_fails(self):
        passed, msg = kmemleak.check(guest(LEAK_BOOT + LEAK_DMA))
        self.assertFalse(passed)
        self.assertIn('1 leak(s) from the code under test', msg)
        self.assertIn('iommu_dma_alloc_noncontiguous', msg)
        self.assertNotIn('acpi_ut', msg)

    def test_leak_elsewhere_is_left_alone(self):
        passed, msg = kmemleak.check(guest(LEAK_BOOT))
        self.assertTrue(passed)
        self.assertIn('1 other report(s)', msg)

    def test_leak_of_a_kunit_case_fails(self):
        passed, _ = kmemleak.check(guest(LEAK_CASE))
        self.assertFalse(passed)

    def test_frames_of_both_formats(self):
        self.assertEqual(kmemleak.frames(kmemleak.reports(LEAK_DMA.splitlines())[0]),
                         ['__kmalloc_cache_noprof', 'iommu_dma_alloc_noncontiguous',
                          'dma_alloc_noncontiguous', 'op_alloc_noncontiguous_map'])
        self.assertEqual(kmemleak.frames(kmemleak.reports(LEAK_CASE.splitlines())[0]),
                         ['kmalloc_trace', 'some_helper', 'kunit_try_run_case'])

    def test_hex_dump_is_not_a_frame(self):
        report = kmemleak.reports(LEAK_BOOT.splitlines())[0]
        self.assertFalse(kmemleak.under_test(report))

    def test_no_section_fails(self):
        passed, msg = kmemleak.check('=== end\n')
        self.assertFalse(passed)
        self.assertIn('did not report', msg)

    def test_cut_off_section_fails(self):
        passed, _ = kmemleak.check(guest(LEAK_BOOT, end=False))
        self.assertFalse(passed)

    def test_failed_scan_fails(self):
        passed, msg = kmemleak.check(guest('kmemleak: scan failed\n'))
        self.assertFalse(passed)
        self.assertIn('scan failed', msg)

    def test_crlf(self):
        passed, _ = kmemleak.check(guest(LEAK_DMA).replace('\n', '\r\n'))
        self.assertFalse(passed)


KUNIT_JSON = {'name': 'KUnit Test Group', 'sub_groups': [
    {'name': 'iommu_dma', 'sub_groups': [], 'arch': 'x86_64',
     'test_cases': [{'name': 'a', 'status': 'PASS'}],
     'misc': {'tests': 1, 'passed': 1, 'failed': 0}}],
    'test_cases': [], 'arch': 'x86_64',
    'misc': {'tests': 1, 'passed': 1, 'failed': 0}}

# kunit.py's --junit (7.x), and results.py's (6.12).
KUNIT_XML = ('<?xml version="1.0"?><testsuite name="main" tests="1" failures="0">'
             '<testsuite name="iommu_dma" tests="1"><testcase name="a"/>'
             '</testsuite></testsuite>')
OUR_XML = ('<?xml version="1.0"?><testsuites name="kunit" tests="1" failures="0">'
           '<testsuite name="iommu_dma" tests="1"><testcase name="a"/>'
           '</testsuite></testsuites>')


class MainTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def run_main(self, guest_text, xml=None):
        out = self.write('guest.out', guest_text) if guest_text is not None \
            else os.path.join(self.dir.name, 'missing')
        js = self.write('r.json', json.dumps(KUNIT_JSON))
        xml_path = self.write('r.xml', xml) if xml else None
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()) as err:
            rc = 0 if kmemleak.scan(out, js, xml_path) else 1
        with open(js) as f:
            results = json.load(f)
        return rc, results, err.getvalue()

    def test_pass_adds_a_passing_case(self):
        rc, results, _ = self.run_main(guest(LEAK_BOOT))
        self.assertEqual(rc, 0)
        group = results['sub_groups'][-1]
        self.assertEqual(group['name'], 'iommu_kmemleak')
        self.assertEqual(group['test_cases'],
                         [{'name': 'no_leak_from_code_under_test', 'status': 'PASS'}])
        self.assertEqual(results['misc'], {'tests': 2, 'passed': 2, 'failed': 0})

    def test_leak_adds_a_failing_case(self):
        rc, results, err = self.run_main(guest(LEAK_DMA))
        self.assertEqual(rc, 1)
        self.assertEqual(results['sub_groups'][-1]['test_cases'][0]['status'], 'FAIL')
        self.assertEqual(results['misc']['failed'], 1)
        self.assertIn('iommu_dma_alloc_noncontiguous', err)

    def test_missing_guest_output_fails(self):
        rc, results, err = self.run_main(None)
        self.assertEqual(rc, 1)
        self.assertEqual(results['sub_groups'][-1]['test_cases'][0]['status'], 'FAIL')
        self.assertIn('did not report', err)

    def test_junit_of_either_writer(self):
        for xml in (KUNIT_XML, OUR_XML):
            with self.subTest(root=xml[22:40]):
                self.run_main(guest(LEAK_DMA), xml)
                root = ET.parse(os.path.join(self.dir.name, 'r.xml')).getroot()
                self.assertEqual(root.get('tests'), '2')
                self.assertEqual(root.get('failures'), '1')
                suite = root.findall('testsuite')[-1]
                self.assertEqual(suite.get('name'), 'iommu_kmemleak')
                self.assertIn('iommu_dma_alloc_noncontiguous',
                              getattr(suite.find('testcase/failure'), 'text', ''))


if __name__ == '__main__':
    unittest.main()
