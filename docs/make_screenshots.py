"""Redraw the README's pictures of the two pages: docs/img/explorer.png and docs/img/replay.png.

Each page is made by the README's own command (`EXPLORER` and `REPLAY` below; the tests check
that the README shows these), then opened in Chromium: the explorer after three steps, the replay
at `REPLAY_EPOCH`. Needs Graphviz, Chromium (apt-get install chromium), playwright and Pillow (it
comes with matplotlib). Run from the repository's root: ``python docs/make_screenshots.py``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

from microgradlike.cli import main

HERE = Path(__file__).parent / "img"
#: The README's commands (after `python -m microgradlike`), less their output file.
EXPLORER = ["graph", "tanh(x*w + b)", "x=2", "w=-3", "b=6.88", "-o"]
REPLAY = ["train", "--epochs", "300", "--tol", "0", "--html"]
#: The epoch the replay's screenshot shows (the README's caption names it).
REPLAY_EPOCH = 24
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def small_png(png: bytes, path: Path) -> None:
    """Save with a 128-colour palette: a screenshot of flat colours and text stays sharp and small."""
    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    picture.quantize(128, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"{path}: {path.stat().st_size // 1024} KB")


def quietly(*argv: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(list(argv)) == 0


def run() -> None:
    from playwright.sync_api import sync_playwright

    HERE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        explorer, replay = Path(folder, "explorer.html"), Path(folder, "replay.html")
        quietly(*EXPLORER, str(explorer))
        quietly(*REPLAY, str(replay))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 520})
            page.goto(explorer.as_uri())
            for _ in range(3):
                page.click("[data-action=next]")
            small_png(page.screenshot(), HERE / "explorer.png")
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(replay.as_uri())
            page.eval_on_selector("[data-role=epoch]",
                                  "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
                                  str(REPLAY_EPOCH))
            small_png(page.screenshot(), HERE / "replay.png")
            browser.close()


if __name__ == "__main__":
    sys.exit(run())
