#!/bin/bash
# SNGAN recipes against DCGAN at 10,000 steps, seven long_run.py processes side by side on one
# device (each seeds 0 and 1). Reads runs/gpu/{clf0,clf1,fm} like long30k.sh.
# usage: sn10k.sh OUTDIR EVAL_AT...   -> OUTDIR/sn10k.jsonl (every row) and OUTDIR/sn10k.log
# T: seconds each process may run (default 450); the parts are gathered into two files because
# the device returns at most eight.
O=$1; shift
P=$(mktemp -d)
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_MEM_FRACTION=0.1
C="timeout ${T:-450} python3 experiments/family/long_run.py --extractor runs/gpu/clf0 --judge runs/gpu/clf1 --dataset idx:runs/gpu/fm --eval-at $* --num ${NUM:-5000} --seeds 0 1"
run() { name=$1; shift; $C "$@" --out $P/$name.jsonl > $P/$name.log 2>&1 & }
run dcgan --configs dcgan_fashion
run sn_wide_d --configs sngan_fashion --setting d_width=128
run sn_ncritic2 --configs sngan_fashion --setting n_critic=2,fresh_reals=true
run sn_ttur_d --configs sngan_fashion --setting lr_g=2e-4,lr_d=8e-4
run sn_sagan --configs sngan_fashion --setting lr_g=1e-4,lr_d=4e-4,beta1=0,beta2=0.9
run sn5_1e3 --configs sngan_fashion --setting n_critic=5,fresh_reals=true,lr_g=1e-3,lr_d=1e-3,beta1=0.5,beta2=0.9
run sn5_2e4 --configs sngan_fashion --setting n_critic=5,fresh_reals=true,lr_g=2e-4,lr_d=2e-4,beta1=0.5,beta2=0.9
wait
cat $P/*.jsonl > $O/sn10k.jsonl
for f in $P/*.log; do echo "== $(basename $f)"; grep -v cuda_timer $f | tail -20; done > $O/sn10k.log
grep -h "step" $P/*.log | grep -v cuda_timer
