#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/coverage.py, on a made-up source file and tracefile.
#
#   python3 tools/tests/coverage_test.py [-v]

"""Unit tests for tools/iommu_kunit/coverage.py."""

import contextlib
import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from iommu_kunit import coverage  # noqa: E402

SOURCE = '''\
int helper(void)
{
	return 0;
}

int iommu_map(struct iommu_domain *domain, unsigned long iova)
{
	int ret;

	ret = iommu_map_nosync(domain, iova);
	if (ret)
		return ret;
	ret = sync(domain);
	if (ret) {
		iommu_unmap(domain, iova);
		return ret;
	}
	if (!domain->ptr)
		goto out_free;
	return 0;
out_free:
	kfree(domain);
	return -ENOMEM;
}
'''.splitlines()

# iommu_map starts at line 6; lines 11-24 are its body.
INFO = '''\
TN:
SF:/src/drivers/iommu/iommu.c
FN:1,helper
FN:6,iommu_map
FNDA:3,iommu_map
DA:3,1
DA:10,3
DA:11,3
DA:12,1
DA:13,2
DA:14,2
DA:15,0
DA:16,0
DA:18,2
DA:19,0
DA:20,2
DA:22,0
DA:23,0
BRDA:11,0,0,1
BRDA:11,0,1,2
BRDA:14,0,0,-
BRDA:14,0,1,2
end_of_record
'''


def summarise(info=INFO, explained=frozenset()):
    return coverage.summarise(coverage.parse_info(info),
                              lambda p: SOURCE if p.endswith('iommu.c')
                              else None, explained)


class ParseTest(unittest.TestCase):

    def test_parse(self):
        rec = coverage.parse_info(INFO)['/src/drivers/iommu/iommu.c']
        self.assertEqual(rec.functions, {'helper': 1, 'iommu_map': 6})
        self.assertEqual(rec.lines[11], 3)
        self.assertEqual(rec.branches[14], [0, 2])

    def test_counts_of_a_line_add_up(self):
        info = INFO.replace('DA:3,1\n', 'DA:3,1\nDA:3,4\n')
        rec = coverage.parse_info(info)['/src/drivers/iommu/iommu.c']
        self.assertEqual(rec.lines[3], 5)

    def test_extent_ends_at_column_0_brace(self):
        self.assertEqual(coverage.function_extent(SOURCE, 6), (6, 24))
        self.assertEqual(coverage.function_extent(SOURCE, 1), (1, 4))


class ErrorLinesTest(unittest.TestCase):

    def test_error_lines(self):
        inst = {n: 1 for n in range(7, 24)}
        self.assertEqual(coverage.error_lines(SOURCE, 6, 24, inst),
                         [12, 15, 16, 17, 19, 21, 22, 23])

    def test_only_instrumented_lines(self):
        self.assertEqual(coverage.error_lines(SOURCE, 6, 24, {12: 1, 13: 1}),
                         [12])


class SummaryTest(unittest.TestCase):

    def test_row_and_unreached(self):
        rows, unreached = summarise()
        row = dict((r[0], r) for r in rows)['iommu_map']
        self.assertEqual(row[1:6], (7, 12, 3, 4, 8))
        self.assertEqual([u[2] for u in unreached], [14, 15, 16, 19, 22, 23])

    def test_inlined_function_found_in_source(self):
        info = INFO.replace('FN:6,iommu_map\n', '')
        rows, unreached = summarise(info)
        row = dict((r[0], r) for r in rows)['iommu_map']
        self.assertEqual(row[1:3], (7, 12))
        self.assertEqual(len(unreached), 6)

    def test_not_built_is_not_unreached(self):
        rows, _ = summarise()
        row = dict((r[0], r) for r in rows)['s390_iommu_map_pages']
        self.assertIsNone(row[2])

    def test_explained_line(self):
        readme = '| iommu_map | `goto out_free;` | no test can clear ptr |\n'
        explained = coverage.explained_entries(readme)
        self.assertEqual(explained, {('iommu_map', 'goto out_free;')})
        _, unreached = summarise(explained=explained)
        self.assertEqual([u[2] for u in unreached], [14, 15, 16, 22, 23])

    def test_main_exit_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, 'drivers', 'iommu')
            os.makedirs(src)
            with open(os.path.join(src, 'iommu.c'), 'w') as f:
                f.write('\n'.join(SOURCE) + '\n')
            info = os.path.join(tmp, 'cov.info')
            with open(info, 'w') as f:
                f.write(INFO.replace('/src', tmp))
            out = io.StringIO()
            with redirect_stdout(out):
                self.assertEqual(coverage.table(info, 'um'), 1)
            self.assertIn('NOT REACHED', out.getvalue())
            self.assertIn('6 unexplained', out.getvalue())
            full = INFO.replace('/src', tmp).replace('BRDA:14,0,0,-',
                                                     'BRDA:14,0,0,1')
            for n in (15, 16, 19, 22, 23):
                full = full.replace(f'DA:{n},0', f'DA:{n},1')
            with open(info, 'w') as f:
                f.write(full)
            with redirect_stdout(io.StringIO()):
                self.assertEqual(coverage.table(info), 0)

    def test_main_empty_tracefile(self):
        with tempfile.NamedTemporaryFile('w', suffix='.info') as f:
            f.write('TN:\nSF:/x/lib/other.c\nFN:1,f\nDA:1,1\nend_of_record\n')
            f.flush()
            with redirect_stdout(io.StringIO()):
                self.assertEqual(coverage.table(f.name), 2)


class GcdaTest(unittest.TestCase):

    DUMP = ('=== kmemleak\r\nunreferenced object 0xffff (size 8):\r\n'
            '=== kmemleak end\r\n'
            '\r\n=== ./b/drivers/iommu/iommu.gcda\r\n'
            'AAEC\r\nAw==\r\n'
            '=== ./b/lib/x.gcda\r\nBA==\r\n'
            '=== end\r\n')

    def test_unpack(self):
        self.assertEqual(coverage.unpack_gcda(self.DUMP),
                         {'/b/drivers/iommu/iommu.gcda': b'\x00\x01\x02\x03',
                          '/b/lib/x.gcda': b'\x04'})

    def test_prefix(self):
        self.assertEqual(list(coverage.unpack_gcda(self.DUMP, '/b/drivers') or {}),
                         ['/b/drivers/iommu/iommu.gcda'])

    def test_incomplete(self):
        self.assertIsNone(coverage.unpack_gcda(self.DUMP.replace('end', '')))

    def test_main_writes_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            dump = os.path.join(tmp, 'dump')
            with open(dump, 'w') as f:
                f.write(self.DUMP.replace('./b', '.' + tmp))
            os.makedirs(os.path.join(tmp, 'drivers/iommu'))
            with redirect_stdout(io.StringIO()):
                self.assertEqual(coverage.unpack(dump, tmp + "/drivers"), 0)
            with open(os.path.join(tmp, 'drivers/iommu/iommu.gcda'), 'rb') as f:
                self.assertEqual(f.read(), b'\x00\x01\x02\x03')
            self.assertFalse(os.path.exists(os.path.join(tmp, 'lib')))
            with redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(coverage.unpack(dump), 1)


if __name__ == '__main__':
    unittest.main()
