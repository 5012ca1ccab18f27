"""Convolutions for XLA:CPU: the same functions as the plain ``lax`` ops, formulated to run fast.

Each of forward pass, data gradient and kernel gradient of a conv or transposed conv
(:func:`strided_conv_fast`, :func:`conv_transpose_fast`) uses the formulation that a
:class:`ConvPolicy` chooses for its shapes (measured in benchmarks/NOTES.md):

* gradients of a transposed conv are those of the *adjoint strided conv*;
* a stride-2 4x4 conv is, after space-to-depth, a stride-1 2x2 conv, computed by
  Winograd F(2x2, 2x2): 9 matmuls per 2x2 output tile instead of 16; a transposed
  conv is the exact transpose of that (even sizes) or a sub-pixel stride-1 conv
  + depth-to-space (odd sizes);
* layers with fewer than 8 channels on a side (the image's own layers: 1 or 3
  channels) compute their kernel gradient as one matmul with the input's k*k*C
  patches (:func:`conv_patches`), and the rest with the plain ``lax`` ops;
* other strides/kernels, and every backend but the CPU, use the plain ``lax`` ops;
* a 1x1 input (the generator's projection layer) becomes a single matmul (:func:`project`),
  and so does a kernel covering its whole unpadded input (:func:`full_window_conv`).

The policy is a value, not state: :data:`DEFAULT_POLICY`, :data:`PLAIN` (every conv the
plain ``lax`` op) or ``dataclasses.replace(DEFAULT_POLICY, ...)``; layers take it as a field
and the kernels as a static argument, so jit caches key on it. Results agree with the plain
ops to float32 rounding (~1e-6 relative).

``Config.conv_policy="auto"`` is the policy an autotune measured fastest on this CPU for the
run's setting, cached per CPU model and ISA (:mod:`.autotune`).

Modules: :mod:`.policy` (the choice), :mod:`.autotune` (the per-CPU choice and its cache),
:mod:`.formulations` (each way to compute an op), :mod:`.winograd`, :mod:`.space_to_depth`,
:mod:`.conv` (the ``custom_vjp`` fast ops).
"""
from gan_jax.ops.conv import conv_general_dilated_fast, conv_transpose_fast, split_batch, strided_conv_fast
from gan_jax.ops.formulations import (conv_forward, conv_kernel_grad, conv_patches, conv_transpose_forward,
                                      conv_transpose_reference, full_window_conv, project, strided_conv)
from gan_jax.ops.policy import DEFAULT_POLICY, PLAIN, ConvPolicy, OpFormulations, parse_policy, policy_for, policy_spec
from gan_jax.ops.space_to_depth import depth_to_space, space_to_depth
from gan_jax.ops.winograd import winograd_conv2x2

__all__ = ["ConvPolicy", "DEFAULT_POLICY", "OpFormulations", "PLAIN", "conv_forward", "conv_general_dilated_fast",
           "conv_kernel_grad", "conv_patches", "conv_transpose_fast", "conv_transpose_forward",
           "conv_transpose_reference", "depth_to_space", "full_window_conv", "parse_policy", "policy_for",
           "policy_spec", "project",
           "space_to_depth", "split_batch", "strided_conv", "strided_conv_fast", "winograd_conv2x2"]
