"""Names -> paths (index.py) and export format choice (export_formats.py), without a Drive."""

from __future__ import annotations

import pytest

from kloset_gdrive import export_formats as fmt
from kloset_gdrive.index import distinct_names, sanitize
from kloset_sdk import ConfigError


def test_sanitize() -> None:
    assert sanitize("a/b") == "a\uff0fb"
    assert [sanitize(n) for n in ("", ".", "..", "x\x00y")] == ["_", "_.", "_..", "xy"]


def test_duplicates_keep_the_oldest_name() -> None:
    old = {"id": "B1", "createdTime": "2020-01-01T00:00:00.000Z", "mimeType": "text/plain"}
    new = {"id": "A2", "createdTime": "2021-01-01T00:00:00.000Z", "mimeType": "text/plain"}
    folder = {"id": "F", "createdTime": "2022-01-01T00:00:00.000Z", "mimeType": fmt.FOLDER}
    got = distinct_names([("r.pdf", new), ("r.pdf", old), ("r.pdf", folder), ("s", new)])
    assert got == [("r.pdf", old), ("r.pdf~F", folder), ("r~A2.pdf", new), ("s", new)]


def test_export_choice() -> None:
    wanted = fmt.parse(["document=odt"])
    doc = fmt.KINDS["document"]
    links = {m: f"https://x/{m}" for m in ("application/pdf", *fmt.EXTENSIONS["odt"])}
    assert fmt.choose(doc, links, wanted) == fmt.Export(
        "odt", fmt.EXTENSIONS["odt"][0], "https://x/" + fmt.EXTENSIONS["odt"][0]
    )
    assert fmt.choose(doc, {"application/pdf": "u"}, wanted) == fmt.Export(
        "pdf", "application/pdf", "u"
    )  # the wanted format is not offered: pdf
    assert fmt.choose(fmt.APPS + "form", {}, wanted) is None  # Forms cannot be exported
    assert fmt.with_extension("Budget", "xlsx") == "Budget.xlsx"
    assert fmt.with_extension("b.XLSX", "xlsx") == "b.XLSX"
    for bad in (["doc=odt"], ["document"], ["document=exe"]):
        with pytest.raises(ConfigError, match="export_formats"):
            fmt.parse(bad)
