"""deniedwatch: catch unauthorised AWS API calls and tell the right people fast."""

__version__ = "0.1.0"
