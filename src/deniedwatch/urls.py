"""Which URLs deniedwatch will send secrets or alerts to: https, or http to this machine.

One rule for webhook URLs (deploy, set-secret) and endpoint settings (``api_url``,
``events_url``): plain http only reaches a loopback stand-in (tests, local runs).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def https_or_loopback(url: str) -> bool:
    """An https URL with a host, or an http URL to a loopback address."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return False
    if not host or any(c.isspace() for c in url.strip()):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
