#!/usr/bin/env bash
# Deletes every record of a Route 53 hosted zone except its apex NS and SOA,
# so the global stack can delete the zone (cdk destroy otherwise fails with
# HostedZoneNotEmpty: CloudFormation leaves behind the CNAME records ACM
# validated the Regional certificates with). docs/runbook.md "Tearing down".
# Usage: scripts/empty-zone.sh ZONE_ID
set -euo pipefail
zone=${1:?usage: scripts/empty-zone.sh ZONE_ID}
records=$(aws route53 list-resource-record-sets --hosted-zone-id "$zone" --output json)
name=$(aws route53 get-hosted-zone --id "$zone" --query HostedZone.Name --output text)
batch=$(RECORDS="$records" python3 - "$name" <<'PY'
import json, os, sys
apex = sys.argv[1]
changes = [{"Action": "DELETE", "ResourceRecordSet": r}
           for r in json.loads(os.environ["RECORDS"])["ResourceRecordSets"]
           if not (r["Name"] == apex and r["Type"] in ("NS", "SOA"))]
print(json.dumps({"Comment": "empty before delete", "Changes": changes}) if changes else "")
PY
)
if [ -z "$batch" ]; then
  echo "$name: nothing to delete"
  exit 0
fi
aws route53 change-resource-record-sets --hosted-zone-id "$zone" --change-batch "$batch" --query ChangeInfo.Status --output text
