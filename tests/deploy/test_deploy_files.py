"""The deployment files describe a deployment that can run: they parse, and every setting, port
and path they name is one the IdP really has (issue 6, item 4).

No Docker engine runs here, so the Dockerfile, the compose file and the Kubernetes manifests are
checked by reading them: settings against :class:`idp.settings.Settings` and botocore's own list
of environment variables, ports against the server settings ``idp serve`` uses, paths
against the app's URL map. The IAM policy grants exactly the calls the messaging code makes.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import botocore.configprovider
import pytest
import yaml

from idp.cli.init import BOOTSTRAP_PASSWORD, BOOTSTRAP_USERNAME
from idp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

#: Every IDP_* variable Settings.from_env reads, and the two `idp init` reads (the first administrator).
IDP_SETTINGS = frozenset(Settings.ENV_PREFIX + f.name.upper() for f in fields(Settings)) | {BOOTSTRAP_USERNAME, BOOTSTRAP_PASSWORD}


def _boto_env() -> frozenset[str]:
    # Credentials (botocore.credentials.EnvProvider, AssumeRoleWithWebIdentityProvider) and the
    # endpoint override (botocore.configprovider.ConfiguredEndpointProvider) are read outside the table.
    names = {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL",
    }
    for _config, env, _default, _convert in botocore.configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES.values():
        if env:
            names.update([env] if isinstance(env, str) else env)
    return frozenset(names)


#: AWS_* variables boto3 reads (AWS_REGION is read by idp.messaging.aws when boto3 finds no region).
AWS_ENV = _boto_env() | {"AWS_REGION"}
#: Environment names the IdP containers may carry besides IDP_* and AWS_*.
OTHER_ENV = frozenset({"PROMETHEUS_MULTIPROC_DIR"})


def _allowed(name: str) -> bool:
    if name.startswith("IDP_"):
        return name in IDP_SETTINGS
    if name.startswith("AWS_ENDPOINT_URL_"):
        return name.removeprefix("AWS_ENDPOINT_URL_") in {"SESV2", "SNS"}
    if name.startswith("AWS_"):
        return name in AWS_ENV
    return name in OTHER_ENV


def server_port() -> int:
    """The port the image serves on: ``idp serve``'s default, as passed to the server."""
    from idp.cli import server_conf
    from idp.cli.serve import serve

    port = next(p.default for p in serve.params if p.name == "port")
    assert port == server_conf.PORT, "idp serve and server_conf disagree"
    argv = server_conf.argv("0.0.0.0", port)
    assert argv[argv.index("--port") + 1] == str(port)
    return int(port)


@pytest.fixture(scope="module")
def app_paths() -> set[str]:
    from idp import create_app
    from idp.flowengine.registry import FlowRegistry

    # The routes do not depend on the installed flows: an empty registry keeps this test about deploy/.
    app = create_app(Settings.from_env(environ={}, instance_path="/nonexistent/idp-deploy-test"), registry=FlowRegistry())
    return {rule.rule for rule in app.url_map.iter_rules()}


def test_the_probe_and_metrics_paths_exist_in_the_app(app_paths: set[str]) -> None:
    assert {"/healthz", "/readyz", "/metrics"} <= app_paths


# -- every file parses -----------------------------------------------------------------------


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def _json_files() -> list[Path]:
    return sorted(DEPLOY.rglob("*.json"))


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)


@pytest.mark.parametrize("path", _json_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_json_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


def test_there_are_files_to_check() -> None:
    assert len(_yaml_files()) >= 9 and len(_json_files()) >= 1
    assert (DEPLOY / "Dockerfile").is_file() and (DEPLOY / "nginx.conf").is_file()


# -- Dockerfile --------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instr, _, args = line.partition(" ")
            out.append((instr.upper(), args.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    instrs = _dockerfile()
    last_from = max(i for i, (k, _) in enumerate(instrs) if k == "FROM")
    return instrs[last_from:]


def _env_pairs(args: str) -> dict[str, str]:
    return dict(tok.split("=", 1) for tok in shlex.split(args))


def test_dockerfile_is_multi_stage_and_the_final_stage_copies_only_wheels() -> None:
    froms = [a for k, a in _dockerfile() if k == "FROM"]
    assert len(froms) >= 2
    assert any(" AS build" in f for f in froms)
    final = _final_stage()
    assert not any(k == "COPY" and "/src" in a for k, a in final), "no source tree in the runtime image"
    assert any(k == "RUN" and "from=build" in a and "--no-index" in a for k, a in final)


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [a for k, a in _final_stage() if k == "USER"]
    assert users, "the final stage must set USER"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0")
    assert int(user) >= 1000


def test_dockerfile_settings_ports_and_command_are_real() -> None:
    final = _final_stage()
    env: dict[str, str] = {}
    for k, a in final:
        if k == "ENV":
            env.update(_env_pairs(a))
    idp_like = [n for n in env if n.startswith(("IDP_", "AWS_")) or n in OTHER_ENV]
    assert idp_like and all(_allowed(n) for n in idp_like), idp_like
    assert env["IDP_ENV"] == "production"
    # The metrics folder is under a path the compose file and the manifests mount as tmpfs.
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/run/idp/metrics"
    port = server_port()
    assert [a for k, a in final if k == "EXPOSE"] == [str(port)]
    entry = json.loads(next(a for k, a in final if k == "ENTRYPOINT"))
    cmd = json.loads(next(a for k, a in final if k == "CMD"))
    assert entry == ["idp"] and cmd[0] == "serve" and cmd[cmd.index("--port") + 1] == str(port)
    health = next(a for k, a in final if k == "HEALTHCHECK")
    assert f"127.0.0.1:{port}/healthz" in health


def test_dockerfile_copies_only_files_that_exist_and_are_not_ignored() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].removesuffix("/**") for line in ignore if line.startswith("!")}
    for k, a in _dockerfile():
        if k == "COPY" and "--from" not in a:
            *sources, _dest = a.split()
            for src in sources:
                assert (ROOT / src).exists(), src
                assert src.rstrip("/") in allowed, f"{src} is excluded by Dockerfile.dockerignore"


# -- compose -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def _idp_services(compose: dict[str, Any]) -> dict[str, Any]:
    return {n: s for n, s in compose["services"].items() if s.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def test_compose_has_the_whole_deployment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "moto", "init", "idp1", "idp2", "lb"} <= set(services)
    assert set(_idp_services(compose)) == {"init", "idp1", "idp2"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["moto"]["image"].startswith("motoserver/moto:")
    assert services["lb"]["image"].startswith("nginx:")
    assert (DEPLOY / "compose.yaml").parent.joinpath(services["idp1"]["build"]["context"], "setup.cfg").resolve().is_file()


def test_compose_runs_init_once_before_the_replicas(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["init"]["command"] == ["init"]
    assert services["init"]["restart"] == "no"
    for name in ("idp1", "idp2"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_compose_idp_containers_use_only_real_settings(compose: dict[str, Any]) -> None:
    for name, service in _idp_services(compose).items():
        env = service["environment"]
        assert env, name
        unknown = sorted(n for n in env if not _allowed(n))
        assert not unknown, f"{name}: {unknown}"
        assert env["IDP_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["IDP_DATABASE_URL"]
        assert env["IDP_REDIS_URL"].startswith("redis://redis:6379")
        assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
        assert (env["IDP_MAIL_BACKEND"], env["IDP_SMS_BACKEND"]) == ("ses", "sns")
        # The settings the app will actually be built with are valid.
        Settings.from_env(environ={k: str(v) for k, v in env.items()}).validate()


def test_compose_replicas_are_read_only_non_root_with_tmpfs_for_what_they_write(compose: dict[str, Any]) -> None:
    port = server_port()
    for name, service in _idp_services(compose).items():
        assert service["read_only"] is True and service["user"].split(":")[0] not in ("0", "root")
        mounts = {t.split(":")[0] for t in service["tmpfs"]}
        assert {"/tmp", service["environment"]["PROMETHEUS_MULTIPROC_DIR"], service["environment"]["IDP_INSTANCE_PATH"]} <= mounts
        if name != "init":
            cmd = service["command"]
            assert cmd[0] == "serve" and cmd[cmd.index("--port") + 1] == str(port)
            assert service["expose"] == [str(port)]


def test_the_load_balancer_targets_both_replicas_on_the_server_port(compose: dict[str, Any]) -> None:
    port = server_port()
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream idp \{(.*?)\}", conf, re.DOTALL)
    assert upstream is not None
    servers = re.findall(r"server\s+([\w.-]+:\d+)", upstream.group(1))
    assert servers == [f"idp1:{port}", f"idp2:{port}"]
    lb = compose["services"]["lb"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    listen = re.search(r"listen (\d+);", conf)
    assert listen is not None and lb["ports"] == [f"8080:{listen.group(1)}"]
    # Probes and metrics are not served to the outside; query strings never reach nginx's log.
    for path in ("/metrics", "/healthz", "/readyz"):
        assert f"location = {path}" in conf
    log_format = re.search(r"log_format idp (.*?);", conf, re.DOTALL)
    assert log_format is not None and "$request " not in log_format.group(1) and "$uri" in log_format.group(1)


# -- Kubernetes --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: dict[str, dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            assert doc["apiVersion"] and doc["metadata"]["name"]
            docs[doc["kind"]] = doc
    return docs


def _containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from doc["spec"]["template"]["spec"]["containers"]


def test_every_manifest_is_listed_and_every_kind_is_there(manifests: dict[str, dict[str, Any]]) -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Secret", "Job", "ServiceAccount"} <= set(manifests)
    assert manifests["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    assert manifests["PodDisruptionBudget"]["apiVersion"] == "policy/v1"


def test_configmap_and_secret_hold_only_real_settings(manifests: dict[str, dict[str, Any]]) -> None:
    config = manifests["ConfigMap"]["data"]
    secret = manifests["Secret"]["stringData"]
    names = list(config) + list(secret)
    assert not [n for n in names if not _allowed(n)]
    assert not set(config) & set(secret)
    assert {"IDP_SECRET_KEY", "IDP_DATABASE_URL", "IDP_REDIS_URL"} <= set(secret), "credentials belong in the Secret"
    assert config["IDP_ENV"] == "production" and config["IDP_PUBLIC_URL"].startswith("https://")
    env = {**config, **secret, "IDP_SECRET_KEY": "k" * 40}
    Settings.from_env(environ=env).validate()
    # Left unfilled, the Secret makes a production pod refuse to start instead of running on a known key.
    with pytest.raises(ValueError, match="IDP_SECRET_KEY"):
        Settings.from_env(environ={**config, **secret}).validate()


def test_deployment_probes_ports_and_scrape_annotations_are_real(
    manifests: dict[str, dict[str, Any]], app_paths: set[str]
) -> None:
    port = server_port()
    deployment = manifests["Deployment"]
    (container,) = _containers(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    assert container["args"][container["args"].index("--port") + 1] == str(port)

    def probe(kind: str) -> tuple[str, int]:
        get = container[kind]["httpGet"]
        target = get["port"]
        return get["path"], ports[target] if isinstance(target, str) else target

    assert probe("livenessProbe") == ("/healthz", port)
    assert probe("readinessProbe") == ("/readyz", port)
    assert probe("startupProbe")[0] in app_paths
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics" and annotations["prometheus.io/port"] == str(port)
    assert {"/healthz", "/readyz", "/metrics"} <= app_paths


def test_deployment_is_non_root_read_only_and_mounts_what_it_writes(manifests: dict[str, dict[str, Any]]) -> None:
    config = manifests["ConfigMap"]["data"]
    for doc in (manifests["Deployment"], manifests["Job"]):
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 1000
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert {e.get("configMapRef", e.get("secretRef", {})).get("name") for e in container["envFrom"]} == {
                manifests["ConfigMap"]["metadata"]["name"],
                manifests["Secret"]["metadata"]["name"],
            }
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert all("emptyDir" in volumes[name] for name in mounts.values())
            assert "/tmp" in mounts and config["IDP_INSTANCE_PATH"] in mounts
    deployment_mounts = {m["mountPath"] for m in manifests["Deployment"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert config["PROMETHEUS_MULTIPROC_DIR"] in deployment_mounts


def test_service_hpa_and_pdb_point_at_the_deployment(manifests: dict[str, dict[str, Any]]) -> None:
    deployment = manifests["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = manifests["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (container,) = _containers(deployment)
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in container["ports"]}
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    pdb = manifests["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["minAvailable"] < hpa["minReplicas"], "a PDB as large as the replica count blocks every drain"
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    from idp.cli import server_conf

    assert grace > server_conf.GRACEFUL_TIMEOUT


def test_the_migration_job_runs_idp_init(manifests: dict[str, dict[str, Any]]) -> None:
    job = manifests["Job"]
    (container,) = _containers(job)
    assert container["command"] == ["idp"] and container["args"] == ["init"]
    assert container["image"] == next(_containers(manifests["Deployment"]))["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


# -- IAM ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    return json.loads((DEPLOY / "iam" / "idp-messaging-policy.json").read_text())  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_iam_policy_allows_only_the_three_messaging_actions(policy: dict[str, Any]) -> None:
    assert policy["Version"] == "2012-10-17"
    allowed = set()
    for st in policy["Statement"]:
        assert "NotAction" not in st and "NotResource" not in st
        if st["Effect"] == "Allow":
            allowed.update(_as_list(st["Action"]))
    assert allowed == {"ses:SendEmail", "sns:Publish", "sns:CheckIfPhoneNumberIsOptedOut"}


def test_iam_policy_scopes_ses_to_the_identity_and_denies_publishing_to_topics(policy: dict[str, Any]) -> None:
    (ses,) = [s for s in policy["Statement"] if "ses:SendEmail" in _as_list(s["Action"])]
    resources = _as_list(ses["Resource"])
    assert "*" not in resources
    assert all(re.fullmatch(r"arn:aws:ses:[a-z0-9-]+:\d{12}:(identity|configuration-set)/[\w.@-]+", r) for r in resources)
    assert any(":identity/" in r for r in resources)
    assert "ses:FromAddress" in ses["Condition"]["StringLike"]
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert _as_list(deny["Action"]) == ["sns:Publish"] and deny["Resource"] == "arn:aws:sns:*:*:*"


def test_iam_policy_covers_every_aws_call_the_messaging_code_makes() -> None:
    """Each ``self.client.<operation>`` in the SES and SNS backends maps to an allowed action."""
    actions = {"send_email": "ses:SendEmail", "publish": "sns:Publish", "check_if_phone_number_is_opted_out": "sns:CheckIfPhoneNumberIsOptedOut"}
    code = (ROOT / "idp" / "messaging" / "ses.py").read_text() + (ROOT / "idp" / "messaging" / "sns.py").read_text()
    calls = set(re.findall(r"self\.client\.([a-z_]+)", code))
    assert calls and calls <= set(actions), calls - set(actions)


def test_only_the_init_job_reads_the_bootstrap_admin(compose: dict[str, Any], manifests: dict[str, dict[str, Any]]) -> None:
    """`idp init` can create the first platform administrator in both deployments; the serving
    replicas never carry its password."""
    names = {BOOTSTRAP_USERNAME, BOOTSTRAP_PASSWORD}
    services = compose["services"]
    assert names <= set(services["init"]["environment"])
    assert all(services["init"]["environment"][n] == f"${{{n}:-}}" for n in names)
    for name in ("idp1", "idp2"):
        assert not names & set(services[name]["environment"]), name
    (job,) = _containers(manifests["Job"])
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in job["env"]}
    assert set(refs) == names
    assert {r["name"] for r in refs.values()} == {"idp-bootstrap-admin"}
    assert all(r["optional"] is True for r in refs.values()), "a missing Secret must not block the Job"
    (server,) = _containers(manifests["Deployment"])
    assert not names & {e["name"] for e in server.get("env", [])}
