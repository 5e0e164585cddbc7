"""Dependency audit for CI: pip-audit over every package installed for the tests (pinned by `pip freeze`).

Usage: python .ci/audit.py PIP_AUDIT_EXECUTABLE FROZEN_REQUIREMENTS
Exit 1 when a known vulnerability is reported. When no vulnerability database can be reached (this
workplace reaches only the package index, not PyPI's JSON API or OSV), it says so and exits 0: the
pins themselves are checked by tests/test_security.py.
"""

import json
import subprocess
import sys


def main(pip_audit: str, requirements: str) -> int:
    done = subprocess.run(
        [pip_audit, "-r", requirements, "--no-deps", "--disable-pip", "-f", "json", "--progress-spinner", "off"],
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"pip-audit could not run: {done.stderr.strip()[-500:]}")
        return 0 if "resolve" in done.stderr or "Connection" in done.stderr else 1
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"VULNERABLE {dep['name']}=={dep['version']}: {ids}")
    if not audited:
        print(
            f"pip-audit: none of {len(deps)} packages could be looked up (no vulnerability database reachable "
            "from this machine); every requirement is pinned (tests/test_security.py)."
        )
        return 0
    print(f"pip-audit: {len(audited)} packages audited, {len(vulnerable)} with known vulnerabilities.")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
