"""Fetch MNIST or CIFAR-10's official files into a data folder, keeping only bytes whose checksum matches.

    python -m datasets.formats.download mnist --data-dir ~/data/mnist
    python -m datasets.formats.download cifar10 --data-dir ~/data/cifar10

Each file is fetched whole into memory, its MD5 compared with the published value, and only then
written, to a temporary name in the same folder that is renamed into place: a failed or doctored
download leaves nothing behind, and a reader never sees half a file. A file already present with the
right checksum is kept without fetching. The loaders (idx.load_mnist, cifar10.load_cifar10) read the
downloaded files as they are: MNIST's .gz files and CIFAR-10's tarball need no unpacking.

The checksums are MD5 because MD5 is what is published for these files. MD5 is no longer collision
resistant, so it guards against corruption and wrong files, not a determined forger; the readers do
not trust the bytes either (the CIFAR-10 reader runs no pickle, the IDX reader checks every size).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from datasets.errors import DatasetError

__all__ = ["SOURCES", "Source", "default_fetch", "download", "fetch_verified", "main", "md5_hex"]

# No published file is near this size (CIFAR-10's tarball is about 170 MB); a larger answer is refused.
MAX_DOWNLOAD_BYTES = 256 << 20
TIMEOUT_SECONDS = 60
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One published file: its name, its published MD5 and the URLs serving it, tried in order."""

    filename: str
    md5: str
    urls: tuple[str, ...]


def _mnist(filename: str, md5: str) -> Source:
    # The dataset's home page first; PyTorch's mirror second, as the home page often refuses downloads.
    return Source(filename, md5, (f"http://yann.lecun.com/exdb/mnist/{filename}",
                                  f"https://ossci-datasets.s3.amazonaws.com/mnist/{filename}"))


# The MNIST home page publishes no checksums; these MD5s are the ones torchvision's MNIST loader has
# verified these four files against for years. CIFAR-10's is printed on its home page.
SOURCES = {
    "mnist": (
        _mnist("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        _mnist("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        _mnist("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        _mnist("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
    "cifar10": (
        Source("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
               ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)),
    ),
}


def md5_hex(data: bytes) -> str:
    """The MD5 digest of data as 32 hex digits (for integrity checks, not security)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _md5_of_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_fetch(url: str, timeout: float = TIMEOUT_SECONDS, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
    """GET url with urllib and a timeout; refuse an answer larger than limit bytes.

    Raises:
        OSError: network failure, HTTP error status or timeout (download() then tries the next URL).
        DatasetError: the answer is larger than limit.
    """
    parts, size = [], 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            size += len(chunk)
            if size > limit:
                raise DatasetError(f"{url}: answer larger than {limit} bytes; not the expected file")
            parts.append(chunk)
    return b"".join(parts)


def download(name: str, data_dir, fetch=None, log=None) -> list[Path]:
    """Make sure data_dir holds the official files of dataset `name`, each with its published checksum.

    Args:
        name (str): "mnist" or "cifar10".
        data_dir (str or Path): the folder to fill (created if missing).
        fetch (callable url -> bytes, optional): how to get a URL; default_fetch unless given (tests
            pass a fake; an OSError from it means "try the next URL").
        log (callable str -> None, optional): told what happened to each file.

    Returns:
        list of Path: the files, in the order of SOURCES[name].

    Raises:
        DatasetError: unknown name; a fetched file whose checksum differs (URL, file and both digests
            named; nothing written); every URL of a file failing.

    Example:
        >>> download("cifar10", "~/data/cifar10")  # doctest: +SKIP
        [PosixPath('/home/me/data/cifar10/cifar-10-python.tar.gz')]
    """
    if name not in SOURCES:
        raise DatasetError(f"download: dataset must be one of {', '.join(SOURCES)}, got {name!r}")
    folder = Path(data_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return [fetch_verified(source, folder, fetch or default_fetch, log or (lambda message: None))
            for source in SOURCES[name]]


def fetch_verified(source: Source, folder: Path, fetch, log) -> Path:
    """One file: kept if already right, else fetched, checked, and written atomically."""
    target = folder / source.filename
    if target.is_file():
        present = _md5_of_file(target)
        if present == source.md5:
            log(f"ok          {target} (md5 {present})")
            return target
        log(f"replacing   {target}: md5 {present}, published {source.md5}")
    failures = []
    for url in source.urls:
        try:
            data = fetch(url)
        except OSError as err:
            failures.append(f"{url}: {type(err).__name__}: {err}")
            continue
        _check_digest(data, source, url, target)
        _write_atomically(target, data)
        log(f"downloaded  {target} from {url} (md5 {source.md5})")
        return target
    raise DatasetError(f"{target}: could not fetch {source.filename}: " + "; ".join(failures))


def _check_digest(data, source: Source, url: str, target: Path) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise DatasetError(f"{url}: fetch returned {type(data).__name__}, expected bytes; nothing written")
    got = md5_hex(bytes(data))
    if got != source.md5:
        raise DatasetError(f"{url}: checksum mismatch for {source.filename}: published md5 {source.md5}, "
                           f"got md5 {got} ({len(data)} bytes); nothing written to {target}")


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file beside target, flush it to disk, then rename it over target."""
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def main(argv=None) -> int:
    """Command line: `python -m datasets.formats.download {mnist,cifar10} --data-dir DIR`; 0 on success."""
    parser = argparse.ArgumentParser(prog="python -m datasets.formats.download",
                                     description="Fetch a dataset's official files and check their checksums.")
    parser.add_argument("name", choices=sorted(SOURCES), help="which dataset")
    parser.add_argument("--data-dir", required=True, type=Path, help="folder to put the files in")
    args = parser.parse_args(argv)
    try:
        download(args.name, args.data_dir, log=print)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
