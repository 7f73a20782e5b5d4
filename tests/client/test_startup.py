"""Start-up work the commands avoid or move off the critical path (issue 9), checked for effect."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

from reconciler.remote import tls


def test_a_plain_http_endpoint_gets_a_context_that_trusts_nothing() -> None:
    """http:// (an emulator on loopback) skips the CA bundle; the context it gets instead
    verifies certificates and holds none, so it could never accept a server by mistake."""
    ctx = tls.tls_context("http://127.0.0.1:8080")
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert ctx.get_ca_certs() == []
    assert ctx.cert_store_stats()["x509_ca"] == 0


def test_an_https_endpoint_gets_the_verifying_context_loaded_in_the_background() -> None:
    """https:// gets httpx's verifying context with the CA bundle, built once and shared."""
    tls.prepare_tls()
    first = tls.tls_context("https://pushapi-sgp.engagelab.com")
    second = tls.tls_context("https://pushapi-sgp.engagelab.com")
    assert first is second
    assert first.verify_mode == ssl.CERT_REQUIRED
    assert first.cert_store_stats()["x509_ca"] > 0


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_the_help_screen_loads_no_pydantic_and_no_http_stack() -> None:
    """``reconciler --help`` imports every command module for its one-line help: the command
    modules keep their operations, the state schema (pydantic) and the client (httpx) for when
    a command runs."""
    code = (
        "import atexit, json, runpy, sys\n"
        "atexit.register(lambda: sys.stderr.write(json.dumps(sorted(sys.modules))))\n"
        "sys.argv = ['reconciler', '--help']\n"
        "runpy.run_module('reconciler', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage: reconciler" in done.stdout
    loaded = set(json.loads(done.stderr))
    assert not {m.split(".")[0] for m in loaded} & {"pydantic", "httpx", "httpcore"}


def test_the_demo_credentials_do_not_import_the_emulator_server() -> None:
    """Commands against a served emulator name its demo credentials; that must not load the
    emulator's HTTP side (Starlette) into the client process."""
    modules = _imported_after("from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET")
    assert "reconciler.emulator.demo" in modules
    assert not any(m.startswith("starlette") for m in modules)
    assert "reconciler.emulator.core" not in modules


def test_the_emulator_package_still_exports_everything_on_use() -> None:
    """The lazy package hands out the same objects as their modules."""
    import reconciler.emulator as emulator
    from reconciler.emulator.app import create_app
    from reconciler.emulator.core import Emulator

    assert emulator.create_app is create_app
    assert emulator.Emulator is Emulator
    assert sorted(emulator.__all__) == sorted(emulator._HOMES)


def test_the_environment_file_reader_does_not_import_ruamel_without_a_file() -> None:
    """No reconciler.yaml (the usual case): the full YAML library is not imported for it."""
    modules = _imported_after(
        "from pathlib import Path; from reconciler.config.environments import load_environments; "
        "load_environments(Path('/nonexistent/reconciler.yaml'))"
    )
    assert "reconciler.config.environments" in modules
    assert not any(m.startswith("ruamel") for m in modules)


def test_a_command_failing_fast_with_the_tls_thread_running_exits_cleanly(tmp_path: Path) -> None:
    """With credentials for an https endpoint the CA bundle loads in a thread; a command that
    fails before needing it (here: a bad manifest) must still exit 1, not crash finalising the
    interpreter under that thread (it did, with SIGSEGV, while the thread was a daemon)."""
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "bad.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    env = {
        **os.environ,
        "ENGAGELAB_APP_KEY": "a" * 24,
        "ENGAGELAB_MASTER_SECRET": "s" * 24,
        "CI": "",
    }
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "--endpoint", "https://127.0.0.1:9", "plan"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert "bad.yaml" in done.stderr
