#!/bin/bash
# The SNGAN ResNet (sngan_resnet_fashion at 28 px, the size the Fashion-MNIST classifiers take)
# at 10,000 steps: the paper's 5 critic steps (fresh real batches, Adam(2e-4, 0, 0.9)), one
# process per seed, and one critic step at setting C, Adam(2e-4, 0.5, 0.999), seeds 0 and 1 in
# one process. Reads runs/gpu/{clf0,clf1,fm}. The GPU call ran when the config still shipped
# the five-step recipe at 32 px, so its rows' "setting" fields name only what differed then
# (rn5: "resolution=28"); the settings below are spelled out in full and run the same.
# usage: sn_resnet.sh OUTDIR EVAL_AT...  -> OUTDIR/sn_resnet.jsonl, OUTDIR/sn_resnet.log
# T: seconds each process may run (default 440). EXTRA: settings appended to each (smoke tests).
O=$1; shift
P=$(mktemp -d)
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_MEM_FRACTION=0.25
C="timeout ${T:-440} python3 experiments/family/long_run.py --extractor runs/gpu/clf0 --judge runs/gpu/clf1 --dataset idx:runs/gpu/fm --eval-at $* --num ${NUM:-5000} --configs sngan_resnet_fashion"
run() { name=$1; shift; $C "$@" --out $P/$name.jsonl > $P/$name.log 2>&1 & }
RN5=resolution=28,n_critic=5,fresh_reals=true,lr_g=2e-4,lr_d=2e-4,beta1=0,beta2=0.9
RN1=resolution=28,n_critic=1,fresh_reals=false,lr_g=2e-4,lr_d=2e-4,beta1=0.5,beta2=0.999  # = the config now
run rn5_s0 --seeds 0 --setting $RN5$EXTRA
run rn5_s1 --seeds 1 --setting $RN5$EXTRA
run rn1 --seeds 0 1 --setting $RN1$EXTRA
wait
cat $P/*.jsonl > $O/sn_resnet.jsonl
for f in $P/*.log; do echo "== $(basename $f)"; grep -v cuda_timer $f | tail -20; done > $O/sn_resnet.log
grep -h "step" $P/*.log | grep -v cuda_timer
