"""Headless Chromium for the report tests: the browser session of reports/pdf.py (selenium
over the system chromedriver), and readers of the PDFs it prints.

Selenium, not hand-written CDP: it is the maintained W3C WebDriver client, it starts and
stops chromedriver itself (port 0, process cleanup), and still gives raw DevTools commands
(`execute_cdp_cmd`) for what WebDriver lacks (full-page screenshots, Page.printToPDF).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from reports.pdf import chromium, why_no_pdf

__all__ = ["chromium", "full_page_png", "missing", "pdf_pages", "print_pdf"]


def missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    return why_no_pdf()


def full_page_png(driver: Any, path: Path) -> bytes:
    """A screenshot of the whole page (beyond the viewport), written to `path`."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "captureBeyondViewport": True})
    data = base64.b64decode(shot["data"])
    path.write_bytes(data)
    return data


def print_pdf(driver: Any, path: Path) -> bytes:
    """Print the page as Chromium does (DevTools Page.printToPDF), A4, with backgrounds."""
    result = driver.execute_cdp_cmd("Page.printToPDF", {
        "printBackground": True, "paperWidth": 8.27, "paperHeight": 11.69,
        "marginTop": 0.4, "marginBottom": 0.4, "marginLeft": 0.4, "marginRight": 0.4,
    })
    data = base64.b64decode(result["data"])
    path.write_bytes(data)
    return data


_OBJ = re.compile(rb"(\d+)\s+0\s+obj\s*<<(.*?)>>\s*(?:stream|endobj)", re.S)


def pdf_pages(pdf: bytes) -> list[int]:
    """Object numbers of the pages of a PDF as Chromium writes it (plain page tree objects),
    in reading order: the page tree walked from its root."""
    if not pdf.startswith(b"%PDF-"):
        raise ValueError("not a PDF file")
    objects = {int(n): body for n, body in _OBJ.findall(pdf)}
    trees = {n: body for n, body in objects.items() if re.search(rb"/Type\s*/Pages\b", body)}
    roots = [n for n, body in trees.items() if b"/Parent" not in body]
    if len(roots) != 1:
        raise ValueError(f"expected one page tree root, found {len(roots)}")

    def walk(n: int) -> list[int]:
        if n not in trees:
            return [n]
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", trees[n])
        refs = re.findall(rb"(\d+)\s+0\s+R", kids.group(1)) if kids else []
        return [page for ref in refs for page in walk(int(ref))]

    pages = walk(roots[0])
    count = re.search(rb"/Count\s+(\d+)", trees[roots[0]])
    if count and int(count.group(1)) != len(pages):
        raise ValueError(f"page tree says {count.group(1).decode()} pages, {len(pages)} found")
    return pages


def pdf_page_height(pdf: bytes) -> float:
    box = re.search(rb"/MediaBox\s*\[\s*[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s*\]", pdf)
    if box is None:
        raise ValueError("no /MediaBox in the PDF")
    return float(box.group(1))


def pdf_destinations(pdf: bytes) -> dict[str, tuple[int, float]]:
    """Named destinations (Chromium writes one per element id that a link points to): the
    index of the page each lands on, and its height on the page in points from the bottom."""
    index = {obj: i for i, obj in enumerate(pdf_pages(pdf))}
    found = re.findall(rb"/([A-Za-z][\w.-]*)\s*\[\s*(\d+)\s+0\s+R\s*/XYZ\s+[\d.]+\s+([\d.]+)",
                       pdf)
    return {name.decode(): (index[int(obj)], float(y)) for name, obj, y in found}
