"""The video generator's ground truth, checked by construction on the simulated ground plane."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from simulators.video.camera import CameraModel
from simulators.video.generate import WARMUP_S, VideoSpec, plan_scene
from simulators.video.scene import RoadLayout
from simulators.video.schedule import FlowSpec, schedule_vehicles
from simulators.video.traffic import TrafficSim
from simulators.video.truth import CrossingRecorder, counting_lines, totals
from simulators.video.vehicles import CLASSES, Vehicle

FPS = 25.0


def _car(vid: int, direction: str, x: float, speed: float, arrival: float) -> Vehicle:
    return Vehicle(
        id=vid,
        cls="car",
        direction=direction,
        x_m=x,
        length_m=4.5,
        width_m=1.8,
        height_m=1.5,
        speed_ms=speed,
        arrival_s=arrival,
    )


def _run(vehicles: list[Vehicle], seconds: float, start_frame: int = 0):
    layout, camera = RoadLayout(), CameraModel()
    lines = counting_lines(layout, camera)
    sim = TrafficSim(vehicles, layout, fps=FPS, start_frame=start_frame)
    rec = CrossingRecorder(vehicles, lines, camera)
    states = []
    for _ in range(round(seconds * FPS) - start_frame):
        state = sim.step()
        rec.observe(state, FPS)
        states.append(state)
    return layout, sim, rec, states


def test_a_lone_inbound_car_crosses_its_lane_line_at_the_frame_its_front_reaches_it():
    layout = RoadLayout()
    lane = next(la for la in layout.lanes if la.name == "in-1")
    speed, arrival = 10.3, 1.0  # not a whole number of frames to the line
    _, _, rec, _ = _run([_car(0, "in", lane.centre, speed, arrival)], 15.0)
    # Admitted at the first frame at or after its arrival with its front at the far spawn
    # point, then it moves speed/FPS per frame; it is counted on the first frame its front
    # (nearest the camera) is on or past the line.
    admitted = math.ceil(arrival * FPS)
    steps = math.ceil((layout.spawn_far_m - layout.line_y_m) / (speed / FPS) - 1e-9)
    [crossing] = rec.crossings
    assert crossing.line == "in-1"
    assert crossing.direction == "in"
    assert crossing.cls == "car"
    assert crossing.frame == admitted + steps
    assert crossing.time_s == pytest.approx(crossing.frame / FPS)


def test_an_outbound_car_is_counted_when_its_rear_passes_not_its_front():
    layout = RoadLayout()
    lane = next(la for la in layout.lanes if la.name == "out-2")
    speed, arrival, length = 8.0, 0.0, 4.5
    _, _, rec, _ = _run([_car(0, "out", lane.centre, speed, arrival)], 15.0)
    rear_travel = layout.line_y_m - layout.spawn_near_m + length
    steps = math.ceil(rear_travel / (speed / FPS) - 1e-9)
    [crossing] = rec.crossings
    assert (crossing.line, crossing.direction) == ("out-2", "out")
    assert crossing.frame == steps


def test_a_car_that_left_the_camera_view_before_frame_one_is_not_counted():
    # Warm-up frames (negative) never produce crossings: the video cannot show them.
    layout = RoadLayout()
    lane = next(la for la in layout.lanes if la.name == "in-2")
    _, _, rec, _ = _run([_car(0, "in", lane.centre, 12.0, -12.0)], 5.0, start_frame=-300)
    assert rec.crossings == []


def test_dense_traffic_every_vehicle_through_the_scene_crosses_exactly_one_line_once():
    layout, camera = RoadLayout(), CameraModel()
    vehicles = schedule_vehicles(
        np.random.default_rng(11), layout, start_s=-30, end_s=120, flow=FlowSpec(per_min=60)
    )
    _, _sim, rec, states = _run(vehicles, 150.0, start_frame=-750)
    per_vehicle = Counter(c.vehicle for c in rec.crossings)
    assert per_vehicle and max(per_vehicle.values()) == 1
    lines = {line.name: line for line in counting_lines(layout, camera)}
    for c in rec.crossings:
        v = vehicles[c.vehicle]
        assert c.direction == v.direction  # inbound moves toward the camera: C1's "in"
        assert lines[c.line].direction == v.direction
        assert c.cls == v.cls
    # Every vehicle seen on both sides of the line (after frame 0) was counted.
    seen_before, seen_after = set(), set()
    for st in states:
        if st.frame < 0:
            continue
        for i, y in zip(st.index.tolist(), st.y_near.tolist(), strict=True):
            inbound = vehicles[i].direction == "in"
            before = y > layout.line_y_m if inbound else y < layout.line_y_m
            (seen_before if before else seen_after).add(i)
    assert set(per_vehicle) == (seen_before & seen_after)
    tot = totals(rec.crossings)
    assert sum(sum(d.values()) for d in tot.values()) == len(rec.crossings)


def test_bodies_never_overlap_on_the_ground():
    layout = RoadLayout()
    vehicles = schedule_vehicles(
        np.random.default_rng(5), layout, start_s=0, end_s=90, flow=FlowSpec(per_min=70)
    )
    _, _sim, _, states = _run(vehicles, 90.0)
    width = np.array([v.width_m for v in vehicles])
    for st in states[::5]:
        n = len(st.index)
        for a in range(n):
            for b in range(a + 1, n):
                i, j = int(st.index[a]), int(st.index[b])
                if vehicles[i].direction != vehicles[j].direction:
                    continue
                lateral = abs(st.x[a] - st.x[b]) < (width[i] + width[j]) / 2
                along = st.y_near[a] < st.y_far[b] and st.y_near[b] < st.y_far[a]
                assert not (lateral and along), f"vehicles {i} and {j} overlap at {st.frame}"


def test_the_mix_is_motorbike_dominated_with_every_class_present():
    layout = RoadLayout()
    vehicles = schedule_vehicles(
        np.random.default_rng(2), layout, start_s=0, end_s=600, flow=FlowSpec()
    )
    share = Counter(v.cls for v in vehicles)
    total = sum(share.values())
    assert 0.75 <= share["motorbike"] / total <= 0.85
    assert all(share[c] > 0 for c in CLASSES)
    per_min = total / 2 / 10
    assert 35 <= per_min <= 50  # the default flow per direction, Poisson-thinned


def test_sizes_and_speeds_are_those_of_real_vehicles():
    layout = RoadLayout()
    vehicles = schedule_vehicles(
        np.random.default_rng(3), layout, start_s=0, end_s=300, flow=FlowSpec()
    )
    by_class: dict[str, list[Vehicle]] = {}
    for v in vehicles:
        by_class.setdefault(v.cls, []).append(v)
    kmh = {c: np.mean([v.speed_ms * 3.6 for v in vs]) for c, vs in by_class.items()}
    assert 25 < kmh["motorbike"] < 40 and 30 < kmh["car"] < 50 and kmh["bicycle"] < 20
    assert all(1.7 < v.length_m < 2.0 and v.width_m < 0.8 for v in by_class["motorbike"])
    assert all(7.0 <= v.length_m <= 12.0 and v.width_m > 2.3 for v in by_class["bus_truck"])


def test_same_seed_same_schedule_different_seed_different():
    spec = VideoSpec(seed=9, minutes=1.0)
    a, b = plan_scene(spec), plan_scene(spec)
    c = plan_scene(VideoSpec(seed=10, minutes=1.0))
    assert a.vehicles == b.vehicles and a.segments == b.segments
    assert a.vehicles != c.vehicles
    assert min(v.arrival_s for v in a.vehicles) >= -WARMUP_S
