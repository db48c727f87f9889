"""Reporting: reads the tidy results table, params.json and stored picks of finished studies; never
trains. `stats` (AUBC, intervals, paired tests, penalty matrix), `labels` (names and order),
`tables`, `figures` (one style, `ax` in and out), `summary` (the page over every study), `readme`
(README's generated Results tables), `loss_ranking` (the loss-ranking experiment's tables and figures)."""
