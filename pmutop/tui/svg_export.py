"""Screenshots whose text looks the same in every SVG renderer.

Rich's export_svg writes each run of one style as a <text> at its x, with spaces as non-breaking
spaces (&#160;) so a browser keeps them. librsvg (rsvg-convert, GNOME's viewers) drops a run's
leading and trailing ones and draws the rest at x: `cpu0` then `  pkg 0` reads `cpu0pkg 0`, a
right-aligned `  n/a` moves left, `q` then ` Quit` reads `qQuit`. Here the spaces at either end of a
run become position instead: the run starts that many cells later and is that much shorter, which
every renderer draws the same way.
"""

import re

NBSP = "&#160;"
TEXT = re.compile(r'(<text\b[^>]*?\bx=")([\d.]+)("[^>]*?\btextLength=")([\d.]+)("[^>]*>)(.*?)(</text>)', re.S)
# An entity (&#160;, &lt;) is one character of the text.
CHARACTER = re.compile(r"&[#\w]+;|.", re.S)


def _spaces_to_positions(match: re.Match) -> str:
    start, x, middle, length, open_end, content, close = match.groups()
    characters = CHARACTER.findall(content)
    if not characters:
        return match.group(0)
    cell = float(length) / len(characters)
    lead = next((i for i, c in enumerate(characters) if c != NBSP), len(characters))
    if lead == len(characters):
        return ""  # only spaces: the background rect behind it, if any, is drawn apart
    trail = next(i for i, c in enumerate(reversed(characters)) if c != NBSP)
    kept = characters[lead : len(characters) - trail]
    return f"{start}{float(x) + lead * cell:g}{middle}{len(kept) * cell:g}{open_end}{''.join(kept)}{close}"


def spaces_as_positions(svg: str) -> str:
    """`svg` (Rich's export) with every <text>'s leading and trailing spaces turned into its position."""
    return TEXT.sub(_spaces_to_positions, svg)
