"""The deployment files: what can be checked without a Docker daemon or a cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
HEALTH = "/_stcore/health"


def kubernetes_documents() -> list[dict]:
    documents = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def kubernetes_objects(name: str = "multilabel-demo") -> dict[str, dict]:
    """{kind: object} of the objects called `name` (the app's, by default)."""
    return {d["kind"]: d for d in kubernetes_documents() if d["metadata"]["name"] == name}


def test_class_rooms_live_in_redis_that_only_the_app_reaches():
    app = kubernetes_objects()
    redis = kubernetes_objects("multilabel-demo-redis")
    assert set(redis) == {"Deployment", "Service", "NetworkPolicy"}
    container = app["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    url = next(e["value"] for e in container["env"] if e["name"] == "REDIS_URL")
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    assert host == redis["Service"]["metadata"]["name"] and int(port) == 6379
    allowed = redis["NetworkPolicy"]["spec"]["ingress"][0]["from"][0]["podSelector"]
    assert (
        allowed["matchLabels"].items()
        <= app["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    )
    egress_ports = {
        p["port"] for rule in app["NetworkPolicy"]["spec"]["egress"] for p in rule["ports"]
    }
    assert {6379, 53} <= egress_ports
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert compose["services"]["app"]["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "redis" in compose["services"] and compose["services"]["redis"]["restart"]


def test_dockerfile_runs_the_app_as_a_user_with_a_health_check():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert re.match(r"FROM python:3\.1\d-slim$", instructions[0])
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in instructions) and HEALTH in dockerfile
    assert "--constraint constraints.txt" in dockerfile
    assert '"streamlit", "run", "demo/app.py"' in dockerfile
    # Every path copied into the image exists in the repository, the models and gallery too.
    copied = [line.split()[1:-1] for line in instructions if line.startswith("COPY ")]
    sources = [source for sources in copied for source in sources]
    assert {"models", "assets", "core", "demo"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "models/checkpoints" in ignored


def test_kubernetes_manifests_fit_together():
    objects = kubernetes_objects()
    assert set(objects) == {
        "Namespace",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    namespace = objects["Namespace"]["metadata"]["name"]
    assert namespace != "default"
    for kind, document in objects.items():
        if kind != "Namespace":
            assert document["metadata"]["namespace"] == namespace, kind
    deployment, service = objects["Deployment"], objects["Service"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert (
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )
    assert objects["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    container = pod["spec"]["containers"][0]
    port_names = {port["name"] for port in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == HEALTH
        assert container[probe]["httpGet"]["port"] in port_names
    # Not ready before the page has run once: the models are loaded.
    assert container["startupProbe"]["exec"]["command"][-2:] == ["demo.warmup", "8501"]
    assert container["resources"]["requests"]["cpu"]  # the autoscaler needs a CPU request
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    ingress = objects["Ingress"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_a_rolling_update_or_a_drain_does_not_drop_a_class():
    objects = kubernetes_objects()
    spec = objects["Deployment"]["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["replicas"] >= 2 and objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    pod = spec["template"]["spec"]
    pause = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert 10 <= pause < pod["terminationGracePeriodSeconds"] - 10  # time left to stop cleanly


def test_the_pods_are_locked_down():
    pod = kubernetes_objects()["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]
    context = container["securityContext"]
    assert context["capabilities"]["drop"] == ["ALL"] and context["readOnlyRootFilesystem"]
    assert context["allowPrivilegeEscalation"] is False
    image = container["image"]
    assert not image.endswith(":latest") and ":" in image.rsplit("/", 1)[-1]
    # With a read-only root, whatever the app writes goes to the one writable volume.
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    assert {"name": "HOME", "value": "/tmp"} in container["env"]


def test_compose_file_puts_haproxy_with_cookies_in_front_of_the_app():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    app, balancer = compose["services"]["app"], compose["services"]["balancer"]
    assert (REPO / app["build"]["context"].replace("..", ".") / app["build"]["dockerfile"]).exists()
    mounted = balancer["volumes"][0].split(":")[0]
    config = (DEPLOY / mounted).read_text()
    assert "cookie SERVEDBY insert" in config and f"httpchk GET {HEALTH}" in config
    assert "balance source" not in config


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_compose_config():
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy-compose.cfg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_manifests_pass_kubernetes_own_schemas_strictly():
    validate = Path(sys.executable).with_name("kubernetes-validate")
    if not validate.exists():
        pytest.skip("kubernetes-validate is not installed (requirements.txt)")
    files = sorted(str(path) for path in (DEPLOY / "kubernetes").glob("*.yaml"))
    result = subprocess.run(
        [str(validate), "--strict", "--kubernetes-version", "1.37.0", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == len(kubernetes_documents())


def test_checkov_finds_nothing_a_cluster_admin_would_reject():
    """checkov (in .tools/, which .ci/run makes) on the Dockerfile and the manifests, offline:
    every check passes or is skipped in the manifest with its reason."""
    checkov = REPO / ".tools" / "bin" / "checkov"
    if not checkov.exists():
        pytest.skip("checkov is not installed (.ci/run puts it in .tools/)")
    result = subprocess.run(
        [str(checkov), "-d", str(DEPLOY), "--compact", "--quiet", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summaries = re.findall(r"Passed checks: (\d+), Failed checks: (\d+)", result.stdout)
    assert len(summaries) == 2  # kubernetes and dockerfile
    assert all(int(failed) == 0 and int(passed) > 40 for passed, failed in summaries)
    for line in re.findall(
        r"checkov\.io/skip\d+: (.*)",
        "\n".join(path.read_text() for path in (DEPLOY / "kubernetes").glob("*.yaml")),
    ):
        assert "=" in line and len(line.split("=", 1)[1]) > 20  # a reason, not just a code
