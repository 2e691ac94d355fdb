"""Run the SMTP listener for bounces and forwarded mail until stopped (SIGTERM / Ctrl-C)."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from salesmarketing.mailreceiver import controller


class Command(BaseCommand):
    help = "Receive e-mail over SMTP (the return-path for bounces, and forwarded mail) and store it for the apps."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.INBOUND_EMAIL_HOST)
        parser.add_argument("--port", type=int, default=settings.INBOUND_EMAIL_PORT)

    def handle(self, *args, host: str, port: int, **options) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        listener = controller(hostname=host, port=port)
        listener.start()
        self.stdout.write(f"Receiving mail on {host}:{port}")
        try:
            stop.wait()
        finally:
            listener.stop()
