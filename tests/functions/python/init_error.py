raise RuntimeError("init boom")
