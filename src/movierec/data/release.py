"""Fetch a dataset archive (network or local mirror), verify its SHA-256, extract it atomically.

A ``synthetic://`` URL instead generates the data set (:mod:`movierec.data.synthetic`) in the same layout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from movierec.atomic import atomic_dir, atomic_path

log = logging.getLogger(__name__)

MIRROR_ENV = "MOVIEREC_DATA_MIRROR"
SYNTHETIC_SCHEME = "synthetic://"


class DatasetError(RuntimeError):
    """A dataset could not be fetched, verified or read; the message says how to fix it."""


def archive_name(url: str) -> str:
    name = Path(urlparse(url).path).name
    if not name.endswith(".zip"):
        raise DatasetError(f"dataset URL {url!r} does not name a .zip archive")
    return name


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fetch_archive(url: str, dest: Path, mirror: str | os.PathLike | None = None, timeout: float = 60.0) -> str:
    """Copy the archive named by `url` to `dest` (atomically) from `mirror` or the network.

    Returns a human-readable description of the source.
    """
    name = archive_name(url)
    if mirror:
        source = Path(mirror) / name
        if not source.is_file():
            raise DatasetError(
                f"mirror file {source} not found ({MIRROR_ENV}={mirror}); put {name} there "
                f"or unset {MIRROR_ENV} to download from {url}"
            )
        log.info("copying %s (%s) from the mirror", name, _megabytes(source.stat().st_size))
        with atomic_path(dest) as tmp:
            shutil.copyfile(source, tmp)
        return str(source)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(dest) as tmp:
            total = int(response.headers.get("Content-Length") or 0) or None
            log.info("downloading %s (%s)", url, _megabytes(total) if total else "size unknown")
            with open(tmp, "wb") as out:
                copy_with_progress(response, out, total, name)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DatasetError(
            f"could not download {url}: {exc}. Offline? Set {MIRROR_ENV}=<folder holding {name}>"
        ) from exc
    return url


def _megabytes(n: int | None) -> str:
    return f"{(n or 0) / 1e6:.1f} MB"


def copy_with_progress(src, dst, total: int | None, label: str, chunk: int = 1 << 20,
                       every_fraction: float = 0.1, every_bytes: int = 50_000_000) -> int:
    """Copy `src` to `dst` in `chunk`-byte reads, logging progress at INFO: every `every_fraction`
    of `total` when the size is known, else every `every_bytes`; returns the bytes copied."""
    done, next_report = 0, (total * every_fraction if total else every_bytes)
    while block := src.read(chunk):
        dst.write(block)
        done += len(block)
        if done >= next_report:
            if total:
                log.info("%s: %s of %s (%d%%)", label, _megabytes(done), _megabytes(total), 100 * done // total)
                next_report += total * every_fraction
            else:
                log.info("%s: %s", label, _megabytes(done))
                next_report += every_bytes
    return done


def verify_checksum(path: Path, expected: str | None) -> str:
    """Check the archive's SHA-256 against `expected`; with none expected, log what was seen."""
    log.info("checking the sha256 of %s (%s)", path.name, _megabytes(path.stat().st_size))
    actual = sha256_of(path)
    if expected is None:
        log.warning("no sha256 configured for %s; saw sha256=%s (add it to conf/data/)", path.name, actual)
    elif actual.lower() != expected.lower():
        raise DatasetError(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
            "The file is corrupt, truncated or a different release: delete it and fetch it again."
        )
    return actual


def extract_dataset(archive: Path, target: Path, folder: str) -> None:
    """Extract `folder/` from `archive` into `target` (= the folder's contents), atomically."""
    try:
        with zipfile.ZipFile(archive) as zf:
            log.info("checking the archive's CRCs")
            bad = zf.testzip()
            if bad is not None:
                raise DatasetError(f"archive {archive} is corrupt (bad CRC in {bad}); fetch it again")
            members = [m for m in zf.namelist() if m.startswith(f"{folder}/")]
            if not members:
                raise DatasetError(f"archive {archive} has no folder {folder}/")
            files = [m for m in members if not m.endswith("/")]
            log.info("extracting %d files of %s/ (%s)", len(files), folder,
                     _megabytes(sum(zf.getinfo(m).file_size for m in files)))
            extracted = 0
            with atomic_dir(target) as tmp:
                for member in members:
                    relative = Path(member).relative_to(folder)
                    if ".." in relative.parts:
                        raise DatasetError(f"archive {archive} has an unsafe path {member!r}")
                    destination = tmp / relative
                    if member.endswith("/"):
                        destination.mkdir(parents=True, exist_ok=True)
                        continue
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(member) as src, open(destination, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    extracted += 1
                    log.info("extracted %d/%d %s (%s)", extracted, len(files), relative,
                             _megabytes(zf.getinfo(member).file_size))
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"archive {archive} is not a valid zip ({exc}): truncated? fetch it again") from exc


def download_dataset(name: str, url: str, sha256: str | None, raw_dir: Path,
                     mirror: str | os.PathLike | None = None) -> Path:
    """Fetch, verify and extract dataset `name` into `raw_dir/name`; return that folder.

    Nothing under `raw_dir/name` changes unless every step succeeds.
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    archive = raw_dir / f".{archive_name(url)}.download"
    try:
        source = fetch_archive(url, archive, mirror)
        digest = verify_checksum(archive, sha256)
        extract_dataset(archive, raw_dir / name, folder=name)
    except DatasetError as exc:
        if (raw_dir / name).is_dir():  # the stage's output is declared persist: DVC kept it too
            raise DatasetError(f"{exc} ({raw_dir / name} is kept as it was)") from exc
        raise
    finally:
        archive.unlink(missing_ok=True)
    log.info("dataset %s from %s (sha256 %s) extracted to %s", name, source, digest, raw_dir / name)
    return raw_dir / name


def is_synthetic(url: str) -> bool:
    return url.startswith(SYNTHETIC_SCHEME)


def generate_dataset(name: str, spec, raw_dir: Path) -> Path:
    """Generate the synthetic data set `spec` (a :class:`~movierec.data.synthetic.SyntheticSpec`)
    into `raw_dir/name` as ratings.csv/movies.csv; atomically, like an extracted archive."""
    from movierec.data.synthetic import generate_spec, write_release

    if spec is None:
        raise DatasetError(f"dataset {name!r} has a {SYNTHETIC_SCHEME} url but no `synthetic:` block "
                           "(see conf/data/synthetic.yaml)")
    ratings, movies = generate_spec(spec)
    with atomic_dir(raw_dir / name) as tmp:
        write_release(ratings, movies, tmp)
    log.info("dataset %s generated: %d users, %d movies, %d ratings (seed %d) in %s", name, spec.n_users,
             spec.n_movies, len(ratings), spec.seed, raw_dir / name)
    return raw_dir / name
