"""Remote data: s3:// objects (boto3) and http(s):// files (requests).

Everything that moves bytes between this machine and an object store or a web
server goes through here, so errors read the same everywhere: one line naming
the URL (:class:`RemoteError`), never a botocore traceback.

The S3 endpoint comes from boto3's own settings (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_S3``, profiles, the credentials chain); ``--s3-endpoint``
sets ``AWS_ENDPOINT_URL_S3`` for the leader and everything it starts. Large
files use boto3's managed transfers (multipart, concurrent parts, streamed);
nothing is read whole into memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from .errors import RunnerError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client  # pragma: no cover

REMOTE_SCHEMES = ("s3", "http", "https")
CHUNK = 8 * 2**20


class RemoteError(RunnerError):
    """A remote object could not be read or written."""


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def is_remote(url: str) -> bool:
    return scheme(url) in REMOTE_SCHEMES


def split_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise RemoteError(f"{url}: not an s3://bucket/key URL")
    return parsed.netloc, urllib.parse.unquote(parsed.path.lstrip("/"))


def s3_url(bucket: str, key: str) -> str:
    """The URL of an object: keys are raw, URLs percent-encoded (as cwltool's locations)."""
    return f"s3://{bucket}/{urllib.parse.quote(key)}"


# -- S3 ---------------------------------------------------------------------------
_lock = threading.Lock()
_clients: dict[str, Any] = {}


def s3_client() -> S3Client:
    """One boto3 S3 client per process (they are thread-safe), retrying throttling,
    5xx and connection errors with backoff (botocore's 'standard' mode)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    client = _clients.get(endpoint)
    if client is None:
        with _lock:
            client = _clients.get(endpoint)
            if client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"mode": "standard", "max_attempts": int(os.environ.get("RUNNER_CWL_S3_RETRIES", "8"))},
                    connect_timeout=10,
                    read_timeout=60,
                    max_pool_connections=32,
                    s3={"addressing_style": "path"} if endpoint else None,
                )
                try:
                    client = boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=config)
                except Exception as err:  # a bad setting (endpoint, CA bundle, profile...)
                    raise RemoteError(f"S3 settings: {err}") from None
                _clients[endpoint] = client
    return client  # type: ignore[no-any-return]


def transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=64 * 2**20,
        multipart_chunksize=64 * 2**20,
        max_concurrency=8,
        use_threads=True,
    )


def s3_error(err: BaseException, url: str) -> RemoteError:
    """A one-line message for what went wrong with ``url``."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(err, RemoteError):
        return err
    if isinstance(err, NoCredentialsError):
        return RemoteError(f"{url}: no S3 credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)")
    if isinstance(err, EndpointConnectionError):
        return RemoteError(f"{url}: the S3 endpoint does not answer ({err.kwargs.get('endpoint_url', '')})")
    if isinstance(err, ReadTimeoutError):
        return RemoteError(f"{url}: the S3 endpoint timed out")
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return RemoteError(f"{url}: no such bucket")
        if code in ("NoSuchKey", "404", "NotFound"):
            return RemoteError(f"{url}: no such object")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return RemoteError(f"{url}: access denied ({code})")
        if isinstance(status, int) and status >= 500 or code in ("SlowDown", "Throttling", "RequestLimitExceeded"):
            return RemoteError(f"{url}: the S3 service kept failing ({code or status}), even after retries")
        return RemoteError(f"{url}: S3 error {code or status}")
    return RemoteError(f"{url}: {type(err).__name__}: {err}")


def _not_found(err: BaseException) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(err, ClientError):
        return False
    return str(err.response.get("Error", {}).get("Code", "")) in ("NoSuchKey", "404", "NotFound")


def s3_head(url: str) -> dict[str, Any] | None:
    """The object's metadata, or None when there is no such object."""
    bucket, key = split_s3(url)
    try:
        return s3_client().head_object(Bucket=bucket, Key=key)  # type: ignore[return-value]
    except Exception as err:
        if _not_found(err):
            return None
        raise s3_error(err, url) from None


def s3_list(url: str, delimiter: str | None = None) -> Iterator[tuple[str, int]]:
    """(key, size) of the objects under the prefix of ``url``; with a delimiter,
    also the common prefixes (size -1)."""
    bucket, prefix = split_s3(url)
    paginator = s3_client().get_paginator("list_objects_v2")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    try:
        for page in paginator.paginate(**kwargs):
            for common in page.get("CommonPrefixes", []):
                yield common["Prefix"], -1
            for item in page.get("Contents", []):
                yield item["Key"], int(item["Size"])
    except Exception as err:
        raise s3_error(err, url) from None


def s3_is_dir(url: str) -> bool:
    prefix = url.rstrip("/") + "/"
    return next(iter(s3_list(prefix)), None) is not None


def s3_put(url: str, data: bytes) -> None:
    bucket, key = split_s3(url)
    try:
        s3_client().put_object(Bucket=bucket, Key=key, Body=data)
    except Exception as err:
        raise s3_error(err, url) from None


def s3_get(url: str) -> bytes:
    """The object's bytes (small objects only); KeyError when there is none."""
    bucket, key = split_s3(url)
    try:
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
    except Exception as err:
        if _not_found(err):
            raise KeyError(url) from None
        raise s3_error(err, url) from None


def s3_open(url: str) -> IO[bytes]:
    """A streaming reader of the object."""
    bucket, key = split_s3(url)
    try:
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[return-value]
    except Exception as err:
        raise s3_error(err, url) from None


def s3_delete_prefix(url: str) -> None:
    bucket, _prefix = split_s3(url)
    keys = [key for key, _size in s3_list(url)]
    client = s3_client()
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        try:
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
        except Exception as err:
            raise s3_error(err, url) from None


def upload_file(path: str, url: str) -> None:
    bucket, key = split_s3(url)
    try:
        s3_client().upload_file(path, bucket, key, Config=transfer_config())
    except Exception as err:
        raise s3_error(err, url) from None


def upload_tree(directory: str, url: str) -> int:
    """Upload every file under ``directory`` (following links) to the prefix ``url``;
    an empty directory is kept as a ``name/`` marker object. Returns the file count."""
    base = url.rstrip("/") + "/"
    count = 0
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        rel = os.path.relpath(dirpath, directory)
        prefix = base if rel == "." else base + urllib.parse.quote(rel.replace(os.sep, "/")) + "/"
        if not dirnames and not filenames and rel != ".":
            s3_put(prefix, b"")
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.exists(path):  # a dangling link: nothing to upload
                continue
            upload_file(path, prefix + urllib.parse.quote(name))
            count += 1
    return count


def copy_object(source: str, target: str) -> None:
    """Server-side copy (managed: multipart for large objects)."""
    sbucket, skey = split_s3(source)
    tbucket, tkey = split_s3(target)
    try:
        s3_client().copy({"Bucket": sbucket, "Key": skey}, tbucket, tkey, Config=transfer_config())
    except Exception as err:
        raise s3_error(err, source) from None


# -- http(s) ----------------------------------------------------------------------
_session_local = threading.local()


def http_session() -> Any:
    """A requests session (per thread) that retries connection errors and 5xx."""
    session = getattr(_session_local, "session", None)
    if session is None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        session = requests.Session()
        retry = Retry(total=5, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        _session_local.session = session
    return session


def _http(url: str, method: str = "GET", stream: bool = True) -> Any:
    import requests

    try:
        response = http_session().request(method, url, stream=stream, timeout=(10, 60), allow_redirects=True)
    except requests.exceptions.RetryError:
        raise RemoteError(f"{url}: the server kept failing (retried)") from None
    except requests.exceptions.Timeout:
        raise RemoteError(f"{url}: timed out") from None
    except requests.exceptions.ConnectionError:
        raise RemoteError(f"{url}: cannot connect") from None
    except requests.exceptions.RequestException as err:
        raise RemoteError(f"{url}: {err}") from None
    if response.status_code >= 400:
        response.close()
        what = {403: "forbidden", 404: "not found", 401: "unauthorized"}.get(response.status_code, "error")
        raise RemoteError(f"{url}: HTTP {response.status_code} ({what})")
    return response


def http_exists(url: str) -> bool:
    try:
        _http(url, "HEAD", stream=False).close()
        return True
    except RemoteError:
        return False


def http_size(url: str) -> int:
    response = _http(url, "HEAD", stream=False)
    response.close()
    return int(response.headers.get("Content-Length", 0))


def http_open(url: str) -> IO[bytes]:
    response = _http(url)
    response.raw.decode_content = True
    return response.raw  # type: ignore[no-any-return]


# -- any scheme --------------------------------------------------------------------
def check(url: str) -> None:
    """Raise RemoteError saying why ``url`` cannot be read (no such object, HTTP 404...)."""
    if scheme(url) == "s3":
        if s3_head(url) is None and not s3_is_dir(url):
            raise RemoteError(f"{url}: no such object")
        return
    try:
        _http(url, "HEAD", stream=False).close()
    except RemoteError as err:
        if "HTTP 405" not in str(err):  # HEAD not allowed: try a GET
            raise
        _http(url).close()


def exists(url: str) -> bool:
    if scheme(url) == "s3":
        return s3_head(url) is not None or s3_is_dir(url)
    return http_exists(url)


def open_url(url: str) -> IO[bytes]:
    if scheme(url) == "s3":
        return s3_open(url)
    return http_open(url)


def fetch(url: str, path: str, directory: bool = False) -> str:
    """Download ``url`` to ``path`` (atomically: readers never see half a file;
    an existing ``path`` is kept, since what we fetch is never rewritten).
    With ``directory``, everything under the s3 prefix. Returns ``path``."""
    if os.path.exists(path):
        return path
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    if directory:
        if scheme(url) != "s3":
            raise RemoteError(f"{url}: only s3:// Directories can be fetched")
        tmp = tempfile.mkdtemp(dir=parent, prefix=".fetch-")
        prefix = url.rstrip("/") + "/"
        bucket, base = split_s3(prefix)
        for key, _size in s3_list(prefix):
            rel = key[len(base) :]
            if not rel:
                continue
            target = os.path.join(tmp, *rel.split("/"))
            if rel.endswith("/"):
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            _download_s3(s3_url(bucket, key), target)
        try:
            os.rename(tmp, path)
        except OSError:  # fetched meanwhile by another job
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        return path
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".fetch-")
    os.close(fd)
    try:
        if scheme(url) == "s3":
            _download_s3(url, tmp)
        else:
            with _http(url) as response, open(tmp, "wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _download_s3(url: str, path: str) -> None:
    bucket, key = split_s3(url)
    try:
        s3_client().download_file(bucket, key, path, Config=transfer_config())
    except Exception as err:
        raise s3_error(err, url) from None


def cache_name(url: str) -> str:
    """A cache folder name for ``url``: stable, short, and safe."""
    return hashlib.sha1(url.encode()).hexdigest()[:20]
