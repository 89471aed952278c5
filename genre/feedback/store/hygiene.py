"""What exports do to free text: contact details scrubbed from comments, spreadsheet formulas neutralised in CSV.

* :func:`scrub_contacts` replaces e-mail addresses with ``[email]`` and phone numbers with
  ``[phone]``. A phone number is a run of 7 to 15 digits in the usual groupings (``+44 20 7946 0958``,
  ``(555) 123-4567``, ``555.123.4567``, ``07700 900123``, ``5551234567``); dates (``2024-03-15``,
  ``15/03/2024``, ``15.03.2024``), years and year ranges, prices (``$1,299.99``), thousands written
  with spaces (``12 500 000``) and item ids (``B00X4WHP5E``, ``N12345``) are left as they are.
* :func:`neutralise_cell` prefixes ``'`` to a CSV text cell that starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return (a spreadsheet would run it as a formula), and to one that
  already starts with ``'``; :func:`restore_cell` removes exactly that one ``'``, so export then
  import gives back the text as it was. Numeric columns are never prefixed: ``-1.5`` stays a number.
"""

from __future__ import annotations

import re

EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list)."""
QUOTE = "'"

_EMAIL = re.compile(
    r"""
    (?<![\w.+\-])
    [A-Za-z0-9](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9_%+\-])?     # local part
    \s*(?:@|[\[({]\s*at\s*[\])}])\s*                         # @, or [at] (at) {at}
    [A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?                # first domain label
    (?:\s*(?:\.|[\[({]\s*dot\s*[\])}])\s*[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*
    \s*(?:\.|[\[({]\s*dot\s*[\])}])\s*[A-Za-z]{2,24}         # top-level domain
    (?![\w\-])
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PHONE = re.compile(
    r"""
    (?<![\w+/.,:\-$€£¥])                                     # not inside a word, id, number or price
    (?:
        \+\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]?\d{1,5}){1,5}   # +44 20 7946 0958, +1 (555) 123-4567
      | \(\d{2,5}\)[ .\-]?\d{2,5}(?:[ .\-]?\d{2,5}){0,3}         # (555) 123-4567
      | \d{2,5}(?:[ .\-]\d{2,6}){1,4}                            # 555-123-4567, 07700 900123
      | \d{10,15}                                                # 5551234567
    )
    (?![\w/]|[.,:\-]\d)
    """,
    re.VERBOSE,
)
_DATE = re.compile(r"\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}")
_YEAR = re.compile(r"1[5-9]\d\d|20\d\d")
_THOUSANDS = re.compile(r"\d{1,3}(?: \d{3})+")


def _is_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:
        return False
    if text.startswith("+"):
        return True
    if _DATE.fullmatch(text) or _THOUSANDS.fullmatch(text):
        return False
    groups = re.findall(r"\d+", text)
    # "1995-1999", "1994 1995 1996": years, not a number to call.
    if len(groups) > 1 and all(_YEAR.fullmatch(g) for g in groups):
        return False
    if "(" not in text and not re.search(r"[.\-]", text) and len(groups) > 1:
        # Numbers apart by spaces are prose ("in 2001 200 films") unless dialled with a trunk 0
        # ("07700 900123") or grouped as a full number ("555 123 4567").
        return (groups[0].startswith("0") and digits >= 9) or (digits >= 10 and len(groups) >= 3)
    return True


def scrub_contacts(text: str) -> str:
    """``text`` with e-mail addresses as ``[email]`` and phone numbers as ``[phone]``; the rest unchanged."""
    text = _EMAIL.sub(EMAIL_MARK, text)
    return _PHONE.sub(lambda m: PHONE_MARK if _is_phone(m.group(0)) else m.group(0), text)


def scrub_optional(text: str | None) -> str | None:
    """:func:`scrub_contacts`, passing None through."""
    return None if text is None else scrub_contacts(text)


def neutralise_cell(text: str) -> str:
    """A CSV text cell a spreadsheet shows as text: ``'`` before a formula start or an existing ``'``."""
    return QUOTE + text if text.startswith((*FORMULA_STARTS, QUOTE)) else text


def restore_cell(text: str) -> str:
    """The inverse of :func:`neutralise_cell` (one leading ``'`` removed)."""
    return text[1:] if text.startswith(QUOTE) else text
