"""The app's settings with the SQLite database of one scripts/screenshots run (SCREENSHOTS_DB), so the developer's
var/salesmarketing.sqlite3 is left as it is."""

import os

from salesmarketing.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["SCREENSHOTS_DB"]  # noqa: F405
