//! The helm chart: lint, render every mode, validate against the
//! Kubernetes schemas, check the security settings. The work is done by
//! tests/helm/test_chart.py with real Helm (helm-python-sdk) and
//! kubernetes-validate, which `.ci/run` installs. Without them this test
//! says so and passes, unless `LOGSCRUB_REQUIRE_PYTHON=1`.

use std::process::{Command, Stdio};

#[test]
fn chart_lints_renders_and_validates_in_every_mode() {
    let root = env!("CARGO_MANIFEST_DIR");
    let have = Command::new("python3")
        .args(["-c", "import helm_python, kubernetes_validate, yaml"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var_os("LOGSCRUB_REQUIRE_PYTHON").is_none(),
            "pip install helm-python-sdk kubernetes-validate pyyaml"
        );
        eprintln!("skipped: pip install helm-python-sdk kubernetes-validate pyyaml");
        return;
    }
    let out = Command::new("python3").arg(format!("{root}/tests/helm/test_chart.py")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("chart ok"), "{text}");
}
