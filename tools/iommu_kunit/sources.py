# SPDX-License-Identifier: GPL-2.0-only
"""Kernel trees and Debian packages.

The kernel tree is the user's KDIR=, or else Debian's linux-source-<ver>
for KERNEL=<ver> (the table's KERNELS): the default comes from the
machine's own apt sources (bookworm) and is installed like the other
packages; the newer ones come from Debian sid or experimental through a
private apt configuration in .cache/apt/ (the machine's is left alone),
are downloaded and unpacked once into .cache/linux-source-<ver> (into a
temporary directory first, renamed into place), and are used offline from
then on: pinned at the version unpacked until `make fetch REFRESH=1`
asks Debian for a newer one. IOMMU_KUNIT_DEBIAN_MIRROR=uri overrides the
Debian archive the private configuration uses (default: the machine's,
else deb.debian.org). KDIR is never written to."""

import hashlib
import os
import re
import shutil
import subprocess
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from . import locks, table
from .common import (Context, InfraError, UsageError, log, newer, read_text,
		     write_text)

DPKG_STATUS = '/var/lib/dpkg/status'
# Where Debian's linux-source-<ver> packages put their tarball.
USR_SRC = '/usr/src'


# ---------------------------------------------------------------- packages

def missing_packages(ctx: Context, pkgs: List[str]) -> List[str]:
	"""The packages of pkgs dpkg does not have installed (one dpkg-query)."""
	r = ctx.run(['dpkg-query', '-W', '-f=${Package} ${db:Status-Abbrev}\n'] + pkgs,
		    capture=True)
	ok = set()
	for line in r.stdout.splitlines():
		words = line.split()
		if len(words) >= 2 and words[1] == 'ii':
			ok.add(words[0])
	return [p for p in pkgs if p not in ok]


def ensure_packages(ctx: Context, name: str, pkgs: List[str],
		    dpkg_status: str = DPKG_STATUS) -> None:
	"""Checks (and as root installs) the Debian packages pkgs, for the
	set called name. A check that found them all leaves a stamp: while
	dpkg's database is older than the stamp and the list is the same,
	later runs ask nothing (one dpkg-query otherwise)."""
	stamp = os.path.join(ctx.cache, f'packages-ok.{name}')
	want = ' '.join(pkgs) + '\n'
	if newer(stamp, dpkg_status):
		try:
			if read_text(stamp) == want:
				return
		except OSError:
			pass
	if shutil.which('dpkg-query', path=ctx.env.get('PATH')) is None:
		log(f"not a Debian system: not checking packages ({' '.join(pkgs)})")
		return
	missing = missing_packages(ctx, pkgs)
	if not missing:
		write_text(stamp, want)
		return
	if os.getuid() != 0:
		raise InfraError(f"missing Debian packages: {' '.join(missing)}\n"
				 'Install them as root with:\n'
				 f"  apt-get install -y {' '.join(missing)}")
	log(f"installing missing Debian packages: {' '.join(missing)}")
	env = dict(ctx.env, DEBIAN_FRONTEND='noninteractive')
	# Another apt (a concurrent run's) is waited for, not an error.
	if ctx.run(['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update', '-qq'],
		   env=env).returncode != 0:
		raise InfraError('apt-get update failed')
	if ctx.run(['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-qq',
		    '--no-install-recommends'] + missing, env=env,
		   stdout=subprocess.DEVNULL).returncode != 0:
		raise InfraError(f"apt-get install {' '.join(missing)} failed")


# ------------------------------------------------------------ kernel trees

def kernel_version(tree: str) -> str:
	"""'V.P.S' from a tree's top Makefile; '' if it has none."""
	try:
		text = read_text(os.path.join(tree, 'Makefile'))
	except OSError:
		return ''
	vals: Dict[str, str] = {}
	for line in text.splitlines():
		m = re.match(r'^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\S*)', line)
		if m and m.group(1) not in vals:
			vals[m.group(1)] = m.group(2)
	if not vals.get('VERSION'):
		return ''
	return f"{vals['VERSION']}.{vals.get('PATCHLEVEL', '')}.{vals.get('SUBLEVEL', '')}"


class Tree(NamedTuple):
	"""A pristine kernel tree and where the runner works on it."""
	# The tree (KDIR, or Debian's unpacked in the cache).
	src: str
	# 'V.P.S' and its series 'V.P'.
	kver: str
	series: str
	# debian-<kernel> or kdir-<hash of the path>.
	name: str
	# The work copy's directory, the work copy, the results directory.
	work: str
	wsrc: str
	results: str
	# KDIR= (None for Debian's), and Debian's kernel (None for a KDIR).
	kdir: Optional[str]
	kernel: Optional[str]
	# The Debian package version unpacked ('' for a KDIR).
	pkgver: str

	def side(self, ctx: Context, what: str) -> 'Tree':
		"""The same tree with a work copy of its own, <work>-<what> (the
		mutate, presubmit, coverage and series trees), results in it."""
		work = f'{self.work}-{what}'
		return self._replace(work=work, wsrc=os.path.join(work, 'src'),
				     results=os.path.join(work, 'results'))

	def label(self) -> str:
		return f'KDIR={self.kdir}' if self.kdir else f'KERNEL={self.kernel}'


def kdir_name(src: str) -> str:
	return 'kdir-' + hashlib.sha1(src.encode()).hexdigest()[:10]


def check_kdir(kdir: str) -> str:
	"""KDIR's absolute path, if it is a kernel tree we can use."""
	if not os.path.isdir(kdir):
		raise UsageError(f'KDIR={kdir} does not exist')
	src = os.path.realpath(kdir)
	if not (kernel_version(src) and
		os.path.isfile(os.path.join(src, 'include/linux/iommu.h')) and
		os.path.isfile(os.path.join(src, 'tools/testing/kunit/kunit.py'))):
		raise UsageError(f'KDIR={kdir} is not a Linux kernel source tree (no top '
				 'Makefile with VERSION, include/linux/iommu.h or '
				 'tools/testing/kunit/kunit.py)')
	return src


def check_sync_map(src: str, kver: str) -> None:
	"""iotlb_sync_map returns int since v6.7 (commit fa4c4507099f):
	before that errors could not propagate."""
	try:
		text = read_text(os.path.join(src, 'include/linux/iommu.h'))
	except OSError:
		text = ''
	if not re.search(r'int\s*\(\*iotlb_sync_map\)', text):
		raise UsageError(f'kernel {kver} at {src} is too old: its iotlb_sync_map '
				 'returns void (errors propagate since v6.7)')


def tree_for(ctx: Context, src: str, kdir: Optional[str], kernel: Optional[str],
	     pkgver: str) -> Tree:
	kver = kernel_version(src)
	name = kdir_name(src) if kdir else f'debian-{kernel}'
	work = os.path.join(ctx.cache, 'work', name)
	return Tree(src=src, kver=kver, series=table.kernel_series(kver), name=name,
		    work=work, wsrc=os.path.join(work, 'src'),
		    results=os.path.join(ctx.results_top, name), kdir=kdir,
		    kernel=kernel, pkgver=pkgver)


def find_source(ctx: Context, kernel: Optional[str], kdir: Optional[str],
		refresh: bool = False) -> Tree:
	"""The pristine tree: KDIR, or Debian's linux-source-<kernel>
	unpacked in the cache (fetched first if need be; refresh: asked for
	anew)."""
	if kdir:
		src = check_kdir(kdir)
		tree = tree_for(ctx, src, src, None, '')
	else:
		assert kernel is not None
		src = os.path.join(ctx.cache, f'linux-source-{kernel}')
		if table.kernel_source(kernel) == 'system':
			pkgver = unpack_installed_source(ctx, kernel, src, refresh)
		else:
			pkgver = fetch_debian_source(ctx, kernel, src, refresh)
		tree = tree_for(ctx, src, None, kernel, pkgver)
	check_sync_map(tree.src, tree.kver)
	return tree


def describe(tree: Tree) -> str:
	"""The kernel in use, in words: its version and where it is from."""
	if tree.kdir:
		return f'kernel {tree.kver} (KDIR={tree.kdir})'
	return (f'kernel {tree.kver} (Debian linux-source-{tree.kernel} '
		f'{tree.pkgver}, unpacked in {tree.src}; pinned until '
		f'make fetch KERNEL={tree.kernel} REFRESH=1)')


def unpacked_version(src: str) -> str:
	"""The package version src was unpacked from ('' if none)."""
	try:
		return read_text(src + '.unpacked').strip()
	except OSError:
		return ''


def unpack_tarball(ctx: Context, tarball: str, src: str, pkgver: str, pkg: str) -> None:
	"""Unpacks kernel tarball into src, and writes pkgver to
	src.unpacked: in a temporary directory next to src, renamed into
	place only once it holds a whole tree, so an interrupted unpack
	leaves no tree and no stamp behind."""
	import tempfile
	os.makedirs(os.path.dirname(src), exist_ok=True)
	if os.path.lexists(src + '.unpacked'):
		os.unlink(src + '.unpacked')
	tmp = tempfile.mkdtemp(prefix=os.path.basename(src) + '.tmp.',
			       dir=os.path.dirname(src))
	try:
		log(f'unpacking {tarball} ({pkg} {pkgver}) into {src}')
		if ctx.run(['tar', '-C', tmp, '-xf', tarball]).returncode != 0:
			raise InfraError(f'unpacking {pkg} {pkgver}: tar -xf '
					 f'{os.path.basename(tarball)} failed (corrupt archive?)')
		tops = [os.path.join(tmp, n) for n in os.listdir(tmp)
			if os.path.isdir(os.path.join(tmp, n))]
		if len(tops) != 1 or not kernel_version(tops[0]):
			raise InfraError(f'unpacking {pkg} {pkgver}: {os.path.basename(tarball)} '
					 'is not a kernel tree (no single top directory with a '
					 'Makefile that has VERSION)')
		if os.path.lexists(src):
			shutil.rmtree(src)
		os.rename(tops[0], src)
		write_text(src + '.unpacked', pkgver + '\n')
	finally:
		shutil.rmtree(tmp, ignore_errors=True)


def remove_leftovers(src: str, more: Tuple[str, ...] = ()) -> None:
	"""What a run killed outright (kill -9) left behind: its temporary
	directories (the lock says no other run is using them)."""
	d = os.path.dirname(src)
	prefixes = (os.path.basename(src) + '.tmp.',) + more
	if not os.path.isdir(d):
		return
	for n in os.listdir(d):
		if n.startswith(prefixes):
			shutil.rmtree(os.path.join(d, n), ignore_errors=True)


def dpkg_version(ctx: Context, pkg: str) -> str:
	r = ctx.run(['dpkg-query', '-W', '-f=${Version}', pkg], capture=True)
	return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else 'unknown'


def use_tree(ctx: Context, src: str, ready: Callable[[], bool],
	     current: Callable[[], bool], make: Callable[[], None]) -> None:
	"""Holds the unpacked tree src for the rest of the run, shared with
	the other runs that use it. ready() is the quick check that it is
	there and current (no command run), current() the full one (it may
	ask dpkg); when neither says so, src is held exclusively (waiting
	for the runs that use it) and make() unpacks it anew."""
	for check in (ready, current):
		if check():
			locks.hold(ctx, src, shared=True)
			if ready() or check():
				return
			locks.release(ctx, src)
	if src + '.lock' in ctx.locks:
		raise InfraError(f'{src} changed while this run uses it: run again')
	locks.hold(ctx, src)
	if not current():
		make()
	locks.share(ctx, src)


def unpack_installed_source(ctx: Context, kernel: str, src: str, refresh: bool = False,
			    dpkg_status: str = DPKG_STATUS) -> str:
	"""linux-source-<kernel> from the machine's own apt sources, which
	ensure_packages installs: unpacked again when the package changed
	(refresh: apt-get upgrades it first, as root). Its version."""
	pkg = f'linux-source-{kernel}'
	tarball = os.path.join(USR_SRC, f'{pkg}.tar.xz')
	if refresh:
		if os.getuid() != 0:
			raise InfraError(f'REFRESH=1 upgrades {pkg} with apt-get: run it as root')
		log(f'refreshing {pkg}: apt-get install --only-upgrade')
		env = dict(ctx.env, DEBIAN_FRONTEND='noninteractive')
		if ctx.run(['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update', '-qq'],
			   env=env).returncode != 0 or \
		   ctx.run(['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y',
			    '-qq', '--only-upgrade', pkg], env=env).returncode != 0:
			raise InfraError(f'apt-get could not refresh {pkg}')
	if not os.path.isfile(tarball):
		raise InfraError(f'{tarball} is missing: apt-get install {pkg}')

	def fresh() -> bool:
		# No package changed since the last check: nothing to ask dpkg.
		return (os.path.isdir(src) and newer(src + '.unpacked', dpkg_status) and
			newer(src + '.unpacked', tarball))

	installed: List[str] = []

	def version() -> str:
		if not installed:
			installed.append(dpkg_version(ctx, pkg))
		return installed[0]

	def current() -> bool:
		# dpkg's database changed (another package, say): the same
		# version is still current, its stamp made new.
		if os.path.isdir(src) and unpacked_version(src) == version():
			os.utime(src + '.unpacked')
			return True
		return False

	def make() -> None:
		remove_leftovers(src)
		unpack_tarball(ctx, tarball, src, version(), pkg)

	use_tree(ctx, src, fresh, current, make)
	return unpacked_version(src)


def debian_mirror(ctx: Context, files: Tuple[str, ...] = (
		'/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list')) -> str:
	"""The Debian archive the machine's apt sources use (the first
	http(s) URI whose path ends in /debian), for the private apt
	configuration."""
	if ctx.env.get('IOMMU_KUNIT_DEBIAN_MIRROR'):
		return ctx.env['IOMMU_KUNIT_DEBIAN_MIRROR']
	for path in files:
		try:
			text = read_text(path)
		except OSError:
			continue
		for line in text.splitlines():
			words = line.split()
			if not words or words[0].startswith('#'):
				continue
			uris: List[str] = []
			if words[0].lower() == 'uris:':
				uris = words[1:]
			elif words[0] == 'deb':
				uris = [w for w in words[1:] if re.match(r'^[a-z+]+://', w)][:1]
			for uri in uris:
				if re.match(r'^https?://[^/]+(/\S*)?/debian/?$', uri):
					return uri.rstrip('/')
	return 'http://deb.debian.org/debian'


def private_apt(ctx: Context, tool: str, *args: str, cwd: Optional[str] = None,
		capture: bool = False) -> 'subprocess.CompletedProcess[str]':
	"""apt-get or apt-cache on the private apt configuration in
	.cache/apt: its own sources, lists and cache; the machine's are
	neither read nor written (its apt.conf, a proxy say, still applies)."""
	d = os.path.join(ctx.cache, 'apt')
	return ctx.run([tool, '-o', 'Dir::Etc::sourcelist=/dev/null',
			'-o', f'Dir::Etc::sourceparts={d}/sources.list.d',
			'-o', 'Dir::Etc::preferences=/dev/null',
			'-o', f'Dir::Etc::preferencesparts={d}/preferences.d',
			'-o', f'Dir::State::Lists={d}/lists',
			'-o', f'Dir::Cache={d}/cache',
			'-o', 'Acquire::Languages=none',
			'-o', 'APT::Sandbox::User=root'] + list(args), cwd=cwd, capture=capture)


def candidate_version(ctx: Context, pkg: str, suite: str, mirror: str) -> str:
	"""apt update of the private configuration, then the version of pkg
	Debian's sid and experimental have now."""
	d = os.path.join(ctx.cache, 'apt')
	write_text(os.path.join(d, 'sources.list.d', 'debian.sources'),
		   'Types: deb\n'
		   f'URIs: {mirror}\n'
		   'Suites: sid experimental\n'
		   'Components: main\n'
		   'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n')
	if private_apt(ctx, 'apt-get', '-qq', '--error-on=any', 'update').returncode != 0:
		raise InfraError(f'fetching {pkg}: apt-get update of Debian sid and '
				 f'experimental from {mirror} failed (no network? see the '
				 'errors above)')
	r = private_apt(ctx, 'apt-cache', 'policy', pkg, capture=True)
	if r.returncode != 0:
		raise InfraError(f'fetching {pkg}: apt-cache policy {pkg} failed')
	for line in r.stdout.splitlines():
		words = line.split()
		if words[:1] == ['Candidate:'] and len(words) > 1 and words[1] != '(none)':
			return words[1]
	raise InfraError(f'fetching {pkg}: Debian {suite} at {mirror} has no package {pkg}')


def fetch_debian_source(ctx: Context, kernel: str, src: str, refresh: bool = False) -> str:
	"""linux-source-<kernel> from Debian's sid or experimental,
	downloaded with a private apt configuration and unpacked once: with
	the stamp and the tree in place, no network access at all, unless
	refresh asks Debian whether it has a newer version (then fetched and
	unpacked in place of the old one). A failed step leaves no temporary
	directory and no stamp, so the next run tries again. Its version."""
	asked = [False]

	def ready() -> bool:
		return (bool(unpacked_version(src)) and
			os.path.isfile(os.path.join(src, 'Makefile')) and
			(not refresh or asked[0]))

	def make() -> None:
		download_and_unpack(ctx, kernel, src, refresh)
		asked[0] = True

	use_tree(ctx, src, ready, ready, make)
	return unpacked_version(src)


def download_and_unpack(ctx: Context, kernel: str, src: str, refresh: bool) -> None:
	"""The download and unpack of fetch_debian_source (src held
	exclusively)."""
	pkg = f'linux-source-{kernel}'
	suite = table.kernel_source(kernel)
	path = ctx.env.get('PATH')
	for tool in ('apt-get', 'apt-cache', 'dpkg-deb', 'xz', 'tar'):
		if shutil.which(tool, path=path) is None:
			raise InfraError(f"KERNEL={kernel} is Debian's {pkg}, fetched with "
					 'apt-get, dpkg-deb and xz; this system has no '
					 f'{tool} (not Debian?): use KDIR= for your own tree')
	d = os.path.join(ctx.cache, 'apt')
	for sub in ('sources.list.d', 'preferences.d', 'lists/partial',
		    'cache/archives/partial'):
		os.makedirs(os.path.join(d, sub), exist_ok=True)
	# One fetch at a time per cache (the private apt's lists and cache).
	locks.hold(ctx, os.path.join(d, 'fetch'), f'{d} (a fetch)')
	try:
		remove_leftovers(src)
		remove_leftovers(os.path.join(d, f'fetch-{kernel}'), (f'fetch-{kernel}.',))
		have = unpacked_version(src) if os.path.isfile(
			os.path.join(src, 'Makefile')) else ''
		mirror = debian_mirror(ctx)
		log(f'{"refreshing" if have else "fetching"} {pkg} from Debian {suite} '
		    f'({mirror}), private apt configuration in {d}')
		pkgver = candidate_version(ctx, pkg, suite, mirror)
		if have == pkgver:
			log(f'{pkg} {have} is what Debian {suite} has: up to date')
			return
		import tempfile
		tmp = tempfile.mkdtemp(prefix=f'fetch-{kernel}.', dir=d)
		try:
			fetch_into(ctx, pkg, pkgver, mirror, tmp, src, have)
		finally:
			shutil.rmtree(tmp, ignore_errors=True)
	finally:
		locks.release(ctx, os.path.join(d, 'fetch'))


def fetch_into(ctx: Context, pkg: str, pkgver: str, mirror: str, tmp: str,
	       src: str, have: str) -> None:
	"""apt-get download of pkg=pkgver into tmp, unpacked into src."""
	if private_apt(ctx, 'apt-get', '-qq', 'download', f'{pkg}={pkgver}',
		       cwd=tmp).returncode != 0:
		raise InfraError(f'fetching {pkg}: apt-get download {pkg}={pkgver} '
				 f'from {mirror} failed')
	debs = [n for n in os.listdir(tmp) if n.startswith(f'{pkg}_') and n.endswith('.deb')]
	if not debs:
		raise InfraError(f'fetching {pkg}: apt-get download {pkg}={pkgver} left no .deb')
	deb = os.path.join(tmp, debs[0])
	r = ctx.run(['dpkg-deb', '-f', deb, 'Version'], capture=True)
	if r.returncode != 0:
		raise InfraError(f'fetching {pkg}: {debs[0]} is corrupt (dpkg-deb -f failed)')
	pkgver = r.stdout.strip()
	if ctx.run(['dpkg-deb', '-x', deb, os.path.join(tmp, 'deb')]).returncode != 0:
		raise InfraError(f'fetching {pkg}: {debs[0]} is corrupt (dpkg-deb -x failed)')
	os.unlink(deb)
	tarball = os.path.join(tmp, 'deb', 'usr', 'src', f'{pkg}.tar.xz')
	if not os.path.isfile(tarball):
		raise InfraError(f'fetching {pkg}: {pkg} {pkgver} has no /usr/src/{pkg}.tar.xz')
	if have:
		log(f'{pkg}: {have} -> {pkgver}')
	unpack_tarball(ctx, tarball, src, pkgver, pkg)
	log(f'{pkg} {pkgver} fetched and unpacked')


def record(tree: Tree, arch: Optional[str] = None) -> str:
	"""Writes results/<tree>/kernel.json: the kernel that ran (version,
	where it is from, the Debian package version); its path."""
	import json
	path = os.path.join(tree.results, 'kernel.json')
	data = {'kernel': tree.kver, 'series': tree.series, 'tree': tree.name,
		'source': 'kdir' if tree.kdir else 'debian', 'path': tree.src,
		'debian_package': None if tree.kdir else f'linux-source-{tree.kernel}',
		'debian_version': tree.pkgver or None}
	text = json.dumps(data, indent=1, sort_keys=True) + '\n'
	try:
		if read_text(path) == text:
			return path
	except OSError:
		pass
	write_text(path, text)
	return path
