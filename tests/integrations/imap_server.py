"""A real IMAP server for the tests: Debian's Dovecot (dovecot-imapd), run by the test as its own process with a
minimal configuration in a temporary directory — IMAP only, on a free loopback port, plain-text login (loopback
only, no TLS), one user from a passwd-file, mail in Maildir. `scripts/test` installs it when run as root."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.nurture.mail_fixtures import free_port

USER = "rep@mail.example.jp"
PASSWORD = "imap-Pa55-word"


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (path for path in ("/usr/sbin/dovecot",) if os.access(path, os.X_OK)), None
    )


@dataclass
class ImapServer:
    process: subprocess.Popen
    port: int
    root: Path
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    def append(self, raw: bytes) -> None:
        """Deliver a message to the user's INBOX (IMAP APPEND, as a mail server's delivery would end up)."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            status, _data = client.append("INBOX", None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def flags(self) -> list[bytes]:
        """Every INBOX message's flags (to show the app marked nothing read)."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            client.select("INBOX", readonly=True)
            _status, data = client.fetch("1:*", "(FLAGS)")
            return [line for line in data if isinstance(line, bytes)]
        finally:
            client.logout()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_dovecot() -> ImapServer:
    binary = dovecot_binary()
    assert binary
    root = Path(tempfile.mkdtemp(prefix="sm-dovecot-"))
    root.chmod(0o755)  # as root, the mail user walks down to its home (/tmp itself is open to all)
    port = free_port()
    home = root / "home"
    home.mkdir(parents=True)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    if os.getuid() == 0:
        # As root, Dovecot drops to its own users (the package creates them); the mail user is `dovecot` too.
        mail_user = pwd.getpwnam("dovecot")
        os.chown(home, mail_user.pw_uid, mail_user.pw_gid)
        users = ""
    else:
        mail_user = pwd.getpwuid(os.getuid())
        users = f"default_internal_user = {mail_user.pw_name}\ndefault_login_user = {mail_user.pw_name}\n"
    (root / "dovecot.conf").write_text(
        f"""{users}base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {mail_user.pw_uid}
last_valid_uid = {mail_user.pw_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = ImapServer(process=process, port=port, root=root)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            imaplib.IMAP4("127.0.0.1", port, timeout=1).logout()
            return server
        except OSError:
            time.sleep(0.1)
    stop_dovecot(server)
    raise RuntimeError(f"dovecot did not listen on {port}: {server.log()}")


def stop_dovecot(server: ImapServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    shutil.rmtree(server.root, ignore_errors=True)
