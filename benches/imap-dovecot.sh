#!/usr/bin/env bash
# IMAP fetch benchmark against a private, local Dovecot (never the system one).
#
#   benches/imap-dovecot.sh [MAILS]      # default 10000; run as root
#
# Starts Dovecot in a temporary directory on a free port, fills the mailbox
# with MAILS generated mails (the `atalaya bench import` generator: Spanish
# and English, several charsets, HTML alternatives, attachments), then runs
# `atalaya bench imap`, which lets the real poller
# fetch the whole folder into a fresh store and prints mails/s.
# Needs dovecot-imapd (tests/run installs it).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
MAILS=${1:-10000}
command -v dovecot >/dev/null || { echo "install dovecot-imapd first (tests/run does)" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/atalaya
DIR=$(mktemp -d /tmp/atalaya-imap-bench.XXXXXX)
chmod 0755 "$DIR"
trap 'doveadm -c "$DIR/dovecot.conf" stop >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$DIR/run" "$DIR/state" "$DIR/mail"
cat > "$DIR/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DIR/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
echo 'bench@atalaya.test:{PLAIN}bench-pass' > "$DIR/users"
echo "generating $MAILS mails…"
# The import bench writes its generated Maildir to DIR/gen/maildir.
"$BIN" bench import --mails "$MAILS" --dir "$DIR/gen" >/dev/null
BOX="$DIR/mail/bench@atalaya.test/Maildir"
mkdir -p "$BOX/tmp" "$BOX/new"
mv "$DIR/gen/maildir/cur" "$BOX/cur"
chown -R nobody:nogroup "$DIR/mail"
dovecot -c "$DIR/dovecot.conf"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
# Let Dovecot index the folder before timing (a real mailbox is indexed).
doveadm -c "$DIR/dovecot.conf" mailbox status -u bench@atalaya.test messages INBOX
ATALAYA_BENCH_IMAP_PASSWORD=bench-pass "$BIN" bench imap --port "$PORT" \
  --username bench@atalaya.test --security none
