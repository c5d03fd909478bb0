"""``atx demo`` only: a browser for the Xero connect flow, for demo runs with no browser at hand.

It does exactly what the user's browser does: opens the short link with the code (the agent's
connect pages redirect to Xero's authorize page), consents there (the sandbox's Xero consents at
once) and follows Xero's redirect to the agent's ``/callback``. Nothing of it is used with the
real Xero, whose consent page needs a person.
"""

from __future__ import annotations

import httpx


async def play_browser(link: str, code: str, timeout: float = 15.0) -> str | None:
    """Follow the connect flow as a browser would; None when the callback page answered 200,
    else a one-line reason."""
    try:
        async with httpx.AsyncClient(follow_redirects=True, timeout=timeout) as browser:
            page = await browser.get(link, params={"code": code})
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if page.status_code != 200:
        return f"{page.url.path} answered {page.status_code}"
    return None
