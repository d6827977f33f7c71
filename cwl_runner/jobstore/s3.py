"""A job store in an S3 bucket (AWS, MinIO, Ceph RGW, moto...): ``s3://bucket/prefix``.

Records and state are small objects written with single PUTs (atomic in S3).
Every file a job produces is uploaded under ``files/JOB_ID/`` by the worker that
ran it; jobs fetch their inputs from there into a local cache. Job directories
themselves are local scratch (``workdir``), removed once their outputs are in
the bucket.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from .. import remote
from ..errors import JobStoreError
from .base import JobStore


def scratch_root() -> str:
    return os.environ.get("RUNNER_CWL_SCRATCH") or os.path.join(tempfile.gettempdir(), "runner-cwl-scratch")


class S3JobStore(JobStore):
    remote_outputs = True

    def __init__(self, locator: str, create: bool = True) -> None:
        bucket, prefix = remote.split_s3(locator)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.locator = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        digest = hashlib.sha1(self.locator.encode()).hexdigest()[:16]
        self.scratch = os.path.join(scratch_root(), digest)
        client = remote.s3_client()
        try:
            client.head_bucket(Bucket=bucket)
        except Exception as err:
            problem = remote.s3_error(err, f"s3://{bucket}")
            if str(problem).endswith("no such object"):
                problem = remote.RemoteError(f"s3://{bucket}: no such bucket")
            raise JobStoreError(f"job store {self.locator}: {str(problem).split(': ', 1)[1]}") from None
        if not create and not self.exists("run.json"):
            raise JobStoreError(f"job store {self.locator} does not exist")

    def _url(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise JobStoreError(f"key {key!r} is outside the job store")
        return f"s3://{self.bucket}/{self.prefix}/{key}" if self.prefix else f"s3://{self.bucket}/{key}"

    def put(self, key: str, data: bytes) -> None:
        try:
            remote.s3_put(self._url(key), data)
        except remote.RemoteError as err:
            raise JobStoreError(f"job store {err}") from None

    def get(self, key: str) -> bytes:
        try:
            return remote.s3_get(self._url(key))
        except remote.RemoteError as err:
            raise JobStoreError(f"job store {err}") from None

    def exists(self, key: str) -> bool:
        return remote.s3_head(self._url(key)) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._url("")
        start = len(remote.split_s3(base)[1])
        for key, size in remote.s3_list(base + prefix):
            if size >= 0:
                yield key[start:]

    def delete(self, key: str) -> None:
        url = self._url(key)
        if remote.s3_head(url) is not None:
            bucket, name = remote.split_s3(url)
            remote.s3_client().delete_object(Bucket=bucket, Key=name)
        remote.s3_delete_prefix(url.rstrip("/") + "/")

    def url(self, key: str) -> str:
        return self._url(key)

    def local_path(self, key: str) -> str:
        """A local file beside the scratch space (the leader's lock lives here)."""
        path = os.path.join(self.scratch, *key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def import_file(self, source: str, key: str) -> str:
        url = self._url(key)
        remote.upload_file(source, url)
        return url

    def workdir(self, kind: str) -> str:
        path = os.path.join(self.scratch, "work", kind)
        os.makedirs(path, exist_ok=True)
        return path + os.sep

    def destroy(self) -> None:
        remote.s3_delete_prefix(self._url("").rstrip("/") + "/" if self.prefix else self._url(""))
        shutil.rmtree(self.scratch, ignore_errors=True)
