#!/usr/bin/python3
"""SMTP peer for Atalaya's integration tests (Debian's aiosmtpd 1.4).

Run by tests/common/peers/smtp.rs with /usr/bin/python3. Listens on
127.0.0.1:PORT and stores every accepted message under DIR:

  DIR/maildir/new/SEQ.PID.atalaya-smtp   the raw message (as received, CRLF)
  DIR/envelopes/SEQ.json                 {"seq", "mail_from", "rcpt_tos",
                                          "auth_user", "tls"}

SEQ is a zero-padded arrival number that continues across restarts. The
envelope is written before the message appears in maildir/new.

Fault injection: DIR/mode is re-read on every MAIL, RCPT and DATA:

  accept          normal operation (also when the file is missing)
  temp421         "421 4.3.0 try later" to MAIL and DATA, then close
  temp451         "451 4.3.0 local error" to DATA
  perm550         "550 5.1.1 mailbox unavailable" to RCPT
  perm550data     "550 5.1.1 mailbox unavailable" to DATA
  tarpit SECONDS  wait SECONDS before answering DATA, then accept
"""

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

log = logging.getLogger("atalaya-smtpd")


class PeerSMTP(SMTP):
    """Closes the connection after any 421 reply, as RFC 5321 expects."""

    async def push(self, status):
        await super().push(status)
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        if text.startswith("421") and self.transport is not None:
            log.info("closing the connection after %r", text)
            self.transport.close()


class Handler:
    def __init__(self, root, implicit_tls):
        self.root = root
        self.implicit_tls = implicit_tls
        self.mode_path = os.path.join(root, "mode")
        self.new = os.path.join(root, "maildir", "new")
        self.tmp = os.path.join(root, "maildir", "tmp")
        self.envelopes = os.path.join(root, "envelopes")
        for d in (self.new, self.tmp, os.path.join(root, "maildir", "cur"), self.envelopes):
            os.makedirs(d, exist_ok=True)
        seqs = [int(name.split(".", 1)[0]) for name in os.listdir(self.new) if name[:1].isdigit()]
        self.next_seq = max(seqs, default=0) + 1

    def mode(self):
        try:
            with open(self.mode_path) as f:
                words = f.read().split()
        except FileNotFoundError:
            words = []
        if not words:
            return "accept", 0.0
        arg = float(words[1]) if len(words) > 1 else 0.0
        return words[0], arg

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        mode, _ = self.mode()
        if mode == "temp421":
            return "421 4.3.0 try later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode, _ = self.mode()
        if mode == "perm550":
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mode, arg = self.mode()
        if mode == "tarpit":
            log.info("tarpit: waiting %s s before answering DATA", arg)
            await asyncio.sleep(arg)
        elif mode == "temp421":
            return "421 4.3.0 try later"
        elif mode == "temp451":
            return "451 4.3.0 local error"
        elif mode == "perm550data":
            return "550 5.1.1 mailbox unavailable"
        seq = self.next_seq
        self.next_seq += 1
        auth_user = session.auth_data if isinstance(session.auth_data, str) else None
        meta = {
            "seq": seq,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "auth_user": auth_user,
            "tls": self.implicit_tls or session.ssl is not None,
        }
        env_tmp = os.path.join(self.envelopes, "%08d.json.tmp" % seq)
        with open(env_tmp, "w") as f:
            json.dump(meta, f)
        os.rename(env_tmp, os.path.join(self.envelopes, "%08d.json" % seq))
        name = "%08d.%d.atalaya-smtp" % (seq, os.getpid())
        tmp = os.path.join(self.tmp, name)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.new, name))
        log.info("stored message %d from %s to %s", seq, envelope.mail_from, envelope.rcpt_tos)
        return "250 2.0.0 OK queued as %d" % seq


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        ):
            return AuthResult(success=True, auth_data=user)
        log.info("AUTH %s failed", mechanism)
        return AuthResult(success=False, handled=False)

    return authenticator


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--security", choices=["none", "starttls", "tls"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()

    ctx = None
    if a.security != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    handler = Handler(a.dir, a.security == "tls")
    auth = a.user is not None
    loop = asyncio.get_running_loop()

    def factory():
        return PeerSMTP(
            handler,
            hostname="smtp.example.test",
            ident="Atalaya test SMTP peer",
            enable_SMTPUTF8=True,
            tls_context=ctx if a.security == "starttls" else None,
            require_starttls=a.security == "starttls",
            authenticator=make_authenticator(a.user, a.password) if auth else None,
            auth_required=auth,
            # aiosmtpd only counts STARTTLS as TLS: with implicit TLS (and for
            # the plain-text tests) AUTH must be allowed without it.
            auth_require_tls=a.security == "starttls",
            timeout=60,
            loop=loop,
        )

    server = await loop.create_server(
        factory,
        host="127.0.0.1",
        port=a.port,
        ssl=ctx if a.security == "tls" else None,
        reuse_address=True,
    )
    log.info("listening on 127.0.0.1:%d (security=%s, auth=%s)", a.port, a.security, auth)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    asyncio.run(main())
