"""The running fleet: lifelong planning rounds, dependency-gated releases, station lines,
deadlock and progress watches."""
