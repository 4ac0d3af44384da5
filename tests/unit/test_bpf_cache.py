"""The live engine's compiled-program cache and its plan options (no root, no BPF)."""

from chisel.core.live import engine, probes


def test_plan_for_passes_unknown_options_to_the_plan(monkeypatch):
    seen = {}
    monkeypatch.setattr(probes, "ProbePlan", lambda **fields: seen.update(fields) or fields)
    engine.plan_for(event_types=frozenset({"read"}), some_future_option=7)
    assert seen["some_future_option"] == 7
    assert seen["procexit"] is True
