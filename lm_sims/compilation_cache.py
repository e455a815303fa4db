"""JAX's persistent compilation cache, set up the one way this project uses it.

The first call of a simulation in a fresh Python process spends most of its time in
XLA compilation (3-6 s for a chapter's training loop on two cores). JAX can store
every compiled program on disk and load it in the next process instead. This module
turns that on in a folder the user can see and clear, with the same settings in
every process that shares the folder: the book build's kernels, the test suite's
workers, JupyterLab kernels and the reader's own notebook.

Sharing one folder between processes is safe only if every process bounds it:
with a finite ``jax_compilation_cache_max_size`` JAX takes a file lock (the
``filelock`` package) around each read and write and records each entry's last use
in a ``<key>-atime`` file beside its ``<key>-cache`` file. A process that writes into
the same folder unbounded takes no lock and writes no ``-atime`` file; the next
bounded write then fails on the missing file (JAX turns that into a ``UserWarning``,
"Error writing persistent compilation cache entry", and skips the write). So
:func:`enable` first repairs the folder (:func:`repair`) and then configures JAX
bounded, and :func:`environment` hands child processes the same settings.

Nothing happens at import; call :func:`enable`.

Source: JAX documentation, "Persistent compilation cache"
(https://docs.jax.dev/en/latest/persistent_compilation_cache.html).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = [
    "DEFAULT_DIR",
    "ENV_VAR",
    "MAX_SIZE_BYTES",
    "MIN_COMPILE_TIME_S",
    "cache_dir",
    "enable",
    "environment",
    "repair",
]

#: Environment variable that moves the cache folder (``off``, ``0`` or empty: no
#: cache).
ENV_VAR = "LM_SIMS_JAX_CACHE_DIR"

#: Where the cache lives unless ``LM_SIMS_JAX_CACHE_DIR`` says otherwise.
DEFAULT_DIR = Path.home() / ".cache" / "lm_sims" / "jax_compilation_cache"

#: Bound on the folder (2 GiB); JAX evicts the least recently used entries beyond
#: it. A full test-suite run writes about 100-200 MB.
MAX_SIZE_BYTES = 2 * 1024**3

#: Programs that took at least this long (seconds) to compile are stored. JAX's
#: default, 1 s, would skip most of this project's programs (0.1-1 s each); loading
#: an entry takes milliseconds.
MIN_COMPILE_TIME_S = 0.05

_CACHE_SUFFIX = "-cache"  # JAX's LRU cache file names (jax/_src/lru_cache.py)
_ATIME_SUFFIX = "-atime"
_LOCK_NAME = ".lockfile"


def cache_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The cache folder: ``path`` if given, else ``$LM_SIMS_JAX_CACHE_DIR``, else
    :data:`DEFAULT_DIR`.

    Args:
        path: a folder, or ``None`` for the environment variable or the default.

    Returns:
        The folder as an absolute :class:`~pathlib.Path` (not created here), or
        ``None`` when the cache is turned off (``path`` or the environment variable
        is ``"off"``, ``"0"`` or empty).

    Raises:
        TypeError: ``path`` is not a string, a path or ``None``.

    Example:
        >>> from lm_sims import compilation_cache
        >>> compilation_cache.cache_dir("/tmp/jax_cache")
        PosixPath('/tmp/jax_cache')
        >>> compilation_cache.cache_dir("off") is None
        True
    """
    if path is None:
        raw = os.environ.get(ENV_VAR)
        if raw is None:
            return DEFAULT_DIR
    elif isinstance(path, (str, os.PathLike)):
        raw = os.fspath(path)
    else:
        raise TypeError(
            f"path must be a str, an os.PathLike or None, got {type(path).__name__}"
        )
    if str(raw).strip().lower() in ("", "off", "0"):
        return None
    return Path(raw).expanduser().absolute()


def environment(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Environment variables that give a child process (a notebook kernel, a
    JupyterLab server's kernels) this same cache with the same bound, lock and
    threshold: JAX reads each ``jax_*`` option from its upper-case variable at
    import.

    Args:
        path: as in :func:`cache_dir`.

    Returns:
        ``{name: value}``; empty when the cache is off.

    Example:
        >>> from lm_sims import compilation_cache
        >>> env = compilation_cache.environment("/tmp/jax_cache")
        >>> env["JAX_COMPILATION_CACHE_DIR"], env["JAX_COMPILATION_CACHE_MAX_SIZE"]
        ('/tmp/jax_cache', '2147483648')
        >>> compilation_cache.environment("off")
        {}
    """
    folder = cache_dir(path)
    if folder is None:
        return {}
    return {
        ENV_VAR: str(folder),
        "JAX_COMPILATION_CACHE_DIR": str(folder),
        "JAX_COMPILATION_CACHE_MAX_SIZE": str(MAX_SIZE_BYTES),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(MIN_COMPILE_TIME_S),
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


def _unpaired(folder: Path) -> tuple[set[str], set[str]]:
    """Keys of the entries without an ``-atime`` file, and of the ``-atime`` files
    without an entry, from one listing of ``folder``."""
    names = set(os.listdir(folder))
    entries = {n[: -len(_CACHE_SUFFIX)] for n in names if n.endswith(_CACHE_SUFFIX)}
    atimes = {n[: -len(_ATIME_SUFFIX)] for n in names if n.endswith(_ATIME_SUFFIX)}
    return entries - atimes, atimes - entries


def repair(path: str | os.PathLike | None = None) -> int:
    """Make a cache folder safe for bounded (locked) use again.

    An entry written by a process without a size bound has no ``-atime`` file; JAX's
    eviction scan reads one for every entry, so each later bounded write would fail.
    Under the cache's own file lock, this gives every such entry an access time of 0
    (the oldest, so it is evicted first) and removes ``-atime`` files whose entry is
    gone. Safe to run while other processes use the folder.

    Args:
        path: as in :func:`cache_dir`. A folder that does not exist is left alone.

    Returns:
        The number of files written or removed.

    Raises:
        TypeError: ``path`` is not a string, a path or ``None``.

    Example:
        >>> import tempfile, pathlib
        >>> from lm_sims import compilation_cache
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "jit_f-1234-cache").write_bytes(b"entry")
        >>> compilation_cache.repair(folder)
        1
        >>> sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        ['jit_f-1234-atime', 'jit_f-1234-cache']
    """
    folder = cache_dir(path)
    if folder is None or not folder.is_dir():
        return 0
    if not any(_unpaired(folder)):
        # the usual case: one listing, no lock (0.13 s for 12,000 files, was 1 s);
        # a pair half-written by a bounded JAX (under the lock) sends us to the lock
        return 0
    import filelock  # a dependency of lm_sims (JAX's lock for bounded caches)

    changed = 0
    with filelock.FileLock(folder / _LOCK_NAME, timeout=60):
        lacking, stale = _unpaired(folder)  # again, under the lock
        for key in lacking:
            (folder / f"{key}{_ATIME_SUFFIX}").write_bytes((0).to_bytes(8, "little"))
            changed += 1
        for key in stale:
            (folder / f"{key}{_ATIME_SUFFIX}").unlink(missing_ok=True)
            changed += 1
    return changed


def enable(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in this process.

    Repairs the folder (:func:`repair`), then sets ``jax_compilation_cache_dir``,
    ``jax_compilation_cache_max_size`` (:data:`MAX_SIZE_BYTES`),
    ``jax_persistent_cache_min_compile_time_secs`` (:data:`MIN_COMPILE_TIME_S`) and
    ``jax_persistent_cache_min_entry_size_bytes`` (-1: any size). Programs compiled
    after the call are stored, and found again by later processes. If this process
    had already opened a cache in another folder, that one is closed first. The
    cache holds compiled code: keep it in a folder only you can write to. To clear
    it, delete the folder.

    Args:
        path: as in :func:`cache_dir`; ``"off"`` turns the cache off in this
            process (programs compiled afterwards are neither stored nor looked up).

    Returns:
        The folder in use, or ``None`` when the cache is off or the folder cannot be
        created or written (a ``RuntimeWarning`` says why; nothing else changes).

    Raises:
        TypeError: ``path`` is not a string, a path or ``None``.

    Example:
        >>> import tempfile
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import compilation_cache
        >>> before = jax.config.jax_compilation_cache_dir
        >>> folder = compilation_cache.enable(tempfile.mkdtemp())
        >>> def f(x):  # about 0.1 s to compile: above MIN_COMPILE_TIME_S
        ...     for i in range(50):
        ...         x = jnp.sin(x @ x.T + i)
        ...     return x
        >>> _ = jax.jit(f)(jnp.ones((8, 8)))
        >>> any(folder.glob("*-cache"))
        True
        >>> _ = compilation_cache.enable(before or "off")  # as it was
    """
    folder = cache_dir(path)
    import jax
    from jax.experimental.compilation_cache import compilation_cache as jax_cc

    if folder is None:
        if jax.config.jax_compilation_cache_dir:
            jax_cc.reset_cache()
            jax.config.update("jax_compilation_cache_dir", None)
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        repair(folder)
    except OSError as err:  # e.g. a read-only home: run on, compiling as usual
        warnings.warn(
            f"lm_sims: no persistent compilation cache in {folder} ({err}); "
            "programs are compiled as usual. Set LM_SIMS_JAX_CACHE_DIR to a "
            "writable folder, or to off.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    current = jax.config.jax_compilation_cache_dir
    if current and Path(current).absolute() != folder:
        jax_cc.reset_cache()  # a cache opened elsewhere keeps its folder otherwise
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_compilation_cache_max_size", MAX_SIZE_BYTES)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return folder
