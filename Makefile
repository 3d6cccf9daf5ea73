# `make demo` and `make test` work on a fresh machine with Python 3.10 to 3.12: each creates .venv and
# installs the project into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# torch is installed first and on its own so that a build the machine already has (CPU wheels on CI) is
# used; override for another build, e.g. `make test TORCH_SPEC='torch==2.11.0'`.
TORCH_SPEC ?= torch>=2.1,<2.14
DEMO := data/demo
DEMO_WORK := work_dirs/demo

.PHONY: demo test install clean-demo

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# The demo, the whole main job on synthetic domains in the real datasets' formats: a source-only model
# (1000 iterations); from it, 400 more iterations three ways: on the source alone (the baseline) and with DACS
# towards the IDD-like and the Cityscapes-like domain; the two per-target models merged without data (Gaussian
# BatchNorm statistics, and plain averaging for comparison); every model evaluated on both targets, with a
# table and a chart in work_dirs/demo/eval. work_dirs/demo is the demo's own folder and is started afresh.
demo: $(STAMP)
	rm -rf $(DEMO_WORK)
	$(BIN)/python tools/make_demo_data.py --out $(DEMO) --overwrite
	$(BIN)/python tools/convert_datasets/gta.py $(DEMO)/gta --nproc 2
	$(BIN)/python tools/convert_datasets/cityscapes.py $(DEMO)/cityscapes --nproc 2
	$(BIN)/python tools/convert_datasets/idd.py $(DEMO)/idd_raw $(DEMO)/idd --nproc 2
	$(BIN)/python run_experiments.py --config configs/demo/gta_source_only.py --work-dir $(DEMO_WORK)/source_only
	$(BIN)/python run_experiments.py --config configs/demo/gta_source_only_continued.py \
		--work-dir $(DEMO_WORK)/source_only_continued --cfg-options load_from=$(DEMO_WORK)/source_only/iter_1000.pth
	$(BIN)/python run_experiments.py --config configs/demo/gta2idd_dacs.py \
		--work-dir $(DEMO_WORK)/dacs_idd --cfg-options load_from=$(DEMO_WORK)/source_only/iter_1000.pth
	$(BIN)/python run_experiments.py --config configs/demo/gta2cityscapes_dacs.py \
		--work-dir $(DEMO_WORK)/dacs_cityscapes --cfg-options load_from=$(DEMO_WORK)/source_only/iter_1000.pth
	mkdir -p $(DEMO_WORK)/merged
	$(BIN)/python merge.py $(DEMO_WORK)/dacs_cityscapes/iter_400.pth $(DEMO_WORK)/dacs_idd/iter_400.pth \
		--out $(DEMO_WORK)/merged/gaussian.pth
	$(BIN)/python merge.py $(DEMO_WORK)/dacs_cityscapes/iter_400.pth $(DEMO_WORK)/dacs_idd/iter_400.pth \
		--buffers mean --out $(DEMO_WORK)/merged/mean.pth
	./test.sh configs/demo/gta_source_only.py $(DEMO_WORK)/source_only/iter_1000.pth \
		$(DEMO_WORK)/source_only_continued/iter_400.pth $(DEMO_WORK)/dacs_cityscapes/iter_400.pth \
		$(DEMO_WORK)/dacs_idd/iter_400.pth $(DEMO_WORK)/merged/gaussian.pth $(DEMO_WORK)/merged/mean.pth \
		--out $(DEMO_WORK)/eval --targets cityscapes idd

clean-demo:
	rm -rf $(DEMO) $(DEMO_WORK)
