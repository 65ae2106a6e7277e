"""The one form reader of the tests: every ``<form>`` of a page with its action and named inputs.

Read with :class:`html.parser.HTMLParser` (attribute quoting and entities handled by the standard
library). Only ``<input>`` elements count as fields (the hosted pages submit with ``<button>``s);
``type="submit"`` inputs are left out. Values are unescaped; a missing value reads as ``""``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    """One ``<form>``: its ``action`` (``""`` when absent), ``method`` and named input fields."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    hidden: dict[str, str] = field(default_factory=dict)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        #: Every named input of the page, in a form or not (later ones win on a repeated name).
        self.page_fields: dict[str, str] = {}
        self.page_hidden: dict[str, str] = {}
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._open)
        elif tag == "input" and a.get("name") and a.get("type", "").lower() != "submit":
            name, value = a["name"], a.get("value", "")
            hidden = a.get("type", "").lower() == "hidden"
            self.page_fields[name] = value
            if hidden:
                self.page_hidden[name] = value
            if self._open is not None:
                self._open.fields[name] = value
                if hidden:
                    self._open.hidden[name] = value

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def _read(page: str) -> _Reader:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader


def forms(page: str) -> list[Form]:
    """Every form of ``page``, in document order."""
    return _read(page).forms


def find_form(page: str, which: int | str = 0) -> Form | None:
    """The form ``which`` of ``page``, or None.

    ``which`` is the form's index (0: the first form) or a field name: the first form having that
    field (e.g. ``"code"``, ``"password"``), or ``"name=value"``: the first form whose field ``name``
    is ``value`` (e.g. ``"action=use_sms"``, the "use an SMS code instead" button's form).
    """
    found = forms(page)
    if isinstance(which, int):
        return found[which] if -len(found) <= which < len(found) else None
    name, _, value = which.partition("=")
    for f in found:
        if name in f.fields and (not value or f.fields[name] == value):
            return f
    return None


def form(page: str, which: int | str = 0) -> Form:
    """The form ``which`` of ``page`` (see :func:`find_form`); fails the test when there is none."""
    found = find_form(page, which)
    assert found is not None, f"no form {which!r} on the page: {page[:2000]}"
    return found


def inputs(page: str, which: int | str = 0) -> dict[str, str]:
    """Name → value of the inputs of the form ``which`` (default: the first form) of ``page``."""
    return dict(form(page, which).fields)


def form_action(page: str, which: int | str = 0) -> str:
    """The ``action`` of the form ``which`` (default: the first form) of ``page``."""
    action = form(page, which).action
    assert action, f"the form {which!r} has no action"
    return action


def page_inputs(page: str) -> dict[str, str]:
    """Name → value of every named input of ``page``, inside a form or not."""
    return _read(page).page_fields


def hidden_fields(page: str) -> dict[str, str]:
    """Name → value of every hidden input of ``page`` (e.g. ``csrf_token`` and ``step``)."""
    return _read(page).page_hidden
