"""Many hosts at once: find their bundles, run the doctor on each (on Dask), summarise.

- :mod:`minfree.fleet.discover`: which paths are bundles (sosreport folders, tarballs, one
  folder per host with its logs and /proc captures);
- :mod:`minfree.fleet.worker`: the doctor on one bundle as one flat row, never raising (a
  bundle that cannot be read is a row with its error);
- :mod:`minfree.fleet.run`: the rows for every bundle, in-process, on a local cluster of
  processes or on an existing ``dask scheduler``, with a progress bar.

The summary over the rows is :mod:`minfree.analysis.fleet_summary`; the renderings are
``minfree.outputs.fleet_text``, ``fleet_json``, ``fleet_csv`` and ``fleet_html``.
"""
