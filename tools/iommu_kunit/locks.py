# SPDX-License-Identifier: GPL-2.0-only
"""Runs that share a directory of the cache (a work copy and its build
directories, an unpacked kernel, the private apt configuration) take turns.

hold(ctx, dir) takes the lock dir.lock (flock), held until this run and the
commands it started are gone: they inherit it (Context.run passes the
descriptors on), so a build a killed run left behind still holds it. A run
that has to wait says so:

  [iommu-kunit] waiting: another run of the runner is using DIR

An unpacked kernel is held shared by every run that uses it, and
exclusively by the run that unpacks it (or refreshes it): runs of one
kernel wait for each other only on their work copies. IOMMU_KUNIT_LOCKS
lists the locks a run holds, for the runner it starts itself (make bench)
to go ahead under them."""

import fcntl
import os

from .common import Context, InfraError, log

ENV = 'IOMMU_KUNIT_LOCKS'


def _flock(fd: int, op: int, lock: str, what: str) -> None:
	"""flock, saying that it waits if it must."""
	try:
		fcntl.flock(fd, op | fcntl.LOCK_NB)
		return
	except BlockingIOError:
		pass
	log(f'waiting: another run of the runner is using {what}')
	try:
		fcntl.flock(fd, op)
	except OSError as e:
		raise InfraError(f'could not lock {lock}: {e.strerror}') from e
	log(f'the other run is done with {what}: going on')


def hold(ctx: Context, path: str, what: str = '', shared: bool = False) -> None:
	"""Takes path.lock for the rest of the run (shared: with the other
	runs that take it shared); waits, saying so, while another run has
	it. what: how the waiting line names it (path)."""
	lock = path + '.lock'
	held = [p for p in ctx.env.get(ENV, '').split(':') if p]
	if lock in held or lock in ctx.locks:
		return
	os.makedirs(os.path.dirname(lock) or '.', exist_ok=True)
	fd = os.open(lock, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
	try:
		_flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, lock, what or path)
	except BaseException:
		os.close(fd)
		raise
	ctx.locks[lock] = fd
	ctx.env[ENV] = ':'.join(held + [lock])


def share(ctx: Context, path: str) -> None:
	"""An exclusive hold of path becomes a shared one."""
	fd = ctx.locks.get(path + '.lock')
	if fd is not None:
		fcntl.flock(fd, fcntl.LOCK_SH)


def release(ctx: Context, path: str) -> None:
	"""Lets go of path.lock (a fetch's, once it is done)."""
	lock = path + '.lock'
	fd = ctx.locks.pop(lock, None)
	if fd is None:
		return
	os.close(fd)
	held = [p for p in ctx.env.get(ENV, '').split(':') if p and p != lock]
	if held:
		ctx.env[ENV] = ':'.join(held)
	else:
		ctx.env.pop(ENV, None)


def release_all(ctx: Context) -> None:
	"""Lets go of every lock this run holds."""
	for lock in list(ctx.locks):
		release(ctx, lock[:-len('.lock')])
