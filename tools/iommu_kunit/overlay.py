# SPDX-License-Identifier: GPL-2.0-only
"""How the overlay reaches a work copy of the kernel tree.

Every file under arch/, drivers/, include/ and lib/ that is not a *.patch
is a new kernel file, copied to the same path (an error if the kernel
already has it). Every patch of the kernel's set (table.overlay_patches),
then the extra ones (a mutant, patches under review), is applied with
`patch -p1 -F0` (no fuzz: a hunk whose context differs is an error, never
a change landing elsewhere), in order, to a staging copy of the files it
touches; then only the staged files whose content differs from the work
copy's are replaced (treesync.install), so unchanged files keep their
mtimes and are not rebuilt.

A rerun whose inputs did not change does not stage again: a key made of
the overlay's files and patches (their content), the identity of the
tree's files the patches change, and the state of the staged files in the
work copy says so. An edit to new files that no patch changes stages
those files alone; any other change stages everything again. A staging
cut short leaves no key, so the next run stages again.

The tree's own files: a KDIR is synced by treesync (in a thread, while the
overlay is staged); Debian's tree, which never changes once unpacked, with
rsync --link-dest (hard links), again only when the unpacked kernel
changed (then the work copy's build directories go too: make would not
see that sources older than its objects changed)."""

import hashlib
import json
import os
import shutil
import subprocess
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import table, treesync
from .common import Context, InfraError, RunnerError, UsageError, log, read_text, write_text
from .sources import Tree

if TYPE_CHECKING:
	import concurrent.futures


class Inputs(NamedTuple):
	"""The overlay's inputs for one kernel: its new files (relative to
	the top), its patches then the extra ones (absolute), and (patch,
	file) for each file of the tree the patches change that no earlier
	patch created."""
	files: List[str]
	patches: List[str]
	tree_files: List[Tuple[str, str]]


class Staged(NamedTuple):
	"""What stage() did: 'unchanged' (the work copy has it all),
	'files' (only files, new files of the overlay, were staged again) or
	'full'; the key and inputs to record once installed."""
	kind: str
	files: List[str]
	key: str
	inputs: Dict[str, Any]


class PatchError(RunnerError):
	"""A patch does not apply. Its exit code is the caller's to choose:
	a KDIR's or a candidate patch's (the user's input) is a usage error,
	the overlay's own on Debian's kernel an infrastructure one."""

	def __init__(self, msg: str, patch: str):
		super().__init__(msg)
		self.patch = patch


def patch_tree_files(patches: Sequence[str]) -> List[Tuple[str, str]]:
	"""(patch, file) for each file the patches, applied in this order,
	change and none of them created first: the files they need from the
	tree."""
	made, seen, out = set(), set(), []
	for p in patches:
		prev = ''
		with open(p, errors='replace') as f:
			for line in f:
				line = line.rstrip('\n')
				if line.startswith('+++ ') and prev.startswith('--- '):
					old = prev[4:].replace('\t', ' ').split(' ')[0]
					new = line[4:].replace('\t', ' ').split(' ')[0]
					if old == '/dev/null':
						made.add(new[2:] if new.startswith('b/') else new)
					else:
						name = old[2:] if old.startswith('a/') else old
						if name not in made and name not in seen:
							seen.add(name)
							out.append((p, name))
				prev = line
	return out


def patch_old_files(patches: Sequence[str]) -> List[str]:
	"""The files patches change that exist before them (a '--- a/' line)."""
	out = []
	for p in patches:
		with open(p, errors='replace') as f:
			for line in f:
				if line.startswith('--- a/'):
					out.append(line[6:].rstrip('\n').split('\t')[0])
	return out


def inputs_for(top: str, series: str, extra: Sequence[str] = ()) -> Inputs:
	"""The overlay's inputs for kernel series series, extra patches last."""
	files = table.overlay_new_files(top)
	patches = [os.path.join(top, p) for p in table.overlay_patches(top, series)]
	patches += [p if os.path.isabs(p) else os.path.join(top, p) for p in extra]
	return Inputs(files, patches, patch_tree_files(patches) if patches else [])


def sha1_file(path: str) -> str:
	h = hashlib.sha1()
	with open(path, 'rb') as f:
		h.update(f.read())
	return h.hexdigest()


def stat_id(path: str) -> Optional[List[int]]:
	"""A file's identity as far as stat says (size, mtime, inode)."""
	try:
		st = os.stat(path)
	except OSError:
		return None
	return [st.st_size, st.st_mtime_ns, st.st_ino]


def stage_inputs(top: str, tree: Tree, ins: Inputs) -> Dict[str, Any]:
	"""What the staged overlay is made of: the kernel, the overlay's
	files and patches (their content), and the identity of the tree's
	files the patches change."""
	return {
		'kernel': [tree.kver, tree.src],
		'files': {f: sha1_file(os.path.join(top, f)) for f in ins.files},
		'patches': [[p, sha1_file(p)] for p in ins.patches],
		'tree': {f: stat_id(os.path.join(tree.src, f)) for _, f in ins.tree_files},
	}


def key_of(inputs: Dict[str, Any]) -> str:
	return hashlib.sha1(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def changed_files(old: Optional[Dict[str, Any]], new: Dict[str, Any],
		  ins: Inputs) -> Optional[List[str]]:
	"""The overlay's new files whose content is all that differs between
	the inputs of the last staging (old) and these (new); None when
	anything else changed (a patch, a file a patch changes, the tree, the
	set of files): the whole overlay is staged again then."""
	if old is None:
		return None
	for k in ('kernel', 'patches', 'tree'):
		if old.get(k) != new[k]:
			return None
	if set(old.get('files', {})) != set(new['files']):
		return None
	patched = {f for _, f in ins.tree_files}
	changed = [f for f in ins.files if old['files'][f] != new['files'][f]]
	if any(f in patched for f in changed):
		return None
	return changed


def read_json(path: str) -> Optional[Any]:
	try:
		with open(path) as f:
			return json.load(f)
	except (OSError, ValueError):
		return None


def read_lines(path: str) -> List[str]:
	try:
		return [line for line in read_text(path).splitlines() if line]
	except OSError:
		return []


def staged_state(tree: Tree) -> List[Any]:
	"""The identity of the staged files in the work copy, to see that
	nothing changed them since."""
	return [[f, stat_id(os.path.join(tree.wsrc, f))]
		for f in read_lines(os.path.join(tree.work, 'manifest'))]


def not_applying(top: str, tree: Tree, patch: str, out: str) -> str:
	"""The error for a patch that does not apply: the kernel, the set
	tried, the first failing file and hunk, the kernels supported."""
	what, f = '', ''
	for line in out.splitlines():
		if line.startswith('patching file '):
			f = line[len('patching file '):]
		if any(w in line for w in ('FAILED', "can't find file", 'malformed', 'Reversed')):
			what = (f + ': ' if f else '') + line
			break
	if not what:
		what = out.splitlines()[0] if out else ''
	rel = os.path.relpath(patch, top) if patch.startswith(top + '/') else patch
	return (f'{rel} does not apply to the kernel {tree.kver} at {tree.src}\n'
		f'  patch set tried: {table.patch_set_name(top, tree.series)}\n'
		f'  first failure: {what}\n'
		f"  supported kernels: {' '.join(table.KERNELS)} (KERNEL=; mainline is "
		f"{table.MAINLINE_SERIES}, the series's base; backport deltas for: "
		f"{' '.join(table.backport_series(top))})")


def stage(ctx: Context, tree: Tree, extra: Sequence[str] = ()) -> Staged:
	"""Builds the overlaid version of every file the overlay touches in
	<work>/stage, unless what they are made of is what the work copy
	already has."""
	top = ctx.top
	ins = inputs_for(top, tree.series, extra)
	inputs = stage_inputs(top, tree, ins)
	key = key_of(inputs)
	work, stage_dir = tree.work, os.path.join(tree.work, 'stage')
	recorded = read_json(os.path.join(work, 'stage.key'))
	if (os.path.isfile(os.path.join(work, 'manifest')) and isinstance(recorded, dict) and
	    recorded.get('state') == staged_state(tree)):
		if recorded.get('key') == key:
			return Staged('unchanged', [], key, inputs)
		# Only new files of the overlay were edited, none that a
		# patch changes: those alone are staged again.
		changed = changed_files(read_json(os.path.join(work, 'stage.inputs')), inputs, ins)
		if changed:
			os.unlink(os.path.join(work, 'stage.key'))
			for f in changed:
				os.makedirs(os.path.dirname(os.path.join(stage_dir, f)), exist_ok=True)
				shutil.copyfile(os.path.join(top, f), os.path.join(stage_dir, f))
			return Staged('files', changed, key, inputs)
	if os.path.exists(os.path.join(work, 'stage.key')):
		os.unlink(os.path.join(work, 'stage.key'))
	shutil.rmtree(stage_dir, ignore_errors=True)
	os.makedirs(stage_dir)
	for f in ins.files:
		if os.path.lexists(os.path.join(tree.src, f)):
			raise UsageError(f'overlay file {f} exists in the kernel tree: change it '
					 'with a patch instead')
	for f in ins.files:
		os.makedirs(os.path.dirname(os.path.join(stage_dir, f)), exist_ok=True)
		shutil.copyfile(os.path.join(top, f), os.path.join(stage_dir, f))
		shutil.copymode(os.path.join(top, f), os.path.join(stage_dir, f))
	# The tree's files the patches change, copied once before the first
	# patch (a patch may also change one of the overlay's files).
	for p, f in ins.tree_files:
		if os.path.exists(os.path.join(stage_dir, f)):
			continue
		if not os.path.isfile(os.path.join(tree.src, f)):
			raise UsageError(f'{os.path.relpath(p, top)} changes {f}, which '
					 f'{tree.src} does not have')
		os.makedirs(os.path.dirname(os.path.join(stage_dir, f)), exist_ok=True)
		shutil.copy2(os.path.join(tree.src, f), os.path.join(stage_dir, f))
	for p in ins.patches:
		with open(p, 'rb') as pf:
			data = pf.read()
		r = subprocess.run(['patch', '-p1', '-F0', '-N', '--no-backup-if-mismatch',
				    '-r', '-', '-d', stage_dir], input=data,
				   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ctx.env)
		if r.returncode != 0:
			raise PatchError(not_applying(top, tree, p,
						      r.stdout.decode(errors='replace')), p)
	manifest = []
	for root, _, names in os.walk(stage_dir):
		for n in names:
			manifest.append(os.path.relpath(os.path.join(root, n), stage_dir))
	write_text(os.path.join(work, 'manifest.new'),
		   ''.join(m + '\n' for m in sorted(manifest, key=lambda s: s.encode())))
	return Staged('full', [], key, inputs)


def tree_id(tree: Tree) -> str:
	"""What a Debian work copy was synced from: the unpacked kernel."""
	return f'{tree.src} {tree.kver} {tree.pkgver}\n'


def sync_debian_tree(ctx: Context, tree: Tree, manifest: str) -> None:
	"""Debian's tree is ours and never changes once unpacked: the work
	copy is hard links to it, synced again only when the unpacked kernel
	changed (a new package version, REFRESH=1). Then the build
	directories go too: the new sources may be older than the objects."""
	synced = os.path.join(tree.work, 'synced')
	try:
		was = read_text(synced)
	except OSError:
		was = None
	if was == tree_id(tree):
		return
	if was == '' and not os.path.getmtime(os.path.join(tree.src, 'Makefile')) > \
	   os.path.getmtime(synced):
		# A stamp of the bash runner's: the same tree.
		write_text(synced, tree_id(tree))
		return
	if was:
		log(f"the kernel changed ({' '.join(was.split()[1:])} -> {tree.kver} "
		    f'{tree.pkgver}): '
		    'this work copy\'s build directories go, the next build is a full one')
		for n in os.listdir(tree.work):
			if n.startswith('build-'):
				shutil.rmtree(os.path.join(tree.work, n), ignore_errors=True)
	# The overlay's directories are kept (tests/ exists only there).
	dirs = sorted({os.path.dirname(f) for f in read_lines(manifest) if '/' in f})
	cmd = (['rsync', '-a', '--delete', f'--link-dest={tree.src}',
		f'--exclude-from={manifest}'] + treesync.rsync_excludes() +
	       [f'--filter=protect /{d}/' for d in dirs] + [tree.src + '/', tree.wsrc + '/'])
	if ctx.run(cmd).returncode != 0:
		raise InfraError(f'rsync of {tree.src} into {tree.wsrc} failed')
	write_text(synced, tree_id(tree))


def kdir_sync(ctx: Context, tree: Tree, manifest: str, link_dest: Optional[str]) -> str:
	"""treesync of the user's KDIR into the work copy, the overlay's
	files (manifest) left alone; its line."""
	full = ctx.env.get('IOMMU_KUNIT_SYNC', '') == 'full'
	try:
		return treesync.sync(tree.src, tree.wsrc, os.path.join(tree.work, 'treesync.json'),
				     manifest, full=full, link_dest=link_dest)
	except (OSError, subprocess.CalledProcessError) as e:
		raise InfraError(f'syncing {tree.src} into {tree.wsrc} failed: {e}') from e


class WorkCopy:
	"""The work copy of a tree: its tree files synced, the overlay
	staged and installed. prepare() is the whole of it."""

	def __init__(self, ctx: Context, tree: Tree, link_dest: Optional[str] = None):
		self.ctx = ctx
		self.tree = tree
		self.link_dest = link_dest
		self.pending: Optional['concurrent.futures.Future[str]'] = None
		self.pool: Optional[concurrent.futures.ThreadPoolExecutor] = None

	def start_sync(self) -> None:
		"""A KDIR's sync, started before the overlay is staged (the two
		take turns on the CPU otherwise). It leaves the last run's
		overlay files alone; the staged overlay is put in after it."""
		t = self.tree
		manifest = os.path.join(t.work, 'manifest')
		if not t.kdir or not os.path.isdir(t.wsrc) or not read_lines(manifest):
			return
		import concurrent.futures
		self.pool = concurrent.futures.ThreadPoolExecutor(1)
		self.pending = self.pool.submit(kdir_sync, self.ctx, t, manifest, self.link_dest)

	def finish_sync(self, manifest: str) -> None:
		t = self.tree
		if t.kdir:
			if self.pending is not None:
				line = self.pending.result()
				self.pending = None
				if self.pool:
					self.pool.shutdown()
			else:
				line = kdir_sync(self.ctx, t, manifest, self.link_dest)
			if line.startswith('full'):
				log(f'KDIR: {line}')
		else:
			sync_debian_tree(self.ctx, t, manifest)

	def install(self, staged: Staged) -> None:
		"""Makes the work copy the tree with the staged files in place.
		Files whose staged content did not change keep their mtime."""
		t = self.tree
		work = t.work
		os.makedirs(t.wsrc, exist_ok=True)
		try:
			if staged.kind == 'unchanged':
				self.finish_sync(os.path.join(work, 'manifest'))
				return
			if staged.kind == 'files':
				self.finish_sync(os.path.join(work, 'manifest'))
				copier = treesync.Syncer(os.path.join(work, 'stage'), t.wsrc,
							 treesync.Skip([]))
				for f in staged.files:
					copier.copy(os.path.join(work, 'stage', f), os.path.join(t.wsrc, f))
			else:
				self.finish_sync(os.path.join(work, 'manifest.new'))
				treesync.install(os.path.join(work, 'stage'), t.wsrc, t.src,
						 os.path.join(work, 'manifest'),
						 os.path.join(work, 'manifest.new'))
				os.replace(os.path.join(work, 'manifest.new'),
					   os.path.join(work, 'manifest'))
		except OSError as e:
			raise InfraError(f'putting the overlay into {t.wsrc} failed: {e}') from e
		write_text(os.path.join(work, 'stage.inputs'), json.dumps(staged.inputs))
		write_text(os.path.join(work, 'stage.key'),
			   json.dumps({'key': staged.key, 'state': staged_state(t)}))

	def prepare(self, extra: Sequence[str] = ()) -> Staged:
		"""Syncs and stages; a sync left running is waited for on error."""
		os.makedirs(self.tree.work, exist_ok=True)
		self.start_sync()
		try:
			staged = stage(self.ctx, self.tree, extra)
		except BaseException:
			if self.pending is not None:
				try:
					self.pending.result()
				except Exception:
					pass
				self.pending = None
			raise
		self.install(staged)
		return staged
