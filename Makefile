# l2ral: `make setup`, `make test`, then `make <experiment> PROFILE=<paper|smoke|ci> DEVICE=<cpu|cuda|auto>`, `make summary`.
# On a Slurm cluster: `make <experiment> PROFILE=paper EXECUTOR=slurm [CLUSTER='partition=gpu time_min=240']`.
PYTHON     ?= $(shell command -v python3.11 || command -v python3)
VENV       ?= .venv
PY         := $(VENV)/bin/python
PROFILE    ?= smoke
DEVICE     ?= auto
JOBS       ?= 1
EXECUTOR   ?= local
CLUSTER    ?=
COLLECT    ?=
SEQ_LEN    ?= 64
SHARED_DATA ?= ../shared/data
DATA_ROOT  ?= $(or $(L2RAL_DATA),data)
OUTPUTS    ?= outputs
OUT         = $(OUTPUTS)/$@-$(PROFILE)

EXPERIMENTS := $(patsubst notebooks/%.ipynb,%,$(filter-out notebooks/sorter.ipynb notebooks/summary.ipynb notebooks/loss_ranking.ipynb notebooks/explore.ipynb,$(wildcard notebooks/*.ipynb)))

.PHONY: data setup test $(EXPERIMENTS) results summary readme-results verify restore paper-proof paper-proof-status gpu-check gpu-wheels mutation bench loss-ranking ranking-bench sorter sorter-report data-offline clean help
help:  ## this list: every target, every experiment and profile
	@sed -n '1,2p' Makefile
	@grep -E '^[a-z][a-z0-9-]*:.*## ' Makefile | awk -F'## ' '{split($$1, t, ":"); printf "  %-19s %s\n", t[1], $$2}'
	@printf "  %-19s %s\n" "<experiment>" "one of $(EXPERIMENTS): make <experiment> PROFILE=<profile> DEVICE=<cpu|cuda|auto>"
	@echo "profiles (params/<experiment>-<profile>.yaml):"; for e in $(EXPERIMENTS); do \
	  printf "  %-19s %s\n" "$$e" "$$(ls params/$$e-*.yaml | sed -E "s|params/$$e-(.*)\.yaml|\1|" | tr '\n' ' ')"; done

setup: $(VENV)/.installed  ## .venv with torch, the package, Jupyter and its kernel
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# these two lie on the local disk of the CI machine; other versions download gigabytes
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	# the versions the studies ran with (environment.yml); pyproject.toml asks only for lower bounds
	$(PY) -m pip install -q submitit==1.5.4 diffsort==0.2.0
	$(PY) -m pip install -q -e '.[notebooks,test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (l2ral)" >/dev/null
	touch $@

# a worker process per core (pytest-xdist), a test file's tests in one worker (their module fixtures once)
test: setup  ## the test suite on the CPU (a worker per core)
	$(PY) -m pytest -q -n auto --dist loadfile

# Every notebook is an experiment: validate its params (exit 2, one line, before any work), then papermill;
# --log-output shows the study's line per finished (method, seed, cycle) here as it happens. Last, `compare`:
# where OUT holds a study committed to git (a reproduction), the verdict against it ends the output.
# EXECUTOR=slurm: the same checks, then one Slurm array task per unfinished slice (settings: the params'
# cluster: section, CLUSTER='key=value ...' on top), waiting with a line per change; the notebook then only
# renders (collect). COLLECT=1: render what the slices hold now, running nothing.
STUDY = $(if $(COLLECT),,$(if $(filter slurm,$(EXECUTOR)),\
  $(PY) -m l2ral_lib run params/$@-$(PROFILE).yaml --executor slurm --wait --device $(DEVICE) --out $(OUT) \
    $(foreach setting,$(CLUSTER),--set cluster.$(setting)),\
  $(PY) -m l2ral_lib check params/$@-$(PROFILE).yaml))
$(EXPERIMENTS): setup
	$(if $(filter-out local slurm,$(EXECUTOR)),$(error EXECUTOR is local or slurm, not '$(EXECUTOR)'))
	$(if $(wildcard params/$@-$(PROFILE).yaml),,$(error no profile '$(PROFILE)' for $@ (params/$@-$(PROFILE).yaml); profiles: $(patsubst params/$@-%.yaml,%,$(wildcard params/$@-*.yaml))))
	$(STUDY)
	mkdir -p $(OUT)
	$(PY) -m papermill notebooks/$@.ipynb $(OUT)/$@.ipynb --cwd . -k python3 --log-output --no-progress-bar \
	  -p params_path params/$@-$(PROFILE).yaml -p device $(DEVICE) -p out_dir $(OUT) -p jobs $(JOBS) -p progress False \
	  -p collect $(if $(COLLECT)$(filter slurm,$(EXECUTOR)),True,False)
	$(PY) -m l2ral_lib compare $(OUT)

# Every experiment at PROFILE, then the summary page and README's Results tables. With smoke, also the
# studies shipped beside them: the CIFAR-10 ablations (copying cifar10-smoke's finished slices), the
# modern baselines, and the float32 halves of the bf16 comparison (BENCHMARKS.md).
SMOKE_EXTRAS := cifar10:ablations cifar10:modern-smoke celeba:modern-smoke cifar10:smoke-fp32 celeba:smoke-fp32
results: setup  ## every experiment at PROFILE, then the summary page and the generated pages
	$(MAKE) $(EXPERIMENTS) PROFILE=$(PROFILE)
	$(if $(filter smoke,$(PROFILE)),$(foreach x,$(SMOKE_EXTRAS),$(MAKE) $(word 1,$(subst :, ,$(x))) PROFILE=$(word 2,$(subst :, ,$(x))) &&) true)
	$(MAKE) summary readme-results

# One page over every study under $(OUTPUTS): $(OUTPUTS)/summary/summary.ipynb and its figures.
summary: setup  ## one page over every study under OUTPUTS: outputs/summary/summary.ipynb
	mkdir -p $(OUTPUTS)/summary
	$(PY) -m papermill notebooks/summary.ipynb $(OUTPUTS)/summary/summary.ipynb --cwd . -k python3 --no-progress-bar \
	  -p outputs_dir $(OUTPUTS)

# README.md's claims, Results and loss-ranking tables from the studies under $(OUTPUTS) (tests/report/test_readme.py checks they agree)
readme-results: setup  ## README's claims and loss-ranking tables, docs/claims.md and docs/results.md from outputs/
	$(PY) -m l2ral_lib readme-results --outputs $(OUTPUTS)

# rerun one finished slice of a study and compare it to the last digit: make verify STUDY=outputs/cifar10-smoke SLICE=l2r:0
verify: setup  ## rerun one finished slice and compare it to the last digit: STUDY=outputs/<study> SLICE=<method>:<seed>
	$(PY) -m l2ral_lib verify $(STUDY) $(SLICE)

# the study as committed, after a reproduction rewrote it (a run in a folder git tracks says this at its start):
# its tracked files back, and what the run added that git ignores (state.pt, locks) removed. make restore STUDY=outputs/cifar10-smoke
restore:  ## a committed study back after a reproduction rewrote it: STUDY=outputs/<study>
	$(if $(STUDY),,$(error STUDY=outputs/<study> names the study folder to restore))
	git checkout -- $(STUDY) && git clean -fdX -- $(STUDY)

# the CIFAR-10 paper profile, one seed, every method, on one GPU, detached: rerun to resume
PROOF_OUT ?= outputs/cifar10-paper
paper-proof: setup  ## the CIFAR-10 paper profile, one seed, every method, on one GPU, detached
	$(PY) tools/paper_proof.py start --device $(if $(filter auto,$(DEVICE)),cuda,$(DEVICE)) --jobs $(JOBS) --out $(PROOF_OUT)

paper-proof-status: setup  ## how far the paper proof run is
	$(PY) tools/paper_proof.py status --out $(PROOF_OUT)

# a 15-minute GPU window: pytest -m gpu, ms per step of every paper method, sorter with/without cuDNN,
# VAAL ms per iteration, images/s of 1/2/4/6 workers, MFU, projected paper studies: one file under outputs/gpu-check/
# (tools/gpu_check.py's docstring: the data carried in carry/). GPU_CHECK_ARGS='--then-sorter 64' continues
# the SoDeep sorter's training in the time left; GPU_CHECK_OUT=$OUT/gpu-check brings the file back from the device tool.
# The device machine has no package registry and its own python3 with torch (2.11 there): run
# `make gpu-check PY=python3` there (no venv); the one package it lacks, diffsort, travels as a wheel that
# `make gpu-wheels` puts in .whl/ here (carry `.whl` and `carry`); gpu-check installs it into .whl/site, and puts
# this checkout on the path, which that python3 has no install of.
GPU_CHECK_ARGS ?=
GPU_CHECK_OUT  ?= outputs/gpu-check
GPU_WHEELS     := diffsort==0.2.0
gpu-check: $(if $(filter $(VENV)/bin/python,$(PY)),setup)  ## a 15-minute GPU window: GPU tests, step times, projected paper studies
	$(if $(wildcard .whl/*.whl),$(PY) -m pip install -q --no-index --no-deps --no-compile --upgrade --target .whl/site .whl/*.whl &&) \
	PYTHONPATH="$(CURDIR)/.whl/site:$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" \
	$(PY) tools/gpu_check.py --device $(if $(filter auto,$(DEVICE)),cuda,$(DEVICE)) --out $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

gpu-wheels:  ## the wheels the GPU machine lacks, into .whl/
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform any -d .whl $(GPU_WHEELS)

# mutants of the code that decides what a study selects and how it resumes, against the tests that pin it
# ([tool.mutmut] in pyproject.toml): every query strategy (VAAL's query and the helpers it calls; its VAE
# architecture and training recipe are left out), the ranking losses, the loss heads, the task metrics and
# the resume path of the loop. One thread per test process: torch's thread pool does not survive mutmut's fork.
# MUTANTS='<glob> ...' narrows it. Last, every mutant that ran and was not killed, with the reason it is harmless
# (tools/mutation/mutation_report.py; exit 1 if unexplained). The verdicts are saved to
# tools/mutation/verdicts.json.gz (tracked): RESUME=1 restores them and runs only the mutants of the scope without
# one, so a run longer than a working session goes on where it stopped (tools/mutation/resume_state.py).
RESUME ?=
MUTANTS ?= l2ral_lib.heads.* l2ral_lib.losses.* l2ral_lib.tasks.* \
	l2ral_lib.strategies.badge.* l2ral_lib.strategies.bald.* l2ral_lib.strategies.base.* \
	l2ral_lib.strategies.coreset.* l2ral_lib.strategies.entropy.* l2ral_lib.strategies.l2r.* \
	l2ral_lib.strategies.least_confidence.* l2ral_lib.strategies.ll4al.* l2ral_lib.strategies.loss_head.* \
	l2ral_lib.strategies.margin.* l2ral_lib.strategies.random.* l2ral_lib.strategies.vaal.xǁVAALǁquery* \
	l2ral_lib.strategies.vaal.xǁVAALǁrun_vae* l2ral_lib.strategies.vaal.x_bce* l2ral_lib.strategies.vaal.x_vae_loss* \
	l2ral_lib.strategies.vaal.x_shuffled_batches* l2ral_lib.strategies.vaal.x_iterations_per_cycle* \
	l2ral_lib.outputs.x_load_selected* l2ral_lib.seeds.x_derive_seed* l2ral_lib.seeds.x_initial_labeled_set* \
	l2ral_lib.seeds.x_query_subset* l2ral_lib.loop.x_open_study*
mutation: setup  ## mutation testing of the selection and resume code (RESUME=1 goes on where it stopped)
	$(PY) -m pip install -q mutmut==3.8.1
	@set -f; if [ "$(RESUME)" = 1 ]; then $(PY) tools/mutation/resume_state.py restore . || exit 1; \
	  names=$$($(PY) tools/mutation/resume_state.py pending . --or-one --scope $(MUTANTS)); else names="$(MUTANTS)"; fi; \
	  echo "mutmut: $$(echo $$names | wc -w) names or globs"; status=0; \
	  [ -z "$$names" ] || OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m mutmut run $$names || status=$$?; \
	  $(PY) tools/mutation/resume_state.py save . && exit $$status
	PY=$(abspath $(PY)) tools/mutation/hand_mutants.sh
	$(PY) tools/mutation/mutation_report.py . --scope $(foreach m,$(MUTANTS),'$(m)')

bench: setup  ## benchmarks of the training step, queries and sorter (BENCHMARKS.md)
	$(PY) benchmarks/bench.py --device $(if $(filter auto,$(DEVICE)),cpu,$(DEVICE))

# The loss-ranking experiment: every loss head x ranking objective on 10 seeds' smoke-size targets (frozen and
# joint), then its notebook; outputs/loss_ranking/ (the targets are cached in its cache/: a rerun trains
# the heads only). THREADS: torch's CPU threads, 2 as the shipped tables were computed (their provenance.json):
# another count may split the sums of a convolution differently, and the numbers then end a few digits apart.
# COLLECT=1: render the notebook (and pool_table.md) from the tables there now, computing nothing.
THREADS ?= 2
loss-ranking: setup  ## the loss-ranking experiment: every head x ranking objective, outputs/loss_ranking/
	$(if $(COLLECT),,$(PY) experiments/loss_ranking.py --device $(if $(filter auto,$(DEVICE)),cpu,$(DEVICE)) \
	  --threads $(THREADS) --out outputs/loss_ranking)
	$(PY) -m papermill notebooks/loss_ranking.ipynb outputs/loss_ranking/loss_ranking.ipynb --cwd . -k python3 \
	  --no-progress-bar -p out_dir outputs/loss_ranking

# loss-ranking's former name
ranking-bench:
	@echo "make ranking-bench is deprecated: run make loss-ranking" >&2
	@$(MAKE) --no-print-directory loss-ranking

sorter: setup  ## pretrain a SoDeep sorter for lists of length SEQ_LEN
	$(PY) -m l2ral_lib sorter --seq-len $(SEQ_LEN)

sorter-report: setup  ## sorter quality per input family and length
	mkdir -p outputs/sorter
	$(PY) -m papermill notebooks/sorter.ipynb outputs/sorter/sorter.ipynb --cwd . -k python3

# CIFAR-10 for a machine with internet and no offline archives: torchvision fetches the official files into
# DATA_ROOT/cifar10 (the loader reads them there); nothing is fetched where a copy is present. Tests never download.
data: setup  ## CIFAR-10 from its official server with torchvision, where DATA_ROOT/cifar10 holds no copy
	@if [ -d $(DATA_ROOT)/cifar10/train ] || [ -d $(DATA_ROOT)/cifar10/cifar-10-batches-py ]; then \
	  echo "$(DATA_ROOT)/cifar10: present, nothing fetched"; else \
	  echo "$(DATA_ROOT)/cifar10: missing; fetching CIFAR-10 (163 MB) with torchvision"; \
	  $(PY) -c "import sys; from torchvision.datasets import CIFAR10; [CIFAR10(sys.argv[1], train=t, download=True) for t in (True, False)]" $(DATA_ROOT)/cifar10; fi

data-offline:  ## unpack the offline archives of SHARED_DATA into DATA_ROOT
	@test -d $(SHARED_DATA) || { echo "error: $(SHARED_DATA) not found; set SHARED_DATA=<folder with the archives>"; exit 2; }
	mkdir -p $(DATA_ROOT)/cifar10 $(DATA_ROOT)/shanghaitech $(DATA_ROOT)/mpii
	test -d $(DATA_ROOT)/cifar10/train || tar -xJf $(SHARED_DATA)/cifar10-jpeg.tar.xz -C $(DATA_ROOT)/cifar10
	test -d $(DATA_ROOT)/celeba || tar -xJf $(SHARED_DATA)/celeba-first10k-89x109.tar.xz -C $(DATA_ROOT)
	test -d $(DATA_ROOT)/shanghaitech/part_B/train_data || tar -xf $(SHARED_DATA)/shanghaitech-part-b-train.tar -C $(DATA_ROOT)/shanghaitech
	test -d $(DATA_ROOT)/shanghaitech/part_B/test_data || tar -xf $(SHARED_DATA)/shanghaitech-part-b-test.tar -C $(DATA_ROOT)/shanghaitech
	test -d $(DATA_ROOT)/mpii/annot || tar -xJf $(SHARED_DATA)/mpii-annot.tar.xz -C $(DATA_ROOT)/mpii

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache l2ral_lib.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
