"""muP for Adam, muP with a base width, the coordinate check for SGD and Adam, and
the learning-rate transfer sweep (Yang et al. 2022, Fig. 1) of lm_sims.transfer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import data, mlp, predictions, transfer
from lm_sims import feature_learning as fl

X64 = jax.config.jax_enable_x64
RTOL = 1e-10 if X64 else 2e-5  # same arithmetic up to rounding of the dtype


def _net(**kw):
    base = dict(width=128, depth=2, d_in=4, d_out=2, num_train=16, steps=3)
    base.update(record_every=1, sigma_b2=0.5)
    base.update(kw)
    return mlp.Config(**base)


# --- muP's tables -------------------------------------------------------------


def test_abc_exponents_default_is_sgds_and_adam_has_its_own_rates():
    assert mlp.abc_exponents("mup", 3) == mlp.abc_exponents("mup", 3, "gd")
    assert mlp.abc_exponents("mup", 3, "momentum")["c"] == (0.0,) * 4
    assert mlp.abc_exponents("mup", 3, "adam")["c"] == (0.5, 1.0, 1.0, 0.5)
    for par in ("sp", "ntk"):  # one global learning rate
        assert mlp.abc_exponents(par, 2, "adam")["c"] == (0.0,) * 3
    with pytest.raises(ValueError, match="optimizer"):
        mlp.abc_exponents("mup", 2, "sgd")


@pytest.mark.parametrize(
    "parameterization", [pytest.param("sp", marks=pytest.mark.statistical), "mup"]
)
def test_one_adam_step_moves_each_layer_by_table_3s_rates(parameterization):
    # Measured, not read off the tables: one full-batch Adam step of mlp.train
    # (multiplier form), widths 64-1024. Adam's first step is sign descent, so
    # each entry of the effective weight W = m w that moves at all moves by its
    # effective rate: TP5 Table 3, muP for Adam lr (input), lr / n (hidden,
    # readout); SP lr everywhere. The median over the moving entries is compared,
    # rtol 1e-2: the step is |g| / (|g| + eps) with eps = 1e-8 (measured within
    # 5e-4). Entries with a zero gradient (dead ReLU units) do not move. Two
    # widths (one compilation each) keep the fast tier fast.
    lr = 1e-3
    for n in (64, 1024):
        cfg = _net(
            width=n,
            steps=1,
            parameterization=parameterization,
            optimizer="adam",
            lr=lr,
        )
        key = jax.random.key(0)
        before, after = mlp.init(key, cfg), mlp.train(key, cfg).params
        moved = []
        for a, b, s in zip(before, after, mlp.layer_scales(cfg), strict=True):
            step = np.abs(np.asarray(b.w - a.w, np.float64)) * float(s.w_mult)
            assert (step > 0).mean() > 0.5, (n, step.shape)  # most entries move
            moved.append(np.median(step[step > 0]))
        table = (1.0, 1 / n, 1 / n) if parameterization == "mup" else (1.0,) * 3
        np.testing.assert_allclose(np.array(moved) / lr, table, rtol=1e-2)
    # the effective initial variances at n = 1024 (sigma_w2 = 2, d = 4): muP
    # (1/d, 1/n, 1/n^2), SP (1/d, 1/n, 1/n), times sigma_w2; rtol 0.1: sampling
    # (>= 2048 entries per matrix, relative sd of the variance <= 3%)
    var = [
        np.mean(np.square(float(s.w_mult) * np.asarray(a.w, np.float64)))
        for a, s in zip(before, mlp.layer_scales(cfg), strict=True)
    ]
    readout = 1 / n**2 if parameterization == "mup" else 1 / n
    np.testing.assert_allclose(var, 2 * np.array([1 / 4, 1 / n, readout]), rtol=0.1)


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_base_width_at_the_base_width_is_sp(optimizer):
    # the mup package's convention: at width n0 muP is SP, exactly
    mup = _net(width=64, parameterization="mup", base_width=64, optimizer=optimizer)
    sp = _net(width=64, parameterization="sp", optimizer=optimizer)
    assert mlp.layer_scales(mup) == mlp.layer_scales(sp)
    key = jax.random.key(3)
    np.testing.assert_array_equal(
        mlp.train(key, mup).f_train, mlp.train(key, sp).f_train
    )


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_base_width_form_scales(optimizer):
    n, n0, d = 256, 64, 4
    scales = mlp.layer_scales(
        _net(width=n, parameterization="mup", base_width=n0, optimizer=optimizer)
    )
    mult = n / n0
    assert [s.w_mult for s in scales] == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(
        np.square([float(s.w_std) for s in scales]),
        2.0 / np.array([d, n, n * mult]),  # readout variance sigma_w2 / (n mult)
    )
    rates = (1, 1 / mult, 1 / mult) if optimizer == "adam" else (mult, 1, 1 / mult)
    np.testing.assert_allclose([s.w_lr for s in scales], rates)


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_base_width_one_takes_the_multiplier_forms_steps(optimizer):
    # With n0 = 1 the base-width form has the multiplier form's effective weights
    # and rates, so the two networks take the same function-space steps (three
    # full-batch steps, weights and biases). Tolerance: dtype rounding. Adam's eps
    # acts on stored gradients, which differ by the multiplier (with eps = 1e-8
    # the outputs differed by 4e-6 relative): eps = 1e-20 here.
    key = jax.random.key(1)
    lr = 0.003 if optimizer == "adam" else 0.05
    mult = _net(parameterization="mup", optimizer=optimizer, lr=lr, eps=1e-20)
    base = mult.replace(base_width=1)
    a, b = mlp.train(key, mult), mlp.train(key, base)
    assert float(jnp.max(jnp.abs(a.f_train[-1] - a.f_train[0]))) > 1e-3  # it moved
    np.testing.assert_allclose(a.f_train, b.f_train, rtol=1e-4, atol=1e-6)
    with jax.enable_x64(True):
        a, b = mlp.train(key, mult), mlp.train(key, base)
        np.testing.assert_allclose(a.f_train, b.f_train, rtol=1e-6, atol=1e-9)


def test_base_width_validation():
    with pytest.raises(ValueError, match="base_width"):
        mlp.Config(parameterization="ntk", base_width=32)
    with pytest.raises(ValueError, match="base_width"):
        mlp.Config(parameterization="mup", base_width=0)
    with pytest.raises(TypeError, match="base_width"):
        mlp.Config(parameterization="mup", base_width=64.0)
    assert mlp.Config(parameterization="mup").base_width is None


# --- the coordinate check -------------------------------------------------------

WIDTHS = (64, 128, 256, 512, 1024)


@pytest.mark.statistical
@pytest.mark.parametrize("optimizer", ["gd", "adam"])
@pytest.mark.parametrize("parameterization", ["sp", "ntk", "mup"])
def test_coordinate_check_slopes(optimizer, parameterization):
    # Log-log slopes vs width of the one-step change of the last hidden layer and
    # of the output, fixed base lr, 2 seeds, widths 64-1024. Predicted: SGD sp
    # (+1/2, +1), Adam sp (+1, +3/2) (sign steps add coherently over n inputs),
    # SGD ntk (-1/2, 0), Adam ntk (+1/2, +1) (the same coherent sum at rates
    # n^-1/2), muP (0, 0) for both. Band +-0.15: finite-width corrections
    # ~n^-1/2 (SGD sp's second layer approaches +1/2 from below, measured
    # +0.51 / +0.45 at 2 / 8 seeds; Adam ntk measured +0.44, +0.93).
    # Linear response: lr 1e-3 (SGD), 1e-4 (Adam, an entry step of 1e-4).
    # (the changes and slopes are the book scorecard's, lm_sims.predictions;
    # muP with Adam is its row)
    assert WIDTHS == (64, 128, 256, 512, 1024)
    slopes = predictions._transfer_coordinate_slopes(parameterization, optimizer)
    if (parameterization, optimizer) == ("mup", "adam"):
        row = predictions.run("adam-mup-coordinate-check")
        assert row.passed, row
    expected = fl.predicted_exponents(parameterization, optimizer=optimizer)
    np.testing.assert_allclose(slopes[1:], expected[1:], atol=0.15)
    np.testing.assert_allclose(slopes[0], expected[0], atol=0.15)


def test_adam_exponents_table():
    np.testing.assert_array_equal(
        fl.predicted_exponents("sp", optimizer="adam"), [0.0, 1.0, 1.5]
    )
    np.testing.assert_array_equal(fl.predicted_exponents("mup", "fixed", "adam"), 0)
    with pytest.raises(ValueError, match="optimizer"):
        fl.one_step_changes(jax.random.key(0), "mup", 0.1, optimizer="sgd")


# --- the refined optimum and the sweep helpers ----------------------------------


def _fake_sweep(centre, diverge_from=None):
    x = np.arange(-10.0, -2.0)
    loss = np.exp(0.3 * (x - centre) ** 2)  # a parabola in log L: vertex = centre
    loss = np.broadcast_to(loss[None, None, :, None, None], (2, 3, 8, 2, 1)).copy()
    loss *= np.array([1.0, 0.9, 0.8])[None, :, None, None, None]
    div = np.zeros((2, 3, 8, 2), bool)
    if diverge_from is not None:
        div[..., diverge_from:, :] = True
        loss[..., diverge_from:, :, :] = np.inf
    return transfer.TransferSweep(
        ("sp", "mup"),
        np.array([64, 128, 256]),
        x,
        np.array([200]),
        loss,
        div,
        np.where(div, 100, -1),
        {},
    )


def test_refined_optimum_is_the_parabola_vertex():
    # exact for a log-loss that is a parabola in log2 lr (to rounding)
    opt = transfer.optimum(_fake_sweep(-6.3))
    np.testing.assert_array_equal(opt.argmin, 4)  # x = -6
    np.testing.assert_allclose(opt.refined, -6.3, atol=1e-12)
    # next to a diverged rate the argmin itself is used
    opt = transfer.optimum(_fake_sweep(-4.2, diverge_from=7))
    np.testing.assert_array_equal(opt.refined, -4.0)
    stable, better = transfer.wider_is_better(_fake_sweep(-4.2, diverge_from=7))
    assert stable.tolist() == [True] * 7 + [False] and better.sum() == 7
    with pytest.raises(ValueError, match="step"):
        transfer.optimum(_fake_sweep(-6.0), step=50)
    with pytest.raises(TypeError, match="TransferSweep"):
        transfer.optimum({"loss": 1})
    assert transfer.optimum(_fake_sweep(-6.3)).found.all()


def test_optimum_of_an_all_diverged_width_is_not_found():
    # every rate diverged (inf) or NaN: no optimum, never a silent argmin 0
    s = _fake_sweep(-6.3)
    loss = s.loss.copy()
    loss[0, 1] = np.inf  # SP, width 128: every rate diverged
    loss[1, 2] = np.nan  # muP, width 256: NaN losses
    loss[1, 0, 4] = np.nan  # muP, width 64: NaN at the best rate only
    opt = transfer.optimum(s._replace(loss=loss))
    lost = np.zeros((2, 3), bool)
    lost[0, 1] = lost[1, 2] = True
    np.testing.assert_array_equal(opt.found, ~lost)
    np.testing.assert_array_equal(opt.argmin[lost], -1)
    assert np.isnan(opt.log2_lr[lost]).all() and np.isnan(opt.refined[lost]).all()
    assert np.isposinf(opt.best_loss[lost]).all()
    assert opt.argmin[1, 0] in (3, 5)  # the NaN rate counts as diverged
    np.testing.assert_allclose(opt.refined[0, 0], -6.3, atol=1e-12)


def test_sweep_validation():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="optimizer"):
        transfer.transfer_sweep(key, "sgd")
    with pytest.raises(ValueError, match="increasing"):
        transfer.transfer_sweep(key, widths=(128, 64))
    with pytest.raises(TypeError, match="log2_lrs"):
        transfer.transfer_sweep(key, log2_lrs=(True, -3))
    with pytest.raises(ValueError, match="finite"):
        transfer.transfer_sweep(key, log2_lrs=(float("nan"),))
    with pytest.raises(ValueError, match="parameterization"):
        transfer.transfer_sweep(key, parameterizations=("ntk",))
    with pytest.raises(TypeError, match="key"):
        transfer.transfer_sweep(0)
    with pytest.raises(ValueError, match="width=100000"):  # memory guard
        transfer.transfer_sweep(key, widths=(100_000,))
    # empty grids are errors, never the (5-minute) default sweep
    with pytest.raises(ValueError, match="widths"):
        transfer.transfer_sweep(key, widths=())
    with pytest.raises(ValueError, match="log2_lrs"):
        transfer.transfer_sweep(key, log2_lrs=[])
    with pytest.raises(ValueError, match="widths"):
        transfer.transfer_sweep(key, widths=np.array([], int))
    with pytest.raises(ValueError, match="repeats"):
        transfer.transfer_sweep(key, widths=(64, 64))
    with pytest.raises(ValueError, match="increasing"):  # arrays: a named error
        transfer.transfer_sweep(key, widths=np.array([128, 64]))
    with pytest.raises(TypeError, match="widths"):
        transfer.transfer_sweep(key, widths=np.ones((2, 2), int))
    with pytest.raises(TypeError, match="widths"):
        transfer.transfer_sweep(key, widths=64)
    with pytest.raises(ValueError, match="order"):
        transfer.transfer_sweep(key, parameterizations=("mup", "sp"))
    with pytest.raises(ValueError, match="repeats"):
        transfer.transfer_sweep(key, parameterizations=("mup", "mup"))
    with pytest.raises(TypeError, match="parameterizations"):
        transfer.transfer_sweep(key, parameterizations=())


def test_sweep_takes_arrays_with_several_entries():
    # 1-D NumPy grids of 2+ entries pass validation (they once hit "truth value
    # is ambiguous"): here they reach the memory guard, which names the width
    with pytest.raises(ValueError, match="width=100000"):
        transfer.transfer_sweep(
            jax.random.key(0),
            widths=np.array([8, 100_000]),
            log2_lrs=np.array([-8.0, -7.0]),
            parameterizations=np.array(["sp", "mup"]),
        )


def test_save_and_load_round_trip(tmp_path):
    s = _fake_sweep(-6.0)._replace(config={"optimizer": "adam"})
    transfer.save_sweep(tmp_path / "s.npz", s, note="x")
    back = transfer.load_sweep(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.loss, s.loss)
    assert back.parameterizations == ("sp", "mup") and back.config["note"] == "x"
    assert {"lm_sims_version", "date", "optimizer"} <= set(back.config)


def test_reference_file_provenance():
    ref = transfer.reference_sweep()
    assert ref.loss.shape == (2, 5, 11, 2, 4)
    assert not np.isnan(ref.loss).any()
    for field in ("lm_sims_version", "date", "dtype", "optimizer", "steps"):
        assert field in ref.config
    assert ref.config["dtype"] == "float32" and ref.config["base_width"] == 64


def test_reference_wider_is_better_fails_only_where_no_width_learns():
    # The page's claim: under muP the wider network is better at every stable
    # rate but the largest, 2^-3, where no width has learned: every seed-mean
    # loss is >= 95% of the best constant output's, 1/2 E|y - mean y|^2 (0.45 for
    # the centred one-hot digits), so the order of the widths there is noise.
    # 95%: one of the two seeds at widths 512 and 1024 has begun to leave that
    # plateau (0.41, 0.42), which lowers the mean by up to 5%.
    ref = transfer.reference_sweep()
    stable, better = transfer.wider_is_better(ref, "mup")
    failed = np.flatnonzero(stable & ~better)
    assert failed.tolist() == [ref.log2_lrs.size - 1], ref.log2_lrs[failed]
    y = np.asarray(data.digits_regression(jax.random.key(0), data.NUM_DIGITS).y)
    constant = 0.5 * np.mean(np.sum((y - y.mean(0)) ** 2, axis=1))
    np.testing.assert_allclose(constant, 0.45, atol=1e-3)
    mean = ref.loss[1, :, failed[0], :, -1].mean(-1)  # (widths,)
    assert np.all(mean >= 0.95 * constant), mean


# --- the transfer sweeps ----------------------------------------------------------


def _spread(values):
    return float(np.max(values) - np.min(values))


# the widths recomputed against the shipped Adam sweep: ~90 s of the ~6 CPU minutes
# of the whole sweep (512 and 1024 take the rest and run no code that 128 and 256
# do not: one compilation per width, the same muP formulas)
RECOMPUTED_WIDTHS = (64, 128, 256)


@pytest.mark.statistical
def test_adam_transfer_sweep_and_the_shipped_reference():
    # The paper's Fig. 5 (TP5 Fig. 1) is the shipped sweep, which the page plots.
    # (1) The shipped file is this code's result: widths 64-256 are recomputed
    # (same key, every rate, both parameterisations, both seeds) and must agree
    # with it. In float32 the diverged flags are identical and every loss is
    # within max(1e-3 relative, 0.25 x the spread of the two seeds at that point):
    # XLA's vectorisation differs between CPUs, which changes the rounding of
    # reductions, and Adam (which divides by the gradient's own RMS) amplifies
    # it over 200 steps. Measured on the machine of 2026-12-02: 98.5% of the
    # losses bitwise equal or within 1e-3, the rest within 0.9%, at most 0.13 x
    # the seed spread (the whole sweep there: 5.7% beyond 1e-3, at most 5%, all
    # at widths 256-1024 near the optimum: the file was made on another CPU, and
    # an rtol of 1e-3 on every entry failed). A different result, not a
    # different rounding, moves losses by about the seed spread or more. In
    # float64 the arithmetic differs throughout: the located optima are compared.
    fresh = transfer.transfer_sweep(jax.random.key(0), widths=RECOMPUTED_WIDTHS)
    ref = transfer.reference_sweep()
    np.testing.assert_array_equal(ref.widths[: len(RECOMPUTED_WIDTHS)], fresh.widths)
    np.testing.assert_array_equal(ref.log2_lrs, fresh.log2_lrs)
    np.testing.assert_array_equal(ref.steps, fresh.steps)
    part = ref.loss[:, : len(RECOMPUTED_WIDTHS)]
    if not X64:
        np.testing.assert_array_equal(
            ref.diverged[:, : len(RECOMPUTED_WIDTHS)], fresh.diverged
        )
        finite = np.isfinite(fresh.loss)
        np.testing.assert_array_equal(np.isfinite(part), finite)
        seeds = np.abs(part[:, :, :, :1] - part[:, :, :, 1:])  # (2, W, R, 1, K)
        allowed = np.maximum(1e-3 * np.abs(part), 0.25 * seeds)
        diff = np.abs(part - fresh.loss)
        bad = finite & ~(diff <= allowed)
        assert not bad.any(), (np.argwhere(bad)[:5], diff[bad][:5], allowed[bad][:5])
    else:
        got = transfer.optimum(fresh).argmin
        want = transfer.optimum(ref).argmin[:, : len(RECOMPUTED_WIDTHS)]
        assert np.max(np.abs(got - want)) <= 1, (got, want)
    # (2) The paper's claims, on the shipped sweep (widths 64-1024). Tolerances
    # of the issue: muP's argmin spread <= 1 grid step and its refined optimum
    # spread <= 1.2 octaves (2 seeds: the loss near the optimum is flat, a
    # 1-step jump of the argmin is seed noise); SP's argmin at 1024 >= 2 steps
    # below width 64 and refined drift >= 1.5 octaves. (The one-step count for
    # Adam, features ~ n^+1 and output ~ n^+3/2 at a fixed lr, would put the
    # optimum at n^-1 ... n^-3/2, 4-6 octaves over 4 octaves of width; after 200
    # steps it drifts less, measured 1.9: the bound tests the direction.)
    opt = transfer.optimum(ref)
    sp, mup = 0, 1
    row = predictions.run("mutransfer-optimum")  # the scorecard's row: these claims
    assert row.passed, row
    assert _spread(opt.argmin[mup]) <= 1, opt.argmin
    assert _spread(opt.refined[mup]) <= 1.2, opt.refined
    assert opt.argmin[sp, 0] - opt.argmin[sp, -1] >= 2, opt.argmin
    assert opt.refined[sp, 0] - opt.refined[sp, -1] >= 1.5, opt.refined
    # wider is better under muP: the best loss falls with width
    assert np.all(np.diff(opt.best_loss[mup]) < 0), opt.best_loss
    # and on the recomputed widths the fresh result says the same
    fresh_opt = transfer.optimum(fresh)
    assert _spread(fresh_opt.argmin[mup]) <= 1, fresh_opt.argmin
    assert np.all(np.diff(fresh_opt.best_loss[mup]) < 0), fresh_opt.best_loss


@pytest.mark.statistical
def test_sgd_transfer_sweep():
    # Minibatch SGD (widths 64-512, 1 seed, rates 2^-7 ... 2^0): muP's argmin
    # spread <= 1 grid step and "wider is better" (the loss falls from each width
    # to the next) at >= 90% of the rates stable at every width (issue 8).
    result = transfer.transfer_sweep(jax.random.key(0), "gd", num_seeds=1)
    opt = transfer.optimum(result)
    assert _spread(opt.argmin[1]) <= 1, opt.argmin
    stable, better = transfer.wider_is_better(result, "mup")
    assert stable.sum() >= 4, stable
    assert better[stable].mean() >= 0.9, (stable, better)
