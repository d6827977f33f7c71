"""The local job store and zero-copy staging."""

from __future__ import annotations

import os

import pytest

from cwl_runner.errors import ConfigurationError, JobStoreError
from cwl_runner.jobstore import LocalJobStore, open_jobstore
from cwl_runner.pathmapper import link_or_copy


def test_put_get_exists_list_delete(tmp_path):
    store = LocalJobStore(str(tmp_path / "s"))
    store.put("jobs/1.json", b"one")
    store.put("jobs/2.json", b"two")
    store.put("results/1.json", b"r")
    assert store.get("jobs/1.json") == b"one"
    assert store.exists("jobs/2.json") and not store.exists("jobs/3.json")
    assert sorted(store.list("jobs/")) == ["jobs/1.json", "jobs/2.json"]
    store.delete("jobs/1.json")
    assert not store.exists("jobs/1.json")
    with pytest.raises(KeyError):
        store.get("jobs/1.json")
    store.delete("jobs")
    assert list(store.list("jobs/")) == []
    assert store.url("results/1.json") == (tmp_path / "s/results/1.json").as_uri()


def test_put_replaces_atomically(tmp_path):
    store = LocalJobStore(str(tmp_path / "s"))
    store.put("state.json", b"a" * 1000)
    store.put("state.json", b"b")
    assert store.get("state.json") == b"b"
    assert [n for n in os.listdir(tmp_path / "s") if n.startswith(".tmp-")] == []


def test_keys_cannot_escape(tmp_path):
    store = LocalJobStore(str(tmp_path / "s"))
    with pytest.raises(JobStoreError):
        store.put("../outside", b"x")


def test_import_is_zero_copy(tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(1 << 20))
    store = LocalJobStore(str(tmp_path / "s"))
    store.import_file(str(source), "inputs/big.bin")
    assert os.stat(store.local_path("inputs/big.bin")).st_ino == source.stat().st_ino


def test_link_or_copy_directory_is_symlinked(tmp_path):
    (tmp_path / "d").mkdir()
    assert link_or_copy(str(tmp_path / "d"), str(tmp_path / "e")) == "symlink"
    assert os.path.islink(tmp_path / "e")


def test_open_jobstore(tmp_path):
    store = open_jobstore(str(tmp_path / "x"))
    assert isinstance(store, LocalJobStore)
    assert isinstance(open_jobstore(f"file://{tmp_path}/y"), LocalJobStore)
    with pytest.raises(ConfigurationError, match="gs://"):
        open_jobstore("gs://bucket/prefix")
    with pytest.raises(JobStoreError):
        open_jobstore(str(tmp_path / "missing"), create=False)
