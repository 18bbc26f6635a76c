"""`klosetctl login`: the integrations' own flows, driven from the command line."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from tests.cli.conftest import cli_env, klosetctl
from tests.emulators.graph import GraphEmulator


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(auto_approve_device=True, device_interval=1) as emu:
        yield emu


def test_login_onedrive_device_code_prints_config(graph: GraphEmulator, tmp_path: Path) -> None:
    token = tmp_path / "od.json"
    proc = klosetctl(
        "login",
        "onedrive",
        "--device-code",
        "--client-id",
        graph.client_id,
        "--tenant",
        graph.tenant_id,
        "--token-file",
        str(token),
        "-o",
        f"graph_endpoint={graph.graph_url}",
        "-o",
        f"authority_host={graph.base_url}",
        "-o",
        f"ca_bundle={graph.ca_cert_path}",
        env=cli_env(REQUESTS_CA_BUNDLE="", CURL_CA_BUNDLE=""),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"client_id={graph.client_id}" in proc.stdout
    assert f"token_file={token}" in proc.stdout
    assert "token_cache" not in proc.stdout  # the old alias, not the declared name
    assert "plakar store add" in proc.stdout
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_login_needs_the_app_registration() -> None:
    proc = klosetctl("login", "gdrive", "--headless")
    assert proc.returncode == 2
    assert "--client-id" in proc.stderr and "--client-secret" in proc.stderr


def test_login_rejects_unknown_flow_arguments(graph: GraphEmulator) -> None:
    proc = klosetctl("login", "onedrive", "--client-id", "x", "-o", "bogus=1")
    assert proc.returncode == 2 and "takes no bogus" in proc.stderr


def test_login_gdrive_headless_with_a_pasted_address(tmp_path: Path) -> None:
    """The headless flow: print the URL, the user consents elsewhere and pastes the address."""
    import re
    import subprocess
    import sys

    import requests

    from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator

    with DriveEmulator() as emu:
        token = tmp_path / "gd.json"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kloset_cli",
                "login",
                "gdrive",
                "--headless",
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
                "--token-file",
                str(token),
                "-o",
                f"auth_uri={emu.url}o/oauth2/auth",
                "-o",
                f"token_uri={emu.token_uri}",
            ],
            env=cli_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None and proc.stdin is not None
        url = ""
        for line in proc.stderr:
            m = re.search(r"(http://127\.0\.0\.1:\d+/o/oauth2/auth\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "the login printed no consent URL"
        consent = requests.get(url, allow_redirects=False, timeout=30)
        proc.stdin.write(consent.headers["Location"] + "\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"token_file={token}" in out and "plakar store add" in out
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def _message_texts() -> list[tuple[str, str]]:
    """Every string of every integration but docstrings and comments (f-strings with their
    holes as `X`): what a user can see in an error, a log line or an option's help."""
    import ast

    from tests.conftest import ROOT

    texts: list[tuple[str, str]] = []
    for path in sorted((ROOT / "integrations").glob("kloset_*/*.py")):
        tree = ast.parse(path.read_text())
        docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        for node in ast.walk(tree):
            if id(node) in docs:
                continue
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            texts.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return texts


def test_every_hint_names_a_command_that_exists() -> None:
    """A `klosetctl ...` named in any message parses as klosetctl's own command line, and no
    message names a made-up one such as `gdrive login` (issue 15, item 5)."""
    import re
    import shlex

    from kloset_cli.commands import parser

    named = 0
    for where, text in _message_texts():
        for cmd in re.findall(r"`(klosetctl [^`]+)`", text):
            named += 1
            args = shlex.split(cmd)[1:]
            try:
                ns = parser().parse_args(args)
            except SystemExit:
                pytest.fail(f"{where}: `{cmd}` is not a klosetctl command line")
            assert ns.cmd, (where, cmd)
        made_up = re.findall(r"[`(]((?!klosetctl\b)[a-z0-9]+ login)\b", text)
        assert not made_up, f"{where}: {text!r} names {made_up}, not a klosetctl command"
    assert named >= 4  # gdrive and onedrive hints, at least


# -- what login prints works as printed (issue 15, items 9 and 10) -------------------------------


def _login(args: list[str], act: Callable[[str], None], env: dict[str, str]) -> str:
    """Run `klosetctl login ...`; `act` plays the user on the URL the login shows on stderr.
    Returns stdout."""
    import re
    import subprocess
    import sys
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "kloset_cli", "login", *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    err: list[str] = []

    def watch() -> None:
        assert proc.stderr is not None
        acted = False
        for line in proc.stderr:
            err.append(line)
            m = re.search(r"(https?://127\.0\.0\.1:\d+/\S+)", line)
            if m and not acted:
                acted = True
                act(m.group(1))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = proc.stdout.read()
    proc.wait(timeout=120)
    watcher.join(10)
    assert proc.returncode == 0, "".join(err)
    return out


def _printed(out: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """The `key=value` lines, and each suggested `plakar KIND add NAME LOCATION k=v...` as
    (KIND, config), parsed as a shell would."""
    import shlex

    options: dict[str, str] = {}
    commands: list[tuple[str, dict[str, str]]] = []
    for line in out.splitlines():
        if line.startswith("#   plakar "):
            words = shlex.split(line[4:])
            assert words[2] == "add", line
            config = dict(w.split("=", 1) for w in words[5:])
            commands.append((words[1], {"location": words[4], **config}))
        elif line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, line
            options[key] = value
    assert sorted(k for k, _ in commands) == ["destination", "source", "store"], out
    return options, commands


def _feed_back(proto: str, commands: list[tuple[str, dict[str, str]]]) -> list[str]:
    """Each printed line given, unchanged, to the connector it is meant for; what the source
    backed up (paths read)."""
    from kloset_sdk import FileInfo, Record
    from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient
    from tests.conftest import plugin_argv

    seen: list[str] = []
    for kind, config in commands:
        connector = {"source": "importer", "destination": "exporter", "store": "storage"}[kind]
        with PluginProcess(plugin_argv(proto, connector)) as proc:
            if connector == "importer":
                imp = ImporterClient(proc)
                imp.init(config, proto=proto)
                run = imp.scan()
                assert not run.errors, [(i.record.pathname, i.record.error) for i in run.errors]
                seen = sorted(p for p, i in run.by_path().items() if i.read)
                imp.close()
            elif connector == "exporter":
                exp = ExporterClient(proc)
                exp.init(config, proto=proto)
                now = 1_700_000_000_000_000_000
                done = exp.export(
                    [
                        (Record.directory("/", FileInfo("/", mode=0o755, mtime_ns=now)), None),
                        (Record("/r.txt", FileInfo("r.txt", 2, 0o644, now)), b"ok"),
                    ]
                )
                assert not done.errors, done.errors
                exp.close()
            else:
                store = StoreClient(proc)
                store.init(config, proto=proto)
                try:
                    store.create(b"repository config")
                except grpc.RpcError as exc:  # the other flow's repository, same location
                    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS, exc
                assert store.open() == b"repository config"
                store.close()
    return seen


def test_login_gdrive_lines_work_as_printed(tmp_path: Path) -> None:
    """Both gdrive flows, with a non-default API endpoint and token endpoint: the printed
    options and plakar lines reach the service that minted the token, and nothing else."""
    import requests

    from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator

    with DriveEmulator() as emu:
        emu.add_file("hello.txt", b"hello")
        for flow in ("loopback", "headless"):
            token = tmp_path / f"gd-{flow}.json"
            pasted: list[str] = []

            def user(url: str, flow: str = flow, pasted: list[str] = pasted) -> None:
                consent = requests.get(url, allow_redirects=False, timeout=30)
                where = consent.headers["Location"]
                if flow == "loopback":
                    requests.get(where, timeout=30)  # the browser follows the redirect
                else:
                    pasted.append(where)

            args = ["gdrive", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
            args += ["--token-file", str(token), "-o", f"auth_uri={emu.url}o/oauth2/auth"]
            args += ["-o", f"token_uri={emu.token_uri}", "-o", f"api_endpoint={emu.url}"]
            if flow == "headless":
                args.append("--headless")
                out = _login_headless(args, user, pasted)
            else:
                out = _login(args, user, cli_env())
            options, commands = _printed(out)
            assert options == {
                "token_file": str(token),
                "token_uri": emu.token_uri,
                "api_endpoint": emu.url,
            }, out
            assert CLIENT_SECRET not in out  # it is in the 0600 token file, not in configs
            assert all({k: c[k] for k in options} == options for _, c in commands)
            assert "/hello.txt" in _feed_back("gdrive", commands)


def _login_headless(args: list[str], user: Callable[[str], None], pasted: list[str]) -> str:
    """The headless gdrive flow: the user's pasted address goes to stdin."""
    import re
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "kloset_cli", "login", *args],
        env=cli_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdin is not None
    for line in proc.stderr:
        m = re.search(r"(http://127\.0\.0\.1:\d+/o/oauth2/auth\S+)", line)
        if m:
            user(m.group(1))
            break
    proc.stdin.write(pasted[0] + "\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def test_login_onedrive_lines_work_as_printed(tmp_path: Path) -> None:
    """Both onedrive flows (auth code in a browser, device code): `--token-file` comes out as
    `token_file` (the declared name, not the old alias `token_cache`), and every printed line
    is accepted by the connectors as printed."""
    with GraphEmulator(auto_approve_device=True, device_interval=1) as emu:
        emu.add_file("/hello.txt", b"hello")
        env = cli_env(REQUESTS_CA_BUNDLE="", CURL_CA_BUNDLE="", BROWSER="true")
        for flow in ("browser", "device"):
            token = tmp_path / f"od-{flow}.json"
            args = ["onedrive", "--client-id", emu.client_id, "--tenant", emu.tenant_id]
            args += ["--token-file", str(token), "-o", f"graph_endpoint={emu.graph_url}"]
            args += ["-o", f"authority_host={emu.base_url}", "-o", f"ca_bundle={emu.ca_cert_path}"]
            if flow == "device":
                args.append("--device-code")
            out = _login(args, emu.act_as_browser if flow == "browser" else print, env)
            options, commands = _printed(out)
            assert "token_cache" not in options, out
            assert options["token_file"] == str(token)
            assert options["graph_endpoint"] == emu.graph_url
            assert all({k: c[k] for k in options} == options for _, c in commands)
            assert "/hello.txt" in _feed_back("onedrive", commands)
