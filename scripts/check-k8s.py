#!/usr/bin/env python3
"""Check the Kubernetes manifests of token-broker.

Usage: check-k8s.py [DIR]   (default: deploy/kubernetes under the repository root)

Parses every YAML document under DIR and checks what the broker needs to run there: every document
has apiVersion, kind and metadata.name; the expected kinds exist; the Deployment runs 2+ replicas,
probes /readyz and /healthz on its container port, runs non-root with a read-only root filesystem,
no privilege escalation and no capabilities, sets resource requests, pins its images; every
TOKEN_BROKER_* variable is a setting of the README's configuration table (the broker refuses
unknown ones); every Secret it references is in secret-example.yaml (with placeholders only); the
Service, PodDisruptionBudget, NetworkPolicy and HorizontalPodAutoscaler select or target its pods;
kustomization.yaml lists every other manifest. Prints one summary line and exits 0, or prints each
problem and exits 1. Needs PyYAML.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / "deploy" / "kubernetes"
README = REPO_ROOT / "README.md"

SECRETS_FILE = "secret-example.yaml"
KUSTOMIZATION_FILE = "kustomization.yaml"
REQUIRED_KINDS = ["Namespace", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Secret", "Kustomization"]
CLUSTER_SCOPED_KINDS = {"Namespace", "Kustomization"}
BROKER_CONTAINER = "token-broker"
DEFAULT_SHUTDOWN_GRACE_PERIOD = 30  # README: --shutdown-grace-period default
PLACEHOLDER = "REPLACE-ME"

# "| `--flag` | `TOKEN_BROKER_X` | `fileKey` | default | meaning |"
README_ROW = re.compile(r"^\|\s*`--[a-z0-9-]+`\s*\|\s*`(TOKEN_BROKER_[A-Z0-9_]+)`\s*\|")


class Checker:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[str] = []
        self.docs: list[tuple[str, dict[str, Any]]] = []  # (file relative to directory, document)

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # MARK: - Loading

    def load(self) -> None:
        files = sorted(p for p in self.directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            self.fail(str(self.directory), "no YAML files")
        for path in files:
            name = path.relative_to(self.directory).as_posix()
            try:
                documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except yaml.YAMLError as error:
                self.fail(name, f"not valid YAML: {error}")
                continue
            for index, doc in enumerate(documents):
                if doc is None:
                    continue
                where = name if len(documents) == 1 else f"{name} (document {index + 1})"
                if not isinstance(doc, dict):
                    self.fail(where, "a document must be a mapping")
                    continue
                self.docs.append((name, doc))
                for field in ("apiVersion", "kind"):
                    if not isinstance(doc.get(field), str) or not doc[field]:
                        self.fail(where, f"missing {field}")
                # A Kustomization is kustomize's input, not an object of the API: it has no name.
                if doc.get("kind") != "Kustomization" and not _get(doc, "metadata", "name"):
                    self.fail(where, "missing metadata.name")

    def of_kind(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(f, d) for f, d in self.docs if d.get("kind") == kind]

    # MARK: - Checks

    def check_kinds_and_namespaces(self) -> str | None:
        for kind in REQUIRED_KINDS:
            if not self.of_kind(kind):
                self.fail(str(self.directory), f"no {kind}")
        namespaces = [_get(d, "metadata", "name") for _, d in self.of_kind("Namespace")]
        if len(namespaces) != 1:
            return None
        namespace = namespaces[0]
        for file, doc in self.docs:
            if doc.get("kind") in CLUSTER_SCOPED_KINDS:
                continue
            actual = _get(doc, "metadata", "namespace")
            if actual != namespace:
                self.fail(file, f"{doc.get('kind')} {_get(doc, 'metadata', 'name')}: metadata.namespace is {actual!r}, not {namespace!r}")
        return namespace

    def check_deployment(self, known_variables: set[str], secrets: dict[str, set[str]]) -> dict[str, Any] | None:
        deployments = self.of_kind("Deployment")
        if len(deployments) != 1:
            if deployments:
                self.fail(deployments[1][0], f"expected one Deployment, found {len(deployments)}")
            return None
        file, deployment = deployments[0]
        where = f"{file}: Deployment {_get(deployment, 'metadata', 'name')}"
        spec = deployment.get("spec") or {}
        pod = _get(spec, "template", "spec") or {}
        labels = _get(spec, "template", "metadata", "labels") or {}

        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 2:
            self.fail(where, f"replicas is {replicas!r}; run at least 2 (3 recommended)")
        if not selector_matches(spec.get("selector"), labels):
            self.fail(where, "spec.selector does not match the pod template's labels")
        rolling = _get(spec, "strategy", "rollingUpdate") or {}
        if _get(spec, "strategy", "type") not in (None, "RollingUpdate") or rolling.get("maxUnavailable") not in (0, "0%"):
            self.fail(where, "strategy must be RollingUpdate with maxUnavailable 0 (no gap in service during a rollout)")

        if pod.get("enableServiceLinks") is not False:
            self.fail(where, "enableServiceLinks must be false: Kubernetes would inject TOKEN_BROKER_SERVICE_HOST, "
                      "TOKEN_BROKER_PORT_80_TCP... for the Service named token-broker, and the broker refuses unknown TOKEN_BROKER_* variables")
        if pod.get("automountServiceAccountToken") is not False:
            self.fail(where, "automountServiceAccountToken must be false (the broker never calls the Kubernetes API)")
        account = pod.get("serviceAccountName")
        if account and account != "default" and account not in {_get(d, "metadata", "name") for _, d in self.of_kind("ServiceAccount")}:
            self.fail(where, f"serviceAccountName {account!r} is not defined here")
        pod_security = pod.get("securityContext") or {}

        containers = pod.get("containers") or []
        init_containers = pod.get("initContainers") or []
        if not containers:
            self.fail(where, "no containers")
            return None
        for container in init_containers + containers:
            self.check_container_basics(where, container, pod_security, known_variables)
        broker = next((c for c in containers if c.get("name") == BROKER_CONTAINER), containers[0])
        cwhere = f"{where}, container {broker.get('name')}"
        ports = container_ports(broker)
        if not ports:
            self.fail(cwhere, "declares no containerPort")
        env = {e.get("name"): e for e in broker.get("env") or [] if isinstance(e, dict)}

        port_value = _get(env.get("TOKEN_BROKER_PORT") or {}, "value") or "8080"
        if str(port_value) not in {str(p) for p in ports.values()}:
            self.fail(cwhere, f"TOKEN_BROKER_PORT {port_value} is not a containerPort ({sorted(set(ports.values()))})")
        host = _get(env.get("TOKEN_BROKER_HOST") or {}, "value") or "127.0.0.1"
        if host in ("127.0.0.1", "localhost", "::1"):
            self.fail(cwhere, f"TOKEN_BROKER_HOST is {host!r} (the default is loopback): set 0.0.0.0 or the Service cannot reach the pod")

        for probe, path, required in (("readinessProbe", "/readyz", True), ("livenessProbe", "/healthz", True), ("startupProbe", "/healthz", False)):
            self.check_probe(cwhere, broker, probe, path, required, ports, str(port_value))

        self.check_shutdown(cwhere, pod, broker, env)
        self.check_key_ring(cwhere, pod, broker, env)
        self.check_secret_references(where, pod, secrets)
        return {"labels": labels, "ports": ports, "name": _get(deployment, "metadata", "name")}

    def check_container_basics(self, where: str, container: dict[str, Any], pod_security: dict[str, Any], known: set[str]) -> None:
        cwhere = f"{where}, container {container.get('name')}"
        security = container.get("securityContext") or {}
        run_as_non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
        if run_as_non_root is not True:
            self.fail(cwhere, "runAsNonRoot must be true (container or pod securityContext)")
        if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
            self.fail(cwhere, "runAsUser must not be 0")
        if security.get("readOnlyRootFilesystem") is not True:
            self.fail(cwhere, "securityContext.readOnlyRootFilesystem must be true")
        if security.get("allowPrivilegeEscalation") is not False:
            self.fail(cwhere, "securityContext.allowPrivilegeEscalation must be false")
        if security.get("privileged") is True:
            self.fail(cwhere, "must not be privileged")
        drop = _get(security, "capabilities", "drop") or []
        if "ALL" not in drop:
            self.fail(cwhere, "securityContext.capabilities.drop must contain ALL")
        if _get(security, "capabilities", "add"):
            self.fail(cwhere, "must not add capabilities")
        seccomp = _get(security, "seccompProfile", "type") or _get(pod_security, "seccompProfile", "type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            self.fail(cwhere, "seccompProfile must be RuntimeDefault (container or pod securityContext)")
        requests = _get(container, "resources", "requests") or {}
        for resource in ("cpu", "memory"):
            if not requests.get(resource):
                self.fail(cwhere, f"resources.requests.{resource} is not set")
        image = container.get("image")
        if not isinstance(image, str) or not image:
            self.fail(cwhere, "no image")
        elif "@" not in image:
            last = image.rsplit("/", 1)[-1]
            if ":" not in last:
                self.fail(cwhere, f"image {image!r} has no tag (that means :latest); pin a version or digest")
            elif last.rsplit(":", 1)[1] == "latest":
                self.fail(cwhere, f"image {image!r} uses the latest tag; pin a version or digest")
        for variable in container.get("env") or []:
            name = variable.get("name") if isinstance(variable, dict) else None
            if isinstance(name, str) and name.startswith("TOKEN_BROKER_") and name not in known:
                self.fail(cwhere, f"env {name} is not a setting of the README's configuration table; the broker refuses to start with it")
        for source in container.get("envFrom") or []:
            if isinstance(source, dict) and str(source.get("prefix", "")).startswith("TOKEN_BROKER_"):
                self.fail(cwhere, "envFrom with a TOKEN_BROKER_ prefix cannot be checked against the known settings; list the variables")

    def check_probe(self, where: str, container: dict[str, Any], probe: str, path: str, required: bool,
                    ports: dict[str, int], port_value: str) -> None:
        spec = container.get(probe)
        if spec is None:
            if required:
                self.fail(where, f"no {probe} (want httpGet {path})")
            return
        get = spec.get("httpGet") or {}
        if get.get("path") != path:
            self.fail(where, f"{probe} must be httpGet {path}, not {get.get('path') or 'a non-HTTP probe'}")
        port = get.get("port")
        resolved = ports.get(port) if isinstance(port, str) and not port.isdigit() else _int(port)
        if resolved is None or resolved not in ports.values():
            self.fail(where, f"{probe} port {port!r} is not one of the container's ports")
        elif str(resolved) != port_value:
            self.fail(where, f"{probe} port {port!r} is {resolved}, but the broker listens on {port_value}")

    def check_shutdown(self, where: str, pod: dict[str, Any], container: dict[str, Any], env: dict[str, Any]) -> None:
        grace = pod.get("terminationGracePeriodSeconds", 30)
        drain = _int(_get(env.get("TOKEN_BROKER_SHUTDOWN_GRACE_PERIOD") or {}, "value")) or DEFAULT_SHUTDOWN_GRACE_PERIOD
        sleep = _int(_get(container, "lifecycle", "preStop", "sleep", "seconds")) or 0
        if not isinstance(grace, int) or grace <= drain + sleep:
            self.fail(where, f"terminationGracePeriodSeconds {grace!r} must exceed the preStop sleep ({sleep} s) plus "
                      f"the broker's shutdown grace period ({drain} s), or in-flight requests are killed")

    def check_key_ring(self, where: str, pod: dict[str, Any], container: dict[str, Any], env: dict[str, Any]) -> None:
        keys_dir = _get(env.get("TOKEN_BROKER_KEYS_DIR") or {}, "value")
        if not keys_dir:
            self.fail(where, "TOKEN_BROKER_KEYS_DIR is not set (the default, ./keys, is on the read-only root filesystem)")
            return
        mounts = [m for m in container.get("volumeMounts") or [] if _is_under(keys_dir, m.get("mountPath", ""))]
        if not mounts:
            self.fail(where, f"no volume is mounted at or above TOKEN_BROKER_KEYS_DIR {keys_dir}")
            return
        mount = max(mounts, key=lambda m: len(m.get("mountPath", "")))
        volume = next((v for v in pod.get("volumes") or [] if v.get("name") == mount.get("name")), None)
        if volume is None:
            self.fail(where, f"volumeMount {mount.get('name')!r} names no volume")
        elif "secret" in volume or "projected" in volume:
            self.fail(where, f"the key ring ({keys_dir}) is a Secret volume: it is read-only (the broker takes a .lock there) and "
                      "with fsGroup its files are 0440, which the broker refuses; copy it into an emptyDir (see README.md)")
        if mount.get("readOnly") is True:
            self.fail(where, f"the key ring mount {mount.get('mountPath')} is readOnly; the broker takes a .lock in {keys_dir}")

    def check_secret_references(self, where: str, pod: dict[str, Any], secrets: dict[str, set[str]]) -> None:
        def need(name: Any, key: Any, what: str) -> None:
            if name not in secrets:
                self.fail(where, f"{what} refers to Secret {name!r}, which {SECRETS_FILE} does not define")
            elif key is not None and key not in secrets[name]:
                self.fail(where, f"{what} refers to key {key!r} of Secret {name!r}, which {SECRETS_FILE} does not show")

        for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            for variable in container.get("env") or []:
                ref = _get(variable, "valueFrom", "secretKeyRef")
                if ref is not None:
                    need(ref.get("name"), ref.get("key"), f"env {variable.get('name')}")
            for source in container.get("envFrom") or []:
                if source.get("secretRef") is not None:
                    need(_get(source, "secretRef", "name"), None, "envFrom")
        for volume in pod.get("volumes") or []:
            if volume.get("secret") is not None:
                secret = volume["secret"]
                need(secret.get("secretName"), None, f"volume {volume.get('name')}")
                for item in secret.get("items") or []:
                    need(secret.get("secretName"), item.get("key"), f"volume {volume.get('name')}")
            for source in _get(volume, "projected", "sources") or []:
                if source.get("secret") is not None:
                    need(_get(source, "secret", "name"), None, f"projected volume {volume.get('name')}")

    def secrets(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for file, doc in self.of_kind("Secret"):
            name = _get(doc, "metadata", "name")
            if file != SECRETS_FILE:
                self.fail(file, f"Secret {name} belongs in {SECRETS_FILE} (as an example with placeholders), not here")
                continue
            values = {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
            if doc.get("data"):
                self.fail(file, f"Secret {name}: use stringData with {PLACEHOLDER} placeholders, not data")
            for key, value in values.items():
                if PLACEHOLDER not in str(value):
                    self.fail(file, f"Secret {name}: key {key!r} must be a {PLACEHOLDER} placeholder, never a real value")
            found[name] = set(values)
        return found

    def check_selectors(self, pods: dict[str, Any]) -> None:
        labels, ports, name = pods["labels"], pods["ports"], pods["name"]
        for file, service in self.of_kind("Service"):
            where = f"{file}: Service {_get(service, 'metadata', 'name')}"
            selector = _get(service, "spec", "selector")
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                self.fail(where, f"selector {selector} does not match the Deployment's pod labels {labels}")
            for port in _get(service, "spec", "ports") or []:
                target = port.get("targetPort", port.get("port"))
                resolved = ports.get(target) if isinstance(target, str) else target
                if resolved not in ports.values():
                    self.fail(where, f"port {port.get('name') or port.get('port')}: targetPort {target!r} is not a container port")
        for file, pdb in self.of_kind("PodDisruptionBudget"):
            where = f"{file}: PodDisruptionBudget {_get(pdb, 'metadata', 'name')}"
            selector = _get(pdb, "spec", "selector")
            if not selector or not selector_matches(selector, labels):
                self.fail(where, f"selector {selector} does not match the Deployment's pod labels {labels}")
            if _get(pdb, "spec", "minAvailable") is None and _get(pdb, "spec", "maxUnavailable") is None:
                self.fail(where, "sets neither minAvailable nor maxUnavailable")
        for file, policy in self.of_kind("NetworkPolicy"):
            where = f"{file}: NetworkPolicy {_get(policy, 'metadata', 'name')}"
            if not selector_matches(_get(policy, "spec", "podSelector"), labels):
                self.fail(where, f"podSelector does not match the Deployment's pod labels {labels}")
        for file, hpa in self.of_kind("HorizontalPodAutoscaler"):
            where = f"{file}: HorizontalPodAutoscaler {_get(hpa, 'metadata', 'name')}"
            target = _get(hpa, "spec", "scaleTargetRef") or {}
            if target.get("kind") != "Deployment" or target.get("name") != name:
                self.fail(where, f"scaleTargetRef {target} is not the Deployment {name}")
            low, high = _get(hpa, "spec", "minReplicas"), _get(hpa, "spec", "maxReplicas")
            if not isinstance(low, int) or low < 2:
                self.fail(where, f"minReplicas {low!r} must be at least 2")
            if not isinstance(high, int) or (isinstance(low, int) and high < low):
                self.fail(where, f"maxReplicas {high!r} must be at least minReplicas")

    def check_kustomization(self) -> None:
        kustomizations = [(f, d) for f, d in self.of_kind("Kustomization")]
        if not kustomizations:
            return
        file, doc = kustomizations[0]
        if file != KUSTOMIZATION_FILE:
            self.fail(file, f"the Kustomization must be {KUSTOMIZATION_FILE}")
        listed = [str(r) for r in doc.get("resources") or []]
        manifests = {
            p.relative_to(self.directory).as_posix()
            for p in self.directory.rglob("*")
            if p.suffix in (".yaml", ".yml") and p.is_file()
        } - {KUSTOMIZATION_FILE}
        for missing in sorted(manifests - set(listed) - {SECRETS_FILE}):
            self.fail(file, f"resources does not list {missing}")
        for extra in sorted(set(listed) - manifests):
            self.fail(file, f"resources lists {extra}, which does not exist")
        if SECRETS_FILE in listed:
            self.fail(file, f"resources must not list {SECRETS_FILE}: `kubectl apply -k` would overwrite the real Secrets with placeholders")
        if len(listed) != len(set(listed)):
            self.fail(file, "resources lists a file twice")


def known_variables(readme: Path) -> set[str]:
    names = {m.group(1) for line in readme.read_text(encoding="utf-8").splitlines() if (m := README_ROW.match(line))}
    expected = {"TOKEN_BROKER_HOST", "TOKEN_BROKER_PORT", "TOKEN_BROKER_KEYS_DIR", "TOKEN_BROKER_DATABASE"}
    if not expected <= names:
        raise SystemExit(f"k8s: cannot read the configuration table of {readme} "
                         f"(rows \"| `--flag` | `TOKEN_BROKER_X` | ...\"); found {sorted(names) or 'none'}")
    return names | {"TOKEN_BROKER_CONFIG"}


def selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a pod's labels."""
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def container_ports(container: dict[str, Any]) -> dict[Any, int]:
    """Port names and numbers to numbers (a probe or Service may use either)."""
    ports: dict[Any, int] = {}
    for port in container.get("ports") or []:
        number = port.get("containerPort")
        if isinstance(number, int):
            ports[number] = number
            if port.get("name"):
                ports[port["name"]] = number
    return ports


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _is_under(path: str, mount: str) -> bool:
    mount = mount.rstrip("/") or "/"
    return path == mount or path.startswith(mount + "/") or mount == "/"


def main() -> int:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    if not directory.is_dir():
        print(f"k8s: {directory} is not a directory", file=sys.stderr)
        return 1
    checker = Checker(directory)
    checker.load()
    known = known_variables(README)
    checker.check_kinds_and_namespaces()
    secrets = checker.secrets()
    pods = checker.check_deployment(known, secrets)
    if pods is not None:
        checker.check_selectors(pods)
    checker.check_kustomization()
    if checker.problems:
        for problem in checker.problems:
            print(f"k8s: {problem}", file=sys.stderr)
        print(f"k8s: {len(checker.problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"k8s: {len(checker.docs)} documents, all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
