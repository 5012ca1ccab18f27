#!/bin/bash
# usage: long30k.sh OUTDIR EVAL_AT...   (five long_run.py processes side by side on one device)
# Reads runs/gpu/clf0 and runs/gpu/clf1 (copies of runs/family/clf_seed0 and clf_seed1, the metric's
# and the judge's classifiers) and runs/gpu/fm (a copy of /usr/share/datasets/fashion-mnist);
# the device call carried runs/gpu. T: seconds each process may run (default 480).
O=$1; shift
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_MEM_FRACTION=0.15
C="timeout ${T:-480} python3 experiments/family/long_run.py --extractor runs/gpu/clf0 --judge runs/gpu/clf1 --dataset idx:runs/gpu/fm --eval-at $* --num ${NUM:-5000}"
$C --configs dcgan_fashion --seeds 0 1 --out $O/dcgan.jsonl > $O/dcgan.log 2>&1 &
$C --configs sngan_fashion --seeds 0 1 --out $O/sngan.jsonl > $O/sngan.log 2>&1 &
$C --configs sngan_fashion --seeds 0 1 --setting lr_g=2e-4,lr_d=2e-4 --out $O/sn2e4.jsonl > $O/sn2e4.log 2>&1 &
for s in 0 1; do
$C --configs sngan_fashion --seeds $s --setting model=sngan_cnn,lr_g=2e-4,lr_d=2e-4 --out $O/sncnn$s.jsonl > $O/sncnn$s.log 2>&1 &
done
wait
grep -h "step" $O/*.log | grep -v cuda_timer
