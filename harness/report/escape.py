"""Text from a submission, made safe for each place it is shown: what is escaped where.

Every string a submission can influence (what it printed, its exception messages, its file name,
the values it computed, and the grader's messages and diagnoses that quote them) reaches a report
or the terminal through one of these:

* everywhere: valid Unicode (:func:`~harness.records.report.valid_text`: a byte that was not UTF-8
  shown as ``\\xff``), and no control character (:func:`visible`: ESC shown as ``\\x1b``, a newline
  in a one-line text as ``\\n``; also DEL, the C1 controls, the bidirectional overrides, the line
  and paragraph separators);
* the terminal (:func:`terminal`): one line, every control character shown;
* HTML (:func:`html_text`): escaped (``& < > " '``);
* Markdown: :func:`md_text` (one line; ``& < >`` as entities, so no raw HTML survives, the
  punctuation that makes links, emphasis, code, tables and headings backslash-escaped, and no
  block marker at its start), :func:`md_code` (a code span), :func:`md_fence` (a fenced block
  whose fence is longer than any run of backticks inside);
* JUnit XML (:func:`xml_text`): no character XML 1.0 forbids (ElementTree escapes the markup);
* CSV (:func:`csv_cell`): a cell a spreadsheet will not run as a formula (OWASP: a leading
  ``'`` before ``= + - @``, tab or carriage return).
"""

from __future__ import annotations

import html
import re

from harness.records.report import valid_text

# Control characters: C0, DEL and C1; the Arabic letter mark, LRM/RLM, the bidirectional
# embeddings, overrides and isolates (they reorder what a terminal shows); the line and paragraph
# separators; the byte-order mark; the two non-characters XML forbids.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: object, keep: str = "") -> str:
    """``text`` as valid Unicode with each control character (but those in ``keep``) shown as an
    escape: ``\\x1b``, ``\\n``, ``\\u202e``."""
    valid = valid_text(str(text))
    if not _CONTROL.search(valid):
        return valid
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _shown(m.group()), valid)


def _lines(text: object) -> str:
    """A block of text: lines kept (``\\r\\n`` as ``\\n``), tabs kept, every other control shown."""
    return visible(str(text).replace("\r\n", "\n"), keep="\n\t")


def terminal(text: object) -> str:
    """One line for the terminal: nothing in it moves the cursor, clears the screen, sets the
    window's title or starts a line of its own."""
    return visible(text)


def terminal_lines(text: object) -> str:
    """Lines for the terminal: its newlines kept, every other control character shown."""
    return visible(text, keep="\n")


def html_text(text: object, *, lines: bool = False) -> str:
    """Text in HTML, element or attribute: escaped; one line (``lines``: its lines kept, for ``<pre>``)."""
    return html.escape(_lines(text) if lines else visible(text), quote=True)


def xml_text(text: object, *, lines: bool = False) -> str:
    """Text XML 1.0 can carry: one line (``lines``: its lines kept); ElementTree escapes the markup."""
    return _lines(text) if lines else visible(text)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: object) -> str:
    """A text cell of one line that a spreadsheet will not run as a formula: a leading ``'`` where
    it starts (spaces aside) with ``= + - @``, a tab or a carriage return."""
    raw = str(text)
    cell = visible(raw)
    risky = any(t[:1] in _FORMULA or t.lstrip(" ")[:1] in _FORMULA for t in (raw, cell))
    return "'" + cell if risky else cell


# An underscore inside a word (``dE_dW2``) is no emphasis in CommonMark, and is left as it is.
_MD_PUNCTUATION = re.compile(r"([\\`*\[\]|~#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MD_ORDERED = re.compile(r"^(\d{1,9})([.)])(?= |$)")  # an ordered list's marker


def md_text(text: object) -> str:
    """Text in Markdown (a heading, a paragraph, a table cell, a list item), shown as it is.

    One line; ``& < >`` as entities (no raw HTML, no autolink); backslashes, backticks, ``* ~``,
    ``_`` but inside a word, brackets, ``|`` and ``#`` backslash-escaped (no code, emphasis, link, table cell or heading of
    its own); and nothing at its start that opens a block (a list, a heading underline, an
    indented code block).
    """
    out = visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_PUNCTUATION.sub(r"\\\1", out)
    stripped = out.lstrip(" ")
    out = "&#32;" * (len(out) - len(stripped)) + stripped  # leading spaces that indent nothing
    if out[:1] in ("+", "-", "="):
        return "\\" + out
    return _MD_ORDERED.sub(r"\1\\\2", out)


def md_code(text: object) -> str:
    """Text as a Markdown code span (not in a table cell): fenced by more backticks than it holds."""
    inner = visible(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", inner)), default=0) + 1)
    pad = " " if inner[:1] in ("`", " ") or inner[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{inner}{pad}{fence}"


def md_fence(text: object, info: str = "") -> list[str]:
    """Text as a fenced Markdown code block, its lines: the fence is longer than any run of
    backticks in the text, so nothing in it closes the block early."""
    body = _lines(text)
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, body, fence]
