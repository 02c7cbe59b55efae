"""Reading and writing the IDX format used by the original MNIST files.

An IDX file is a 4-byte magic number `0x00 0x00 <dtype code> <ndim>`, then `ndim`
big-endian uint32 dimension sizes, then the array data in C order, big-endian. Files may be
gzipped; `read_idx` detects that from the content, not the name.

Example:

>>> import os, tempfile
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
>>> write_idx(path, np.arange(5, dtype=np.uint8))
>>> read_idx(path)
array([0, 1, 2, 3, 4], dtype=uint8)
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from l2l.datasets.paths import CorruptDataError
from l2l.errors import InvalidValueError
from l2l.training.atomic import atomic_path

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian numpy dtype.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (gzipped or plain) into a writable, native-byte-order array.

    Args:
        path: File to read.

    Returns:
        The array, with the shape and dtype recorded in the file's header.

    Raises:
        CorruptDataError: If the file is not valid gzip, has a bad magic number, or its size
            does not match its header exactly (truncated or with trailing bytes).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "images-idx3-ubyte")
    >>> write_idx(path, np.zeros((2, 28, 28), dtype=np.uint8))
    >>> read_idx(path).shape
    (2, 28, 28)
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise CorruptDataError(
            f"{path} is not an IDX file: it has only {len(data)} bytes, fewer than the 4-byte "
            "header. Delete it and obtain the file again."
        )
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0 or code not in _DTYPES:
        raise CorruptDataError(
            f"{path} is not an IDX file: bad magic number 0x{data[:4].hex()} (expected "
            "0x0000 followed by a type code in "
            f"{', '.join(f'0x{c:02x}' for c in _DTYPES)} and the number of dimensions). "
            "Delete it and obtain the file again."
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise CorruptDataError(
            f"{path} is truncated: its header declares {ndim} dimensions but the file ends "
            f"after {len(data)} bytes. Delete it and obtain the file again."
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _DTYPES[code]
    expected = header_size + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise CorruptDataError(
            f"{path} is {problem}: a {dtype.newbyteorder('=').name} array of shape {shape} "
            f"needs {expected} bytes but the (decompressed) file has {len(data)}. "
            "Delete it and obtain the file again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes an array as an IDX file, gzipped when `path` ends with `.gz`.

    Args:
        path: Destination file; overwritten if it exists.
        array: Array to write, typically `uint8` (MNIST images and labels). The other IDX
            types (int8, int16, int32, float32, float64) are also accepted.

    Raises:
        ValueError: If the dtype has no IDX type code or the array has more than 255
            dimensions.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "t10k-labels-idx1-ubyte")
    >>> write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    >>> os.path.getsize(path)
    11
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise InvalidValueError(
            f"Cannot write dtype {array.dtype} as IDX; convert the array to one of "
            "uint8, int8, int16, int32, float32, float64 first (MNIST uses uint8)."
        )
    if not 1 <= array.ndim <= 255:
        raise InvalidValueError(
            f"IDX files hold arrays with 1 to 255 dimensions, got {array.ndim}; "
            "reshape the array first."
        )
    header = bytes([0, 0, _CODES[native], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_DTYPES[_CODES[native]]).tobytes()
    path = os.fspath(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        if path.endswith(".gz"):  # the header names `path`, not the temporary file
            with gzip.GzipFile(filename=path, fileobj=raw, mode="wb", mtime=0) as f:
                f.write(payload)
        else:
            raw.write(payload)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise CorruptDataError(
            f"{path} is a damaged or truncated gzip file ({type(e).__name__}: {e}). "
            "Delete it and obtain the file again."
        ) from e
