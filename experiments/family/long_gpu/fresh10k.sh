#!/bin/bash
# The GPU call ran before wgan_gp_fashion's default became fresh_reals=True; its "shared" run
# (wgp.jsonl) had no --setting then, so the explicit fresh_reals=false here keeps its meaning.
# Reads runs/gpu/{clf0,clf1,fm} like long30k.sh.
# usage: fresh10k.sh OUTDIR EVAL_AT...   (four long_run.py processes side by side on one device)
O=$1; shift
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
C="timeout ${T:-380} python3 experiments/family/long_run.py --extractor runs/gpu/clf0 --judge runs/gpu/clf1 --dataset idx:runs/gpu/fm --eval-at $* --num ${NUM:-5000} --seeds 0 1"
SN5=loss=hinge,d_norm=spectral,n_critic=5,lr_g=2e-4,lr_d=2e-4,beta1=0,beta2=0.9
$C --configs wgan_gp_fashion --setting fresh_reals=false --out $O/wgp.jsonl > $O/wgp.log 2>&1 &
$C --configs wgan_gp_fashion --setting fresh_reals=true --out $O/wgp_fresh.jsonl > $O/wgp_fresh.log 2>&1 &
$C --configs sngan_fashion --setting $SN5 --out $O/sn5.jsonl > $O/sn5.log 2>&1 &
$C --configs sngan_fashion --setting $SN5,fresh_reals=true --out $O/sn5_fresh.jsonl > $O/sn5_fresh.log 2>&1 &
wait
grep -h "step" $O/*.log | grep -v cuda_timer
