"""gunicorn's settings, read from the working directory by default (the Dockerfile's and docker-compose's
`gunicorn salesmarketing.wsgi …` pick it up): access-log lines with searches, emails and names redacted
(salesmarketing/redact.py)."""

logger_class = "salesmarketing.redact.GunicornLogger"
