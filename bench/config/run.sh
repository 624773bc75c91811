#!/bin/sh
# Front-end benchmarks (docs/BENCHMARKS.md, "Pipeline front end"): Load and
# resolution of a generated 5000-stage chain, against HCL's own sequential
# whole-file parse of the same text (what Terraform does) in the same run.
set -eu
cd "$(dirname "$0")/../.."
count=${1:-5}
echo "# $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg), $(go version)"
go test ./config -run '^$' -bench 'ParseOnly5000|SplitParse5000|LoadChain5000|ResolveChain5000|PlanChain5000' \
  -benchtime 10x -benchmem -count "$count"
go test ./dag -run '^$' -bench 'TopoSortChain5000' -benchmem -count "$count"
