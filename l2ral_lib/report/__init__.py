"""Reporting: reads finished studies (`study`: the one reader of a study folder, and the studies under an
outputs folder); never trains. `stats` (AUBC, intervals, paired tests, penalty matrix), `labels` (names and
order), `tables`, `figure_style` and `figures` (one style, `ax` in and out), `picks`, `overlap`, `gallery`
(what each method picked), `page` (the notebooks' shared sections), `evidence` and `claims` (the paper's
claims judged), `summary` (the page over every study), `readme` (README's generated Results tables),
`loss_ranking` and `ranking_figures` (the loss-ranking experiment's tables and figures)."""
