"""Student text is data: one escaper per place it lands.

Everything a submission or its child produced (failure messages, notes, layer names and
types, student ids and file names, printed text) is shown through these, never pasted
into markup:

- `visible`: bidi controls and zero-width characters written out as `<U+202E>`, so an id
  or file name cannot reorder or hide what is shown next to it (every destination).
- `terminal`: ANSI escape sequences and control characters removed, then `visible`; for
  rich, `markup` (for a markup string) or `rich_text` (a Text, never parsed as markup).
- `md` (a line of Markdown, or a table cell) and `md_block` (a fenced block): inert
  Markdown, where the grader's own `code` spans stay code and everything else is literal
  text: no emphasis, link, image, raw HTML, heading or fence the text could open or close.
- `html`: HTML-escaped (quotes included, safe in attributes) after `visible`.
- `xml_chars`: what XML 1.0 cannot hold (control characters, an escape's ESC) dropped, for
  JUnit (ElementTree escapes markup but writes them, and the file then does not parse).
- `csv_cell`: a text cell that starts like a spreadsheet formula gets a leading `'`
  (OWASP's rule); numbers stay numbers.
"""
from __future__ import annotations

import html as _html
import re

from rich.markup import escape as _markup_escape
from rich.text import Text

# bidi embeddings, overrides and isolates, the marks, and the zero-width characters
INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# ECMA-48: CSI (ESC [ or 0x9b ... final byte), OSC/DCS/PM/APC/SOS strings (up to BEL or
# ST), and two-character escapes
ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
                  r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
                  r"|\x1b[ -/]*[0-~]?", re.DOTALL)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
# Markdown: what could start markup inside a line (CommonMark lets a backslash escape any
# ASCII punctuation): emphasis (an underscore inside a word cannot), code, a link or image
# (no `[`, no link), raw HTML and autolinks (`<`), a table cell, strikethrough, entities
MD_SPECIAL = re.compile(r"([\\`*\[<|#~&]|(?<![^\W_])_|_(?![^\W_]))")
# and what starts a block only at the beginning of a line: lists, setext underlines, quotes
MD_LINE_START = re.compile(r"^(\s*)(?:([-+=>])|(\d+)(?=[.)]))")
# a code span as CommonMark reads one: a backtick run, then the first run of the same length
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)


def visible(text) -> str:
    return INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", str(text))


def terminal(text) -> str:
    """No escape sequence reaches the terminal: it could move the cursor, recolour or
    overwrite lines above (a fake "Done"), or set the window title."""
    return visible(CONTROL.sub("", ANSI.sub("", str(text).replace("\r\n", "\n"))))


def markup(text) -> str:
    """For a rich markup string: `"[red]error[/] " + markup(message)`."""
    return _markup_escape(terminal(text))


def rich_text(text, style: str = "") -> Text:
    return Text(terminal(text), style=style)


def html(text) -> str:
    return _html.escape(terminal(text))


def xml_chars(text) -> str:
    return visible(NOT_XML.sub("", str(text)))


def csv_cell(value):
    """Spreadsheets run a cell that starts with = + - @, tab or CR as a formula
    (=HYPERLINK(...) leaks, DDE runs commands): such text gets a leading '. A number (a
    negative score) is left a number."""
    if not isinstance(value, str):
        return value
    value = visible(value)
    return "'" + value if value.startswith(FORMULA) else value


def md(text, *, cell: bool = False) -> str:
    """One line of inert Markdown. Code spans (`name`) stay code, fenced with a backtick run
    longer than any inside them; the rest is backslash-escaped; newlines become spaces.
    `cell`: inside a table, where a pipe ends the cell even within code."""
    text = terminal(text).replace("\n", " ")
    out, at = [], 0
    for m in CODE_SPAN.finditer(text):
        out.append(_md_plain(text[at:m.start()]))
        out.append(_md_code(m.group(2), cell))
        at = m.end()
    out.append(_md_plain(text[at:]))
    return _line_start("".join(out))


def md_code(text, *, cell: bool = False) -> str:
    """A name (a layer's, a hook's) as one code span, whatever it holds."""
    return _md_code(terminal(text).replace("\n", " "), cell) if str(text) else ""


def _line_start(joined: str) -> str:
    return MD_LINE_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2)
                                                      else m.group(3) + "\\"), joined)


def md_lines(text) -> list[str]:
    """Several lines of prose (a written answer, quoted), each inert."""
    return [md(line.strip()) for line in terminal(text).splitlines()]


def md_block(text) -> list[str]:
    """A fenced code block whose fence no line of the text can close: longer than any run of
    backticks in it (or tildes, which cannot close a backtick fence)."""
    text = terminal(text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [fence, *text.splitlines(), fence]


def _md_plain(text: str) -> str:
    return MD_SPECIAL.sub(r"\\\1", text)


def _md_code(code: str, cell: bool) -> str:
    if cell:
        code = code.replace("|", "\\|")
    longest = max((len(r) for r in re.findall(r"`+", code)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{fence}{pad}{code}{pad}{fence}"
