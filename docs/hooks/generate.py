"""MkDocs hook: fills the generated parts of the reference pages at build time, from the
code itself, so the docs cannot drift from it.

- `<!-- garay:config-reference -->`: every config key with its type, default, allowed
  values and meaning (garay.config.reference, read from the schema dataclasses);
- `<!-- garay:help PROG -->`: what `PROG --help` prints (garay.help).
"""

from __future__ import annotations

import re

MARKER = re.compile(r"<!-- garay:(config-reference|help) ?([\w-]*) -->")


def _fill(match: re.Match) -> str:
    what, arg = match.group(1), match.group(2)
    if what == "config-reference":
        from garay.config.reference import markdown

        return markdown()
    from garay.help import help_text

    return "```text\n" + help_text(arg).rstrip() + "\n```"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - MkDocs' hook signature
    return MARKER.sub(_fill, markdown)
