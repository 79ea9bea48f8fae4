"""The one rule for secrets in what the buildpack prints or records.

A URL's userinfo (``user:password@``) is a credential: PIP_INDEX_URL and
BUILDPACK_S3_BASE_URL may carry one, and every message that names such a URL
(a log line, a retry, an error, the report's failure_detail, bin/report)
shows it as ``****`` instead, as pip does. The sinks apply it (Output, Report,
bin/report), so a call site cannot forget to.
"""

from __future__ import annotations

import re
import urllib.parse

# scheme://userinfo@ ; the userinfo runs to the last "@" before the path, as
# urllib.parse reads it, so a password holding a raw "@" is hidden whole.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s@]*(?:@[^/?#\s@]*)*)@")
MASK = "****"


def redact_url(url: str) -> str:
    """``url`` with its userinfo, if any, replaced by ``****``."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def redact_text(text: str) -> str:
    """Every URL's userinfo in free text (messages, tool output) replaced by ``****``."""
    if "@" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m[1]}{MASK}@", text)
