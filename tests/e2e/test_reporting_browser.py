"""The pages in a real headless Chromium (Debian's, driven by Playwright), on a phone and on a
desktop: what a student, a guardian, a teacher and a leader see, what the family page must not
show, and a screenshot of each main page in the test artifact folder
(``ARC_TEST_ARTIFACTS``, default ``test-artifacts/``).

Signing in is not part of these pages yet (authentication is added to every service in one
place); each page here is opened as its person would open it."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from arc_platform.auth.dev_issuer import DemoUser, DevIssuerServer
from arc_platform.auth.principal import Role
from arc_platform.consumer import Delivery
from arc_platform.devstack import free_port
from arc_reporting.access import local_access
from arc_reporting.http_api import create_app
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.sample import feed_class

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("ARC_TEST_ARTIFACTS", "test-artifacts")) / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

if CHROMIUM is None:
    message = "Debian's chromium is not installed (make browser installs it)"
    if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(f"SKIPPING BROWSER TESTS LOUDLY: {message}", allow_module_level=True)


#: The people of the sample class (arc_reporting.sample.feed_class), as the issuer knows them.
PEOPLE: dict[str, str | DemoUser] = {
    "admin": "admin",
    "student": DemoUser("stu-001", (Role.STUDENT,), "Maya Garcia"),
    "guardian": DemoUser("g-001", (Role.GUARDIAN,), "Guardian of Maya"),
    "teacher": DemoUser("t-ada", (Role.TEACHER,), "Ada Lovelace"),
}
TOKENS: dict[str, str] = {}


class AlsoTellingAccess:
    """The read model, whose catalog deliveries also reach the relationships view."""

    def __init__(self, model: ReportingReadModel, relationships: Any) -> None:
        self.model = model
        self.relationships = relationships

    def apply(self, batch: list[Delivery]) -> None:
        self.model.apply(batch)
        catalog = [d for d in batch if d.stream == "ARC_CATALOG"]
        if catalog:
            self.relationships.apply(catalog)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Reporting's web app on a real read model (a class of 12 with a term of evidence)."""
    folder = tmp_path_factory.mktemp("browser")
    model = ReportingReadModel(sa.create_engine(f"sqlite:///{folder / 'views.sqlite'}"))
    issuer = DevIssuerServer(folder / "dev-issuer").start()
    access = local_access(model.engine, issuer.url)
    # The class's catalog events reach the access guard's relationships too (who teaches
    # whom, whose guardian is who), as the catalog stream does in the service.
    feed_class(AlsoTellingAccess(model, access.relationships), students=12, outcomes=8, attempts=30)  # type: ignore[arg-type]
    TOKENS.update({name: issuer.issuer.token(user) for name, user in PEOPLE.items()})
    app = create_app(model, access, dev_sign_in=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, "127.0.0.1", port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    issuer.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def sign_in(page: Page, site: str, user: str) -> None:
    """The sign-in page's development button for a demo user: the token becomes a cookie."""
    page.goto(f"{site}/signin")
    page.click(f"button[name=demo_user][value={user}]")


def sign_in_with_token(page: Page, site: str, who: str) -> None:
    """The sign-in page's token form (what a school's single sign-on hands over)."""
    page.goto(f"{site}/signin")
    page.fill("textarea[name=token]", TOKENS[who])
    page.get_by_role("button", name="Sign in", exact=True).click()


def open_page(
    browser: Browser,
    site: str,
    path: str,
    shot: str,
    viewport: dict[str, int] = DESKTOP,
    who: str = "admin",
) -> Page:
    page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    if who == "admin":
        sign_in(page, site, "admin")  # the development button
    else:
        sign_in_with_token(page, site, who)
    response = page.goto(site + path)
    assert response is not None and response.status == 200, path
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    return page


def test_a_student_sees_levels_charts_and_what_is_next(browser: Browser, site: str) -> None:
    page = open_page(browser, site, "/students/stu-001", "student", who="student")
    assert page.locator("h1").inner_text() == "Maya Garcia"
    assert page.get_by_role("heading", name="What is next").is_visible()
    charts = page.locator("img.chart")
    assert charts.count() > 0
    charts.first.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img.chart').naturalWidth > 0")
    assert "level" in (charts.first.get_attribute("alt") or "")
    page.get_by_role("link", name="M.01").first.click()
    expect(page.get_by_role("heading", name="Every attempt")).to_be_visible()
    assert page.locator("figure.chart svg").count() == 1
    page.screenshot(path=str(ARTIFACTS / "student-outcome.png"), full_page=True)
    # …and nobody else's records, nor the class's.
    for other in ("/students/stu-002", "/sections/sec-6a", "/leaders", "/warnings"):
        response = page.goto(site + other)
        assert response is not None and response.status == 403, other


def test_a_guardian_sees_only_their_child_in_plain_language(browser: Browser, site: str) -> None:
    page = open_page(browser, site, "/families/g-001", "family", who="guardian")
    text = page.locator("main").inner_text()
    assert "Maya Garcia" in text and "can do" in text
    for other in ("Noah", "Zoe", "Liam"):
        assert other not in text, f"the family page shows another student ({other})"
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    page.emulate_media(media="screen")
    for other in ("/students/stu-002", "/sections/sec-6a", "/leaders"):
        response = page.goto(site + other)
        assert response is not None and response.status == 403, other


def test_a_teacher_reads_the_heat_map_on_a_phone_and_follows_a_student(
    browser: Browser, site: str
) -> None:
    page = open_page(browser, site, "/sections/sec-6a", "section-phone", PHONE, who="teacher")
    table = page.locator("table.heat")
    assert table.locator("tbody tr").count() == 12
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, "the page itself must not scroll sideways on a phone"
    page.select_option("select[name=sort]", "mastered")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**sort=mastered**")
    first = page.locator("table.heat tbody th a").first
    name = first.inner_text()
    first.click()
    expect(page.locator("h1")).to_have_text(name)
    for elsewhere in ("/leaders", "/warnings"):  # network-wide: not a teacher's
        response = page.goto(site + elsewhere)
        assert response is not None and response.status == 403, elsewhere
    desktop = open_page(browser, site, "/sections/sec-6a", "section", who="teacher")
    desktop.get_by_role("link", name="Enter evidence for the class").click()
    heading = desktop.get_by_role("heading", name="Enter evidence for the whole class")
    expect(heading).to_be_visible()
    desktop.screenshot(path=str(ARTIFACTS / "evidence-entry.png"), full_page=True)


def test_a_leader_sees_distributions_warnings_and_a_report_card(
    browser: Browser, site: str
) -> None:
    page = open_page(browser, site, "/leaders?from=2026-08-25&as_of=2026-12-01", "leaders")
    assert page.locator("figure.chart svg").count() == 2
    assert "Shown as it stood on" in page.locator(".banner").inner_text()
    warnings = open_page(browser, site, "/warnings?as_of=2027-01-15", "warnings")
    assert warnings.locator("tbody tr").count() > 0
    card = open_page(browser, site, "/students/stu-001/report-card", "report-card")
    assert "Grade" in card.locator("p.grade").first.inner_text()
