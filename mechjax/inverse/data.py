"""Observed trajectories on disk: ``.npy`` / ``.npz`` files of joint actions, read in bounded memory.

A file holds one integer array ``actions [episodes, steps + 1, agents]`` (in an ``.npz``, under the
key ``actions``, or as its only array). The header is read and checked (shape, dtype, size) before
any data is, and pickled objects are never loaded, so a damaged or hostile file fails with a
:class:`~mechjax.errors.DataError` naming it instead of exhausting memory.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from mechjax.errors import ConfigError, DataError
from mechjax.inverse.dynamics import validate_actions

MAX_ACTION_ENTRIES = 1 << 28  # 1 GiB of int32: beyond this a file is refused before it is read


def _check_header(path: str, shape: tuple, dtype: np.dtype) -> None:
    if len(shape) != 3:
        raise DataError(f"{path}: actions must be [episodes, steps + 1, agents], got shape {shape}")
    if not np.issubdtype(dtype, np.integer):
        raise DataError(f"{path}: actions must be integers, got dtype {dtype}")
    size = int(np.prod(shape, dtype=np.int64))
    if size > MAX_ACTION_ENTRIES:
        raise DataError(f"{path}: {shape} holds {size} actions, more than the {MAX_ACTION_ENTRIES} this reader takes")


def _read_npz_member(path: str, key: str | None) -> np.ndarray:
    with zipfile.ZipFile(path) as archive:
        names = [n[:-4] for n in archive.namelist() if n.endswith(".npy")]
        if key is None:
            if "actions" in names:
                key = "actions"
            elif len(names) == 1:
                key = names[0]
            else:
                raise DataError(f"{path}: holds arrays {sorted(names)}; name the one to read 'actions'")
        elif key not in names:
            raise DataError(f"{path}: has no array {key!r}; it holds {sorted(names)}")
        with archive.open(key + ".npy") as member:
            version = np.lib.format.read_magic(member)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(member)
            _check_header(f"{path}[{key}]", shape, dtype)
    with np.load(path, allow_pickle=False) as npz:
        return np.asarray(npz[key])


def load_actions(path: str, num_actions: int, key: str | None = None, field: str = "actions_path") -> np.ndarray:
    """Reads and validates observed joint actions from ``path``.

    Args:
        path: an ``.npy`` file, or an ``.npz`` file holding ``actions`` (or exactly one array).
        num_actions: ``A``; every entry must lie in ``[0, A)``.
        key: the array to read from an ``.npz`` (default: ``actions`` or the only one).
        field: the config field that named ``path`` (for the error message).

    Returns:
        ``int32 [episodes, steps + 1, agents]``.

    Raises:
        ConfigError: no such file, or an unknown extension.
        DataError: the file is not a valid array file, or its array is not valid actions.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"{field}: no file at {path!r}")
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)  # header only, until asked
            _check_header(path, array.shape, array.dtype)
            array = np.asarray(array)
        elif extension == ".npz":
            array = _read_npz_member(path, key)
        else:
            raise ConfigError(f"{field}: {path!r} must be an .npy or .npz file")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"{path}: not a readable numpy array file ({type(err).__name__}: {err})") from None
    try:
        return np.asarray(validate_actions(array, num_actions), np.int32)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


def save_actions(path: str, actions) -> str:
    """Writes ``actions [episodes, steps + 1, agents]`` as ``.npz`` (key ``actions``) or ``.npy``; returns ``path``."""
    array = np.asarray(actions)
    _check_header(path, array.shape, array.dtype)
    if path.endswith(".npy"):
        np.save(path, array.astype(np.int32))
    elif path.endswith(".npz"):
        np.savez_compressed(path, actions=array.astype(np.int32))
    else:
        raise ConfigError(f"{path!r} must end in .npy or .npz")
    return path
