# SPDX-License-Identifier: GPL-2.0-only
"""Summarise an lcov tracefile for the functions the IOMMU suites test.

table(TRACEFILE.info, arch, DOC) prints the table; unpack(DUMP, DIR)
unpacks the gcov counters a QEMU guest sent out on its
second serial port (tools/qemu/init: "=== path" then the file in
base64, "=== end" last; other sections are skipped) into the build directory, next to the .gcno files
the paths name; --prefix DIR keeps only paths under DIR. Exit status 1 if
the dump is incomplete (no "=== end": the guest died before the end).

For each function under test, prints the lines and branches hit, and then
every error-handling line that no case reached. Error-handling lines are
found by reading the source (the SF: paths of the tracefile): a goto, a
return of an error, the body of an if that tests an error or a failed
allocation, and everything after an error label. A line named in the
Documentation/coverage.rst's table (a "file:function: `code`" entry) is listed as
explained instead. Exit status 1 if an unexplained unreached line is left.
"""
import base64
import os
import re
import sys
from typing import AbstractSet, Callable, Dict, List, Optional, Set, Tuple

Row = Tuple[str, Optional[int], Optional[int], Optional[int], Optional[int], int,
	    List[Tuple[str, int, str, bool]]]
Unreached = Tuple[str, str, int, str, bool]

# The functions under test, with the file they live in (lcov's SF: ends
# with it). A function absent from the tracefile is not in that kernel (6.12
# and 7.x name some differently) or not built on the arch.
FUNCTIONS = (
	('drivers/iommu/iommu.c', 'iommu_map'),
	('drivers/iommu/iommu.c', 'iommu_map_nosync'),
	('drivers/iommu/iommu.c', '__iommu_map'),			# 6.12
	('drivers/iommu/iommu.c', '__iommu_map_domain_pgtbl'),	# 7.x
	('drivers/iommu/iommu.c', 'iommu_map_sg'),
	('include/linux/iommu-sync-map.h', 'iommu_sync_map_refresh'),
	('drivers/iommu/dma-iommu.c', '__iommu_dma_map'),
	('drivers/iommu/dma-iommu.c', 'iommu_dma_map_page'),
	('drivers/iommu/dma-iommu.c', 'iommu_dma_map_phys'),
	('drivers/iommu/dma-iommu.c', 'iommu_dma_map_sg'),
	('drivers/iommu/dma-iommu.c', 'iommu_dma_map_sg_swiotlb'),
	('drivers/iommu/dma-iommu.c', '__iommu_dma_alloc_noncontiguous'),
	('drivers/iommu/dma-iommu.c', 'iommu_dma_alloc_remap'),
	('drivers/iommu/dma-iommu.c', '__iommu_dma_alloc_pages'),
	('drivers/iommu/dma-iommu.c', 'iommu_dma_alloc_iova'),
	('drivers/iommu/dma-iommu.c', 'dma_iova_try_alloc'),
	('drivers/iommu/dma-iommu.c', 'dma_iova_link'),
	('drivers/iommu/dma-iommu.c', '__dma_iova_link'),
	('drivers/iommu/dma-iommu.c', 'iommu_dma_iova_link_swiotlb'),
	('drivers/iommu/dma-iommu.c', 'dma_iova_sync'),
	('drivers/iommu/dma-iommu.c', 'dma_iova_unlink'),
	('drivers/iommu/dma-iommu.c', 'dma_iova_destroy'),
	('drivers/iommu/s390-iommu.c', 's390_iommu_iotlb_sync_map'),
	('drivers/iommu/s390-iommu.c', 's390_iommu_map_pages'),
	('drivers/iommu/s390-iommu.c', 's390_iommu_validate_trans'),
)

ERROR_LABEL = re.compile(r'^\s*(out|err|fail|undo|unwind|free|cleanup)\w*:')
ERROR_STMT = re.compile(
	r'\bgoto\s+\w+\s*;|'
	r'\breturn\s+(-E[A-Z0-9]+|DMA_MAPPING_ERROR|NULL|ERR_PTR\b|'
	r'(ret|err|rc|error)\s*;)')
ERROR_TEST = re.compile(
	r'^\s*(}\s*else\s+)?if\s*\(.*(\b(ret|err|rc|error)\b|!\s*\w+|'
	r'IS_ERR|dma_mapping_error|unlikely|WARN_ON|==\s*NULL|<\s*0)')


class Record:
	"""The lcov data of one source file."""

	def __init__(self, path: str):
		self.path = path
		self.functions: Dict[str, int] = {}	# name -> first line
		self.lines: Dict[int, int] = {}		# line -> hit count
		self.branches: Dict[int, List[int]] = {}	# line -> [taken, ...] (0 when '-')


def parse_info(text: str) -> Dict[str, Record]:
	"""Parse an lcov tracefile into Records, keyed by source path."""
	records: Dict[str, Record] = {}
	cur: Optional[Record] = None
	for raw in text.splitlines():
		key, _, val = raw.partition(':')
		if key == 'SF':
			cur = records.setdefault(val, Record(val))
		elif cur is None:
			continue
		elif key == 'FN':
			line, name = val.split(',', 1)
			cur.functions.setdefault(name, int(line))
		elif key == 'DA':
			line, count = val.split(',')[:2]
			cur.lines[int(line)] = cur.lines.get(int(line), 0) + int(count)
		elif key == 'BRDA':
			line, _, _, taken = val.split(',')
			cur.branches.setdefault(int(line), []).append(
				0 if taken == '-' else int(taken))
		elif key == 'end_of_record':
			cur = None
	return records


def function_extent(source_lines: List[str], first: int) -> Tuple[int, int]:
	"""Lines (1-based, inclusive) of the function whose FN line is @first:
	up to the kernel-style closing brace in column 0."""
	for i in range(first - 1, len(source_lines)):
		if source_lines[i].startswith('}'):
			return first, i + 1
	return first, len(source_lines)


def error_lines(source_lines: List[str], start: int, end: int,
				instrumented: Dict[int, int]) -> List[int]:
	"""The instrumented lines in [start, end] that handle an error."""
	found: List[int] = []
	after_label = False
	body_of_test = False
	depth_at_test: Optional[int] = None
	for n in range(start, end + 1):
		text = source_lines[n - 1]
		code = text.split('//')[0]
		if ERROR_LABEL.match(code):
			after_label = True
		is_err = after_label or body_of_test or bool(ERROR_STMT.search(code))
		if n in instrumented and is_err and n != end:
			found.append(n)
		if body_of_test:
			# A braced body runs to its closing brace, a bare one to ';'.
			if depth_at_test is None:
				if ';' in code:
					body_of_test = False
			else:
				depth_at_test += code.count('{') - code.count('}')
				if depth_at_test <= 0:
					body_of_test = False
		if ERROR_TEST.match(code) and not after_label:
			body_of_test = True
			depth_at_test = 1 if code.rstrip().endswith('{') else None
	return found


def explained_entries(readme_text: str) -> Set[Tuple[str, str]]:
	"""(function, code) pairs Documentation/coverage.rst explains as unreachable."""
	return set(re.findall(r'^\|\s*`?(\w+)`?\s*\|\s*`([^`]+)`', readme_text,
						  re.M))


def find_function(records: Dict[str, Record],
				  read_source: Callable[[str], Optional[List[str]]],
				  suffix: str, name: str
				  ) -> Tuple[Optional[Record], Optional[List[str]], Optional[int]]:
	"""(record, source lines, first line) of function @name in a file
	ending with @suffix; (None, None, None) if it was not built. A function
	that is always inlined has no FN: record: its definition is looked up
	in the source (the name at the start of a line, kernel style)."""
	for path, rec in records.items():
		if not path.endswith(suffix):
			continue
		src = read_source(path)
		if src is None:
			continue
		if name in rec.functions:
			return rec, src, rec.functions[name]
		head = re.compile(r'^(\w[\w\s*]*[\s*])?' + re.escape(name) + r'\(')
		for n, line in enumerate(src, 1):
			if head.match(line) and not line.rstrip().endswith(';'):
				if any(k in rec.lines for k in range(n, n + 10)):
					return rec, src, n
	return None, None, None


def summarise(records: Dict[str, Record],
			  read_source: Callable[[str], Optional[List[str]]],
			  explained: AbstractSet[Tuple[str, str]] = frozenset()
			  ) -> Tuple[List[Row], List[Unreached]]:
	"""Rows for the table, and the unexplained unreached error lines.

	@read_source(path) returns the source file's lines (or None)."""
	rows: List[Row] = []
	unreached: List[Unreached] = []
	for suffix, name in FUNCTIONS:
		rec, src, first = find_function(records, read_source, suffix, name)
		if rec is None or src is None or first is None:
			rows.append((name, None, None, None, None, 0, []))
			continue
		start, end = function_extent(src, first)
		inst = {n: c for n, c in rec.lines.items() if start <= n <= end}
		br = [t for n, ts in rec.branches.items() if start <= n <= end
			  for t in ts]
		missed: List[Tuple[str, int, str, bool]] = []
		errs = error_lines(src, start, end, inst)
		# An error test whose branches were not all taken: gcc often gives
		# the error path's own line (a return) no line of its own.
		checks = [n for n in range(start, end + 1)
				  if ERROR_TEST.match(src[n - 1].split('//')[0])
				  and n in rec.branches]
		tests = [n for n in checks if 0 in rec.branches[n]]
		for n in sorted(set(errs) | set(checks)):
			if n not in tests and (n not in errs or inst[n]):
				continue
			code = src[n - 1].strip()
			entry = (suffix.rsplit('/', 1)[1], n, code,
					 (name, code) in explained)
			missed.append(entry)
			if not entry[3]:
				unreached.append((name,) + entry)
		rows.append((name, sum(1 for c in inst.values() if c), len(inst),
					 sum(1 for t in br if t), len(br),
					 len(set(errs) | set(checks)), missed))
	return rows, unreached


def format_table(rows: List[Row], arch: str) -> str:
	"""The one-screen table."""
	out = [f'coverage ({arch}): function, lines hit/total, branches '
		   'hit/total, error-handling lines reached/total']
	for name, lh, lt, bh, bt, et, missed in rows:
		if lt is None or lh is None or bh is None or bt is None:
			out.append(f'  {name:34} not built (not on {arch}, or not in this kernel)')
			continue
		open_ = sum(1 for m in missed if not m[3])
		out.append(f'  {name:34} {lh:4}/{lt:<4} {bh:4}/{bt:<4} '
				   f'{et - len(missed):3}/{et:<3}'
				   + (f'  {open_} unexplained' if open_ else '')
				   + (f'  {len(missed) - open_} explained'
					  if len(missed) - open_ else ''))
		for file, n, code, why in missed:
			mark = 'explained' if why else 'NOT REACHED'
			out.append(f'      {file}:{n}: {code}    [{mark}]')
	return '\n'.join(out)


def unpack_gcda(text: str, prefix: Optional[str] = None) -> Optional[Dict[str, bytes]]:
	"""{path: bytes} of the files in a dump; None if it is incomplete."""
	files: Dict[str, bytes] = {}
	cur: Optional[str] = None
	chunks: List[str] = []
	for raw in text.splitlines():
		line = raw.strip()
		if line.startswith('=== '):
			if cur is not None:
				files[cur] = base64.b64decode(''.join(chunks))
			name = line[4:].strip()
			if name == 'end':
				return {p: d for p, d in files.items()
						if prefix is None or p.startswith(prefix.rstrip('/')
														  + '/')}
			# Another section of the guest's output (kmemleak's report).
			cur = None if not name.endswith('.gcda') else \
				os.path.normpath('/' + name.lstrip('./'))
			chunks = []
		elif cur is not None and line:
			chunks.append(line)
	return None


def unpack(dump: str, prefix: Optional[str] = None) -> int:
	"""Unpacks the gcov counters of a guest's dump next to the .gcno
	files (only those under prefix); 0, or 1 if the dump is incomplete
	or names a directory this build does not have."""
	with open(dump, errors='replace') as f:
		files = unpack_gcda(f.read(), prefix)
	if files is None:
		print(f'coverage: {dump} is incomplete: the guest did not send '
			  'all its counters', file=sys.stderr)
		return 1
	missing = [p for p in files if not os.path.isdir(os.path.dirname(p))]
	if missing:
		print(f'coverage: not a directory of this build: '
			  f'{os.path.dirname(missing[0])}', file=sys.stderr)
		return 1
	for path, data in sorted(files.items()):
		with open(path, 'wb') as f:
			f.write(data)
	print(f'coverage: {len(files)} .gcda file(s) unpacked')
	return 0


def table(info: str, arch: str = '?', explained_from: Optional[str] = None) -> int:
	"""Prints the table of tracefile info; 0, 1 if an unexplained
	unreached error-handling line is left, 2 if none of the functions
	under test is in the tracefile."""
	with open(info) as f:
		records = parse_info(f.read())
	explained: Set[Tuple[str, str]] = set()
	if explained_from:
		with open(explained_from) as f:
			explained = explained_entries(f.read())

	def read_source(path: str) -> Optional[List[str]]:
		try:
			with open(path, errors='replace') as f:
				return f.read().splitlines()
		except OSError:
			return None

	rows, unreached = summarise(records, read_source, explained)
	print(format_table(rows, arch))
	if not any(r[2] is not None for r in rows):
		print('coverage: none of the functions under test is in the '
			  'tracefile', file=sys.stderr)
		return 2
	print(f'coverage ({arch}): {len(unreached)} unexplained unreached '
		  'error-handling line(s)')
	return 1 if unreached else 0
