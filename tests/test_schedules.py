"""The paper's schedule for the autoencoder: lr x0.75 after two consecutive rising losses."""

from __future__ import annotations

import pytest
import torch

from fer_course.engine.schedules import CutOnRisingLoss

LOSSES = [1.0, 0.9, 0.95, 0.97, 0.99, 1.0, 0.8, 0.85, 0.8, 0.8, 0.9, 0.91]
# rises:   -    no   1     2cut   1     2cut  no   1     no   no(=) 1    2cut
EXPECTED_LR = [1.0, 1.0, 1.0, 0.75, 0.75, 0.5625, 0.5625, 0.5625, 0.5625, 0.5625, 0.5625,
               0.421875]


def make_schedule(lr: float = 1.0, **kwargs) -> CutOnRisingLoss:
    weights, bias = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([{"params": [weights]}, {"params": [bias], "lr": 2 * lr}],
                                 lr=lr)
    return CutOnRisingLoss(optimizer, **kwargs)


def test_lr_after_each_epoch_follows_the_rule() -> None:
    schedule = make_schedule()
    seen, cuts = [], []
    for loss in LOSSES:
        cuts.append(schedule.step(loss))
        seen.append(schedule.last_lr)
    assert seen == [[lr, 2 * lr] for lr in EXPECTED_LR]
    assert [i for i, cut in enumerate(cuts) if cut] == [3, 5, 11]
    assert schedule.cuts == 3 and schedule.losses == LOSSES


def test_the_count_restarts_after_a_cut() -> None:
    schedule = make_schedule()
    for loss in [1.0, 2.0, 3.0]:
        schedule.step(loss)
    assert schedule.last_lr[0] == 0.75 and schedule.consecutive_rises == 0
    assert not schedule.step(4.0)  # the third rise in a row is the first of a new run
    assert schedule.step(5.0)
    assert schedule.last_lr[0] == 0.5625


def test_equal_losses_are_not_rises() -> None:
    schedule = make_schedule()
    for loss in [1.0, 1.0, 1.0, 1.0, 1.0]:
        assert not schedule.step(loss)
    assert schedule.step(1.1) is False and schedule.consecutive_rises == 1
    assert not schedule.step(1.1)
    assert schedule.consecutive_rises == 0 and schedule.last_lr[0] == 1.0


def test_state_survives_a_weights_only_checkpoint_mid_sequence(tmp_path) -> None:
    uninterrupted = make_schedule()
    lrs = []
    for loss in LOSSES:
        uninterrupted.step(loss)
        lrs.append(uninterrupted.last_lr)

    first = make_schedule()
    for loss in LOSSES[:5]:  # stops with one rise counted, after a cut
        first.step(loss)
    torch.save({"optimizer": first.optimizer.state_dict(), "schedule": first.state_dict()},
               tmp_path / "checkpoint.pt")
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)

    resumed = make_schedule()
    resumed.optimizer.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["schedule"])
    assert resumed.state_dict() == first.state_dict()
    assert resumed.last_lr == lrs[4]
    resumed_lrs = []
    for loss in LOSSES[5:]:
        resumed.step(loss)
        resumed_lrs.append(resumed.last_lr)
    assert resumed_lrs == lrs[5:]


def test_state_dict_holds_plain_values_only() -> None:
    schedule = make_schedule()
    schedule.step(torch.tensor(0.5))  # a 0-d tensor loss is stored as a float
    state = schedule.state_dict()
    assert state == {"factor": 0.75, "patience": 2, "losses": [0.5], "consecutive_rises": 0,
                     "cuts": 0}
    assert all(type(v) in (float, int, list) for v in state.values())
    assert type(state["losses"][0]) is float


def test_factor_and_patience_are_parameters() -> None:
    schedule = make_schedule(factor=0.5, patience=3)
    for loss in [1.0, 2.0, 3.0]:
        assert not schedule.step(loss)
    assert schedule.step(4.0)
    assert schedule.last_lr == [0.5, 1.0]


@pytest.mark.parametrize("factor", [0.0, 1.0, -0.5, 1.5])
def test_factor_outside_0_1_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match="factor"):
        make_schedule(factor=factor)


@pytest.mark.parametrize("patience", [0, -1, 1.5, True])
def test_patience_below_1_or_not_an_integer_is_refused(patience) -> None:
    with pytest.raises(ValueError, match="patience"):
        make_schedule(patience=patience)


def test_nan_loss_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        make_schedule().step(float("nan"))
