#!/usr/bin/env bash
# bench/run.sh - run every Poshta benchmark against its anchor (Postfix, Dovecot) and print the tables.
#
#   bench/run.sh [--quick] [--poshta PATH] [--count N] [--reps N] [--conns N] [--postfix-conns N]
#                [--pop3-count N] [--imap-count N] [--imap-conns N] [--json FILE] [--keep]
#
#   --quick            small sizes for a smoke test (300 messages, 2 reps, 1000/100 connections,
#                      a 2000-message POP3 maildrop, a 10000-message IMAP mailbox and 100 idle
#                      IMAP connections; load.py with 200 senders, 500 idle IMAP, 50 slow clients)
#   --poshta PATH      the binary (default: build/poshta)
#   --count N          messages per SMTP and relay run (default 2000)
#   --reps N           repetitions per case, medians printed (default 3)
#   --conns N          idle connections held to Poshta (default 5000)
#   --postfix-conns N  idle connections held to Postfix (default 200; one process each)
#   --pop3-count N     messages in the POP3 maildrop (default 10000)
#   --imap-count N     messages in the IMAP mailbox (default 100000)
#   --imap-conns N     idle logged-in IMAP connections held to each server (default 500)
#   --json FILE        also append machine-readable results to FILE
#   --keep             keep the scratch directories under /var/tmp (logs, mail)
#
# Run as root after `scripts/setup.sh`. Progress goes to stderr, the tables to
# stdout; the exit status is non-zero when a run failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

common=()
delivery=()
relay=()
memory=()
pop3=()
imap=()
load=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) delivery+=(--count 300 --reps 2); relay+=(--count 300 --reps 2); memory+=(--conns 1000 --postfix-conns 100 --reps 2)
             pop3+=(--count 2000 --reps 2); imap+=(--count 10000 --conns 100 --reps 2)
             load+=(--senders 200 --idle 500 --slow 50 --seconds 5) ;;
    --poshta) common+=("$1" "$2"); load+=("$1" "$2"); shift ;;
    --json) common+=("$1" "$2"); shift ;;
    --keep) common+=("$1") ;;
    --count) delivery+=(--count "$2"); relay+=(--count "$2"); shift ;;
    --reps) delivery+=(--reps "$2"); relay+=(--reps "$2"); memory+=(--reps "$2"); pop3+=(--reps "$2")
            imap+=(--reps "$2"); shift ;;
    --conns) memory+=(--conns "$2"); shift ;;
    --postfix-conns) memory+=(--postfix-conns "$2"); shift ;;
    --pop3-count) pop3+=(--count "$2"); shift ;;
    --imap-count) imap+=(--count "$2"); shift ;;
    --imap-conns) imap+=(--conns "$2"); shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" != 0 ]; then
  echo "run.sh: run as root (Postfix's private instance needs it)" >&2
  exit 1
fi
command -v postfix >/dev/null || { echo "run.sh: Postfix missing: scripts/setup.sh" >&2; exit 1; }
command -v dovecot >/dev/null || { echo "run.sh: Dovecot missing: scripts/setup.sh" >&2; exit 1; }

status=0
echo "== Poshta benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r)"
echo
python3 "$here/smtp_delivery.py" "${common[@]}" "${delivery[@]}" || status=1
echo
python3 "$here/relay.py" "${common[@]}" "${relay[@]}" || status=1
echo
python3 "$here/idle_memory.py" "${common[@]}" "${memory[@]}" || status=1
echo
python3 "$here/pop3.py" "${common[@]}" "${pop3[@]}" || status=1
echo
python3 "$here/imap.py" "${common[@]}" "${imap[@]}" || status=1
echo
python3 "$here/load.py" "${load[@]}" || status=1
exit $status
