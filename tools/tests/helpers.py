# SPDX-License-Identifier: GPL-2.0-only
"""What the runner's unit tests share: fixtures (fake kernel trees, a fake
checkout, patches, kunit.py JSON and KTAP) and a fake Context whose
commands are answered by the test (in the style of kunit_tool_test.py's
mocked subprocess), so that nothing builds, downloads or installs."""

import difflib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Callable, Dict, List, Optional, Sequence

TOOLS = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
REPO = os.path.dirname(TOOLS)
if TOOLS not in sys.path:
	sys.path.insert(0, TOOLS)

from iommu_kunit import common  # noqa: E402

KCONFIG = [
	'# SPDX-License-Identifier: GPL-2.0-only\n',
	'menuconfig IOMMU_SUPPORT\n',
	'\tbool "IOMMU Hardware Support"\n',
	'\tdepends on MMU\n',
	'\tdefault y\n',
	'\n',
	'if IOMMU_SUPPORT\n',
	'\n',
	'config IOMMU_DEBUGFS\n',
	'\tbool "Export IOMMU internals in DebugFS"\n',
	'\n',
	'endif\n',
]

# KCONFIG with one line added after "default y": a hunk with three lines
# of context on each side.
KCONFIG_PATCHED = KCONFIG[:5] + ['\tselect IOMMU_KUNIT_OVERLAY\n'] + KCONFIG[5:]

FAILED_PATCH_OUTPUT = ('patching file drivers/iommu/Kconfig\n'
		       'Hunk #1 FAILED at 93.\n'
		       '1 out of 1 hunk FAILED')

# A KTAP run as kunit.py exec's test.log holds it (UML: no prefix; the
# kernel's own lines around it): iommu_map with a failing case and a case
# with parameters, one of which fails.
TEST_LOG = '''\
Linux version 6.12.117 (a kernel log line before KUnit)
KTAP version 1
1..2
    KTAP version 1
    # Subtest: iommu_map
    # module: iommu_map_kunit
    1..3
    ok 1 iommu_map_test_success
    # iommu_map_test_unaligned: EXPECTATION FAILED at drivers/iommu/tests/iommu_map_kunit.c:42
    Expected ret == -22, but
        ret == 0 (0x0)
    not ok 2 iommu_map_test_unaligned
        KTAP version 1
        # Subtest: iommu_map_test_sync_error
        ok 1 ENOMEM
        # iommu_map_test_sync_error: ASSERTION FAILED at x.c:7
        not ok 2 EIO
    # iommu_map_test_sync_error: pass:1 fail:1 skip:0 total:2
    not ok 3 iommu_map_test_sync_error
# iommu_map: pass:1 fail:2 skip:0 total:3
not ok 1 iommu_map
    KTAP version 1
    # Subtest: kunit_script
    1..1
    ok 1 kunit_script_test_nth
ok 2 kunit_script
reboot: System halted
'''


def write(path: str, text: str = '') -> str:
	"""Creates file path (and its directories) holding text; its path."""
	os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
	with open(path, 'w') as f:
		f.write(text)
	return path


def read(path: str) -> str:
	with open(path) as f:
		return f.read()


def kconfig_patch(fuzzy: bool = False) -> str:
	"""A git-style patch of drivers/iommu/Kconfig from KCONFIG to
	KCONFIG_PATCHED; fuzzy: its first context line differs from the
	tree's, so that it applies only with fuzz."""
	text = ''.join(difflib.unified_diff(KCONFIG, KCONFIG_PATCHED,
					    'a/drivers/iommu/Kconfig',
					    'b/drivers/iommu/Kconfig', n=3))
	if fuzzy:
		old = ' \tbool "IOMMU Hardware Support"\n'
		assert old in text
		text = text.replace(old, ' \tbool "IOMMU hardware support"\n')
	return ('From: Test <test@example.org>\nSubject: [PATCH] x\n\n---\n' +
		'diff --git a/drivers/iommu/Kconfig b/drivers/iommu/Kconfig\n' + text)


def patch_text(*files: str, new: Sequence[str] = ()) -> str:
	"""A patch changing files, and creating new (from /dev/null)."""
	text = 'From: Test <test@example.org>\nSubject: [PATCH] x\n\n---\n'
	for f in files:
		text += (f'diff --git a/{f} b/{f}\n--- a/{f}\t2024-01-01\n+++ b/{f}\n'
			 '@@ -1 +1 @@\n-x\n+y\n')
	for f in new:
		text += (f'diff --git a/{f} b/{f}\nnew file mode 100644\n'
			 f'--- /dev/null\n+++ b/{f}\n@@ -0,0 +1 @@\n+y\n')
	return text


def make_kernel_tree(root: str, version: Sequence[int] = (6, 12, 117),
		     sync_map_returns: str = 'int', kconfig: bool = True,
		     junit: bool = False) -> str:
	"""A tiny fake kernel tree: what the runner checks for, and
	drivers/iommu/Kconfig for the patches to apply to."""
	v, p, s = version
	write(os.path.join(root, 'Makefile'),
	      '# SPDX-License-Identifier: GPL-2.0\n'
	      f'VERSION = {v}\nPATCHLEVEL = {p}\nSUBLEVEL = {s}\n'
	      'EXTRAVERSION =\nNAME = Baby Opossum Posse\n')
	write(os.path.join(root, 'include', 'linux', 'iommu.h'),
	      'struct iommu_domain_ops {\n'
	      f'\t{sync_map_returns} (*iotlb_sync_map)(struct iommu_domain *domain,\n'
	      '\t\t\t      unsigned long iova, size_t size);\n'
	      '};\n')
	write(os.path.join(root, 'tools', 'testing', 'kunit', 'kunit.py'),
	      "parser.add_argument('--junit',\n" if junit else
	      "parser.add_argument('--json',\n")
	if kconfig:
		write(os.path.join(root, 'drivers', 'iommu', 'Kconfig'), ''.join(KCONFIG))
	return root


def kunit_json(suites: Dict[str, List[str]]) -> str:
	"""kunit.py's JSON for suites {name: [status, ...]}."""
	return json.dumps({'name': 'KUnit Test Group', 'test_cases': [], 'kernel': None,
			   'sub_groups': [
		{'name': name, 'sub_groups': [], 'kernel': None, 'test_cases': [
			{'name': f'case{i}', 'status': st} for i, st in enumerate(statuses)]}
		for name, statuses in suites.items()]})


def make_checkout(top: str) -> str:
	"""A fake checkout: the table's kunitconfig files, tools/qemu."""
	for leg in ('um', 'x86_64', 's390'):
		write(os.path.join(top, 'kunitconfig', f'{leg}.kunitconfig'), 'CONFIG_KUNIT=y\n')
	write(os.path.join(top, 'kunitconfig', 'um.suites'), 'iommu_map\nkunit_script\n')
	write(os.path.join(top, 'kunitconfig', 'x86_64.suites'),
	      'iommu_map\niommu_dma\niommu_kmemleak\n')
	write(os.path.join(top, 'kunitconfig', 's390.suites'), 'iommu_map\niommu_s390\n')
	write(os.path.join(top, 'kunitconfig', 'mainline', 'um.suites'), 'iommu_map_pt\n')
	write(os.path.join(top, 'kunitconfig', 'mainline', 'um.kunitconfig'), 'CONFIG_X=y\n')
	write(os.path.join(top, 'kunitconfig', '6.12', 'um.kunitconfig'), 'CONFIG_Y=y\n')
	os.makedirs(os.path.join(top, 'tools', 'qemu'), exist_ok=True)
	return top


Handler = Callable[[List[str], Dict[str, Any]], 'subprocess.CompletedProcess[str]']


def done(cmd: Sequence[str], rc: int = 0, out: str = '',
	 err: str = '') -> 'subprocess.CompletedProcess[str]':
	return subprocess.CompletedProcess(list(cmd), rc, out, err)


class FakeContext(common.Context):
	"""A Context whose commands are not run: each is recorded (calls)
	and answered by handler(cmd, kwargs), by default exit 0."""

	def __init__(self, top: str, cache: str, results: str,
		     handler: Optional[Handler] = None, env: Optional[Dict[str, str]] = None):
		environ = dict(env if env is not None else os.environ)
		environ.update(IOMMU_KUNIT_CACHE=cache, IOMMU_KUNIT_RESULTS=results)
		for var in ('IOMMU_KUNIT_QEMU_ACCEL', 'IOMMU_KUNIT_PYTHON', 'IOMMU_KUNIT_LOCKS',
			    'CCACHE_DEPEND', 'CCACHE_NODEPEND'):
			if env is None:
				environ.pop(var, None)
		super().__init__(top=top, environ=environ)
		self.python = 'python3'
		self.calls: List[List[str]] = []
		self.handler = handler

	def run(self, cmd: Sequence[str], cwd: Optional[str] = None,  # type: ignore[override]
		**kw: Any) -> 'subprocess.CompletedProcess[str]':
		self.calls.append(list(cmd))
		kw['cwd'] = cwd
		if self.handler is not None:
			r = self.handler(list(cmd), kw)
			out = kw.get('out')
			if out is not None and (r.stdout or r.stderr):
				out.write(r.stdout + r.stderr)
			return r
		return done(cmd)

	def ran(self, *prefix: str) -> List[List[str]]:
		"""The commands run that start with prefix."""
		return [c for c in self.calls if c[:len(prefix)] == list(prefix)]


class TmpTestCase(unittest.TestCase):
	"""A temporary directory with a fake checkout (top), a cache and a
	results directory."""

	def setUp(self) -> None:
		self.tmp = tempfile.mkdtemp(prefix='iommu-kunit-test.')
		self.addCleanup(shutil.rmtree, self.tmp)
		self.top = os.path.join(self.tmp, 'top')
		self.cache = os.path.join(self.tmp, 'cache')
		self.results = os.path.join(self.tmp, 'results')
		os.makedirs(self.top)

	def path(self, *parts: str) -> str:
		return os.path.join(self.tmp, *parts)

	def ctx(self, handler: Optional[Handler] = None,
		env: Optional[Dict[str, str]] = None) -> FakeContext:
		return FakeContext(self.top, self.cache, self.results, handler, env)


class Captured:
	"""stdout and stderr of the code under test."""

	def __init__(self) -> None:
		self.out = io.StringIO()
		self.err = io.StringIO()
