"""The done records --restart reuses: one journal line per finished job."""

from __future__ import annotations

import json

from cwl_runner.jobstore import LocalJobStore
from cwl_runner.reuse import JOURNAL, done_key, load_done, record_done


def test_records_are_journal_lines_and_read_back(tmp_path):
    store = LocalJobStore(str(tmp_path / "s"))
    record_done(store, "k1", {"out": {"class": "File", "location": "file:///x"}})
    record_done(store, "k2", {"n": 1})
    store.close()
    assert not list((tmp_path / "s" / "done").glob("*.json"))  # no file per job
    assert len((tmp_path / "s" / JOURNAL).read_bytes().splitlines()) == 2
    done = load_done(LocalJobStore(str(tmp_path / "s"), create=False))
    assert {k: json.loads(v) for k, v in done.items()} == {
        "k1": {"out": {"class": "File", "location": "file:///x"}},
        "k2": {"n": 1},
    }


def test_a_record_cut_short_by_a_kill_is_skipped_and_the_next_attempt_appends_cleanly(tmp_path):
    store = LocalJobStore(str(tmp_path / "s"))
    record_done(store, "k1", {"n": 1})
    store.close()
    with open(tmp_path / "s" / JOURNAL, "ab") as journal:  # a leader killed mid-write
        journal.write(b'{"key":"k2","outputs":{"n"')
    restarted = LocalJobStore(str(tmp_path / "s"), create=False)
    assert set(load_done(restarted)) == {"k1"}
    record_done(restarted, "k3", {"n": 3})
    restarted.close()
    assert {k: json.loads(v) for k, v in load_done(restarted).items()} == {"k1": {"n": 1}, "k3": {"n": 3}}


class _NoAppend(LocalJobStore):
    def append(self, key: str, data: bytes) -> None:
        raise NotImplementedError


def test_stores_that_cannot_append_get_one_key_per_record(tmp_path):
    store = _NoAppend(str(tmp_path / "s"))
    record_done(store, "k1", {"n": 1})
    record_done(store, "k2", {"n": 2})
    assert json.loads(store.get(done_key("k2"))) == {"n": 2}
    assert {k: json.loads(v) for k, v in load_done(store).items()} == {"k1": {"n": 1}, "k2": {"n": 2}}


def test_placeholders_replace_as_one_regex_pass_would():
    import random
    import re

    from cwl_runner.reuse import placeholders

    rng = random.Random(3)
    for _ in range(300):
        alphabet = "ab/"
        # half the time the paths share a start, as a job's directories do (the job store's)
        shared = rng.choice(["", "/s/w/"])
        names = {shared + "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 5))): f"<{i}>" for i in range(4)}
        pattern = re.compile("|".join(re.escape(p) for p in sorted(names, key=len, reverse=True)))
        replace = placeholders(names)
        for _ in range(20):
            value = "".join(rng.choice([*alphabet, "c", "/s/w/"]) for _ in range(rng.randint(0, 30)))
            assert replace(value) == pattern.sub(lambda m, n=names: n[m.group(0)], value), (names, value)


def test_the_common_prefix_is_os_path_commonprefix():
    import os
    import random

    from cwl_runner.reuse import common_prefix

    rng = random.Random(5)
    for _ in range(2000):
        texts = ["".join(rng.choice("ab/") for _ in range(rng.randint(0, 8))) for _ in range(rng.randint(1, 5))]
        assert common_prefix(texts) == os.path.commonprefix(texts), texts
