"""FID InceptionV3: architecture, npz loader, conversion and equivalence with a torch reference.

The real weights are not available here: everything runs on random weights.
The torch reference (written below after torchvision / pytorch-fid) runs only
when torch is importable: those tests are marked ``torch`` (deselected by default; run with
``-m torch`` after ``pip install -e ".[bench]"``; under CI a skip is a failure).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from gan_jax.metrics import convert_inception
from gan_jax.metrics.inception import (BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE,
                                       InceptionExtractor, InceptionV3, expected_shapes, load_inception,
                                       preprocess, variables_to_arrays)

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_inception")


def random_inception_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Walk the module's init variables (shapes only) and fill the npz keys with plausible random weights."""
    template = jax.eval_shape(InceptionV3().init, jax.random.PRNGKey(0), jnp.zeros((1, 299, 299, 3)))
    rng = np.random.default_rng(seed)
    arrays = {}
    for (_collection, *path), leaf in traverse_util.flatten_dict(template).items():
        shape, leaf_name = leaf.shape, path[-1]
        if leaf_name == "kernel":
            fan_in = int(np.prod(shape[:-1]))
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif leaf_name in ("scale", "var"):
            value = rng.uniform(0.5, 1.5, shape)
        else:  # bias, mean
            value = 0.1 * rng.standard_normal(shape)
        arrays["/".join(path)] = value.astype(np.float32)
    return arrays


@pytest.fixture(scope="module")
def random_arrays():
    return random_inception_arrays()


def write_npz(path, arrays):
    np.savez(path, **arrays)
    return str(path)


# --------------------------------------------------------------------------- preprocess

def test_preprocess_greyscale_and_rgb():
    rng = np.random.default_rng(0)
    grey = rng.uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    grey[0, 0, 0, 0], grey[1, 5, 5, 0] = -1.0, 1.0
    out = np.asarray(preprocess(grey))
    assert out.shape == (2, 299, 299, 3) and out.dtype == np.float32
    # The channels are copies resized by the same weights; XLA may vectorise the channels
    # differently on another CPU, so equality holds to float32 rounding (~6e-8), not bit for bit.
    np.testing.assert_allclose(out[..., 0], out[..., 1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out[..., 0], out[..., 2], rtol=0, atol=1e-6)
    assert out.min() >= -1 - 1e-6 and out.max() <= 1 + 1e-6
    rgb = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    assert preprocess(rgb).shape == (1, 299, 299, 3)
    with pytest.raises(ValueError, match="C in"):
        preprocess(np.zeros((1, 8, 8, 2), np.float32))


@pytest.mark.torch
@pytest.mark.parametrize("size", [28, 64, 320])
def test_preprocess_matches_torch_bilinear(size):
    torch = pytest.importorskip("torch", reason="torch is needed for the F.interpolate reference")
    x = np.random.default_rng(size).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x).permute(0, 3, 1, 2), size=(299, 299),
                                          mode="bilinear", align_corners=False).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(np.asarray(preprocess(x)), ref, atol=2e-6)


# --------------------------------------------------------------------------- loader

def test_load_roundtrip_and_forward_shapes(tmp_path, random_arrays):
    path = write_npz(tmp_path / "inception.npz", random_arrays)
    module, variables = load_inception(path)
    assert isinstance(module, InceptionV3)
    roundtrip = variables_to_arrays(variables)
    assert roundtrip.keys() == random_arrays.keys()
    for key, value in random_arrays.items():
        np.testing.assert_array_equal(roundtrip[key], value)

    extractor = InceptionExtractor(path, batch_size=2)
    assert extractor.name == "inception_v3_fid"
    images = np.random.default_rng(1).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    features, logits = extractor(images)  # two batches of 2, the second padded: one compilation
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    assert features.dtype == np.float32 and logits.dtype == np.float32
    assert np.isfinite(features).all() and np.isfinite(logits).all()
    assert features.std() > 0 and (features >= 0).all()  # mean of ReLU outputs
    head_features, _ = extractor(images[:2])
    np.testing.assert_allclose(head_features, features[:2], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        extractor(images * 127.5 + 127.5)


def test_expected_shapes_cover_the_fid_network():
    shapes = expected_shapes()
    assert shapes["Conv2d_1a_3x3/conv/kernel"] == (3, 3, 3, 32)
    assert shapes["Conv2d_1a_3x3/bn/var"] == (32,)
    assert shapes["Mixed_6b/branch7x7_2/conv/kernel"] == (1, 7, 128, 128)
    assert shapes["Mixed_7c/branch_pool/conv/kernel"] == (1, 1, 2048, 192)
    assert shapes["fc/kernel"] == (2048, 1008) and shapes["fc/bias"] == (1008,)
    convs = [k for k in shapes if k.endswith("/conv/kernel")]
    assert len(convs) == 94 and len(shapes) == 94 * 5 + 2  # 94 BasicConv2d (kernel, 4 BN arrays) + fc


def test_load_missing_key(tmp_path, random_arrays):
    key = "Mixed_6c/branch7x7_2/conv/kernel"
    path = write_npz(tmp_path / "missing.npz", {k: v for k, v in random_arrays.items() if k != key})
    with pytest.raises(ValueError, match="missing key") as info:
        load_inception(path)
    assert key in str(info.value) and "missing.npz" in str(info.value)


def test_load_wrong_shape(tmp_path, random_arrays):
    key = "Mixed_5b/branch1x1/bn/mean"  # 64 channels
    arrays = dict(random_arrays, **{key: np.zeros(65, np.float32)})
    path = write_npz(tmp_path / "wrong.npz", arrays)
    with pytest.raises(ValueError) as info:
        load_inception(path)
    message = str(info.value)
    assert key in message and "wrong.npz" in message and "(65,)" in message and "(64,)" in message


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load_inception(str(tmp_path / "nowhere.npz"))


def test_convert_state_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="Mixed_5b.weird"):
        convert_inception.convert_state_dict({"Mixed_5b.weird": np.zeros(3)})
    with pytest.raises(ValueError, match="'weird'"):
        convert_inception.convert_state_dict({"weird": np.zeros(3)})
    converted = convert_inception.convert_state_dict({"fc.weight": np.ones((4, 2)), "fc.bias": np.zeros(4),
                                                      "x.bn.num_batches_tracked": np.zeros(()),
                                                      "AuxLogits.fc.weight": np.ones((3, 2))})
    assert converted.keys() == {"fc/kernel", "fc/bias"} and converted["fc/kernel"].shape == (2, 4)
    with pytest.raises(ValueError, match="lack"):
        convert_inception.check_arrays({}, "x.pth")


# --------------------------------------------------------------------------- torch reference

def torch_reference():
    """torchvision's BasicConv2d / Inception blocks with pytorch-fid's FID patches, and the FID net."""
    torch = pytest.importorskip("torch", reason="torch is needed for the reference implementation")
    nn, F = torch.nn, torch.nn.functional

    class Conv(nn.Module):
        def __init__(self, cin, cout, **kw):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(cin, cout, bias=False, **kw), nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def avg_valid(x):
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)

    class A(nn.Module):
        def __init__(self, cin, pool_features):
            super().__init__()
            self.branch1x1 = Conv(cin, 64, kernel_size=1)
            self.branch5x5_1, self.branch5x5_2 = Conv(cin, 48, kernel_size=1), Conv(48, 64, kernel_size=5, padding=2)
            self.branch3x3dbl_1 = Conv(cin, 64, kernel_size=1)
            self.branch3x3dbl_2 = Conv(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = Conv(96, 96, kernel_size=3, padding=1)
            self.branch_pool = Conv(cin, pool_features, kernel_size=1)

        def forward(self, x):
            return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                              self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              self.branch_pool(avg_valid(x))], 1)

    class B(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3 = Conv(cin, 384, kernel_size=3, stride=2)
            self.branch3x3dbl_1 = Conv(cin, 64, kernel_size=1)
            self.branch3x3dbl_2 = Conv(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = Conv(96, 96, kernel_size=3, stride=2)

        def forward(self, x):
            return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              F.max_pool2d(x, 3, 2)], 1)

    class C(nn.Module):
        def __init__(self, cin, c7):
            super().__init__()
            self.branch1x1 = Conv(cin, 192, kernel_size=1)
            self.branch7x7_1 = Conv(cin, c7, kernel_size=1)
            self.branch7x7_2 = Conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7_3 = Conv(c7, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_1 = Conv(cin, c7, kernel_size=1)
            self.branch7x7dbl_2 = Conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_3 = Conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7dbl_4 = Conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_5 = Conv(c7, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch_pool = Conv(cin, 192, kernel_size=1)

        def forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d7 = self.branch7x7dbl_1(x)
            for i in range(2, 6):
                d7 = getattr(self, f"branch7x7dbl_{i}")(d7)
            return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(avg_valid(x))], 1)

    class D(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3_1, self.branch3x3_2 = Conv(cin, 192, kernel_size=1), Conv(192, 320, kernel_size=3, stride=2)
            self.branch7x7x3_1 = Conv(cin, 192, kernel_size=1)
            self.branch7x7x3_2 = Conv(192, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7x3_3 = Conv(192, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7x3_4 = Conv(192, 192, kernel_size=3, stride=2)

        def forward(self, x):
            b7 = x
            for i in range(1, 5):
                b7 = getattr(self, f"branch7x7x3_{i}")(b7)
            return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, 2)], 1)

    class E(nn.Module):  # FIDInceptionE_1 (pool="avg") and FIDInceptionE_2 (pool="max")
        def __init__(self, cin, pool):
            super().__init__()
            self.pool = pool
            self.branch1x1 = Conv(cin, 320, kernel_size=1)
            self.branch3x3_1 = Conv(cin, 384, kernel_size=1)
            self.branch3x3_2a = Conv(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3_2b = Conv(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch3x3dbl_1 = Conv(cin, 448, kernel_size=1)
            self.branch3x3dbl_2 = Conv(448, 384, kernel_size=3, padding=1)
            self.branch3x3dbl_3a = Conv(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3dbl_3b = Conv(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch_pool = Conv(cin, 192, kernel_size=1)

        def forward(self, x):
            b3 = self.branch3x3_1(x)
            d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            pooled = avg_valid(x) if self.pool == "avg" else F.max_pool2d(x, 3, 1, 1)
            return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                              self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3), self.branch_pool(pooled)], 1)

    class Net(nn.Module):  # pytorch-fid's fid_inception_v3 (eval mode: dropout is the identity)
        def __init__(self):
            super().__init__()
            self.Conv2d_1a_3x3 = Conv(3, 32, kernel_size=3, stride=2)
            self.Conv2d_2a_3x3 = Conv(32, 32, kernel_size=3)
            self.Conv2d_2b_3x3 = Conv(32, 64, kernel_size=3, padding=1)
            self.Conv2d_3b_1x1 = Conv(64, 80, kernel_size=1)
            self.Conv2d_4a_3x3 = Conv(80, 192, kernel_size=3)
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = A(192, 32), A(256, 64), A(288, 64)
            self.Mixed_6a = B(288)
            self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = C(768, 128), C(768, 160), C(768, 160), \
                C(768, 192)
            self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = D(768), E(1280, "avg"), E(2048, "max")
            self.fc = nn.Linear(2048, 1008)

        def forward(self, x):
            x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
            x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
            x = F.max_pool2d(x, 3, 2)
            for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
                x = getattr(self, f"Mixed_{name}")(x)
            pool3 = x.mean((2, 3))
            return pool3, self.fc(pool3)

    def randomised(module, seed=0):
        """He-normal convs and random BN statistics, in eval mode, so no layer is trivial."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, nn.Conv2d):
                    fan_in = m.weight[0].numel()
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                elif isinstance(m, nn.BatchNorm2d):
                    c = m.num_features
                    m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
                    m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                    m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                    m.bias.copy_(0.1 * torch.randn(c, generator=gen))
        return module.eval()

    return torch, randomised, {"Conv": Conv, "A": A, "B": B, "C": C, "D": D, "E": E, "Net": Net}


def flax_variables(arrays):
    """Flat npz dict -> {'params', 'batch_stats'} (BN mean/var are batch_stats)."""
    variables = {"params": {}, "batch_stats": {}}
    for key, value in arrays.items():
        collection = "batch_stats" if key.rsplit("/", 1)[-1] in ("mean", "var") else "params"
        variables[collection][tuple(key.split("/"))] = jnp.asarray(value)
    return {c: traverse_util.unflatten_dict(v) for c, v in variables.items()}


BLOCKS = {  # name: (torch block, flax block, input channels, spatial size)
    "basic_conv_strided": (lambda T: T["Conv"](6, 10, kernel_size=(3, 1), stride=2, padding=(1, 0)),
                           BasicConv2d(10, (3, 1), strides=2, padding=(1, 0)), 6, 9),
    "fid_inception_a": (lambda T: T["A"](16, 8), InceptionA(8), 16, 7),
    "inception_b": (lambda T: T["B"](16), InceptionB(), 16, 9),
    "fid_inception_c": (lambda T: T["C"](16, 8), InceptionC(8), 16, 7),
    "inception_d": (lambda T: T["D"](16), InceptionD(), 16, 9),
    "fid_inception_e_1": (lambda T: T["E"](16, "avg"), InceptionE("avg"), 16, 5),
    "fid_inception_e_2": (lambda T: T["E"](16, "max"), InceptionE("max"), 16, 5),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(BLOCKS))
def test_block_matches_torch_reference(name):
    torch, randomised, T = torch_reference()
    make_torch, flax_block, channels, size = BLOCKS[name]
    block = randomised(make_torch(T))
    x = np.random.default_rng(0).standard_normal((2, size, size, channels)).astype(np.float32)
    x[:, 0, :, :] += 3.0  # large values on one border: a max/avg pool that pads wrongly shows up
    with torch.no_grad():
        ref = block(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    variables = flax_variables(convert_inception.convert_state_dict(block.state_dict()))
    out = np.asarray(flax_block.apply(variables, jnp.asarray(x)))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.torch
def test_full_network_and_converter_match_torch_reference(tmp_path):
    torch, randomised, T = torch_reference()
    net = randomised(T["Net"](), seed=1)
    with torch.no_grad():
        net.fc.weight.normal_(0, 2048 ** -0.5)
    pth = tmp_path / "pt_inception.pth"
    torch.save(net.state_dict(), pth)
    npz = tmp_path / "inception_v3_fid.npz"
    assert convert_inception.main([str(pth), str(npz)]) == 0

    images = np.random.default_rng(2).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).repeat(1, 3, 1, 1)
        x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        ref_pool3, ref_logits = (t.numpy() for t in net(x))
    features, logits = InceptionExtractor(str(npz), batch_size=2)(images)
    np.testing.assert_allclose(features, ref_pool3, rtol=1e-4, atol=1e-4 * np.abs(ref_pool3).max())
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-4, atol=1e-4 * np.abs(ref_logits).max())
