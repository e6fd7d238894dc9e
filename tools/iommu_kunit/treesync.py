# SPDX-License-Identifier: GPL-2.0-only
#
# Keeps the runner's work copy of a user's kernel tree (KDIR) in step with
# it, without walking all of it with rsync on every run. The work copy holds
# copies, not hard links: nothing done there can change the user's files,
# and a file edited in place and then restored is seen as it is now.
#
#   sync(SRC, DST, STATE, SKIP_LIST, full, link_dest)
#   install(STAGE, DST, SRC, OLD_LIST, NEW_LIST)
#   rsync_excludes()
#
# SRC is the user's tree, DST the work copy, STATE a file of ours that
# remembers what the last sync saw, SKIP_LIST the files the overlay owns in
# DST (one path per line, relative), which are never replaced or deleted.
# A file copied because it changed gets a new mtime, so make rebuilds what
# depends on it even when its own mtime went back in time; a file whose
# content did not change is left alone.
#
# The first sync, a sync after an unreadable or foreign STATE, or one asked
# for (full: IOMMU_KUNIT_SYNC=full) is a full one, with rsync: of every file
# but the excluded ones, or, in a git tree, of what git lists (tracked
# files, and untracked ones that are not ignored).
# After that, only what changed is synced:
#   - a git tree: what git reports: the files of `git status` (tracked and
#     untracked, not ignored) whose state differs from last time or that
#     left the list, and `git diff` between the old and new HEAD (a commit,
#     a checkout of another branch, a reset, a rebase);
#   - any other tree: one walk that stats every file and directory and
#     looks at those whose ctime is newer than the last sync (an edit, a
#     chmod, a rename and a `touch -d` all set ctime); the entries of a
#     changed directory are compared with the work copy's, so additions,
#     deletions and renames (of whole directories too) are seen.
# Files git ignores (build output, .config) are never taken from a git tree.
# link_dest=DIR (the runner's main work copy of the same tree, for its
# side trees) makes a full sync hard-link what DIR has the same.
#
# sync returns one line: what it did and how many paths it touched.
#
# install puts the staged overlay (STAGE, the files NEW_LIST names) into
# DST: a staged file whose content differs from DST's replaces it (a new
# file, never written through a link); one that is the same keeps its mtime,
# so make does not rebuild it. Files OLD_LIST names (the last overlay) and
# NEW_LIST does not go back to SRC's, as new copies: make rebuilds what the
# overlay had built.

"""Incremental sync of a kernel tree into the runner's work copy."""

import filecmp
import fnmatch
import json
import os
import shutil
import stat
import subprocess
import time
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

State = Dict[str, Any]

STATE_VERSION = 2

# Not source, or ours: never synced (the same list rsync gets).
TOP_EXCLUDES = ('.git', '.config', '.config.old', '.kunit',
		'include/config', 'include/generated')
TOP_GLOB_EXCLUDES = ('arch/*/include/generated',)
NAME_EXCLUDES = ('*.o', '.*.cmd', '*.ko')

# Files changed this close to the last sync's start are looked at again:
# file times come from a coarse clock, and some file systems round them.
MARGIN_NS = 2 * 1000 * 1000 * 1000


def rsync_excludes() -> List[str]:
	"""The exclusions above as rsync arguments."""
	args = ['--exclude=/' + p for p in TOP_EXCLUDES + TOP_GLOB_EXCLUDES]
	return args + ['--exclude=' + p for p in NAME_EXCLUDES]


def name_excluded(name: str) -> bool:
	"""NAME_EXCLUDES, matched by hand: the walk asks for every file."""
	return name.endswith('.o') or name.endswith('.ko') or \
		(name.startswith('.') and name.endswith('.cmd'))


def entry_excluded(rel: str, name: str) -> bool:
	"""Whether rel, whose last component is name, is excluded itself."""
	if name_excluded(name) or rel in TOP_EXCLUDES:
		return True
	return name == 'generated' and \
		any(fnmatch.fnmatchcase(rel, p) for p in TOP_GLOB_EXCLUDES)


def excluded(rel: str) -> bool:
	"""Whether the relative path rel (or a directory above it) is excluded."""
	parts = rel.split('/')
	return any(entry_excluded('/'.join(parts[:i + 1]), parts[i])
		   for i in range(len(parts)))


class Skip:
	"""The overlay's files in the work copy, and the directories above them."""

	def __init__(self, paths: Iterable[str]):
		self.files: Set[str] = set(paths)
		self.dirs: Set[str] = set()
		for p in self.files:
			d = os.path.dirname(p)
			while d:
				self.dirs.add(d)
				d = os.path.dirname(d)

	def owns(self, rel: str) -> bool:
		return rel in self.files

	def protects(self, rel: str) -> bool:
		return rel in self.files or rel in self.dirs


def same_file(s: str, d: str) -> bool:
	"""Whether d already is what s is (content, type and mode)."""
	try:
		ss, ds = os.lstat(s), os.lstat(d)
	except FileNotFoundError:
		return False
	if stat.S_IFMT(ss.st_mode) != stat.S_IFMT(ds.st_mode):
		return False
	if stat.S_ISLNK(ss.st_mode):
		return os.readlink(s) == os.readlink(d)
	if not stat.S_ISREG(ss.st_mode) or ss.st_size != ds.st_size or \
	   stat.S_IMODE(ss.st_mode) != stat.S_IMODE(ds.st_mode):
		return False
	return filecmp.cmp(s, d, shallow=False)


class Syncer:
	"""Applies changes of single paths from src to dst."""

	def __init__(self, src: str, dst: str, skip: Skip):
		self.src = src
		self.dst = dst
		self.skip = skip
		self.touched = 0

	def _remove(self, path: str) -> None:
		if os.path.isdir(path) and not os.path.islink(path):
			shutil.rmtree(path)
		else:
			os.unlink(path)

	def copy(self, s: str, d: str) -> None:
		"""d becomes a copy of s, with a new mtime: make rebuilds from it."""
		if same_file(s, d):
			return
		if os.path.isdir(d) and not os.path.islink(d):
			shutil.rmtree(d)
		tmp = d + '.treesync-tmp'
		if os.path.lexists(tmp):
			os.unlink(tmp)
		if os.path.islink(s):
			os.symlink(os.readlink(s), tmp)
		else:
			shutil.copyfile(s, tmp)
			shutil.copymode(s, tmp)
		os.replace(tmp, d)
		self.touched += 1

	def _mkdirs(self, rel: str) -> None:
		"""Creates the directories of rel in dst that src has."""
		missing = []
		d = os.path.dirname(rel)
		while d and not os.path.isdir(os.path.join(self.dst, d)):
			missing.append(d)
			d = os.path.dirname(d)
		for d in reversed(missing):
			path = os.path.join(self.dst, d)
			if os.path.lexists(path):
				os.unlink(path)
			os.mkdir(path)
			shutil.copystat(os.path.join(self.src, d), path)
			self.touched += 1

	def _prune(self, rel: str) -> None:
		"""Removes directories above rel that src no longer has."""
		d = os.path.dirname(rel)
		while d and not self.skip.protects(d):
			if os.path.isdir(os.path.join(self.src, d)):
				return
			try:
				os.rmdir(os.path.join(self.dst, d))
			except OSError:
				return
			d = os.path.dirname(d)

	def tree(self, rel: str) -> None:
		"""Syncs the directory rel of src, recursively, into dst."""
		self._mkdirs(rel + '/x')
		self.entries(rel, recursive=True)

	def entries(self, rel: str, recursive: bool = False) -> None:
		"""Makes dst's directory rel list what src's does.

		New entries are synced whole; entries src no longer has are
		removed; without recursive, entries both have are left alone.
		"""
		sdir = os.path.join(self.src, rel)
		ddir = os.path.join(self.dst, rel)
		if not os.path.isdir(sdir) or os.path.islink(sdir) or \
		   (rel and not os.path.isdir(ddir)) or os.path.islink(ddir):
			self.path(rel)
			return
		names = set(os.listdir(sdir))
		try:
			have = set(os.listdir(ddir))
		except FileNotFoundError:
			have = set()
		for name in sorted(have - names):
			r = os.path.join(rel, name) if rel else name
			if excluded(r) or self.skip.protects(r):
				continue
			self._remove(os.path.join(ddir, name))
			self.touched += 1
		for name in sorted(names if recursive else names - have):
			r = os.path.join(rel, name) if rel else name
			self.path(r)

	def path(self, rel: str) -> None:
		"""Syncs one path, whatever it became: file, directory or gone."""
		if excluded(rel) or self.skip.owns(rel):
			return
		s = os.path.join(self.src, rel)
		d = os.path.join(self.dst, rel)
		try:
			st = os.lstat(s)
		except FileNotFoundError:
			st = None
		if st is None:
			if os.path.lexists(d) and not self.skip.protects(rel):
				self._remove(d)
				self.touched += 1
				self._prune(rel)
		elif stat.S_ISDIR(st.st_mode):
			self.tree(rel)
		else:
			self._mkdirs(rel)
			self.copy(s, d)


def full_sync(src: str, dst: str, skip: Skip, files: Optional[Iterable[str]] = None,
	      link_dest: Optional[str] = None) -> None:
	"""Copies the whole tree with rsync: every file not excluded, or files.
	With link_dest (a work copy of ours of the same tree), files that are
	the same there become hard links to it instead of copies."""
	os.makedirs(dst, exist_ok=True)
	cmd = ['rsync', '-a'] + rsync_excludes()
	if link_dest and os.path.isdir(link_dest):
		cmd.append('--link-dest=' + os.path.abspath(link_dest))
	cmd += ['--exclude=/' + p for p in sorted(skip.files)]
	if files is None:
		cmd += ['--delete'] + ['--filter=protect /%s/' % d for d in sorted(skip.dirs)]
		subprocess.run(cmd + [src + '/', dst + '/'], check=True)
		return
	wanted = set(p for p in files if not excluded(p) and not skip.owns(p))
	subprocess.run(cmd + ['--files-from=-', '--from0', src + '/', dst + '/'],
		       input='\0'.join(sorted(wanted)).encode('utf-8', 'surrogateescape'),
		       check=True)
	# What the work copy has beyond that goes, as rsync --delete would.
	for root, dirs, names in os.walk(dst, topdown=False):
		rel = os.path.relpath(root, dst)
		rel = '' if rel == '.' else rel + '/'
		for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
			r = rel + name
			if r not in wanted and not skip.protects(r) and not excluded(r):
				os.unlink(os.path.join(root, name))
		if rel and not skip.protects(rel[:-1]) and not excluded(rel[:-1]):
			try:
				os.rmdir(root)
			except OSError:
				pass


def git_start(src: str, *args: str) -> 'Optional[subprocess.Popen[bytes]]':
	"""A git command started in src, for git_finish."""
	try:
		return subprocess.Popen(['git', '--no-optional-locks', '-C', src] + list(args),
					stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
	except FileNotFoundError:
		return None


def git_finish(proc: 'Optional[subprocess.Popen[bytes]]') -> Optional[str]:
	"""The output of a command git_start started; None if it failed."""
	if proc is None:
		return None
	out = proc.communicate()[0]
	return out.decode('utf-8', 'surrogateescape') if proc.returncode == 0 else None


def git(src: str, *args: str) -> Optional[str]:
	"""Output of a git command in src; None if it fails."""
	return git_finish(git_start(src, *args))


def is_git_top(src: str) -> bool:
	if not os.path.exists(os.path.join(src, '.git')):
		return False
	top = git(src, 'rev-parse', '--show-toplevel')
	return top is not None and os.path.realpath(top.strip()) == os.path.realpath(src)


def stat_key(path: str, racy_ns: int) -> Optional[List[int]]:
	"""What a file is now, as far as stat says; [0] when it changed so
	recently (at or after racy_ns) that a second change in the same clock
	tick would leave the same stat: such a file is looked at again."""
	try:
		st = os.lstat(path)
	except FileNotFoundError:
		return None
	if st.st_ctime_ns >= racy_ns or st.st_mtime_ns >= racy_ns:
		return [0]
	return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode]


def zsplit(out: str) -> List[str]:
	return [p for p in out.split('\0') if p]


def glob_escape(path: str) -> str:
	return ''.join('[' + c + ']' if c in '*?[]\\' else c for c in path)


def dir_mtime(src: str, rel: str, racy_ns: int) -> Optional[int]:
	"""A directory's mtime; 0 if too recent to trust; None: not a directory."""
	try:
		st = os.lstat(os.path.join(src, rel))
	except FileNotFoundError:
		return None
	if not stat.S_ISDIR(st.st_mode):
		return None
	return 0 if st.st_mtime_ns >= racy_ns else st.st_mtime_ns


def all_dirs(src: str) -> List[str]:
	"""Every directory of src (relative, '' the top) but .git."""
	dirs: List[str] = []
	stack = ['']
	while stack:
		rel = stack.pop()
		dirs.append(rel)
		try:
			it = os.scandir(os.path.join(src, rel))
		except OSError:
			continue
		with it:
			for e in it:
				if e.is_dir(follow_symlinks=False) and not (rel == '' and e.name == '.git'):
					stack.append(rel + '/' + e.name if rel else e.name)
	return dirs


def git_snapshot(src: str, old: Optional[State], racy_ns: int) -> Optional[State]:
	"""HEAD and the paths that differ from it (tracked files changed in
	the work tree or the index, untracked files git does not ignore), with
	their stat, and every directory's mtime; None on error.

	git status would say the same, but it reads every directory for
	untracked files on every run; here a directory is read only when its
	mtime changed since the snapshot old (a file was added, removed or
	renamed in it), as git's own untracked cache does, and untracked files
	seen before are looked at with stat.
	"""
	head = git(src, 'rev-parse', '-q', '--verify', 'HEAD^{commit}')
	head = head.strip() if head else ''
	# Both read every tracked file's stat or the index: run them while
	# this process looks at the directories.
	tracked = git_start(src, 'diff-files', '--name-only', '-z', '--ignore-submodules=all')
	staged = git_start(src, 'diff-index', '--cached', '--name-only', '-z', '--no-renames',
			   '--ignore-submodules=all', head) if head else \
		git_start(src, 'ls-files', '-z', '-c')

	dirs: Dict[str, Optional[int]] = {}
	untracked: Optional[Set[str]]
	if old is None or 'dirs' not in old:
		listed = git(src, 'ls-files', '-o', '--exclude-standard', '-z')
		untracked = set(zsplit(listed)) if listed is not None else None
		for d in all_dirs(src):
			dirs[d] = dir_mtime(src, d, racy_ns)
	else:
		changed: List[str] = []
		for d, mtime in old['dirs'].items():
			now = dir_mtime(src, d, racy_ns)
			if now is None:
				continue
			dirs[d] = now
			if mtime == 0 or now != mtime:
				changed.append(d)
		# New directories under changed ones, and all below them.
		for d in list(changed):
			for e in os.scandir(os.path.join(src, d)):
				r = d + '/' + e.name if d else e.name
				if e.is_dir(follow_symlinks=False) and r not in dirs and r != '.git':
					for n in all_dirs(os.path.join(src, r)):
						nd = r + '/' + n if n else r
						dirs[nd] = dir_mtime(src, nd, racy_ns)
						changed.append(nd)
		untracked = set(p for p in old.get('untracked', [])
				if os.path.dirname(p) not in changed)
		if changed:
			specs = [':(glob)' + (glob_escape(d) + '/*' if d else '*') for d in changed]
			out = git(src, 'ls-files', '-o', '--exclude-standard', '-z', '--', *specs)
			if out is None:
				untracked = None
			else:
				untracked.update(zsplit(out))
	tracked_out = git_finish(tracked)
	staged_out = git_finish(staged)
	if tracked_out is None or staged_out is None or untracked is None:
		return None

	paths: Dict[str, Optional[List[int]]] = {}
	for rel in set(zsplit(tracked_out)) | set(zsplit(staged_out)) | untracked:
		paths[rel] = stat_key(os.path.join(src, rel), racy_ns)
	return {'head': head, 'paths': paths, 'dirs': dirs,
		'untracked': sorted(p for p in untracked if paths.get(p) is not None)}


def git_changes(src: str, old: State, new: State) -> Optional[Set[str]]:
	"""Paths that may differ between two snapshots; None: do a full sync."""
	changed: Set[str] = set()
	for rel in set(old['paths']) | set(new['paths']):
		was = old['paths'].get(rel, 'absent')
		# [0]: too recent to trust then, looked at again now.
		if was == [0] or was != new['paths'].get(rel, 'absent'):
			changed.add(rel)
	if old['head'] != new['head']:
		if not old['head'] or not new['head']:
			return None
		out = git(src, 'diff', '--name-only', '-z', '--no-renames',
			  old['head'], new['head'])
		if out is None:
			return None
		changed.update(zsplit(out))
	return changed


def walk_changes(src: str, since_ns: int) -> Tuple[List[str], List[str]]:
	"""Files and directories of src whose ctime is at or after since_ns."""
	files: List[str] = []
	dirs: List[str] = []
	if os.lstat(src).st_ctime_ns >= since_ns:
		dirs.append('')
	stack = ['']
	while stack:
		rel = stack.pop()
		with os.scandir(os.path.join(src, rel)) as it:
			for e in it:
				r = rel + '/' + e.name if rel else e.name
				if entry_excluded(r, e.name):
					continue
				st = e.stat(follow_symlinks=False)
				if stat.S_ISDIR(st.st_mode):
					stack.append(r)
					if st.st_ctime_ns >= since_ns:
						dirs.append(r)
				elif st.st_ctime_ns >= since_ns:
					files.append(r)
	return files, dirs


def now_ns(state_path: str) -> int:
	"""The file-system clock: the mtime of a file touched now."""
	mark = state_path + '.mark'
	with open(mark, 'w'):
		pass
	t = os.stat(mark).st_mtime_ns
	os.unlink(mark)
	return t


def load_state(path: str, src: str) -> Optional[State]:
	try:
		with open(path) as f:
			state = json.load(f)
	except (OSError, ValueError):
		return None
	if not isinstance(state, dict) or state.get('version') != STATE_VERSION \
	   or state.get('src') != src:
		return None
	return state


def save_state(path: str, state: State, old: Optional[State] = None) -> None:
	"""Writes state, unless it is what old (as loaded) already says."""
	if old == state:
		return
	tmp = path + '.tmp'
	with open(tmp, 'w') as f:
		json.dump(state, f, separators=(',', ':'))
	os.replace(tmp, path)


def sync(src: str, dst: str, state_path: str, skip_list: str, full: bool = False,
	 link_dest: Optional[str] = None) -> str:
	"""Brings dst up to date with src; returns a line saying what it did."""
	src = os.path.abspath(src)
	dst = os.path.abspath(dst)
	with open(skip_list) as f:
		skip = Skip(line.rstrip('\n') for line in f if line.strip())
	mode = 'git' if is_git_top(src) else 'walk'
	old = None if full else load_state(state_path, src)
	if old is not None and (old.get('mode') != mode or not os.path.isdir(dst)):
		old = None
	# Look before syncing: what changes while we sync is seen next time.
	started = now_ns(state_path)
	state: State = {'version': STATE_VERSION, 'src': src, 'mode': mode}
	if mode == 'git':
		snap = git_snapshot(src, old['git'] if old else None, started - MARGIN_NS)
		if snap is None:
			mode = state['mode'] = 'walk'
		else:
			state['git'] = snap
	if mode == 'walk':
		state['since'] = started - MARGIN_NS
		if old is not None and old.get('mode') != mode:
			old = None

	syncer = Syncer(src, dst, skip)
	why = 'first sync' if old is None else None
	if old is not None and mode == 'git':
		changed = git_changes(src, old['git'], state['git'])
		if changed is None:
			why = 'HEAD not comparable'
		else:
			for rel in sorted(changed):
				syncer.path(rel)
	elif old is not None:
		files, dirs = walk_changes(src, old['since'])
		for rel in dirs:
			syncer.entries(rel)
		for rel in files:
			syncer.path(rel)
	if why is not None or full:
		t0 = time.monotonic()
		listing: Optional[List[str]] = None
		if mode == 'git':
			out = git(src, 'ls-files', '-z', '-c', '-o', '--exclude-standard')
			listing = zsplit(out) if out is not None else None
		full_sync(src, dst, skip, listing, link_dest)
		save_state(state_path, state)
		return 'full sync (%s) in %.1f s' % ('asked for' if full else why,
						   time.monotonic() - t0)
	save_state(state_path, state, old)
	return '%s: %d path(s) synced' % (mode, syncer.touched)


def read_list(path: str) -> List[str]:
	try:
		with open(path) as f:
			return [line.rstrip('\n') for line in f if line.strip()]
	except FileNotFoundError:
		return []


def install(stage: str, dst: str, src: str, old_list: str, new_list: str) -> str:
	"""Puts the staged files into dst; returns a line saying what it did."""
	new = read_list(new_list)
	gone = sorted(set(read_list(old_list)) - set(new))
	for rel in gone:
		d = os.path.join(dst, rel)
		if os.path.lexists(d):
			os.unlink(d)
		s = os.path.join(src, rel)
		if os.path.isfile(s):
			shutil.copy2(s, d + '.treesync-tmp')
			os.replace(d + '.treesync-tmp', d)
			os.utime(d)
	copier = Syncer(stage, dst, Skip([]))
	for rel in new:
		os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
		copier.copy(os.path.join(stage, rel), os.path.join(dst, rel))
	replaced = copier.touched
	return 'overlay: %d file(s) replaced, %d restored' % (replaced, len(gone))
