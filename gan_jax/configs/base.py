"""The training configuration: one flat, frozen dataclass.

Named configs (``gan_jax/configs/<name>.py``) return an instance of
:class:`Config`; the CLI's ``--set key=value`` overrides fields by name, with
the value parsed by the field's type.
"""
from __future__ import annotations

import dataclasses
import typing

from gan_jax.errors import UserError

MAX_TRUNCATION_PSI = 2.0
"""The largest ``truncation_psi`` accepted (the config, ``gan-jax sample --truncation``)."""


@dataclasses.dataclass(frozen=True)
class Config:
    # --- data -----------------------------------------------------------
    dataset: str = "mnist5k"
    """Data source spec: ``mnist5k`` (embedded), ``fashion_mnist`` (Debian idx
    files), ``idx:PATH`` (MNIST-format idx files), ``tfds:NAME[:SPLIT]``,
    ``folder:PATH``, ``faces100`` (scikit-image's 100 face crops), ``stacked_mnist``
    (three MNIST-5k digits as RGB, 1,000 modes; channels=3)."""
    tfds_data_dir: str = ""
    """TFDS data directory ('' = the TFDS default, ~/tensorflow_datasets)."""
    resolution: int = 28
    channels: int = 1
    input_pipeline: str = "auto"
    """How training reads the data (:mod:`gan_jax.data.pipeline`; the batches are the same
    either way): ``memory`` (an image folder decoded whole before step 1, one prefetch thread),
    ``grain`` (Grain: each batch decoded when needed, in worker processes, the iterator state
    in the checkpoint; ``grain:N`` for N worker processes) or ``auto`` (``grain`` for an image
    folder or TFDS set of more than 1 GiB decoded, else ``memory``)."""
    # --- model ----------------------------------------------------------
    model: str = "dcgan"
    """A registered model (:mod:`gan_jax.models`) or an import path ``module:attr``: ``dcgan`` (28/32/64 px), ``sngan_cnn`` (DCGAN's G with the SNGAN paper's 7-conv standard
    CNN D; ``d_norm`` spectral or none), ``resnet`` (SNGAN's ResNets; 32 px, or any S * 2**k px
    with 3 <= S <= 7, e.g. 28), ``stylegan2`` (task=style), ``r3gan`` (R3GAN's ConvNets), ``unet``
    and ``srgan`` (the image-to-image tasks), ``unet_noskip`` (task=cyclegan: the U-Net without
    its long skips, 3 residual blocks at the bottom)."""
    z_dim: int = 100
    num_classes: int = 0
    """Class-conditional models when > 0 (conditional-BatchNorm G, and D as ``conditioning``
    says); the dataset must have labels 0 .. num_classes - 1."""
    conditioning: str = "projection"
    """How D uses the classes when ``num_classes`` > 0: ``projection`` (Miyato & Koyama 2018:
    the logit gains <embed(y), features>) or ``acgan`` (Odena et al. 2017: D takes no label
    and has an auxiliary head of class logits; G also takes the one-hot label beside z; D
    minimises ``aux_weight`` * the class cross-entropy on real images, G on its fakes)."""
    label_input: bool = False
    """Class-conditional DCGAN: G also takes the one-hot label beside z, at its first transposed
    conv, as well as through conditional BatchNorm (always on for ``conditioning=acgan``).
    Conditional BatchNorm alone starts almost class-blind and learns the classes slowly
    (``experiments/acgan/results.md``)."""
    aux_weight: float = 1.0
    """Weight of ACGAN's auxiliary classification loss (``conditioning=acgan``) and of InfoGAN's
    code loss (``latent_code``)."""
    latent_code: int = 0
    """InfoGAN (Chen et al. 2016), unconditional DCGAN only: a categorical code with this many
    categories (0: none), read off z (the argmax of its first ``latent_code`` entries) and fed to
    G as a one-hot beside z; D's head Q learns to recover it from G's fakes and G to make it
    recoverable (weight ``aux_weight``). No labels are used. Splitting z-space into categories
    lets G draw separate digit shapes instead of blends between them."""
    cluster_code: int = 0
    """Self-conditioning (Liu et al. 2020; Sage et al. 2018), unconditional DCGAN or StyleGAN2: the
    training images are split, without labels, into this many equal-size clusters
    (k-means on PCA'd pixels, :mod:`gan_jax.data.clusters`; 0: off). G's categorical code is read
    off z as for ``latent_code`` (so G still takes z alone and every editor of z works), and D
    is a projection discriminator told the cluster: a real image's own, a fake's code. G learns
    to draw each cluster apart instead of blends between the data's modes."""
    transition_start: int = 0
    transition_end: int = 0
    """Transitional training (Shahbazi et al. 2022, "Collapse by conditioning"), self-conditioned
    StyleGAN2 only (``cluster_code``): the cluster conditioning fades in with the weight
    lambda = clip((step - transition_start) / (transition_end - transition_start), 0, 1). G's
    mapping network takes lambda x the cluster embedding, and D adds an unconditional logit to
    lambda x its projection term, so the run starts unconditional and ends conditional (0, 0: off,
    conditional from the first step). Against collapse inside each cluster. Sampling and editing
    use the conditional generator (lambda = 1); the training grids show G at the step's lambda."""
    g_width: int = 64
    d_width: int = 64
    d_norm: str = "batch"
    """Normalisation in D: ``batch`` (DCGAN), ``spectral`` (SNGAN: spectral norm on every
    conv), ``none``, or ``instance`` (per image; the PatchGAN D of model=unet or unet_noskip only).
    Gradient penalties need ``spectral`` or ``none``: BatchNorm would mix their
    per-sample gradients."""
    fast_conv: bool = True
    """Use the fast CPU conv formulations of :mod:`gan_jax.ops` (same function, faster); False:
    every conv the plain ``lax`` op."""
    conv_policy: str = ""
    """How the fast convs compute each op (:func:`gan_jax.ops.parse_policy`): '' the library
    default, or ``field=value`` changes of it, e.g. ``small=lax,winograd_tile=4``; or ``auto``: the
    policy a short autotune measured fastest on this CPU for the run's setting, cached per CPU
    model and ISA under ``~/.cache/gan_jax/`` (:mod:`gan_jax.ops.autotune`; timed at the first run
    without an entry; the default policy off the CPU and in multi-process runs). ``gan-jax bench
    --autotune`` measures afresh, stores the choice and shows what each candidate measured."""
    compute_dtype: str = "float32"
    """``float32`` or ``bfloat16`` (bf16 compute, float32 master weights; for GPU/TPU)."""
    # --- objective and optimisation ---------------------------------------
    loss: str = "minimax"
    """Loss name from ``gan_jax.losses.LOSSES`` (or an import path ``module:attr``): ``minimax``
    (non-saturating G loss), ``minimax_saturating`` (the original E[log(1 - D(G(z)))] form),
    ``wasserstein``, ``hinge``, ``least_squares``, ``relativistic_average`` (RaGAN),
    ``relativistic_pairing`` (RpGAN)."""
    gp_weight: float = 0.0
    """Weight of the WGAN-GP gradient penalty on real/fake interpolates (0: off; usually 10)."""
    r1_gamma: float = 0.0
    """R1 penalty gamma on real data, applied as gamma/2 * E||grad D(x)||^2 (0: off)."""
    r2_gamma: float = 0.0
    """R2 penalty gamma on generated data, gamma/2 * E||grad D(G(z))||^2 (0: off); R3GAN uses
    R1 + R2 with the same gamma and ``loss=relativistic_pairing``."""
    r1_every: int = 1
    """Lazy R1 (and R2): apply them every k steps, scaled by k."""
    augment: str = ""
    """DiffAugment policy for every D input, real and fake, e.g. ``translation,cutout``
    or ``color,translation,cutout`` ('' = none)."""
    n_critic: int = 1
    """Discriminator updates per step (one generator update)."""
    fresh_reals: bool = False
    """With ``n_critic`` > 1: each D update of a step reads its own real batch, as in
    WGAN-GP's Algorithm 1 (the loader draws ``n_critic * batch_size`` real images per step;
    :attr:`real_batch_size`). False: the ``n_critic`` updates share one real batch."""
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_decay_start: float = 1.0
    """Fraction of ``steps`` after which both learning rates fall linearly to 0 at the last step
    (1: constant rates). The optimiser state then counts its updates."""
    beta1: float = 0.5
    beta2: float = 0.999
    ema_decay: float = 0.0
    """EMA of generator weights (0 disables); ``sample`` uses the EMA weights when enabled."""
    nonfinite: str = "stop"
    """On a NaN/Inf loss or gradient: ``stop`` (exit with a message) or ``skip`` (drop the update)."""
    # --- run --------------------------------------------------------------
    batch_size: int = 128
    """Global batch size (split evenly across devices)."""
    steps: int = 2000
    seed: int = 0
    parallel: str = "auto"
    """``auto`` (sharding when more than one device, else jit), ``none``/``jit``, ``pmap``,
    ``sharding`` (jit with the batch split over a device mesh), ``shard_map`` (explicit
    collectives over the same mesh). The mesh spans all processes of a multi-host run."""
    steps_per_call: int = 1
    """Fuse K train steps into one compiled call (``lax.scan``): less dispatch overhead for
    small models. ``log_every``, ``sample_every``, ``checkpoint_every`` and ``eval_every``
    must be multiples of K. Single-process, single-member runs start warm: single steps
    while the K-step program compiles in the background, then fused calls from the next
    multiple of K (same results; :func:`gan_jax.parallel.fused_warm_start`)."""
    population: int = 1
    """Train P independent GANs at once (``jax.vmap``); member i has seed ``seed + i`` and
    writes its samples and metrics under ``members/i/`` in the run directory."""
    population_lr_g: str = ""
    """Per-member generator learning rates, comma-separated ('' = ``lr_g`` for every member)."""
    population_lr_d: str = ""
    """Per-member discriminator learning rates, comma-separated ('' = ``lr_d`` for every member)."""
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    grid_size: int = 64
    """Number of images in the periodic sample grid (a fixed latent batch)."""
    checkpoint_minutes: float = 5.0
    """Also write a checkpoint once this many minutes have passed since the last one (or
    since the first step), whatever ``checkpoint_every`` says; 0: only every
    ``checkpoint_every`` steps. Multi-process runs check it every ``log_every`` steps."""
    checkpoint_async: bool = True
    """Write checkpoints in a worker thread while training goes on (one-process runs; runs of
    several processes always save synchronously). The loop waits for a save in flight before
    the next one and before it returns, SIGTERM/SIGINT included."""
    # --- evaluation during training -----------------------------------------
    eval_every: int = 0
    """Evaluate every K steps and at the end (0: never); needs ``eval_extractor``."""
    eval_extractor: str = ""
    """Feature extractor: ``classifier:DIR`` (from ``gan-jax train-classifier``) or
    ``inception:FILE.npz`` (converted FID Inception weights)."""
    eval_num: int = 2000
    """Samples per evaluation."""
    eval_metric: str = "fd"
    """The metric that picks the ``best`` checkpoint: fd, kid (lower is better),
    is, precision, recall (higher is better)."""

    # --- image-to-image tasks --------------------------------------------------
    task: str = "generate"
    """A registered task (:mod:`gan_jax.tasks`) or an import path ``module:attr``: ``generate`` (an unconditional or class-conditional GAN: the models above),
    ``pix2pix`` (paired translation: U-Net G, PatchGAN D, adversarial + L1),
    ``inpaint`` (the pix2pix networks fed the masked image and the mask; G's output fills
    the hole), ``srgan`` (super-resolution x``scale``: residual pixel-shuffle G, pixel
    pretraining then adversarial fine-tuning), ``cyclegan`` (unpaired translation between
    ``dataset`` and ``dataset_b``), ``style`` (StyleGAN2's step: style mixing, noise inputs,
    path-length regularisation, ADA)."""
    degrade: str = ""
    """How a paired task makes its source from each target image: ``noise`` (Gaussian,
    ``noise_sigma``), ``grey`` (luminance), ``edges`` (Sobel magnitude) for pix2pix;
    ``mask_center`` (the centre half square) or ``mask_box`` (a random box) for inpaint."""
    holdout_dataset: str = ""
    """Held-out data of a paired task (sample grids, experiments), e.g. ``photos:heldout``
    or ``fashion_mnist:test``; '' = ``dataset``."""
    dataset_b: str = ""
    """CycleGAN: the spec of domain B (``dataset`` is domain A), e.g.
    ``tfds:cycle_gan/horse2zebra:trainB``; ``SPEC#K`` keeps class K of a labelled dataset."""
    noise_sigma: float = 0.1
    """``degrade=noise``: noise standard deviation in [0, 1] pixel units (0.1 ~ 25/255)."""
    l1_weight: float = 100.0
    """Weight of the pixel (L1) loss against the adversarial loss (weight 1): pix2pix and
    inpaint 100; SRGAN's content loss is ``l1_weight`` * L1 + ``feature_weight`` * D-feature MSE."""
    feature_weight: float = 0.0
    """SRGAN: weight of the feature content loss, the MSE between D's features of G(x) and of
    the real image (a perceptual loss without a pretrained VGG)."""
    scale: int = 4
    """SRGAN: upscaling factor, 2 or 4 (the source is the target downscaled, antialiased)."""
    pretrain_steps: int = 0
    """SRGAN: the first K steps train G on the pixel loss alone (D untouched); adversarial
    fine-tuning after. The checkpoint at step K is the pixel-pretrained generator."""
    cycle_weight: float = 10.0
    """CycleGAN: weight of the cycle-consistency L1 losses (A->B->A and B->A->B)."""
    identity_weight: float = 0.5
    """CycleGAN: weight of the identity L1 losses, as a fraction of ``cycle_weight`` (0: off)."""
    pool_size: int = 50
    """CycleGAN: size of each history pool of generated images shown to D (0: no pool)."""

    # --- StyleGAN2 and ADA (model=stylegan2, task=style) -------------------------
    mapping_layers: int = 8
    """StyleGAN2: dense layers of the mapping network z -> w (w has ``z_dim`` dimensions)."""
    style_mixing: float = 0.9
    """StyleGAN2: probability that a training batch mixes two latents' styles at a random crossover layer."""
    mbstd_group: int = 4  # = gan_jax.models.stylegan2.MBSTD_GROUP (tests/test_stylegan2.py checks)
    """StyleGAN2: rows per minibatch-stddev group in D (gcd with the rows D sees per device); 4 in
    StyleGAN2-ADA's configs, 32 (the whole batch) in its CIFAR-10 one."""
    pl_weight: float = 2.0
    """StyleGAN2: weight of the path-length regulariser (0: off), applied every ``pl_every`` steps."""
    pl_every: int = 4
    """StyleGAN2: lazy path-length regularisation every k steps, scaled by k."""
    truncation_psi: float = 1.0
    """Truncation psi of ``sample``/``evaluate``, in (0, 2] (1: none; below 1: typical images at the
    cost of variety; above 1: more variety). StyleGAN2 moves w to ``center`` + psi (w - ``center``)
    (``truncation_center``); other generators draw z from psi x N(0, I)."""
    truncation_center: str = "mean"
    """StyleGAN2: the point truncation moves w about: ``mean`` (the tracked mean w, w_avg) or, with
    ``cluster_code``, ``cluster`` (the mean w of the sample's own cluster, so psi changes the
    variety inside each cluster and not the layout of the clusters)."""
    ada: str = ""
    """Adaptive discriminator augmentation (task=style): ``bgc`` (blit, geometric, colour), ``bg``,
    or comma-separated ops of :mod:`gan_jax.data.ada` ('' = off); each op is applied to every
    D input, real and fake, with the probability p that ADA adapts (starting at ``ada_p``)."""
    ada_target: float = 0.6
    """ADA: target of r_t = E[sign(D(real))]; p rises when r_t is above it (0: p stays at ``ada_p``)."""
    ada_kimg: float = 500.0
    """ADA: thousands of real images for p to move by 1 (the speed of the p controller)."""
    ada_p: float = 0.0
    """ADA: the initial augmentation probability p."""

    @property
    def real_batch_size(self) -> int:
        """Real images one train step reads: ``batch_size``, times ``n_critic`` with ``fresh_reals``."""
        return self.batch_size * (self.n_critic if self.fresh_reals else 1)

    @property
    def transitional(self) -> bool:
        """Transitional training is on (``transition_end`` > 0): D has the extra unconditional logit."""
        return self.transition_end > 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _field_types() -> dict[str, type]:
    return typing.get_type_hints(Config)


def _parse_value(key: str, raw: str, typ: type):
    if typ is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise UserError(f"--set {key}={raw}: expected a boolean (true/false)")
    try:
        if typ is int:
            return int(raw, 0) if raw.strip().lower().startswith("0x") else int(raw)
        if typ is float:
            return float(raw)
    except ValueError:
        raise UserError(f"--set {key}={raw}: expected {typ.__name__}") from None
    return raw


def override(config: Config, assignments: typing.Iterable[str]) -> Config:
    """Return ``config`` with ``key=value`` assignments applied (values parsed by field type)."""
    types = _field_types()
    changes = {}
    for item in assignments:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if key not in types:
            raise UserError(
                f"--set {key}: unknown config key; expected one of: {', '.join(sorted(types))}"
            )
        changes[key] = _parse_value(key, raw, types[key])
    return dataclasses.replace(config, **changes)


def from_dict(values: dict) -> Config:
    """Build a Config from a dict (e.g. a saved ``config.json``), ignoring unknown keys."""
    types = _field_types()
    return Config(**{k: v for k, v in values.items() if k in types})
