"""JAX's persistent compilation cache, set up the one way this project uses it.

The first call of a simulation in a fresh Python process spends most of its time in
XLA compilation (3-6 s for a chapter's training loop on two cores). JAX can store
every compiled program on disk and load it in the next process instead. This module
turns that on in a folder the user can see and clear, with the same settings in
every process that shares the folder: the book build's kernels, the test suite's
workers, JupyterLab kernels and the reader's own notebook.

The folder is bounded by this module, not by JAX. JAX's own bound
(``jax_compilation_cache_max_size``) takes a file lock and, at every write, reads the
size and the access-time file of every entry in the folder to decide what to evict:
measured 0.32 s per write at 4,500 entries on two cores, all of it under a lock the
other processes wait for, so a run that writes thousands of programs spends most of
its time scanning (quadratic in the number of entries). And one process that writes
into a bounded folder without the bound (its entries lack ``-atime`` files) makes
every later bounded write fail. So every process of this project writes unbounded,
with the same settings (:func:`enable` here, :func:`environment` for child
processes), and :func:`enable` first :func:`prune`-s the folder once: when the
entries exceed :data:`MAX_SIZE_BYTES`, the oldest go. JAX writes an entry's file in
one piece; a process that reads it while another is still writing fails to
decompress it, warns ("Error reading persistent compilation cache entry") and
compiles as without a cache, with the same result.

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
    "prune",
]

#: Environment variable that moves the cache folder (``off``, ``0`` or empty: no
#: cache).
ENV_VAR = "LM_SIMS_JAX_CACHE_DIR"

#: Where the cache lives unless ``LM_SIMS_JAX_CACHE_DIR`` says otherwise:
#: ``~/.cache/lm_sims/jax_compilation_cache`` in the user's home folder.
DEFAULT_DIR = Path.home() / ".cache" / "lm_sims" / "jax_compilation_cache"

#: Bound on the folder (2 GiB). Beyond it, :func:`prune` removes the oldest
#: entries, down to three quarters of it. A test-suite run writes 100-300 MB.
MAX_SIZE_BYTES = 2 * 1024**3

#: Programs that took at least this long (seconds) to compile are stored. JAX's
#: default, 1 s, would skip most of this project's programs (0.1-1 s each); loading
#: an entry takes milliseconds.
MIN_COMPILE_TIME_S = 0.05

_CACHE_SUFFIX = "-cache"  # JAX's LRU cache file names (jax/_src/lru_cache.py)
_ATIME_SUFFIX = "-atime"  # written by JAX only when it bounds the folder itself


def cache_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The cache folder: ``path`` if given, else ``$LM_SIMS_JAX_CACHE_DIR``, else
    :data:`DEFAULT_DIR`.

    Args:
        path: a folder, or ``None`` for the environment variable or the default.

    Returns:
        The folder as an absolute ``pathlib.Path`` (not created here), or
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
    JupyterLab server's kernels) this same cache with the same settings (no JAX
    bound, the same threshold): JAX reads each ``jax_*`` option from its
    upper-case variable at import.

    Args:
        path: as in :func:`cache_dir`.

    Returns:
        ``{name: value}``; empty when the cache is off.

    Example:
        >>> from lm_sims import compilation_cache
        >>> env = compilation_cache.environment("/tmp/jax_cache")
        >>> env["JAX_COMPILATION_CACHE_DIR"], env["JAX_COMPILATION_CACHE_MAX_SIZE"]
        ('/tmp/jax_cache', '-1')
        >>> compilation_cache.environment("off")
        {}
    """
    folder = cache_dir(path)
    if folder is None:
        return {}
    return {
        ENV_VAR: str(folder),
        "JAX_COMPILATION_CACHE_DIR": str(folder),
        "JAX_COMPILATION_CACHE_MAX_SIZE": "-1",
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(MIN_COMPILE_TIME_S),
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


def prune(
    path: str | os.PathLike | None = None, max_bytes: int = MAX_SIZE_BYTES
) -> int:
    """Bound the cache folder: remove ``-atime`` files without an entry and, when
    the entries take more than ``max_bytes``, the oldest entries (by the time they
    were written) until they take at most three quarters of it.

    One listing of the folder; :func:`enable` calls it once per process (JAX's
    own bound rescans the folder at every write). Safe while other processes use
    the folder: a process that reads a removed entry compiles the program again.

    Args:
        path: as in :func:`cache_dir`. A folder that does not exist is left alone.
        max_bytes: the bound in bytes (int >= 0).

    Returns:
        The number of entries and of ``-atime`` files without an entry removed.

    Raises:
        TypeError: ``path`` is not a string, a path or ``None``; ``max_bytes`` is
            not an int.
        ValueError: ``max_bytes`` is negative.

    Example:
        >>> import os, tempfile, pathlib
        >>> from lm_sims import compilation_cache
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for i, name in enumerate(["jit_old-1", "jit_new-2"]):
        ...     entry = folder / f"{name}-cache"
        ...     _ = entry.write_bytes(b"x" * 100)
        ...     os.utime(entry, (i, i))  # jit_old was written first
        >>> compilation_cache.prune(folder, max_bytes=150)
        1
        >>> sorted(p.name for p in folder.iterdir())
        ['jit_new-2-cache']
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"max_bytes must be an int, got {type(max_bytes).__name__}")
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
    folder = cache_dir(path)
    if folder is None or not folder.is_dir():
        return 0
    entries, atimes = [], set()
    with os.scandir(folder) as it:
        for item in it:
            if item.name.endswith(_CACHE_SUFFIX):
                try:
                    st = item.stat()
                except FileNotFoundError:  # removed meanwhile by another process
                    continue
                key = item.name[: -len(_CACHE_SUFFIX)]
                entries.append((st.st_mtime_ns, key, st.st_size))
            elif item.name.endswith(_ATIME_SUFFIX):
                atimes.add(item.name[: -len(_ATIME_SUFFIX)])
    removed = 0
    for key in atimes - {key for _, key, _ in entries}:
        (folder / f"{key}{_ATIME_SUFFIX}").unlink(missing_ok=True)
        removed += 1
    total = sum(size for _, _, size in entries)
    if total > max_bytes:
        for _, key, size in sorted(entries):
            if total <= 0.75 * max_bytes:
                break
            (folder / f"{key}{_CACHE_SUFFIX}").unlink(missing_ok=True)
            (folder / f"{key}{_ATIME_SUFFIX}").unlink(missing_ok=True)
            total -= size
            removed += 1
    return removed


def enable(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in this process.

    Bounds the folder (:func:`prune`), then sets ``jax_compilation_cache_dir``,
    ``jax_compilation_cache_max_size`` (-1: JAX does not bound it; see the module
    docstring), ``jax_persistent_cache_min_compile_time_secs``
    (:data:`MIN_COMPILE_TIME_S`) and
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
        prune(folder)
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
    jax.config.update("jax_compilation_cache_max_size", -1)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return folder
