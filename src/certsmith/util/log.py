"""Logging set-up with a filter that removes private key material.

The filter is the last line of defence: code should never log a key, but if an
exception message carries PEM text, the ``PRIVATE KEY`` block is cut out here.
"""

from __future__ import annotations

import logging
import re

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)",
    re.DOTALL,
)


def redact(text: str) -> str:
    """Replace every PEM private key block in ``text`` with a marker."""
    return _PRIVATE_KEY_BLOCK.sub("<redacted private key>", text)


class RedactingFilter(logging.Filter):
    """Rewrites log records so that no PEM private key survives formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message and any exception text; always keep the record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(exc_text)
        return True


def configure(level: int = logging.INFO) -> None:
    """Configure root logging once, with the redacting filter on every handler."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
