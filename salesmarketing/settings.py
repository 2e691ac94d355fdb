"""Settings for salesmarketing: one module, every value from the environment.

Every variable read here is documented in .env.example.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from salesmarketing.env import env_bool, env_int, env_list, env_str, load_env_file, weak_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# An optional .env beside manage.py (the same file docker compose reads); ENV_FILE="" turns it off.
load_env_file(env_str("ENV_FILE", str(BASE_DIR / ".env")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
# Outside DEBUG the key signs sessions, CSRF tokens and the tracking and unsubscribe links: a missing, short or
# published one lets anyone forge them, so the app refuses to start. Exempt are processes that serve and sign
# nothing: a test run (pytest in this process; the processes the tests start as production get a strong key),
# the type check (django-stubs loads these settings inside mypy) and the build commands (./scripts/test's
# migrations check, the translations, the image's collectstatic).
_BUILD_COMMANDS = {"makemigrations", "collectstatic", "compilemessages", "makemessages"}
_SIGNS_NOTHING = (
    "pytest" in sys.modules
    or "mypy" in sys.modules
    or (
        len(sys.argv) > 1
        and Path(sys.argv[0]).name in ("manage.py", "django-admin")
        and sys.argv[1] in _BUILD_COMMANDS
    )
)
if not DEBUG and not _SIGNS_NOTHING:
    secret_key_problem = weak_secret_key(SECRET_KEY)
    if secret_key_problem:
        raise ImproperlyConfigured(
            f"SECRET_KEY {secret_key_problem}. Set a long random value when DEBUG is off, e.g. the output of "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"` (see .env.example).'
        )
if not SECRET_KEY:
    SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"
# Rotating the key: the old ones, comma-separated, still verify sessions, signed links and stored secrets.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "ninja",
    "salesmarketing",
    "leads",
    "campaigns",
    "pipeline",
    "nurture",
    "quotes",
    "kpis",
    "reminders",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside the session and auth middleware, whose database reads and writes can fail too.
    "salesmarketing.middleware.DatabaseUnavailableMiddleware",
    # Whether this request may read from the replica, and read-your-writes after it wrote (no-op without one).
    "salesmarketing.replica.ReplicaMiddleware",
    "csp.middleware.CSPMiddleware",
    "salesmarketing.security.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "salesmarketing.middleware.InvalidDateInputMiddleware",
]

ROOT_URLCONF = "salesmarketing.urls"
WSGI_APPLICATION = "salesmarketing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "salesmarketing.context_processors.layout",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# PostgreSQL (psycopg 3) through DATABASE_URL; a SQLite file under var/ when it is unset.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT: the app's queries are short (pages, reports over an index range); compiling them took longer than
    # running them (20–40 ms per KPI aggregate at 1M leads).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "salesmarketing.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }
# A streaming replica of the primary for the reads of read-only pages (salesmarketing/replica.py), when
# DATABASE_REPLICA_URL is set. Reads fall back to the primary (and a warning is logged) while the replica is down or
# replays more than DATABASE_REPLICA_MAX_LAG_SECONDS behind; a browser that wrote reads from the primary for
# DATABASE_REPLICA_STICKY_SECONDS after (keep it above the lag limit, so a writer always sees their write).
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 5)
DATABASE_REPLICA_STICKY_SECONDS = env_int("DATABASE_REPLICA_STICKY_SECONDS", 10)
if DATABASE_URL and DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60)),
        "CONN_HEALTH_CHECKS": True,
        # a replica that does not answer is skipped after this long, not waited for
        "OPTIONS": {
            "options": "-c jit=off",
            "connect_timeout": env_int("DATABASE_REPLICA_CONNECT_TIMEOUT", 2),
        },
        # Tests: the replica server holds the primary's test database under the same name (streaming copies the
        # whole cluster), so the alias takes the primary's test database name and creates nothing.
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["salesmarketing.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users ----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "salesmarketing.User"
# ModelBackend plus login throttling (salesmarketing/security.py); the login page explains a lock.
AUTHENTICATION_BACKENDS = ["salesmarketing.security.ThrottledModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language, time, money ------------------------------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "ja")
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Tokyo")
USE_I18N = True
USE_TZ = True
# Our date and date-time styles per language (salesmarketing/formats/<lang>/formats.py); inputs keep Django's.
FORMAT_MODULE_PATH = ["salesmarketing.formats"]
USE_THOUSAND_SEPARATOR = False  # grouping is explicit (|num, |yen), so ids in markup never become "1,234"
CURRENCY = env_str("CURRENCY", "JPY")

# --- Cache ----------------------------------------------------------------------------------------
# Rate limits and small computed values. Per-process memory unless CACHE_URL names a shared Redis (use another
# Redis database than the broker's, e.g. redis://127.0.0.1:6379/1), so that every gunicorn worker sees the same.
# While that Redis does not answer, the cache falls back to per-process memory (salesmarketing/cache.py): forms,
# tracking and login keep working, with per-process limits. Short socket timeouts keep an unreachable host from
# holding requests.
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": {
        "BACKEND": "salesmarketing.cache.RedisCacheWithFallback",
        "LOCATION": CACHE_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# How long an unread KPI value of a period that is over stays cached (0: never). Writes invalidate by day
# (kpis.changes), so this bounds memory, not freshness.
KPI_CACHE_SECONDS = env_int("KPI_CACHE_SECONDS", 900)

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Hashed, compressed files once `collectstatic` has run (the Docker image does); plain files before that,
# so a fresh checkout (and the test suite) serves straight from static/.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _COLLECTED and not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _COLLECTED

# --- Email ----------------------------------------------------------------------------------------
# SMTP by default. ./scripts/dev (DEBUG) writes each message as a file under var/mail/ instead (EMAIL_FILE_PATH).
# An email service provider through django-anymail: EMAIL_ESP=amazon_ses | sendgrid | mailgun | postmark | brevo
# (| any anymail backend module), with its key in ANYMAIL_API_KEY (and MAILGUN_SENDER_DOMAIN for Mailgun);
# EMAIL_BACKEND, when set, wins over both.
EMAIL_ESP = env_str("EMAIL_ESP")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    f"anymail.backends.{EMAIL_ESP}.EmailBackend"
    if EMAIL_ESP
    else "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "salesmarketing.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
_ANYMAIL_KEY_NAMES = {"sendgrid": "SENDGRID_API_KEY", "mailgun": "MAILGUN_API_KEY", "postmark": "POSTMARK_SERVER_TOKEN", "brevo": "BREVO_API_KEY"}  # fmt: skip
ANYMAIL: dict[str, str] = {}
if EMAIL_ESP in _ANYMAIL_KEY_NAMES and env_str("ANYMAIL_API_KEY"):
    ANYMAIL[_ANYMAIL_KEY_NAMES[EMAIL_ESP]] = env_str("ANYMAIL_API_KEY")
if env_str("MAILGUN_SENDER_DOMAIN"):
    ANYMAIL["MAILGUN_SENDER_DOMAIN"] = env_str("MAILGUN_SENDER_DOMAIN")
if env_str("ANYMAIL_WEBHOOK_SECRET"):
    ANYMAIL["WEBHOOK_SECRET"] = env_str("ANYMAIL_WEBHOOK_SECRET")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "salesmarketing <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Marketing email (nurture.mail): links in messages start with SITE_URL (https in production: RFC 8058's one-click
# unsubscribe needs it); List-Unsubscribe also names a mailto: when EMAIL_UNSUBSCRIBE_MAILTO is set. A broadcast's
# throttle defaults to BROADCAST_THROTTLE_PER_MINUTE; a send claimed by a worker that has been silent for
# EMAIL_SEND_STALE_SECONDS is given up as "unknown" (never sent twice; nurture/mail/sending.py).
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")
EMAIL_UNSUBSCRIBE_MAILTO = env_str("EMAIL_UNSUBSCRIBE_MAILTO")
BROADCAST_THROTTLE_PER_MINUTE = env_int("BROADCAST_THROTTLE_PER_MINUTE", 600)
EMAIL_SEND_STALE_SECONDS = env_int("EMAIL_SEND_STALE_SECONDS", 300)
# Bounces (nurture.mail.bounces). EMAIL_RETURN_PATH, when set, is the envelope sender of marketing email: the
# address bounces go back to, received by `manage.py receive_mail` (its own process in docker-compose) on
# INBOUND_EMAIL_HOST:INBOUND_EMAIL_PORT for the domains in INBOUND_EMAIL_DOMAINS (any domain when empty).
# Email providers report bounces and complaints to their tracking webhooks instead (ANYMAIL_WEBHOOK_SECRET).
EMAIL_RETURN_PATH = env_str("EMAIL_RETURN_PATH")
INBOUND_EMAIL_HOST = env_str("INBOUND_EMAIL_HOST", "127.0.0.1")
INBOUND_EMAIL_PORT = env_int("INBOUND_EMAIL_PORT", 2525)
INBOUND_EMAIL_DOMAINS = [d.strip().lower() for d in env_str("INBOUND_EMAIL_DOMAINS").split(",") if d.strip()]
INBOUND_EMAIL_MAX_BYTES = env_int("INBOUND_EMAIL_MAX_BYTES", 10 * 1024 * 1024)
INBOUND_EMAIL_RETRY_SECONDS = env_int("INBOUND_EMAIL_RETRY_SECONDS", 120)
# Soft bounces (mailbox full, server busy) on this many different messages within 30 days make an address
# undeliverable, as one hard bounce does.
EMAIL_SOFT_BOUNCE_LIMIT = env_int("EMAIL_SOFT_BOUNCE_LIMIT", 3)
# E-mail to and from leads on their timeline (pipeline.mailbox): reps BCC (or forward to) INBOUND_EMAIL_LOG_ADDRESS,
# an address of INBOUND_EMAIL_DOMAINS the mail receiver takes; attachments are kept up to these sizes.
INBOUND_EMAIL_LOG_ADDRESS = env_str("INBOUND_EMAIL_LOG_ADDRESS")
INBOUND_ATTACHMENT_MAX_BYTES = env_int("INBOUND_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)
INBOUND_ATTACHMENTS_MAX_BYTES = env_int("INBOUND_ATTACHMENTS_MAX_BYTES", 15 * 1024 * 1024)
# A broadcast's batch (its throttle's share) starts every BROADCAST_BATCH_SECONDS; the sweep (every
# MAIL_SWEEP_INTERVAL_SECONDS) restarts a sending broadcast whose last batch began BROADCAST_STALL_SECONDS ago (longer
# than a batch task may run). The fault tests shorten all three.
BROADCAST_BATCH_SECONDS = env_int("BROADCAST_BATCH_SECONDS", 60)
BROADCAST_STALL_SECONDS = env_int("BROADCAST_STALL_SECONDS", 360)
# A batch is sent by up to this many parts at once, one per `email` worker process (their total, across hosts).
BROADCAST_BATCH_PARTS = env_int("BROADCAST_BATCH_PARTS", 2)
MAIL_SWEEP_INTERVAL_SECONDS = env_int("MAIL_SWEEP_INTERVAL_SECONDS", 60)
# Sequences (nurture.sequences): each run (every minute) queues and sends at most SEQUENCE_BATCH_SIZE steps; new
# members of trigger segments are enrolled every SEQUENCE_SEGMENT_ENROL_SECONDS.
SEQUENCE_BATCH_SIZE = env_int("SEQUENCE_BATCH_SIZE", 500)
SEQUENCE_SEGMENT_ENROL_SECONDS = env_int("SEQUENCE_SEGMENT_ENROL_SECONDS", 300)

# Webhooks and team chat (integrations): a receiver must answer within INTEGRATIONS_TIMEOUT_SECONDS (connect, then
# read); a failing delivery is retried with backoff for INTEGRATIONS_RETRY_HOURS, then its target is flagged and
# switched off. Targets must be public addresses unless INTEGRATIONS_ALLOW_PRIVATE_TARGETS (an intranet receiver;
# the tests' loopback servers). Chatwork's API lives at CHATWORK_API_BASE. The sweeper runs every
# INTEGRATIONS_SWEEP_SECONDS; events and deliveries are kept INTEGRATIONS_KEEP_DAYS.
INTEGRATIONS_TIMEOUT_SECONDS = env_int("INTEGRATIONS_TIMEOUT_SECONDS", 5)
INTEGRATIONS_RETRY_HOURS = env_int("INTEGRATIONS_RETRY_HOURS", 24)
INTEGRATIONS_ALLOW_PRIVATE_TARGETS = env_bool("INTEGRATIONS_ALLOW_PRIVATE_TARGETS", False)
INTEGRATIONS_SWEEP_SECONDS = env_int("INTEGRATIONS_SWEEP_SECONDS", 60)
INTEGRATIONS_KEEP_DAYS = env_int("INTEGRATIONS_KEEP_DAYS", 30)
CHATWORK_API_BASE = env_str("CHATWORK_API_BASE", "https://api.chatwork.com/v2")
# A user's own IMAP mailbox (integrations.imap): beat polls every IMAP_POLL_SECONDS, each run reads at most
# IMAP_POLL_BATCH new messages per mailbox (the rest on the next run); a newly connected mailbox starts with the
# messages of its last IMAP_BACKFILL_DAYS days. Its host must be public unless INTEGRATIONS_ALLOW_PRIVATE_TARGETS.
IMAP_POLL_SECONDS = env_int("IMAP_POLL_SECONDS", 120)
IMAP_POLL_BATCH = env_int("IMAP_POLL_BATCH", 200)
IMAP_BACKFILL_DAYS = env_int("IMAP_BACKFILL_DAYS", 7)
IMAP_TIMEOUT_SECONDS = env_int("IMAP_TIMEOUT_SECONDS", 20)

# --- Celery ---------------------------------------------------------------------------------------
# With REDIS_URL unset, tasks run in-process (eagerly) so the app works end to end without a broker.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes every database connection before and after each task unless told to reuse them: each task then
# opened a new PostgreSQL connection, a new backend process with its caches cold (at size l, half of a hot lead's
# event → handoff time). Workers keep theirs as the web does: salesmarketing.celery closes them around each task
# as Django does around a request (close_old_connections: DB_CONN_MAX_AGE, health checks), and this number of
# tasks, never reached, is when Celery itself would.
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message taken by a worker that dies comes back after this many seconds (tasks must finish well within it).
# Message priorities (Redis): each queue is one Redis list per priority step (`realtime`, `realtime<sep>3`, …) and
# a worker takes from the lowest step first, so 0 is the highest priority (a message sent without one is 0). Only
# batch work asks for less (leads.services.leads_touched: a bulk ingest's scoring waits behind a single capture's).
# These are kombu's defaults, stated because the broker's queue lengths are read from them
# (salesmarketing.celery.broker_queue_keys); `sep` stays kombu's, as the exchange bindings already stored in Redis
# are joined with it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "priority_steps": [0, 3, 6, 9],
    "sep": "\x06\x16",
}
# The sweeper (leads.tasks.sweep) re-queues work the database says is unfinished once it is this old, and looks
# this far back for touches stored while the broker was down.
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 300)
SWEEP_STALE_SECONDS = env_int("SWEEP_STALE_SECONDS", 600)
SWEEP_LOOKBACK_HOURS = env_int("SWEEP_LOOKBACK_HOURS", 48)
RESCORE_BATCH_SIZE = env_int("RESCORE_BATCH_SIZE", 20_000)  # lead ids per full-rescore batch task
RESCORE_STEP_SIZE = env_int("RESCORE_STEP_SIZE", 2_000)  # lead ids per transaction of a batch
# How long a realtime task (an event's scoring, a handoff's assignment) waits for a lead row that bulk work holds
# before it steps back and is retried (leads.bulk.not_waiting_on_bulk_locks; PostgreSQL only).
REALTIME_LOCK_TIMEOUT_MS = env_int("REALTIME_LOCK_TIMEOUT_MS", 1000)
# Named queues, so that a hot lead never waits behind bulk work: `realtime` (an event batch's scoring, the MQL flip
# and handoff, assignment, SLA checks, notifications; small, latency-bound), `ingest` (the same scoring and
# assignment for many leads at once: a bulk API batch, an import, a rescore's handoffs, the sweeper's catch-up; sent
# there by leads.services.lane, their routes say `realtime`), `bulk` (rescores, attribution, KPI refresh, snapshots,
# imports, exports, sweeps; long, throughput-bound), `email` (sends, throttled) and `integrations` (webhooks and team
# chat: calls to other people's servers, which may take their timeouts). Every task of our apps has a route here
# (tests/salesmarketing/test_task_routes.py fails on one without); production runs a worker per queue
# (docker-compose.yml), a worker started without -Q consumes them all.
TASK_QUEUE_NAMES = ("realtime", "ingest", "bulk", "email", "integrations")
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in TASK_QUEUE_NAMES)
CELERY_TASK_DEFAULT_QUEUE = "bulk"  # Celery's own tasks (e.g. chord_unlock); ours are all routed below
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {
    **{
        f"leads.tasks.{name}": {"queue": "realtime"}
        for name in ("process_touched_leads", "assign_handoffs", "sla_check")
    },
    "salesmarketing.tasks.ping": {"queue": "realtime"},  # the health check's round trip
    **{f"leads.tasks.{name}": {"queue": "bulk"} for name in ("rescore_batch", "rescore_all", "sweep")},
    "leads.bulk_actions.tasks.bulk_job_run": {"queue": "bulk"},  # the lead list's bulk jobs
    **{
        f"campaigns.tasks.{name}": {"queue": "bulk"}
        for name in (
            "refresh_leads",
            "refresh_lead_range",
            "match_personas",
            "match_personas_range",
            "refresh_rollups",
            "link_campaign_touches",
            "attribution_sweep",
        )
    },  # fmt: skip
    **{
        f"kpis.tasks.{name}": {"queue": "bulk"}
        for name in ("freeze_weekly_snapshots", "refresh_dashboards", "fold_day_marks")
    },
    "salesmarketing.tasks.purge_old_notifications": {"queue": "bulk"},
    "salesmarketing.tasks.inbound_email_process": {"queue": "realtime"},
    "salesmarketing.tasks.inbound_email_sweep": {"queue": "bulk"},
    "salesmarketing.tasks.send_notification_email": {"queue": "email"},
    "salesmarketing.tasks.notification_email_sweep": {"queue": "bulk"},
    **{
        f"nurture.mail.tasks.{name}": {"queue": "email"}
        for name in ("broadcast_start", "broadcast_send_batch", "broadcast_send_part", "mail_sweep")
    },
    "quotes.tasks.send_quote_email": {"queue": "email"},
    "pipeline.booking.tasks.send_booking_invitation": {"queue": "email"},
    "quotes.tasks.expire_quotes": {"queue": "bulk"},
    "nurture.sequences.tasks.sequence_run": {"queue": "email"},
    "nurture.sequences.tasks.sequence_segment_enrol": {"queue": "bulk"},
    "reminders.tasks.send_reminders": {"queue": "realtime"},
    **{f"reminders.tasks.{name}": {"queue": "email"} for name in ("queue_digests", "send_digest")},
    **{
        f"integrations.tasks.{name}": {"queue": "integrations"}
        for name in ("dispatch_events", "deliver", "sweep", "imap_poll", "imap_poll_mailbox")
    },
}
# Reminders (reminders.schedule): a to-do, next step or action item is due at TASKS_DUE_HOUR on its due date
# (Asia/Tokyo), reminded TASKS_REMIND_BEFORE_MINUTES before and again when overdue; reminder moments a stopped beat
# missed are caught up for TASKS_REMIND_CATCHUP_HOURS. Daily digests are looked for every DIGEST_INTERVAL_SECONDS.
TASKS_DUE_HOUR = env_int("TASKS_DUE_HOUR", 18)
TASKS_REMIND_BEFORE_MINUTES = env_int("TASKS_REMIND_BEFORE_MINUTES", 9 * 60)
TASKS_REMIND_CATCHUP_HOURS = env_int("TASKS_REMIND_CATCHUP_HOURS", 48)
DIGEST_INTERVAL_SECONDS = env_int("DIGEST_INTERVAL_SECONDS", 300)
# Beat claims each periodic run in the database before sending it (PeriodicRun): a second beat sends nothing.
CELERY_BEAT_SCHEDULER = "salesmarketing.beat:ClaimingScheduler"
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "handoff-sla-check": {"task": "leads.tasks.sla_check", "schedule": 60.0},
    "sweep-lost-work": {"task": "leads.tasks.sweep", "schedule": float(SWEEP_INTERVAL_SECONDS)},
    "nightly-rescore": {"task": "leads.tasks.rescore_all", "schedule": crontab(hour=2, minute=0)},
    "campaigns-attribution-sweep": {"task": "campaigns.tasks.attribution_sweep", "schedule": 300.0},
    "purge-read-notifications": {
        "task": "salesmarketing.tasks.purge_old_notifications",
        "schedule": crontab(hour=3, minute=30),
    },
    # Monday 00:05 in CELERY_TIMEZONE (Asia/Tokyo): the ISO week that just ended is frozen for the meeting.
    "kpis-freeze-weekly-snapshots": {
        "task": "kpis.tasks.freeze_weekly_snapshots",
        "schedule": crontab(day_of_week=1, hour=0, minute=5),
    },
    "kpis-refresh-dashboards": {"task": "kpis.tasks.refresh_dashboards", "schedule": 600},
    "kpis-fold-day-marks": {"task": "kpis.tasks.fold_day_marks", "schedule": 60.0},
    # Starts due broadcasts, restarts stalled ones, gives up sends of dead workers (nurture.mail.tasks).
    "nurture-mail-sweep": {
        "task": "nurture.mail.tasks.mail_sweep",
        "schedule": float(MAIL_SWEEP_INTERVAL_SECONDS),
    },
    # Received e-mail nobody has read yet (the broker was down, or a reader crashed): queued again.
    "inbound-email-sweep": {"task": "salesmarketing.tasks.inbound_email_sweep", "schedule": 300.0},
    # Notification e-mails whose task the broker lost: queued again (salesmarketing.services).
    "notification-email-sweep": {"task": "salesmarketing.tasks.notification_email_sweep", "schedule": 300.0},
    # Sent quotes past their validity become expired (quotes.tasks), just after midnight in Asia/Tokyo.
    "quotes-expire": {"task": "quotes.tasks.expire_quotes", "schedule": crontab(hour=0, minute=10)},
    # Sequences: exits, due steps queued and sent (nurture.sequences.tasks); trigger segments' new members enrolled.
    "nurture-sequence-run": {"task": "nurture.sequences.tasks.sequence_run", "schedule": 60.0},
    # Reminders of to-dos, next steps and action items before due, when overdue, after a snooze (reminders.tasks).
    "reminders-send": {"task": "reminders.tasks.send_reminders", "schedule": 60.0},
    "reminders-daily-digests": {
        "task": "reminders.tasks.queue_digests",
        "schedule": float(DIGEST_INTERVAL_SECONDS),
    },
    # Webhooks and team chat: dispatches the broker lost, due retries, old rows (integrations.tasks).
    "integrations-sweep": {"task": "integrations.tasks.sweep", "schedule": float(INTEGRATIONS_SWEEP_SECONDS)},
    # Users' IMAP mailboxes: new messages go the SMTP receiver's way (salesmarketing.inbound), one task per mailbox.
    "integrations-imap-poll": {"task": "integrations.tasks.imap_poll", "schedule": float(IMAP_POLL_SECONDS)},
    "nurture-sequence-segment-enrol": {
        "task": "nurture.sequences.tasks.sequence_segment_enrol",
        "schedule": float(SEQUENCE_SEGMENT_ENROL_SECONDS),
    },
}

# --- Security -------------------------------------------------------------------------------------
# SECURE_COOKIES=1 (the default outside DEBUG) says the site is served over HTTPS: Secure cookies, HSTS and the
# redirect to https follow from it unless set one by one. Behind a proxy that terminates TLS, set
# SECURE_PROXY_SSL_HEADER (e.g. X-Forwarded-Proto) so that Django sees https and does not redirect in a loop.
SERVED_OVER_HTTPS = not DEBUG and env_bool("SECURE_COOKIES", True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SERVED_OVER_HTTPS
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14)
CSRF_COOKIE_SECURE = SERVED_OVER_HTTPS
CSRF_COOKIE_HTTPONLY = True  # the token reaches HTMX through hx-headers on <body>, never from the cookie
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SERVED_OVER_HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container's health check speaks plain HTTP to itself
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365 if SERVED_OVER_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is a promise to browser vendors that is slow to take back, so it is opt-in; its reminder is silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Covering indexes (Index(include=…)) speed up PostgreSQL only; SQLite, the zero-setup default, builds them
    # without the extra columns, which is all it needs, so its warning about that is noise for a newcomer.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Only our own static files run or style a page: no inline scripts, styles or handlers (static/js/app.js sets
# the few computed styles through the CSSOM, which CSP allows). The capture endpoints (/f/, /t/) are posted and
# loaded from customers' sites; this header only governs our own pages, and the public form widens
# form-action to its redirect's origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}

# Login throttling (salesmarketing/security.py), counted in the default cache.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 30)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
# Trusted reverse proxies in front of the app; the client's address is then read from X-Forwarded-For.
NUM_PROXIES = env_int("NUM_PROXIES", 0)

# Every handler redacts searches, emails and names from what it writes (salesmarketing/redact.py), runserver's
# request log ("django.server") included.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "salesmarketing.redact.RedactFilter"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "celery.app.trace": {"level": "WARNING"},  # one line per task is noise at INFO
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
