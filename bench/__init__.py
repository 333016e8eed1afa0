"""kstore benchmarks (`python -m bench`, `make bench`): the store's foundation figures.

Design:
- Every run of every benchmark starts its own apistore OS process on a fresh temp state dir
  and fresh loopback ports (`cluster.py`), and drives it from separate load processes
  (`creator.py`, `watcher.py`, `pacer.py`) that print one JSON line per result on stdout.
  The parent (`scenarios.py`) only spawns, reads those lines and computes the figures, so
  its own work never competes with what is measured.
- Everything a run started is stopped at its end, also on Ctrl-C or an error: each child
  runs in its own process group, which gets SIGTERM and then SIGKILL.
- `report.py` prints the table (median of the runs, every run's figure, the target) and
  writes the JSON to `bench/results/<timestamp>.json`. `noise.py` records how much of the
  machine other processes took during each run; `--profile` (`profile.py`) samples the
  apistore with py-spy and prints its hot spots.
- The PV controller benchmarks (`pv-bind`, `pv-provision`; `pv.py`, load process `pvload.py`)
  also start the real `cmd/pv-controller.py` (`BenchCluster.start_component`), time claims to
  Bound from separate processes, and with `--profile` sample the controller too.
  `component.py` runs a real launcher with the bus's decode limit lifted (used by benchmarks
  that need it).
"""
