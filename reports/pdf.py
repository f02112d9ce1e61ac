"""report.pdf: the report page printed by headless Chromium (DevTools Page.printToPDF).

Why Chromium and not WeasyPrint: the report is tested in Chromium already (the browser test),
so the PDF is the page a reader sees, with its inline SVG plots and print CSS; and
Page.printToPDF draws a header and a footer template on every page with the page number and
the page count filled in (`pageNumber`, `totalPages`: the Chrome DevTools Protocol's
Page.printToPDF, headerTemplate / footerTemplate). WeasyPrint would be a second layout engine
with its own CSS support (and its own native libraries: Pango, HarfBuzz).

Chromium is driven through selenium over the system chromedriver (Debian packages chromium
and chromium-driver); selenium-manager is never asked to download anything. A machine without
them gets no PDF and one line saying why (`why_no_pdf`); the run and the HTML are unaffected.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reports.page import environment

# Set (to anything but "" or "0") to build reports without report.pdf, as --no-pdf does:
# the project's own test suite sets it (tests/conftest.py) for the many runs that do not test
# the PDF (each print starts a browser: seconds).
NO_PDF_ENV = "METER_TEST_RIG_NO_PDF"

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER_NAMES = ("chromedriver",)

FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1000",
)

# A4 in inches (210 x 297 mm), margins leaving room for the header and footer templates.
PAGE = {"paperWidth": 8.27, "paperHeight": 11.69, "marginTop": 0.75, "marginBottom": 0.75,
        "marginLeft": 0.4, "marginRight": 0.4}


def pdf_wanted(asked: bool) -> bool:
    """--no-pdf not given and the environment does not turn the PDF off."""
    return asked and os.environ.get(NO_PDF_ENV, "") in ("", "0")


def _find(names: tuple[str, ...]) -> Path | None:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file()
                                       else None)
        if found:
            return Path(found)
    return None


def why_no_pdf() -> str | None:
    """Why no PDF can be printed on this machine, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'meter-test-rig[pdf]')"
    absent = [what for what, names in (("chromium", CHROMIUM_NAMES),
                                       ("chromedriver", CHROMEDRIVER_NAMES))
              if _find(names) is None]
    if absent:
        return (f"{' and '.join(absent)} not found (Debian packages chromium and "
                "chromium-driver)")
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium session with a fresh profile, closed (driver and browser) on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = _find(CHROMIUM_NAMES), _find(CHROMEDRIVER_NAMES)
    if browser is None or driver_path is None:
        raise RuntimeError(why_no_pdf() or "chromium not found")
    before = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "1"  # belt and braces: selenium-manager must not download
    try:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            options = webdriver.ChromeOptions()
            options.binary_location = str(browser)
            for flag in FLAGS:
                options.add_argument(flag)
            options.add_argument(f"--user-data-dir={profile}")
            options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
            # An explicit driver path: selenium then skips selenium-manager altogether.
            driver = webdriver.Chrome(options=options,
                                      service=Service(executable_path=str(driver_path)))
            try:
                yield driver
            finally:
                driver.quit()
    finally:
        if before is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = before


def header_footer(title: str, number: str, content_hash: str) -> dict[str, str]:
    """Header (report identification, page x of y) and footer (the content hash) of every
    page, from templates/pdf_page.html."""
    page = environment(None).get_template("pdf_page.html").make_module(
        {"title": title, "number": number, "content_hash": content_hash})
    return {"headerTemplate": str(page.header()), "footerTemplate": str(page.footer())}


def print_pdf(driver: Any, html_path: Path, pdf_path: Path, *, title: str, number: str,
              content_hash: str) -> bytes:
    """Open the report page and print it to `pdf_path` (A4, backgrounds, header, footer)."""
    driver.get(html_path.resolve().as_uri())
    result = driver.execute_cdp_cmd("Page.printToPDF", {
        "printBackground": True, "displayHeaderFooter": True, "preferCSSPageSize": False,
        **PAGE, **header_footer(title, number, content_hash),
    })
    data = base64.b64decode(result["data"])
    tmp = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, pdf_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return data


def write_pdf(html_path: Path, pdf_path: Path, *, title: str, number: str,
              content_hash: str) -> str | None:
    """Print report.pdf; None when written, else one line saying why not (never raises for a
    missing or failing browser: the PDF is a copy of the HTML, which is already written)."""
    why = why_no_pdf()
    if why is not None:
        return f"{pdf_path.name} not written: {why}"
    try:
        with chromium() as driver:
            print_pdf(driver, html_path, pdf_path, title=title, number=number,
                      content_hash=content_hash)
    except Exception as exc:  # a browser failure must not fail the run or the report
        return f"{pdf_path.name} not written: Chromium failed: {type(exc).__name__}: {exc}"
    return None
