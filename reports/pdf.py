"""report.pdf: the report page printed by headless Chromium (DevTools Page.printToPDF).

Why Chromium and not WeasyPrint: the report is tested in Chromium already (the browser test),
so the PDF is laid out as a reader sees the report, with its inline SVG plots and print CSS; and
Page.printToPDF draws a header and a footer template on every page with the page number and
the page count filled in (`pageNumber`, `totalPages`: the Chrome DevTools Protocol's
Page.printToPDF, headerTemplate / footerTemplate). WeasyPrint would be a second layout engine
with its own CSS support (and its own native libraries: Pango, HarfBuzz).

Chromium is driven through selenium over the system chromedriver (Debian packages chromium
and chromium-driver); selenium-manager is never asked to download anything. A machine without
them gets no PDF and one line saying why (`why_no_pdf`); the run and the HTML are unaffected.

What a print costs: almost all of it is Chromium laying out and painting tables, by the table
cell (a 12-position type-test report.html: 8 MB, 95 000 cells); the plots cost little. So the
page printed is not report.html but the report with the results matrix (reports/matrix.py)
in place of the per-position tables: a fifth of the cells at 12 positions. Two more things
are avoided: the tagged-PDF structure tree (one tag per table
cell: a quarter of the print's CPU and 7x the file size; the text, links, header and footer
are the same without it), and laying the page out for the screen before laying it out for
paper (the page is hidden from screen media while it loads for printing). `Printer` runs the
browser in a thread of its own, started with the build, so that its start and the page's
layout overlap the build's other files. The browser's
shutdown is bounded: chromedriver runs in its own process group, and whatever a graceful
quit has not ended after a grace time is killed with that group (a `WebDriver.quit` once
hung for minutes after a 48-position print on a loaded machine).
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import shutil
import signal
import tempfile
import threading
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

# Page.printToPDF options beyond the page: no tagged-PDF structure tree and no outline (both
# built from the whole document's accessibility tree; see the module's doc).
PRINT = {"printBackground": True, "displayHeaderFooter": True, "preferCSSPageSize": False,
         "generateTaggedPDF": False, "generateDocumentOutline": False}

# Run in the page before its own content when it is loaded to be printed: the page is not
# laid out for the screen (media "screen" shows nothing), only once for paper by the print.
HIDE_FROM_SCREEN = ("(() => { const sheet = new CSSStyleSheet();"
                    " sheet.replaceSync('@media screen { html { display: none; } }');"
                    " document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];"
                    " })();")

# Seconds a graceful quit of the browser may take before its process group is killed.
QUIT_GRACE_S = 10.0
# Seconds one command to the browser may take (selenium's own default is 120 s): a
# 12-position print took 116 s on the 2-core machine at load 22, a 48-position one longer.
COMMAND_TIMEOUT_S = 900.0


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
def chromium(quit_grace: float = QUIT_GRACE_S) -> Iterator[Any]:
    """A headless Chromium session with a fresh profile, closed (driver and browser) on exit:
    gracefully when that takes under `quit_grace` seconds, else by killing their process
    group (`close`)."""
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
            # An explicit driver path: selenium then skips selenium-manager altogether. A
            # session of its own makes chromedriver the leader of a process group that the
            # browser's processes join, so `close` can end them all.
            service = Service(executable_path=str(driver_path),
                              popen_kw={"start_new_session": True})
            driver = webdriver.Chrome(options=options, service=service)
            driver.command_executor.client_config.timeout = COMMAND_TIMEOUT_S
            try:
                yield driver
            finally:
                close(driver, quit_grace)
    finally:
        if before is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = before


def close(driver: Any, grace: float = QUIT_GRACE_S) -> None:
    """Quit the session (browser, then chromedriver) in a thread, waiting at most `grace`
    seconds; then kill what is left of chromedriver's process group and reap chromedriver.
    Returns within about twice `grace` whatever the browser does."""
    process = driver.service.process
    quitter = threading.Thread(target=_quit_quietly, args=(driver,), daemon=True,
                               name="chromium-quit")
    quitter.start()
    quitter.join(grace)
    # The group outlives its leader while any member lives, so its id is still ours; none
    # left (ProcessLookupError): the quit ended them all.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=grace)  # a killed chromedriver exits at once; reap it


def _quit_quietly(driver: Any) -> None:
    # A failed quit changes nothing: the PDF is written and the group is killed after it.
    with contextlib.suppress(Exception):
        driver.quit()


def header_footer(title: str, number: str, content_hash: str) -> dict[str, str]:
    """Header (report identification, page x of y) and footer (the content hash) of every
    page, from templates/pdf_page.html."""
    page = environment(None).get_template("pdf_page.html").make_module(
        {"title": title, "number": number, "content_hash": content_hash})
    return {"headerTemplate": str(page.header()), "footerTemplate": str(page.footer())}


def print_pdf(driver: Any, html_path: Path, pdf_path: Path, *, title: str, number: str,
              content_hash: str) -> bytes:
    """Open the report page and print it to `pdf_path` (A4, backgrounds, header, footer)."""
    load_for_print(driver, html_path)
    return print_loaded(driver, pdf_path, title=title, number=number,
                        content_hash=content_hash)


def load_for_print(driver: Any, html_path: Path) -> None:
    """Open the page hidden from screen media, so that only the print lays it out."""
    hidden = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": HIDE_FROM_SCREEN})
    try:
        driver.get(html_path.resolve().as_uri())
    finally:  # later pages of this session are shown as they are
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                               {"identifier": hidden["identifier"]})


def print_loaded(driver: Any, pdf_path: Path, *, title: str, number: str,
                 content_hash: str) -> bytes:
    """Print the open page to `pdf_path` (written atomically); its bytes."""
    result = driver.execute_cdp_cmd("Page.printToPDF", {
        **PRINT, **PAGE, **header_footer(title, number, content_hash)})
    data = base64.b64decode(result["data"])
    tmp = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, pdf_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return data


class Printer:
    """report.pdf printed in a thread of its own: the browser starts as soon as the build
    does, and lays the page out (`load`) while the build writes its other files; `finish`
    prints it once the content hash for the footer is known. On a machine with two cores
    the browser's start and the page's layout then cost the build no wall time of its own.

    Never raises for a missing or failing browser: `finish` returns one line saying why no
    PDF was written (the PDF is a copy of the report, whose files are already written)."""

    def __init__(self) -> None:
        self._page: queue.Queue[Path | None] = queue.Queue(maxsize=1)
        self._job: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1)
        self._why: str | None = why_no_pdf()
        self._loaded = self._printed = False
        self._thread = threading.Thread(target=self._run, name="report-pdf", daemon=True)
        if self._why is None:
            self._thread.start()

    def load(self, html_path: Path) -> None:
        """Open the page to print (it is read now: it must stay until `finish`)."""
        if self._thread.is_alive():
            self._page.put(html_path)
            self._loaded = True

    def finish(self, pdf_path: Path, *, title: str, number: str,
               content_hash: str) -> str | None:
        """Print the loaded page to `pdf_path`; None when written, else why not."""
        if not self._loaded:
            self.cancel()
            return f"{pdf_path.name} not written: {self._why or 'no page was given'}"
        self._job.put({"pdf_path": pdf_path, "title": title, "number": number,
                       "content_hash": content_hash})
        self._thread.join()
        if self._printed:
            return None
        return f"{pdf_path.name} not written: {self._why or 'the browser ended early'}"

    def cancel(self) -> None:
        """Close the browser without printing (the build failed before the PDF)."""
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._page.put_nowait(None)
            with contextlib.suppress(queue.Full):
                self._job.put_nowait(None)
            self._thread.join()

    def _run(self) -> None:
        try:
            with chromium() as driver:
                page = self._page.get()
                if page is None:
                    return
                load_for_print(driver, page)
                job = self._job.get()
                if job is not None:
                    print_loaded(driver, job.pop("pdf_path"), **job)
                    self._printed = True
        except Exception as exc:  # a browser failure must not fail the run or the report
            self._why = f"Chromium failed: {type(exc).__name__}: {exc}"


def write_pdf(html_path: Path, pdf_path: Path, *, title: str, number: str,
              content_hash: str) -> str | None:
    """Print report.pdf; None when written, else one line saying why not (never raises for a
    missing or failing browser: the PDF is a copy of the HTML, which is already written)."""
    printer = Printer()
    printer.load(html_path)
    return printer.finish(pdf_path, title=title, number=number, content_hash=content_hash)
