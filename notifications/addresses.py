"""What may go into an e-mail header: addresses the mail relay can carry, display names on one short line.

The same checks run when a person is registered (so a mistake is refused with a message) and when a message
is built (so a value stored before these checks existed, or written around them, cannot stop a delivery).
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, angle brackets included
MAX_NAME = 200
ELLIPSIS = "…"

# Control characters (CR, LF, TAB, NUL…), format characters (bidi overrides, zero-width) and line or paragraph
# separators: none of them belongs in a person's name, and CR/LF in a header would start a new header.
_FORBIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


class InvalidAddress(ValueError):
    """An e-mail address that cannot be used; the message says why."""


def check_address(text: str) -> str:
    """The address, its domain lower-cased, if the relay can carry it; else InvalidAddress saying why.

    Only ASCII addresses are accepted: the relay is not assumed to offer SMTPUTF8, so accented local parts and
    internationalised domain names would be refused at delivery time.
    """
    address = text.strip()
    if not address:
        raise InvalidAddress("the address is empty")
    if len(address) > MAX_ADDRESS:
        raise InvalidAddress(f"the address is {len(address)} characters long, at most {MAX_ADDRESS} are allowed")
    if not address.isascii():
        odd = "".join(dict.fromkeys(c for c in address if not c.isascii()))
        raise InvalidAddress(f"the address holds non-ASCII characters ({odd}); accented letters and "
                             "internationalised domain names are not supported by the mail relay")
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False,
                                 allow_quoted_local=False, allow_domain_literal=False, allow_display_name=False)
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None
    return checked.normalized


def forbidden_characters(text: str) -> list[str]:
    """The control or invisible characters of `text`, written as U+XXXX, without repeats."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in text
                              if unicodedata.category(c) in _FORBIDDEN_CATEGORIES))


def clip(text: str, limit: int = MAX_NAME) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def display_name(name: str | None, limit: int = MAX_NAME) -> str:
    """A name fit for a header: control characters turned to spaces, blanks collapsed, cut to `limit`."""
    if not name:
        return ""
    # Clip a generous prefix first: a stored megabyte is never scanned character by character.
    head = name[: limit * 4]
    spaced = "".join(" " if unicodedata.category(c) in _FORBIDDEN_CATEGORIES else c for c in head)
    return clip(" ".join(spaced.split()), limit)
