"""The project's tests build many reports whose PDF they do not test: each print starts a
headless browser (seconds). The tests of report.pdf clear the variable for their own builds."""

import os

from reports.pdf import NO_PDF_ENV

os.environ[NO_PDF_ENV] = "1"
