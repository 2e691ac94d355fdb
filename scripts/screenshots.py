"""A screenshot of every page for every role, in Japanese and English, at a laptop's and a phone's width.

Starts the app on a fresh SQLite database with the demo data (or uses --url, where the demo users exist), logs
in as each role in headless Chromium and writes var/screenshots/<role>/<lang>-<width>/<page>.png. The record
pages (a lead, a deal, a campaign …) are the first such link on their list page, so the tour needs no database
access of its own. Run it through ./scripts/screenshots; --help lists the options.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "demo-pass-2026"  # salesmarketing/demo.py (not imported: --url needs no Django settings)
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# role (the folder name) → the demo user of that role
ROLES = {
    "marketer": "mktg",
    "marketing-manager": "mktg_mgr",
    "sales-rep": "rep1",
    "sales-manager": "sales_mgr",
    "admin": "admin",
}
WIDTHS = {1440: 900, 390: 844}  # width → height
LANGS = ("ja", "en")

# page name → a path, or (the page that links to it, as a path or a page name; the pattern of that link)
PAGES: dict[str, str | tuple[str, str]] = {
    "dashboard": "/",
    "leads": "/leads/",
    "lead": ("/leads/", r"^/leads/\d+/$"),
    "company": ("lead", r"^/leads/companies/\d+/$"),
    "handoffs": "/leads/handoffs/",
    "scoring": "/leads/scoring/",
    "import": "/leads/import/",
    "campaigns": "/campaigns/",
    "campaign": ("/campaigns/", r"^/campaigns/\d+/$"),
    "campaign-dashboard": "/campaigns/dashboard/",
    "personas": "/campaigns/personas/",
    "persona": ("/campaigns/personas/", r"^/campaigns/personas/\d+/$"),
    "board": "/pipeline/",
    "deal": ("/pipeline/", r"^/pipeline/deals/\d+/$"),
    "forecast": "/pipeline/forecast/",
    "kpi-definitions": "/kpis/definitions/",
    "kpi-drilldown": "/kpis/opportunities_marketing_sourced/",
    "kpi-targets": "/kpis/targets/",
    "weekly-review": "/kpis/weekly/",
    "notifications": "/notifications/",
    "api-keys": "/settings/api-keys/",
    "password": "/accounts/password/",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="a running app to photograph (default: start one on a fresh SQLite database)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "screenshots", help="where the PNGs go")
    parser.add_argument("--roles", default=",".join(ROLES), help=f"comma-separated, of: {', '.join(ROLES)}")
    parser.add_argument("--langs", default=",".join(LANGS), help="comma-separated: ja, en")
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)), help="comma-separated: 1440, 390")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of: {', '.join(PAGES)}")
    args = parser.parse_args(argv)
    args.roles, args.langs, args.pages = (_choose(args, name) for name in ("roles", "langs", "pages"))
    args.widths = [int(w) for w in _choose(args, "widths")]
    return args


def _choose(args: argparse.Namespace, name: str) -> list[str]:
    known = {"roles": ROLES, "langs": LANGS, "pages": PAGES, "widths": list(map(str, WIDTHS))}[name]
    chosen = [item.strip() for item in getattr(args, name).split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown:
        sys.exit(f"scripts/screenshots: unknown {name}: {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def warn_without_japanese_font() -> None:
    fonts = subprocess.run(
        ["fc-list", ":lang=ja"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not fonts:
        print(
            "!! no Japanese font (fc-list :lang=ja is empty): Japanese text will show as boxes. "
            "As root: apt-get install fonts-noto-cjk",
            file=sys.stderr,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"scripts/screenshots: the app stopped (exit {server.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"scripts/screenshots: the app did not answer at {url} within {seconds:.0f} s")


@contextmanager
def fresh_app() -> Iterator[str]:
    """The app on a new SQLite database with the demo data (tasks in-process), served until the block ends."""
    workdir = Path(tempfile.mkdtemp(prefix="sm-screenshots-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "screenshots_settings",  # scripts/screenshots_settings.py: this database
        "SCREENSHOTS_DB": str(workdir / "app.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), str(ROOT)]),
        "DEBUG": "1",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_URL", "DATABASE_REPLICA_URL"):
        env.pop(name, None)
    env.setdefault("SECRET_KEY", "screenshots-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    env.setdefault("SECURE_COOKIES", "0")
    manage = [sys.executable, str(ROOT / "manage.py")]
    print("==> a fresh SQLite database with the demo data", file=sys.stderr)
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(manage + command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        manage + ["runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def resolve(page: Page, base: str, target: str | tuple[str, str]) -> str | None:
    """The path of a page: as given, or the first link matching the pattern on the page that links to it (None:
    no such record)."""
    if isinstance(target, str):
        return target
    source, pattern = target
    source_path = resolve(page, base, PAGES[source]) if source in PAGES else source
    if source_path is None:
        return None
    page.goto(base + source_path)
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map((a) => a.getAttribute('href'))")
    return next((href for href in hrefs if re.match(pattern, href)), None)


def photograph_role(browser: Browser, base: str, args: argparse.Namespace, role: str) -> list[str]:
    """Every chosen page of one role, each language and width; returns what was skipped and why."""
    skipped: list[str] = []
    for lang in args.langs:
        for width in args.widths:
            context = browser.new_context(
                viewport={"width": width, "height": WIDTHS[width]},
                locale="ja-JP" if lang == "ja" else "en-US",
                timezone_id="Asia/Tokyo",
            )
            context.add_cookies([{"name": "django_language", "value": lang, "url": base}])
            page = context.new_page()
            try:
                log_in(page, base, ROLES[role])
                folder = args.out / role / f"{lang}-{width}"
                folder.mkdir(parents=True, exist_ok=True)
                skipped += _photograph_pages(page, base, args.pages, folder, f"{role} {lang}-{width}")
            finally:
                context.close()
    return skipped


def _photograph_pages(page: Page, base: str, names: list[str], folder: Path, label: str) -> list[str]:
    skipped: list[str] = []
    for name in names:
        path = resolve(page, base, PAGES[name])
        if path is None:
            skipped.append(f"{label} {name}: no such record to show")
            continue
        response = page.goto(base + path)
        status = response.status if response else 0
        if status != 200:
            skipped.append(f"{label} {name}: {path} answered {status}")
            continue
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    return skipped


def photograph(base: str, args: argparse.Namespace) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for role in args.roles:
                for line in photograph_role(browser, base, args, role):
                    print(f"   skipped {line}", file=sys.stderr)
                print(f"==> {role}: {args.out / role}")
        finally:
            browser.close()


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        sys.exit(
            f"scripts/screenshots: Chromium not found at {CHROMIUM} (install Debian's chromium or set CHROMIUM_PATH)"
        )
    if "ja" in args.langs:
        warn_without_japanese_font()
    if args.url:
        photograph(args.url.rstrip("/"), args)
    else:
        with fresh_app() as url:
            photograph(url, args)
    print(f"==> screenshots written under {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
