"""The helm chart, checked with real Helm (helm-python-sdk) and the
Kubernetes schemas (kubernetes-validate). Run by .ci/run:

    python3 tests/helm/test_chart.py

Lints the chart, renders every mode with several value sets, validates each
manifest against Kubernetes 1.30 (strict), and asserts the hardened security
settings, the probes, and that no secret value reaches rendered output.
"""
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "logscrub"
KUBE = "1.30.0"
# Planted in values where a careless chart might copy them into manifests.
PLANTED = "planted-hash-key-value-0f9e8d7c"

RULE = """[pack]
name = "acme"
description = "Acme internal tokens"

[[rule]]
id = "acme-token"
description = "Acme service token"
category = "token"
keywords = ["acme_"]
regex = '(?P<secret>acme_[a-z0-9]{24})'
positive = [{ input = "t=acme_abcdefghijklmnopqrstuvwx", output = "t=[REDACTED:acme-token]" }]
negative = ["acme_short"]
"""

CASES = {
    "daemonset-default": {"mode": "daemonset", "output": {"kind": "forward", "downstream": "fluent-aggregator.logging:24224"}},
    "daemonset-tls": {
        "mode": "daemonset",
        "output": {
            "kind": "forward",
            "downstream": "scrub.logging:24224",
            "tls": {"caSecret": "aggregator-ca", "serverName": "scrub"},
            "sharedKey": {"existingSecret": "forward-key"},
        },
    },
    "daemonset-root-stdout": {
        "mode": "daemonset",
        "daemonset": {"readAsRoot": True},
        "output": {"kind": "stdout", "format": "json_lines"},
        "metrics": {"serviceMonitor": {"enabled": True}},
    },
    "aggregator": {
        "mode": "aggregator",
        "output": {"kind": "forward", "downstream": "fluentd.logging:24224"},
        "hashKey": {"existingSecret": "logscrub-hash-key", "key": "key"},
        "rules": {"packs": ["default", "network"], "disable": ["email"], "masks": {"ipv4": "hash"}, "custom": {"acme.toml": RULE}},
        "aggregator": {
            "spill": {"enabled": True, "maxBytes": 536870912, "sizeLimit": "1Gi"},
            "tls": {"existingSecret": "logscrub-tls", "clientCA": True},
            "sharedKey": {"existingSecret": "forward-key", "key": "key"},
        },
    },
    "aggregator-autoscaled": {
        "mode": "aggregator",
        "output": {"kind": "stdout"},
        "aggregator": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6}},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    },
    "job": {"mode": "job", "output": {"kind": "stdout"}, "job": {"shards": 8, "archive": {"claimName": "old-logs"}}},
    "job-out-tree": {
        "mode": "job",
        "output": {"kind": "stdout"},
        "job": {"shards": 3, "inPlace": False, "include": ["**/*.gz"], "archive": {"claimName": "old-logs"}},
        "rules": {"existingConfigMap": "team-rules"},
    },
    "sidecar": {"mode": "sidecar", "output": {"kind": "stdout"}},
    "sidecar-forward": {"mode": "sidecar", "output": {"kind": "forward", "downstream": "fluent-bit:24224"}, "format": "auto"},
}

WORKLOADS = {"DaemonSet", "Deployment", "Job"}


def pod_spec(doc):
    return doc["spec"]["template"]["spec"]


def check_hardened(name, doc, case):
    spec = pod_spec(doc)
    psc = spec["securityContext"]
    assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
    root_reader = case.get("daemonset", {}).get("readAsRoot")
    if not root_reader:
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0, name
    assert spec["automountServiceAccountToken"] is False, name
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, (name, c["name"])
        assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
        assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
        assert sc["seccompProfile"]["type"] == "RuntimeDefault", (name, c["name"])
        if c["name"] == "logscrub" and doc["kind"] != "Job":
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            args = c["args"]
            assert any(a.startswith("--admin=") for a in args), name


def main():
    report = helm.lint(str(CHART), strict=True, kube_version="v" + KUBE)
    errors = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
    assert not errors, f"helm lint: {errors}"
    chart = helm.Chart.load(str(CHART))
    validated = 0
    for name, values in CASES.items():
        values = dict(values)
        chart.validate_schema(values)
        rendered = chart.render(values, name="scrub", namespace="logging", is_install=True)
        kinds = set()
        for path, text in rendered.items():
            if not path.endswith(".yaml"):
                continue
            for doc in yaml.safe_load_all(text):
                if not doc:
                    continue
                kinds.add(doc["kind"])
                if doc["kind"] == "ServiceMonitor":
                    assert doc["spec"]["endpoints"][0]["path"] == "/metrics"
                else:
                    kubernetes_validate.validate(doc, KUBE, strict=True)
                    validated += 1
                if doc["kind"] in WORKLOADS:
                    check_hardened(name, doc, values)
                    if values.get("hashKey", {}).get("existingSecret"):
                        env = pod_spec(doc)["containers"][-1]["env"]
                        ref = [e for e in env if e["name"] == "LOGSCRUB_HASH_KEY"][0]["valueFrom"]["secretKeyRef"]
                        assert ref == {"name": "logscrub-hash-key", "key": "key"}
                if doc["kind"] == "Deployment" and values.get("aggregator", {}).get("spill", {}).get("enabled"):
                    spec = pod_spec(doc)
                    args = spec["containers"][0]["args"]
                    assert "--spill-dir=/var/spool/logscrub" in args and "--spill-bytes=536870912" in args, args
                    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
                    assert mounts["spill"] == "/var/spool/logscrub", mounts
                    volumes = {v["name"]: v for v in spec["volumes"]}
                    assert volumes["spill"]["emptyDir"] == {"sizeLimit": "1Gi"}, volumes
                    assert "rules" in " ".join(volumes), "the rules volume stays beside the spill"
                    assert volumes["tls"]["secret"] == {"secretName": "logscrub-tls"}, volumes
                    assert mounts["tls"] == "/etc/logscrub/tls", mounts
                    env = {e["name"]: e for e in spec["containers"][0]["env"]}
                    ref = env["LOGSCRUB_FORWARD_SHARED_KEY"]["valueFrom"]["secretKeyRef"]
                    assert ref == {"name": "forward-key", "key": "key"}, ref
                    for flag in ["--tls-cert=/etc/logscrub/tls/tls.crt", "--tls-key=/etc/logscrub/tls/tls.key",
                                 "--tls-client-ca=/etc/logscrub/tls/ca.crt"]:
                        assert flag in args, (flag, args)
                if doc["kind"] == "DaemonSet" and values.get("output", {}).get("tls"):
                    spec = pod_spec(doc)
                    args = spec["containers"][0]["args"]
                    assert "--downstream-ca=/etc/logscrub/downstream-ca/ca.crt" in args, args
                    assert "--downstream-tls-name=scrub" in args, args
                    volumes = {v["name"]: v for v in spec["volumes"]}
                    assert volumes["downstream-ca"]["secret"]["secretName"] == "aggregator-ca", volumes
                    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
                    assert mounts["downstream-ca"] == "/etc/logscrub/downstream-ca", mounts
                    env = {e["name"]: e for e in spec["containers"][0]["env"]}
                    ref = env["LOGSCRUB_DOWNSTREAM_SHARED_KEY"]["valueFrom"]["secretKeyRef"]
                    assert ref == {"name": "forward-key", "key": "shared-key"}, ref
                    assert "LOGSCRUB_FORWARD_SHARED_KEY" not in env, "only the aggregator listens for Forward"
        expected = {"daemonset": "DaemonSet", "aggregator": "Deployment", "job": "Job", "sidecar": "Deployment"}[values["mode"]]
        assert expected in kinds, (name, kinds)
        print(f"ok {name}: {sorted(kinds)}")
    # The hash key is only ever referenced by Secret name: a clear-text key
    # in values is refused by the schema (without echoing it), so it can
    # never reach a manifest.
    for where in ({"hashKey": {"value": PLANTED}}, {"hashKey": {"existingSecret": "", "key": PLANTED, "secret": PLANTED}}):
        try:
            chart.validate_schema(dict(CASES["aggregator"], **where))
        except helm.HelmError as e:
            assert PLANTED not in str(e), "the schema error echoed the key"
        else:
            raise AssertionError("the schema accepted a clear-text hash key")
    for name, values in CASES.items():
        out = "".join(chart.render(values, name="scrub", namespace="logging").values())
        assert PLANTED not in out and "hunter2hunter2" not in out, name
    # Missing required values fail with a clear message.
    for bad, needle in [({"mode": "job", "output": {"kind": "stdout"}}, "claimName"),
                        ({"mode": "aggregator", "output": {"kind": "forward"}}, "downstream")]:
        try:
            chart.render(bad, name="scrub", namespace="logging")
        except helm.HelmError as e:
            assert needle in str(e), e
        else:
            raise AssertionError(f"rendered without {needle}")
    print(f"chart ok: {len(CASES)} value sets, {validated} manifests valid for Kubernetes {KUBE}")


if __name__ == "__main__":
    sys.exit(main())
