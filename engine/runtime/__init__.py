"""Running cases: the engine, the transition selector, clocks, deadlines, scenarios, replay."""
