#!/bin/bash
# Usage: git worktree add /tmp/base 854e56f && bash benchmarks/cold_start_ab.sh 4   (from the repository root)
# Side by side, alternating, fresh processes, no persistent cache:
# base = 854e56f (before the image-layer change; the tree measured at 4.91 s on 2026-11-26), library path
# now-lib = working tree, library path; now-cli = working tree, `gan-jax train` path
for i in $(seq 1 $1); do
  PYTHONPATH=${BASE:-/tmp/base} python ${BASE:-/tmp/base}/benchmarks/cold_start.py --repeats 1 --modes no-cache 2>&1 | grep "| no-cache" | sed 's/^/base    /'
  python benchmarks/cold_start.py --repeats 1 --modes no-cache --path library 2>&1 | grep "| no-cache" | sed 's/^/now-lib /'
  python benchmarks/cold_start.py --repeats 1 --modes no-cache --path cli 2>&1 | grep "| no-cache" | sed 's/^/now-cli /'
done
