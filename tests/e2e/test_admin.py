"""The command line: check, version, usage errors, and the administrative
commands (users, domains, aliases), seen by a running server at once."""

import os
import re
import subprocess

import pytest

from poshta_helpers import RawSMTP, check_one_stored, make_message, smtp_send


def run(server, *args, input=None):
    """poshta ARGS (no -c added)."""
    return subprocess.run([server.bin, *args], input=input, text=True, capture_output=True,
                          timeout=60, cwd=server.dir)


def rcpt_code(server, rcpt):
    with RawSMTP(server.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        c.cmd("QUIT")
        return r


# ----------------------------------------------------------------- check, version, usage


def test_check_accepts_the_test_configuration(poshta_factory):
    server = poshta_factory(start=False)
    r = server.cli("check")
    assert r.returncode == 0, r


def test_check_names_the_line_of_a_misspelt_key(poshta_factory, tmp_path):
    server = poshta_factory(start=False)
    bad = tmp_path / "bad.toml"
    bad.write_text('# a configuration with a typo\n'
                   f'data_dir = "{tmp_path}/data"\n'
                   'hostnmae = "x"\n'
                   'domains = ["localhost"]\n')
    r = run(server, "check", "-c", str(bad))
    out = r.stdout + r.stderr
    assert r.returncode == 1, f"exit {r.returncode}: {out}"
    assert "hostnmae" in out, out
    assert re.search(r"line\s*3\b|:3\b", out), f"the problem must name line 3: {out!r}"


@pytest.mark.parametrize("text,line", [
    ('hostname = "mx.test"\n\n[limits]\nmessage_size = "big"\n', 4),
    ('hostname = "mx.test"\n[[listen]]\nprotocol = "gopher"\naddress = "127.0.0.1:7"\n', 3),
    ('hostname = "mx.test"\n[limits]\ncommand_timeout = "5 fortnights"\n', 3),
], ids=["wrong-type", "unknown-protocol", "bad-duration"])
def test_check_reports_bad_values_with_their_line(poshta_factory, tmp_path, text, line):
    server = poshta_factory(start=False)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    r = run(server, "check", "-c", str(bad))
    out = r.stdout + r.stderr
    assert r.returncode == 1, f"exit {r.returncode}: {out}"
    assert re.search(rf"line\s*{line}\b|:{line}\b", out), f"the problem must name line {line}: {out!r}"


def test_check_reports_every_problem(poshta_factory, tmp_path):
    server = poshta_factory(start=False)
    bad = tmp_path / "bad.toml"
    bad.write_text('hostname = "mx.test"\nfoo = 1\n[limits]\nbar = 2\n')
    r = run(server, "check", "-c", str(bad))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "foo" in out and "bar" in out, f"both problems must be reported: {out!r}"
    assert re.search(r"line\s*2\b|:2\b", out) and re.search(r"line\s*4\b|:4\b", out), out


def test_missing_configuration_file_exits_1(poshta_factory, tmp_path):
    server = poshta_factory(start=False)
    r = run(server, "check", "-c", str(tmp_path / "nonexistent.toml"))
    assert r.returncode == 1, r
    assert "nonexistent.toml" in r.stdout + r.stderr


def test_check_reports_toml_syntax_error(poshta_factory, tmp_path):
    server = poshta_factory(start=False)
    bad = tmp_path / "bad.toml"
    bad.write_text('hostname = "mx.test"\ndomains = ["localhost"\n')
    r = run(server, "check", "-c", str(bad))
    assert r.returncode == 1, r


def test_serve_refuses_a_bad_configuration(poshta_factory, tmp_path):
    server = poshta_factory(start=False)
    bad = tmp_path / "bad.toml"
    bad.write_text(f'data_dir = "{tmp_path}/data"\nhostnmae = "x"\n')
    r = subprocess.run([server.bin, "serve", "-c", str(bad)], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert "hostnmae" in r.stdout + r.stderr


def test_version(poshta_factory):
    server = poshta_factory(start=False)
    r = run(server, "version")
    assert r.returncode == 0, r
    assert re.search(r"\d+\.\d+", r.stdout), f"no version number in {r.stdout!r}"


@pytest.mark.parametrize("args", [
    ["version", "--no-such-flag"],
    ["serve", "--no-such-flag"],
    ["frobnicate"],
    ["user", "add"],
    ["user", "frobnicate", "x@localhost"],
    ["alias", "add", "team@localhost"],
], ids=lambda a: " ".join(a))
def test_bad_usage_exits_2(poshta_factory, args):
    server = poshta_factory(start=False)
    r = server.cli(*args)
    assert r.returncode == 2, f"poshta {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert r.stderr.strip() or r.stdout.strip(), "bad usage must say what is wrong"
    assert not (server.data_dir / "poshta.pid").exists()


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["user", "add", "--help"],
                                  ["alias", "--help"], ["check", "--help"]],
                         ids=lambda a: " ".join(a))
def test_help_exits_0(poshta_factory, args):
    server = poshta_factory(start=False)
    r = run(server, *args)
    assert r.returncode == 0, r
    assert r.stdout.strip(), "help goes to stdout"


# ----------------------------------------------------------------- users


PASSWORDS = {"alice@localhost": "Tr0ub4dor&3-alice-secret", "bob@example.test": "correct-horse-bob-42"}


def test_user_list_shows_users_not_passwords(poshta):
    for addr, pw in PASSWORDS.items():
        poshta.add_user(addr, pw)
    r = poshta.cli_ok("user", "list")
    for addr, pw in PASSWORDS.items():
        assert addr in r.stdout, r.stdout
        assert pw not in r.stdout + r.stderr
    assert not re.search(r"\$(y|2[aby]|5|6|7|gy|argon2i?d?)\$", r.stdout), \
        f"user list shows password hashes: {r.stdout!r}"


def test_passwords_are_not_stored_in_clear(poshta):
    for addr, pw in PASSWORDS.items():
        poshta.add_user(addr, pw)
    poshta.cli_ok("user", "passwd", "alice@localhost", "--password-stdin",
                  input="a-new-Pa55word-for-alice\n")
    secrets = [pw.encode() for pw in PASSWORDS.values()] + [b"a-new-Pa55word-for-alice"]
    # let the running server touch its files too
    assert smtp_send(poshta.smtp_port, "a@b.test", ["alice@localhost"], make_message()) == {}
    poshta.wait_files("alice@localhost", 1)
    checked = 0
    for root, _dirs, files in os.walk(poshta.data_dir):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.isfile(p):  # the control socket
                continue
            with open(p, "rb") as fh:
                data = fh.read()
            checked += 1
            for s in secrets:
                assert s not in data, f"a password is stored in clear text in {p}"
    assert checked > 0
    log = poshta.log.read_bytes()
    for s in secrets:
        assert s not in log, "a password appears in the server log"


def test_user_add_and_del_seen_by_running_server(poshta):
    r = rcpt_code(poshta, "carol@localhost")
    assert r.code == 550, r
    poshta.add_user("carol@localhost")
    r = rcpt_code(poshta, "carol@localhost")
    assert r.code == 250, f"user added while running must be accepted at once: {r!r}"
    msg = make_message(to="carol@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["Carol@LOCALHOST"], msg) == {}
    check_one_stored(poshta, "carol@localhost", "a@b.test", msg)
    poshta.cli_ok("user", "del", "carol@localhost")
    assert "carol@localhost" not in poshta.cli_ok("user", "list").stdout
    r = rcpt_code(poshta, "carol@localhost")
    assert r.code == 550 and r.enhanced == "5.1.1", f"user deleted while running: {r!r}"


def test_user_add_creates_the_maildir(poshta_factory):
    """Mail clients and other Maildir readers find the mailbox from the
    start, before any mail arrives."""
    server = poshta_factory(start=False)
    server.cli_ok("user", "add", "Dora@Example.TEST", "--password-stdin", input="pw-dora\n")
    box = server.maildir("dora@example.test")
    assert box == server.data_dir / "mail" / "example.test" / "dora"
    for sub in ("cur", "new", "tmp"):
        assert (box / sub).is_dir(), f"{box / sub} missing after user add"
    assert not any((box / "new").iterdir())


def test_user_errors_exit_1(poshta):
    poshta.add_user("dave@localhost")
    r = poshta.cli("user", "add", "dave@localhost", "--password-stdin", input="pw-dave-2\n")
    assert r.returncode == 1, f"duplicate user: {r}"
    assert len((r.stderr or r.stdout).strip().splitlines()) == 1, "one line that says what to do"
    r = poshta.cli("user", "add", "not an address", "--password-stdin", input="pw\n")
    assert r.returncode == 1, f"invalid address: {r}"
    r = poshta.cli("user", "del", "nobody@localhost")
    assert r.returncode == 1, f"deleting an unknown user: {r}"
    r = poshta.cli("user", "passwd", "nobody@localhost", "--password-stdin", input="pw\n")
    assert r.returncode == 1, f"passwd of an unknown user: {r}"
    r = poshta.cli("user", "add", "x@notlocal.test", "--password-stdin", input="pw-x-1\n")
    assert r.returncode == 1, f"a user in a domain that is not local: {r}"
    assert "notlocal.test" in r.stderr + r.stdout
    r = poshta.cli("user", "add", "empty@localhost", "--password-stdin", input="\n")
    assert r.returncode == 1, f"an empty password: {r}"
    r = poshta.cli("alias", "add", "a@notlocal.test", "postmaster@localhost")
    assert r.returncode == 1, f"an alias in a domain that is not local: {r}"
    r = poshta.cli("alias", "add", "b@localhost", "not an address")
    assert r.returncode == 1, f"an alias target that is not an address: {r}"
    r = poshta.cli("domain", "add", "bad domain")
    assert r.returncode == 1, f"an invalid domain name: {r}"
    out = poshta.cli_ok("user", "list").stdout
    assert out.count("dave@localhost") == 1
    assert "empty@localhost" not in out and "notlocal" not in out


def test_users_survive_restart(poshta):
    poshta.add_user("erin@localhost")
    poshta.restart()
    assert rcpt_code(poshta, "erin@localhost").code == 250
    assert "erin@localhost" in poshta.cli_ok("user", "list").stdout


def test_admin_commands_without_a_running_server(poshta_factory):
    server = poshta_factory(start=False)
    server.add_user("frank@localhost")
    server.cli_ok("domain", "add", "offline.test")
    server.cli_ok("alias", "add", "crew@offline.test", "frank@localhost")
    assert "frank@localhost" in server.cli_ok("user", "list").stdout
    server.start()
    msg = make_message(to="crew@offline.test")
    assert smtp_send(server.smtp_port, "a@b.test", ["crew@offline.test"], msg) == {}
    check_one_stored(server, "frank@localhost", "a@b.test", msg)


# ----------------------------------------------------------------- domains


def test_domain_add_list_del_seen_by_running_server(poshta):
    r = rcpt_code(poshta, "postmaster@new.test")
    assert r.code in (550, 554) and r.enhanced == "5.7.1", f"not yet a local domain: {r!r}"
    poshta.cli_ok("domain", "add", "new.test")
    assert "new.test" in poshta.cli_ok("domain", "list").stdout.split()
    assert rcpt_code(poshta, "postmaster@new.test").code == 250
    poshta.add_user("gina@new.test")
    msg = make_message(to="gina@new.test")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["gina@new.test", "postmaster@new.test"], msg) == {}
    check_one_stored(poshta, "gina@new.test", "a@b.test", msg)
    check_one_stored(poshta, "postmaster@new.test", "a@b.test", msg)
    assert (poshta.data_dir / "mail" / "new.test" / "gina" / "new").is_dir()
    r = poshta.cli("domain", "add", "new.test")
    assert r.returncode == 1, f"adding a domain twice: {r}"
    r = poshta.cli("domain", "del", "new.test")
    assert r.returncode in (0, 1), r
    if r.returncode == 0:
        assert "new.test" not in poshta.cli_ok("domain", "list").stdout.split()
        r = rcpt_code(poshta, "postmaster@new.test")
        assert r.code in (550, 554) and r.enhanced == "5.7.1", f"domain deleted: {r!r}"
    else:
        # refusing to delete a domain that still has users is fine, with a reason
        assert (r.stderr + r.stdout).strip()


def test_domain_del_unknown_exits_1(poshta):
    r = poshta.cli("domain", "del", "never-added.test")
    assert r.returncode == 1, r


# ----------------------------------------------------------------- aliases


def test_alias_add_list_del_seen_by_running_server(poshta):
    poshta.add_user("hank@localhost")
    assert rcpt_code(poshta, "sales@localhost").code == 550
    poshta.cli_ok("alias", "add", "sales@localhost", "hank@localhost")
    out = poshta.cli_ok("alias", "list").stdout
    assert "sales@localhost" in out and "hank@localhost" in out, out
    assert rcpt_code(poshta, "sales@localhost").code == 250
    msg = make_message(to="sales@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["sales@localhost"], msg) == {}
    check_one_stored(poshta, "hank@localhost", "a@b.test", msg)
    poshta.cli_ok("alias", "del", "sales@localhost")
    assert "sales@localhost" not in poshta.cli_ok("alias", "list").stdout
    r = rcpt_code(poshta, "sales@localhost")
    assert r.code == 550, f"alias deleted while running: {r!r}"
    r = poshta.cli("alias", "del", "sales@localhost")
    assert r.returncode == 1, f"deleting an unknown alias: {r}"


def test_nested_aliases_expand_recursively(poshta):
    poshta.add_user("ivy@localhost")
    poshta.cli_ok("alias", "add", "all@localhost", "devs@localhost", "postmaster@localhost")
    poshta.cli_ok("alias", "add", "devs@localhost", "ivy@localhost")
    msg = make_message(to="all@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["all@localhost"], msg) == {}
    check_one_stored(poshta, "ivy@localhost", "a@b.test", msg)
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_alias_to_remote_address_is_accepted(poshta):
    """A local alias may forward to a remote address; that is not relaying
    for the client, so RCPT is accepted without AUTH."""
    poshta.cli_ok("alias", "add", "fwd@localhost", "someone@remote.example")
    r = rcpt_code(poshta, "fwd@localhost")
    assert r.code == 250, r


def test_default_configuration_is_poshta_toml_in_the_working_directory(poshta_factory, tmp_path):
    server = poshta_factory(start=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run([server.bin, "check"], capture_output=True, text=True, timeout=30, cwd=empty)
    assert r.returncode == 0, f"the embedded defaults must be valid: {r}"
    (empty / "poshta.toml").write_text('hostname = "x"\nhostnmae = "y"\n')
    r = subprocess.run([server.bin, "check"], capture_output=True, text=True, timeout=30, cwd=empty)
    assert r.returncode == 1, f"./poshta.toml must be read when present: {r}"
    assert "hostnmae" in r.stdout + r.stderr
