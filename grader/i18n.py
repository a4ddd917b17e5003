"""What a student reads, in their language: standard gettext catalogs under grader/locale/
(`<lang>/LC_MESSAGES/grader.po`, compiled to `grader.mo` beside it; both ship in the wheel).

Messages are marked `_("...")` (or `N_` where a table holds them and `_` translates them
where they are shown) and translated where they are built, so every output (terminal,
reports, results.json's `output` texts) carries the one language of the run. Numbers, code
names and the rubric's own titles are never inside a message id: they are filled in with
`.format()`. Catalogs: `pybabel extract` to grader/locale/grader.pot, `pybabel update` the
.po, `pybabel compile` the .mo (docs/architecture.md, "Where to add").
"""
from __future__ import annotations

import gettext as stdlib_gettext  # `gettext` below is this module's own
import os
from pathlib import Path

LANGUAGES = ("en", "ko")          # en: the message ids themselves
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "grader"
ENV = "GRADER_LANG"               # how a sandboxed child learns the parent's choice
LOCALE_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence for messages

# One language per process, as gettext intends: chosen once by the front end (`use`),
# read by every renderer. English (no catalog) until then.
_state = {"lang": "en", "translation": stdlib_gettext.NullTranslations()}


def choose(lang: str | None = None, rubric_language: str | None = None,
           environ=os.environ) -> str:
    """--lang, else the rubric's `language:`, else the locale (ko_KR.UTF-8 -> ko); en."""
    if lang:
        return lang
    if rubric_language:
        return rubric_language
    value = next((environ[v] for v in LOCALE_VARS if environ.get(v)), "")
    return "ko" if value.lower().startswith("ko") else "en"


def use(lang: str | None) -> str:
    """Make `lang` the language of this process's messages (sandbox.launch passes it on to
    the children it starts)."""
    lang = lang or "en"
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (choose from {', '.join(LANGUAGES)})")
    _state["lang"] = lang
    _state["translation"] = translation(lang)
    return lang


def translation(lang: str) -> stdlib_gettext.NullTranslations:
    if lang == "en":
        return stdlib_gettext.NullTranslations()
    return stdlib_gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])  # a missing .mo raises


def current() -> str:
    return _state["lang"]


def _(message: str) -> str:
    """`message` translated; text that is no message id (already translated) comes back as is."""
    if not message:  # gettext("") is the catalog's header
        return message
    return _state["translation"].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _state["translation"].ngettext(singular, plural, n)


gettext = _  # for modules where `_` is a throwaway name (Babel extracts `gettext` too)


def N_(message: str) -> str:
    """Marks a message for extraction where it is stored; `_` translates it where shown."""
    return message
