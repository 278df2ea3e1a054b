#!/usr/bin/env bash
# Runs the sharded load test on the current kubectl context, then merges it. Exits as
# `wsload merge` does: 0 every threshold met, 1 one failed, 2 the shards did not add up.
# Needs a Secret with the URL first:
#   kubectl create secret generic wsload --from-literal=url=wss://abc123.execute-api.eu-west-1.amazonaws.com/prod
set -euo pipefail
cd "$(dirname "$0")"

start=$(date -u -d '+60 seconds' +%Y-%m-%dT%H:%M:%SZ)
kubectl delete job wsload-chat wsload-chat-merge --ignore-not-found
sed "s/__START_AT__/$start/" wsload-job.yaml | kubectl apply -f -
kubectl wait --for=condition=complete --timeout=40m job/wsload-chat

kubectl apply -f wsload-merge.yaml
# The merge Job either completes or fails (a threshold): wait for whichever comes.
until status=$(kubectl get job wsload-chat-merge -o jsonpath='{.status.succeeded}/{.status.failed}') &&
      [ "$status" != "/" ]; do
  sleep 2
done
kubectl logs job/wsload-chat-merge
[ "$status" = "1/" ]
