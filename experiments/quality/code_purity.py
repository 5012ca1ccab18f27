"""Per InfoGAN category of a `latent_code` run: which digits `cnn-a` recognises in 100 samples each.

    python experiments/quality/code_purity.py RUN_DIR
"""
import sys
import jax, numpy as np
from gan_jax import workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.tasks import generate as gen
from gan_jax.metrics.classifier import Classifier
run = sys.argv[1]
config = wd.load_config(run)
state, _ = restore_run(run, config)
clf = Classifier.load("runs/judges/mnist5k/cnn_a")
K = config.latent_code
for k in range(K):
    z = np.array(jax.random.normal(jax.random.PRNGKey(k), (100, config.z_dim)))
    z[:, k] = np.abs(z[:, :K]).max(1) + 0.1  # category k
    x = gen.generate_from(config, state, z)
    pred, conf = clf.predict(x)
    counts = np.bincount(pred[conf >= 0.9], minlength=10)
    print(f"code {k:2d}: recognised {np.mean(conf >= 0.9):.0%}, digits {' '.join(f'{d}:{c}' for d, c in enumerate(counts) if c >= 5)}")
