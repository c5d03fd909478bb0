"""The browser half of a Xero sign-in: PKCE pairs and the authorize address (reference §2, §5).

The agent always sends a PKCE challenge, also in ``code`` mode (an app with a secret): Xero
accepts PKCE on any authorization-code app, and the verifier binds the code to this agent.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from agent.config import Settings

AUTHORIZE_PATH = "/identity/connect/authorize"


def pkce_pair() -> tuple[str, str]:
    """A new (verifier, S256 challenge) pair. The verifier is 86 characters (RFC 7636: 43-128)
    and never leaves the agent; only the challenge goes into the authorize address."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(settings: Settings, state: str, challenge: str, redirect_uri: str) -> str:
    """Xero's authorize page for the user's app, with the scopes of ``ATX_XERO_SCOPES``."""
    if not settings.xero_client_id:
        raise ValueError("authorize_url needs ATX_XERO_CLIENT_ID")
    params = {
        "response_type": "code",
        "client_id": settings.xero_client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(settings.xero_scope_list),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.xero_login_url}{AUTHORIZE_PATH}?{urlencode(params)}"
