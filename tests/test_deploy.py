"""The deployment files: what can be checked without a Docker daemon or a cluster."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import free_port

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
    assert set(redis) == {
        "Deployment",
        "Service",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
    }
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


def redis_options(arguments: list[str]) -> dict[str, str]:
    """{"--appendonly": "yes", ...} of redis-server's command line."""
    return dict(zip(arguments[::2], arguments[1::2], strict=True))


def test_a_full_or_restarted_redis_keeps_what_it_holds():
    redis = kubernetes_objects("multilabel-demo-redis")
    deployment = redis["Deployment"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    compose_redis = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["redis"]
    for options in (
        redis_options(container["args"]),
        redis_options(compose_redis["command"][1:]),
    ):
        # A full Redis refuses new rooms rather than evict live ones ...
        assert options["--maxmemory-policy"] == "noeviction"
        assert options["--maxmemory"]
        # ... and every write goes to an append-only file, flushed each second.
        assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec"
    # The append-only file lives on a volume that outlives the container and the pod.
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data")
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    claim = redis["PersistentVolumeClaim"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # one pod holds the volume
    assert any(v.endswith(":/data") for v in compose_redis["volumes"])
    named = compose_redis["volumes"][0].split(":")[0]
    assert named in yaml.safe_load((DEPLOY / "compose.yaml").read_text())["volumes"]
    # A drain waits for the teacher's Redis instead of evicting it during a lesson.
    budget = redis["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert budget["maxUnavailable"] == 0
    # Still locked down: non-root, read-only root, no capabilities.
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/data"}
    # The app waits for a Redis that answers.
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert compose["services"]["app"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "redis-cli" in compose_redis["healthcheck"]["test"]


def test_dockerfile_runs_the_app_as_a_user_with_a_health_check():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert re.match(r"FROM python:3\.1\d-slim$", instructions[0])
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in instructions)
    assert '"demo.health", "--port", "8501"' in dockerfile  # the store and /_stcore/health
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
    assert "data" in ignored  # a developer's class rooms stay out of the image


def test_the_image_keeps_its_sqlite_store_in_a_volume_its_user_owns():
    """A plain `docker run` (no REDIS_URL) opens its rooms in a folder the app's user can write."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    joined = dockerfile.replace("\\\n", " ")
    folder = re.search(r"MULTILABEL_DATA_DIR=(\S+)", joined)[1]
    user = [line.split()[1] for line in joined.splitlines() if line.startswith("USER ")][-1]
    assert f"mkdir -p {folder}" in joined and f"chown {user}:{user} {folder}" in joined
    assert f"VOLUME {folder}" in joined
    assert joined.index(f"VOLUME {folder}") > joined.index(f"chown {user}:{user} {folder}")
    # Kubernetes' pods (read-only root) keep their rooms in Redis, never in that folder.
    container = kubernetes_objects()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert any(e["name"] == "REDIS_URL" and e["value"] for e in container["env"])
    assert folder not in {m["mountPath"] for m in container["volumeMounts"]}


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
    # Not ready before the store answers and the page has run once (the models are loaded);
    # then ready and alive while Streamlit answers: a Redis outage mid-lesson takes no pod out.
    startup = container["startupProbe"]["exec"]["command"]
    assert startup[:2] == ["sh", "-c"]
    assert startup[2] == "python -m demo.health && python -m demo.warmup 8501"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == HEALTH
        assert container[probe]["httpGet"]["port"] in port_names
    assert container["resources"]["requests"]["cpu"]  # the autoscaler needs a CPU request
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    ingress = objects["Ingress"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    # HTTPS for every host, with a certificate cert-manager gets; plain HTTP is redirected.
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == hosts and tls["secretName"]
    assert annotations["cert-manager.io/cluster-issuer"]
    assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-secure"] == "true"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_the_ingress_forbids_framing_without_a_snippet():
    """The framing headers come from a ConfigMap in the Ingress's namespace that its
    custom-headers annotation names (snippets are off in a default ingress-nginx)."""
    ingress = kubernetes_objects()["Ingress"]
    annotations = ingress["metadata"]["annotations"]
    assert not any(name.endswith("-snippet") for name in annotations)
    namespace, name = annotations["nginx.ingress.kubernetes.io/custom-headers"].split("/")
    headers = kubernetes_objects(name)["ConfigMap"]
    assert namespace == headers["metadata"]["namespace"] == ingress["metadata"]["namespace"]
    assert headers["data"] == {
        "Content-Security-Policy": "frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
    }


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


def health_check(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m demo.health` as a probe runs it: SQLite rooms in `data_dir`, no Redis."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["MULTILABEL_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "demo.health", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def unwritable_folder(tmp_path: Path) -> Path:
    """A data folder the store cannot write: read-only, or (as root, whom chmod does not stop)
    one below a regular file."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    (tmp_path / "file").write_text("not a folder")
    return tmp_path / "file" / "sub"


def test_the_health_check_passes_with_a_store_that_answers(tmp_path):
    result = health_check(tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and (tmp_path / "data" / "rooms.sqlite3").exists()


def test_the_health_check_fails_with_a_message_when_the_store_cannot_be_written(tmp_path):
    folder = unwritable_folder(tmp_path)
    try:
        result = health_check(folder)
    finally:
        if folder.name == "read-only":
            folder.chmod(0o700)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("health: the class-room store"), lines
    assert "Traceback" not in result.stderr


def test_the_health_check_fails_on_an_unusable_upload_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTILABEL_UPLOAD_MEMORY_MB", "lots")
    result = health_check(tmp_path / "data")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "health: MULTILABEL_UPLOAD_MEMORY_MB must be a whole number of megabytes, not 'lots'."
    ]


def test_the_health_check_fails_when_the_worker_does_not_answer(tmp_path):
    result = health_check(tmp_path / "data", "--port", str(free_port()))
    assert result.returncode == 1
    assert result.stderr.startswith("health: http://127.0.0.1:")
    assert "/_stcore/health does not answer" in result.stderr


def test_the_health_check_reports_a_store_that_stops_answering(monkeypatch, capsys):
    from demo import health, rooms

    class Gone:
        def ping(self):
            raise rooms.STORE_ERRORS[0]("the disk went away")

    monkeypatch.setattr(rooms, "open_store", lambda: Gone())
    assert health.main([]) == 1
    message = capsys.readouterr().err
    assert message.startswith("health: the class-room store does not answer") and "disk" in message

    class Answers:
        def ping(self):
            pass

    monkeypatch.setattr(rooms, "open_store", lambda: Answers())
    assert health.main([]) == 0


def test_the_health_check_reports_a_redis_that_is_not_there(monkeypatch, capsys):
    from demo import health

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert health.main([]) == 1
    assert capsys.readouterr().err.startswith("health: the class-room store")


def test_the_health_check_imports_neither_tensorflow_nor_streamlit():
    code = (
        "import sys, demo.health; "
        "heavy = {m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'streamlit'}; "
        "print(heavy); sys.exit(bool(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_redis_with_the_deployment_options_refuses_when_full_and_survives_a_restart(
    tmp_path,
):
    import redis

    options = redis_options(
        yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["redis"]["command"][1:]
    )
    options.update({"--maxmemory": "2mb", "--dir": str(tmp_path), "--port": str(free_port())})

    def start() -> subprocess.Popen:
        server = subprocess.Popen(
            ["redis-server", *(word for pair in options.items() for word in pair)],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=int(options["--port"]))
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return server
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    server.kill()
                    raise
                time.sleep(0.05)

    client = redis.Redis(port=int(options["--port"]))
    server = start()
    try:
        client.set("rooms:live", "a class", ex=3600)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for number in range(10_000):
                client.set(f"rooms:{number}", "x" * 1000, ex=3600)
        assert client.get("rooms:live") == b"a class"  # nothing evicted
        stored = client.dbsize()
        time.sleep(1.5)  # appendfsync everysec
    finally:
        server.kill()  # no clean shutdown: what the append-only file holds is all there is
        server.wait(timeout=10)
    server = start()
    try:
        assert client.get("rooms:live") == b"a class" and client.dbsize() == stored
    finally:
        server.kill()
        server.wait(timeout=10)
