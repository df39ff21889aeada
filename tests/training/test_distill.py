"""Units of the distillation objective (mfmjt_core/training/distill.py)."""

from __future__ import annotations

import pytest
import torch

from mfmjt_core.flows.guidance import Guidance
from mfmjt_core.training.distill import (
    PairMix,
    TeacherPath,
    distill_loss,
    draw_pairs,
    pair_targets,
    teacher_trajectory,
    time_grid,
)


def single_point_teacher(x0: torch.Tensor):
    """The exact flow-matching velocity when the data is one point x0: v(z, t) = (z - x0) / t.
    Its paths are straight, so Euler is exact and every chord is eps - x0."""

    def u(z, r, t, *, c):
        return (z - x0 - c) / t.view(-1, 1, 1)

    return u


def test_trajectory_of_a_straight_flow_ends_at_the_data_and_every_target_is_eps_minus_x():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 5, 3, generator=g)
    noise = torch.randn(4, 5, 3, generator=g)
    cond = {"c": torch.zeros(4, 5, 3)}
    states, velocities = teacher_trajectory(single_point_teacher(x0), noise, cond, steps=6)
    assert states.shape == (7, 4, 5, 3) and velocities.shape == (6, 4, 5, 3)
    torch.testing.assert_close(states[0], noise)
    torch.testing.assert_close(states[-1], x0.expand_as(noise), atol=1e-5, rtol=0)
    start = torch.tensor([0, 0, 2, 3])
    end = torch.tensor([6, 3, 2, 5])  # whole interval, a chord, a velocity row, a late chord
    group = torch.tensor([0, 1, 2, 3])
    z_t, r, t, target = pair_targets(states, velocities, group, start, end)
    grid = time_grid(6)
    torch.testing.assert_close(t, grid[start])
    torch.testing.assert_close(r, grid[end])
    torch.testing.assert_close(z_t, states[start, group])
    torch.testing.assert_close(target, noise - x0, atol=1e-5, rtol=0)


def test_rows_of_a_group_read_one_trajectory():
    g = torch.Generator().manual_seed(1)
    states = torch.randn(5, 2, 3, 2, generator=g)
    velocities = torch.randn(4, 2, 3, 2, generator=g)
    group = torch.tensor([0, 0, 1, 1])
    start, end = torch.tensor([0, 1, 0, 3]), torch.tensor([4, 1, 2, 4])
    z_t, _r, _t, target = pair_targets(states, velocities, group, start, end)
    torch.testing.assert_close(target[0], (states[0, 0] - states[4, 0]) / 1.0)
    torch.testing.assert_close(target[1], velocities[1, 0])  # start == end: the velocity
    torch.testing.assert_close(target[2], (states[0, 1] - states[2, 1]) / 0.5)
    torch.testing.assert_close(target[3], (states[3, 1] - states[4, 1]) / 0.25)
    torch.testing.assert_close(z_t[3], states[3, 1])


def test_guided_teacher_steps_with_the_guided_velocity():
    """Constant branches a (conditional) and b (unconditional): plain CFG gives b + w (a - b)."""

    def u(z, r, t, *, c):
        return c.clone()

    a, b = torch.full((2, 4, 1), 0.7), torch.full((1, 4, 1), -0.2)
    noise = torch.zeros(2, 4, 1)
    guidance = Guidance(scale=3.0, mode="plain", uncond={"c": b})
    states, velocities = teacher_trajectory(u, noise, {"c": a}, steps=4, guidance=guidance)
    expected = b + 3.0 * (a - b)
    torch.testing.assert_close(velocities, expected.expand(4, 2, 4, 1))
    torch.testing.assert_close(states[-1], noise - expected)
    unguided, _ = teacher_trajectory(u, noise, {"c": a}, steps=4)
    torch.testing.assert_close(unguided[-1], noise - a)


def test_a_meanflow_teacher_jumps_on_its_own_grid_with_guidance_near_noise_only():
    """A teacher u = c + r (c: the condition, r: the jump's end): the first jump (1 -> 0.95) is
    guided, the second (0.95 -> 0) is the conditional alone, and the states and the chords the
    student reads follow that grid."""

    def u(z, r, t, *, c):
        return c + r.view(-1, 1, 1)

    a, b = torch.full((2, 3, 1), 0.5), torch.full((1, 3, 1), -0.2)
    path = TeacherPath((1.0, 0.95, 0.0), average=True, guided_above=0.95)
    noise = torch.randn(2, 3, 1, generator=torch.Generator().manual_seed(2))
    guidance = Guidance(scale=3.0, mode="plain", uncond={"c": b})
    states, velocities = teacher_trajectory(u, noise, {"c": a}, path=path, guidance=guidance)
    first = (b + 0.95) + 3.0 * ((a + 0.95) - (b + 0.95))  # plain CFG of the average velocity to 0.95
    second = a + 0.0  # the conditional alone, to 0
    torch.testing.assert_close(velocities[0], first.expand(2, 3, 1))
    torch.testing.assert_close(velocities[1], second)
    torch.testing.assert_close(states[1], noise - 0.05 * first)
    torch.testing.assert_close(states[2], noise - 0.05 * first - 0.95 * second)
    z_t, r, t, target = pair_targets(states, velocities, torch.tensor([0, 1, 0]), torch.tensor([0, 0, 1]),
                                     torch.tensor([2, 1, 2]), path.grid())
    torch.testing.assert_close(t, torch.tensor([1.0, 1.0, 0.95]))
    torch.testing.assert_close(r, torch.tensor([0.0, 0.95, 0.0]))
    torch.testing.assert_close(z_t[2], states[1, 0])
    torch.testing.assert_close(target[0], states[0, 0] - states[2, 0])  # the one-step chord
    torch.testing.assert_close(target[1], velocities[0, 1])
    torch.testing.assert_close(target[2], velocities[1, 0])
    every_step, _ = teacher_trajectory(u, noise, {"c": a}, path=TeacherPath((1.0, 0.95, 0.0), average=True),
                                       guidance=guidance)
    assert not torch.allclose(every_step[2], states[2])  # without the interval the second jump is guided too


def test_teacher_paths_fall_from_noise_to_data_and_the_uniform_one_is_the_old_grid():
    assert TeacherPath.uniform(6).grid().tolist() == time_grid(6).tolist()
    assert TeacherPath.uniform(6).is_uniform_euler and TeacherPath.uniform(6).steps == 6
    assert not TeacherPath.uniform(6, guided_above=0.5).is_uniform_euler
    assert not TeacherPath((1.0, 0.95, 0.0), average=True).is_uniform_euler
    assert not TeacherPath((1.0, 0.9, 0.0)).is_uniform_euler  # Euler, but not the sampler's grid
    for times in ((1.0,), (0.9, 0.0), (1.0, 0.5), (1.0, 0.5, 0.6, 0.0), (1.0, 0.5, 0.5, 0.0)):
        with pytest.raises(ValueError, match="fall from 1 to 0"):
            TeacherPath(times)
    with pytest.raises(ValueError, match="above a time"):
        TeacherPath((1.0, 0.0), guided_above=1.0)


def test_pairs_follow_the_mix_and_are_reproducible():
    mix = PairMix(steps=10, one_step=0.5, velocity=0.2)
    start, end = draw_pairs(4000, mix, torch.Generator().manual_seed(3))
    again = draw_pairs(4000, mix, torch.Generator().manual_seed(3))
    assert torch.equal(start, again[0]) and torch.equal(end, again[1])
    assert (start <= end).all() and start.min() >= 0 and end.max() <= 10
    whole = (start == 0) & (end == 10)
    velocity = start == end
    assert abs(whole.float().mean().item() - 0.5) < 0.04  # plus the chords that happen to span it
    assert abs(velocity.float().mean().item() - 0.2) < 0.03
    assert (start[velocity] < 10).all()  # a velocity row never sits at t = 0
    chords = ~whole & ~velocity
    assert len(set(zip(start[chords].tolist(), end[chords].tolist()))) > 40  # chords cover the grid
    with pytest.raises(ValueError):
        PairMix(steps=4, one_step=0.8, velocity=0.3)


def test_loss_is_zero_at_the_target_and_moves_the_student_toward_it():
    g = torch.Generator().manual_seed(4)
    target = torch.randn(6, 5, 2, generator=g)
    z = torch.randn(6, 5, 2, generator=g)
    r, t = torch.zeros(6), torch.ones(6)

    exact = lambda z_, r_, t_, **c: target.clone()
    loss, stats = distill_loss(exact, z, r, t, target, {})
    assert loss.item() == 0 and stats["raw_mse"] == 0

    bias = torch.zeros(1, 5, 2, requires_grad=True)
    student = lambda z_, r_, t_, **c: z_ * 0 + bias
    opt = torch.optim.SGD([bias], lr=4.0)  # loss = mean over 10 elements: step 0.8 of the gap
    for _ in range(50):
        loss, _ = distill_loss(student, z, r, t, target, {})
        opt.zero_grad()
        loss.backward()
        opt.step()
    # the best constant is the rows' mean, its loss their variance
    torch.testing.assert_close(bias.detach()[0], target.mean(0), atol=1e-3, rtol=0)
    assert loss.item() == pytest.approx(target.var(0, unbiased=False).mean().item(), rel=1e-3)
    weighted, _ = distill_loss(student, z, r, t, target, {}, weight_p=1.0)
    assert weighted.item() < 1.0  # 1 / (L + c) weighting: each row counts L / (L + c) < 1
