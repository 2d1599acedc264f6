#!/usr/bin/env bash
# Deploys one environment to its AWS account in stages, so nothing waits on
# a certificate that cannot validate yet (docs/runbook.md "Deploying"):
#   1. bootstrap the three Region/account pairs for the CDK;
#   2. the global stack (hosted zone, health checks, DR role);
#   3. unless the config names parentHostedZoneId (then the global stack
#      delegated the zone itself), print the zone's name servers and wait
#      until the parent domain delegates to them;
#   4. the primary, then the secondary Regional stack (their certificates
#      validate through the delegated zone);
#   5. the schema and the app user: invoke the migration function in the
#      Region that holds the writer ({"migrate": true});
#   6. the ARC Region switch plan's stack (it names both Regional stacks'
#      action functions and probe alarms; last, so its triggers watch a
#      service that has its schema).
# Needs AWS credentials for the config's account and the AWS CLI. make
# deploy runs it after make synth; the tests never do.
# Usage: scripts/deploy.sh CONFIG [assembly-dir]
# Extra cdk deploy flags: CDK_DEPLOY_FLAGS (e.g. "--require-approval never").
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:?usage: scripts/deploy.sh CONFIG [assembly-dir]}
out=${2:-cdk.out}
export PATH="$PWD/tools/node_modules/.bin:$PATH"

plan=$(go run ./cmd/synth -config "$config" -describe)
eval "$plan"

command -v aws >/dev/null 2>&1 || { echo "deploy: the AWS CLI (aws) is required" >&2; exit 1; }
caller=$(aws sts get-caller-identity --query Account --output text)
if [ "$caller" != "$ACCOUNT" ]; then
  echo "deploy: the credentials are for account $caller, the config names $ACCOUNT" >&2
  exit 1
fi
[ -f "$out/manifest.json" ] || { echo "deploy: no assembly in $out: run make synth CONFIG=$config" >&2; exit 1; }

cdk() { "${CDK:-cdk}" "$@"; } # CDK: another CDK CLI (the tests use a stand-in)
deploy() { cdk deploy --app "$out" --exclusively ${CDK_DEPLOY_FLAGS:-} "$1"; }

echo "== 1. bootstrap"
# shellcheck disable=SC2046 # one word per environment
cdk bootstrap $(printf 'aws://%s/%s\n' "$ACCOUNT" "$GLOBAL_REGION" "$ACCOUNT" "$PRIMARY_REGION" "$ACCOUNT" "$SECONDARY_REGION" | sort -u)

echo "== 2. $GLOBAL_STACK"
deploy "$GLOBAL_STACK"

if [ "$DELEGATED_BY_STACK" != true ]; then
  echo "== 3. delegate $ZONE"
  servers=$(aws cloudformation describe-stacks --region "$GLOBAL_REGION" --stack-name "$GLOBAL_STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='ZoneNameServers'].OutputValue" --output text)
  echo "Create this NS record in the parent domain's DNS (TTL 3600 or less):"
  echo "  $ZONE.  NS  ${servers//,/ }"
  first=${servers%%,*}
  if command -v dig >/dev/null 2>&1; then
    echo "waiting until public DNS answers with the delegation (Ctrl-C to stop; re-running resumes here)..."
    until dig +short NS "$ZONE" @1.1.1.1 | grep -qi "${first%.}"; do sleep 30; done
  else
    read -r -p "press Enter once the delegation is in place: " _
  fi
else
  echo "== 3. $ZONE is delegated by $GLOBAL_STACK (parentHostedZoneId)"
fi

echo "== 4. $PRIMARY_STACK, then $SECONDARY_STACK"
deploy "$PRIMARY_STACK"
deploy "$SECONDARY_STACK"

# After a failover the writer is in the secondary: ask drctl's parameter.
active=$(aws ssm get-parameter --region "$PRIMARY_REGION" --name "$ACTIVE_REGION_PARAM" --query Parameter.Value --output text)
fn=$MIGRATE_FUNCTION_PRIMARY
[ "$active" = "$SECONDARY_REGION" ] && fn=$MIGRATE_FUNCTION_SECONDARY
echo "== 5. schema and app user: $fn in $active"
result=$(mktemp)
trap 'rm -f "$result"' EXIT
status=$(aws lambda invoke --region "$active" --function-name "$fn" --cli-binary-format raw-in-base64-out \
  --payload '{"migrate": true}' --query FunctionError --output text "$result")
cat "$result"; echo
if [ "$status" != "None" ]; then
  echo "deploy: the migration failed ($status); see the log group /aws/lambda/$fn" >&2
  exit 1
fi

echo "== 6. $REGIONSWITCH_STACK"
deploy "$REGIONSWITCH_STACK"

echo "deployed: https://$API_HOST (API key: aws secretsmanager get-secret-value --region $PRIMARY_REGION --secret-id $API_KEY_SECRET)"
