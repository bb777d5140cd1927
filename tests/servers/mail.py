"""Real loopback mail servers for tests.

* :class:`ImapServer` runs a private Dovecot instance (``dovecot -F -c CONF``) with its
  own configuration, passwd-file, maildir storage, logs and runtime directory, all in a
  temporary directory. Nothing under ``/etc/dovecot`` is read or modified. It listens on
  127.0.0.1 with a plaintext IMAP port (plaintext auth allowed) and, unless disabled, an
  implicit-TLS IMAPS port using a self-signed certificate generated with ``openssl`` at
  start (``cafile`` trusts it).
* :class:`SmtpServer` runs an aiosmtpd :class:`~aiosmtpd.controller.Controller` on
  127.0.0.1 and records every message as ``(mail_from, rcpt_tos, raw_bytes)``.

Typical use::

    with ImapServer() as imap:
        imap.append(raw_bytes)
        ...  # point the application at imap.host / imap.port / imap.user / imap.password
        assert imap.seen_count() == 1

    with SmtpServer() as smtp:
        ...
        mail_from, rcpt_tos, raw = smtp.wait_for(1)[0]
"""

from __future__ import annotations

import atexit
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

DOVECOT_BIN = "/usr/sbin/dovecot"
DEFAULT_USER = "desk@example.co.jp"
DEFAULT_PASSWORD = "ushiro-desk-pass"  # noqa: S105 - test-only credential


class MailServerError(RuntimeError):
    """A test mail server could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def dovecot_path() -> str | None:
    if os.path.isfile(DOVECOT_BIN) and os.access(DOVECOT_BIN, os.X_OK):
        return DOVECOT_BIN
    return shutil.which("dovecot")


def dovecot_available() -> bool:
    """True if a Dovecot binary is installed (``/usr/sbin/dovecot`` or on PATH)."""
    return dovecot_path() is not None


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_OPENSSL_CNF = """\
[req]
distinguished_name = dn
x509_extensions = v3
prompt = no

[dn]
CN = localhost
O = Ushiro test IMAP

[v3]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
"""


class ImapServer:
    """A private Dovecot IMAP server on loopback.

    Attributes: ``host``, ``port`` (plain IMAP), ``tls_port`` (IMAPS, ``None`` if
    ``tls=False``), ``user``, ``password``, ``cafile`` (PEM of the self-signed server
    certificate, ``None`` without TLS), ``workdir`` (temp dir), ``log_path``.
    """

    def __init__(
        self,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        *,
        tls: bool = True,
        host: str = "127.0.0.1",
        startup_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.user = user
        self.password = password
        self.tls = tls
        self.startup_timeout = startup_timeout
        self.port: int = 0
        self.tls_port: int | None = None
        self.cafile: str | None = None
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self.config_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._atexit_registered = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if self._proc is not None:
            return self
        binary = dovecot_path()
        if binary is None:
            raise MailServerError(
                f"Dovecot is not installed ({DOVECOT_BIN} missing); "
                "install the Debian package dovecot-imapd"
            )
        if self.tls and not openssl_available():
            raise MailServerError("the openssl command is needed to make the IMAPS certificate")

        self.workdir = Path(tempfile.mkdtemp(prefix="ushiro-imap-"))
        try:
            self._prepare(binary)
            self._launch(binary)
        except BaseException:
            self.stop()
            raise
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        return self

    def _accounts(self) -> tuple[str, str, int, int, str, str]:
        """(internal user, login user, mail uid, mail gid, internal group, login group)."""
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            return me, me, os.geteuid(), os.getegid(), group, group

        def account(*names: str) -> pwd.struct_passwd:
            for name in names:
                try:
                    return pwd.getpwnam(name)
                except KeyError:
                    continue
            raise MailServerError(f"none of the system users {names} exists")

        internal = account("dovecot", "nobody")
        login = account("dovenull", "nobody")
        # Dovecot refuses uid 0 for mail processes: store mail as an unprivileged uid.
        mail = account("nobody", "dovenull", "dovecot")
        return (
            internal.pw_name,
            login.pw_name,
            mail.pw_uid,
            mail.pw_gid,
            grp.getgrgid(internal.pw_gid).gr_name,
            grp.getgrgid(login.pw_gid).gr_name,
        )

    def _prepare(self, binary: str) -> None:
        assert self.workdir is not None
        work = self.workdir
        # Unprivileged Dovecot processes (auth, imap) must be able to traverse it.
        os.chmod(work, 0o755)
        internal_user, login_user, mail_uid, mail_gid, internal_group, _ = self._accounts()

        for sub in ("run", "state"):
            (work / sub).mkdir()
        home_root = work / "home"
        home_root.mkdir()
        home = home_root / self.user
        home.mkdir()
        if os.geteuid() == 0:
            os.chown(home, mail_uid, mail_gid)
        os.chmod(home, 0o700)

        passwd = work / "passwd"
        # user:password:uid:gid:gecos:home:shell:extra   (uid/home come from the static userdb)
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n", encoding="utf-8")
        os.chmod(passwd, 0o644)

        self.log_path = work / "dovecot.log"
        self.port = free_port(self.host)
        ssl_block = "ssl = no\n"
        imaps_listener = ""
        if self.tls:
            self.tls_port = free_port(self.host)
            while self.tls_port == self.port:
                self.tls_port = free_port(self.host)
            cert, key = self._make_certificate(work)
            self.cafile = str(cert)
            ssl_block = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n"
            for dh in ("/usr/share/dovecot/dh.pem", "/etc/dovecot/dh.pem"):
                if os.path.isfile(dh) and os.access(dh, os.R_OK):
                    ssl_block += f"ssl_dh = <{dh}\n"
                    break
            imaps_listener = (
                "  inet_listener imaps {\n"
                f"    address = {self.host}\n"
                f"    port = {self.tls_port}\n"
                "    ssl = yes\n"
                "  }\n"
            )
        non_root = ""
        if os.geteuid() != 0:
            # Without root there is no chroot and no privilege separation.
            non_root = "".join(
                f"service {svc} {{\n  chroot =\n}}\n"
                for svc in (
                    "aggregator",
                    "anvil",
                    "director",
                    "imap-login",
                    "imap-urlauth-login",
                    "ipc",
                    "old-stats",
                    "pop3-login",
                    "submission-login",
                )
            )

        config = f"""\
# Private Dovecot instance for the Ushiro test suite (generated; do not edit).
instance_name = ushiro-test-{self.port}
base_dir = {work}/run
state_dir = {work}/state
log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
protocols = imap
listen = {self.host}
shutdown_clients = yes

default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1

{ssl_block}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={home_root}/%u
}}

mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
{imaps_listener}}}
{non_root}"""
        self.config_path = work / "dovecot.conf"
        self.config_path.write_text(config, encoding="utf-8")
        os.chmod(self.config_path, 0o644)

        check = subprocess.run(
            [binary, "-c", str(self.config_path), "-n"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check.returncode != 0:
            raise MailServerError(
                "Dovecot rejected the generated configuration:\n" + (check.stderr or check.stdout)
            )

    def _make_certificate(self, work: Path) -> tuple[Path, Path]:
        cnf = work / "openssl.cnf"
        cnf.write_text(_OPENSSL_CNF, encoding="utf-8")
        cert, key = work / "cert.pem", work / "key.pem"
        result = subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-config",
                str(cnf),
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "7",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0 or not cert.exists():
            raise MailServerError(f"openssl could not create a certificate:\n{result.stderr}")
        os.chmod(key, 0o600)
        os.chmod(cert, 0o644)
        return cert, key

    def _launch(self, binary: str) -> None:
        assert self.workdir is not None and self.config_path is not None
        assert self.log_path is not None
        out = open(self.workdir / "dovecot.stdout", "wb")  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole in stop()
                cwd=self.workdir,
            )
        finally:
            out.close()

        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                raise MailServerError(
                    f"Dovecot exited with status {self._proc.returncode} during start-up.\n"
                    + self._diagnostics()
                )
            if all(_port_open(self.host, p) for p in ports):
                break
            if time.monotonic() > deadline:
                raise MailServerError(
                    f"Dovecot did not accept connections on {self.host}:{ports} "
                    f"within {self.startup_timeout:.0f} s.\n" + self._diagnostics()
                )
            time.sleep(0.05)
        # The listener is up; make sure a login really works (auth + mail processes).
        try:
            with self.client() as conn:
                conn.select("INBOX")
        except Exception as exc:  # noqa: BLE001
            raise MailServerError(
                f"Dovecot is listening but a test login failed: {exc!r}\n" + self._diagnostics()
            ) from exc

    def _diagnostics(self) -> str:
        parts = []
        if self.log_path is not None:
            parts.append(f"--- tail of {self.log_path} ---\n{_tail(self.log_path)}")
        if self.workdir is not None:
            stdout = self.workdir / "dovecot.stdout"
            if stdout.exists() and stdout.stat().st_size:
                parts.append(f"--- dovecot stdout/stderr ---\n{_tail(stdout)}")
        return "\n".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines) if self.log_path else ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            pgid = proc.pid  # start_new_session: the group id is the master's pid
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            # Dovecot's children share the group; make sure none survives the master.
            if not _group_gone(pgid, 2.0):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _group_gone(pgid, 3.0)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ client helpers
    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts (only) this server's self-signed certificate."""
        if self.cafile is None:
            raise MailServerError("this ImapServer was started without TLS")
        return ssl.create_default_context(cafile=self.cafile)

    def client(self, *, use_tls: bool = False) -> imaplib.IMAP4:
        """A logged-in imaplib connection (plain IMAP, or IMAPS with ``use_tls``)."""
        conn: imaplib.IMAP4
        if use_tls:
            if self.tls_port is None:
                raise MailServerError("this ImapServer was started without TLS")
            conn = imaplib.IMAP4_SSL(
                self.host, self.tls_port, ssl_context=self.ssl_context(), timeout=10
            )
        else:
            conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def create_folder(self, folder: str) -> None:
        with self.client() as conn:
            typ, data = conn.create(_imap_quote(folder))
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(d or b"" for d in data):
                raise MailServerError(f"CREATE {folder} failed: {data!r}")

    def folders(self) -> list[str]:
        with self.client() as conn:
            _, data = conn.list()
        names = []
        for line in data:
            if isinstance(line, bytes):
                m = re.match(rb'\(.*?\) (?:"[^"]*"|NIL) "?(.*?)"?$', line)
                if m:
                    names.append(m.group(1).decode("utf-8", "replace"))
        return names

    def append(
        self,
        raw: bytes,
        folder: str = "INBOX",
        flags: Iterable[str] = (),
        date_time: Any = None,
    ) -> int | None:
        """Plant ``raw`` in ``folder`` with IMAP APPEND; return its UID (from APPENDUID).

        ``flags`` e.g. ``("\\\\Seen",)``; folders other than INBOX are created if needed.
        """
        if folder.upper() != "INBOX":
            self.create_folder(folder)
        flag_str = "(" + " ".join(flags) + ")" if flags else None
        with self.client() as conn:
            typ, data = conn.append(
                _imap_quote(folder),
                flag_str,
                date_time or imaplib.Time2Internaldate(time.time()),
                raw,
            )
        if typ != "OK":
            raise MailServerError(f"APPEND to {folder} failed: {data!r}")
        m = re.search(rb"APPENDUID \d+ (\d+)", b" ".join(d for d in data if d))
        return int(m.group(1)) if m else None

    def _search(self, folder: str, criterion: str) -> list[int]:
        with self.client() as conn:
            typ, data = conn.select(_imap_quote(folder), readonly=True)
            if typ != "OK":
                raise MailServerError(f"SELECT {folder} failed: {data!r}")
            typ, data = conn.uid("SEARCH", criterion)
        if typ != "OK":
            raise MailServerError(f"SEARCH {criterion} in {folder} failed: {data!r}")
        return [int(x) for x in (data[0] or b"").split()]

    def count(self, folder: str = "INBOX") -> int:
        """Number of messages in ``folder``."""
        return len(self._search(folder, "ALL"))

    def seen_count(self, folder: str = "INBOX") -> int:
        return len(self._search(folder, "SEEN"))

    def unseen_count(self, folder: str = "INBOX") -> int:
        return len(self._search(folder, "UNSEEN"))

    def uids(self, folder: str = "INBOX", criterion: str = "ALL") -> list[int]:
        return self._search(folder, criterion)

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """``{uid: {"\\\\Seen", ...}}`` for every message in ``folder``."""
        with self.client() as conn:
            conn.select(_imap_quote(folder), readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
        result: dict[int, set[str]] = {}
        if typ != "OK":
            return result
        for item in data:
            if not isinstance(item, bytes):
                continue
            m_uid = re.search(rb"UID (\d+)", item)
            m_flags = re.search(rb"FLAGS \(([^)]*)\)", item)
            if m_uid:
                flags = m_flags.group(1).decode().split() if m_flags else []
                result[int(m_uid.group(1))] = set(flags)
        return result

    def fetch_all(self, folder: str = "INBOX") -> list[bytes]:
        """Raw bytes of every message in ``folder`` (does not set \\Seen)."""
        with self.client() as conn:
            conn.select(_imap_quote(folder), readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
        if typ != "OK":
            return []
        return [item[1] for item in data if isinstance(item, tuple)]


# ====================================================================== SMTP


class ReceivedMessage(NamedTuple):
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


class _CollectingHandler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content if isinstance(content, bytes) else content.encode("utf-8")
        self._server._record(
            ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), bytes(raw))
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on loopback collecting ``(mail_from, rcpt_tos, raw_bytes)``.

    ``user``/``password`` (optional) enable AUTH PLAIN/LOGIN without TLS; sending without
    authenticating is then refused (530).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host = host
        self.port = 0
        self.user = user
        self.password = password
        self.messages: list[ReceivedMessage] = []
        self._cond = threading.Condition()
        self._controller: Any = None

    def _record(self, msg: ReceivedMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def start(self) -> Self:
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller

        kwargs: dict[str, Any] = {"enable_SMTPUTF8": True}
        if self.user is not None:
            from aiosmtpd.smtp import AuthResult, LoginPassword

            expected = (self.user.encode(), (self.password or "").encode())

            def authenticator(
                server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and (auth_data.login, auth_data.password) == expected
                )
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=False)
            # Deliberate for loopback tests; aiosmtpd warns on every connection otherwise.
            warnings.filterwarnings(
                "ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning
            )
        last_error: Exception | None = None
        for _ in range(5):  # free_port() is racy; retry on a clash
            self.port = free_port(self.host)
            controller = Controller(
                _CollectingHandler(self), hostname=self.host, port=self.port, **kwargs
            )
            try:
                controller.start()
            except Exception as exc:  # noqa: BLE001
                last_error = exc
                continue
            self._controller = controller
            return self
        raise MailServerError(f"aiosmtpd could not start on {self.host}: {last_error!r}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()

    def wait_for(self, n: int = 1, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Block until at least ``n`` messages arrived; return a copy of ``messages``."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= n, timeout):
                raise AssertionError(
                    f"expected {n} message(s) on SMTP {self.host}:{self.port} within "
                    f"{timeout} s, got {len(self.messages)}"
                )
            return list(self.messages)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
