#!/usr/bin/env bash
# Lints every synthesized CloudFormation template with cfn-lint (1.51):
# 0 errors and 0 warnings are allowed, apart from the findings listed in
# scripts/cfn-lint-ignore (rule, resource type, reason) - the one place an
# ignored rule is named. An ignore entry that matches nothing is reported
# so stale entries get removed.
# Usage: scripts/cfn-lint.sh [assembly-dir]   (default cdk.out, from make synth)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir=${1:-cdk.out}

if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "cfn-lint is not installed: pip install 'cfn-lint==1.51.*' (Python 3.9 or later), then re-run" >&2
  exit 1
fi
shopt -s nullglob
templates=("$dir"/*.template.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "no templates in $dir: run make synth first" >&2
  exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# cfn-lint's exit status is a bit mask of what it found (2 error, 4
# warning, 8 informational); the filter below decides. Anything else, or
# output that is not JSON, is a failure of the tool itself.
set +e
cfn-lint --format json -- "${templates[@]}" >"$out"
rc=$?
set -e
if [ $((rc & ~14)) -ne 0 ]; then
  echo "cfn-lint failed (exit $rc):" >&2
  cat "$out" >&2
  exit 1
fi

python3 - "$root/scripts/cfn-lint-ignore" "$out" "${#templates[@]}" <<'PY'
import json, sys

ignore_file, out_file, n_templates = sys.argv[1], sys.argv[2], int(sys.argv[3])
ignores = {}
for n, line in enumerate(open(ignore_file), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    parts = line.split(None, 2)
    if len(parts) < 3 or len(parts[2]) < 20:
        sys.exit(f"{ignore_file}:{n}: want 'RULE RESOURCE-TYPE|* reason' with a real reason")
    ignores[(parts[0], parts[1])] = 0

types = {}
def resource_type(filename, path):
    if filename not in types:
        types[filename] = {k: v.get("Type") for k, v in json.load(open(filename)).get("Resources", {}).items()}
    if len(path) > 1 and path[0] == "Resources":
        return types[filename].get(path[1], "?")
    return "?"

counts = {"Error": 0, "Warning": 0, "Informational": 0}
ignored = 0
for m in json.load(open(out_file)):
    rule, level = m["Rule"]["Id"], m["Level"]
    typ = resource_type(m["Filename"], m["Location"]["Path"])
    key = next((k for k in [(rule, typ), (rule, "*")] if k in ignores), None)
    if key:
        ignores[key] += 1
        ignored += 1
        continue
    counts[level] = counts.get(level, 0) + 1
    where = f'{m["Filename"]}:{m["Location"]["Start"]["LineNumber"]}'
    print(f'{where}: {level} {rule} {"/".join(map(str, m["Location"]["Path"]))} ({typ}): {m["Message"]}')

for (rule, typ), hits in ignores.items():
    if hits == 0:
        print(f"note: ignore entry {rule} {typ} matched nothing; remove it if it is stale")
print(f'cfn-lint: {n_templates} templates, {counts["Error"]} errors, {counts["Warning"]} warnings, '
      f'{counts.get("Informational", 0)} informational, {ignored} ignored by scripts/cfn-lint-ignore')
sys.exit(1 if counts["Error"] or counts["Warning"] else 0)
PY
