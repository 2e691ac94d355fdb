"""Cross-cutting web security: login throttling and the headers Django has no setting for.

Login throttling counts failed logins in Django's cache (per process with locmem, shared by every worker when
CACHE_URL names a Redis), per username and per client IP. LOGIN_FAILURE_LIMIT failures within
LOGIN_FAILURE_WINDOW seconds lock that username for LOGIN_LOCKOUT_SECONDS; LOGIN_IP_FAILURE_LIMIT failures from
one address lock that address the same way. A successful login clears the username's count (not the address's:
otherwise an attacker with one valid account could reset it between guesses).

The lock is keyed on whatever username was typed, so it behaves the same for accounts that exist and names that
do not: the page never tells a guesser which usernames are real.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from salesmarketing.models import Notification

# --- Login throttling -----------------------------------------------------------------------------------


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _cache():
    return caches[getattr(settings, "LOGIN_THROTTLE_CACHE", "default")]


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: REMOTE_ADDR, or with NUM_PROXIES trusted proxies in front, the address the outermost
    of them saw (counted from the right of X-Forwarded-For, so a client cannot forge it by sending the header)."""
    if request is None:
        return ""
    proxies = _setting("NUM_PROXIES", 0)
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "")


def rate_limited(request: HttpRequest, scope: str, per_minute: int) -> bool:
    """Whether this request is one too many: a fixed one-minute window per client IP and `scope` (the login
    throttle's rule, so behind NUM_PROXIES proxies it is the client's address, not the proxy's), counted in
    Django's cache (shared when the cache is Redis; per process while that Redis is down, see
    salesmarketing/cache.py). The public endpoints (capture forms, tracking, meeting booking) use it."""
    window = int(time.time() // 60)
    key = f"leads:rate:{scope}:{client_ip(request)}:{window}"
    cache = caches["default"]
    if cache.add(key, 1, timeout=90):
        return per_minute < 1
    try:
        return cache.incr(key) > per_minute
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=90)
        return False


def _keys(kind: str, value: str) -> tuple[str, str]:
    # Hashed so that cache keys hold no usernames or addresses, and any length or character is a valid key.
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login:fail:{kind}:{digest}", f"login:lock:{kind}:{digest}"


def _subjects(request: HttpRequest | None, username: str) -> list[tuple[str, str, int]]:
    """(kind, value, failure limit) for the username typed and the client's address."""
    subjects = [("user", username.strip().casefold(), _setting("LOGIN_FAILURE_LIMIT", 5))]
    ip = client_ip(request)
    if ip:
        subjects.append(("ip", ip, _setting("LOGIN_IP_FAILURE_LIMIT", 30)))
    return subjects


@dataclass(frozen=True)
class LoginLock:
    until: float  # epoch seconds

    @property
    def until_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.until, tz=UTC)

    def message(self) -> str:
        local = timezone.localtime(self.until_datetime)
        return _("Too many failed login attempts. Please try again after %(time)s.") % {
            "time": formats.time_format(local, "H:i")
        }


def login_lock(request: HttpRequest | None, username: str) -> LoginLock | None:
    """The lock that stops this login attempt now, if any (the later one when both name and address are locked)."""
    cache = _cache()
    locks = cache.get_many([_keys(kind, value)[1] for kind, value, _limit in _subjects(request, username)])
    now = time.time()
    until = max((float(v) for v in locks.values() if v and float(v) > now), default=None)
    return LoginLock(until) if until is not None else None


def login_failed(request: HttpRequest | None, username: str) -> None:
    """Count a failed login against the username and the address; lock whichever reached its limit."""
    cache = _cache()
    window = _setting("LOGIN_FAILURE_WINDOW", 15 * 60)
    lockout = _setting("LOGIN_LOCKOUT_SECONDS", 15 * 60)
    for kind, value, limit in _subjects(request, username):
        count_key, lock_key = _keys(kind, value)
        # A fixed window from the first failure: add() starts it, incr() keeps its expiry (locmem and Redis).
        if cache.add(count_key, 1, timeout=window):
            count = 1
        else:
            try:
                count = cache.incr(count_key)
            except ValueError:  # expired between add() and incr()
                cache.set(count_key, 1, timeout=window)
                count = 1
        if count >= limit:
            cache.set(lock_key, time.time() + lockout, timeout=lockout)
            cache.delete(count_key)  # after the lock, a fresh window


def login_succeeded(username: str) -> None:
    count_key, _lock_key = _keys("user", username.strip().casefold())
    _cache().delete(count_key)


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that refuses locked usernames and addresses and counts failures.

    Every password check goes through authenticate(), so the login page, the admin's login and anything added
    later are throttled alike; the login form adds the explanation (ThrottledAuthenticationForm).

    get_user() loads the signed-in user of every request together with what the layout shows of them, in one
    statement: their team (the user menu) and their unread notification count (the bell, read by
    salesmarketing.context_processors.layout as `unread_notifications`)."""

    def get_user(self, user_id):
        user_model = get_user_model()
        unread = (
            Notification.objects.filter(recipient=OuterRef("pk"), read_at__isnull=True)
            .order_by()
            .values("recipient")
            .annotate(n=Count("pk"))
            .values("n")
        )
        try:
            user = (
                user_model._default_manager.select_related("team")
                .annotate(unread_notifications=Coalesce(Subquery(unread), 0))
                .get(pk=user_id)
            )
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if login_lock(request, str(username)) is not None:
            # PermissionDenied stops authenticate() from trying any other backend.
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failed(request, str(username))
        else:
            login_succeeded(str(username))
        return user


class ThrottledAuthenticationForm(AuthenticationForm):
    """The login form, saying when a username or address is locked and until when (the same words whether or
    not the account exists)."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and self.cleaned_data.get("password"):
            self._raise_if_locked(username)
        try:
            return super().clean()
        except ValidationError as exc:
            # The failure that reached the limit says so at once, rather than on the next try.
            if username and getattr(exc, "code", None) == "invalid_login":
                self._raise_if_locked(username)
            raise

    def _raise_if_locked(self, username: str) -> None:
        lock = login_lock(self.request, username)
        if lock is not None:
            raise ValidationError(lock.message(), code="throttled")


# --- Headers ---------------------------------------------------------------------------------------------


class PermissionsPolicyMiddleware:
    """Sends PERMISSIONS_POLICY (a dict of feature → allowlist) as the Permissions-Policy header."""

    def __init__(self, get_response):
        self.get_response = get_response
        policy = getattr(settings, "PERMISSIONS_POLICY", {}) or {}
        self.header = ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in policy.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.header
        return response
