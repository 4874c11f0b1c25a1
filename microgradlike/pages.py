"""Self-contained HTML pages: one file each, with its style, script and data inline.

The backprop explorer (`microgradlike.explorer`) and the training replay (`microgradlike.replay`)
are written by Python as ONE ``.html`` file: nothing is fetched from the network (no CDN, no web
fonts, no images from elsewhere) and no server is needed, so a page opens from disk, by mail or on
a course site. Their JavaScript and CSS live as real files in ``microgradlike/web/`` (readable and
lintable on their own) and are copied into each page when it is written. The data a page shows is
computed in Python and embedded as JSON; the script only displays it.

In Jupyter a page is shown inside an ``<iframe srcdoc=...>``: its script runs there (front ends
treat ``<script>`` in HTML output differently; an iframe always runs it), and two pages in one
notebook cannot see each other's elements or styles.
"""

from __future__ import annotations

import html
import json
import os
from importlib import resources
from typing import Any

from .files import write_atomically

__all__ = ["asset", "iframe", "page", "script_json", "write_page"]


def asset(name: str) -> str:
    """The text of ``microgradlike/web/<name>`` (a script or a style sheet shipped with the package)."""
    return (resources.files("microgradlike") / "web" / name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """``data`` as JSON that is safe inside ``<script type="application/json">``.

    ``</`` would end the script element early and ``<!--`` would open an HTML comment, so ``<`` is
    written ``\\u003c`` (the same string to a JSON parser). NaN and infinity are refused: JSON has no
    such numbers, and a page must not show a number the browser cannot read.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c")


def page(title: str, body: str, styles: list[str], scripts: list[str], data: Any) -> str:
    """A whole HTML document: ``styles`` and ``scripts`` (asset names) inline, ``data`` as JSON in
    ``<script type="application/json" id="page-data">`` for the scripts to read."""
    css = "\n".join(asset(name) for name in styles)
    js = "\n".join(asset(name) for name in scripts)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No request may leave the page: say so to the browser too.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{css}\n</style>\n</head>\n<body>\n{body}\n"
        f'<script type="application/json" id="page-data">{script_json(data)}</script>\n'
        f"<script>\n{js}\n</script>\n</body>\n</html>\n"
    )


def iframe(document: str, height: int) -> str:
    """``document`` shown inside an ``<iframe srcdoc=...>`` ``height`` pixels tall, for Jupyter."""
    return (f'<iframe srcdoc="{html.escape(document, quote=True)}" '
            f'style="width: 100%; height: {int(height)}px; border: 1px solid #e5e7eb; border-radius: 6px" '
            f'title="microgradlike page"></iframe>')


def write_page(path: str | os.PathLike[str], document: str) -> str:
    """Write ``document`` to ``path`` atomically (the whole page or nothing); return the path."""
    write_atomically(path, document.encode("utf-8"))
    return os.fspath(path)
