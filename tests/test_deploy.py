"""The deployment files: what can be checked without a Docker daemon or a cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
HEALTH = "/_stcore/health"


def kubernetes_objects() -> dict[str, dict]:
    objects = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            objects[document["kind"]] = document
    return objects


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
    assert set(objects) == {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler"}
    deployment, service = objects["Deployment"], objects["Service"]
    pod = deployment["spec"]["template"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    container = pod["spec"]["containers"][0]
    port_names = {port["name"] for port in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == HEALTH
        assert container[probe]["httpGet"]["port"] in port_names
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
