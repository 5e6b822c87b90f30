"""Running cases: the engine, the transitions adapter, clocks, deadlines, scenarios, replay."""
