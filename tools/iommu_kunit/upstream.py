# SPDX-License-Identifier: GPL-2.0-only
"""The upstream series, made by git from the overlay (make patches).

The overlay keeps its changes to upstream files as patches without a
person (drivers/iommu/patches/, "Subject:", the message, "---", the diff)
and its new files as plain files; tools/series.map says which patch goes
to which series (one per subsystem tree), in which order, with which new
files. This builds, in a scratch git repository of the pristine tree, one
branch per series: the series it depends on, then its own patches, each a
commit by the sender (the git identity of whoever runs it, signed off by
them), and writes each series with git format-patch --base --cover-letter
into a directory of its own, with To:/Cc: from scripts/get_maintainer.pl
and tools/series.map. It also checks what a maintainer's tools will do:
each series applies with git am to the base alone, or after the series it
names, and still applies with git am -3 after an unrelated change upstream
to a file it touches.

make patches and make patches-check (series.py) call build() and check();
errors are Error, one line each.
"""

import dataclasses
import os
import re
import shutil
import subprocess
from typing import Callable, Dict, List, Optional, Sequence, Tuple

SERIES_MAP = 'tools/series.map'
SERIES_DIR = 'tools/series'
PATCHES_DIR = 'drivers/iommu/patches'
KEYWORDS = ('series', 'subject', 'depends', 'to', 'cc')
BASE_BRANCH = 'base'
# In a stored patch, the sender (a MAINTAINERS entry's M:).
SENDER = '@SENDER@'
# A backport delta whose subject is "squash! <the subject of the patch
# before it>" is folded into that patch, as git rebase --autosquash does:
# its message is appended to that patch's as a note of what the backport
# changed, so that every patch of the backport builds alone.
SQUASH = 'squash! '
# checkpatch's questions the series answers otherwise: new files under
# drivers/iommu/ are the IOMMU entry's, the one elsewhere is added to it by
# its patch; and Fixes: commits are upstream's, which a tree without
# history cannot know.
CHECKPATCH_IGNORE = 'FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID'


class Error(Exception):
	"""A problem to report in one line."""


@dataclasses.dataclass
class Patch:
	number: str
	files: List[str]
	path: str = ''


@dataclasses.dataclass
class Series:
	name: str
	subject: str = ''
	depends: List[str] = dataclasses.field(default_factory=list)
	to: List[str] = dataclasses.field(default_factory=list)
	cc: List[str] = dataclasses.field(default_factory=list)
	patches: List[Patch] = dataclasses.field(default_factory=list)


def read_map(top: str) -> List[Series]:
	"""tools/series.map as a list of Series, in the order they apply."""
	path = os.path.join(top, SERIES_MAP)
	try:
		with open(path) as f:
			lines = f.read().splitlines()
	except OSError as e:
		raise Error(f'{SERIES_MAP}: cannot read it ({e.strerror})') from e
	series: List[Series] = []
	for i, line in enumerate(lines, 1):
		words = line.split()
		if not words or line.startswith('#'):
			continue
		key, rest = words[0], line[len(words[0]):].strip()
		where = f'{SERIES_MAP}:{i}'
		if key == 'series':
			if len(words) != 2:
				raise Error(f'{where}: "series" takes one name')
			if any(s.name == words[1] for s in series):
				raise Error(f'{where}: series {words[1]} named twice')
			series.append(Series(words[1]))
			continue
		if not series:
			raise Error(f'{where}: "{key}" before the first "series"')
		cur = series[-1]
		if key == 'subject':
			cur.subject = rest
		elif key == 'depends':
			for d in words[1:]:
				if not any(s.name == d for s in series[:-1]):
					raise Error(f'{where}: {cur.name} depends on {d}, '
						    'which is not a series named before it')
			cur.depends += words[1:]
		elif key in ('to', 'cc'):
			getattr(cur, key).append(rest)
		elif key.isdigit():
			cur.patches.append(Patch(key, words[1:]))
		else:
			raise Error(f'{where}: malformed line (a keyword of {KEYWORDS} '
				    f'or a patch number expected): {line.strip()}')
	for s in series:
		if not s.subject:
			raise Error(f'{SERIES_MAP}: series {s.name} has no subject')
	return series


def kernel_patches(top: str, kernel_series: Optional[str]) -> Dict[str, str]:
	"""The patches a kernel series gets, by number: the mainline set, with
	drivers/iommu/patches/<series>/'s on top (same number: replaces it,
	empty: drops it, a number of its own: added). A backport's own number
	may end in a letter (0010a): it then comes right after 0010, so that
	a delta follows the patch whose files it adapts (and, as a "squash!"
	patch, is folded into it: commit_patch())."""
	def numbered(d: str) -> Dict[str, str]:
		found = {}
		if os.path.isdir(d):
			for name in sorted(os.listdir(d)):
				m = re.match(r'(\d{4}[a-z]?)-.*\.patch$', name)
				if m:
					found[m.group(1)] = os.path.join(d, name)
		return found

	patches = numbered(os.path.join(top, PATCHES_DIR))
	if kernel_series:
		for n, path in numbered(os.path.join(top, PATCHES_DIR, kernel_series)).items():
			if os.path.getsize(path):
				patches[n] = path
			else:
				patches.pop(n, None)
	return patches


def series_for_kernel(top: str, kernel_series: Optional[str]) -> List[Series]:
	"""The map's series with each patch's file for this kernel: a dropped
	patch leaves its series, a backport's own joins the series of the
	patch before it, a series left empty is left out."""
	series = read_map(top)
	patches = kernel_patches(top, kernel_series)
	owner: List[Tuple[str, Series]] = [(p.number, s) for s in series for p in s.patches]
	for s in series:
		kept = []
		for p in s.patches:
			if p.number in patches:
				p.path = patches[p.number]
				kept.append(p)
		s.patches = kept
	known = {n for n, _ in owner}
	for n in sorted(patches):
		if n in known:
			continue
		before = [s for m, s in owner if m < n]
		if not before:
			raise Error(f'patch {n} comes before every series of {SERIES_MAP}')
		before[-1].patches.append(Patch(n, [], patches[n]))
		before[-1].patches.sort(key=lambda p: p.number)
	return [s for s in series if s.patches]


def read_patch(path: str) -> Tuple[str, str, str]:
	"""A stored patch as (subject, message body, diff)."""
	with open(path) as f:
		text = f.read()
	m = re.match(r'Subject: (.*)\n', text)
	if not m:
		raise Error(f'{path}: a stored patch starts with "Subject: "')
	sep = re.search(r'(?m)^---$', text)
	diff = re.search(r'(?m)^diff --git ', text)
	if not sep or not diff or diff.start() < sep.start():
		raise Error(f'{path}: no "---" line before the diff')
	body = text[m.end():sep.start()].strip('\n')
	if re.search(r'(?m)^(From|Signed-off-by): ', body):
		raise Error(f'{path}: a stored patch names no person (From:, '
			    'Signed-off-by: come from the sender)')
	return m.group(1).strip(), body, text[diff.start():]


def run(cmd: Sequence[str], cwd: Optional[str] = None,
	env: Optional[Dict[str, str]] = None, check: bool = True,
	stdin: Optional[str] = None) -> 'subprocess.CompletedProcess[str]':
	r = subprocess.run(list(cmd), cwd=cwd, env=env, input=stdin, text=True,
			   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
	if check and r.returncode:
		raise Error(f'{" ".join(cmd[:3])} failed: '
			    f'{(r.stderr or r.stdout).strip()[-800:]}')
	return r


def identity(env: Optional[Dict[str, str]] = None) -> Tuple[str, str]:
	"""The sender: GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL (or EMAIL), else
	git config user.name and user.email. Error naming them if unset."""
	env = dict(os.environ if env is None else env)
	name = env.get('GIT_AUTHOR_NAME', '')
	email = env.get('GIT_AUTHOR_EMAIL', '') or env.get('EMAIL', '')
	if not name:
		name = run(['git', 'config', 'user.name'], env=env, check=False).stdout.strip()
	if not email:
		email = run(['git', 'config', 'user.email'], env=env, check=False).stdout.strip()
	if not name or not email:
		raise Error('no sender: the series is signed off by whoever sends it. '
			    'Set git config --global user.name and user.email (or '
			    'GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL) to your name and address')
	return name, email


def git_env(who: Tuple[str, str]) -> Dict[str, str]:
	env = dict(os.environ)
	env.update(GIT_AUTHOR_NAME=who[0], GIT_AUTHOR_EMAIL=who[1],
		   GIT_COMMITTER_NAME=who[0], GIT_COMMITTER_EMAIL=who[1])
	return env


def tree_version(tree: str) -> str:
	"""The kernel version of a tree, from its Makefile."""
	vals = {}
	try:
		with open(os.path.join(tree, 'Makefile')) as f:
			for line in f:
				m = re.match(r'(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION) = *(\S*)', line)
				if m:
					vals[m.group(1)] = m.group(2)
				if len(vals) == 4:
					break
	except OSError as e:
		raise Error(f'{tree} is not a kernel tree ({e.strerror})') from e
	return '{}.{}.{}{}'.format(vals.get('VERSION', '?'), vals.get('PATCHLEVEL', '?'),
				   vals.get('SUBLEVEL', '?'), vals.get('EXTRAVERSION', ''))


def base_repo(tree: str, repo: str) -> str:
	"""A git repository of the pristine tree at repo (made once, then
	reused while the tree's version is the same), reset to its base
	commit. Return: the base commit. A tree that is a git repository gives
	its HEAD, a real upstream commit, as the base."""
	version = tree_version(tree)
	stamp = os.path.join(repo, '.git', 'iommu-kunit-base')
	if os.path.isfile(stamp):
		with open(stamp) as f:
			old = f.read().split()
		if old and old[0] == version:
			run(['git', 'checkout', '-q', '-f', BASE_BRANCH], cwd=repo)
			run(['git', 'clean', '-q', '-fdx'], cwd=repo)
			return run(['git', 'rev-parse', 'HEAD'], cwd=repo).stdout.strip()
	shutil.rmtree(repo, ignore_errors=True)
	os.makedirs(os.path.dirname(os.path.abspath(repo)), exist_ok=True)
	who = ('iommu-kunit base', 'base@localhost')
	if os.path.isdir(os.path.join(tree, '.git')):
		# Never written to: a clone of our own, with its objects.
		run(['git', 'clone', '-q', '--no-hardlinks', tree, repo])
		run(['git', 'checkout', '-q', '-B', BASE_BRANCH], cwd=repo)
	else:
		tmp = repo + '.tmp'
		shutil.rmtree(tmp, ignore_errors=True)
		shutil.copytree(tree, tmp, symlinks=True)
		run(['git', 'init', '-q', '-b', BASE_BRANCH], cwd=tmp)
		# -f: Debian's .gitignore ignores the whole top level.
		run(['git', 'add', '-f', '-A'], cwd=tmp)
		run(['git', 'commit', '-q', '-m', f'Linux {version}'], cwd=tmp,
		    env=git_env(who))
		os.rename(tmp, repo)
	with open(stamp, 'w') as f:
		f.write(version + '\n')
	return run(['git', 'rev-parse', 'HEAD'], cwd=repo).stdout.strip()


def commit_patch(top: str, repo: str, patch: Patch, who: Tuple[str, str]) -> None:
	"""Applies a stored patch and adds its new files, as one commit of the
	sender, signed off by them; a "squash!" patch amends the commit
	before it instead."""
	subject, body, diff = read_patch(patch.path)
	# Who looks after what the series adds (MAINTAINERS): the sender.
	diff = diff.replace(SENDER, f'{who[0]} <{who[1]}>')
	r = run(['git', 'apply', '--index', '-'], cwd=repo, check=False, stdin=diff)
	if r.returncode:
		raise Error(f'{os.path.basename(patch.path)} does not apply: '
			    f'{r.stderr.strip()[-600:]}')
	for f in patch.files:
		dst = os.path.join(repo, f)
		os.makedirs(os.path.dirname(dst), exist_ok=True)
		shutil.copyfile(os.path.join(top, f), dst)
		run(['git', 'add', '-f', f], cwd=repo)
	signoff = f'Signed-off-by: {who[0]} <{who[1]}>'
	head, amend = subject, []
	if subject.startswith(SQUASH):
		target = subject[len(SQUASH):].strip()
		head = run(['git', 'log', '-1', '--format=%B'], cwd=repo).stdout.rstrip('\n')
		if head.split('\n', 1)[0] != target:
			raise Error(f'{os.path.basename(patch.path)} squashes into "{target}", '
				    f'but the patch before it is "{head.splitlines()[0]}"')
		if head.endswith('\n' + signoff):
			head = head[:-len(signoff)].rstrip('\n')
		amend = ['--amend']
	msg = head + '\n\n' + body + f'\n\n{signoff}\n'
	run(['git', 'commit', '-q', *amend, '-F', '-'], cwd=repo, env=git_env(who), stdin=msg)


def closure(series: List[Series], s: Series) -> List[Series]:
	"""The series s applies after (transitively), in map order, then s."""
	by_name = {x.name: x for x in series}
	need = {s.name}
	for x in reversed(series):
		if x.name in need:
			need.update(d for d in x.depends if d in by_name)
	return [x for x in series if x.name in need]


def build_branch(top: str, repo: str, base: str, series: List[Series], s: Series,
		 who: Tuple[str, str]) -> str:
	"""Branch series/<name>: base, the series it depends on, then its own.
	Return: the commit its own patches start after."""
	run(['git', 'checkout', '-q', '-f', '-B', f'series/{s.name}', base], cwd=repo)
	start = base
	for x in closure(series, s):
		if x is s:
			start = run(['git', 'rev-parse', 'HEAD'], cwd=repo).stdout.strip()
		for p in x.patches:
			commit_patch(top, repo, p, who)
	return start


def maintainers(repo: str, mails: List[str]) -> Tuple[List[str], List[str]]:
	"""To: the maintainers get_maintainer.pl names for the mails, Cc: its
	reviewers and lists."""
	def ask(extra: List[str]) -> List[str]:
		r = run(['perl', 'scripts/get_maintainer.pl', '--no-git',
			 '--no-git-fallback', '--norolestats', '--no-multiline'] +
			extra + mails, cwd=repo, check=False)
		if r.returncode:
			raise Error(f'get_maintainer.pl failed: {r.stderr.strip()[-400:]}')
		return [a.strip() for a in r.stdout.split(',') if a.strip()]

	to = ask(['--no-r', '--no-l'])
	cc = [a for a in ask(['--no-m']) if a not in to]
	return to, cc


def cover_text(top: str, series: List[Series], s: Series, version: str,
	       base_desc: str) -> str:
	path = os.path.join(top, SERIES_DIR, s.name + '.txt')
	try:
		with open(path) as f:
			blurb = f.read().strip('\n')
	except OSError as e:
		raise Error(f'{path}: the cover letter of {s.name} ({e.strerror})') from e
	by_name = {x.name: x for x in series}
	lines = [blurb, '']
	deps = [by_name[d] for d in s.depends if d in by_name]
	if deps:
		lines.append('It applies after these series, sent alongside it:')
		lines += [f'  - {d.subject} ({d.name})' for d in deps]
		lines.append('')
	lines.append(f'Based on {base_desc} (Linux {version}).')
	return '\n'.join(lines)


def fill_cover(path: str, subject: str, text: str) -> None:
	with open(path) as f:
		mail = f.read()
	mail = mail.replace('*** SUBJECT HERE ***', subject)
	mail = mail.replace('*** BLURB HERE ***', text)
	with open(path, 'w') as f:
		f.write(mail)


def checkpatch(repo: str, mails: List[str]) -> None:
	# Its SPDX check runs python3 with ply: Debian's, not whatever python3
	# comes first on PATH.
	env = dict(os.environ)
	env['PATH'] = '/usr/bin:' + env.get('PATH', '')
	for m in mails:
		r = run(['perl', 'scripts/checkpatch.pl', '--strict', '--quiet',
			 '--ignore', CHECKPATCH_IGNORE, m], cwd=repo, check=False,
			env=env)
		if r.returncode:
			raise Error(f'checkpatch --strict on {os.path.basename(m)}:\n'
				    f'{(r.stdout + r.stderr).strip()}')


def build(top: str, tree: str, repo: str, out: str, kernel_series: Optional[str],
	  who: Tuple[str, str], base_desc: str = '', numbered_dirs: bool = True,
	  do_checkpatch: bool = True) -> List[Tuple[Series, str]]:
	"""Writes each series into out/<NN>-<name>/. Return: (series, dir)."""
	series = series_for_kernel(top, kernel_series)
	base = base_repo(tree, repo)
	version = tree_version(tree)
	base_desc = base_desc or f'commit {base[:12]} of the base tree'
	shutil.rmtree(out, ignore_errors=True)
	os.makedirs(out)
	made = []
	for i, s in enumerate(series, 1):
		start = build_branch(top, repo, base, series, s, who)
		d = os.path.join(out, f'{i:02d}-{s.name}' if numbered_dirs else s.name)
		os.makedirs(d)
		# Who gets it: get_maintainer.pl reads the mails themselves.
		run(['git', 'format-patch', '-q', '-o', d, f'{start}..HEAD'],
		    cwd=repo, env=git_env(who))
		mails = mails_of(d)
		to, cc = maintainers(repo, mails)
		for m in mails:
			os.unlink(m)
		to += [a for a in s.to if a not in to]
		cc += [a for a in s.cc if a not in to and a not in cc]
		cmd = ['git', 'format-patch', '-q', '--cover-letter', '--thread',
		       '--numbered', f'--base={base}', '-o', d]
		cmd += [f'--to={a}' for a in to] + [f'--cc={a}' for a in cc]
		run(cmd + [f'{start}..HEAD'], cwd=repo, env=git_env(who))
		cover = os.path.join(d, '0000-cover-letter.patch')
		fill_cover(cover, s.subject, cover_text(top, series, s, version, base_desc))
		if do_checkpatch:
			checkpatch(repo, mails_of(d))
		made.append((s, d))
	run(['git', 'checkout', '-q', '-f', BASE_BRANCH], cwd=repo)
	return made


def mails_of(d: str) -> List[str]:
	return sorted(os.path.join(d, m) for m in os.listdir(d)
		      if m.endswith('.patch') and m != '0000-cover-letter.patch')


def am(repo: str, mails: List[str],
       three_way: bool = False) -> 'subprocess.CompletedProcess[str]':
	cmd = ['git', 'am', '-q'] + (['-3'] if three_way else []) + mails
	r = run(cmd, cwd=repo, check=False,
		env=git_env(('iommu-kunit check', 'check@localhost')))
	if r.returncode:
		run(['git', 'am', '--abort'], cwd=repo, check=False)
	return r


def touch_context(repo: str, mail: str) -> Optional[str]:
	"""An unrelated upstream change to a file the mail touches: the first
	line of the first hunk, a context line with more context between it
	and the change, gets a comment of its own. Plain git am then finds the
	context changed; git am -3 merges. Return: the file changed, or None."""
	with open(mail) as f:
		text = f.read()
	for m in re.finditer(r'(?ms)^diff --git a/(\S+) b/\S+\n(.*?)(?=^diff --git |\Z)', text):
		path, chunk = m.group(1), m.group(2)
		if 'new file mode' in chunk or not path.endswith(('.c', '.h')):
			continue
		h = re.search(r'(?m)^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@.*\n((?: .*\n)+)[-+]', chunk)
		if not h or len(h.group(2).splitlines()) < 2:
			continue
		line_no = int(h.group(1))
		ctx = h.group(2).splitlines()[0][1:]
		full = os.path.join(repo, path)
		with open(full) as f:
			lines = f.read().split('\n')
		if line_no - 1 >= len(lines) or lines[line_no - 1] != ctx or ctx.rstrip().endswith('\\'):
			continue
		lines[line_no - 1] += ' /* upstream */'
		with open(full, 'w') as f:
			f.write('\n'.join(lines))
		return path
	return None


def check(top: str, tree: str, repo: str, made: List[Tuple[Series, str]],
	  log: Callable[[str], None] = print) -> None:
	"""Each series applies with git am to the base, after the series it
	names; and its first patch with git am -3 after an unrelated upstream
	change to a file it touches (which plain git am refuses)."""
	base = base_repo(tree, repo)
	dirs = {s.name: d for s, d in made}
	series = [s for s, _ in made]
	for s, d in made:
		deps = [x for x in closure(series, s) if x is not s]
		run(['git', 'checkout', '-q', '-f', '-B', 'check', base], cwd=repo)
		for x in deps:
			r = am(repo, mails_of(dirs[x.name]))
			if r.returncode:
				raise Error(f'series {x.name} does not apply with git am: '
					    f'{r.stderr.strip()[-400:]}')
		after = run(['git', 'rev-parse', 'HEAD'], cwd=repo).stdout.strip()
		r = am(repo, mails_of(d))
		if r.returncode:
			raise Error(f'series {s.name} does not apply with git am after '
				    f'{[x.name for x in deps] or "nothing"}: {r.stderr.strip()[-400:]}')
		log(f'series {s.name}: {len(mails_of(d))} patches apply with git am'
		    + (f' after {", ".join(x.name for x in deps)}' if deps else ' to the base alone'))
		run(['git', 'checkout', '-q', '-f', '-B', 'check', after], cwd=repo)
		path = touch_context(repo, mails_of(d)[0])
		if not path:
			continue
		run(['git', 'commit', '-q', '-a', '-m', 'an unrelated upstream change'],
		    cwd=repo, env=git_env(('upstream', 'upstream@localhost')))
		first = mails_of(d)[:1]
		if not am(repo, first).returncode:
			raise Error(f'series {s.name}: plain git am applied over a changed '
				    f'context line of {path}: the check checks nothing')
		r = am(repo, first, three_way=True)
		if r.returncode:
			raise Error(f'series {s.name} does not apply with git am -3 after '
				    f'an unrelated change to {path}: {r.stderr.strip()[-400:]}')
		log(f'series {s.name}: git am -3 applies its first patch after an '
		    f'unrelated change to {path} (plain git am does not)')
	run(['git', 'checkout', '-q', '-f', BASE_BRANCH], cwd=repo)
