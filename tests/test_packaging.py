"""``pip install .`` (not ``-e``) gives a working server: every module, template and translation is installed.

The package is built from a copy of the working tree and installed into a fresh
virtual environment that reuses this interpreter's site-packages (so nothing is
downloaded); then, from a folder outside the source tree, the installed ``idp``
runs ``init`` and ``demo``, serves with granian (``idp serve``), and answers the discovery
document and the login page.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
_IGNORED = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "instance", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "node_modules", ".venv*")


def _bin(venv: Path, name: str) -> str:
    return str(venv / "bin" / name)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


class Installed(NamedTuple):
    src: Path  # the copy of the source tree that was installed
    venv: Path
    work: Path  # a folder outside the source tree
    env: dict[str, str]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """A venv with the package installed by ``pip install .`` from a copy of the tree."""
    base = tmp_path_factory.mktemp("packaging")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORED)
    venv = base / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PYTHON", "VIRTUAL_ENV", "PIP_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # No pip (and so no old setuptools) inside the venv: this interpreter's pip installs into it, and the
    # build uses the setuptools of the shared site-packages (the `test` extra asks for one with bdist_wheel).
    # The dependencies are the ones of the environment running the tests (the checkout's .venv): a .pth
    # file puts its site-packages after the new venv's own, so nothing is downloaded, the installed copy
    # of idp comes first, and the test environment's editable idp (a .pth hook of its own) is not loaded.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base, env)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (venv / "lib" / version / "site-packages" / "test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", _bin(venv, "python"), "install", "--quiet", "--no-deps", "--no-build-isolation"]
    _run([*pip, str(src)], base, env, timeout=600)
    work = base / "work"
    work.mkdir()
    yield Installed(src, venv, work, env)


def _installed_paths(venv: Path, work: Path, env: dict[str, str]) -> dict[str, str]:
    code = "import json, idp, flows, idp.templates; print(json.dumps({'idp': idp.__file__, 'flows': flows.__file__, 'templates': idp.templates.__file__}))"
    return json.loads(_run([_bin(venv, "python"), "-c", code], work, env).stdout)  # type: ignore[no-any-return]


def test_installed_copy_is_used_not_the_source_tree(installed: Installed) -> None:
    _, venv, work, env = installed
    for name, path in _installed_paths(venv, work, env).items():
        assert path.startswith(str(venv)), f"{name} imported from {path}, not from the venv"


def _source_modules(root: Path) -> set[str]:
    found = set()
    for top in ("idp", "flows"):
        for path in (root / top).rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            if all((root.joinpath(*rel.parts[:i]) / "__init__.py").exists() for i in range(1, len(rel.parts))):
                found.add(".".join(parts))
    return found


def test_every_module_is_installed(installed: Installed) -> None:
    src, venv, work, env = installed
    code = (
        "import json, pkgutil, idp, flows\n"
        "names = {'idp', 'flows'}\n"
        "for pkg in (idp, flows):\n"
        "    names.update(m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.', onerror=lambda n: None))\n"
        "print(json.dumps(sorted(names)))\n"
    )
    names = set(json.loads(_run([_bin(venv, "python"), "-c", code], work, env).stdout))
    missing = sorted(_source_modules(src) - names)
    assert not missing, f"not installed by `pip install .` (setup.py finds packages with an __init__.py under idp/ and flows/): {missing}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("source", "installed_under", "pattern"),
    [
        ("templates", "idp/templates", "*"),
        ("flows", "flows", "*.html"),
        ("flows", "flows", "*.[mp]o"),
        ("flows/self_recovery/messages", "flows/self_recovery/messages", "*"),
        ("idp/translations", "idp/translations", "*.[mp]o"),
        ("idp/messaging/templates", "idp/messaging/templates", "*"),
        ("idp/storage/migrations", "idp/storage/migrations", "*.mako"),
        ("idp/security", "idp/security", "*.txt"),
    ],
)
def test_every_data_file_is_installed(installed: Installed, source: str, installed_under: str, pattern: str) -> None:
    src, venv, work, env = installed
    site = Path(_installed_paths(venv, work, env)["idp"]).parent.parent
    src_dir = src / source
    if not src_dir.exists():
        pytest.fail(f"{source} is missing from the source tree")
    wanted = [p for p in src_dir.rglob(pattern) if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert wanted, f"no data files under {source}"
    missing = []
    for path in wanted:
        target = site / installed_under / path.relative_to(src_dir)
        if not target.exists() or _digest(target) != _digest(path):
            missing.append(str(path.relative_to(src)))
    assert not missing, f"not installed by `pip install .` (add a pattern to setup.cfg [options.package_data]): {missing}"


def test_dependencies_have_lower_bounds() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    reqs = _declared_requirements()
    unbounded = [r for r in reqs if not re.search(r">=\s*\d", r)]
    assert not unbounded, f"dependencies without a lower bound: {unbounded}"
    assert cfg["options"]["python_requires"].startswith(">=3.11")
    assert "idp = idp.cli:main" in cfg["options.entry_points"]["console_scripts"]


def _declared_requirements() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    reqs = [r.strip() for r in cfg["options"]["install_requires"].splitlines() if r.strip()]
    for extra in ("test", "dev"):
        reqs += [r.strip() for r in cfg["options.extras_require"][extra].splitlines() if r.strip()]
    return reqs


def test_every_dependency_is_pinned_in_the_constraints_within_its_range() -> None:
    """constraints.txt (what the scripts and CI install) pins every declared dependency, inside setup.cfg's range."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not name==version"
            pins[canonicalize_name(name)] = version.strip()
    for raw in _declared_requirements():
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared in setup.cfg but not pinned in constraints.txt (run bash scripts/lock)"
        assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt pins {req.name}=={pins[name]}, outside {req.specifier}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_installed_server_serves_discovery_and_login(installed: Installed) -> None:
    _, venv, work, env = installed
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(env, IDP_INSTANCE_PATH=str(work / "instance"), IDP_PUBLIC_URL=base)
    idp = _bin(venv, "idp")
    _run([idp, "init"], work, env)
    _run([idp, "init"], work, env)
    demo = json.loads(_run([idp, "demo", "--json"], work, env).stdout)
    assert demo["discovery_url"] == f"{base}/realms/demo/.well-known/openid-configuration"
    log = work / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [idp, "serve", "--port", str(port), "--workers", "2"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"idp serve exited with {proc.returncode}:\n{log.read_text()}"
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"idp serve did not answer:\n{log.read_text()}"
            time.sleep(0.2)

        discovery = requests.get(demo["discovery_url"], timeout=10)
        assert discovery.status_code == 200, discovery.text
        meta = discovery.json()
        assert meta["issuer"] == f"{base}/realms/demo"
        assert meta["authorization_endpoint"] == f"{base}/realms/demo/protocol/openid-connect/auth"

        params = {
            "response_type": "code",
            "client_id": demo["client_id"],
            "redirect_uri": demo["redirect_uris"][0],
            "scope": "openid profile",
            "state": "s-123",
            "nonce": "n-456",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
        login = requests.get(f"{meta['authorization_endpoint']}?{urlencode(params)}", timeout=10, headers={"Accept-Language": "fr"})
        assert login.status_code == 200, f"{login.status_code} {login.url}\n{login.text[:2000]}"
        assert "/realms/demo/" in login.url
        html = login.text
        assert "<form" in html and 'name="csrf_token"' in html
        assert 'name="username"' in html or 'name="password"' in html
        assert 'lang="fr"' in html, "the French catalog did not apply"
        css = re.search(r'href="([^"]+\.css)"', html)
        assert css, "the login page links no stylesheet"
        assert requests.get(requests.compat.urljoin(login.url, css.group(1)), timeout=10).status_code == 200
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _requirement_name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_third_party_import_is_declared() -> None:
    """A module the code imports must come from a dependency in setup.cfg, not by luck from another's."""
    import ast
    from importlib.metadata import packages_distributions

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    declared = {_requirement_name(r) for r in cfg["options"]["install_requires"].splitlines() if r.strip()}
    by_module = packages_distributions()
    local = {"idp", "flows", "templates"}
    undeclared: dict[str, set[str]] = {}
    for top in ("idp", "flows"):
        for path in (ROOT / top).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    root = name.split(".")[0]
                    if root in local or root in sys.stdlib_module_names:
                        continue
                    dists = {d.lower().replace("_", "-") for d in by_module.get(root, [root])}
                    if not dists & declared:
                        undeclared.setdefault(root, set()).add(str(path.relative_to(ROOT)))
    assert not undeclared, f"imported but not in setup.cfg install_requires: {undeclared}"
