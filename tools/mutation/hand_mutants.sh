#!/bin/bash
# Hand-made mutants of the selection rules and of the resume path, each of which must make the tests fail
# (what mutmut's generated mutants cannot express: a strategy picking the opposite end, a resume that forgets). Runs in a temporary worktree of HEAD (the working tree is never touched);
# prints one line per mutant and exits 1 if any survives. `make mutation` runs it after mutmut.
set -u
root=$(git rev-parse --show-toplevel)
PY=${PY:-$root/.venv/bin/python}
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work" >/dev/null 2>&1; rm -rf "$work"' EXIT
git -C "$root" worktree add --detach "$work" HEAD >/dev/null 2>&1
[ -e "$root/data" ] && ln -s "$root/data" "$work/data"
cd "$work"
survivors=0
# the tests of the selection rules, and those of the modern baselines (margin, BALD, BADGE, least confidence, dropout)
SELECTION=(tests/strategies/test_entropy.py
           tests/strategies/test_loss_head.py::test_loss_heads_take_the_highest_predicted_loss
           tests/strategies/test_coreset.py::test_coreset_is_kcenter_on_penultimate_features
           tests/strategies/test_vaal.py::test_vaal_takes_what_the_discriminator_deems_least_likely_labeled
           tests/strategies/test_random.py
           tests/strategies/test_base.py::test_no_strategy_reads_the_labels_of_unlabeled_samples
           tests/strategies/test_base.py::test_oracles_are_exactly_the_strategies_marked_so
           tests/strategies/test_oracle_loss.py)
MODERN=(tests/strategies/test_margin.py tests/strategies/test_bald.py tests/strategies/test_badge.py
        tests/models/test_resnet.py
        tests/test_checks.py::test_bald_without_dropout_names_the_key tests/test_checks.py::test_dropout_outside_unit_interval
        tests/test_checks.py::test_classification_only_methods_refuse_regression
        tests/test_checks.py::test_dropout_refused_for_the_regression_models
        tests/test_config.py::test_modern_smoke_is_the_smoke_study_plus_the_four)
run() {  # name, file, old text, new text, pytest arguments...
  name=$1; file=$2; old=$3; new=$4; shift 4
  cp "$file" "$work/.original"
  "$PY" - "$file" "$old" "$new" <<'PYEOF'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
assert text.count(old) == 1, (path, old)
open(path, "w").write(text.replace(old, new))
PYEOF
  # the worktree's l2ral_lib comes first on sys.path (cwd), before the editable install's
  if OMP_NUM_THREADS=1 "$PY" -m pytest -q -x -p no:cacheprovider "$@" > "$work/.log" 2>&1; then
    echo "SURVIVED  $name"; survivors=$((survivors + 1))
  else
    echo "killed    $name ($(tail -1 "$work/.log"))"
  fi
  cp "$work/.original" "$file"
}
run "entropy picks the least uncertain" l2ral_lib/strategies/entropy.py "return ctx.map_pool(ctx.subset, lambda out: ctx.task.entropy(out.output))" "return -ctx.map_pool(ctx.subset, lambda out: ctx.task.entropy(out.output))" "${SELECTION[@]}"
run "every score strategy picks its lowest scores" l2ral_lib/strategies/base.py "return torch.topk(scores, budget).indices" "return torch.topk(-scores, budget).indices" "${SELECTION[@]}"
run "loss heads pick the lowest predicted loss" l2ral_lib/strategies/loss_head.py "return ctx.map_pool(ctx.subset, self.predicted_loss)" "return -ctx.map_pool(ctx.subset, self.predicted_loss)" "${SELECTION[@]}"
run "core-set picks the nearest point" l2ral_lib/strategies/coreset.py "pick = nearest.argmax()" "pick = nearest.argmin()" "${SELECTION[@]}"
run "VAAL ignores its discriminator" l2ral_lib/strategies/vaal.py "return torch.topk(-labeled_prob, budget).indices" "return torch.topk(torch.zeros_like(labeled_prob), budget).indices" "${SELECTION[@]}"
run "VAAL picks the likeliest labeled" l2ral_lib/strategies/vaal.py "return torch.topk(-labeled_prob, budget).indices" "return torch.topk(labeled_prob, budget).indices" "${SELECTION[@]}"
run "random takes the last items" l2ral_lib/strategies/random.py "return torch.arange(budget, device=ctx.subset.device)" "return torch.arange(len(ctx.subset) - budget, len(ctx.subset), device=ctx.subset.device)" "${SELECTION[@]}"
run "BALD flipped" l2ral_lib/strategies/bald.py "return entropy_of_mean - mean_entropy" "return mean_entropy - entropy_of_mean" "${MODERN[@]}"
run "margin flipped" l2ral_lib/strategies/margin.py "return -ctx.map_pool(ctx.subset, lambda out: margin(out.output))" "return ctx.map_pool(ctx.subset, lambda out: margin(out.output))" "${MODERN[@]}"
run "least confidence flipped" l2ral_lib/strategies/least_confidence.py "return -ctx.map_pool(ctx.subset, lambda out: confidence(out.output))" "return ctx.map_pool(ctx.subset, lambda out: confidence(out.output))" "${MODERN[@]}"
run "resume ignores the saved weights" l2ral_lib/loop.py "            model.load_state_dict(state[\"model\"])
" "" tests/test_loop.py tests/test_provenance.py -k resume
run "first cycle after a resume keeps the weights it should reset (continue_model false)" l2ral_lib/loop.py "if not p.continue_model and cycle > 0:" "if not p.continue_model and cycle > first_cycle:" tests/test_loop.py tests/test_provenance.py -k resume
exit $((survivors > 0))
