"""Download artefacts into the cache: resumable, checksummed, atomic, licence first.

A download streams into `<file>.part` beside its destination. An interrupted transfer leaves
the `.part` file so the next call resumes it with an HTTP Range request; a checksum or size
mismatch deletes it. Only a verified file is renamed (atomically) to its final name, so the
cache never holds a half-written or unverified file under a real name. Uses urllib only.
Nothing calls this implicitly: it runs from `mfmjt fetch` or an explicit call.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from mfmjt_core import __version__
from mfmjt_core.errors import MfmjtError, WeightsError
from mfmjt_core.weights.cache import find, path_of, require_artifact, verify_file
from mfmjt_core.weights.registry import DEFAULT_REGISTRY, Artifact, License, Registry

# (artefact name, bytes on disk so far, total bytes or None when the server does not say)
ProgressCallback = Callable[[str, int, int | None], None]
# Receives the licence notice; returns True to accept.
LicenseAcceptor = Callable[[str], bool]


class DownloadError(MfmjtError):
    """The server or the connection failed; a partial file is kept for resuming."""

    code = "download_failed"


class LicenseNotAcceptedError(MfmjtError):
    """A licence was shown but not accepted, so nothing was downloaded."""

    code = "license_not_accepted"


def license_notice(artifacts: Sequence[Artifact]) -> str:
    """A readable notice of the licences that cover `artifacts`."""
    by_license: dict[License, list[Artifact]] = {}
    for a in artifacts:
        by_license.setdefault(a.license, []).append(a)
    parts = []
    for lic, arts in by_license.items():
        files = ", ".join(a.filename for a in arts)
        parts.append(f"{lic.name} ({lic.url})\n  {lic.summary}\n  files: {files}")
    return "These files are covered by:\n" + "\n".join(parts)


def _check_license(artifacts: Sequence[Artifact], accept: bool | LicenseAcceptor) -> None:
    needing = [a for a in artifacts if a.license.needs_acceptance]
    if not needing:
        return
    notice = license_notice(artifacts)
    accepted = accept(notice) if callable(accept) else bool(accept)
    if not accepted:
        raise LicenseNotAcceptedError(
            f"{notice}\nLicence not accepted: nothing was downloaded. Read the licence, then "
            "pass --accept-license (accept_license=True from Python) to accept it."
        )


def fetch_artifacts(
    artifacts: Sequence[Artifact],
    *,
    accept_license: bool | LicenseAcceptor = False,
    cache: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 60.0,
    verify: bool = False,
) -> list[Path]:
    """Make every artefact present in the cache; returns their paths in order.

    Files already there are skipped (no licence question for them); `verify` re-checks their
    checksums. Licences of the rest are shown through `accept_license` (a bool, or a callable
    given the notice) before any request is made.
    """
    if verify:
        for a in artifacts:
            if find(a, cache) is not None:
                verify_cached(a, cache)
    todo = [a for a in artifacts if find(a, cache) is None]
    if todo:
        _check_license(todo, accept_license)
    for a in todo:
        download(a, cache=cache, progress=progress, timeout=timeout)
    return [find(a, cache) for a in artifacts]


def fetch_bundle(
    name: str,
    *,
    accept_license: bool | LicenseAcceptor = False,
    cache: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    registry: Registry = DEFAULT_REGISTRY,
    timeout: float = 60.0,
    verify: bool = False,
) -> list[Path]:
    """Fetch a bundle (or a single artefact) by name; see `fetch_artifacts`."""
    return fetch_artifacts(
        registry.resolve(name), accept_license=accept_license, cache=cache,
        progress=progress, timeout=timeout, verify=verify,
    )


class _Hashers:
    def __init__(self, artifact: Artifact):
        self.expected = {
            algo: getattr(artifact, algo).lower()
            for algo in ("sha256", "md5")
            if getattr(artifact, algo)
        }
        self.hashers = {algo: hashlib.new(algo) for algo in self.expected}

    def update(self, data: bytes) -> None:
        for h in self.hashers.values():
            h.update(data)

    def mismatch(self) -> str | None:
        for algo, h in self.hashers.items():
            if h.hexdigest() != self.expected[algo]:
                return f"{algo} {h.hexdigest()} does not match the published {self.expected[algo]}"
        return None


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": f"mfmjt/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            return exc  # range past the end: the caller restarts from zero
        exc.close()
        raise DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot connect ({reason})") from None


def _response_start(response, offset: int) -> int | None:
    """Byte offset the response body starts at, or None if it cannot be used for resuming."""
    if response.status == 200:
        return 0
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
        try:
            start = int(content_range.split()[1].split("-")[0])
        except (IndexError, ValueError):
            return None
        return start if start == offset else None
    return None


def _total_size(response, start: int) -> int | None:
    length = response.headers.get("Content-Length")
    return None if length is None else start + int(length)


def download(
    artifact: Artifact,
    *,
    cache: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
) -> Path:
    """Download one artefact into the cache (no licence check: see `fetch_artifacts`)."""
    target = path_of(artifact, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if artifact.size is not None and offset > artifact.size:
        part.unlink()
        offset = 0

    response = _open(artifact.url, offset, timeout)
    is_416 = isinstance(response, urllib.error.HTTPError)
    start = None if is_416 else _response_start(response, offset)
    if start is None:  # the server cannot continue this .part: start over
        response.close()
        part.unlink(missing_ok=True)
        offset = 0
        response = _open(artifact.url, 0, timeout)
        start = _response_start(response, 0)
        if start is None:
            response.close()
            raise DownloadError(f"{artifact.url}: unexpected HTTP {response.status}")
    total = _total_size(response, start) or artifact.size

    hashers = _Hashers(artifact)
    with response, open(part, "r+b" if start else "wb") as out:
        if start:  # hash what is already there, then append
            while chunk := out.read(chunk_size):
                hashers.update(chunk)
            out.truncate(start)
        done = start
        if progress:
            progress(artifact.name, done, total)
        try:
            while chunk := response.read(chunk_size):
                out.write(chunk)
                hashers.update(chunk)
                done += len(chunk)
                if progress:
                    progress(artifact.name, done, total)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(
                f"{artifact.url}: transfer interrupted at {done} bytes ({exc}); run the same "
                "command again to resume"
            ) from None
        out.flush()
        os.fsync(out.fileno())

    if total is not None and done < total:
        raise DownloadError(
            f"{artifact.url}: transfer stopped at {done} of {total} bytes; run the same command "
            "again to resume"
        )
    problem = hashers.mismatch()
    if problem is None and artifact.size is not None and done != artifact.size:
        problem = f"size {done} bytes, expected {artifact.size}"
    if problem is not None:
        part.unlink(missing_ok=True)
        raise WeightsError(f"{artifact.filename} from {artifact.url}: {problem}; nothing was kept")
    os.replace(part, target)
    return target


def verify_cached(artifact: Artifact, cache: str | os.PathLike | None = None) -> Path:
    """Check a file already present against its published checksum (WeightsError if not)."""
    path = require_artifact(artifact, cache)
    verify_file(artifact, path)
    return path


__all__ = [
    "DownloadError",
    "LicenseNotAcceptedError",
    "download",
    "fetch_artifacts",
    "fetch_bundle",
    "license_notice",
    "verify_cached",
]
