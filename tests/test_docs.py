"""The docs tooling: the CLI reference comes from the real parsers; broken links are caught.

(The full build, `mkdocs build --strict`, is its own step of scripts/test.sh.)
"""

from __future__ import annotations

import argparse
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import check_links  # noqa: E402
import cli_reference  # noqa: E402

from cwl_runner import cli, commands  # noqa: E402


def test_cli_reference_has_every_option_and_subcommand():
    page = cli_reference.render()
    ours = next(g for g in cli.build_parser()._action_groups if g.title == "runner-cwl")
    for action in ours._group_actions:
        for option in action.option_strings:
            assert f"`{option}" in page, option
    assert "`--provenance PROVENANCE`" in page  # and cwltool's
    sub = next(a for a in commands.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        assert f"### `runner-cwl {name}`" in page
    assert "runner-cwl's default: `continue`" in page  # --on-error: our default, not cwltool's


def test_link_checker_finds_missing_files(tmp_path):
    (tmp_path / "there.md").write_text("# there\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok too](there.md#there) [web](https://example.org/x.md) [anchor](#x)\n"
        "`[in code](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n"
        "[broken](nowhere.md) and [also](sub/missing.md#a)\n"
    )
    assert check_links.check(page) == [
        f"{page}:6: link to a missing file: nowhere.md",
        f"{page}:6: link to a missing file: sub/missing.md#a",
    ]
    assert check_links.main(["check_links", str(ROOT / "README.md")]) == 0
