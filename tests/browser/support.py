"""Helpers for browser tests: signing in, setting up data off Playwright's loop, screenshots."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from django.db import connection
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

T = TypeVar("T")
SHOTS = Path("/tmp/spaces-shots")


def signed_in(context: BrowserContext, base: str, user) -> None:
    client = Client()
    client.force_login(user)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])


def signed_in_page(browser: Browser, base: str, user, path: str | None = None, **context_options) -> Page:
    """A page of its own for `user`, signed in (at `path` when given); uncaught script errors collect in
    `page.errors`."""
    context = browser.new_context(base_url=base, **context_options)
    signed_in(context, base, user)
    page = context.new_page()
    errors: list = []
    page.on("pageerror", lambda error: errors.append(error))
    page.errors = errors  # type: ignore[attr-defined]
    if path is not None:
        page.goto(path)
    return page


def wait_for(page: Page, expression: str, *, timeout: float, state: str = "window.spacesAudioStats") -> None:
    """`page.wait_for_function`, failing with what `state` held at the deadline (a wait that times out in CI
    should say why: frames never received, received but not decoded, a socket closed...)."""
    try:
        page.wait_for_function(expression, timeout=timeout)
    except PlaywrightTimeout:
        raise AssertionError(f"{expression} still false after {timeout} ms; {state} = {page.evaluate(state)}") from None


def off_the_loop(build: Callable[[], T]) -> T:
    """Run `build` in a thread of its own: Playwright's loop runs in the test's, and the services' live
    pushes use async_to_sync."""

    def run() -> T:
        try:
            return build()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(run).result(timeout=60)


def shoot(page: Page, name: str) -> None:
    """Screenshots at phone and desktop widths (for people to look at), and no sideways scroll on phones."""
    SHOTS.mkdir(exist_ok=True)
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
