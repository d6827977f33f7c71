"""Check that the relative links of Markdown files point at files that exist.

    python scripts/check_links.py README.md docs

``mkdocs build --strict`` checks the links between the guide's pages (and to their
headings); this checks what MkDocs does not see: the README, and links from the guide
to files outside it. External (http, https, mailto) links are not checked: the
machines this runs on reach no web site.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# [text](target) and [text](target "title"), not images' data URIs; code spans and blocks are skipped
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def links(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        found.extend((number, target) for target in _LINK.findall(line))
    return found


def check(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # external, or an anchor on the same page (mkdocs checks those in docs/)
        file_part = target.split("#", 1)[0]
        resolved = (path.parent / file_part).resolve()
        if not resolved.exists():
            problems.append(f"{path}:{number}: link to a missing file: {target}")
    return problems


def main(argv: list[str]) -> int:
    files: list[Path] = []
    for arg in argv[1:]:
        path = Path(arg)
        files.extend(sorted(path.rglob("*.md")) if path.is_dir() else [path])
    problems = [problem for path in files for problem in check(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} broken link(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
