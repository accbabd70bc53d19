"""`make bench`: how fast the production topology is, side by side with the seed's own design
(FastAPI + Celery, a peer beside the project), measured the same way every time.

One module per part: `client` (HTTP and the job client), `wrk` (the load generator),
`workloads` (what is measured), `peer` (the side-by-side run with the peer), `machine`
(facts about the run), `report` (RESULTS.md and the chart), `stats`; the CLI is
`python -m bench --help`.
"""
